"""SIGKILL at every point between the in-flight record and the commit of a cycle with a
ccxt follower, the stub exchange keeping its state across the kill (as a real one
would): the next run finishes the cycle with nothing sent twice, no fill lost, and
memory/ byte for byte what an uninterrupted cycle writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from test_ccxt_cycle import KEY, LIVE, asof, make_home

from vanta.brokers.stub import StubVenue

TESTS = Path(__file__).resolve().parent

CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_ccxt_cycle import pool_for
from vanta import journal
from vanta.brokers.stub import StubVenue
from vanta.cycle import LiveEdge, drive
from vanta.home import Home, locked
stub = StubVenue.load(Path({state!r}), latency=0)
home = Home(Path({home!r}))
with locked(home):
    journal.recover(home)
    drive(LiveEdge(home, {asof!r}, ccxt_pool=pool_for(stub)))
"""


def child(home: Path, state: Path, day: int, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VANTA_CRASH_AT", "VANTA_HOME")}
    if crash:
        env["VANTA_CRASH_AT"] = crash
    code = CHILD.format(tests=str(TESTS), state=str(state), home=str(home), asof=asof(day))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)


def setup(root: Path) -> tuple[Path, Path]:
    home = make_home(root)
    cash = json.loads((home.memory / "portfolio.json").read_text())["followers"][LIVE]["cash"]
    state = root / "venue.pickle"
    StubVenue(latency=0, holdings={KEY: {c: Decimal(v) for c, v in cash.items()}}).save(state)
    return home.root, state


def memory(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((home / "memory").iterdir())}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], StubVenue]:
    home, state = setup(tmp_path_factory.mktemp("reference"))
    p = child(home, state, 1)
    assert p.returncode == 0, p.stderr
    return memory(home), StubVenue.load(state)


@pytest.mark.parametrize("point", ["inflight_written", "ccxt_submitted:1", "broker_answered", "before_commit"])
def test_a_killed_cycle_is_finished_without_duplicates_or_lost_fills(
        tmp_path: Path, point: str, reference: tuple[dict[str, bytes], StubVenue]) -> None:
    ref_memory, ref_venue = reference
    assert ref_venue.creates and any(o.executed for o in ref_venue.orders.values())  # orders were filled
    home, state = setup(tmp_path)
    p = child(home, state, 1, crash=point)
    assert p.returncode == -signal.SIGKILL, f"{point}: expected SIGKILL, got {p.returncode}\n{p.stderr}"
    assert (home / ".vanta" / "inflight.json").exists()
    p = child(home, state, 2)  # a later run: it finishes cycle 1, with cycle 1's asof
    assert p.returncode == 0, p.stderr
    venue = StubVenue.load(state)
    assert venue.duplicates == 0 and set(venue.creates) == set(ref_venue.creates)
    assert all(n == 1 for n in venue.creates.values())
    assert memory(home) == ref_memory  # every fill booked once: the same bytes as no crash at all
    assert not (home / ".vanta" / "inflight.json").exists()
