"""The multi-file atomic commit.

commit(): write every new file into .vanta/staging and fsync it; write the journal
(the list of targets, staged names and hashes, and for append-only files the size
before the append) to a temporary name, fsync, and rename it into place: from that
rename on, the commit has happened. Then roll forward: rename each staged file over
its target, truncate each append-only file to its recorded size and append, fsync
the directories, remove the in-flight record and the journal.

recover() at start: a journal is rolled forward again (every step is idempotent);
staging without a journal is an unfinished commit and is discarded, leaving the
old state.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vanta import canonical, faults
from vanta.errors import StateError
from vanta.home import Home


def fsync_dir(path: Path) -> None:
    """Make the names in folder `path` durable: after a power loss a rename, a created file
    or folder is there only if its folder was fsynced after it (its bytes need their own)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """Create folder `path` and its missing parents, each one durable in its parent."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        fsync_dir(d.parent)


def write_durable(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write `data` to `path` atomically (temporary file, fsync, rename), and fsync its
    folder so the rename survives a power loss (`sync_dir=False`: the caller does it once
    for many files)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)


def size_of(path: Path) -> int:
    """Bytes in `path`; 0 if it does not exist (an append-only file before its first line)."""
    return path.stat().st_size if path.exists() else 0


def _stage(path: Path, data: bytes) -> str:
    write_durable(path, data, sync_dir=False)  # the staging folder is fsynced once, before the journal
    return hashlib.sha256(data).hexdigest()


class Staging:
    """One commit being staged. Each file given is written (fsync) and hashed at once,
    on `pool`'s threads if given (writes, fsync and sha256 release the GIL), so a large
    file is on its way to disk while the caller renders the rest. `commit` waits for
    all of them: nothing is journaled before every staged byte is durable."""

    def __init__(self, home: Home, pool: Executor | None = None) -> None:
        self.home, self.pool = home, pool
        self.dir = home.state / "staging"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.files: list[tuple[str, str, Future[str]]] = []
        self.appends: list[tuple[str, str, int, Future[str]]] = []

    def _write(self, name: str, data: bytes) -> Future[str]:
        if self.pool is not None:
            return self.pool.submit(_stage, self.dir / name, data)
        done: Future[str] = Future()
        done.set_result(_stage(self.dir / name, data))
        return done

    def file(self, rel: str, data: bytes) -> None:
        """Replace `rel` (relative to the home) with `data`."""
        name = f"f{len(self.files):03d}"
        self.files.append((rel, name, self._write(name, data)))

    def append(self, rel: str, data: bytes) -> Future[str]:
        """Extend `rel` with `data`. Returns the sha256 of `data` (once staged)."""
        name = f"a{len(self.appends):03d}"
        sha = self._write(name, data)
        self.appends.append((rel, name, size_of(self.home.root / rel), sha))
        return sha

    def stream(self, rel: str) -> Stream:
        """Extend `rel` with bytes given chunk by chunk (`Stream.write`), written in order on
        a thread of their own while the caller renders the rest; `Stream.close` ends it."""
        return Stream(self, rel, f"a{len(self.appends):03d}", size_of(self.home.root / rel))

    def commit(self) -> None:
        entries, extend = [], []
        for rel, name, sha in sorted(self.files):
            entries.append({"target": rel, "staged": name, "sha256": sha.result()})
            faults.point("staged_file")
        for rel, name, offset, sha in sorted(self.appends):
            extend.append({"target": rel, "staged": name, "offset": offset, "sha256": sha.result()})
        home = self.home
        fsync_dir(self.dir)
        faults.point("before_journal")
        write_durable(home.journal, canonical.dumps({"files": entries, "appends": extend}))  # the commit point
        faults.point("after_journal")
        roll_forward(home)


class Stream:
    """A staged append written chunk by chunk (see `Staging.stream`)."""

    def __init__(self, staging: Staging, rel: str, name: str, offset: int) -> None:
        self.staging, self.rel, self.name, self.offset = staging, rel, name, offset
        self.length = 0
        self._fh = open(staging.dir / name, "wb")  # closed by close(), on the writer thread
        self._sha = hashlib.sha256()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="vanta-stage")  # one thread: chunks stay in order
        self._failed: Exception | None = None

    def write(self, chunk: bytes) -> None:
        self.length += len(chunk)
        self._writer.submit(self._write, chunk)

    def _write(self, chunk: bytes) -> None:
        if self._failed is None:
            try:
                self._fh.write(chunk)
                self._sha.update(chunk)
            except Exception as e:  # noqa: BLE001 - kept for close(): a lost chunk must fail the commit
                self._failed = e

    def _close(self) -> str:
        if self._failed is not None:
            raise self._failed
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        return self._sha.hexdigest()

    def close(self) -> Future[str]:
        """The append is complete: returns the sha256 of all its bytes, once durable."""
        sha = self._writer.submit(self._close)
        self._writer.shutdown(wait=False)
        self.staging.appends.append((self.rel, self.name, self.offset, sha))
        return sha

    def abandon(self) -> None:
        """An unfinished commit: wait for the chunks in flight and close the file."""
        self._writer.shutdown(wait=True)
        self._fh.close()


def commit(home: Home, files: Mapping[str, bytes], appends: Mapping[str, bytes]) -> None:
    """Atomically replace `files` and extend `appends` (paths relative to the home)."""
    staging = Staging(home)
    for rel, data in sorted(files.items()):
        staging.file(rel, data)
    for rel, data in sorted(appends.items()):
        staging.append(rel, data)
    staging.commit()


def roll_forward(home: Home) -> None:
    staging = home.state / "staging"
    try:
        plan = canonical.loads(home.journal.read_bytes(), str(home.journal))
    except Exception as e:  # noqa: BLE001 - the journal is written by rename; this is disk damage
        raise StateError(f"{home.journal} is unreadable ({e}); restore the home from a backup") from None
    _check_plan(home, plan)  # before anything moves
    dirs = set()
    for f in plan["files"]:
        target, staged = home.root / f["target"], staging / f["staged"]
        if staged.exists():  # else renamed before the crash (checked)
            make_dirs(target.parent)
            os.replace(staged, target)
            dirs.add(target.parent)
            faults.point("renamed_file")
    for a in plan["appends"]:
        target = home.root / a["target"]
        dirs.add(target.parent)  # the file may be new
        fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            os.ftruncate(fd, a["offset"])
            with open(staging / a["staged"], "rb") as src:
                _copy(src.fileno(), fd, a["offset"])
            os.fsync(fd)
        finally:
            os.close(fd)
        faults.point("appended")
    for d in sorted(dirs):
        fsync_dir(d)
    if home.inflight.exists():
        home.inflight.unlink()
        fsync_dir(home.state)  # gone for good before the journal goes: never a record of a committed cycle
    faults.point("before_journal_removed")
    home.journal.unlink()
    fsync_dir(home.state)
    shutil.rmtree(staging, ignore_errors=True)


def _check_plan(home: Home, plan: dict[str, Any]) -> None:
    """What the roll-forward needs is there: each file staged, or in place already; each
    append staged, its target at least as long as when the journal was written."""
    staging = home.state / "staging"
    for f in plan["files"]:
        target = home.root / f["target"]
        if not (staging / f["staged"]).exists() and (
                not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != f["sha256"]):
            raise StateError(f"{f['target']} does not match the journal and its staged copy is gone; "
                             "restore the home from a backup")
    for a in plan["appends"]:
        if not (staging / a["staged"]).exists():
            raise StateError(f"the lines to append to {a['target']} ({staging / a['staged']}) are gone; "
                             "restore the home from a backup")
        # An append only grows its file: shorter than its recorded size, the file was restored or
        # cut short since (cutting to that size would pad it with zero bytes).
        if (have := size_of(home.root / a["target"])) < a["offset"]:
            raise StateError(f"{a['target']} holds {have} bytes, fewer than the {a['offset']} it held when the "
                             "interrupted commit was journaled (restored or cut short since?); put that file back "
                             "as it was and run again: the commit then finishes")


def _copy(src: int, dst: int, at: int) -> None:
    """Write all of file `src` into `dst` from offset `at`. A large cycle's log is tens of
    MB: copy_file_range copies it inside the kernel; a read/write loop does the rest where
    the kernel or the file system cannot."""
    size, done = os.fstat(src).st_size, 0
    in_kernel = getattr(os, "copy_file_range", None)  # Linux only
    try:
        while in_kernel is not None and done < size and (n := in_kernel(src, dst, size - done, done, at + done)):
            done += n
    except OSError:
        pass  # not supported by this file system or kernel: copy the rest by hand below
    while done < size:
        chunk = os.pread(src, min(1 << 20, size - done), done)
        if not chunk:
            raise StateError("a staged append shrank while it was copied; restore the home from a backup")
        done += os.pwrite(dst, chunk, at + done)


def recover(home: Home) -> bool:
    """Finish or discard an interrupted commit. True if one was rolled forward."""
    fsync_dir(home.root)  # .vanta/, made by the lock, is durable before anything relies on it
    if home.journal.exists():
        roll_forward(home)
        return True
    shutil.rmtree(home.state / "staging", ignore_errors=True)
    for tmp in home.state.glob("*.tmp"):
        tmp.unlink()
    return False
