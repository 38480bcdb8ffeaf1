"""`vanta verify`: the trade log's hash chain, every bundle, and memory/ against the
last committed cycle. Problems are returned as values, each naming its file."""

from __future__ import annotations

import hashlib
from typing import Any

from vanta import bundle, canonical
from vanta.errors import InputError, StateError
from vanta.home import GENESIS, Home
from vanta.models import MEMORY_FILES
from vanta.replay import recorded_span
from vanta.stages.commit import seal


def check_log(raw: bytes) -> tuple[list[str], int, str]:
    """Recompute the chain. Returns (problems, lines, last hash)."""
    problems: list[str] = []
    head, seq = GENESIS, 0
    for n, line in enumerate(raw.split(b"\n")[:-1] if raw.endswith(b"\n") else raw.split(b"\n"), 1):
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
    if raw and not raw.endswith(b"\n"):
        problems.append("memory/trade_log.jsonl: last line is incomplete")
    return problems, seq, head


def verify(home: Home) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    log = home.log.read_bytes() if home.log.exists() else b""
    p, lines, head = check_log(log)
    problems += p
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
            for rel, span in sorted(man.appends.items()):
                if span.offset != ends.get(rel, 0):
                    problems.append(f"{name}: its {rel} lines start at byte {span.offset}, "
                                    f"the previous cycle's end at {ends.get(rel, 0)}")
                ends[rel] = span.offset + span.length
                recorded_span(home, rel, span)
        except (StateError, InputError) as e:
            problems.append(f"{name}: {e.message}")
            continue
        if man.log_head_before != prev_head:
            problems.append(f"{name}: log_head_before does not continue the previous cycle's log")
        prev_head, last = man.log_head_after, man
    if last is not None:
        for fname in MEMORY_FILES:
            path = home.memory / fname
            got = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
            if got != last.outputs[f"memory/{fname}"]:
                problems.append(f"memory/{fname}: differs from what cycle {last.cycle} committed "
                                "(edited outside vanta?)")
        if head != last.log_head_after:
            problems.append(f"memory/trade_log.jsonl: ends at {head[:12]}..., cycle {last.cycle} "
                            f"committed {last.log_head_after[:12]}...")
    return problems, {"log_lines": lines, "cycles": len(have), "log_head": head}
