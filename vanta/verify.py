"""`vanta verify`: the trade log's hash chain, every bundle, and memory/ against the
last committed cycle. Problems are returned as values, each naming its file."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from vanta import bundle, canonical
from vanta.errors import InputError, StateError
from vanta.home import GENESIS, Home, last_log_line
from vanta.models import MEMORY_FILES, Manifest
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


Progress = Callable[[str], None]
"""Told how far a long check has come (the CLI prints it on stderr, at most once a second)."""
_PROGRESS_EVERY = 16 << 20


def check_log(source: bytes | BinaryIO, admin: dict[int, AdminLine] | None = None,
              progress: Progress | None = None) -> tuple[list[str], int, str]:
    """Recompute the chain of the log in `source` (its bytes, or a file open for reading,
    read a line at a time: a year of a large home's log is far larger than memory).
    Returns (problems, lines, last hash). With `admin`, also collects the admin lines
    (by their starting byte offset)."""
    problems: list[str] = []
    head, seq = GENESIS, 0
    start = 0
    torn = False
    told = _PROGRESS_EVERY
    for n, line in enumerate(io.BytesIO(source) if isinstance(source, bytes) else source, 1):
        size = len(line)
        if line.endswith(b"\n"):
            line = line[:-1]
        else:
            torn = True  # only the last line can end without one
        where = f"memory/trade_log.jsonl:line {n}"
        try:
            # orjson is safe here: the line must also equal its canonical form rendered
            # again below, so a float, a big integer or a repeated key cannot pass.
            rec = orjson.loads(line)
            h = rec.pop("hash")
        except (orjson.JSONDecodeError, KeyError, AttributeError, TypeError):
            problems.append(f"{where}: not a log line")
            break
        try:
            body = canonical.dumps_line(rec)[:-1]
        except TypeError:  # a float or an integer beyond 2**53: vanta never writes them
            problems.append(f"{where}: not in canonical form (a number vanta does not write)")
            break
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
            admin[start] = AdminLine(start + size, seq, h, memory if isinstance(memory, dict) else {})
        start += size
        if progress is not None and start >= told:
            progress(f"trade log: {start >> 20} MB, {n} lines checked")
            told = start + _PROGRESS_EVERY
    if torn:
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


def _check_appends(home: Home, name: str, man: Manifest, admin: dict[int, AdminLine], ends: dict[str, int],
                   problems: list[str]) -> AdminLine | None:
    """The cycle's appended lines follow the previous cycle's (and the admin lines between) and
    are still in place. Returns the last admin line before its log lines, if any. A failure
    here leaves the cycle standing: memory/ is still checked against it, not an older one."""
    gap = None
    for rel, span in sorted(man.appends.items()):
        if rel == "memory/trade_log.jsonl":
            # Admin commands may have logged changes since the previous cycle.
            ends[rel], gap = _skip_admin(admin, ends.get(rel, 0), span.offset)
        if span.offset != ends.get(rel, 0):
            problems.append(f"{name}: its {rel} lines start at byte {span.offset}, "
                            f"the previous cycle's end at {ends.get(rel, 0)}")
        ends[rel] = span.offset + span.length
        try:
            recorded_span(home, rel, span)
        except (StateError, InputError) as e:
            problems.append(f"{name}: {e.message}")
    return gap


def _logged_cycle(home: Home) -> int:
    """The last cycle the trade log records (its last line's), 0 for none."""
    line = last_log_line(home.log)
    cycle = line.get("cycle") if line else 0
    return cycle if isinstance(cycle, int) else 0


def verify(home: Home, progress: Progress | None = None) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    admin: dict[int, AdminLine] = {}
    if home.log.exists():
        with open(home.log, "rb") as fh:
            p, lines, head = check_log(fh, admin, progress)
            log_size = fh.seek(0, io.SEEK_END)
    else:
        p, lines, head, log_size = [], 0, GENESIS, 0
    problems += p
    log_rel = "memory/trade_log.jsonl"
    have = bundle.cycles(home)
    prev_head = GENESIS
    ends: dict[str, int] = {}
    last = None
    unread = False  # the previous manifest is unreadable: where this cycle's lines start is unknown
    for i, n in enumerate(have, 1):
        if progress is not None:
            progress(f"replay bundles: {i - 1} of {len(have)} checked")
        name = f"replays/cycles/{n:06d}.json"
        if n != i:
            problems.append(f"{name}: expected cycle {i} here (bundles must be contiguous from 1)")
        try:
            man = bundle.load_manifest(home, n)
        except (StateError, InputError) as e:
            problems.append(f"{name}: {e.message}")
            last, unread = None, True  # what memory/ should be is unknown: not compared with an older cycle
            continue
        # A damaged object is this bundle's problem: its manifest still says what the cycle
        # committed, for the cycles after it and for memory/.
        for sha in sorted({*man.inputs.values(), *man.outputs.values()}):
            try:
                bundle.get(home, sha)
            except StateError as e:
                problems.append(f"{name}: {e.message}")
        if unread:
            ends.update((rel, span.offset) for rel, span in man.appends.items())
        gap = _check_appends(home, name, man, admin, ends, problems)
        if not unread and man.log_head_before != (gap.hash if gap else prev_head):
            problems.append(f"{name}: log_head_before does not continue the previous cycle's log")
        prev_head, last, unread = man.log_head_after, man, False
    logged = _logged_cycle(home) if not p else 0
    lost = logged > (have[-1] if have else 0)  # then memory/ has no bundle to be checked against
    if lost:
        problems.append(f"replays/cycles/{logged:06d}.json: missing, but the trade log records cycle {logged}; "
                        "restore replays/ from git or a backup")
    # Memory as last committed: by the admin lines after the last cycle, if any.
    tail_end, tail = _skip_admin(admin, ends.get(log_rel, 0), log_size)
    if tail is not None and tail_end == log_size:
        problems += _check_memory(home, tail.memory, f"the registry update at trade log line {tail.seq}")
    elif last is not None and not lost:
        problems += _check_memory(home, {n: last.outputs[f"memory/{n}"] for n in MEMORY_FILES}, f"cycle {last.cycle}")
        if head != last.log_head_after:
            problems.append(f"memory/trade_log.jsonl: ends at {head[:12]}..., cycle {last.cycle} "
                            f"committed {last.log_head_after[:12]}...")
    return problems, {"log_lines": lines, "cycles": len(have), "log_head": head}
