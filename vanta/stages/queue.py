"""Stage 7, queue: merge this cycle's orders with those still waiting in
autotrade_queue.json; everything staged or waiting to retry is submitted, in
execution order (per account, sells before buys)."""

from __future__ import annotations

from dataclasses import replace

from vanta.books import execution_order
from vanta.context import Ctx
from vanta.models import Order, QueueFile


def run(ctx: Ctx) -> Ctx:
    new = {o.client_order_id: o for o in (*ctx.vault_orders, *ctx.child_orders)}
    if len(new) != len(ctx.vault_orders) + len(ctx.child_orders):
        raise AssertionError("two orders of one cycle share a client order id")
    waiting: dict[str, Order] = {o.client_order_id: o for o in ctx.mem.queue.orders if o.client_order_id not in new}
    merged = {**waiting, **new}
    submit = tuple(sorted(merged.values(), key=execution_order))
    queue = QueueFile.make(
        schema_version=ctx.mem.queue.schema_version,
        orders=tuple(sorted(merged.values(), key=lambda o: o.client_order_id)))
    return replace(ctx, queue=queue, to_submit=submit)
