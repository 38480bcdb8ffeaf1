"""Stage pool (after reconcile, before pnl): pooled vaults' fees and rollovers.

For each vault with `pooled` terms, its model account is the pool: assets = its
equity at the cycle's snapshot (positions marked and rounded down to the minor unit)
less the manager and attribution fees owed. Each cycle:
1. manager and attribution fees: `manager_fee_bps` and `attribution_bps` of the
   vault's realized profit (net of trading fees) above its high-water mark (or, with
   `carry_losses: false`, of the cycle's net realized profit), owed to the manager
   and the creator: the rest stays in the pool, shared pro rata by the shares;
2. at a rollover (the cycle whose asof crosses a multiple of `rollover_hours`): fees
   owed are paid out, then pending withdrawals, then deposits, in request order, all
   at this cycle's assets and shares (vanta/pool.py's ERC-4626 rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from vanta.books import qty_of
from vanta.context import Ctx, Event
from vanta.models import Account, LedgerEntry, PoolBook, PoolRequest, PoolTerms, Stake, Vault
from vanta.money import BPS, ZERO, cash_step, floor, half_even
from vanta.pool import NAV_UNIT, amount, mint, rollover_due, seconds_between, units, withdrawal


@dataclass
class _Pool:
    """One pooled vault's working state through the stage."""

    v: Vault
    terms: PoolTerms
    cash: Decimal
    equity: Decimal
    shares: Decimal
    fees_owed: Decimal
    hwm: Decimal
    last: str | None
    stakes: dict[str, Stake]
    active: str | None = None
    sunset: str | None = None
    events: list[Event] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)
    waiting: list[PoolRequest] = field(default_factory=list)

    @property
    def cur(self) -> str:
        return self.v.base_currency

    @property
    def assets(self) -> Decimal:
        """Minor units the shares claim: equity less fees owed."""
        return units(self.equity - self.fees_owed, self.cur)


def _equity(acct: Account, cur: str, prices: dict[str, Decimal]) -> tuple[Decimal, Decimal]:
    cash = acct.cash.get(cur, ZERO)
    mv = sum((qty_of(lots) * prices[s] for s, lots in acct.positions.items()), ZERO)
    return cash, cash + floor(mv, cash_step(cur))


def _open(v: Vault, terms: PoolTerms, book: PoolBook | None, acct: Account, ctx: Ctx, cum: Decimal) -> _Pool:
    assert ctx.snap is not None
    cash, equity = _equity(acct, v.base_currency, dict(ctx.snap.prices))
    if book is not None:
        return _Pool(v, terms, cash, equity, book.total_shares, book.fees_owed, book.hwm, book.last_rollover,
                     dict(book.contributors), active=book.last_active, sunset=book.sunset)
    # A new pool: the account's equity is the manager's seed stake.
    seed = mint(units(equity, v.base_currency), ZERO, ZERO)
    zero = ZERO.quantize(cash_step(v.base_currency))
    stakes = ({terms.manager_id: Stake.make(shares=seed, cost_basis=equity, since=ctx.asof, paid_out=zero,
                                            fees_paid=zero)} if seed > 0 else {})
    p = _Pool(v, terms, cash, equity, seed, ZERO.quantize(cash_step(v.base_currency)), cum, None, stakes,
              active=ctx.asof)
    p.events.append(("pool_opened", {"vault_id": v.vault_id, "manager_id": terms.manager_id, "assets": equity,
                                     "shares": seed}))
    return p


def _entry(ctx: Ctx, p: _Pool, n: int, **kw: Any) -> LedgerEntry:
    return LedgerEntry.make(vault_id=p.v.vault_id, asof=ctx.asof, cycle=ctx.cycle, entry_id=f"{ctx.cycle}-p{n}",
                            sleeve="pool", currency=p.cur, period=ctx.asof[:7], orders=(), **kw)


def _manager_fees(ctx: Ctx, p: _Pool, cum: Decimal, cycle_pnl: Decimal, n0: int) -> None:
    t = p.terms
    profit = cum - p.hwm if t.carry_losses else cycle_pnl
    before = p.hwm
    p.hwm = max(p.hwm, cum) if t.carry_losses else cum
    if profit <= 0:
        return
    step = cash_step(p.cur)
    for kind, bps, payee in (("manager", t.manager_fee_bps, t.manager_id),
                             ("attribution", t.attribution_bps, t.creator_id or t.manager_id)):
        fee = floor(profit * bps / BPS, step)
        if fee <= 0:
            continue
        p.fees_owed += fee
        p.entries.append(_entry(ctx, p, n0 + len(p.entries) + 1, user_id=p.v.vault_id, fee_type=f"{kind}_fee",
                                pnl_gross=profit, fee_usd=fee, hwm_before=before, hwm_after=p.hwm,
                                charge=kind, payee=payee))
        p.events.append(("pool_fee", {"vault_id": p.v.vault_id, "charge": kind, "payee": payee,
                                      "profit": profit, "fee": fee}))


