"""Fixtures shared by the command-line tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import clean_env

TEMPLATE_ASOFS = ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An example home after two cycles (never modified: copy it to change it). A module
    with a `template` or `home` fixture of its own uses that one instead."""
    root = tmp_path_factory.mktemp("cli_template") / "home"
    for args in (("init", str(root)), *(("cycle", "--home", str(root), "--asof", a) for a in TEMPLATE_ASOFS)):
        r = subprocess.run([sys.executable, "-m", "vanta", *args], capture_output=True, text=True,
                           env=clean_env(), timeout=120)
        assert r.returncode == 0, r.stderr
    return root


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    """A private copy of the two-cycle home."""
    dst = tmp_path / "home"
    shutil.copytree(template, dst)
    return dst
