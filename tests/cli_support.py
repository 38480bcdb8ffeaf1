"""Helpers of the command-line tests: a child's environment free of the caller's vanta
settings, the CLI in-process, and a home's files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from vanta.cli import app

# What a developer's shell may set that would change what a test's vanta does.
_DROP = ("VANTA_HOME", "VANTA_CRASH_AT", "VANTA_SECRETS_FILE", "VANTA_SECRETS_KEY")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without vanta's own settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(extra)
    return env


def invoke(*args: str) -> Any:
    """`vanta ARGS` in-process (success paths); an exception other than exit is raised."""
    result = CliRunner(env={"VANTA_HOME": None}).invoke(app, list(args), prog_name="vanta")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def home_files(root: Path) -> dict[str, bytes]:
    """Every file of the home but the lock file (taking the lock creates it)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() != ".vanta/lock"}

