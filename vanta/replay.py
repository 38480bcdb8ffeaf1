"""`vanta replay`: run a recorded cycle again and compare every output byte.

The replay edge serves bundle N's recorded inputs (memory files before the cycle,
market snapshot, broker answers, asof) to the very stages a live cycle runs, and
compares what they produce with the bundle's recorded outputs. Nothing is written.
"""

from __future__ import annotations

import difflib
import hashlib
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from vanta import bundle, cycle
from vanta.context import Ctx, Memory
from vanta.errors import StateError
from vanta.home import Home, settled
from vanta.models import MEMORY_FILES, BrokerAnswers, Manifest, MarketSnapshot, Span
from vanta.validate import parse

MAX_DIFF_LINES = 200


@dataclass
class ReplayResult:
    cycle: int
    mismatches: dict[str, str] = field(default_factory=dict)
    """output name -> unified diff (recorded vs replayed)."""
    timings: dict[str, float] = field(default_factory=dict)
    keep: Any = field(default=None, repr=False)
    """The final context, so a caller that exits at once never pays to free it."""

    @property
    def ok(self) -> bool:
        return not self.mismatches


class ReplayEdge:
    def __init__(self, home: Home, man: Manifest) -> None:
        self.home, self.man = home, man
        self.mismatches: dict[str, str] = {}
        self.log: _SpanCheck | None = None
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="vanta-check")
        """Hashes the rendered files and checks them against the recorded ones (zlib, sha256 and
        reads release the GIL) while the main thread renders the log; `close` waits for it."""
        self._log_order = ThreadPoolExecutor(1, thread_name_prefix="vanta-check-log")  # one thread: chunks in order
        self._log_chunks: list[Future[None]] = []
        self._same: dict[str, Future[bool]] = {}

    def _blob(self, name: str) -> bytes:
        return bundle.get(self.home, self.man.inputs[name])

    def load(self) -> tuple[int, str, Memory]:
        raw = {n: self._blob(f"memory/{n}") for n in MEMORY_FILES}
        prefix = f"replays/cycles/{self.man.cycle:06d}.json:inputs/memory/"
        # The recorded inputs are the bytes that cycle read and accepted, addressed by their sha256.
        mem = cycle.memory_from_raw(raw, self.man.log_seq_before, self.man.log_head_before, prefix, raw)
        return self.man.cycle, self.man.asof, mem

    def market(self, ctx: Ctx) -> MarketSnapshot:
        return parse(self._blob("market_snapshot.json"), MarketSnapshot, "market_snapshot.json", vouched=True)

    def rendered(self, ctx: Ctx, files: Mapping[str, bytes]) -> tuple[Callable[[bytes], None],
                                                                      Callable[[], dict[str, str]]]:
        # Each file the cycle changed is checked against its recorded object now, on the pool,
        # while the log is rendered; `commit` takes the answers. An unchanged one (the recorded
        # output is the input) was fetched and checked at load.
        for name, data in files.items():
            key = f"memory/{name}"
            sha = self.man.outputs.get(key)
            if sha is not None and self.man.inputs.get(key) != sha:
                self._same[key] = self.pool.submit(same_object, self.home, sha, data)
        digests = {n: self.pool.submit(bundle.digest, data) for n, data in files.items()}
        self.log = log = _SpanCheck(self.home, _LOG, self.man.appends.get(_LOG))

        def compare(chunk: bytes) -> None:
            self._log_chunks.append(self._log_order.submit(log, chunk))

        return compare, lambda: {n: d.result() for n, d in digests.items()}

    def execute(self, ctx: Ctx) -> BrokerAnswers:
        return parse(self._blob("broker_answers.json"), BrokerAnswers, "broker_answers.json", vouched=True)

    def commit(self, ctx: Ctx) -> None:
        produced = {f"memory/{n}": data for n, data in ctx.outputs.items()}
        # One recorded file at a time, and the appended lines streamed: holding every
        # recorded output next to the produced ones was a third of replay's peak memory.
        for key in sorted(self.man.outputs):
            # The recorded bytes themselves, not only their hash: a damaged object
            # fails here (bundle.get checks it) rather than passing. An output that is
            # also an input (an unchanged file) was fetched and checked at load.
            sha, data = self.man.outputs[key], produced.get(key)
            if key.startswith("memory/") and self.man.inputs.get(key) == sha:
                self._compare(key, ctx.mem.raw[key[len("memory/"):]], data)
            elif data is None or not self._same_object(key, sha, data):
                self._compare(key, bundle.get(self.home, sha), data)
        for chunk in self._log_chunks:
            chunk.result()  # the log's chunks are compared; a failed read raises here
        assert self.log is not None
        for key, span in sorted(self.man.appends.items()):
            check = self.log
            if key != _LOG:
                data = produced.get(key)
                if data is None:
                    self._compare(key, recorded_span(self.home, key, span), None)
                    continue
                check = _SpanCheck(self.home, key, span)
                check(data)
            if not check.finish():
                self._compare(key, recorded_span(self.home, key, span), check.replayed())
        if self.log.span is None:
            produced[_LOG] = self.log.replayed()
        for key in sorted(produced.keys() - self.man.outputs.keys() - self.man.appends.keys()):
            self.mismatches[key] = f"--- recorded/{key}\n+++ replayed/{key}\n(no recorded output)\n"
        self.mismatches = dict(sorted(self.mismatches.items()))

    def _same_object(self, key: str, sha: str, data: bytes) -> bool:
        checked = self._same.get(key)  # checked since `rendered` (any memory file the cycle changed)
        return checked.result() if checked is not None else same_object(self.home, sha, data)

    def close(self) -> None:
        """Wait for the background checks (a failed replay's too)."""
        self.pool.shutdown()
        self._log_order.shutdown()

    def _compare(self, key: str, recorded: bytes, produced: bytes | None) -> None:
        if produced is None:
            self.mismatches[key] = f"--- recorded/{key}\n+++ replayed/{key}\n(not produced)\n"
        elif recorded != produced:
            self.mismatches[key] = unified(recorded, produced, key)


