"""Issue #4, parts 2 and 3: pooled vaults (seeds 002 and 004).

A pooled vault's model account is the pool. Requests are recorded by the admin
commands and processed by the cycle whose asof crosses the next rollover, at that
cycle's NAV per share, with ERC-4626 rounding and a virtual offset (vanta/pool.py).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logbooks import D, read_json, read_log
from test_fees import ledger
from test_sleeves import Scenario, vault

from vanta.cycle import run_cycle
from vanta.errors import InputError
from vanta.home import Home
from vanta.pool import VIRTUAL_SHARES, burn, mint, rollover_due
from vanta.pool_admin import contributors, request
from vanta.replay import replay


def pool_home(root: Path, prices: list[str], cash: str = "900.00", **terms: Any) -> Scenario:
    pooled = {"manager_id": "M", "rollover_hours": 3, "withdrawal_profit_fee": "0.10", **terms}
    return Scenario(root, prices={"ETH": prices}, vaults=[vault("P", ["ETH"], pooled=pooled)], followers=[],
                    cash={}, vault_cash={"P": cash})


def at(sc: Scenario, hour: int, scores: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    if scores is not None:
        sc.conviction(scores)
    before = len(read_log(sc.root))
    sc.cycles += 1
    run_cycle(Home(sc.root), f"2026-11-01T{hour:02d}:00:00Z")
    return read_log(sc.root)[before:]


def when(hour: int, minute: int = 30) -> str:
    return f"2026-11-01T{hour:02d}:{minute:02d}:00Z"


def book(sc: Scenario) -> dict[str, Any]:
    b: dict[str, Any] = read_json(sc.root, "pnl_summary.json")["pools"]["P"]
    return b


def data(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r["data"] for r in lines if r["kind"] == kind]


def test_900_takes_100_grows_to_2000_pays_190_under_a_10_percent_profit_share(tmp_path: Path) -> None:
    """The manager's 900 opens the pool at 10^6 shares per cent: 9 x 10^10 shares. B's 100
    mints floor(10,000 x (9 x 10^10 + 10^6) / (90,000 + 1)) = 10^10 shares: 10% of 10^11.
    The vault buys 10 ETH at 100 and sells them at 200: assets 2,000. B's 10^10 shares burn
    for floor(10^10 x (200,000 + 1) / (10^11 + 10^6)) = 19,999 cents = 199.99 (the virtual
    offset keeps a cent); profit over the 100 basis 99.99, 10% of it rounded down 9.99;
    paid 190.00."""
    sc = pool_home(tmp_path, ["100", "100", "100", "200", "200"])
    opened = at(sc, 0)
    assert data(opened, "pool_opened")[0]["shares"] == "90000000000"
    request(Home(tmp_path), "P", "B", "deposit", amount_in=Decimal("100.00"), asof=when(0))
    at(sc, 3)  # crosses 03:00: the deposit is processed
    b = book(sc)
    assert b["contributors"]["B"]["shares"] == "10000000000" and b["total_shares"] == "100000000000"
    assert D(b["assets"]) == 1000 and b["last_rollover"] == "2026-11-01T03:00:00Z"
    at(sc, 4, {"P": {"ETH": "1"}})  # buys 10 ETH at 100; no rollover (03:00 to 06:00)
    at(sc, 5)  # ETH at 200: the vault is worth 2,000
    assert D(book(sc)["assets"]) == 2000
    request(Home(tmp_path), "P", "B", "withdraw", everything=True, asof=when(5))
    last = at(sc, 6, {"P": {"ETH": "-1"}})  # sells at 200, then the rollover pays B
    [w] = data(last, "pool_withdrawal")
    assert (D(w["gross"]), D(w["cost_basis"]), D(w["fee"]), D(w["paid"])) == \
        (Decimal("199.99"), 100, Decimal("9.99"), 190)
    [e] = ledger(tmp_path)
    assert (e["user_id"], e["payee"], e["fee_type"], D(e["pnl_gross"]), D(e["fee_usd"])) == \
        ("B", "M", "withdrawal_fee", Decimal("99.99"), Decimal("9.99"))
    port = sc.portfolio()
    assert D(port["vaults"]["P"]["cash"]["USD"]) == Decimal("1800.01")
    b = book(sc)
    assert b["contributors"]["B"]["shares"] == "0" and b["total_shares"] == "90000000000"
    assert (D(b["contributors"]["B"]["paid_out"]), D(b["contributors"]["B"]["fees_paid"])) == (190, Decimal("9.99"))
    # The manager's claim is what is left, less at most a cent of rounding dust.
    claim = burn(Decimal(90000000000), Decimal(180001), Decimal(90000000000))
    assert 180001 - 2 <= claim <= 180001
    sc.replays()


def test_manager_and_attribution_fees_on_profit_above_the_mark(tmp_path: Path) -> None:
    """Manager 10% and creator 5% of realized profit above the pool's high-water mark; a
    loss carries forward, so the recovery is not charged; fees owed leave at the rollover."""
    sc = pool_home(tmp_path, ["100", "150", "100", "50", "100", "150", "150"], cash="1000.00",
                   manager_fee_bps="1000", attribution_bps="500", creator_id="C")
    at(sc, 0, {"P": {"ETH": "1"}})  # buys 10 at 100
    at(sc, 1, {"P": {"ETH": "-1"}})  # sells at 150: +500: 50 + 25 owed
    assert [(e["charge"], e["payee"], D(e["fee_usd"])) for e in ledger(tmp_path)] == \
        [("manager", "M", 50), ("attribution", "C", 25)]
    assert D(book(sc)["fees_owed"]) == 75 and D(book(sc)["assets"]) == Decimal("1425.00")
    at(sc, 2, {"P": {"ETH": "1"}})  # buys at 100 with 1,500 cash
    at(sc, 3, {"P": {"ETH": "-1"}})  # sells at 50: a loss; the rollover pays the 75 owed
    assert D(book(sc)["fees_owed"]) == 0 and len(ledger(tmp_path)) == 2
    at(sc, 4, {"P": {"ETH": "1"}})
    at(sc, 5, {"P": {"ETH": "-1"}})  # a gain, still under the mark: nothing charged
    assert len(ledger(tmp_path)) == 2
    sc.replays()


def test_per_close_charging_without_carry_forward_is_an_option(tmp_path: Path) -> None:
    sc = pool_home(tmp_path, ["100", "50", "100", "150"], cash="1000.00", manager_fee_bps="1000",
                   carry_losses=False)
    at(sc, 0, {"P": {"ETH": "1"}})
    at(sc, 1, {"P": {"ETH": "-1"}})  # -500
    at(sc, 2, {"P": {"ETH": "1"}})
    at(sc, 3, {"P": {"ETH": "-1"}})  # +250: charged although the pool is under water
    assert [D(e["fee_usd"]) for e in ledger(tmp_path)] == [25]


def test_requests_are_validated_and_nothing_is_written_on_refusal(tmp_path: Path) -> None:
    sc = pool_home(tmp_path, ["100", "100"], min_stake="50", max_capacity="1000", cooldown_hours=24)
    at(sc, 0)
    home = Home(tmp_path)
    before = (tmp_path / "memory" / "autotrade_queue.json").read_bytes()
    with pytest.raises(InputError, match=r"capped at 1000 USD.*deposit at most 100\.00"):
        request(home, "P", "B", "deposit", amount_in=Decimal("150.00"), asof=when(0))
    with pytest.raises(InputError, match="min_stake"):
        request(home, "P", "B", "deposit", amount_in=Decimal("10.00"), asof=when(0))
    with pytest.raises(InputError, match="holds no shares"):
        request(home, "P", "B", "withdraw", everything=True, asof=when(0))
    with pytest.raises(InputError, match=r"not a pooled vault|no vault"):
        request(home, "X", "B", "deposit", amount_in=Decimal("100.00"), asof=when(0))
    assert (tmp_path / "memory" / "autotrade_queue.json").read_bytes() == before
    request(home, "P", "B", "deposit", amount_in=Decimal("60.00"), asof=when(0))
    at(sc, 3)
    with pytest.raises(InputError, match="cooldown is 24 h"):
        request(home, "P", "B", "withdraw", everything=True, asof=when(4))
    with pytest.raises(InputError, match="too many"):
        request(home, "P", "B", "withdraw", shares=Decimal(10**12), asof="2026-11-02T04:00:00Z")
    out = contributors(home, "P")
    assert [r["contributor_id"] for r in out["contributors"]] == ["B", "M"]
    assert D(out["contributors"][0]["value"]) == Decimal("59.99") or D(out["contributors"][0]["value"]) == 60
    sc.replays()


def test_rollover_boundaries() -> None:
    assert rollover_due(None, "2026-11-01T00:00:00Z", 3)
    assert not rollover_due("2026-11-01T03:00:00Z", "2026-11-01T05:59:59Z", 3)
    assert rollover_due("2026-11-01T05:59:59Z", "2026-11-01T06:00:00Z", 3)
    assert rollover_due("2026-11-01T01:00:00Z", "2026-11-02T01:00:00Z", 24)


units = st.integers(0, 10**12)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(assets=units, shares=st.integers(0, 10**18), deposit=st.integers(1, 10**12))
def test_a_deposit_never_gains_at_another_s_expense(assets: int, shares: int, deposit: int) -> None:
    """Mint then burn at once returns at most the deposit, and every existing holder's
    claim (here: all existing shares) is worth at least what it was."""
    a, s, d = Decimal(assets), Decimal(shares), Decimal(deposit)
    got = mint(d, a, s)
    assert burn(got, a + d, s + got) <= d
    assert burn(s, a + d, s + got) >= burn(s, a, s)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(assets=units, shares=st.integers(1, 10**18), frac=st.fractions(0, 1))
def test_a_withdrawal_never_takes_more_than_its_share(assets: int, shares: int, frac: Any) -> None:
    a, s = Decimal(assets), Decimal(shares)
    burned = Decimal(int(s * Decimal(frac.numerator) / Decimal(frac.denominator)))
    out = burn(burned, a, s)
    assert out * s <= burned * a + burned  # at most pro rata (+ the virtual unit's part)
    assert burn(s - burned, a - out, s - burned) >= burn(s - burned, a, s)  # those who stay lose nothing
    assert VIRTUAL_SHARES == 10**6


def test_sunset_returns_every_stake_after_idle_days(tmp_path: Path) -> None:
    """Idle two days after B's deposit (no fill, no request): the next rollover returns
    M's 900 and B's 100 (no profit, no fee), and the pool takes no deposit after."""
    sc = pool_home(tmp_path, ["100"] * 6, sunset_days=2)
    at(sc, 0)
    request(Home(tmp_path), "P", "B", "deposit", amount_in=Decimal("100.00"), asof=when(0))
    at(sc, 3)  # the deposit: the pool was active at 03:00
    sc.cycles += 1
    run_cycle(Home(tmp_path), "2026-11-03T02:00:00Z")  # 47 h idle: nothing
    assert book(sc)["sunset"] is None
    before = len(read_log(tmp_path))
    sc.cycles += 1
    run_cycle(Home(tmp_path), "2026-11-03T03:00:00Z")  # 48 h: sunset at this rollover
    lines = read_log(tmp_path)[before:]
    assert data(lines, "pool_sunset")[0]["idle_since"] == "2026-11-01T03:00:00Z"
    assert {w["contributor_id"]: D(w["paid"]) for w in data(lines, "pool_withdrawal")} == {"B": 100, "M": 900}
    b = book(sc)
    assert b["sunset"] == "2026-11-03T03:00:00Z" and b["total_shares"] == "0"
    assert D(sc.portfolio()["vaults"]["P"]["cash"]["USD"]) == 0
    with pytest.raises(InputError, match="was sunset"):
        request(Home(tmp_path), "P", "B", "deposit", amount_in=Decimal("100.00"), asof="2026-11-03T04:00:00Z")
    sc.replays()


@pytest.mark.parametrize("point", ["staged_file", "before_journal", "after_journal", "renamed_file", "appended",
                                   "before_journal_removed"])
def test_a_crash_in_a_deposit_leaves_old_or_new_state(tmp_path: Path, point: str) -> None:
    """The request commits through the journal: killed at any point, the next command sees
    the queue without the request (before the journal) or with it (after), never a mix,
    and the rollover then mints it once or not at all."""
    import os
    import signal
    import subprocess
    import sys

    sc = pool_home(tmp_path, ["100", "100"])
    at(sc, 0)
    old = (tmp_path / "memory" / "autotrade_queue.json").read_bytes()
    env = {**os.environ, "VANTA_CRASH_AT": point}
    r = subprocess.run([sys.executable, "-m", "vanta", "deposit", "P", "B", "100.00", "--home", str(tmp_path),
                        "--asof", when(0)], env=env, capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    v = subprocess.run([sys.executable, "-m", "vanta", "verify", "--home", str(tmp_path)],
                       env={k: x for k, x in os.environ.items() if k != "VANTA_CRASH_AT"}, capture_output=True,
                       text=True)
    assert v.returncode == 0, v.stdout + v.stderr
    queue = (tmp_path / "memory" / "autotrade_queue.json").read_bytes()
    landed = queue != old
    assert landed == (point not in ("staged_file", "before_journal"))
    at(sc, 3)
    assert ("B" in book(sc)["contributors"]) == landed
    sc.replays()


def test_a_withdrawal_the_cash_cannot_cover_burns_what_the_cash_pays_and_the_rest_waits(tmp_path: Path) -> None:
    """A fully invested pool: the rollover cycle sells what the pending withdrawal is worth
    at the last NAV, but ETH jumps from 100 to 120 in that cycle, so B's stake is worth more
    than the sells raised. Only the shares the cash pays burn, at the rollover's NAV; the rest
    waits, and the next rollover (whose cycle sells for it) pays it. Nothing is owed in coins,
    so no later price move shifts value between B and the manager."""
    sc = pool_home(tmp_path, ["100", "100", "100", "120", "120", "120"], withdrawal_profit_fee="0")
    at(sc, 0)
    request(Home(tmp_path), "P", "B", "deposit", amount_in=Decimal("100.00"), asof=when(0))
    at(sc, 3)
    at(sc, 4, {"P": {"ETH": "1"}})  # all in: the pool's cash is a few cents
    assert D(sc.portfolio()["vaults"]["P"]["cash"]["USD"]) < 10
    held = D(book(sc)["contributors"]["B"]["shares"])
    request(Home(tmp_path), "P", "B", "withdraw", everything=True, asof=when(4))
    roll = at(sc, 6)  # the rollover at 120
    assert [d for d in data(roll, "fill") if d["account"] == "vault:P" and d["side"] == "sell"], \
        "the rollover cycle did not sell for the pending withdrawal"
    [w] = data(roll, "pool_withdrawal")
    [wait] = data(roll, "pool_request_waiting")
    assert wait["reason"] == "insufficient_cash" and 0 < D(w["shares"]) < held
    assert D(sc.portfolio()["vaults"]["P"]["cash"]["USD"]) < 1  # the cash went to B
    left = D(book(sc)["contributors"]["B"]["shares"])
    assert left == held - D(w["shares"]) and D(wait["shares_left"]) == left
    at(sc, 7)  # no rollover (06:00 to 09:00): still waiting
    assert D(book(sc)["contributors"]["B"]["shares"]) == left
    last = at(sc, 9)  # the next rollover sells for the rest and pays it
    [w2] = data(last, "pool_withdrawal")
    assert D(w2["shares"]) == left and book(sc)["contributors"]["B"]["shares"] == "0"
    assert not data(last, "pool_request_waiting")
    # B was paid at the two rollovers' NAVs: both at 120
    assert abs(D(w["gross"]) + D(w2["gross"]) - Decimal("120")) < 2
    for n in range(1, sc.cycles + 1):
        assert replay(Home(tmp_path), n).ok


def test_the_share_register_values_a_stake_as_a_withdrawal_pays_it() -> None:
    """`vanta contributors` and `vanta status` run outside the cycle's Decimal context: at
    Python's default 28 digits, a stake whose exact value lies just under a whole minor
    unit was shown one unit more than a withdrawal pays (the cycle works at 50 digits)."""
    from vanta.models import PoolBook
    from vanta.pool import VIRTUAL_ASSETS, VIRTUAL_SHARES
    from vanta.pool_admin import register

    d = 10**16 + 7  # shares x (A + 1) = d^2 - 1 over S + V = d: the exact quotient is just under d
    total, shares, minor = Decimal(d) - VIRTUAL_SHARES, Decimal(d - 1), Decimal(d + 1) - VIRTUAL_ASSETS
    book = PoolBook.model_validate({
        "currency": "USD", "total_shares": str(total), "assets": str(minor / 100), "nav_per_share": "1",
        "fees_owed": "0", "hwm": "0",
        "contributors": {"C1": {"shares": str(shares), "cost_basis": "1.00", "since": "2026-01-01T00:00:00Z"}}})
    exact_minor = ((d - 1) * (d + 1)) // d  # Python ints: exact (d - 1)
    assert register(book)[0]["value"] == Decimal(exact_minor) / 100
