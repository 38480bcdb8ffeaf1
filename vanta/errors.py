"""Exit codes and the few exception classes that cross the CLI edge.

Every failure a user can cause maps to one exit code, documented here and in the
README. Each exception's docstring says what vanta does next.
"""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug in vanta: the traceback is printed, nothing half-written
    USAGE = 2  # wrong command line (typer/click's own code)
    BAD_INPUT = 3  # a memory file, packet or feed failed to parse or validate
    LOCKED = 4  # another vanta process holds the home's lock
    REPLAY_MISMATCH = 5  # a replayed cycle produced different bytes
    VERIFY_FAILED = 6  # log chain, bundle or memory file does not match
    STATE = 7  # the home cannot go on as it is (interrupted cycle, exhausted feed, unreadable file, ...)


class VantaError(Exception):
    """Base class: the CLI prints `Error: <message>` and exits with `code`."""

    code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(VantaError):
    """Bad input. Nothing was written; the user fixes the file and runs again."""

    code = ExitCode.BAD_INPUT

    def __init__(self, file: str, path: str, problem: str, fix: str) -> None:
        self.file, self.path, self.problem, self.fix = file, path, problem, fix
        where = f"{file}:{path}" if path else file
        super().__init__(f"{where}: {problem}; {fix}")


class LockedError(VantaError):
    """Another cycle holds the home. This one exits at once; cron tries again later."""

    code = ExitCode.LOCKED


class ReplayMismatch(VantaError):
    """A replay differed from the recorded bytes. The diff is printed; nothing is written."""

    code = ExitCode.REPLAY_MISMATCH


class VerifyFailed(VantaError):
    """The home fails verification. Nothing is changed; an operator investigates."""

    code = ExitCode.VERIFY_FAILED


class StateError(VantaError):
    """The home is in a state this command cannot proceed from; the message says the fix."""

    code = ExitCode.STATE


# What to do about a file or folder vanta cannot read or write, by errno.
_OS_FIXES = {
    errno.EACCES: "give the user running vanta read and write access to it (ls -l; chown or chmod), "
                  "or run vanta as the home's owner",
    errno.EROFS: "the file system is mounted read-only; remount it read-write, or copy the home to a "
                 "writable place",
    errno.EISDIR: "a folder stands where vanta expects a file; move the folder away and restore the file "
                  "(git checkout, or a backup)",
    errno.ENOTDIR: "a file stands where vanta expects a folder; move it away or choose another path",
    errno.EEXIST: "a file stands where vanta expects a folder; move it away or choose another path",
    errno.ENOENT: "the path does not exist; create its folder or choose another path",
    errno.ENOSPC: "the disk is full; free space and run the command again (the next command finishes "
                  "an interrupted commit)",
    errno.ELOOP: "a symbolic link points to itself; replace it with the file",
}
_OS_FIXES[errno.EPERM] = _OS_FIXES[errno.EACCES]
_OS_FIXES[errno.EDQUOT] = _OS_FIXES[errno.ENOSPC]


def os_error(e: OSError) -> StateError:
    """A file or folder the command needs cannot be read or written (a permission, a
    read-only mount, a folder where a file belongs, a full disk): the user's to fix,
    not a bug, so one line naming the path, the reason and the fix (exit 7)."""
    where = str(e.filename) if e.filename is not None else "a file of the home"
    if e.filename2 is not None:
        where += f" -> {e.filename2}"
    fix = _OS_FIXES.get(e.errno or 0, "check the path and try again")
    return StateError(f"{where}: {e.strerror or e}; {fix}")
