"""Stage 7, queue: merge this cycle's orders with those still waiting in
autotrade_queue.json; everything staged or waiting to retry is submitted, in
execution order (per account, sells before buys).

A waiting order of a follower that is now killed or offboarded, or of a vault now
blocked (kill switch, maintenance), is not sent: it is dropped from the queue and
the drop is logged with the reason, so a kill switch stops every order in the
cycle it is pulled."""

from __future__ import annotations

from dataclasses import replace

from vanta.books import execution_order
from vanta.context import Ctx, Event
from vanta.models import Order


def _stopped(ctx: Ctx) -> dict[str, str]:
    """account -> why its waiting orders must not be sent."""
    out = {}
    for f in ctx.registry.followers:
        if f.status != "active":
            out[f"follower:{f.follower_id}"] = "offboarded"
        elif f.kill_switch:
            out[f"follower:{f.follower_id}"] = "follower_kill_switch"
    return out


def run(ctx: Ctx) -> Ctx:
    new = {o.client_order_id: o for o in (*ctx.vault_orders, *ctx.child_orders)}
    if len(new) != len(ctx.vault_orders) + len(ctx.child_orders):
        raise AssertionError("two orders of one cycle share a client order id")
    stopped = _stopped(ctx) if ctx.mem.queue.orders else {}
    waiting: dict[str, Order] = {}
    events: list[Event] = []
    for o in ctx.mem.queue.orders:
        if o.client_order_id in new:
            continue
        why = stopped.get(o.account) or ctx.blocked.get(o.vault_id)
        if why is not None and o.status != "submitting":
            events.append(("order_dropped", {"client_order_id": o.client_order_id, "account": o.account,
                                             "reason": why}))
            continue
        waiting[o.client_order_id] = o
    merged = {**waiting, **new}
    submit = tuple(sorted(merged.values(), key=execution_order))
    queue = ctx.mem.queue.model_copy(
        update={"orders": tuple(sorted(merged.values(), key=lambda o: o.client_order_id))})
    return replace(ctx, queue=queue, to_submit=submit, events=(*ctx.events, *events))
