"""Issue #4, part 1: fee models per follower sleeve (seed 000's Revenue Engine).

Scenario homes (tests/test_sleeves.py) with no trading costs, so every realized
figure is chosen here: vault V and follower F hold the same cash, so F's sleeve
mirrors V one for one. Each test reads the ledger, pnl_summary.json's fee state and
the trade log, then replays every cycle and runs verify.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logbooks import D, read_json, read_log
from test_sleeves import Scenario, core, sleeve, vault

from vanta.cycle import run_cycle
from vanta.errors import InputError
from vanta.home import Home
from vanta.models import FeeTerms, Follower, SleeveFees
from vanta.stages.fees import _Biller, _close_months, _performance, next_month


def ledger(root: Path) -> list[dict[str, Any]]:
    raw = (root / "memory" / "pnl_ledger.jsonl").read_bytes()
    return [json.loads(line) for line in raw.split(b"\n")[:-1]]


def home(root: Path, prices: list[str], fee: dict[str, Any], *, cash: str = "100000.00",
         **follower: Any) -> Scenario:
    return Scenario(root, prices={"ETH": prices}, vaults=[vault("V", ["ETH"])],
                    followers=[{"follower_id": "F", "fee_model": fee,
                                "cores": [core("USD", "F", [sleeve("main")])], **follower}],
                    cash={"F": {"USD": cash}}, vault_cash={"V": cash})


def at(sc: Scenario, when: str, scores: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """Run the next cycle at `when` (any instant, so months can turn)."""
    if scores is not None:
        sc.conviction(scores)
    before = len(read_log(sc.root))
    sc.cycles += 1
    run_cycle(Home(sc.root), when)
    return read_log(sc.root)[before:]


BUY = {"V": {"ETH": "1"}}
SELL = {"V": {"ETH": "-1"}}


def state(sc: Scenario) -> dict[str, Any]:
    fees: dict[str, Any] = read_json(sc.root, "pnl_summary.json")["fees"]["F"]["main"]
    return fees


def test_seed_000_example_5000_at_20_percent_is_1000(tmp_path: Path) -> None:
    """Buy 1,000 ETH at 100, sell at 105: realized 5,000, fee 1,000 (seed 000's ledger line)."""
    sc = home(tmp_path, ["100", "105"], {"perf_share": "0.20"})
    sc.cycle(BUY)
    assert ledger(tmp_path) == []  # no realized profit, no fee (the position is not charged)
    lines = sc.cycle(SELL)
    [e] = ledger(tmp_path)
    assert (e["user_id"], e["vault_id"], e["sleeve"], e["fee_type"], e["charge"]) == \
        ("F", "V", "main", "perf_share", "performance")
    assert (D(e["pnl_gross"]), D(e["fee_usd"]), e["asof"], e["cycle"]) == (5000, 1000, "2026-11-02T00:00:00Z", 2)
    assert (D(e["hwm_before"]), D(e["hwm_after"]), e["currency"], e["period"]) == (0, 5000, "USD", "2026-11")
    # Traceable: the entry names the sell that realized it, and the log holds both.
    fills = [r["data"] for r in lines if r["kind"] == "fill" and r["data"]["account"] == "follower:F"]
    assert e["orders"] == [f["client_order_id"] for f in fills] and D(fills[0]["realized"]) == 5000
    [fee_event] = [r["data"] for r in lines if r["kind"] == "fee"]
    assert fee_event["entry_id"] == e["entry_id"] == "2-1" and D(fee_event["fee"]) == 1000
    st = state(sc)
    assert (D(st["hwm"]), D(st["charged"]), D(st["month_perf"])) == (5000, 1000, 1000)
    # The fee is a claim: the follower's cash is untouched (100,000 + 5,000 realized).
    assert D(sc.portfolio()["followers"]["F"]["USD"]["sleeves"]["main"]["cash"]["USD"]) == Decimal("105000.00")
    sc.replays()


def test_high_water_mark_no_fee_under_water_nor_twice(tmp_path: Path) -> None:
    """Round trips of 1,000 ETH at 100 (then 1,050, 1,018.5, 1,038.87 as cash compounds):
    +5,000 (fee 1,000); -3,150 (cumulative 1,850, under water: none); +2,037 (3,887, still
    under the mark of 5,000: none); +2,077.74 (5,964.74: 964.74 above the mark, fee 192.94)."""
    sc = home(tmp_path, ["100", "105", "100", "97", "100", "102", "100", "102"], {"perf_share": "0.2"})
    cumulative = []
    for _ in range(4):
        sc.cycle(BUY)
        sc.cycle(SELL)
        cumulative.append(D(sc.pnl()["followers"]["F"]["USD"]["sleeves"]["main"]["realized_pnl"]))
    assert cumulative == [5000, 1850, 3887, Decimal("5964.74")]
    es = ledger(tmp_path)
    assert [(D(e["pnl_gross"]), D(e["fee_usd"]), D(e["hwm_before"]), D(e["hwm_after"]), e["cycle"]) for e in es] == \
        [(5000, 1000, 0, 5000, 2), (Decimal("964.74"), Decimal("192.94"), 5000, Decimal("5964.74"), 8)]
    # No profit charged twice: the gross of all entries is the mark, and never more than realized.
    assert sum(D(e["pnl_gross"]) for e in es) == D(state(sc)["hwm"]) == cumulative[-1]
    sc.replays()


def test_fee_rounds_down_to_the_minor_unit(tmp_path: Path) -> None:
    """Realized 0.99 x 1,000 ... a profit of 3.33 at 20% is 0.666: charged 0.66."""
    sc = home(tmp_path, ["100", "100.01"], {"perf_share": "0.2"}, cash="33300.00")
    sc.cycle(BUY)
    sc.cycle(SELL)
    [e] = ledger(tmp_path)
    assert D(e["pnl_gross"]) == Decimal("3.33") and e["fee_usd"] == "0.66"


def test_flat_fee_per_calendar_month_charged_by_the_next_months_first_cycle(tmp_path: Path) -> None:
    sc = home(tmp_path, ["100", "110", "110", "110"], {"type": "flat", "flat_usd": "2000"})
    at(sc, "2026-09-15T00:00:00Z", BUY)
    at(sc, "2026-09-30T00:00:00Z", SELL)  # realized 10,000: a flat fee has no performance part
    assert ledger(tmp_path) == []
    at(sc, "2026-10-01T00:00:00Z")
    at(sc, "2026-12-02T00:00:00Z")  # October and November close: each billed once
    es = ledger(tmp_path)
    assert [(e["charge"], e["period"], D(e["fee_usd"]), e["cycle"]) for e in es] == \
        [("flat", "2026-09", 2000, 3), ("flat", "2026-10", 2000, 4), ("flat", "2026-11", 2000, 4)]
    assert D(state(sc)["charged"]) == 6000 and state(sc)["month"] == "2026-12"
    # The mark follows realized PnL under a flat fee, so a later perf_share never bills it.
    assert D(state(sc)["hwm"]) == 10000
    sc.replays()


def test_performance_or_flat_tops_up_to_the_flat_fee(tmp_path: Path) -> None:
    """September: performance 1,000 < flat 2,000: a top-up of 1,000. October: performance
    3,150 >= 2,000: no top-up. November's first cycle bills October."""
    sc = home(tmp_path, ["100", "105", "100", "115", "115"],
              {"type": "performance_or_flat", "flat_usd": "2000", "perf_share": "0.2"})
    at(sc, "2026-09-10T00:00:00Z", BUY)
    at(sc, "2026-09-20T00:00:00Z", SELL)  # +5,000: 1,000
    at(sc, "2026-10-01T00:00:00Z", BUY)  # September closes: top-up 1,000
    at(sc, "2026-10-20T00:00:00Z", SELL)  # 1,050 ETH x +15 = +15,750: 3,150
    at(sc, "2026-11-01T00:00:00Z")
    es = ledger(tmp_path)
    assert [(e["charge"], e["period"], D(e["pnl_gross"]), D(e["fee_usd"])) for e in es] == [
        ("performance", "2026-09", 5000, 1000), ("topup", "2026-09", 5000, 1000),
        ("performance", "2026-10", 15750, 3150)]
    assert all(e["fee_type"] == "performance_or_flat" for e in es)
    # Every month pays at least the flat fee and no more than the greater of the two.
    assert D(state(sc)["charged"]) == 2000 + 3150
    sc.replays()


def test_offboarded_follower_keeps_earned_fees_but_pays_no_flat(tmp_path: Path) -> None:
    """Performance 2,000 in September under a 5,000 flat floor; offboarded before October's
    first cycle, the follower owes no top-up for September (nor any later month)."""
    sc = home(tmp_path, ["100", "110", "110", "110"], {"type": "performance_or_flat", "flat_usd": "5000"})
    at(sc, "2026-09-10T00:00:00Z", BUY)
    at(sc, "2026-09-20T00:00:00Z", SELL)  # realized 10,000: 2,000
    reg = sc.registry()
    reg["followers"][0]["status"] = "offboarded"
    sc.set_registry(reg)
    at(sc, "2026-10-10T00:00:00Z")
    at(sc, "2026-11-10T00:00:00Z")
    assert [(e["charge"], D(e["fee_usd"])) for e in ledger(tmp_path)] == [("performance", 2000)]
    assert state(sc)["month"] == "2026-11"


def test_flat_fee_needs_an_amount(tmp_path: Path) -> None:
    sc = home(tmp_path, ["100"], {"perf_share": "0.2"})
    reg = sc.registry()
    reg["followers"][0]["fee_model"] = {"type": "flat"}
    sc.write("mirror_registry.json", reg)
    with pytest.raises(InputError) as e:
        run_cycle(Home(tmp_path), "2026-11-01T00:00:00Z")
    assert "flat_usd" in str(e.value) and "mirror_registry.json" in str(e.value)
    assert ledger(tmp_path) == [] and read_log(tmp_path) == []


def test_next_month() -> None:
    assert [next_month(m) for m in ("2026-01", "2026-11", "2026-12")] == ["2026-02", "2026-12", "2027-01"]


def test_a_sleeve_fee_overrides_the_followers(tmp_path: Path) -> None:
    """Quiet on the follower's perf_share 20%, Flash with its own 50%: each sleeve is billed
    on its own realized PnL and mark, under its own terms."""
    sc = Scenario(tmp_path, prices={"ETH": ["100", "110"]}, vaults=[vault("V", ["ETH"])],
                  followers=[{"follower_id": "F", "fee_model": {"perf_share": "0.2"}, "cores": [core("USD", "F", [
                      sleeve("quiet", allocation="50000"),
                      sleeve("flash", allocation="50000", fee={"perf_share": "0.5"})], tradeable="100000")]}],
                  cash={"F": {"USD": "100000.00"}}, vault_cash={"V": "100000.00"})
    sc.cycle(BUY)
    sc.cycle(SELL)
    es = {e["sleeve"]: e for e in ledger(tmp_path)}
    pnl = sc.pnl()["followers"]["F"]["USD"]["sleeves"]
    assert D(pnl["quiet"]["realized_pnl"]) == D(pnl["flash"]["realized_pnl"]) == 5000
    assert (D(es["quiet"]["fee_usd"]), D(es["flash"]["fee_usd"])) == (1000, 2500)
    fees = read_json(tmp_path, "pnl_summary.json")["fees"]["F"]
    assert (D(fees["quiet"]["charged"]), D(fees["flash"]["charged"])) == (1000, 2500)
    sc.replays()


# ---------------------------------------------------------------- the rules, over random histories

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(kind=st.sampled_from(["perf_share", "flat", "performance_or_flat"]),
       share=st.sampled_from(["0", "0.1", "0.2", "0.333"]), flat=st.sampled_from(["0", "100", "2000.005"]),
       steps=st.lists(st.tuples(st.integers(0, 5), st.integers(-500000, 500000)), min_size=1, max_size=25))
def test_fee_rules_over_random_histories(kind: str, share: str, flat: str, steps: list[tuple[int, int]]) -> None:
    """Cycles in non-decreasing months with any cumulative realized PnL (in cents): the
    performance grosses sum to the best realized figure above zero (never twice, never under
    water), each fee is its share rounded down, and every closed month pays the flat fee
    (flat) or the greater of its performance fees and the flat fee (performance_or_flat)."""
    terms = FeeTerms.model_validate({"type": kind, "perf_share": share, **({} if kind == "perf_share" else
                                                                          {"flat_usd": flat})})
    f = Follower.model_validate({"follower_id": "F", "fee_model": terms.to_json()})
    steps = sorted(steps, key=lambda s: s[0])
    z = Decimal("0.00")
    state = SleeveFees.make(currency="USD", hwm=z, charged=z, month=MONTHS[steps[0][0]], month_perf=z, month_profit=z)
    b = _Biller(1, "2026-01-01T00:00:00Z", {})
    best = Decimal(0)
    for m, cents in steps:
        realized = Decimal(cents) / 100
        state = _close_months(b, f, terms, "s", "V", state, MONTHS[m])
        state = _performance(b, f, terms, "s", "V", state, realized)
        best = max(best, realized)
    perf = [e for e in b.entries if e.charge == "performance"]
    assert state.hwm == best
    if kind != "flat":
        assert sum((e.pnl_gross for e in perf), Decimal(0)) == best
    assert all(e.fee_usd == (e.pnl_gross * Decimal(share)).quantize(Decimal("0.01"), rounding="ROUND_FLOOR")
               for e in perf)
    assert state.charged == sum((e.fee_usd for e in b.entries), Decimal(0))
    closed = MONTHS[steps[0][0]:steps[-1][0]]
    flat_cents = Decimal(flat).quantize(Decimal("0.01"), rounding="ROUND_FLOOR")
    for month in closed:
        paid = sum((e.fee_usd for e in b.entries if e.period == month), Decimal(0))
        month_perf = sum((e.fee_usd for e in perf if e.period == month), Decimal(0))
        want = {"perf_share": month_perf, "flat": flat_cents, "performance_or_flat": max(month_perf, flat_cents)}
        assert paid == want[kind], (month, paid, want)
