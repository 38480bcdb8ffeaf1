"""No money is created or lost: every account rebuilt from the trade log alone.

tests/money_audit.py replays a home's hash-chained trade log with its own arithmetic
(FIFO lots, the paper broker's cash rule, the share formula, fee rounding) from the memory
files the home started with, and compares what it rebuilt with portfolio.json,
pnl_summary.json and pnl_ledger.jsonl to the minor unit: vault model accounts, Core Vault
cash, each sleeve's cash, lots, allocation, returned profit and carry, realized PnL and
trading fees, fee marks and charges, pooled vaults' share registers and payouts; and that
the home as a whole holds (cash plus cost of open lots) exactly what it started with, plus
realized PnL, plus deposits, less withdrawals and pool fees paid out.

It runs over the example home for two months of daily cycles (month-end flat fees and
top-ups), synthetic homes in every sizing mode (made by `vanta init --followers ...` and
by hand, with small-order carry), Quiet/Flash sleeves in USDC (sweeps, micro-unit
rounding), pooled vaults with random deposits and withdrawals, a reject, a live account
whose balances drift (the truth stage's corrections and fees paid in coins), and
generated homes (hypothesis). Each home is audited after several of its cycles.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from money_audit import Audit, read, read_lines, start_of

from vanta import canonical
from vanta.cycle import run_cycle
from vanta.errors import InputError
from vanta.home import Home
from vanta.init import example_files, synthetic_files, write_home
from vanta.pool_admin import request


def day(n: int) -> str:
    """The n-th day from 2026-11-01 (n = 1), across month ends."""
    from datetime import UTC, datetime, timedelta

    return (datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=n - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def audit(root: Path, start: dict[str, Any]) -> Audit:
    a = Audit(start).run(read_lines(root / "memory" / "trade_log.jsonl"))
    a.check(root)
    return a


def run_and_audit(root: Path, cycles: int, every: int, first: int = 1) -> Audit:
    """Run `cycles` daily cycles on the home at `root` (written, no cycle yet), auditing
    after every `every` of them and after the last."""
    start = start_of(root)
    a = None
    for c in range(first, first + cycles):
        run_cycle(Home(root), day(c))
        if (c - first + 1) % every == 0 or c == first + cycles - 1:
            a = audit(root, start)
    assert a is not None
    return a


def test_example_home_two_months(tmp_path: Path) -> None:
    """45 daily cycles; a follower onboarded on day 10 with a paper wallet of its own."""
    from vanta.onboard import onboard

    root = tmp_path / "home"
    write_home(root, example_files(), force=False)
    start = start_of(root)
    for c in range(1, 46):
        run_cycle(Home(root), day(c))
        if c == 10:
            packet = tmp_path / "packet.json"
            packet.write_text(json.dumps({
                "user_id": "F_9001", "vault_id": "V_CORE", "fee_model": {"perf_share": "0.25"},
                "brokers": {"equities": {"adapter": "paper", "account_ref": "paper:F_9001"}},
                "paper_balance": {"USD": "25000.37"}}))
            onboard(Home(root), packet, asof=day(c)[:11] + "12:00:00Z")
        if c % 15 == 0:
            a = audit(root, start)
    assert a.counts["fill"] > 500 and a.counts["allocation"] > 0 and a.counts["registry_update"] == 1
    assert any(d["user_id"] == "F_9001" for d in a.fee_events)
    assert {d["charge"] for d in a.fee_events} == {"performance"}


FEE_MODELS = [{"type": "performance_or_flat", "flat_usd": "9.99", "perf_share": "0.2"},
              {"type": "flat", "flat_usd": "12.345"}, {"perf_share": "0.125"}]


@pytest.mark.parametrize("mode", ["proportional", "fixed_ratio", "fixed_amount", "target", "scaled_trades"])
def test_synthetic_home_every_mode(tmp_path: Path, mode: str) -> None:
    root = tmp_path / "home"
    out = subprocess.run([sys.executable, "-m", "vanta", "init", str(root), "--followers", "12", "--symbols", "4",
                          "--seed", "11", "--mode", mode], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # every fee type, so that the month closing on day 31 bills flat fees and top-ups
    reg = read(root, "mirror_registry.json")
    for i, f in enumerate(reg["followers"]):
        f["fee_model"] = FEE_MODELS[i % len(FEE_MODELS)]
    (root / "memory" / "mirror_registry.json").write_bytes(canonical.dumps(reg))
    a = run_and_audit(root, 12, every=6, first=25)
    assert a.counts["follower_fill"] > 0
    assert {d["charge"] for d in a.fee_events} >= {"flat", "topup"}


@pytest.mark.parametrize("mode", ["proportional", "fixed_amount", "scaled_trades"])
def test_small_order_carry(tmp_path: Path, mode: str) -> None:
    """Tiny sleeves beside a big vault: child orders under the min notional are carried."""
    files = synthetic_files(6, 3, 5, mode)
    v = files["vault.json"]["vaults"][0]
    v["mirroring"]["small_orders"] = "accumulate"
    v["strategy"] = {"kind": "momentum", "lookback": 1, "full_scale": "0.01"}
    v["mirroring"]["min_account_equity"] = "0"
    for m in files["vault.json"]["markets"].values():
        m["min_notional"] = "400"
    for f in files["portfolio.json"]["followers"].values():
        f["USD"]["cash"] = "1500.37"
    if mode == "fixed_amount":
        for f in files["mirror_registry.json"]["followers"]:
            f["cores"][0]["sleeves"][0]["amount"] = "170"
    write_home(tmp_path, files, force=False)
    a = run_and_audit(tmp_path, 10, every=5)
    assert a.counts["child_skipped"] > 0 and a.counts["child_order"] > 0


def test_quiet_flash_in_usdc(tmp_path: Path) -> None:
    """Seed 001's layout in a micro-unit currency: Flash sweeps its profit on full closes."""
    from test_sleeves import seed_001_usdc

    sc = seed_001_usdc(tmp_path, {"ETH": ["2000", "2210.5", "2307.77", "1999.01", "2100", "2405.3", "2222.2", "2300"],
                                  "SOL": ["100", "97.3", "103.31", "111.1", "90.07", "99", "121.2", "101"]})
    start = start_of(tmp_path)
    for eth, sol in (("0.6", "0.3"), ("0.6", "-1"), ("-1", "-1"), ("0.5", "0.5"), ("0.2", "0.7"), ("-1", "-1"),
                     ("1", "0"), ("-1", "-1")):
        sc.cycle({"V": {"ETH": eth, "SOL": sol}})
    a = audit(tmp_path, start)
    assert a.counts["flash_sweep"] > 0, dict(a.counts)


