"""Admin commands' shared commit: changes to memory/ made between cycles (onboarding,
offboarding, pool requests).

Each reads memory/ as committed, refuses to run while a cycle is unfinished, and
commits its files through the journal together with one hash-chained trade-log line
of its kind, which carries the sha256 of every memory file after the change (so
`vanta verify` checks memory/ against it, as it does against a cycle's end).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from vanta import journal
from vanta.errors import StateError
from vanta.home import GENESIS, Home, digests, last_log_line, now_asof, vouched
from vanta.models import MEMORY_FILES, Model, PortfolioFile, RegistryFile, VaultFile
from vanta.stages.commit import chain
from vanta.validate import cross_check, parse_memory

LOG = "memory/trade_log.jsonl"


@dataclass
class Current:
    raw: dict[str, bytes]
    vault: VaultFile
    registry: RegistryFile
    portfolio: PortfolioFile
    models: dict[str, Model]


def read(home: Home) -> Current:
    """memory/ as committed, validated; refused while a cycle must finish first."""
    if home.inflight.exists():
        raise StateError("a cycle was interrupted after sending orders and must finish on the memory it "
                         "started from; run `vanta cycle` to finish it, then run this command again")
    raw = home.read_memory()
    models = parse_memory(raw, vouched(last_log_line(home.log), digests(raw)))
    cross_check(models)
    cur = Current(raw, models["vault.json"], models["mirror_registry.json"],  # type: ignore[arg-type]
                  models["portfolio.json"], models)  # type: ignore[arg-type]
    home.check_history(cur.portfolio.cycle)
    return cur


@dataclass(frozen=True)
class Stamp:
    """Where the admin line goes: its asof, and the log's last seq and hash."""

    asof: str
    seq: int
    head: str


def stamp(home: Home, asof: str | None) -> Stamp:
    """The admin line's asof (`asof`, else one clock reading), never before the log's last line."""
    last = last_log_line(home.log)
    when = asof or now_asof()
    if last is not None and when < last["asof"]:
        raise StateError(f"asof {when} is before the trade log's last line ({last['asof']}); "
                         "pass --asof at or after it")
    return Stamp(when, int(last["seq"]), str(last["hash"])) if last else Stamp(when, 0, GENESIS)


def commit(home: Home, cur: Current, files: dict[str, bytes], kind: str, data: dict[str, Any],
           at: Stamp) -> int:
    """Commit `files` (memory names) with their `kind` line; returns the line's seq."""
    after = {**cur.raw, **files}
    memory = {n: hashlib.sha256(after[n]).hexdigest() for n in MEMORY_FILES}
    line, seq, _ = chain(((kind, {**data, "memory": memory}),), cur.portfolio.cycle, at.asof, at.seq, at.head)
    journal.commit(home, {f"memory/{n}": b for n, b in files.items()}, {LOG: line})
    return seq
