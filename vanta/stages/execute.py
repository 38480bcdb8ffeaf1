"""Stage 8, execute: the edge submits the queued orders (marked `submitting` durably
first) and returns one broker answer per order; the answers are recorded as a cycle
input, so replay never calls a broker.

A live broker may defer an order (an outage, an answer lost on the way, an order
still resting): the order stays in the queue with the status the broker gave
(`retry`, `submitting`, `open`) and one more attempt, and the rest of the cycle goes
on. An order that never reached the broker (`retry`) expires after MAX_AGE_CYCLES
cycles; one that may be at the broker is kept until the broker says what became of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, cast

from vanta.context import Ctx, Edge, Event
from vanta.models import BrokerAnswers, Order, QueueFile

MAX_AGE_CYCLES = 10

QueueStatus = Literal["staged", "submitting", "open", "retry"]


def one_per_market(ctx: Ctx) -> Ctx:
    """At most one live order per account, sleeve and symbol. An order waiting from an
    earlier cycle that never reached the broker (`retry`) is superseded when its vault
    trades that market again (the vault changed its mind: today's child order, if any,
    replaces it); one that may be at the broker (`submitting`, `open`) holds this cycle's
    order for that market back until the broker says what became of it, so a delayed
    order and its successor never both fill."""
    waiting: dict[tuple[str, str, str], list[Order]] = {}
    for o in ctx.mem.queue.orders:
        waiting.setdefault((o.account, o.sleeve, o.symbol), []).append(o)
    if not waiting or ctx.queue is None:
        return ctx
    queued = {o.client_order_id for o in ctx.mem.queue.orders}
    drop: dict[str, Event] = {}
    for o in ctx.to_submit:
        if o.cycle != ctx.cycle or o.client_order_id in queued:
            continue
        for w in waiting.get((o.account, o.sleeve, o.symbol), ()):
            if w.status in ("submitting", "open"):
                drop[o.client_order_id] = ("order_held", {"client_order_id": o.client_order_id, "account": o.account,
                                                          "symbol": o.symbol, "waiting_for": w.client_order_id})
    traded = {(v.vault_id, v.symbol): v.client_order_id for v in ctx.vault_orders}
    for group in waiting.values():
        for w in group:
            by = traded.get((w.vault_id, w.symbol))
            if by is not None and w.status not in ("submitting", "open") and w.account != f"vault:{w.vault_id}":
                drop[w.client_order_id] = ("order_superseded", {"client_order_id": w.client_order_id,
                                                                "account": w.account, "symbol": w.symbol,
                                                                "by": by})
    if not drop:
        return ctx
    queue = QueueFile.make(**{**ctx.queue.__dict__,
                              "orders": tuple(o for o in ctx.queue.orders if o.client_order_id not in drop)})
    return replace(ctx, queue=queue, to_submit=tuple(o for o in ctx.to_submit if o.client_order_id not in drop),
                   events=(*ctx.events, *(drop[k] for k in sorted(drop))))


def run(ctx: Ctx, edge: Edge) -> Ctx:
    ctx = one_per_market(ctx)
    answers = edge.execute(ctx)
    asked = sorted(o.client_order_id for o in ctx.to_submit)
    got = [f.client_order_id for f in answers.fills]
    if asked != got:
        raise AssertionError("broker answers do not match the orders submitted")
    later = {f.client_order_id: f.reason or "retry" for f in answers.fills if f.status == "deferred"}
    if not later:
        return replace(ctx, answers=answers, broker_answers=answers)
    assert ctx.queue is not None
    events: list[Event] = []
    kept: list[Order] = []
    for o in ctx.queue.orders:
        why = later.get(o.client_order_id)
        if why is None:
            kept.append(o)
            continue
        status = cast(QueueStatus, why.partition(":")[0] if why.partition(":")[0] in ("retry", "submitting", "open")
                      else "retry")
        age = ctx.cycle - o.cycle
        if status == "retry" and age >= MAX_AGE_CYCLES:
            events.append(("order_expired", {"client_order_id": o.client_order_id, "account": o.account,
                                             "age_cycles": age, "reason": why}))
            continue
        kept.append(o.model_copy(update={"status": status, "attempts": o.attempts + 1}))
        events.append(("order_deferred", {"client_order_id": o.client_order_id, "account": o.account,
                                          "status": status, "attempts": o.attempts + 1, "reason": why}))
    answered = BrokerAnswers.make(**{**answers.__dict__,
                                     "fills": tuple(f for f in answers.fills if f.status != "deferred")})
    queue = QueueFile.make(**{**ctx.queue.__dict__, "orders": tuple(kept)})
    # Deferred orders leave this cycle's books untouched: reconcile sees only the answered.
    return replace(ctx, answers=answered, broker_answers=answers, queue=queue,
                   to_submit=tuple(o for o in ctx.to_submit if o.client_order_id not in later),
                   events=(*ctx.events, *events))
