"""A kill switch or an offboarding stops the orders already waiting in the queue too."""

from __future__ import annotations

import json
from pathlib import Path

from vanta import canonical
from vanta.cycle import run_cycle
from vanta.home import Home
from vanta.init import example_files, write_home


def _waiting(fid: str, cid: str) -> dict[str, object]:
    # AAPL: a market V_QUIET does not trade, so no new order of its vault supersedes this one.
    return {"client_order_id": cid, "cycle": 0, "vault_id": "V_QUIET", "account": f"follower:{fid}",
            "sleeve": "main", "symbol": "AAPL", "side": "buy", "qty": "1", "price": "100", "status": "retry",
            "attempts": 1}


def _run(tmp_path: Path, edit_registry: str | None) -> list[dict[str, object]]:
    files = example_files()
    files["autotrade_queue.json"]["orders"] = [_waiting("F_3001", "vtwaiting0000000000000000000001")]
    if edit_registry is not None:
        for f in files["mirror_registry.json"]["followers"]:
            if f["follower_id"] == "F_3001":
                f[edit_registry] = True if edit_registry == "kill_switch" else "offboarded"
    root = tmp_path / (edit_registry or "live")
    write_home(root, json.loads(canonical.dumps(files)), force=False)
    run_cycle(Home(root), "2026-11-01T00:00:00Z")
    lines = [json.loads(x) for x in (root / "memory" / "trade_log.jsonl").read_text().splitlines()]
    queue = json.loads((root / "memory" / "autotrade_queue.json").read_text())
    assert queue["orders"] == []
    return [x for x in lines if x["data"].get("client_order_id") == "vtwaiting0000000000000000000001"]


def test_waiting_order_of_an_active_follower_is_sent(tmp_path: Path) -> None:
    kinds = [x["kind"] for x in _run(tmp_path, None)]
    assert kinds == ["fill"]


def test_waiting_order_of_a_killed_follower_is_dropped_not_sent(tmp_path: Path) -> None:
    lines = _run(tmp_path, "kill_switch")
    assert [(x["kind"], x["data"]["reason"]) for x in lines] == [("order_dropped", "follower_kill_switch")]


def test_waiting_order_of_an_offboarded_follower_is_dropped(tmp_path: Path) -> None:
    lines = _run(tmp_path, "status")
    assert [(x["kind"], x["data"]["reason"]) for x in lines] == [("order_dropped", "offboarded")]
