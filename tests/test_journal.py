"""The journal's commit: files replaced and append-only files extended exactly, whether
the kernel copies the staged append (copy_file_range) or vanta does it by hand."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from vanta import journal
from vanta.errors import StateError
from vanta.home import Home

OLD_LOG = b"line 1\nline 2\n"


def _home(tmp: Path) -> Home:
    (tmp / "memory").mkdir()
    (tmp / "memory" / "a.json").write_bytes(b"old\n")
    (tmp / "memory" / "log.jsonl").write_bytes(OLD_LOG)
    return Home(tmp)


def _commit(home: Home, added: bytes) -> None:
    journal.commit(home, {"memory/a.json": b"new\n"}, {"memory/log.jsonl": added, "memory/fresh.jsonl": b"x\n"})


ADDED = b"".join(b"line %d: %s\n" % (i, b"y" * (i % 97)) for i in range(3, 40_000))


def _killed_at(home: Home, point: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`_commit`, killed at the crash point `point`."""
    def kill(name: str) -> None:
        if name == point:
            raise SystemExit("killed")

    monkeypatch.setattr(journal.faults, "point", kill)
    with pytest.raises(SystemExit):
        _commit(home, ADDED)


def test_commit_replaces_and_appends(tmp_path: Path) -> None:
    home = _home(tmp_path)
    _commit(home, ADDED)
    assert (tmp_path / "memory" / "a.json").read_bytes() == b"new\n"
    assert (tmp_path / "memory" / "log.jsonl").read_bytes() == OLD_LOG + ADDED
    assert (tmp_path / "memory" / "fresh.jsonl").read_bytes() == b"x\n"
    assert not home.journal.exists() and not (home.state / "staging").exists()


@pytest.mark.parametrize("kernel", ["refuses", "copies_a_little", "absent"])
def test_append_is_exact_however_the_kernel_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   kernel: str) -> None:
    real = os.copy_file_range
    calls = []

    def little(src: int, dst: int, count: int, offset_src: Any, offset_dst: Any) -> int:
        calls.append(count)
        if len(calls) > 3:
            raise OSError(18, "Invalid cross-device link")  # EXDEV: the rest goes by hand
        return real(src, dst, min(count, 1000), offset_src, offset_dst)

    def refuses(*_: Any) -> int:
        raise OSError(95, "Operation not supported")

    if kernel == "absent":
        monkeypatch.delattr(os, "copy_file_range")
    else:
        monkeypatch.setattr(os, "copy_file_range", little if kernel == "copies_a_little" else refuses)
    home = _home(tmp_path)
    _commit(home, ADDED)
    assert (tmp_path / "memory" / "log.jsonl").read_bytes() == OLD_LOG + ADDED
    assert (tmp_path / "memory" / "fresh.jsonl").read_bytes() == b"x\n"
    assert kernel != "copies_a_little" or len(calls) == 4


def test_rolling_forward_again_gives_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash after the journal and mid-append: recovery truncates to the recorded size
    and appends again, so the lines are never doubled."""
    home = _home(tmp_path)
    done = []

    def crash_after_first_append(name: str) -> None:
        if name == "appended" and not done:
            done.append(name)
            raise SystemExit("killed")

    monkeypatch.setattr(journal.faults, "point", crash_after_first_append)
    with pytest.raises(SystemExit):
        _commit(home, ADDED)
    assert home.journal.exists()
    assert (tmp_path / "memory" / "fresh.jsonl").read_bytes() == b"x\n"  # appended before the crash
    assert journal.recover(home)
    assert (tmp_path / "memory" / "log.jsonl").read_bytes() == OLD_LOG + ADDED
    assert (tmp_path / "memory" / "fresh.jsonl").read_bytes() == b"x\n"
    assert journal.recover(home) is False


def test_an_append_torn_mid_copy_is_cut_and_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed in the middle of extending the log: its last line is torn. The journal is still
    there, so the next start cuts the file back to its recorded size and appends again."""
    home = _home(tmp_path)
    real = journal._copy

    def half_then_killed(src: int, dst: int, at: int) -> None:
        if os.fstat(src).st_size < 1001:
            return real(src, dst, at)
        os.pwrite(dst, os.pread(src, 1001, 0), at)
        raise SystemExit("killed")

    monkeypatch.setattr(journal, "_copy", half_then_killed)
    with pytest.raises(SystemExit):
        _commit(home, ADDED)
    torn = (tmp_path / "memory" / "log.jsonl").read_bytes()
    assert torn == OLD_LOG + ADDED[:1001] and not torn.endswith(b"\n") and home.journal.exists()
    monkeypatch.setattr(journal, "_copy", real)
    assert journal.recover(home)
    assert (tmp_path / "memory" / "log.jsonl").read_bytes() == OLD_LOG + ADDED
    assert (tmp_path / "memory" / "fresh.jsonl").read_bytes() == b"x\n"


def test_an_append_target_shorter_than_journaled_is_refused_before_anything_moves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after the commit point; then the log was restored to an older copy (`git checkout
    memory/`), shorter than the size the journal recorded. Rolling forward cut it to that size,
    padding it with zero bytes, and appended: a log with a hole, its chain broken. It is
    refused, naming the file, before any file is renamed."""
    home = _home(tmp_path)

    _killed_at(home, "after_journal", monkeypatch)
    log = tmp_path / "memory" / "log.jsonl"
    log.write_bytes(b"line 1\n")
    with pytest.raises(StateError, match=r"memory/log.jsonl holds 7 bytes, fewer than the 14"):
        journal.recover(home)
    assert log.read_bytes() == b"line 1\n" and b"\0" not in log.read_bytes()
    assert (tmp_path / "memory" / "a.json").read_bytes() == b"old\n" and home.journal.exists()
    log.write_bytes(OLD_LOG)  # put back as it was: the commit finishes
    assert journal.recover(home)
    assert log.read_bytes() == OLD_LOG + ADDED and (tmp_path / "memory" / "a.json").read_bytes() == b"new\n"


def test_a_renamed_file_gone_before_the_roll_forward_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after a file was renamed into place; the file then deleted. Recovery said
    nothing useful (FileNotFoundError, a traceback): it names the file and the fix."""
    home = _home(tmp_path)

    _killed_at(home, "renamed_file", monkeypatch)
    (tmp_path / "memory" / "a.json").unlink()
    with pytest.raises(StateError, match=r"memory/a.json does not match the journal and its staged copy is gone"):
        journal.recover(home)


def test_staged_lines_gone_are_refused_before_anything_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed at the commit point; then .vanta/staging lost its staged log lines. Recovery
    cut the log to its recorded size and then failed opening them (FileNotFoundError, a
    traceback), files already renamed. It is refused, naming what is gone, first."""
    home = _home(tmp_path)

    _killed_at(home, "after_journal", monkeypatch)
    staged = [p for p in (home.state / "staging").iterdir() if p.name.startswith("a")]
    assert staged
    for p in staged:
        p.unlink()
    with pytest.raises(StateError, match=r"the lines to append to memory/\S+ \(.*\) are gone"):
        journal.recover(home)
    assert (tmp_path / "memory" / "a.json").read_bytes() == b"old\n"
    assert (tmp_path / "memory" / "log.jsonl").read_bytes() == OLD_LOG
