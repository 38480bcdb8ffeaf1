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


# ------------------------------------------------------------------ I/O errors


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for sub in ("memory", "broker", "replays")
            for p in sorted((root / sub).rglob("*")) if p.is_file() and "objects" not in p.parts}


def _failing_at(k: int, real: Callable[..., Any]) -> Callable[..., Any]:
    """`real`, but its k-th call fails as on a full disk."""
    import errno

    calls = [0]

    def call(*a: Any, **kw: Any) -> Any:
        calls[0] += 1
        if calls[0] == k:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*a, **kw)

    return call


@pytest.mark.parametrize("call", ["fsync", "replace"])
def test_a_disk_error_at_any_write_leaves_old_or_new_and_the_rerun_the_same_bytes(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str) -> None:
    """ENOSPC (a full disk) at the k-th fsync or rename of a cycle, for every k: the cycle
    fails, memory/ is its old state or (past the commit point) rolls forward to the new one,
    and finishing it gives the bytes of a cycle that never failed."""
    import errno
    import shutil

    for n in (1, 2, 3):
        run_cycle(Home(root), f"2026-11-0{n}T00:00:00Z")
    ref = tmp_path / "ref"
    shutil.copytree(root, ref)
    run_cycle(Home(ref), "2026-11-04T00:00:00Z")
    old, new = _tree(root), _tree(ref)
    real = getattr(os, call)
    k = 0
    while True:
        k += 1
        home = tmp_path / f"k{k}"
        shutil.copytree(root, home)
        monkeypatch.setattr(os, call, _failing_at(k, real))
        try:
            run_cycle(Home(home), "2026-11-04T00:00:00Z")
        except OSError as e:
            assert e.errno == errno.ENOSPC
        else:
            assert k > 5, f"a cycle makes only {k - 1} {call} calls?"
            break
        finally:
            monkeypatch.setattr(os, call, real)
        mem = {n: b for n, b in _tree(home).items() if n.startswith("memory/")}
        if not (home / ".vanta" / "journal.json").exists():
            assert mem in ({n: b for n, b in old.items() if n.startswith("memory/")},
                           {n: b for n, b in new.items() if n.startswith("memory/")}), f"{call} #{k}: a mix"
        journal.recover(Home(home))
        if _tree(home) != new:
            run_cycle(Home(home), "2026-11-04T00:00:00Z")  # finishes the interrupted cycle, or runs it again
        assert _tree(home) == new, f"ENOSPC at {call} #{k}: finishing the cycle gave other bytes"
        shutil.rmtree(home)
