"""Stage 2, market: the cycle's price snapshot, taken by the edge and recorded as an input."""

from __future__ import annotations

from dataclasses import replace

from vanta.context import Ctx, Edge


def run(ctx: Ctx, edge: Edge) -> Ctx:
    snap = edge.market(ctx)
    event = ("market", {"bar": snap.bar, "bar_time": snap.bar_time, "prices": snap.prices})
    return replace(ctx, snap=snap, events=(*ctx.events, event))
