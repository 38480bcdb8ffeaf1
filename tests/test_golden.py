"""The repo is itself a vanta home: its committed cycles replay byte for byte, it
verifies, and schemas/ is what `vanta schema` writes today."""

from __future__ import annotations

from pathlib import Path

from vanta import bundle
from vanta.home import Home
from vanta.replay import replay
from vanta.schema import schemas
from vanta.verify import verify

REPO = Path(__file__).resolve().parent.parent


def test_repo_home_has_example_cycles() -> None:
    assert len(bundle.cycles(Home(REPO))) >= 3


def test_every_committed_cycle_replays_byte_for_byte() -> None:
    home = Home(REPO)
    for n in bundle.cycles(home):
        result = replay(home, n)
        hint = "\n(regenerate with `make example` only if the change is deliberate)"
        assert result.ok, "".join(result.mismatches.values()) + hint


def test_repo_home_verifies() -> None:
    problems, summary = verify(Home(REPO))
    assert problems == []
    assert summary["log_lines"] > 0


def test_schemas_folder_is_current() -> None:
    want = schemas()
    have = {p.name: p.read_bytes() for p in (REPO / "schemas").glob("*.json")}
    assert sorted(have) == sorted(want), "run `make schema`"
    for name, data in want.items():
        assert have[name] == data, f"schemas/{name} is stale: run `make schema`"
