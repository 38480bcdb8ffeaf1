"""Stage 11, fees: crystallize fees on realized profit into pnl_ledger.jsonl.

Each follower sleeve is a billing unit with its own `fee`, else the follower's `fee_model`
(README: Fees):
- performance: `perf_share` of the sleeve's cumulative realized PnL (net of trading
  fees) above its high-water mark, rounded down to the minor unit; the mark moves up
  to the cumulative figure, so no profit is charged twice and none while under water;
- flat: `flat_usd` per calendar month (UTC, from `asof`), charged by the sleeve's first
  cycle of a later month for each month that closed;
- performance_or_flat: performance fees as they crystallize, and when a month closes a
  top-up of what they fell short of the flat fee.

A fee is a claim on the follower, collected by a billing system from the ledger and
statements: no cash leaves the follower's books. Unrealized gains are never charged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from decimal import Decimal

from vanta.context import Ctx, Event
from vanta.models import FeeTerms, Follower, LedgerEntry, SleeveFees
from vanta.money import ZERO, cash_step, floor

Sells = Mapping[tuple[str, str], tuple[str, ...]]


def next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    return f"{y + 1:04d}-01" if m == 12 else f"{y:04d}-{m + 1:02d}"


class _Biller:
    """Collects the cycle's ledger entries and numbers them in order."""

    def __init__(self, cycle: int, asof: str, orders: Sells) -> None:
        """`orders`: (follower, sleeve) -> its sells filled this cycle (Ctx.sold)."""
        self.cycle, self.asof, self.orders = cycle, asof, orders
        self.entries: list[LedgerEntry] = []

    def charge(self, f: Follower, terms: FeeTerms, sid: str, vid: str, st: SleeveFees, *, charge: str, period: str,
               gross: Decimal, fee: Decimal, hwm_after: Decimal) -> None:
        orders: tuple[str, ...] = ()
        if charge == "performance":
            orders = self.orders.get((f.follower_id, sid), ())
        self.entries.append(LedgerEntry.make(
            user_id=f.follower_id, vault_id=vid, fee_type=terms.type, pnl_gross=gross, fee_usd=fee,
            asof=self.asof, cycle=self.cycle, hwm_before=st.hwm, hwm_after=hwm_after,
            entry_id=f"{self.cycle}-{len(self.entries) + 1}", sleeve=sid, currency=st.currency,
            charge=charge, period=period, orders=orders, payee=None))


def _close_months(b: _Biller, f: Follower, terms: FeeTerms, sid: str, vid: str, st: SleeveFees,
                  month: str) -> SleeveFees:
    """Bill every month that closed since the sleeve's open month, then open `month`."""
    while st.month < month:
        if terms.type != "perf_share" and terms.flat_usd is not None and f.status == "active":
            flat = floor(terms.flat_usd, cash_step(st.currency))
            fee = flat if terms.type == "flat" else max(flat - st.month_perf, ZERO)
            if fee > 0:
                b.charge(f, terms, sid, vid, st, charge="flat" if terms.type == "flat" else "topup", period=st.month,
                         gross=st.month_profit, fee=fee, hwm_after=st.hwm)
                st = st.model_copy(update={"charged": st.charged + fee})
        zero = ZERO.quantize(cash_step(st.currency))
        st = st.model_copy(update={"month": next_month(st.month), "month_perf": zero, "month_profit": zero})
    return st


def _performance(b: _Biller, f: Follower, terms: FeeTerms, sid: str, vid: str, st: SleeveFees,
                 realized: Decimal) -> SleeveFees:
    """Charge perf_share of realized PnL above the high-water mark and raise the mark."""
    if realized <= st.hwm:
        return st  # under water, or nothing new: no fee
    gross = realized - st.hwm
    if terms.type == "flat":
        # The flat fee covers this profit; the mark still moves so that a later switch to
        # a performance fee never bills profit made under the flat one.
        return st.model_copy(update={"hwm": realized})
    fee = floor(gross * terms.perf_share, cash_step(st.currency))
    b.charge(f, terms, sid, vid, st, charge="performance", period=st.month, gross=gross, fee=fee, hwm_after=realized)
    return st.model_copy(update={"hwm": realized, "charged": st.charged + fee, "month_perf": st.month_perf + fee,
                                 "month_profit": st.month_profit + gross})


def _sleeves(ctx: Ctx) -> Iterator[tuple[Follower, FeeTerms, str, str, str, Decimal]]:
    """(follower, fee terms, quote, sleeve, vault, cumulative realized PnL) for every sleeve with books."""
    assert ctx.pnl is not None
    for f in ctx.registry.followers:
        cores = ctx.pnl.followers.get(f.follower_id, {})
        for c in f.cores:
            core = cores.get(c.quote)
            for s in c.sleeves:
                sp = core.sleeves.get(s.sleeve_id) if core is not None else None
                if sp is not None:
                    yield f, s.fee or f.fee_model, c.quote, s.sleeve_id, s.vault_id, sp.realized_pnl


def run(ctx: Ctx) -> Ctx:
    assert ctx.pnl is not None
    month = ctx.asof[:7]
    old = ctx.mem.pnl.fees
    b = _Biller(ctx.cycle, ctx.asof, ctx.sold)
    # A sleeve the registry no longer names keeps its record: its mark still stands.
    state = {fid: dict(per) for fid, per in old.items() if per}
    for f, terms, quote, sid, vid, realized in _sleeves(ctx):
        mine = old.get(f.follower_id)
        st = mine.get(sid) if mine is not None else None
        if st is None or st.currency != quote:
            zero = ZERO.quantize(cash_step(quote))
            st = SleeveFees.make(currency=quote, hwm=zero, charged=zero, month=month, month_perf=zero,
                                 month_profit=zero)
        st = _close_months(b, f, terms, sid, vid, st, month)
        st = _performance(b, f, terms, sid, vid, st, realized)
        state.setdefault(f.follower_id, {})[sid] = st
    pnl = ctx.pnl.model_copy(update={"fees": state})  # written with sorted keys, in whatever order built
    events: list[Event] = [("fee", {"entry_id": e.entry_id, "user_id": e.user_id, "sleeve": e.sleeve,
                                    "vault_id": e.vault_id, "charge": e.charge, "period": e.period,
                                    "pnl_gross": e.pnl_gross, "fee": e.fee_usd, "currency": e.currency,
                                    "hwm_before": e.hwm_before, "hwm_after": e.hwm_after})
                           for e in b.entries]
    return replace(ctx, pnl=pnl, ledger=(*ctx.ledger, *b.entries), events=(*ctx.events, *events))
