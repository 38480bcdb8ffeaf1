"""Stage 1, load: the edge reads and validates the memory files and fixes cycle and asof."""

from __future__ import annotations

from vanta.context import Ctx, Edge


def run(ctx: Ctx | None, edge: Edge) -> Ctx:
    cycle, asof, mem = edge.load()
    return Ctx(cycle=cycle, asof=asof, mem=mem, events=(("cycle_start", {"cycle": cycle}),))
