"""Stage 5, diff: each vault's model holdings against targets x model NAV -> vault orders.

The vault trades the targets of its persona (baseline, or the flip persona while a
flip is in force). target quantity = weight x sized NAV / price, rounded down to the
lot, where sized NAV = NAV x (1 - 2 x (slippage_bps + fee_bps) / 10000) keeps enough
cash to pay one full turn of trading costs (sizing.rebalance). The order is the
difference, rounded toward zero to the lot; a target of zero sells the whole
position. An order worth less than the vault's rebalance band x NAV, or under the
market's min notional, is dropped and logged. NAV is taken at the cycle's snapshot
prices, before any order. If cash plus the sales' proceeds cannot pay for the buys
at the broker's prices, the buys are scaled down together (books.fit_buys) and the
factor is logged.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from vanta.books import fit_buys, market_value, qty_of
from vanta.context import Ctx, Event
from vanta.ids import client_order_id
from vanta.models import Order, Vault
from vanta.money import ZERO
from vanta.pool import rollover_due
from vanta.sizing import rebalance


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
        w = ctx.allocation.vaults[v.vault_id][ctx.personas.get(v.vault_id, "baseline")]
        held = {sym: qty_of(lots) for sym, lots in acct.positions.items()}
        band = v.risk.rebalance_band * nav
        legs, skips = rebalance(w, max(ZERO, nav - _owes(ctx, v)), held, v.universe, prices, markets,
                                v.execution, band)
        for s in skips:
            events.append(("vault_order_skipped", {
                "vault_id": v.vault_id, "symbol": s.symbol, "side": s.side, "qty": s.qty, "reason": s.reason,
                "notional": s.qty * prices[s.symbol], "min_notional": markets[s.symbol].min_notional,
                "band": band}))
        account = f"vault:{v.vault_id}"
        mine = [Order.make(
            client_order_id=client_order_id(v.vault_id, ctx.cycle, account, "main", leg.symbol, leg.side),
            cycle=ctx.cycle, vault_id=v.vault_id, account=account, sleeve="main", symbol=leg.symbol,
            side=leg.side, qty=leg.qty, price=prices[leg.symbol], status="staged", attempts=0) for leg in legs]
        targets = {o.client_order_id: leg.target for o, leg in zip(mine, legs, strict=True)}
        mine, factor = fit_buys(mine, acct.cash.get(v.base_currency, ZERO), v.execution, markets, v.base_currency)
        if factor is not None:
            events.append(("vault_buys_scaled", {"vault_id": v.vault_id, "factor": factor,
                                                 "reason": "cash and sale proceeds do not cover the buys"}))
        for o in mine:
            events.append(("vault_order", _order_event(o) | {"nav": nav, "target_qty": targets[o.client_order_id]}))
        orders += mine
    return replace(ctx, vault_nav=navs, vault_orders=tuple(orders), events=(*ctx.events, *events))


def _owes(ctx: Ctx, v: Vault) -> Decimal:
    """What a pooled vault must keep in cash rather than invest: fees owed and, in a cycle
    that crosses a rollover, its pending withdrawals at the last NAV (so the vault sells
    in time to pay them at the rollover)."""
    book = ctx.mem.pnl.pools.get(v.vault_id)
    if v.pooled is None or book is None:
        return ZERO
    owes = book.fees_owed
    if book.total_shares > 0 and rollover_due(book.last_rollover, ctx.asof, v.pooled.rollover_hours):
        for r in ctx.mem.queue.requests:
            st = book.contributors.get(r.contributor_id)
            if r.vault_id == v.vault_id and r.kind == "withdraw" and st is not None:
                shares = st.shares if r.all else min(r.shares, st.shares)
                owes += shares * book.assets / book.total_shares
    return owes


def _order_event(o: Order) -> dict[str, object]:
    return {"client_order_id": o.client_order_id, "vault_id": o.vault_id, "account": o.account,
            "symbol": o.symbol, "side": o.side, "qty": o.qty, "price": o.price}
