"""Issue #4, must-hold: a hypothesis state machine over random sequences of cycles,
prices, deposits, withdrawals and fee crystallizations in a pooled vault P (manager M,
creator C, three contributors) that a follower F also mirrors under a perf_share fee.

After every cycle:
- the pool's assets (its equity at the snapshot, positions rounded down) equal the
  contributors' claims plus fees owed plus what rounding leaves to nobody: the virtual
  shares' part and under one minor unit per holder, never negative;
- the share register adds up, and shares x NAV per share reconcile with assets;
- the pool's cash moved by exactly its fills, deposits, withdrawals and fees paid;
- no profit is charged twice: manager and follower fee entries' gross sums to their
  high-water mark, and each fee is its rate of its gross, rounded down.
At the end every cycle replays byte for byte and verify passes.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from logbooks import D, read_json, read_log
from money_audit import Audit, read_lines, start_of
from test_fees import ledger
from test_sleeves import Scenario, core, sleeve, vault

from vanta.cycle import run_cycle
from vanta.errors import InputError
from vanta.home import Home
from vanta.money import floor
from vanta.pool import VIRTUAL_SHARES, burn, units
from vanta.pool_admin import request
from vanta.replay import replay
from vanta.verify import verify

BARS = 30
CENT = Decimal("0.01")
PEOPLE = ("A", "B", "M")


def stamp(minutes: int) -> str:
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    return f"2026-11-{d + 1:02d}T{h:02d}:{m:02d}:00Z"


class PoolMachine(RuleBasedStateMachine):
    @initialize(prices=st.lists(st.integers(20, 400), min_size=BARS, max_size=BARS),
                cash=st.integers(100, 5000), carry=st.booleans())
    def build(self, prices: list[int], cash: int, carry: bool) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        root = Path(self.tmp.name)
        self.prices = [Decimal(p) for p in prices]
        pooled = {"manager_id": "M", "creator_id": "C", "manager_fee_bps": "1000", "attribution_bps": "500",
                  "rollover_hours": 3, "withdrawal_profit_fee": "0.25", "carry_losses": carry,
                  "max_capacity": "50000"}
        self.sc = Scenario(root, prices={"ETH": [str(p) for p in prices]},
                           vaults=[vault("P", ["ETH"], pooled=pooled, execution={"fee_bps": "10"})],
                           followers=[{"follower_id": "F", "fee_model": {"perf_share": "0.2"},
                                       "cores": [core("USD", "F", [sleeve("main", "P")])]}],
                           cash={"F": {"USD": "3000.00"}}, vault_cash={"P": f"{cash}.00"})
        self.carry = carry
        self.start = start_of(root)
        self.minutes = 0
        self.expected_cash: Decimal | None = None

    def teardown(self) -> None:
        if hasattr(self, "sc"):
            for n in range(1, self.sc.cycles + 1):
                r = replay(Home(self.sc.root), n)
                assert r.ok, (n, r.mismatches)
            assert verify(Home(self.sc.root))[0] == []
            # every account, share and fee rebuilt from the trade log alone (tests/money_audit.py)
            Audit(self.start).run(read_lines(self.sc.root / "memory" / "trade_log.jsonl")).check(self.sc.root)
            self.tmp.cleanup()

    @precondition(lambda self: self.sc.cycles < BARS)
    @rule(deposits=st.lists(st.tuples(st.sampled_from(PEOPLE), st.integers(1, 3000)), max_size=2),
          withdrawals=st.lists(st.tuples(st.sampled_from(PEOPLE), st.sampled_from([0, 1, 3, 10])), max_size=2),
          conviction=st.sampled_from(["1", "0.5", "0", "-1"]), hours=st.integers(1, 7))
    def step(self, deposits: list[tuple[str, int]], withdrawals: list[tuple[str, int]], conviction: str,
             hours: int) -> None:
        """Requests (some refused: over capacity, no shares, too many), then a cycle."""
        for who, amount in deposits:
            self.deposit(who, amount)
        for who, part in withdrawals:
            self.withdraw(who, part)
        self.cycle(conviction, hours)

    def cycle(self, conviction: str, hours: int) -> None:
        self.sc.conviction({"P": {"ETH": conviction}})
        self.minutes += hours * 60
        before = len(read_log(self.sc.root))
        cash0 = D(self.sc.portfolio()["vaults"]["P"]["cash"].get("USD", "0"))
        self.sc.cycles += 1
        run_cycle(Home(self.sc.root), stamp(self.minutes))
        lines = read_log(self.sc.root)[before:]
        self.check_cash(cash0, lines)
        self.check_book()

    def deposit(self, who: str, amount: int) -> None:
        self.minutes += 1
        try:
            request(Home(self.sc.root), "P", who, "deposit", amount_in=Decimal(amount), asof=stamp(self.minutes))
        except InputError:
            pass  # over capacity: refused, nothing written (test_pool checks the message)

    def withdraw(self, who: str, part: int) -> None:
        self.minutes += 1
        stakes = read_json(self.sc.root, "pnl_summary.json").get("pools", {}).get("P", {}).get("contributors", {})
        held = Decimal(stakes.get(who, {}).get("shares", "0"))
        try:
            if part == 0:
                request(Home(self.sc.root), "P", who, "withdraw", everything=True, asof=stamp(self.minutes))
            elif held // part > 0:
                request(Home(self.sc.root), "P", who, "withdraw", shares=held // part, asof=stamp(self.minutes))
        except InputError:
            pass  # no shares, or already pending

    def check_cash(self, cash0: Decimal, lines: list[dict[str, Any]]) -> None:
        def total(kind: str, key: str, **match: str) -> Decimal:
            return sum((D(r["data"][key]) for r in lines if r["kind"] == kind
                        and all(r["data"].get(k) == v for k, v in match.items())), Decimal(0))

        moved = (total("fill", "cash", account="vault:P") + total("pool_deposit", "amount")
                 - total("pool_withdrawal", "gross") - total("pool_fees_paid", "amount"))
        assert D(self.sc.portfolio()["vaults"]["P"]["cash"].get("USD", "0")) == cash0 + moved
        for w in [r["data"] for r in lines if r["kind"] == "pool_withdrawal"]:
            assert D(w["paid"]) + D(w["fee"]) == D(w["gross"])
            rate = Decimal(0) if w["contributor_id"] == "M" else Decimal("0.25")
            assert D(w["fee"]) == floor(max(D(w["gross"]) - D(w["cost_basis"]), Decimal(0)) * rate, CENT)

    def check_book(self) -> None:
        pnl = read_json(self.sc.root, "pnl_summary.json")
        b = pnl["pools"]["P"]
        acct = self.sc.portfolio()["vaults"]["P"]
        price = self.prices[self.sc.cycles - 1]
        qty = sum((D(q) for lots in acct["positions"].values() for q, _ in lots), Decimal(0))
        equity = D(acct["cash"].get("USD", "0")) + floor(qty * price, CENT)
        fees_owed = D(b["fees_owed"])
        assert D(b["assets"]) == equity - fees_owed
        stakes = b["contributors"]
        shares = sum((D(s["shares"]) for s in stakes.values()), Decimal(0))
        assert shares == D(b["total_shares"])
        a_units, s_total = units(D(b["assets"]), "USD"), D(b["total_shares"])
        claims = sum((burn(D(s["shares"]), a_units, s_total) for s in stakes.values()), Decimal(0))
        dust = a_units - claims
        virtual = (VIRTUAL_SHARES * (a_units + 1) / (s_total + VIRTUAL_SHARES))
        holders = sum(1 for s in stakes.values() if D(s["shares"]) > 0)
        assert 0 <= dust < virtual + holders + 1, (dust, virtual, holders)
        if s_total > 0:  # shares x NAV per share (per 10^6 shares, to 1e-8) is the assets, to the rounding
            assert abs(s_total * D(b["nav_per_share"]) / 10**6 - D(b["assets"])) <= s_total / 10**6 * Decimal("1e-8")

    @invariant()
    def no_profit_charged_twice(self) -> None:
        if not hasattr(self, "sc") or self.sc.cycles == 0:
            return
        es = ledger(self.sc.root)
        pnl = read_json(self.sc.root, "pnl_summary.json")
        perf = [e for e in es if e["charge"] == "performance"]
        assert sum((D(e["pnl_gross"]) for e in perf), Decimal(0)) == D(pnl["fees"]["F"]["main"]["hwm"]) \
            if "F" in pnl.get("fees", {}) else not perf
        for e in perf:
            assert D(e["fee_usd"]) == floor(D(e["pnl_gross"]) * Decimal("0.2"), CENT)
            assert D(e["hwm_after"]) - D(e["hwm_before"]) == D(e["pnl_gross"]) > 0
        mgr = [e for e in es if e["charge"] == "manager"]
        for e in mgr:
            assert D(e["fee_usd"]) == floor(D(e["pnl_gross"]) * Decimal("0.10"), CENT)
        if self.carry:
            # Each crystallization lifts the mark by its gross: the grosses never overlap.
            for a, b in itertools.pairwise(mgr):
                assert D(b["hwm_before"]) >= D(a["hwm_after"])
            for e in mgr:
                assert D(e["hwm_after"]) - D(e["hwm_before"]) == D(e["pnl_gross"])


PoolMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("POOL_EXAMPLES", "15")), stateful_step_count=12, derandomize=True,
    database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_pool_machine = PoolMachine.TestCase