def _refuse(p: _Pool, r: PoolRequest, reason: str) -> None:
    p.events.append(("pool_request_refused", {"request_id": r.request_id, "vault_id": r.vault_id,
                                              "contributor_id": r.contributor_id, "reason": reason}))


def _wait(p: _Pool, r: PoolRequest, reason: str) -> None:
    p.waiting.append(r)
    p.events.append(("pool_request_waiting", {"request_id": r.request_id, "reason": reason}))


def _withdraw(ctx: Ctx, p: _Pool, r: PoolRequest, n0: int, sunset: bool = False) -> None:
    st = p.stakes.get(r.contributor_id)
    if st is None or st.shares <= 0:
        return _refuse(p, r, "no_shares")
    s = st.shares if r.all else min(r.shares, st.shares)
    t = p.terms
    if not sunset and r.contributor_id == t.manager_id and st.shares - s < t.manager_min_stake_pct * (p.shares - s):
        return _refuse(p, r, "manager_min_stake")
    if not sunset and seconds_between(st.since, ctx.asof) < t.cooldown_hours * 3600:
        return _wait(p, r, "cooldown")
    # The manager pays no fee to itself.
    rate = ZERO if r.contributor_id == t.manager_id else t.withdrawal_profit_fee
    out = withdrawal(s, st.shares, st.cost_basis, p.assets, p.shares, rate, p.cur)
    if out.gross > p.cash:
        # Burn only what the cash pays at this NAV; the rest waits for the next rollover
        # (the diff sells for pending withdrawals in a rollover cycle).
        part = _affordable(p, s, st, rate, out.gross)
        if part <= 0:
            return _wait(p, r, "insufficient_cash")
        p.waiting.append(r if r.all else r.model_copy(update={"shares": s - part}))
        p.events.append(("pool_request_waiting", {"request_id": r.request_id, "reason": "insufficient_cash",
                                                  "shares_left": s - part}))
        s = part
        out = withdrawal(s, st.shares, st.cost_basis, p.assets, p.shares, rate, p.cur)
    p.cash -= out.gross
    p.equity -= out.gross
    p.shares -= s
    # A stake burned to zero shares stays in the register: what it was paid is history.
    p.stakes[r.contributor_id] = st.model_copy(update={
        "shares": st.shares - s, "cost_basis": st.cost_basis - out.basis, "paid_out": st.paid_out + out.paid,
        "fees_paid": st.fees_paid + out.fee})
    p.events.append(("pool_withdrawal", {"request_id": r.request_id, "vault_id": r.vault_id,
                                         "contributor_id": r.contributor_id, "shares": s, "gross": out.gross,
                                         "cost_basis": out.basis, "fee": out.fee, "paid": out.paid}))
    if out.fee > 0:
        p.entries.append(_entry(ctx, p, n0 + len(p.entries) + 1, user_id=r.contributor_id,
                                fee_type="withdrawal_fee", pnl_gross=out.gross - out.basis, fee_usd=out.fee,
                                hwm_before=out.basis, hwm_after=out.basis, charge="withdrawal",
                                payee=t.manager_id))
    return None


def _affordable(p: _Pool, s: Decimal, st: Stake, rate: Decimal, gross: Decimal) -> Decimal:
    """The most of `s` shares (worth `gross`) whose burn the pool's cash pays at this NAV."""
    a = p.assets
    if a <= 0 or gross <= 0:
        return ZERO
    part = (s * units(p.cash, p.cur) / units(gross, p.cur)).to_integral_value(ROUND_FLOOR)
    unit = (p.shares / a).to_integral_value(ROUND_CEILING)  # about one minor unit of shares
    while part > 0 and withdrawal(part, st.shares, st.cost_basis, a, p.shares, rate, p.cur).gross > p.cash:
        part -= unit
    return max(part, ZERO)


def _deposit(ctx: Ctx, p: _Pool, r: PoolRequest) -> None:
    amt = floor(r.amount, cash_step(p.cur))
    t = p.terms
    st = p.stakes.get(r.contributor_id)
    if p.sunset is not None:
        return _refuse(p, r, "sunset")
    if t.max_capacity is not None and amount(p.assets, p.cur) + amt > t.max_capacity:
        return _refuse(p, r, "max_capacity")
    if (st is None or st.shares == 0) and amt < t.min_stake:
        return _refuse(p, r, "min_stake")
    got = mint(units(amt, p.cur), p.assets, p.shares)
    if got <= 0:
        return _refuse(p, r, "rounds_to_zero")
    p.cash += amt
    p.equity += amt
    p.shares += got
    zero = ZERO.quantize(cash_step(p.cur))
    st = st or Stake.make(shares=ZERO, cost_basis=zero, since=ctx.asof, paid_out=zero, fees_paid=zero)
    p.stakes[r.contributor_id] = st.model_copy(update={"shares": st.shares + got, "cost_basis": st.cost_basis + amt,
                                                       "since": ctx.asof})
    p.events.append(("pool_deposit", {"request_id": r.request_id, "vault_id": r.vault_id,
                                      "contributor_id": r.contributor_id, "amount": amt, "shares": got}))
    return None


