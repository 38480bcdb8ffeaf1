"""Stage 5, diff: each vault's model holdings against targets x model NAV -> vault orders.

target quantity = weight x sized NAV / price, rounded down to the lot, where sized
NAV = NAV x (1 - 2 x (slippage_bps + fee_bps) / 10000) keeps enough cash to pay one
full turn of trading costs. The order is the difference, rounded toward zero to the
lot; a target of zero sells the whole position. An order worth less than the
vault's rebalance band x NAV, or under the market's min notional, is dropped and
logged. NAV is taken at the cycle's snapshot prices, before any order. If cash plus
the sales' proceeds cannot pay for the buys at the broker's prices, the buys are
scaled down together (books.fit_buys) and the factor is logged.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from vanta.books import fit_buys, market_value, qty_of
from vanta.context import Ctx, Event
from vanta.ids import client_order_id
from vanta.models import Order
from vanta.money import BPS, ONE, ZERO, down


def run(ctx: Ctx) -> Ctx:
    assert ctx.snap is not None and ctx.allocation is not None
    prices, markets = ctx.snap.prices, ctx.snap.markets
    navs: dict[str, Decimal] = {}
    orders: list[Order] = []
    events: list[Event] = []
    for v in ctx.vault.vaults:
        acct = ctx.mem.portfolio.vaults[v.vault_id]
        nav = acct.cash.get(v.base_currency, ZERO) + market_value(acct, prices)
        navs[v.vault_id] = nav
        if v.vault_id in ctx.blocked:
            continue
        w = ctx.allocation.vaults[v.vault_id]["baseline"]
        sized = nav * (ONE - 2 * (v.execution.slippage_bps + v.execution.fee_bps) / BPS)
        band = v.risk.rebalance_band * nav
        mine: list[Order] = []
        targets: dict[str, Decimal] = {}
        for sym in sorted(set(v.universe) | set(acct.positions)):
            held = qty_of(acct.positions.get(sym, ()))
            price, lot = prices[sym], markets[sym].lot_size
            target = down(w.get(sym, ZERO) * sized / price, lot)
            if target == 0 and held > 0:
                side, qty = "sell", held
            elif target > held:
                side, qty = "buy", down(target - held, lot)
            else:
                side, qty = "sell", down(held - target, lot)
            if qty == 0:
                continue
            notional = qty * price
            reason = None
            if notional < band and target > 0:
                reason = "inside_rebalance_band"
            elif notional < markets[sym].min_notional:
                reason = "below_min_notional"
            if reason is not None:
                events.append(("vault_order_skipped", {
                    "vault_id": v.vault_id, "symbol": sym, "side": side, "qty": qty, "reason": reason,
                    "notional": notional, "min_notional": markets[sym].min_notional, "band": band}))
                continue
            o = Order.make(
                client_order_id=client_order_id(v.vault_id, ctx.cycle, f"vault:{v.vault_id}", "main", sym, side),
                cycle=ctx.cycle, vault_id=v.vault_id, account=f"vault:{v.vault_id}", sleeve="main",
                symbol=sym, side=side, qty=qty, price=price, status="staged", attempts=0)
            mine.append(o)
            targets[o.client_order_id] = target
        mine, factor = fit_buys(mine, acct.cash.get(v.base_currency, ZERO), v.execution, markets, v.base_currency)
        if factor is not None:
            events.append(("vault_buys_scaled", {"vault_id": v.vault_id, "factor": factor,
                                                 "reason": "cash and sale proceeds do not cover the buys"}))
        for o in mine:
            events.append(("vault_order", _order_event(o) | {"nav": nav, "target_qty": targets[o.client_order_id]}))
        orders += mine
    return replace(ctx, vault_nav=navs, vault_orders=tuple(orders), events=(*ctx.events, *events))


def _order_event(o: Order) -> dict[str, object]:
    return {"client_order_id": o.client_order_id, "vault_id": o.vault_id, "account": o.account,
            "symbol": o.symbol, "side": o.side, "qty": o.qty, "price": o.price}
