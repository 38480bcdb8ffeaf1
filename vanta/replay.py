"""`vanta replay`: run a recorded cycle again and compare every output byte.

The replay edge serves bundle N's recorded inputs (memory files before the cycle,
market snapshot, broker answers, asof) to the very stages a live cycle runs, and
compares what they produce with the bundle's recorded outputs. Nothing is written.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from vanta import bundle, cycle
from vanta.context import Ctx, Memory
from vanta.home import Home
from vanta.models import MEMORY_FILES, BrokerAnswers, Manifest, MarketSnapshot
from vanta.validate import parse

MAX_DIFF_LINES = 200


@dataclass
class ReplayResult:
    cycle: int
    mismatches: dict[str, str] = field(default_factory=dict)
    """output name -> unified diff (recorded vs replayed)."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches


class ReplayEdge:
    def __init__(self, home: Home, man: Manifest) -> None:
        self.home, self.man = home, man
        self.mismatches: dict[str, str] = {}

    def _blob(self, name: str) -> bytes:
        return bundle.get(self.home, self.man.inputs[name])

    def load(self) -> tuple[int, str, Memory]:
        raw = {n: self._blob(f"memory/{n}") for n in MEMORY_FILES}
        prefix = f"replays/cycles/{self.man.cycle:06d}.json:inputs/memory/"
        mem = cycle.memory_from_raw(raw, self.man.log_seq_before, self.man.log_head_before, prefix)
        return self.man.cycle, self.man.asof, mem

    def market(self, ctx: Ctx) -> MarketSnapshot:
        return parse(self._blob("market_snapshot.json"), MarketSnapshot, "market_snapshot.json")

    def execute(self, ctx: Ctx) -> BrokerAnswers:
        return parse(self._blob("broker_answers.json"), BrokerAnswers, "broker_answers.json")

    def commit(self, ctx: Ctx) -> None:
        for name, data in sorted(ctx.outputs.items()):
            key = name if name.endswith(".jsonl") else f"memory/{name}"
            want = self.man.outputs.get(key)
            if want is None:
                self.mismatches[key] = f"--- recorded\n+++ replayed\n(no recorded output named {key})\n"
            elif bundle.digest(data) != want:
                self.mismatches[key] = unified(bundle.get(self.home, want), data, key)
        for key in sorted(set(self.man.outputs) - {n if n.endswith(".jsonl") else f"memory/{n}" for n in ctx.outputs}):
            self.mismatches[key] = f"--- recorded\n+++ replayed\n(recorded output {key} was not produced)\n"


def unified(recorded: bytes, replayed: bytes, name: str) -> str:
    """A unified diff, trimmed to the differing region first (files can be large)."""
    a = recorded.decode("utf-8", "replace").splitlines(keepends=True)
    b = replayed.decode("utf-8", "replace").splitlines(keepends=True)
    lo = 0
    while lo < min(len(a), len(b)) and a[lo] == b[lo]:
        lo += 1
    hi = 0
    while hi < min(len(a), len(b)) - lo and a[-1 - hi] == b[-1 - hi]:
        hi += 1
    ctx_lo = max(0, lo - 3)
    a_mid, b_mid = a[ctx_lo:len(a) - max(0, hi - 3)], b[ctx_lo:len(b) - max(0, hi - 3)]
    lines = list(difflib.unified_diff(a_mid, b_mid, f"recorded/{name}", f"replayed/{name}", n=3))
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more diff lines\n"]
    text = "".join(lines)
    if ctx_lo:
        text = text.replace("@@ -", f"@@ (from line {ctx_lo + 1}) -", 1)
    return text or f"(bytes differ in {name}, but not line by line: check the final newline)\n"


def replay(home: Home, n: int, progress: cycle.Progress | None = None) -> ReplayResult:
    man = bundle.load_manifest(home, n)
    edge = ReplayEdge(home, man)
    _, timings = cycle.drive(edge, progress)
    return ReplayResult(cycle=n, mismatches=edge.mismatches, timings=timings)
