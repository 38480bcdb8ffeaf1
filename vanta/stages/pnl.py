"""Stage 10, pnl: per account, realized PnL (FIFO, net of trading fees) accumulates;
unrealized = positions marked at the snapshot price - their open cost. Marked
figures are rounded half-even to the minor unit; cash and cost are exact."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from vanta.books import cost_of, market_value
from vanta.context import Ctx
from vanta.models import Account, AccountPnl, PnlFile
from vanta.money import ZERO, cash_step, half_even


def _pnl(acct: Account, prev: AccountPnl | None, booked: tuple[Decimal, Decimal] | None,
         currency: str, prices: dict[str, Decimal]) -> AccountPnl:
    step = cash_step(currency)
    cash = acct.cash.get(currency, ZERO)
    mv = half_even(market_value(acct, prices), step)
    cost = sum((cost_of(lots) for lots in acct.positions.values()), ZERO).quantize(step)
    r, fees = booked or (ZERO, ZERO)
    return AccountPnl.make(
        equity=cash + mv, cash=cash, market_value=mv, cost_basis=cost,
        realized_pnl=(prev.realized_pnl if prev else ZERO.quantize(step)) + r,
        unrealized_pnl=mv - cost,
        trading_fees=(prev.trading_fees if prev else ZERO.quantize(step)) + fees)


def run(ctx: Ctx) -> Ctx:
    assert ctx.portfolio is not None and ctx.snap is not None
    prices = dict(ctx.snap.prices)
    base = {v.vault_id: v.base_currency for v in ctx.vault.vaults}
    prev = ctx.mem.pnl
    vaults = {vid: _pnl(a, prev.vaults.get(vid), ctx.realized.get(f"vault:{vid}"), base[vid], prices)
              for vid, a in ctx.portfolio.vaults.items()}
    fvault = {f.follower_id: f.vault_id for f in ctx.registry.followers}
    followers = {fid: _pnl(a, prev.followers.get(fid), ctx.realized.get(f"follower:{fid}"),
                           base[fvault[fid]], prices)
                 for fid, a in ctx.portfolio.followers.items()}
    pnl = PnlFile.make(schema_version=prev.schema_version, cycle=ctx.cycle, asof=ctx.asof,
                                  vaults=vaults, followers=followers)
    event = ("pnl", {"vaults": {vid: {"equity": p.equity, "realized_pnl": p.realized_pnl,
                                      "unrealized_pnl": p.unrealized_pnl}
                                for vid, p in vaults.items()}})
    return replace(ctx, pnl=pnl, events=(*ctx.events, event))