def _sunset_due(ctx: Ctx, p: _Pool) -> bool:
    days = p.terms.sunset_days
    if days is None or p.sunset is not None or p.active is None or p.shares <= 0:
        return False
    if seconds_between(p.active, ctx.asof) < days * 86400:
        return False
    assert ctx.portfolio is not None
    if ctx.portfolio.vaults[p.v.vault_id].positions:
        p.events.append(("pool_sunset_waiting", {"vault_id": p.v.vault_id, "reason": "open_positions",
                                                 "idle_since": p.active}))
        return False
    return True


def _sunset(ctx: Ctx, p: _Pool, n0: int) -> None:
    """Idle past sunset_days: every stake is withdrawn in full, in contributor order, at
    this rollover's NAV (each burn rounds down, so no one gains from another's)."""
    p.events.append(("pool_sunset", {"vault_id": p.v.vault_id, "idle_since": p.active,
                                     "days": p.terms.sunset_days}))
    for cid, st in sorted(p.stakes.items()):
        if st.shares > 0:
            req = PoolRequest.make(request_id=f"{ctx.asof}-sunset-{cid}", vault_id=p.v.vault_id, contributor_id=cid,
                                   kind="withdraw", amount=ZERO, shares=ZERO, all=True, asof=ctx.asof)
            _withdraw(ctx, p, req, n0, sunset=True)
    p.sunset = ctx.asof


def _rollover(ctx: Ctx, p: _Pool, requests: list[PoolRequest], n0: int) -> None:
    if p.fees_owed > 0 and p.fees_owed <= p.cash:
        p.events.append(("pool_fees_paid", {"vault_id": p.v.vault_id, "amount": p.fees_owed}))
        p.cash -= p.fees_owed
        p.equity -= p.fees_owed
        p.fees_owed = ZERO.quantize(cash_step(p.cur))
    if _sunset_due(ctx, p):
        _sunset(ctx, p, n0)
    for r in [r for r in requests if r.kind == "withdraw"]:
        _withdraw(ctx, p, r, n0)
    for r in [r for r in requests if r.kind == "deposit"]:
        _deposit(ctx, p, r)
    if any(k in ("pool_deposit", "pool_withdrawal") for k, _ in p.events):
        p.active = ctx.asof
    p.last = ctx.asof
    p.events.append(("rollover", {"vault_id": p.v.vault_id, "assets": amount(p.assets, p.cur),
                                  "shares": p.shares,
                                  "contributors": sum(1 for x in p.stakes.values() if x.shares > 0)}))


def _book(p: _Pool) -> PoolBook:
    assets = amount(p.assets, p.cur)
    nav = half_even(assets * NAV_UNIT / p.shares, Decimal("0.00000001")) if p.shares > 0 else ZERO
    return PoolBook.make(currency=p.cur, total_shares=p.shares, assets=assets, nav_per_share=nav,
                         fees_owed=p.fees_owed, hwm=p.hwm, last_rollover=p.last, last_active=p.active,
                         sunset=p.sunset, contributors=dict(sorted(p.stakes.items())))


def run(ctx: Ctx) -> Ctx:
    assert ctx.portfolio is not None and ctx.queue is not None
    pooled = [v for v in ctx.vault.vaults if v.pooled is not None and v.vault_id in ctx.portfolio.vaults]
    if not pooled:
        return ctx
    prev = ctx.mem.pnl
    vaults = dict(ctx.portfolio.vaults)
    books = dict(prev.pools)
    keep = [r for r in ctx.queue.requests if r.vault_id not in {v.vault_id for v in pooled}]
    events: list[Event] = []
    entries: list[LedgerEntry] = []
    for v in pooled:
        assert v.pooled is not None
        vid = v.vault_id
        r = ctx.realized.get(f"vault:{vid}", (ZERO, ZERO))[0]
        old = prev.vaults.get(vid)
        cum = (old.realized_pnl if old else ZERO) + r
        p = _open(v, v.pooled, books.get(vid), vaults[vid], ctx, cum)
        if f"vault:{vid}" in ctx.realized:  # the vault traded this cycle
            p.active = ctx.asof
        _manager_fees(ctx, p, cum, r, len(entries))
        mine = [q for q in ctx.queue.requests if q.vault_id == vid]
        if rollover_due(p.last, ctx.asof, v.pooled.rollover_hours):
            _rollover(ctx, p, mine, len(entries))
        else:
            p.waiting = mine
        vaults[vid] = vaults[vid].model_copy(update={"cash": {**vaults[vid].cash, p.cur: p.cash}})
        books[vid] = _book(p)
        keep += p.waiting
        events += p.events
        entries += p.entries
    portfolio = ctx.portfolio.model_copy(update={"vaults": vaults})
    queue = ctx.queue.model_copy(update={"requests": tuple(sorted(keep, key=lambda q: q.request_id))})
    return replace(ctx, portfolio=portfolio, queue=queue, pools=dict(sorted(books.items())),
                   ledger=(*ctx.ledger, *entries), events=(*ctx.events, *events))
