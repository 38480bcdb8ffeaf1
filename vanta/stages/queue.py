"""Stage 7, queue: merge this cycle's orders with those still waiting in
autotrade_queue.json; everything staged or waiting to retry is submitted, in
execution order (per account, sells before buys).

A waiting order of a follower that is now killed or offboarded, or of a vault now
blocked (kill switch, maintenance), is not sent: it is dropped from the queue and
the drop is logged with the reason, so a kill switch stops every order in the
cycle it is pulled. Then one live order per account, sleeve and market
(`one_per_market`)."""

from __future__ import annotations

from dataclasses import replace
from operator import attrgetter

from vanta.books import execution_order
from vanta.context import Ctx, Event
from vanta.models import Order

_ID = attrgetter("client_order_id")


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
    new = (*ctx.vault_orders, *ctx.child_orders)
    ids = set(map(_ID, new))
    if len(ids) != len(new):
        raise AssertionError("two orders of one cycle share a client order id")
    stopped = _stopped(ctx) if ctx.mem.queue.orders else {}
    waiting: dict[str, Order] = {}
    events: list[Event] = []
    for o in ctx.mem.queue.orders:
        if o.client_order_id in ids:
            continue
        why = stopped.get(o.account) or ctx.blocked.get(o.vault_id)
        if why is not None and o.status != "submitting":
            events.append(("order_dropped", {"client_order_id": o.client_order_id, "account": o.account,
                                             "reason": why}))
            continue
        waiting[o.client_order_id] = o
    submit = tuple(sorted((*waiting.values(), *new), key=execution_order))
    # The queue holds them as submitted: reconcile sorts what is still waiting (Ctx.queue).
    queue = ctx.mem.queue.model_copy(update={"orders": submit})
    return one_per_market(replace(ctx, queue=queue, to_submit=submit, events=(*ctx.events, *events)))


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
    queue = ctx.queue.model_copy(update={"orders": tuple(o for o in ctx.queue.orders
                                                         if o.client_order_id not in drop)})
    return replace(ctx, queue=queue, to_submit=tuple(o for o in ctx.to_submit if o.client_order_id not in drop),
                   events=(*ctx.events, *(drop[k] for k in sorted(drop))))

