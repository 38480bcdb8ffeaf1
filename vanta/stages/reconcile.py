"""Stage 9, reconcile: book the broker's fills into portfolio.json (FIFO lots), log
every fill and rejection, and drop answered orders from the queue.

A follower's fill is booked in the sleeve that placed it, after the book moves the
mirror stage decided (allocation changes, small-order carry). A `sweep` (Flash)
sleeve that closed its last position this cycle returns the cash above its
allocation to its Core Vault, logged.

The paper broker's books are vanta's own, so there is no broker balance to compare
yet; live brokers add that comparison (see the README's roadmap)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from itertools import groupby
from operator import attrgetter

from vanta.books import apply_fills
from vanta.context import Ctx, Event, SleeveMove
from vanta.models import Account, CoreBook, Fill, Order, PortfolioFile, SleeveBook
from vanta.money import ZERO, cash_step

_ACCOUNT = attrgetter("account")
_ID = attrgetter("client_order_id")
_SLEEVE = attrgetter("sleeve")
EMPTY = SleeveBook.make(cash={}, positions={}, allocated=ZERO, returned=ZERO, carry={})


class _Cores:
    """Copy-on-write view of the followers' Core Vault books."""

    def __init__(self, old: dict[str, dict[str, CoreBook]]) -> None:
        self.old = old
        self.new: dict[str, dict[str, CoreBook]] = {}
        self.quote_of: dict[tuple[str, str], str] = {}

    def core(self, fid: str, quote: str) -> CoreBook:
        return self.new.get(fid, self.old[fid])[quote]

    def put(self, fid: str, quote: str, core: CoreBook) -> None:
        mine = self.new.get(fid)
        if mine is None:
            mine = self.new[fid] = dict(self.old[fid])
        mine[quote] = core

    def sleeve(self, fid: str, quote: str, sid: str) -> SleeveBook:
        return self.core(fid, quote).sleeves.get(sid, EMPTY)

    def put_sleeve(self, fid: str, quote: str, sid: str, book: SleeveBook, core_cash: Decimal | None = None) -> None:
        c = self.core(fid, quote)
        self.put(fid, quote, CoreBook.make(cash=c.cash if core_cash is None else core_cash,
                                           sleeves={**c.sleeves, sid: book}))

    def result(self) -> dict[str, dict[str, CoreBook]]:
        return {**self.old, **self.new}


def _apply_move(cores: _Cores, fid: str, quote: str, sid: str, mv: SleeveMove) -> None:
    book = cores.sleeve(fid, quote, sid)
    step = cash_step(quote)
    cash = dict(book.cash)
    cash[quote] = (cash.get(quote, ZERO) + mv.cash_in).quantize(step)
    core = cores.core(fid, quote)
    new = SleeveBook.make(**{**book.__dict__, "cash": cash, "allocated": mv.allocated.quantize(step),
                             "returned": book.returned.quantize(step), "carry": dict(mv.carry)})
    cores.put_sleeve(fid, quote, sid, new, core.cash - mv.cash_in)


def _sweep(cores: _Cores, fid: str, quote: str, sid: str) -> Decimal:
    """Return a flat sweep sleeve's cash above its allocation to the Core Vault."""
    book = cores.sleeve(fid, quote, sid)
    cash = book.cash.get(quote, ZERO)
    excess = cash - book.allocated
    if book.positions or excess <= 0:
        return ZERO
    new = SleeveBook.make(**{**book.__dict__, "cash": {**book.cash, quote: book.allocated},
                             "returned": book.returned + excess})
    cores.put_sleeve(fid, quote, sid, new, cores.core(fid, quote).cash + excess)
    return excess