def recorded_span(home: Home, rel: str, span: Span) -> bytes:
    """A cycle's lines of an append-only file, checked against the manifest."""
    with _open_span(home, rel, span) as fh:
        data = fh.read(span.length)
    if len(data) != span.length or bundle.digest(data) != span.sha256:
        raise _moved(rel, span)
    return data


_CHUNK = 1 << 20
_LOG = "memory/trade_log.jsonl"


class _SpanCheck:
    """The replayed lines of an append-only file, compared with the recorded span a chunk
    at a time as they are rendered (a 10k cycle appends 60 MB of log, never held whole).
    The replayed bytes are kept only from the first chunk that differs, for the diff."""

    def __init__(self, home: Home, rel: str, span: Span | None) -> None:
        self.home, self.rel, self.span = home, rel, span
        self.sha = hashlib.sha256()
        self.read = self.produced = 0
        self.same = span is not None
        self.kept: list[bytes] = []
        self.kept_from = 0
        self.fh: BinaryIO | None = None
        if span is not None:
            self.fh = _open_span(home, rel, span)  # closed by finish()

    def __call__(self, chunk: bytes) -> None:
        if self.same:
            if self._recorded(len(chunk)) == chunk:
                self.produced += len(chunk)
                return
            self.same, self.kept_from = False, self.produced
        self.kept.append(chunk)
        self.produced += len(chunk)

    def _recorded(self, n: int) -> bytes:
        assert self.fh is not None and self.span is not None
        data = self.fh.read(min(n, self.span.length - self.read))
        self.sha.update(data)
        self.read += len(data)
        return data

    def finish(self) -> bool:
        """Whether the replayed lines are the recorded ones; the rest of the recorded span
        is read and checked against the manifest first."""
        assert self.fh is not None and self.span is not None
        with self.fh:
            while self.read < self.span.length and self._recorded(_CHUNK):
                pass
        if self.read != self.span.length or self.sha.hexdigest() != self.span.sha256:
            raise _moved(self.rel, self.span)
        return self.same and self.produced == self.span.length

    def replayed(self) -> bytes:
        """Every replayed byte (the equal head read back from the recorded span)."""
        head = recorded_span(self.home, self.rel, self.span)[:self.kept_from] if self.span else b""
        return head + b"".join(self.kept)


