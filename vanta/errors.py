"""Exit codes and the few exception classes that cross the CLI edge.

Every failure a user can cause maps to one exit code, documented here and in the
README. Each exception's docstring says what vanta does next.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug in vanta: the traceback is printed, nothing half-written
    USAGE = 2  # wrong command line (typer/click's own code)
    BAD_INPUT = 3  # a memory file, packet or feed failed to parse or validate
    LOCKED = 4  # another vanta process holds the home's lock
    REPLAY_MISMATCH = 5  # a replayed cycle produced different bytes
    VERIFY_FAILED = 6  # log chain, bundle or memory file does not match
    STATE = 7  # the home cannot go on as it is (interrupted cycle, exhausted feed, ...)


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
