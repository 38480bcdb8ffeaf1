"""Stage 8, execute: the edge submits the queued orders (marked `submitting` durably
first) and returns one broker answer per order; the answers are recorded as a cycle
input, so replay never calls a broker."""

from __future__ import annotations

from dataclasses import replace

from vanta.context import Ctx, Edge


def run(ctx: Ctx, edge: Edge) -> Ctx:
    answers = edge.execute(ctx)
    asked = sorted(o.client_order_id for o in ctx.to_submit)
    got = [f.client_order_id for f in answers.fills]
    if asked != got:
        raise AssertionError("broker answers do not match the orders submitted")
    return replace(ctx, answers=answers)
