"""`vanta verify`: the trade log's hash chain, every bundle, and memory/ against the
last committed cycle. Problems are returned as values, each naming its file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from vanta import bundle, canonical
from vanta.errors import InputError, StateError
from vanta.home import GENESIS, Home
from vanta.models import MEMORY_FILES
from vanta.replay import recorded_span
from vanta.stages.commit import seal

ADMIN_KINDS = ("registry_update", "pool_request")
"""Log lines written between cycles by admin commands (`vanta onboard`, `vanta offboard`)."""


@dataclass(frozen=True)
class AdminLine:
    end: int
    """Byte offset just past the line."""
    seq: int
    hash: str
    memory: dict[str, str]
    """sha256 of each memory file after the change."""


def check_log(raw: bytes, admin: dict[int, AdminLine] | None = None) -> tuple[list[str], int, str]:
    """Recompute the chain. Returns (problems, lines, last hash). With `admin`, also
    collects the admin lines (by their starting byte offset)."""
    problems: list[str] = []
    head, seq = GENESIS, 0
    start = 0
    lines = raw.split(b"\n")[:-1] if raw.endswith(b"\n") else raw.split(b"\n") if raw else []  # empty: a new home
    for n, line in enumerate(lines, 1):
        where = f"memory/trade_log.jsonl:line {n}"
        try:
            rec = canonical.loads(line, "memory/trade_log.jsonl")
            h = rec.pop("hash")
        except (InputError, KeyError, AttributeError):
            problems.append(f"{where}: not a log line")
            break
        body = canonical.dumps_line(rec)[:-1]
        if rec.get("prev") != head:
            problems.append(f"{where}: prev is {rec.get('prev')}, expected {head} (chain broken)")
            break
        if rec.get("seq") != seq + 1:
            problems.append(f"{where}: seq is {rec.get('seq')}, expected {seq + 1}")
            break
        sealed, want = seal(body)
        if want != h:
            problems.append(f"{where}: hash does not match the line's content (line edited)")
            break
        if sealed[:-1] != line:
            problems.append(f"{where}: not in canonical form (edited without changing its meaning)")
            break
        head, seq = h, seq + 1
        if admin is not None and rec.get("kind") in ADMIN_KINDS:
            memory = rec.get("data", {}).get("memory") if isinstance(rec.get("data"), dict) else None
            admin[start] = AdminLine(start + len(line) + 1, seq, h, memory if isinstance(memory, dict) else {})
        start += len(line) + 1
    if raw and not raw.endswith(b"\n"):
        problems.append("memory/trade_log.jsonl: last line is incomplete")
    return problems, seq, head


def _skip_admin(admin: dict[int, AdminLine], start: int, stop: int) -> tuple[int, AdminLine | None]:
    """Walk the admin lines that follow byte `start`, up to `stop` at most.
    Returns (where the walk ended, the last admin line passed)."""
    last = None
    while start < stop and start in admin:
        last = admin[start]
        start = last.end
    return start, last


def _check_memory(home: Home, want: dict[str, str], who: str) -> list[str]:
    problems = []
    for fname in MEMORY_FILES:
        path = home.memory / fname
        got = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
        if got != want.get(fname):
            problems.append(f"memory/{fname}: differs from what {who} committed (edited outside vanta?)")
    return problems


def verify(home: Home) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    log = home.log.read_bytes() if home.log.exists() else b""
    admin: dict[int, AdminLine] = {}
    p, lines, head = check_log(log, admin)
    problems += p
    log_rel = "memory/trade_log.jsonl"
    have = bundle.cycles(home)
    prev_head = GENESIS
    ends: dict[str, int] = {}
    last = None
    for i, n in enumerate(have, 1):
        name = f"replays/cycles/{n:06d}.json"
        if n != i:
            problems.append(f"{name}: expected cycle {i} here (bundles must be contiguous from 1)")
        try:
            man = bundle.load_manifest(home, n)
            for sha in sorted({*man.inputs.values(), *man.outputs.values()}):
                bundle.get(home, sha)
            gap: AdminLine | None = None
            for rel, span in sorted(man.appends.items()):
                if rel == log_rel:
                    # Admin commands may have logged changes since the previous cycle.
                    ends[rel], gap = _skip_admin(admin, ends.get(rel, 0), span.offset)
                if span.offset != ends.get(rel, 0):
                    problems.append(f"{name}: its {rel} lines start at byte {span.offset}, "
                                    f"the previous cycle's end at {ends.get(rel, 0)}")
                ends[rel] = span.offset + span.length
                recorded_span(home, rel, span)
        except (StateError, InputError) as e:
            problems.append(f"{name}: {e.message}")
            continue
        if man.log_head_before != (gap.hash if gap else prev_head):
            problems.append(f"{name}: log_head_before does not continue the previous cycle's log")
        prev_head, last = man.log_head_after, man
    # Memory as last committed: by the admin lines after the last cycle, if any.
    tail_end, tail = _skip_admin(admin, ends.get(log_rel, 0), len(log))
    if tail is not None and tail_end == len(log):
        problems += _check_memory(home, tail.memory, f"the registry update at trade log line {tail.seq}")
    elif last is not None:
        problems += _check_memory(home, {n: last.outputs[f"memory/{n}"] for n in MEMORY_FILES}, f"cycle {last.cycle}")
        if head != last.log_head_after:
            problems.append(f"memory/trade_log.jsonl: ends at {head[:12]}..., cycle {last.cycle} "
                            f"committed {last.log_head_after[:12]}...")
    return problems, {"log_lines": lines, "cycles": len(have), "log_head": head}
