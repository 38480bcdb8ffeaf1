"""Stage 9, reconcile: book the broker's fills into portfolio.json (FIFO lots), log
every fill and rejection, and drop answered orders from the queue.

The paper broker's books are vanta's own, so there is no broker balance to compare
yet; live brokers add that comparison (see the README's roadmap)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from itertools import groupby

from vanta.books import apply_fills
from vanta.context import Ctx, Event
from vanta.models import Account, PortfolioFile, QueueFile
from vanta.money import ZERO


def run(ctx: Ctx) -> Ctx:
    assert ctx.answers is not None and ctx.queue is not None
    answers = {f.client_order_id: f for f in ctx.answers.fills}
    base = {v.vault_id: v.base_currency for v in ctx.vault.vaults}
    books: dict[str, dict[str, Account]] = {"vault": dict(ctx.mem.portfolio.vaults),
                                             "follower": dict(ctx.mem.portfolio.followers)}
    realized: dict[str, tuple[Decimal, Decimal]] = {}
    events: list[Event] = []
    # to_submit is in execution order, so each account's orders are adjacent.
    for account, group in groupby(ctx.to_submit, key=lambda o: o.account):
        orders = list(group)
        filled = [(o, answers[o.client_order_id]) for o in orders
                  if answers[o.client_order_id].status == "filled"]
        pnl_of: dict[str, Decimal] = {}
        if filled:
            kind, _, aid = account.partition(":")
            acct, pnls = apply_fills(books[kind][aid], filled, base[filled[0][0].vault_id])
            books[kind][aid] = acct
            realized[account] = (sum(pnls, ZERO), sum((f.fee for _, f in filled), ZERO))
            pnl_of = {o.client_order_id: p for (o, _), p in zip(filled, pnls, strict=True)}
        for o in orders:
            f = answers[o.client_order_id]
            if f.status == "rejected":
                events.append(("reject", {"client_order_id": o.client_order_id, "account": o.account,
                                          "reason": f.reason}))
            else:
                events.append(("fill", {"client_order_id": o.client_order_id, "account": o.account,
                                        "symbol": o.symbol, "side": o.side, "qty": f.qty, "price": f.price,
                                        "fee": f.fee, "cash": f.cash, "realized": pnl_of[o.client_order_id]}))
    old = ctx.mem.portfolio
    portfolio = PortfolioFile.make(
        schema_version=old.schema_version, cycle=ctx.cycle, asof=ctx.asof,
        vaults=books["vault"], followers=books["follower"])
    # Every paper answer is final; live brokers leave open orders queued.
    queue = QueueFile.make(
        schema_version=ctx.queue.schema_version,
        orders=tuple(o for o in ctx.queue.orders if o.client_order_id not in answers))
    return replace(ctx, portfolio=portfolio, queue=queue, realized=realized,
                   events=(*ctx.events, *events))
