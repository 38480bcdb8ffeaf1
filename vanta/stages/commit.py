"""Stage 12, commit: render every output as canonical bytes (pure), then hand them to
the edge, which commits them atomically with the replay bundle (or, in replay,
compares them with the recorded ones). The memory files go to the edge as soon as
they are rendered, and the trade log a chunk at a time as it is rendered (it is never
held whole), so the live edge writes them while the log is being rendered.

A file whose model no stage replaced keeps its bytes exactly, so vanta never
rewrites a file an operator wrote unless the cycle changed it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

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


def chain_to(sink: Callable[[bytes], None], events: Iterable[Event], cycle: int, asof: str, seq: int,
             head: str) -> tuple[int, int, str]:
    """Number and hash-chain events into trade_log.jsonl lines, handed to `sink` in
    chunks of about _CHUNK bytes as they are made. Returns (bytes made, last seq, last hash).

    Each line is sealed with the hash of its canonical form without `hash` (see `seal`).
    The log is never held whole: a 10k-follower cycle makes 60 MB of it.
    """
    out = bytearray()  # one reused chunk buffer: its pages are touched once, not once per MB of log
    made = 0
    # Sorted keys fix a line's layout: asof, cycle, data, [hash,] kind, prev, seq. Only `data` goes
    # through orjson; the rest is byte templates of what orjson writes for those values (a JSON
    # string, an int), so no envelope is dumped and no line is searched for where `hash` goes.
    # The body `seal` hashes is fed to sha256 in its three parts instead of being built.
    start = b'{"asof":%s,"cycle":%d,"data":' % (orjson.dumps(asof), cycle)
    kinds: dict[str, bytes] = {}  # kind -> its template `,"kind":"...","prev":"`
    dumps, sha256, opt, hook = orjson.dumps, hashlib.sha256, orjson.OPT_SORT_KEYS, canonical.default
    prev = orjson.dumps(head)[1:-1]  # the previous hash as JSON string text
    for kind, data in events:
        seq += 1
        after = kinds.get(kind)
        if after is None:
            after = kinds[kind] = b',"kind":%s,"prev":"' % orjson.dumps(kind)
        text = dumps(data, default=hook, option=opt)
        end = b'%s%s","seq":%d}' % (after, prev, seq)
        body = sha256(start)
        body.update(text)
        body.update(end)
        prev = body.hexdigest().encode()
        out += b'%s%s,"hash":"%s"%s\n' % (start, text, prev, end)
        if len(out) >= _CHUNK:
            sink(bytes(out))  # a copy: the buffer is reused
            made += len(out)
            out.clear()
    if out:
        sink(bytes(out))
        made += len(out)
    return made, seq, prev.decode()


def chain(events: Iterable[Event], cycle: int, asof: str, seq: int, head: str) -> tuple[bytes, int, str]:
    """`chain_to`, collected: (the lines, last seq, last hash). For a few lines."""
    parts: list[bytes] = []
    _, seq, head = chain_to(parts.append, events, cycle, asof, seq, head)
    return b"".join(parts), seq, head


_CHUNK = 1 << 20


def _bytes(model: Model, original: Model, raw: bytes) -> bytes:
    return raw if model is original else canonical.dumps_trusted(model)


def render_files(ctx: Ctx) -> dict[str, bytes]:
    """The memory files' canonical bytes."""
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
    return {name: _bytes(new, old, m.raw[name]) for name, (new, old) in pairs.items()}


def render(ctx: Ctx, files: Mapping[str, bytes], log_sink: Callable[[bytes], None],
           digests: Callable[[], Mapping[str, str]]) -> Ctx:
    """Every output: the memory files (`files`, rendered), the trade-log lines (the
    cycle's events, then `cycle_end` with the files' sha256 from `digests`, asked for
    once the events are rendered), streamed to `log_sink` as they are made, and the
    ledger lines."""
    m = ctx.mem
    length, seq, head = chain_to(log_sink, ctx.events, ctx.cycle, ctx.asof, m.log_seq, m.log_head)
    end: Event = ("cycle_end", {"memory": dict(digests())})
    tail, _, head = chain_to(log_sink, (end,), ctx.cycle, ctx.asof, seq, head)
    ledger = b"".join(canonical.dumps_line(e) for e in ctx.ledger)
    return replace(ctx, outputs={**files, "pnl_ledger.jsonl": ledger}, log_head=head, log_length=length + tail)


def run(ctx: Ctx, edge: Edge) -> Ctx:
    files = render_files(ctx)
    # The edge writes (or, in replay, compares) and hashes the files on its threads while the log is rendered.
    log_sink, digests = edge.rendered(ctx, files)
    ctx = render(ctx, files, log_sink, digests)
    edge.commit(ctx)
    return ctx
