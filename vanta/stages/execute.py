"""Stage 8, execute: the edge submits the queued orders (marked `submitting` durably
first) and returns one broker answer per order; the answers are recorded as a cycle
input, so replay never calls a broker.

A live broker may defer an order (an outage, an answer lost on the way, an order
still resting): the order stays in the queue with the status the broker gave
(`retry`, `submitting`, `open`) and one more attempt, and the rest of the cycle goes
on. An order that never reached the broker (`retry`) expires after MAX_AGE_CYCLES
cycles; so does a `submitting` one that a complete lookup by client order id still does
not find by then (the broker no longer sends it, so its id never goes out again). One
that may be at the broker (`open`, or a lookup that failed) is kept until the broker
says what became of it.
"""

from __future__ import annotations

from dataclasses import replace
from operator import attrgetter
from typing import Literal, cast

from vanta.brokers.errors import NEVER_FOUND
from vanta.context import Ctx, Edge, Event
from vanta.models import Order

MAX_AGE_CYCLES = 10

QueueStatus = Literal["staged", "submitting", "open", "retry"]
_ID = attrgetter("client_order_id")


def run(ctx: Ctx, edge: Edge) -> Ctx:
    answers = edge.execute(ctx)
    got: list[str] = []
    later: dict[str, str] = {}
    for f in answers.fills:  # one pass over tens of thousands of answers: their ids, and the deferred
        got.append(f.client_order_id)
        if f.status == "deferred":
            later[f.client_order_id] = f.reason or "retry"
    if sorted(map(_ID, ctx.to_submit)) != got:
        raise AssertionError("broker answers do not match the orders submitted")
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
        expired = why if status == "retry" and age >= MAX_AGE_CYCLES else None
        if status == "submitting" and age >= MAX_AGE_CYCLES and NEVER_FOUND in why:
            expired = (f"{NEVER_FOUND} after {o.attempts + 1} attempts over {age} cycles (the last a complete "
                       "lookup); its client order id is never sent again")
        if expired is not None:
            events.append(("order_expired", {"client_order_id": o.client_order_id, "account": o.account,
                                             "age_cycles": age, "reason": expired}))
            continue
        kept.append(o.model_copy(update={"status": status, "attempts": o.attempts + 1}))
        events.append(("order_deferred", {"client_order_id": o.client_order_id, "account": o.account,
                                          "status": status, "attempts": o.attempts + 1, "reason": why}))
    answered = answers.model_copy(update={"fills": tuple(f for f in answers.fills if f.status != "deferred")})
    queue = ctx.queue.model_copy(update={"orders": tuple(kept)})
    # Deferred orders leave this cycle's books untouched: reconcile sees only the answered.
    return replace(ctx, answers=answered, broker_answers=answers, queue=queue,
                   to_submit=tuple(o for o in ctx.to_submit if o.client_order_id not in later),
                   events=(*ctx.events, *events))
