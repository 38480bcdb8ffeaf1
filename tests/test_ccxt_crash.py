"""SIGKILL at every point between the in-flight record and the commit of a cycle with a
ccxt follower, the stub exchange keeping its state across the kill (as a real one
would): the next run finishes the cycle with nothing sent twice, no fill lost, and
memory/ byte for byte what an uninterrupted cycle writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_ccxt_cycle import SYMBOLS, asof

from vanta import init as init_mod
from vanta.brokers import ccxt_exchange
from vanta.brokers.ccxt_broker import Policy, VenuePool
from vanta.brokers.resilience import Backoff
from vanta.brokers.secrets import KeySet
from vanta.brokers.stub import StubVenue, binance_markets

TESTS = Path(__file__).resolve().parent

CHILD = """
import sys
from pathlib import Path
from typing import Any
sys.path.insert(0, {tests!r})
from test_ccxt_crash import pool_for
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


def key(ref: str) -> str:
    return ref.replace(":", "-").ljust(64, "k")


def pool_for(stub: StubVenue) -> Any:
    """Every follower its own exchange account and key (see setup)."""
    def factory(exid: str, ks: Any, sandbox: bool, mk: Any) -> Any:
        ex = ccxt_exchange.make_exchange(exid, ks, sandbox, mk)
        ccxt_exchange.use_transport(ex, stub.transport)
        return ex

    mk = binance_markets({s: ("0.0001", "0.01") for s in SYMBOLS})
    policy = Policy(follow_interval=0.0, backoff=Backoff(attempts=3, base=0.0))
    return lambda: VenuePool(policy, {"binance": mk}, keys=lambda ref: [KeySet("env #1", key(ref), "s" * 64)],
                             exchange_factory=factory)


def setup(root: Path) -> tuple[Path, Path]:
    """A home whose followers all trade on the stub exchange, which holds what their books hold."""
    files = init_mod.example_files()
    for f in files["mirror_registry.json"]["followers"]:
        for core in f["cores"]:
            core["account"] = {"adapter": "ccxt:binance", "account_ref": f["follower_id"]}
    init_mod.write_home(root / "home", files, False)
    books = files["portfolio.json"]["followers"]
    state = root / "venue.pickle"
    StubVenue(latency=0, holdings={key(f"binance:{fid}"): {q: Decimal(c["cash"]) for q, c in cores.items()}
                                   for fid, cores in books.items()}).save(state)
    return root / "home", state


def memory(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((home / "memory").iterdir())}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], StubVenue]:
    home, state = setup(tmp_path_factory.mktemp("reference"))
    p = child(home, state, 1)
    assert p.returncode == 0, p.stderr
    return memory(home), StubVenue.load(state)


@pytest.mark.parametrize("point", ["inflight_written", "ccxt_submitted:1", "ccxt_submitted:3", "broker_answered",
                                   "before_commit"])
def test_a_killed_cycle_is_finished_without_duplicates_or_lost_fills(
        tmp_path: Path, point: str, reference: tuple[dict[str, bytes], StubVenue]) -> None:
    ref_memory, ref_venue = reference
    assert len(ref_venue.creates) >= 3 and any(o.executed for o in ref_venue.orders.values())  # orders filled
    home, state = setup(tmp_path)
    p = child(home, state, 1, crash=point)
    assert p.returncode == -signal.SIGKILL, f"{point}: expected SIGKILL, got {p.returncode}\n{p.stderr}"
    assert (home / ".vanta" / "inflight.json").exists()
    at_crash = len(StubVenue.load(state).creates)
    if point == "inflight_written":
        assert at_crash == 0
    elif point.startswith("ccxt_submitted"):
        assert int(point.split(":")[1]) <= at_crash < len(ref_venue.creates) + 1
    else:
        assert at_crash == len(ref_venue.creates)
    p = child(home, state, 2)  # a later run: it finishes cycle 1, with cycle 1's asof
    assert p.returncode == 0, p.stderr
    venue = StubVenue.load(state)
    assert venue.duplicates == 0 and set(venue.creates) == set(ref_venue.creates)
    assert all(n == 1 for n in venue.creates.values())
    assert memory(home) == ref_memory  # every fill booked once: the same bytes as no crash at all
    assert not (home / ".vanta" / "inflight.json").exists()
