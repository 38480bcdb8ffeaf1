"""Durability across a power loss, not only a killed process.

After a power loss a file keeps the bytes fsynced into it, but a new name in a folder (a
rename, a created file or folder) only once that folder itself was fsynced after it. The
journal's promises lean on names: the in-flight record must be on disk before the broker
is called (else a restarted cycle does not know orders went out and sends them as new),
and every replay object and staged file the journal names must be on disk at the commit
point (else a committed cycle refers to objects that are gone).

The test runs real cycles in this process over a model of the disk: every rename, mkdir
and created file is "pending" until its folder is fsynced, and the pending names are
checked where the protocol needs them durable.
"""

from __future__ import annotations

import builtins
import io
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vanta import faults, init, journal
from vanta.cycle import run_cycle
from vanta.home import Home
from vanta.onboard import offboard


class Disk:
    """Names written but not yet durable (their folder not fsynced since)."""

    def __init__(self) -> None:
        self.pending: dict[str, str] = {}
        self.dir_fds: dict[int, str] = {}
        self.lock = threading.Lock()

    def add(self, path: Any, how: str) -> None:
        with self.lock:
            self.pending[os.path.abspath(os.fspath(path))] = how

    def renamed(self, src: Any, dst: Any) -> None:
        with self.lock:
            self.pending.pop(os.path.abspath(os.fspath(src)), None)
            self.pending[os.path.abspath(os.fspath(dst))] = "rename"

    def removed(self, path: Any) -> None:
        with self.lock:
            self.pending[os.path.abspath(os.fspath(path))] = "unlink"

    def synced(self, folder: str) -> None:
        with self.lock:
            for p in [p for p in self.pending if os.path.dirname(p) == folder]:
                del self.pending[p]

    def lost(self, root: Path) -> dict[str, str]:
        """What a power loss now could take back, under `root` (the lock file and stray
        temporary files carry nothing)."""
        base = str(root.resolve())
        with self.lock:
            return {os.path.relpath(p, base): how for p, how in self.pending.items()
                    if p.startswith(base + os.sep) and not p.endswith((".tmp", os.sep + "lock"))}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A new example home (written before the disk is watched): its first cycle makes
    replays/, broker/ and .vanta/ and starts the fee ledger."""
    home = tmp_path / "home"
    init.write_home(home, init.example_files(), False)
    return home


@pytest.fixture
def disk(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Disk]:
    d = Disk()
    real_replace, real_mkdir, real_open, real_os_open = os.replace, os.mkdir, builtins.open, os.open
    real_fsync, real_unlink = os.fsync, os.unlink

    def unlink(path: Any, *a: Any, **kw: Any) -> None:
        real_unlink(path, *a, **kw)
        d.removed(path)

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        real_replace(src, dst, **kw)
        d.renamed(src, dst)

    def mkdir(path: Any, *a: Any, **kw: Any) -> None:
        real_mkdir(path, *a, **kw)
        d.add(path, "mkdir")

    def open_(file: Any, mode: str = "r", *a: Any, **kw: Any) -> Any:
        new = isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax") and not os.path.exists(file)
        fh = real_open(file, mode, *a, **kw)
        if new:
            d.add(file, "create")
        return fh

    def os_open(path: Any, flags: int, *a: Any, **kw: Any) -> int:
        new = bool(flags & os.O_CREAT) and not os.path.exists(path)
        fd = real_os_open(path, flags, *a, **kw)
        if new:
            d.add(path, "create")
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            d.dir_fds[fd] = os.path.abspath(os.fspath(path))
        return fd

    def fsync(fd: Any) -> None:
        real_fsync(fd)
        fileno = fd if isinstance(fd, int) else fd.fileno()
        if fileno in d.dir_fds and stat.S_ISDIR(os.fstat(fileno).st_mode):
            d.synced(d.dir_fds[fileno])

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "unlink", unlink)
    yield d


def _checks(monkeypatch: pytest.MonkeyPatch, needs: dict[str, Callable[[], None]]) -> None:
    real = faults.point

    def point(name: str) -> None:
        if name in needs:
            needs[name]()
        real(name)

    monkeypatch.setattr(faults, "point", point)


def test_what_a_cycle_relies_on_is_durable_when_it_relies_on_it(
        root: Path, disk: Disk, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def before_broker() -> None:
        seen.append("inflight_written")
        lost = disk.lost(root)
        assert not lost, f"the broker is called while a power loss could still take back {lost}"

    def at_commit_point() -> None:
        seen.append("after_journal")
        lost = disk.lost(root)
        assert not lost, f"committed (the journal is on disk) while a power loss could take back {lost}"

    def before_journal_removed() -> None:
        # A power loss that kept the journal's removal but not the in-flight record's would
        # leave a record of a committed cycle, refused as "memory/ has changed since".
        seen.append("before_journal_removed")
        lost = disk.lost(root)
        assert ".vanta/inflight.json" not in lost, f"the journal goes while a power loss could take back {lost}"

    _checks(monkeypatch, {"inflight_written": before_broker, "after_journal": at_commit_point,
                          "before_journal_removed": before_journal_removed})
    for n in (1, 2):
        run_cycle(Home(root), f"2026-11-0{n}T00:00:00Z")
        lost = disk.lost(root)
        assert not lost, f"cycle {n} ended while a power loss could still take back {lost}"
    assert seen == ["inflight_written", "after_journal", "before_journal_removed"] * 2


def test_an_admin_commit_is_durable_when_it_returns(root: Path, disk: Disk) -> None:
    offboard(Home(root), "F_1042", "2026-11-01T00:00:00Z")  # the first commit of the home: .vanta/ is new
    lost = disk.lost(root)
    assert not lost, f"offboard returned while a power loss could still take back {lost}"


def test_the_disk_model_sees_a_rename_left_unsynced(tmp_path: Path, disk: Disk) -> None:
    """The model itself: a rename is pending until its folder is fsynced, then durable."""
    (tmp_path / "a").write_bytes(b"x")
    os.replace(tmp_path / "a", tmp_path / "b")
    assert disk.lost(tmp_path) == {"b": "rename"}
    journal.fsync_dir(tmp_path)
    assert disk.lost(tmp_path) == {}
