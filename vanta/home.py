"""A vanta home: `memory/` (authoritative state), `replays/` (bundles), `broker/`
(the paper venue's own books) and `.vanta/` (lock, journal, in-flight record)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from vanta import canonical
from vanta.errors import LockedError, StateError
from vanta.models import LINE_FILES, MEMORY_FILES

GENESIS = "0" * 64


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def memory(self) -> Path:
        return self.root / "memory"

    @property
    def replays(self) -> Path:
        return self.root / "replays"

    @property
    def state(self) -> Path:
        return self.root / ".vanta"

    @property
    def journal(self) -> Path:
        return self.state / "journal.json"

    @property
    def inflight(self) -> Path:
        return self.state / "inflight.json"

    @property
    def log(self) -> Path:
        return self.memory / "trade_log.jsonl"

    def read_memory(self) -> dict[str, bytes]:
        out = {}
        for name in MEMORY_FILES:
            path = self.memory / name
            try:
                out[name] = path.read_bytes()
            except FileNotFoundError:
                raise StateError(f"memory/{name} is missing in {self.root}; restore it from git or "
                                 "start a new home with `vanta init DIR`") from None
        return out

    def check_history(self, cycles: int) -> None:
        """After `cycles` committed cycles the append-only files are there and the trade log
        has lines: vanta never starts a new hash chain, or ledger, under an old history."""
        if cycles == 0:
            return
        for name in LINE_FILES:
            path = self.memory / name
            gone = "missing" if not path.exists() else "empty" if name == "trade_log.jsonl" and \
                not path.stat().st_size else None
            if gone is not None:
                raise StateError(f"memory/{name} is {gone}, but {cycles} cycle(s) were committed in {self.root}; "
                                 f"restore it from git (git checkout memory/{name}) or from a backup")


def resolve(home: str | None) -> Home:
    """--home, else $VANTA_HOME, else the current directory; it must hold memory/."""
    root = Path(home or os.environ.get("VANTA_HOME") or ".").resolve()
    if not (root / "memory" / "vault.json").is_file():
        raise StateError(f"{root} is not a vanta home (no memory/vault.json); "
                         "pass --home DIR, set VANTA_HOME, or create one with `vanta init DIR`")
    return Home(root)


@contextmanager
def locked(home: Home) -> Iterator[None]:
    """Hold the home's lock, or fail at once: cron may start a cycle every minute."""
    home.state.mkdir(exist_ok=True)
    lock = FileLock(str(home.state / "lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(f"{home.root} is locked by another vanta process (a cycle is running); "
                          "this run exits and changes nothing — try again when it finishes") from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def settled(home: Home) -> Iterator[None]:
    """Read memory/ as committed: under the lock, after finishing an interrupted commit.

    A commit that crashed mid-way leaves a journal and files half renamed; readers
    must see the state the journal commits, never the mix."""
    from vanta.journal import recover  # journal imports this module

    with locked(home):
        recover(home)
        yield


def last_log_line(path: Path) -> dict[str, Any] | None:
    """The last trade-log line, read from the end of the file; None for an empty log."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        chunk = 1 << 16
        while True:
            start = max(0, size - chunk)
            fh.seek(start)
            lines = fh.read(size - start).rstrip(b"\n").rsplit(b"\n", 1)
            if len(lines) == 2 or start == 0:
                line: dict[str, Any] = canonical.loads(lines[-1], "memory/trade_log.jsonl")
                return line
            chunk *= 4


def vouched(last: dict[str, Any] | None, digests: Mapping[str, str]) -> frozenset[str]:
    """The memory files whose bytes are exactly what the last committed change (a cycle,
    or an admin command) recorded in `last`, the trade log's last line: vanta rendered
    them, so they need not be read as a stranger's file (see `canonical.loads_for_model`)."""
    data = last.get("data") if last else None
    recorded = data.get("memory") if isinstance(data, dict) else None
    if not isinstance(recorded, dict):
        return frozenset()
    return frozenset(n for n, d in digests.items() if recorded.get(n) == d)


def digests(raw: Mapping[str, bytes]) -> dict[str, str]:
    """sha256 of each file, by name, in name order."""
    return {name: hashlib.sha256(raw[name]).hexdigest() for name in sorted(raw)}


def chain_end(last: dict[str, Any] | None) -> tuple[int, str]:
    """(seq, hash) of the trade log's last line (`last_log_line`); (0, GENESIS) for none."""
    return (0, GENESIS) if last is None else (int(last["seq"]), str(last["hash"]))


ASOF_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now_asof() -> str:
    """The one clock reading of a command (a cycle without --asof, an admin command)."""
    return datetime.now(UTC).strftime(ASOF_FORMAT)


def asof_seconds(asof: str) -> int:
    """Seconds since the Unix epoch of an asof (a UTC instant, 2026-11-21T00:00:00Z)."""
    return int(datetime.strptime(asof, ASOF_FORMAT).replace(tzinfo=UTC).timestamp())


assert set(LINE_FILES) == {"trade_log.jsonl", "pnl_ledger.jsonl"}
