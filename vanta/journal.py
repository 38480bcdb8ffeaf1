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
from pathlib import Path

from vanta import canonical, faults
from vanta.errors import StateError
from vanta.home import Home


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temporary file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def commit(home: Home, files: Mapping[str, bytes], appends: Mapping[str, bytes]) -> None:
    """Atomically replace `files` and extend `appends` (paths relative to the home)."""
    staging = home.state / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    entries = []
    for i, (rel, data) in enumerate(sorted(files.items())):
        name = f"f{i:03d}"
        write_durable(staging / name, data)
        entries.append({"target": rel, "staged": name, "sha256": hashlib.sha256(data).hexdigest()})
        faults.point("staged_file")
    extend = []
    for i, (rel, data) in enumerate(sorted(appends.items())):
        target = home.root / rel
        name = f"a{i:03d}"
        write_durable(staging / name, data)
        extend.append({"target": rel, "staged": name, "offset": target.stat().st_size if target.exists() else 0,
                       "sha256": hashlib.sha256(data).hexdigest()})
    _fsync_dir(staging)
    faults.point("before_journal")
    write_durable(home.journal, canonical.dumps({"files": entries, "appends": extend}))
    _fsync_dir(home.state)
    faults.point("after_journal")
    roll_forward(home)


def roll_forward(home: Home) -> None:
    staging = home.state / "staging"
    try:
        plan = canonical.loads(home.journal.read_bytes(), str(home.journal))
    except Exception as e:  # noqa: BLE001 - the journal is written by rename; this is disk damage
        raise StateError(f"{home.journal} is unreadable ({e}); restore the home from a backup") from None
    dirs = set()
    for f in plan["files"]:
        target, staged = home.root / f["target"], staging / f["staged"]
        if staged.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
            dirs.add(target.parent)
            faults.point("renamed_file")
        elif hashlib.sha256(target.read_bytes()).hexdigest() != f["sha256"]:
            raise StateError(f"{f['target']} does not match the journal and its staged copy is gone; "
                             "restore the home from a backup")
    for a in plan["appends"]:
        target = home.root / a["target"]
        with open(target, "ab") as fh, open(staging / a["staged"], "rb") as src:
            fh.truncate(a["offset"])
            shutil.copyfileobj(src, fh, 1 << 20)  # streamed: a large cycle's log is tens of MB
            fh.flush()
            os.fsync(fh.fileno())
        faults.point("appended")
    for d in sorted(dirs):
        _fsync_dir(d)
    home.inflight.unlink(missing_ok=True)
    faults.point("before_journal_removed")
    home.journal.unlink()
    _fsync_dir(home.state)
    shutil.rmtree(staging, ignore_errors=True)


def recover(home: Home) -> bool:
    """Finish or discard an interrupted commit. True if one was rolled forward."""
    if home.journal.exists():
        roll_forward(home)
        return True
    shutil.rmtree(home.state / "staging", ignore_errors=True)
    for tmp in home.state.glob("*.tmp"):
        tmp.unlink()
    return False