def test_a_rejected_sale_leaves_the_books_as_they_were(tmp_path: Path) -> None:
    """A sale whose price less slippage is under one tick is rejected: nothing is booked."""
    from test_sleeves import Scenario, core, sleeve, vault

    sc = Scenario(tmp_path, prices={"AAA": ["5", "0.01", "0.01", "7.77"], "BBB": ["10", "11", "12", "13"]},
                  vaults=[vault("V", ["AAA", "BBB"], execution={"slippage_bps": "100", "fee_bps": "25"})],
                  followers=[{"follower_id": "F", "cores": [core("USD", "F", [sleeve("main")])]}],
                  cash={"F": {"USD": "5000.00"}})
    start = start_of(tmp_path)
    for scores in ({"AAA": "0.5", "BBB": "0.5"}, {"AAA": "-1", "BBB": "0.3"}, {"AAA": "-1", "BBB": "0.3"},
                   {"AAA": "-1", "BBB": "1"}):
        sc.cycle({"V": scores})
    a = audit(tmp_path, start)
    assert a.counts["reject"] > 0 and a.counts["fill"] > 0


def _stamp(minutes: int) -> str:
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    return f"2026-11-{d + 1:02d}T{h:02d}:{m:02d}:00Z"


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_pooled_vault_with_deposits_and_withdrawals(tmp_path: Path, seed: int) -> None:
    """Random deposits (cents included) and withdrawals (whole stakes and odd parts), two
    symbols, manager and attribution fees with and without carried losses, a follower
    mirroring the pool under a performance fee; audited after every cycle, so each mint,
    burn and fee payment is checked against the share formula at that rollover."""
    from test_sleeves import Scenario, core, sleeve, vault

    rng = random.Random(seed)
    prices = [rng.randint(20, 400) for _ in range(24)]
    pooled = {"manager_id": "M", "creator_id": "C", "manager_fee_bps": "1000", "attribution_bps": "500",
              "rollover_hours": 3, "withdrawal_profit_fee": "0.25", "carry_losses": seed % 2 == 0,
              "max_capacity": "50000"}
    sc = Scenario(tmp_path, prices={"ETH": [str(p) for p in prices], "BTC": [str(p * 7 + 3) for p in prices[::-1]]},
                  vaults=[vault("P", ["ETH", "BTC"], pooled=pooled, execution={"fee_bps": "10", "slippage_bps": "7"})],
                  followers=[{"follower_id": "F", "fee_model": {"perf_share": "0.2"},
                              "cores": [core("USD", "F", [sleeve("main", "P")])]}],
                  cash={"F": {"USD": "3000.00"}},
                  vault_cash={"P": f"{rng.randint(100, 5000)}.{rng.randint(0, 99):02d}"})
    start = start_of(tmp_path)
    home, minutes = Home(tmp_path), 0
    for _ in range(22):
        for _ in range(rng.randint(0, 2)):
            minutes += 1
            cents = Decimal(rng.randint(100, 300000)) / 100
            try:
                request(home, "P", rng.choice("ABM"), "deposit", amount_in=cents, asof=_stamp(minutes))
            except InputError:
                pass  # over capacity
        for _ in range(rng.randint(0, 2)):
            minutes += 1
            who = rng.choice("ABM")
            stakes = read(tmp_path, "pnl_summary.json").get("pools", {}).get("P", {}).get("contributors", {})
            held = Decimal(stakes.get(who, {}).get("shares", "0"))
            part = rng.choice([0, 1, 3, 7])
            try:
                if part == 0:
                    request(home, "P", who, "withdraw", everything=True, asof=_stamp(minutes))
                elif held // part > 0:
                    request(home, "P", who, "withdraw", shares=held // part, asof=_stamp(minutes))
            except InputError:
                pass  # no shares, or a withdrawal already pending
        sc.conviction({"P": {"ETH": rng.choice(["1", "0.5", "0.3", "0", "-1"]),
                             "BTC": rng.choice(["1", "0.2", "0", "-1"])}})
        minutes += rng.randint(1, 7) * 60
        run_cycle(home, _stamp(minutes))
        a = audit(tmp_path, start)
    assert a.counts["pool_deposit"] > 5 and a.counts["pool_withdrawal"] > 5 and a.counts["pool_fees_paid"] > 0


def test_live_account_drift_and_fees_in_coins(tmp_path: Path) -> None:
    """A live (ccxt) account whose balances move outside vanta, and whose broker takes fees
    in coins: the truth stage's corrections must say what they moved, sleeve by sleeve and
    to the minor unit, or an auditor cannot rebuild the books (they once named only the
    assets corrected)."""
    from test_ccxt_cycle import KEY, LIVE, cycle, make_home, seeded, wallet

    for fee_asset in (None, "AAPL"):
        home = make_home(tmp_path / (fee_asset or "quote"))
        start = start_of(home.root)
        stub = seeded(home, **({"fee_asset": fee_asset} if fee_asset else {}))
        for n in range(1, 7):
            held = {s: sum(Decimal(q) for q, _ in lots) for s, lots in wallet(home)["positions"].items()}
            if n == 3:  # two cents less than the books: rounding, which the empty Core Vault cannot give up
                stub.holdings[KEY]["USD"] -= Decimal("0.02")
            if n == 4:  # a deposit of cash and coins outside vanta
                stub.holdings[KEY]["USD"] += Decimal("100.005")
                stub.holdings[KEY]["IBM"] = stub.holdings[KEY].get("IBM", Decimal(0)) + Decimal("2")
            if n == 5:  # coins leave outside vanta
                for sym in sorted(held)[:2]:
                    stub.holdings[KEY][sym] -= (held[sym] / 3).quantize(Decimal("0.0001"))
            ctx = cycle(home, day(n), stub)
            if n == 3 and fee_asset is None:
                kinds = [k for k, d in ctx.events if k.startswith("broker_") and d["account"] == f"follower:{LIVE}"]
                assert kinds == ["broker_uncorrected"], kinds  # not also a rounding line that moved nothing
        a = audit(home.root, start)
        assert a.counts["broker_correction"] > 0
        assert fee_asset is None or a.counts["fee_in_kind"] > 0


# ---------------------------------------------------------------- generated homes


MODE_TERMS = {"fixed_ratio": {"ratio": "0.02"}, "fixed_amount": {"amount": "400"}}


@st.composite
def homes(draw: st.DrawFn) -> dict[str, Any]:
    followers, symbols = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    files = synthetic_files(followers, symbols, draw(st.integers(0, 10**6)))
    v = files["vault.json"]["vaults"][0]
    v["strategy"] = {"kind": "momentum", "lookback": 1, "full_scale": "0.01"}
    v["personas"] = ["risk_averse", "aggressive", "contrarian"]
    v["execution"] = {"adapter": "paper", "slippage_bps": draw(st.sampled_from(["0", "5", "33"])),
                      "fee_bps": draw(st.sampled_from(["0", "10", "17.5"]))}
    v["mirroring"]["small_orders"] = draw(st.sampled_from(["skip", "accumulate"]))
    lot = draw(st.sampled_from(["0.0001", "0.00000001", "1", "0.25"]))
    for m in files["vault.json"]["markets"].values():
        m["lot_size"] = lot
        m["min_notional"] = draw(st.sampled_from(["1", "25", "150"]))
    port = files["portfolio.json"]["followers"]
    for f in files["mirror_registry.json"]["followers"]:
        f["fee_model"] = draw(st.sampled_from([{"perf_share": "0.2"}, {"perf_share": "0.333"},
                                               {"type": "performance_or_flat", "flat_usd": "3.33",
                                                "perf_share": "0.15"}]))
        cash = draw(st.integers(50_000, 9_000_000))
        port[f["follower_id"]]["USD"]["cash"] = f"{cash // 100}.{cash % 100:02d}"
        sleeves = []
        for sid, profit in (("flash", "sweep"), ("quiet", "compound"))[:draw(st.integers(1, 2))]:
            mode = draw(st.sampled_from(["proportional", "fixed_ratio", "fixed_amount", "target", "scaled_trades"]))
            sleeves.append({"sleeve_id": sid, "vault_id": "V_SYN", "mode": mode, "profit": profit,
                            "scale": draw(st.sampled_from(["0.5", "1", "3"])), **MODE_TERMS.get(mode, {})})
        core = f["cores"][0]
        core["sleeves"] = sleeves
        if len(sleeves) == 2:
            tradeable = cash * draw(st.sampled_from([50, 90, 100])) // 100
            first = tradeable * draw(st.sampled_from([30, 70])) // 100
            core["tradeable"] = f"{tradeable // 100}.{tradeable % 100:02d}"
            sleeves[0]["allocation"] = f"{first // 100}.{first % 100:02d}"
            sleeves[1]["allocation"] = f"{(tradeable - first) // 100}.{(tradeable - first) % 100:02d}"
    return files


@settings(derandomize=True, database=None, deadline=None, max_examples=8,
          suppress_health_check=[HealthCheck.too_slow])
@given(files=homes(), cycles=st.integers(3, 6))
def test_generated_homes_rebuild_from_their_logs(files: dict[str, Any], cycles: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        write_home(Path(d), files, force=False)
        run_and_audit(Path(d), cycles, every=2, first=25)  # from 2026-11-25: a month closes
