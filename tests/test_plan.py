"""`vanta plan` shows exactly the child orders the next cycle sends, and writes nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from vanta.cli import app

ASOF = ["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"]


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".vanta" not in p.parts}


def test_plan_matches_the_next_cycle_and_writes_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    home = tmp_path / "home"
    assert runner.invoke(app, ["init", str(home)]).exit_code == 0
    for asof in ASOF[:2]:
        assert runner.invoke(app, ["cycle", "--home", str(home), "--asof", asof]).exit_code == 0
    before = _tree(home)
    r = runner.invoke(app, ["plan", "--home", str(home), "--asof", ASOF[2], "--json"])
    assert r.exit_code == 0, r.output
    planned = json.loads(r.stdout)
    assert _tree(home) == before, "plan wrote to the home"
    assert planned["cycle"] == 3
    r = runner.invoke(app, ["cycle", "--home", str(home), "--asof", ASOF[2]])
    assert r.exit_code == 0, r.output
    sent = {}
    for line in (home / "memory" / "trade_log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["cycle"] == 3 and rec["kind"] == "child_order":
            d = rec["data"]
            sent[d["client_order_id"]] = (d["account"].split(":")[1], d["sleeve"], d["symbol"], d["side"], d["qty"])
    shown = {o["client_order_id"]: (fid, o["sleeve"], o["symbol"], o["side"], o["qty"])
             for fid, f in planned["followers"].items() for o in f["orders"]}
    assert sent and shown == sent
    notes = {n["reason"] for f in planned["followers"].values() for n in f["notes"] if "reason" in n}
    assert {"follower_kill_switch", "below_min_account_equity", "no_pairs_in_quote"} <= notes


def test_plan_table(tmp_path: Path) -> None:
    runner = CliRunner()
    home = tmp_path / "home"
    runner.invoke(app, ["init", str(home)])
    r = runner.invoke(app, ["plan", "--home", str(home), "--asof", ASOF[0]])
    assert r.exit_code == 0, r.output
    assert "nothing is sent or written" in r.stdout and "F_1042" in r.stdout
