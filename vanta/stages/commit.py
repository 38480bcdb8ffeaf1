"""Stage 12, commit: render every output as canonical bytes (pure), then hand them to
the edge, which commits them atomically with the replay bundle (or, in replay,
compares them with the recorded ones).

A file whose model no stage replaced keeps its bytes exactly, so vanta never
rewrites a file an operator wrote unless the cycle changed it.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import orjson

from vanta import canonical
from vanta.context import Ctx, Edge, Event
from vanta.models import Model


def seal(body: bytes) -> tuple[bytes, str]:
    """A trade-log line from its canonical form without `hash`: (line with newline, hash).

    The hash is the sha256 of `body`; it goes in where sorted keys put it, between
    `data` and `kind` (nothing after `kind` can contain `,"kind":`)."""
    head = hashlib.sha256(body).hexdigest()
    cut = body.rfind(b',"kind":')
    return b'%s,"hash":"%s"%s\n' % (body[:cut], head.encode(), body[cut:]), head


def chain(events: tuple[Event, ...], cycle: int, asof: str, seq: int, head: str) -> tuple[bytes, int, str]:
    """Number and hash-chain events into trade_log.jsonl lines.

    Each line is sealed with the hash of its canonical form without `hash` (see
    `seal`). Returns (bytes, last seq, last hash).
    """
    out = bytearray()  # one growing buffer: a list of lines and their join would hold the log twice
    for kind, data in events:
        seq += 1
        body = orjson.dumps({"asof": asof, "cycle": cycle, "data": data, "kind": kind, "prev": head, "seq": seq},
                            default=canonical.default, option=orjson.OPT_SORT_KEYS)
        line, head = seal(body)
        out += line
    return out, seq, head  # type: ignore[return-value]  # bytes-like, not copied: the log can be 50 MB


def _bytes(model: Model, original: Model, raw: bytes) -> bytes:
    return raw if model is original else canonical.dumps_trusted(model)


def render(ctx: Ctx) -> Ctx:
    m = ctx.mem
    assert ctx.overlay and ctx.conviction and ctx.allocation and ctx.portfolio and ctx.pnl and ctx.queue
    pairs: dict[str, tuple[Model, Model]] = {
        "vault.json": (m.vault, m.vault),
        "vault_overlay.json": (ctx.overlay, m.overlay),
        "conviction_score.json": (ctx.conviction, m.conviction),
        "vault_allocation.json": (ctx.allocation, m.allocation),
        "mirror_registry.json": (m.registry, m.registry),
        "portfolio.json": (ctx.portfolio, m.portfolio),
        "pnl_summary.json": (ctx.pnl, m.pnl),
        "autotrade_queue.json": (ctx.queue, m.queue),
    }
    files = {name: _bytes(new, old, m.raw[name]) for name, (new, old) in pairs.items()}
    end: Event = ("cycle_end", {"memory": {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}})
    log, _, head = chain((*ctx.events, end), ctx.cycle, ctx.asof, m.log_seq, m.log_head)
    ledger = b"".join(canonical.dumps_line(e) for e in ctx.ledger)
    outputs: dict[str, Any] = {**files, "trade_log.jsonl": log, "pnl_ledger.jsonl": ledger}
    return replace(ctx, outputs=outputs, log_head=head)


def run(ctx: Ctx, edge: Edge) -> Ctx:
    ctx = render(ctx)
    edge.commit(ctx)
    return ctx