def run(ctx: Ctx) -> Ctx:
    assert ctx.answers is not None and ctx.queue is not None and ctx.snap is not None
    fills = ctx.answers.fills
    answers = dict(zip(map(_ID, fills), fills, strict=True))
    markets = ctx.snap.markets
    vaults: dict[str, Account] = dict(ctx.mem.portfolio.vaults)
    cores = _Cores(dict(ctx.mem.portfolio.followers))
    for (fid, sid), mv in sorted(ctx.moves.items()):
        _apply_move(cores, fid, mv.quote, sid, mv)
    realized: dict[str, tuple[Decimal, Decimal]] = {}
    events: list[Event] = []
    sweeps: list[tuple[str, str, str]] = []
    sold: dict[tuple[str, str], tuple[str, ...]] = {}
    noted: list[Fill] = []
    seen: set[str] = set()
    # to_submit is in execution order: each account's orders together, sells first.
    for account, group in groupby(ctx.to_submit, key=_ACCOUNT):
        if account in seen:
            raise AssertionError(f"{account}: orders to book are not grouped by account")
        seen.add(account)
        kind, _, aid = account.partition(":")
        for sleeve, orders in _by_sleeve(list(group)):
            answered = list(map(answers.__getitem__, map(_ID, orders)))
            filled = [(o, f) for o, f in zip(orders, answered, strict=True) if f.status == "filled"]
            if not filled:
                events += map(_rejected, orders, answered)
                continue
            quote = markets[filled[0][0].symbol].quote
            if kind == "vault":
                vaults[aid], pnls = apply_fills(vaults[aid], filled, quote)
                key = account
            else:
                book, pnls = apply_fills(cores.sleeve(aid, quote, sleeve), filled, quote)
                cores.put_sleeve(aid, quote, sleeve, book)
                key = f"{account}/{sleeve}"
            fees, sells = _log_fills(orders, answered, pnls, events, noted)
            realized[key] = (sum(pnls, ZERO), fees)
            if sells and kind != "vault":
                sweeps.append((aid, quote, sleeve))
                sold[(aid, sleeve)] = sells
    if sweeps:
        sweep_sleeves = {(f.follower_id, s.sleeve_id) for f in ctx.registry.followers for c in f.cores
                         for s in c.sleeves if s.profit == "sweep"}
        for fid, quote, sid in sweeps:
            if (fid, sid) in sweep_sleeves:
                amount = _sweep(cores, fid, quote, sid)
                if amount > 0:
                    events.append(("flash_sweep", {"follower_id": fid, "sleeve": sid, "quote": quote,
                                                   "amount": amount,
                                                   "reason": "full close: profit above the allocation returns to "
                                                             "the Core Vault"}))
    old = ctx.mem.portfolio
    portfolio = PortfolioFile.make(
        schema_version=old.schema_version, cycle=ctx.cycle, asof=ctx.asof, vaults=vaults, followers=cores.result())
    # Every paper answer is final; live brokers leave open orders queued. Each answer is for
    # a queued order (execute checked them against to_submit, part of the queue), so as many
    # answers as queued orders leave none, without a pass over tens of thousands of orders.
    # What is left goes back to the file's order (Ctx.queue).
    waiting = (() if len(answers) == len(ctx.queue.orders)
               else tuple(sorted((o for o in ctx.queue.orders if o.client_order_id not in answers), key=_ID)))
    queue = ctx.queue.model_copy(update={"orders": waiting})
    return replace(ctx, portfolio=portfolio, queue=queue, realized=realized, events=(*ctx.events, *events),
                   sold=sold, noted=tuple(sorted(noted, key=_ID)))


def _by_sleeve(orders: list[Order]) -> list[tuple[str, list[Order]]]:
    """One account's orders per sleeve, sleeves in order of their first order, each
    sleeve's orders in their order (a single sleeve, most accounts: no pass in Python)."""
    sleeves = dict.fromkeys(map(_SLEEVE, orders))
    if len(sleeves) == 1:
        return [(orders[0].sleeve, orders)]
    return [(s, [o for o in orders if o.sleeve == s]) for s in sleeves]


def _log_fills(orders: list[Order], answered: list[Fill], pnls: list[Decimal], events: list[Event],
               noted: list[Fill]) -> tuple[Decimal, tuple[str, ...]]:
    """Log one sleeve's answers (`pnls`: the realized PnL of each fill, in order) and note
    the fills with a note. Returns the fees its fills paid and the ids of its sells, sorted."""
    fees = ZERO
    sells: list[str] = []
    pnl = iter(pnls)
    for o, f in zip(orders, answered, strict=True):
        if f.status != "filled":
            events.append(_rejected(o, f))
            continue
        events.append(("fill", {"client_order_id": o.client_order_id, "account": o.account, "sleeve": o.sleeve,
                                "symbol": o.symbol, "side": o.side, "qty": f.qty, "price": f.price, "fee": f.fee,
                                "cash": f.cash, "realized": next(pnl)}))
        fees += f.fee
        if o.side == "sell":
            sells.append(o.client_order_id)
        if f.reason:
            noted.append(f)
    sells.sort()
    return fees, tuple(sells)


def _rejected(o: Order, f: Fill) -> Event:
    """The log line of an answer that is not a fill: a reject (execute keeps deferred ones out)."""
    assert f.status == "rejected", f.status
    return ("reject", {"client_order_id": o.client_order_id, "account": o.account, "sleeve": o.sleeve,
                       "reason": f.reason})
