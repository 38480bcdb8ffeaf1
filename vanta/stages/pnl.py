"""Stage 10, pnl: per vault and per sleeve, realized PnL (FIFO, net of trading fees)
accumulates; unrealized = positions marked at the snapshot price - their open cost.
Marked figures are rounded half-even to the minor unit; cash and cost are exact.

Each Core Vault reports total coins (its cash and its sleeves'), the coins outside
every sleeve, tradeable coins, equity and the profit its sweep sleeves returned; each sleeve reports
its tracking error against its vault's weights after the cycle's fills.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from vanta.context import Ctx
from vanta.models import Account, AccountPnl, CoreBook, CorePnl, CoreVault, Follower, PnlFile, SleevePnl
from vanta.money import ZERO, cash_step, half_even
from vanta.sizing import tracking_error


def _marks(acct: Account, prices: Mapping[str, Decimal]) -> tuple[dict[str, Decimal], Decimal, Decimal]:
    """(value of each position at the snapshot, their sum, open cost of every lot), unrounded.

    One pass over the lots serves the figures and the weights alike: 10k sleeves x 20
    symbols make this the stage's inner loop."""
    values: dict[str, Decimal] = {}
    total = cost = ZERO
    for s, lots in acct.positions.items():
        if len(lots) == 1:  # most positions: one lot, nothing to add up
            (qty, c), = lots
            cost += c
        else:
            qty = ZERO
            for q, c in lots:
                qty += q
                cost += c
        values[s] = value = qty * prices[s]
        total += value
    return values, total, cost


def _figures(prev: AccountPnl | None, booked: tuple[Decimal, Decimal] | None, step: Decimal, cash: Decimal,
             value: Decimal, cost: Decimal) -> dict[str, Decimal]:
    mv = half_even(value, step)
    cost = cost.quantize(step)
    r, fees = booked or _NOTHING_BOOKED
    return {"equity": cash + mv, "cash": cash, "market_value": mv, "cost_basis": cost,
            "realized_pnl": (prev.realized_pnl if prev else ZERO.quantize(step)) + r,
            "unrealized_pnl": mv - cost,
            "trading_fees": (prev.trading_fees if prev else ZERO.quantize(step)) + fees}


_NOTHING_BOOKED = (ZERO, ZERO)


def _account_pnl(acct: Account, prev: AccountPnl | None, booked: tuple[Decimal, Decimal] | None,
                 currency: str, prices: Mapping[str, Decimal]) -> AccountPnl:
    _, value, cost = _marks(acct, prices)
    return AccountPnl.make(**_figures(prev, booked, cash_step(currency), acct.cash.get(currency, ZERO), value, cost))


def _core(core: CoreVault | None, book: CoreBook, prev: CorePnl | None, quote: str, ctx: Ctx, fid: str,
          f: Follower | None, vault_w: Mapping[str, Mapping[str, Decimal]]) -> CorePnl:
    assert ctx.snap is not None
    prices = ctx.snap.prices
    step = cash_step(quote)
    olds = prev.sleeves if prev else {}
    sleeves: dict[str, SleevePnl] = {}
    # The Core Vault's sums, gathered in the sleeves' one pass.
    cashes, mvs, returned = ZERO, ZERO, ZERO
    for sid, sb in book.sleeves.items():
        cash = sb.cash.get(quote, ZERO)
        values, value, cost = _marks(sb, prices)
        fig = _figures(olds.get(sid), ctx.realized.get(f"follower:{fid}/{sid}"), step, cash, value, cost)
        equity = cash + value
        te = tracking_error(vault_w.get(_vault_of(f, sid), {}), values, equity)
        fig.update(allocated=sb.allocated, returned=sb.returned, tracking_error=te,
                   tracking_value=half_even(te * equity, step))
        sleeves[sid] = SleevePnl.make(**fig)
        cashes += cash
        mvs += fig["market_value"]
        returned += sb.returned
    total = book.cash + cashes
    return CorePnl.make(
        total_coins=total, core_cash=book.cash,
        tradeable=total if core is None or core.tradeable is None else core.tradeable,
        equity=total + mvs, returned=returned, sleeves=sleeves)


def _core_of(f: Follower | None, quote: str) -> CoreVault | None:
    for c in f.cores if f else ():
        if c.quote == quote:
            return c
    return None


def _vault_of(f: Follower | None, sid: str) -> str:
    """The vault a follower's sleeve follows ("" when the registry no longer names it)."""
    for c in f.cores if f else ():
        for s in c.sleeves:
            if s.sleeve_id == sid:
                return s.vault_id
    return ""


def run(ctx: Ctx) -> Ctx:
    assert ctx.portfolio is not None and ctx.snap is not None
    prices = ctx.snap.prices
    base = {v.vault_id: v.base_currency for v in ctx.vault.vaults}
    prev = ctx.mem.pnl
    vaults = {vid: _account_pnl(a, prev.vaults.get(vid), ctx.realized.get(f"vault:{vid}"), base[vid], prices)
              for vid, a in ctx.portfolio.vaults.items()}
    vault_w: dict[str, dict[str, Decimal]] = {}
    for vid, a in ctx.portfolio.vaults.items():
        values, value, _ = _marks(a, prices)
        nav = a.cash.get(base[vid], ZERO) + value
        vault_w[vid] = {s: x / nav for s, x in values.items()} if nav > 0 else {}
    reg = {f.follower_id: f for f in ctx.registry.followers}
    followers: dict[str, dict[str, CorePnl]] = {}
    for fid, books in ctx.portfolio.followers.items():
        f = reg.get(fid)
        old = prev.followers.get(fid, {})
        followers[fid] = {q: _core(_core_of(f, q), b, old.get(q),
                                   q, ctx, fid, f, vault_w)
                          for q, b in books.items()}
    pnl = PnlFile.make(schema_version=prev.schema_version, cycle=ctx.cycle, asof=ctx.asof,
                       vaults=vaults, followers=followers, fees=prev.fees,
                       pools=prev.pools if ctx.pools is None else ctx.pools)
    event = ("pnl", {"vaults": {vid: {"equity": p.equity, "realized_pnl": p.realized_pnl,
                                      "unrealized_pnl": p.unrealized_pnl}
                                for vid, p in vaults.items()}})
    return replace(ctx, pnl=pnl, events=(*ctx.events, event))
