"""Broker truth: the exchange's balances against portfolio.json, per live follower."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_ccxt_cycle import KEY, LIVE, asof, cycle, make_home, no_network, seeded, wallet

from vanta.home import Home
from vanta.replay import replay


def book(home: Home) -> dict[str, Any]:
    return wallet(home)


def test_a_difference_is_reported_per_follower_and_corrected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = make_home(tmp_path)
    stub = seeded(home)
    cycle(home, asof(1), stub)
    held = {s: sum(Decimal(q) for q, _ in lots) for s, lots in book(home)["positions"].items()}
    assert held, "the follower holds something to drift from"
    sym = sorted(held)[0]
    # Outside vanta: a deposit of 100 USD and 2 more shares of `sym` land in the account.
    stub.holdings[KEY]["USD"] += Decimal("100")
    stub.holdings[KEY][sym] += Decimal("2")
    ctx = cycle(home, asof(2), stub)
    drift = {d["asset"]: d for k, d in ctx.events if k == "broker_drift" and d["account"] == f"follower:{LIVE}"}
    assert sym in drift and drift[sym]["difference"] == Decimal("2")
    assert "USD" in drift and Decimal("99.9") < drift["USD"]["difference"] <= Decimal("100.05")
    assert any(k == "broker_correction" for k, _ in ctx.events)
    after = book(home)
    assert Decimal(after["cash"]["USD"]) == stub.holdings[KEY]["USD"].quantize(Decimal("0.01"), "ROUND_FLOOR")
    qty = {s: sum(Decimal(q) for q, _ in lots) for s, lots in after["positions"].items()}
    assert all(qty.get(s, 0) == stub.holdings[KEY].get(s, 0) for s in set(qty) | set(held))
    # The next cycle finds nothing to correct: the books agree with the broker.
    ctx3 = cycle(home, asof(3), stub)
    assert not [d for k, d in ctx3.events if k == "broker_drift" and d["asset"] != "USD"]
    no_network(monkeypatch)
    assert all(replay(home, n).ok for n in (1, 2, 3))


def test_an_account_with_a_pending_order_is_reported_not_corrected(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    stub = seeded(home)
    stub.holdings[KEY]["USD"] += Decimal("500")
    stub.faults = {"create": ["timeout"] * 100, "fetch": ["outage"] * 100}
    before = book(home)
    ctx = cycle(home, asof(1), stub)
    assert any(o.account == f"follower:{LIVE}" and o.status == "submitting" for o in ctx.queue.orders)
    assert any(k == "broker_drift" and d["asset"] == "USD" for k, d in ctx.events)
    assert not any(k == "broker_correction" for k, _ in ctx.events)
    assert book(home)["cash"] == before["cash"]