def same_object(home: Home, sha: str, produced: bytes) -> bool:
    """Whether bundle object `sha` is intact and holds `produced`, inflated, hashed and
    compared a chunk at a time: zlib.decompress holds a 17 MB file twice while it joins
    its output, at replay's peak. On False, bundle.get says what is wrong, if anything."""
    sha256 = hashlib.sha256()
    same, done = True, 0
    try:
        for chunk in _inflated(bundle.object_path(home, sha).read_bytes()):
            sha256.update(chunk)
            # startswith at an offset is a memcmp; a memoryview slice compares byte by byte (1 ms/MB)
            same = same and produced.startswith(chunk, done)
            done += len(chunk)
    except (OSError, zlib.error):
        return False
    return same and done == len(produced) and sha256.hexdigest() == sha


def _inflated(packed: bytes) -> Iterator[bytes]:
    inflate = zlib.decompressobj()
    chunk = inflate.decompress(packed, _CHUNK)
    while chunk:
        yield chunk
        chunk = inflate.decompress(inflate.unconsumed_tail, _CHUNK)
    yield inflate.flush()
    if not inflate.eof:
        raise zlib.error("incomplete zlib data")


def _open_span(home: Home, rel: str, span: Span) -> BinaryIO:
    """The append-only file `rel`, at the start of a recorded span (gone: the span moved)."""
    try:
        fh = open(home.root / rel, "rb")  # the caller closes it
    except FileNotFoundError:
        raise _moved(rel, span) from None
    fh.seek(span.offset)
    return fh


def _moved(rel: str, span: Span) -> StateError:
    return StateError(f"{rel} no longer holds the lines recorded at bytes {span.offset}.."
                      f"{span.offset + span.length}; run `vanta verify` to see what changed")


def _range(start: int, stop: int) -> str:
    """A unified-diff range, as difflib writes it (1-based start, then length)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def unified(recorded: bytes, replayed: bytes, name: str, context: int = 3) -> str:
    """A unified diff with true line numbers. Only the region between the common
    head and tail is matched, so a one-line change in a large file stays cheap."""
    a = recorded.decode("utf-8", "replace").splitlines(keepends=True)
    b = replayed.decode("utf-8", "replace").splitlines(keepends=True)
    lo = 0
    while lo < min(len(a), len(b)) and a[lo] == b[lo]:
        lo += 1
    hi = 0
    while hi < min(len(a), len(b)) - lo and a[-1 - hi] == b[-1 - hi]:
        hi += 1
    start = max(0, lo - context)
    sa, sb = a[start:min(len(a), len(a) - hi + context)], b[start:min(len(b), len(b) - hi + context)]
    out = [f"--- recorded/{name}\n", f"+++ replayed/{name}\n"]
    for group in difflib.SequenceMatcher(None, sa, sb, autojunk=False).get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1 + start, i2 + start)} +{_range(j1 + start, j2 + start)} @@\n")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                out += [" " + line for line in sa[x1:x2]]
                continue
            out += ["-" + line for line in sa[x1:x2]]
            out += ["+" + line for line in sb[y1:y2]]
        if len(out) > MAX_DIFF_LINES:
            out = [*out[:MAX_DIFF_LINES], "... (diff cut short)\n"]
            break
    out = [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out]
    if len(out) == 2:
        out.append("(the bytes differ, but no line does: check encodings and the final newline)\n")
    return "".join(out)


def replay(home: Home, n: int, progress: cycle.Progress | None = None) -> ReplayResult:
    # Under the lock, after finishing an interrupted commit: a manifest in place before its
    # cycle's log lines are is half a commit, not a damaged home.
    with settled(home):
        man = bundle.load_manifest(home, n)
        edge = ReplayEdge(home, man)
        try:
            ctx, timings = cycle.drive(edge, progress)
        finally:
            edge.close()
    return ReplayResult(cycle=n, mismatches=edge.mismatches, timings=timings, keep=ctx)
