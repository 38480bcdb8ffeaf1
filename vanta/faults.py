"""Named crash points for the crash-safety tests.

`VANTA_CRASH_AT=<name>` makes the process SIGKILL itself when it reaches that
point (`<name>:<k>` at its k-th visit). Read only at the I/O edges, never in a
stage; unset (always, in production) it costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_target = os.environ.get("VANTA_CRASH_AT", "")
_seen: dict[str, int] = {}


def point(name: str) -> None:
    if not _target:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _target in (name, f"{name}:{_seen[name]}"):
        os.kill(os.getpid(), signal.SIGKILL)
