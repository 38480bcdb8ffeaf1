"""Stage 6, mirror: fan each vault order out to the vault's followers (mode `proportional`).

child quantity = vault order quantity x (follower equity x scale / vault NAV), both
equity and NAV taken at the cycle's snapshot before any order, rounded down to the
lot. A sell never exceeds the follower's holding; a vault order that closes the
vault's whole position closes the follower's whole position. Every follower that
gets no order for a vault order gets a logged reason. A follower's buys are scaled
down together when its cash and sales cannot pay for them (books.fit_buys), logged.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from vanta.books import fit_buys, qty_of
from vanta.context import Ctx, Event
from vanta.ids import client_order_id
from vanta.models import Follower, Market, Order, Vault
from vanta.money import ZERO, down
from vanta.stages.diff import _order_event


def _follower_block(f: Follower, v: Vault, equity: Decimal, blocked: str | None) -> str | None:
    if f.status != "active":
        return "offboarded"
    if blocked is not None:
        return blocked
    if f.kill_switch:
        return "follower_kill_switch"
    floor = v.mirroring.min_account_equity if f.min_account_equity is None else f.min_account_equity
    if equity < floor:
        return "below_min_account_equity"
    return None


def _child_qty(vo: Order, ratio: Decimal, held: Decimal, vault_held: Decimal,
               market: Market) -> tuple[Decimal, str | None]:
    """(quantity, None) for one child order, or (quantity, why it is skipped)."""
    qty = down(vo.qty * ratio, market.lot_size)
    if vo.side == "sell":
        if held == 0:
            return ZERO, "no_position"
        if vo.qty == vault_held:
            qty = held  # the vault closes: so does the follower, dust and all
        qty = min(qty, held)
    if qty == 0:
        return qty, "rounds_to_zero"
    if qty * vo.price < market.min_notional:
        return qty, "below_min_notional"
    return qty, None


def run(ctx: Ctx) -> Ctx:
    assert ctx.snap is not None
    prices, markets = ctx.snap.prices, ctx.snap.markets
    vaults = {v.vault_id: v for v in ctx.vault.vaults}
    by_vault: dict[str, list[Order]] = {}
    for o in ctx.vault_orders:
        by_vault.setdefault(o.vault_id, []).append(o)
    children: list[Order] = []
    events: list[Event] = []
    for f in ctx.registry.followers:
        v = vaults[f.vault_id]
        vorders = by_vault.get(f.vault_id, ())
        acct = ctx.mem.portfolio.followers[f.follower_id]
        holding = {sym: qty_of(lots) for sym, lots in acct.positions.items()}
        equity = acct.cash.get(v.base_currency, ZERO) + sum(
            (q * prices[sym] for sym, q in holding.items()), ZERO)
        why = _follower_block(f, v, equity, ctx.blocked.get(f.vault_id))
        if why is not None:
            if why != "offboarded":
                events.append(("follower_skipped", {"follower_id": f.follower_id,
                                                    "vault_id": f.vault_id, "reason": why}))
            continue
        nav = ctx.vault_nav[f.vault_id]
        vault_positions = ctx.mem.portfolio.vaults[f.vault_id].positions
        account = f"follower:{f.follower_id}"
        ratio = equity * f.scale / nav if nav > 0 else ZERO
        mine: list[Order] = []
        parents: dict[str, str] = {}
        for vo in vorders:
            qty, reason = _child_qty(vo, ratio, holding.get(vo.symbol, ZERO),
                                     qty_of(vault_positions.get(vo.symbol, ())), markets[vo.symbol])
            if reason is not None:
                events.append(("child_skipped", {"follower_id": f.follower_id,
                                                 "parent": vo.client_order_id, "symbol": vo.symbol,
                                                 "side": vo.side, "qty": qty, "reason": reason}))
                continue
            o = Order.make(
                client_order_id=client_order_id(vo.vault_id, ctx.cycle, account, "main", vo.symbol, vo.side),
                cycle=ctx.cycle, vault_id=vo.vault_id, account=account, sleeve="main",
                symbol=vo.symbol, side=vo.side, qty=qty, price=vo.price, status="staged", attempts=0)
            mine.append(o)
            parents[o.client_order_id] = vo.client_order_id
        if not mine:
            continue
        mine, factor = fit_buys(mine, acct.cash.get(v.base_currency, ZERO), v.execution, markets, v.base_currency)
        if factor is not None:
            events.append(("child_buys_scaled", {"follower_id": f.follower_id, "factor": factor,
                                                 "reason": "cash and sale proceeds do not cover the buys"}))
        for o in mine:
            children.append(o)
            events.append(("child_order", _order_event(o) | {"parent": parents[o.client_order_id],
                                                             "equity": equity}))
    return replace(ctx, child_orders=tuple(children), events=(*ctx.events, *events))
