"""Issue #3, must-hold: Core Vaults split into sleeves.

Homes are built from dicts (vanta.init.write_home), driven in-process cycle by cycle
(vanta.cycle.run_cycle), and judged by memory/*.json and the trade log's events.
Scenario homes read a `csv` feed written into the home and a `conviction_file`
vault whose conviction_score.json the test rewrites between cycles, so every buy,
sell and price is chosen here. tests/logbooks.py rebuilds every book from the log
and checks each child order against its sleeve's mode and the follower's caps.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logbooks import D, LogBooks, check_home, down, read_json, read_log
from typer.testing import CliRunner

from vanta import canonical
from vanta.cli import app
from vanta.cycle import run_cycle
from vanta.home import Home
from vanta.init import MODES, example_files, synthetic_files, write_home
from vanta.money import WEIGHT_STEP
from vanta.replay import replay
from vanta.sizing import tracking_error
from vanta.stages.targets import persona_weights, weights
from vanta.verify import verify

PROPS = settings(derandomize=True, database=None, deadline=None, max_examples=25,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ---------------------------------------------------------------- building scenario homes


def asof(n: int) -> str:
    return f"2026-11-{n:02d}T00:00:00Z"


def market(quote: str = "USD", lot: str = "0.0001", tick: str = "0.01", min_notional: str = "1") -> dict[str, str]:
    return {"quote": quote, "lot_size": lot, "tick_size": tick, "min_notional": min_notional}


def vault(vid: str, universe: list[str], base: str = "USD", **extra: Any) -> dict[str, Any]:
    v: dict[str, Any] = {"vault_id": vid, "base_currency": base, "universe": universe,
                         "risk": {"max_drawdown": "0.5", "max_single_pos_pct": "1", "rebalance_band": "0"},
                         "strategy": {"kind": "conviction_file"},
                         "execution": {"adapter": "paper", "slippage_bps": "0", "fee_bps": "0"}}
    for k, x in extra.items():
        v[k] = {**v[k], **x} if isinstance(x, dict) and isinstance(v.get(k), dict) else x
    return v


def sleeve(sid: str, vid: str = "V", mode: str = "proportional", **extra: Any) -> dict[str, Any]:
    return {"sleeve_id": sid, "vault_id": vid, "mode": mode, **extra}


def core(quote: str, fid: str, sleeves: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"quote": quote, "account": {"adapter": "paper", "account_ref": f"paper:{fid}"}, "sleeves": sleeves,
            **extra}


class Scenario:
    """A home under test: its files, a csv feed, and the conviction it is given."""

    def __init__(self, root: Path, *, prices: dict[str, list[str]], vaults: list[dict[str, Any]],
                 followers: list[dict[str, Any]], cash: dict[str, dict[str, str]],
                 vault_cash: dict[str, str] | None = None, markets: dict[str, dict[str, str]] | None = None,
                 overlay: dict[str, Any] | None = None, sleeve_books: dict[str, dict[str, Any]] | None = None,
                 pnl_followers: dict[str, Any] | None = None) -> None:
        self.root = root
        bars = len(next(iter(prices.values())))
        lines = ["date,symbol,close"] + [f"2026-01-{b + 1:02d},{s},{p[b]}" for b in range(bars)
                                         for s, p in sorted(prices.items())]
        root.mkdir(parents=True, exist_ok=True)
        (root / "bars.csv").write_text("\n".join(lines) + "\n")
        base = {v["vault_id"]: v["base_currency"] for v in vaults}
        self.files: dict[str, Any] = {
            "vault.json": {"schema": "vanta.vault/1",
                           "market_data": {"source": "csv", "path": "bars.csv", "start_bar": 0},
                           "markets": markets or {s: market() for s in prices},
                           "vaults": vaults},
            "vault_overlay.json": {"schema": "vanta.vault_overlay/1", "global_kill_switch": False,
                                   "vaults": overlay or {}},
            "conviction_score.json": {"schema": "vanta.conviction_score/1", "scores": {}},
            "vault_allocation.json": {"schema": "vanta.vault_allocation/1", "cycle": 0, "vaults": {}},
            "mirror_registry.json": {"schema": "vanta.mirror_registry/2", "followers": followers},
            "portfolio.json": {"schema": "vanta.portfolio/2", "cycle": 0,
                               "vaults": {vid: {"cash": {base[vid]: c}, "positions": {}}
                                          for vid, c in (vault_cash or {v: "100000.00" for v in base}).items()},
                               "followers": {fid: {q: {"cash": c, **({"sleeves": sleeve_books[fid]}
                                                                     if sleeve_books and fid in sleeve_books
                                                                     else {})}
                                                   for q, c in per.items()} for fid, per in cash.items()}},
            "pnl_summary.json": {"schema": "vanta.pnl_summary/2", "cycle": 0, "vaults": {},
                                 "followers": pnl_followers or {}},
            "autotrade_queue.json": {"schema": "vanta.autotrade_queue/1", "orders": []},
        }
        write_home(root, self.files, force=False)
        self.cycles = 0
        self.registries: dict[int, list[dict[str, Any]]] = {}

    def write(self, name: str, doc: Any) -> None:
        (self.root / "memory" / name).write_bytes(canonical.dumps(doc))

    def conviction(self, scores: dict[str, dict[str, str]]) -> None:
        self.write("conviction_score.json", {"schema": "vanta.conviction_score/1", "scores": {
            vid: {s: {"score": c, "source": "test"} for s, c in per.items()} for vid, per in scores.items()}})

    def registry(self) -> dict[str, Any]:
        return read_json(self.root, "mirror_registry.json")

    def set_registry(self, reg: dict[str, Any]) -> None:
        self.write("mirror_registry.json", reg)
        self.registries[self.cycles + 1] = copy.deepcopy(reg["followers"])

    def cycle(self, scores: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
        """Run the next cycle (with this conviction, if given); returns its log lines."""
        if scores is not None:
            self.conviction(scores)
        before = len(read_log(self.root))
        self.cycles += 1
        run_cycle(Home(self.root), asof(self.cycles))
        return read_log(self.root)[before:]

    def portfolio(self) -> dict[str, Any]:
        return read_json(self.root, "portfolio.json")

    def pnl(self) -> dict[str, Any]:
        return read_json(self.root, "pnl_summary.json")

    def replays(self) -> None:
        """Every cycle so far replays byte for byte, and verify passes."""
        for n in range(1, self.cycles + 1):
            r = replay(Home(self.root), n)
            assert r.ok, (n, r.mismatches)
        assert verify(Home(self.root))[0] == []

    def books(self, *, replays: bool = False) -> LogBooks:
        if replays:
            self.replays()
        b = LogBooks(self.files)
        for rec in read_log(self.root):
            if rec["kind"] == "cycle_start" and rec["cycle"] in self.registries:
                b.set_registry(self.registries[rec["cycle"]])
            b.cycle, b.asof = rec["cycle"], rec["asof"]
            b.event(rec["kind"], rec["data"])
        b.check_final(self.root)
        return b


def events(lines: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    return [r["data"] for r in lines if r["kind"] == kind and all(r["data"].get(k) == v for k, v in match.items())]


def sleeve_book(port: dict[str, Any], fid: str, sid: str, quote: str = "USD") -> dict[str, Any]:
    return port["followers"][fid][quote]["sleeves"][sid]


def cost(book: dict[str, Any]) -> Decimal:
    return sum((D(c) for lots in book["positions"].values() for _, c in lots), Decimal(0))


# ---------------------------------------------------------------- Quiet / Flash: the sweep


def quiet_flash(root: Path, prices: list[str], *, fee_bps: str = "10", quote: str = "USD",
                flash_mode: str = "scaled_trades", **vault_extra: Any) -> Scenario:
    """Seed 001's Core Vault (x 1000): 20,012.53 total, 15,000 tradeable, Quiet 10,000
    (compounds), Flash 5,000 (sweeps); both follow vault V, which trades ETH."""
    return Scenario(
        root, prices={"ETH": prices},
        vaults=[vault("V", ["ETH"], execution={"slippage_bps": "5", "fee_bps": fee_bps}, **vault_extra)],
        followers=[{"follower_id": "F", "cores": [core(quote, "F", [
            sleeve("quiet", allocation="10000", profit="compound"),
            sleeve("flash", mode=flash_mode, allocation="5000", profit="sweep")], tradeable="15000")]}],
        cash={"F": {quote: "20012.53"}})


def test_flash_sweeps_profit_to_the_core_vault_on_a_full_close(tmp_path: Path) -> None:
    sc = quiet_flash(tmp_path, ["100", "110", "125", "125"], risk={"rebalance_band": "0.05"})
    buy = sc.cycle({"V": {"ETH": "1"}})
    assert events(buy, "child_order", sleeve="flash", side="buy") and events(buy, "child_order", sleeve="quiet")
    port = sc.portfolio()
    assert D(port["followers"]["F"]["USD"]["cash"]) == D("5012.53")
    flash = sleeve_book(port, "F", "flash")
    assert flash["positions"] and D(flash["allocated"]) == 5000
    hold = sc.cycle()  # 110: inside the rebalance band, no order
    assert events(hold, "child_order") == [] and events(hold, "vault_order") == []
    sell = sc.cycle({"V": {"ETH": "-1"}})  # the vault closes ETH at 125: a profit
    fills = events(sell, "fill", sleeve="flash", side="sell")
    assert len(fills) == 1
    profit = D(fills[0]["realized"])
    assert profit > 0 and D(fills[0]["qty"]) == sum(D(q) for q, _ in flash["positions"]["ETH"])
    sweeps = events(sell, "flash_sweep", sleeve="flash")
    assert [D(s["amount"]) for s in sweeps] == [profit]
    port, pnl = sc.portfolio(), sc.pnl()
    flash, quiet = sleeve_book(port, "F", "flash"), sleeve_book(port, "F", "quiet")
    assert flash["positions"] == {} and D(flash["cash"]["USD"]) == D("5000") == D(flash["allocated"])
    assert D(flash["returned"]) == profit
    assert D(port["followers"]["F"]["USD"]["cash"]) == D("5012.53") + profit
    # Quiet closed too, and keeps its profit
    q_profit = sum(D(f["realized"]) for f in events(sell, "fill", sleeve="quiet"))
    assert q_profit > 0 and quiet["positions"] == {}
    assert D(quiet["cash"]["USD"]) == D("10000") + q_profit and D(quiet["returned"]) == 0
    cp = pnl["followers"]["F"]["USD"]
    assert D(cp["returned"]) == profit and D(cp["sleeves"]["flash"]["returned"]) == profit
    assert D(cp["core_cash"]) == D("5012.53") + profit
    assert D(cp["total_coins"]) == D("20012.53") + profit + q_profit
    sc.books(replays=True)


def test_flash_full_close_at_a_loss_sweeps_nothing_and_partial_sells_never_sweep(tmp_path: Path) -> None:
    sc = quiet_flash(tmp_path, ["100", "130", "120", "80"])
    sc.cycle({"V": {"ETH": "1"}})
    part = sc.cycle({"V": {"ETH": "0.5"}})  # 130: the vault sells about half, at a profit
    assert events(part, "fill", sleeve="flash", side="sell") and events(part, "flash_sweep") == []
    flash = sleeve_book(sc.portfolio(), "F", "flash")
    assert flash["positions"] and D(flash["returned"]) == 0
    close = sc.cycle({"V": {"ETH": "0"}})  # 120: closed, still above the 100 it was bought at
    closed = sleeve_book(sc.portfolio(), "F", "flash")
    realized = D(sc.pnl()["followers"]["F"]["USD"]["sleeves"]["flash"]["realized_pnl"])
    assert closed["positions"] == {} and realized > 0
    # the sweep returns the profit of the partial sale too: everything above the allocation
    assert [D(s["amount"]) for s in events(close, "flash_sweep")] == [realized]
    assert D(closed["cash"]["USD"]) == 5000 and D(closed["returned"]) == realized
    sc2 = quiet_flash(tmp_path / "loss", ["100", "80", "80"])  # a full close at a loss
    sc2.cycle({"V": {"ETH": "1"}})
    down_ = sc2.cycle({"V": {"ETH": "-1"}})
    assert events(down_, "fill", sleeve="flash", side="sell") and events(down_, "flash_sweep") == []
    flash = sleeve_book(sc2.portfolio(), "F", "flash")
    assert flash["positions"] == {} and D(flash["cash"]["USD"]) < 5000 and D(flash["returned"]) == 0
    assert D(sc2.portfolio()["followers"]["F"]["USD"]["cash"]) == D("5012.53")
    sc.books(replays=True)
    sc2.books(replays=True)


# ---------------------------------------------------------------- seed 001's example, in USDC


def seed_001_usdc(tmp_path: Path, prices: dict[str, list[str]]) -> Scenario:
    """Seed 001's Core Vault in USDC (6 decimals): total 20.01253, tradeable 15, Quiet 10
    (compounds) and Flash 5 (sweeps), following vault V on ETH and SOL at `prices`."""
    usdc = market("USDC", lot="0.000001", tick="0.000001", min_notional="0")
    return Scenario(
        tmp_path, prices=prices, markets={"ETH": usdc, "SOL": usdc},
        vaults=[vault("V", ["ETH", "SOL"], base="USDC", execution={"slippage_bps": "5", "fee_bps": "10"})],
        followers=[{"follower_id": "F", "cores": [core("USDC", "F", [
            sleeve("quiet", allocation="10", profit="compound"),
            sleeve("flash", mode="scaled_trades", allocation="5", profit="sweep")], tradeable="15")]}],
        cash={"F": {"USDC": "20.01253"}}, vault_cash={"V": "100000.000000"})


def test_seed_001_core_vault_in_usdc(tmp_path: Path) -> None:
    """Total 20.01253 USDC, tradeable 15, Quiet 10, Flash 5 (USDC has 6 decimals)."""
    sc = seed_001_usdc(tmp_path, {"ETH": ["2000", "2000", "2100"], "SOL": ["100", "100", "90"]})
    idle = sc.cycle({"V": {"ETH": "-0.5"}})  # no buy yet: the allocation waits for one
    assert events(idle, "allocation") == [] and events(idle, "child_order") == []
    cp = sc.pnl()["followers"]["F"]["USDC"]
    assert (D(cp["total_coins"]), D(cp["tradeable"]), D(cp["core_cash"])) == (D("20.01253"), 15, D("20.01253"))
    buy = sc.cycle({"V": {"ETH": "0.6", "SOL": "0.3"}})
    moves = {a["sleeve"]: (D(a["before"]), D(a["after"]), D(a["moved"])) for a in events(buy, "allocation")}
    assert moves == {"quiet": (0, 10, 10), "flash": (0, 5, 5)}
    assert {(o["sleeve"], o["symbol"]) for o in events(buy, "child_order")} == {
        (s, x) for s in ("quiet", "flash") for x in ("ETH", "SOL")}
    port = sc.portfolio()
    assert D(port["followers"]["F"]["USDC"]["cash"]) == D("5.01253")
    books = {sid: sleeve_book(port, "F", sid, "USDC") for sid in ("quiet", "flash")}
    assert {sid: D(b["allocated"]) for sid, b in books.items()} == {"quiet": 10, "flash": 5}
    # each sleeve spent only its own allocation: cash + cost of its lots is what it was given
    assert {sid: D(b["cash"]["USDC"]) + cost(b) for sid, b in books.items()} == {"quiet": 10, "flash": 5}
    cp = sc.pnl()["followers"]["F"]["USDC"]
    assert D(cp["tradeable"]) == 15 and D(cp["core_cash"]) == D("5.01253")
    assert D(cp["total_coins"]) == D("5.01253") + sum(D(b["cash"]["USDC"]) for b in books.values())
    assert D(cp["total_coins"]) + sum(cost(b) for b in books.values()) == D("20.01253")
    assert D(cp["equity"]) == D(cp["total_coins"]) + sum(D(p["market_value"]) for p in cp["sleeves"].values())
    for raw in (tmp_path / "memory" / "portfolio.json", tmp_path / "memory" / "pnl_summary.json"):
        assert '"5.012530"' in raw.read_text() or '"5.01253"' in raw.read_text()
    sc.cycle()
    sc.books(replays=True)


# ---------------------------------------------------------------- kill switch, pause, allocation, quote


def two_symbols(root: Path, followers: list[dict[str, Any]], cash: dict[str, dict[str, str]],
                bars: int = 4, **kw: Any) -> Scenario:
    flat = {"AAA": ["100"] * bars, "BBB": ["50"] * bars}
    return Scenario(root, prices=flat, vaults=[vault("V", ["AAA", "BBB"])], followers=followers, cash=cash, **kw)


def test_a_killed_follower_gets_no_order_in_that_same_cycle(tmp_path: Path) -> None:
    sc = two_symbols(tmp_path, [
        {"follower_id": "A", "cores": [core("USD", "A", [sleeve("main")])]},
        {"follower_id": "B", "cores": [core("USD", "B", [sleeve("main")])]}],
        cash={"A": {"USD": "10000.00"}, "B": {"USD": "10000.00"}})
    first = sc.cycle({"V": {"AAA": "0.5", "BBB": "0.5"}})
    assert {o["account"] for o in events(first, "child_order")} == {"follower:A", "follower:B"}
    reg = sc.registry()
    reg["followers"][1]["kill_switch"] = True  # B is killed before the vault sells
    sc.set_registry(reg)
    second = sc.cycle({"V": {"AAA": "-1", "BBB": "1"}})
    assert events(second, "vault_order", side="sell")
    assert {o["account"] for o in events(second, "child_order")} == {"follower:A"}
    assert events(second, "follower_skipped", follower_id="B") == [{"follower_id": "B",
                                                                     "reason": "follower_kill_switch"}]
    assert not [r for r in second if r["kind"] == "fill" and r["data"]["account"] == "follower:B"]
    sc.books(replays=True)


def test_a_paused_sleeve_sells_but_does_not_buy(tmp_path: Path) -> None:
    sc = two_symbols(tmp_path, [{"follower_id": "F", "cores": [core("USD", "F", [
        sleeve("quiet", allocation="6000"), sleeve("flash", allocation="4000", profit="sweep")])]}],
        cash={"F": {"USD": "10000.00"}})
    sc.cycle({"V": {"AAA": "0.5"}})
    reg = sc.registry()
    by_id = {s["sleeve_id"]: s for s in reg["followers"][0]["cores"][0]["sleeves"]}
    by_id["flash"]["paused"] = True
    sc.set_registry(reg)
    lines = sc.cycle({"V": {"AAA": "-1", "BBB": "0.5"}})
    flash = {(o["symbol"], o["side"]) for o in events(lines, "child_order", sleeve="flash")}
    quiet = {(o["symbol"], o["side"]) for o in events(lines, "child_order", sleeve="quiet")}
    assert flash == {("AAA", "sell")}
    assert quiet == {("AAA", "sell"), ("BBB", "buy")}
    assert [s["reason"] for s in events(lines, "child_skipped", sleeve="flash", side="buy")] == ["sleeve_paused"]
    assert sleeve_book(sc.portfolio(), "F", "flash")["positions"] == {}
    # a paused Core Vault: every sleeve's buys wait, sells go on
    by_id["flash"]["paused"] = False
    reg["followers"][0]["cores"][0]["paused"] = True
    sc.set_registry(reg)
    lines = sc.cycle({"V": {"AAA": "0.5", "BBB": "-1"}})
    assert {(o["sleeve"], o["symbol"], o["side"]) for o in events(lines, "child_order")} == {
        ("quiet", "BBB", "sell")}
    assert {(s["sleeve"], s["reason"]) for s in events(lines, "child_skipped", side="buy")} == {
        ("quiet", "core_paused"), ("flash", "core_paused")}
    sc.books(replays=True)


def test_buys_the_sleeves_cash_cannot_pay_are_scaled_down_together(tmp_path: Path) -> None:
    # Two fixed_amount buys of 600 under a 2x leverage cap: 1,200 of buys, 1,000 of cash.
    sc = two_symbols(tmp_path, [{"follower_id": "F", "caps": {"max_leverage": "2"}, "cores": [core("USD", "F", [
        sleeve("main", mode="fixed_amount", amount="600")])]}], cash={"F": {"USD": "1000.00"}})
    lines = sc.cycle({"V": {"AAA": "0.5", "BBB": "0.5"}})
    [scaled] = events(lines, "child_buys_scaled", sleeve="main")
    assert D(scaled["factor"]) < 1
    parents = {(o["symbol"], o["side"]): o["client_order_id"] for o in events(lines, "vault_order")}
    children = events(lines, "child_order", sleeve="main")
    assert {(o["symbol"], o["side"]) for o in children} == {("AAA", "buy"), ("BBB", "buy")}
    assert all(o["parent"] == parents[(o["symbol"], o["side"])] for o in children)
    assert all(D(o["qty"]) * D(o["price"]) < D("600") for o in children)
    assert sum(D(o["qty"]) * D(o["price"]) for o in children) <= D("1000")
    sc.books(replays=True)


def test_an_allocation_change_takes_effect_on_the_next_buy(tmp_path: Path) -> None:
    sc = two_symbols(tmp_path, [{"follower_id": "F", "cores": [core("USD", "F", [
        sleeve("quiet", allocation="10000"), sleeve("flash", allocation="5000", profit="sweep")],
        tradeable="18000")]}], cash={"F": {"USD": "20000.00"}}, bars=5)
    sc.cycle({"V": {"AAA": "0.2"}})
    reg = sc.registry()
    by_id = {s["sleeve_id"]: s for s in reg["followers"][0]["cores"][0]["sleeves"]}
    by_id["quiet"]["allocation"], by_id["flash"]["allocation"] = "13000", "3000"
    sc.set_registry(reg)
    hold = sc.cycle()  # same conviction, flat prices: no order, so no allocation move yet
    assert events(hold, "vault_order") == [] and events(hold, "allocation") == []
    port = sc.portfolio()
    assert (D(sleeve_book(port, "F", "quiet")["allocated"]), D(sleeve_book(port, "F", "flash")["allocated"])) == (
        10000, 5000)
    assert D(port["followers"]["F"]["USD"]["cash"]) == 5000
    flash_cash = D(sleeve_book(port, "F", "flash")["cash"]["USD"])
    buy = sc.cycle({"V": {"AAA": "0.2", "BBB": "0.3"}})
    moves = {a["sleeve"]: a for a in events(buy, "allocation")}
    assert (D(moves["quiet"]["before"]), D(moves["quiet"]["after"]), D(moves["quiet"]["moved"])) == (
        10000, 13000, 3000)
    # the reclaim is what the flash sleeve holds in cash, at most the 2000 asked for
    reclaim = min(Decimal(2000), flash_cash)
    assert (D(moves["flash"]["before"]), D(moves["flash"]["moved"])) == (5000, -reclaim)
    assert D(moves["flash"]["after"]) == 5000 - reclaim
    assert D(moves["flash"]["short"]) == 5000 - reclaim - 3000
    # the new allocation sizes that buy: its child order's equity includes the coins moved in
    q_order = events(buy, "child_order", sleeve="quiet", symbol="BBB")[0]
    q_book = sleeve_book(port, "F", "quiet")
    q_value = sum(D(q) for q, _ in q_book["positions"]["AAA"]) * 100
    assert D(q_order["equity"]) == D(q_book["cash"]["USD"]) + 3000 + q_value
    port = sc.portfolio()
    assert D(port["followers"]["F"]["USD"]["cash"]) == 5000 - 3000 + reclaim
    sc.books(replays=True)


def test_a_sleeve_whose_quote_has_no_pairs_idles(tmp_path: Path) -> None:
    sc = two_symbols(tmp_path, [{"follower_id": "F", "cores": [
        core("USD", "F", [sleeve("usd")]),
        core("USDC", "F", [sleeve("stable")], tradeable="900")]}],
        cash={"F": {"USD": "5000.00", "USDC": "1000.000000"}})
    for scores in ({"V": {"AAA": "0.5", "BBB": "0.4"}}, {"V": {"AAA": "-1", "BBB": "0.4"}}):
        lines = sc.cycle(scores)
        assert events(lines, "sleeve_skipped", sleeve="stable") == [
            {"follower_id": "F", "sleeve": "stable", "vault_id": "V", "reason": "no_pairs_in_quote"}]
        assert {o["sleeve"] for o in events(lines, "child_order")} == {"usd"}
    usdc = sc.portfolio()["followers"]["F"]["USDC"]
    assert D(usdc["cash"]) == 1000 and usdc["sleeves"] == {}
    cp = sc.pnl()["followers"]["F"]["USDC"]
    assert (D(cp["total_coins"]), D(cp["tradeable"]), D(cp["equity"])) == (1000, 900, 1000)
    sc.books(replays=True)


# ---------------------------------------------------------------- personas and flip mode

scores_ = st.dictionaries(st.sampled_from(["AAA", "BBB", "CCC", "DDD", "EEE"]),
                          st.integers(-10**4, 10**4).map(lambda n: Decimal(n).scaleb(-4)), max_size=5)
caps_ = st.integers(1, 10**6).map(lambda n: Decimal(n) * WEIGHT_STEP)


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(scores_, caps_)
def test_persona_weights(scores: dict[str, Decimal], cap: Decimal) -> None:
    base = persona_weights("baseline", scores, cap)
    assert base == weights(scores, cap)
    ra = persona_weights("risk_averse", scores, cap)
    assert ra == {s: down(w / 2, WEIGHT_STEP) for s, w in base.items()}
    contra = persona_weights("contrarian", scores, cap)
    assert contra == weights({s: -c for s, c in scores.items()}, cap)
    # contrarian weighs exactly what negative conviction points at, and nothing else
    assert set(contra) == {s for s, c in scores.items() if c < 0}
    # and holds each (|conviction| >= 0.0001 over at most 5 symbols: never under the 1e-6 grid)
    assert all(w > 0 for w in contra.values())
    agg = persona_weights("aggressive", scores, cap)
    top = min(Decimal(1), Decimal("1.5") * cap)
    assert set(agg) == set(base)
    assert all(0 <= w <= top for w in agg.values()) and sum(agg.values()) <= 1
    for persona in (base, ra, contra, agg):
        assert all(w == down(w, WEIGHT_STEP) for w in persona.values())
    if sum(min(top, w * Decimal("1.5")) for w in base.values()) <= 1:
        assert agg == {s: down(min(top, w * Decimal("1.5")), WEIGHT_STEP) for s, w in base.items()}
        assert all(agg[s] >= base[s] for s in base)


def persona_home(root: Path, overlay: dict[str, Any] | None = None, bars: int = 4) -> Scenario:
    prices = {"AAA": ["100"] * bars, "BBB": ["50"] * bars, "CCC": ["20"] * bars}
    sleeves = [sleeve("base", mode="target", allocation="10000"),
               sleeve("ra", mode="target", persona="risk_averse", allocation="10000"),
               sleeve("agg", mode="target", persona="aggressive", allocation="10000"),
               sleeve("contra", persona="contrarian", allocation="10000"),
               sleeve("mirror", allocation="10000")]
    return Scenario(root, prices=prices,
                    vaults=[vault("V", ["AAA", "BBB", "CCC"], personas=["risk_averse", "contrarian", "aggressive"],
                                  risk={"max_single_pos_pct": "0.4"})],
                    followers=[{"follower_id": "F", "cores": [core("USD", "F", sleeves)]}],
                    cash={"F": {"USD": "50000.00"}}, overlay=overlay)


def sleeve_weights(sc: Scenario, sid: str, prices: dict[str, Decimal]) -> dict[str, Decimal]:
    b = sleeve_book(sc.portfolio(), "F", sid)
    values = {s: sum(D(q) for q, _ in lots) * prices[s] for s, lots in b["positions"].items()}
    equity = D(b["cash"]["USD"]) + sum(values.values())
    return {s: v / equity for s, v in values.items()}


def close_to(got: dict[str, Decimal], want: dict[str, Decimal], tol: Decimal = Decimal("0.0005")) -> bool:
    want = {s: w for s, w in want.items() if w > 0}
    return set(got) == set(want) and all(want[s] - tol <= got[s] <= want[s] for s in want)


PX = {"AAA": Decimal(100), "BBB": Decimal(50), "CCC": Decimal(20)}
SCORES = {"V": {"AAA": "0.6", "BBB": "0.3", "CCC": "-0.5"}}


def test_persona_sleeves_hold_their_personas_weights(tmp_path: Path) -> None:
    sc = persona_home(tmp_path)
    lines = sc.cycle(SCORES)
    alloc = read_json(tmp_path, "vault_allocation.json")["vaults"]["V"]
    w = {p: {s: D(x) for s, x in ws.items()} for p, ws in alloc.items()}
    assert w["baseline"] == {"AAA": D("0.4"), "BBB": D("0.3")}
    assert w["risk_averse"] == {"AAA": D("0.2"), "BBB": D("0.15")}
    assert w["contrarian"] == {"CCC": D("0.4")}
    # 1.5 x (0.4, 0.3) = (0.6, 0.45), within min(1, 1.5 x 0.4); they sum past 1: scaled by 1/1.05
    assert w["aggressive"] == {"AAA": D("0.571428"), "BBB": D("0.428571")}
    basis = {o["sleeve"]: o["basis"] for o in events(lines, "child_order")}
    assert basis == {"base": "target", "ra": "target", "agg": "target", "contra": "persona", "mirror": "mirror"}
    for sid, persona in (("base", "baseline"), ("ra", "risk_averse"), ("agg", "aggressive"),
                         ("contra", "contrarian"), ("mirror", "baseline")):
        got = sleeve_weights(sc, sid, PX)
        assert close_to(got, w[persona]), (sid, got, w[persona])
    assert set(sleeve_book(sc.portfolio(), "F", "contra")["positions"]) == {"CCC"}
    sc.books(replays=True)


def test_flip_switches_vault_and_sleeves_until_it_expires(tmp_path: Path) -> None:
    flip = {"V": {"maintenance": False, "kill_switch": False,
                  "flip": {"persona": "aggressive", "expires_at": asof(2)}}}
    sc = persona_home(tmp_path, overlay=flip)
    lines = sc.cycle(SCORES)
    alloc = {p: {s: D(x) for s, x in ws.items()}
             for p, ws in read_json(tmp_path, "vault_allocation.json")["vaults"]["V"].items()}
    agg = alloc["aggressive"]
    # the vault trades the flip's weights
    for o in events(lines, "vault_order"):
        assert D(o["target_qty"]) == down(agg[o["symbol"]] * D(o["nav"]) / D(o["price"]), Decimal("0.0001"))
    vault_w = {s: sum(D(q) for q, _ in lots) * PX[s] / Decimal(100000)
               for s, lots in sc.portfolio()["vaults"]["V"]["positions"].items()}
    assert close_to(vault_w, agg)
    # and so does every sleeve that follows it, whatever its own persona
    for sid in ("base", "ra", "agg", "contra", "mirror"):
        assert close_to(sleeve_weights(sc, sid, PX), agg, Decimal("0.001")), sid
    assert events(lines, "flip_expired") == []
    lines = sc.cycle()  # asof reaches expires_at: the flip ends, everyone reverts
    assert events(lines, "flip_expired") == [{"vault_id": "V", "persona": "aggressive", "expires_at": asof(2)}]
    assert read_json(tmp_path, "vault_overlay.json")["vaults"]["V"].get("flip") is None
    for sid, persona in (("base", "baseline"), ("ra", "risk_averse"), ("agg", "aggressive")):
        assert close_to(sleeve_weights(sc, sid, PX), alloc[persona], Decimal("0.001")), sid
    # the contrarian sleeve sells what the flip made it buy (its CCC buy: see the max_leverage BUG below)
    assert {(o["symbol"], o["side"]) for o in events(lines, "child_order", sleeve="contra")} >= {
        ("AAA", "sell"), ("BBB", "sell")}
    assert set(sleeve_book(sc.portfolio(), "F", "contra")["positions"]) <= {"CCC"}
    assert events(lines, "vault_order", side="sell")
    sc.books(replays=True)


def test_a_rotation_is_not_capped_by_max_leverage(tmp_path: Path) -> None:
    sc = persona_home(tmp_path, overlay={"V": {"flip": {"persona": "aggressive", "expires_at": asof(2)}}})
    sc.cycle(SCORES)  # the flip: the contrarian sleeve buys AAA and BBB with all its cash
    lines = sc.cycle()  # the flip ends: it should sell AAA and BBB and buy CCC to 40%
    capped = events(lines, "child_capped", sleeve="contra", reason="max_leverage")
    assert capped == [], capped
    assert close_to(sleeve_weights(sc, "contra", PX), {"CCC": D("0.4")}, Decimal("0.001"))


def test_a_mirrored_rotation_is_not_capped_by_max_leverage(tmp_path: Path) -> None:
    sc = two_symbols(tmp_path, [{"follower_id": "F", "cores": [core("USD", "F", [sleeve("main")])]}],
                     cash={"F": {"USD": "10000.00"}})
    sc.cycle({"V": {"AAA": "1"}})  # vault and sleeve: all in AAA
    lines = sc.cycle({"V": {"AAA": "-1", "BBB": "1"}})  # rotate: sell AAA, buy BBB
    assert events(lines, "vault_order", symbol="BBB", side="buy")
    assert events(lines, "child_order", symbol="AAA", side="sell")
    assert events(lines, "child_skipped", reason="max_leverage") == []  # found: the BBB buy is skipped
    assert events(lines, "child_order", symbol="BBB", side="buy")


# ---------------------------------------------------------------- drift correction


def drift_home(root: Path, threshold: str | None) -> Scenario:
    """A proportional sleeve that holds CCC, which its vault does not."""
    mirroring: dict[str, Any] = {"drift_threshold": threshold} if threshold else {}
    return Scenario(
        root, prices={"AAA": ["100"] * 3, "BBB": ["50"] * 3, "CCC": ["20"] * 3},
        vaults=[vault("V", ["AAA", "BBB", "CCC"], mirroring=mirroring, risk={"max_single_pos_pct": "0.5"})],
        followers=[{"follower_id": "F", "cores": [core("USD", "F", [sleeve("main")])]}],
        cash={"F": {"USD": "0.00"}},
        sleeve_books={"F": {"main": {"cash": {"USD": "8000.00"}, "positions": {"CCC": [["100", "2000.00"]]},
                                     "allocated": "10000"}}})


def test_drift_past_the_threshold_rebalances_the_sleeve(tmp_path: Path) -> None:
    # (CCC is 20% of the sleeve, not more: a bigger rotation meets the max_leverage BUG above)
    te0 = tracking_error({}, {"CCC": Decimal(2000)}, Decimal(10000))  # the vault holds nothing yet
    assert te0 == D("0.1")
    off = drift_home(tmp_path / "off", None)
    on = drift_home(tmp_path / "on", "0.05")
    scores = {"V": {"AAA": "0.5", "BBB": "0.3"}}
    lines_off, lines_on = off.cycle(scores), on.cycle(scores)
    assert events(lines_off, "drift") == []
    assert {o["basis"] for o in events(lines_off, "child_order")} == {"mirror"}
    assert events(lines_on, "drift") == [{"follower_id": "F", "sleeve": "main", "vault_id": "V",
                                          "tracking_error": "0.100000", "threshold": "0.05"}]
    orders = events(lines_on, "child_order")
    assert orders and {o["basis"] for o in orders} == {"drift"}
    assert ("CCC", "sell") in {(o["symbol"], o["side"]) for o in orders}
    te_off = D(off.pnl()["followers"]["F"]["USD"]["sleeves"]["main"]["tracking_error"])
    te_on = D(on.pnl()["followers"]["F"]["USD"]["sleeves"]["main"]["tracking_error"])
    assert te_on < te_off and te_on < Decimal("0.05")
    assert "CCC" not in sleeve_book(on.portfolio(), "F", "main")["positions"]
    # drift reported only: the sleeve keeps following the vault's orders and stays off course
    lines_off = off.cycle()
    assert events(lines_off, "drift") == []
    assert D(off.pnl()["followers"]["F"]["USD"]["sleeves"]["main"]["tracking_error"]) >= Decimal("0.05")
    # once back on course, the corrected sleeve mirrors again
    lines_on = on.cycle()
    assert events(lines_on, "drift") == [] and {o["basis"] for o in events(lines_on, "child_order")} <= {"mirror"}
    off.books(replays=True)
    on.books(replays=True)


# ---------------------------------------------------------------- small orders


def small_home(root: Path, policy: str) -> Scenario:
    """The vault buys 1,000 of NAV 100,000 each cycle; the sleeve's share (0.2%) is worth
    about 2, under the 3.00 min notional."""
    return Scenario(
        root, prices={"AAA": ["100"] * 5}, markets={"AAA": market(min_notional="3.00")},
        vaults=[vault("V", ["AAA"], mirroring={"small_orders": policy})],
        followers=[{"follower_id": "F", "cores": [core("USD", "F", [sleeve("main")])]}],
        cash={"F": {"USD": "200.00"}})


def test_small_orders_accumulate_until_they_clear_min_notional(tmp_path: Path) -> None:
    sc = small_home(tmp_path, "accumulate")
    first = sc.cycle({"V": {"AAA": "0.01"}})
    assert [D(o["qty"]) for o in events(first, "vault_order")] == [D(10)]
    skipped = events(first, "child_skipped", reason="accumulated")
    assert [(s["side"], D(s["qty"])) for s in skipped] == [("buy", D("0.02"))]
    book = sleeve_book(sc.portfolio(), "F", "main")
    assert {s: D(c) for s, c in book["carry"].items()} == {"AAA": D("0.02")} and book["positions"] == {}
    second = sc.cycle({"V": {"AAA": "0.02"}})  # 0.02 more: 0.04 x 100 = 4 clears 3
    orders = events(second, "child_order")
    assert [(o["side"], D(o["qty"])) for o in orders] == [("buy", D("0.04"))]
    book = sleeve_book(sc.portfolio(), "F", "main")
    assert book["carry"] == {} and book["positions"]["AAA"][0][0] == "0.0400"
    sc.books(replays=True)


def test_small_orders_skipped_when_the_policy_is_skip(tmp_path: Path) -> None:
    sc = small_home(tmp_path, "skip")
    for c in ("0.01", "0.02", "0.03"):
        lines = sc.cycle({"V": {"AAA": c}})
        assert events(lines, "child_order") == []
        assert [(s["side"], D(s["qty"])) for s in events(lines, "child_skipped")] == [("buy", D("0.02"))]
        assert [s["reason"] for s in events(lines, "child_skipped")] == ["below_min_notional"]
    book = sleeve_book(sc.portfolio(), "F", "main")
    assert book["carry"] == {} and book["positions"] == {}


# ---------------------------------------------------------------- replay and verify, every mode


def cli(*args: str) -> Any:
    r = CliRunner(env={"VANTA_HOME": None}).invoke(app, list(args), prog_name="vanta")
    return r


def test_example_home_replays_and_verifies_through_the_cli(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    assert cli("init", home).exit_code == 0
    for n in range(1, 9):
        r = cli("cycle", "--home", home, "--asof", asof(n))
        assert r.exit_code == 0, r.output
    r = cli("replay", "--all", "--home", home)
    assert r.exit_code == 0, r.output
    assert r.output.count("identical") == 8
    r = cli("verify", "--home", home)
    assert r.exit_code == 0, r.output
    files = example_files()
    modes = example_modes(files)
    assert set(modes.values()) == set(MODES)
    books = check_home(Path(home), files)
    traded = {modes[(o["account"].removeprefix("follower:"), o["sleeve"])] for o in books.child_log}
    assert traded >= set(MODES) - {"fixed_ratio"}  # fixed_ratio: see the BUG below


def example_modes(files: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(f["follower_id"], s["sleeve_id"]): s.get("mode", "proportional")
            for f in files["mirror_registry.json"]["followers"] for c in f["cores"] for s in c["sleeves"]}


def test_every_mode_trades_in_the_example_home(tmp_path: Path) -> None:
    files = example_files()
    write_home(tmp_path, files, force=False)
    for n in range(1, 5):
        run_cycle(Home(tmp_path), asof(n))
    modes = example_modes(files)
    books = check_home(tmp_path, files)
    traded = {modes[(o["account"].removeprefix("follower:"), o["sleeve"])] for o in books.child_log}
    assert traded == set(MODES), f"modes that never traded in the example: {set(MODES) - traded}"


@pytest.mark.parametrize("mode", MODES)
def test_synthetic_home_in_each_mode_replays_and_verifies(tmp_path: Path, mode: str) -> None:
    r = cli("init", str(tmp_path), "--followers", "6", "--symbols", "4", "--seed", "3", "--mode", mode)
    assert r.exit_code == 0, r.output
    files = synthetic_files(6, 4, 3, mode)
    assert read_json(tmp_path, "mirror_registry.json") == files["mirror_registry.json"]
    for n in range(1, 5):
        run_cycle(Home(tmp_path), asof(n))
    for n in range(1, 5):
        rr = replay(Home(tmp_path), n)
        assert rr.ok, rr.mismatches
    assert verify(Home(tmp_path))[0] == []
    books = check_home(tmp_path, files)
    assert books.counts[f"child_order:{mode}:buy"] > 0 and books.counts[f"child_order:{mode}:sell"] > 0


# ---------------------------------------------------------------- properties over drawn worlds

USD_SYMS = ("AAA", "BBB", "CCC")
STEPS = ("0.8", "0.9", "1", "1", "1.1", "1.25")
SCORE_CHOICES = ("-1", "-0.5", "0", "0.2", "0.5", "1")
PERSONAS = ("risk_averse", "contrarian", "aggressive")


@st.composite
def sleeve_specs(draw: st.DrawFn, sid: str, vaults: tuple[str, ...]) -> dict[str, Any]:
    mode = draw(st.sampled_from(MODES))
    s: dict[str, Any] = {"sleeve_id": sid, "vault_id": draw(st.sampled_from(vaults)), "mode": mode,
                         "profit": draw(st.sampled_from(["compound", "sweep"])),
                         "scale": draw(st.sampled_from(["0.5", "1", "2", "4"]))}
    if mode == "fixed_ratio":
        s["ratio"] = draw(st.sampled_from(["0.001", "0.01", "0.05"]))
    if mode == "fixed_amount":
        s["amount"] = draw(st.sampled_from(["50", "700", "5000"]))
    if draw(st.integers(0, 2)) == 0:
        s["persona"] = draw(st.sampled_from(PERSONAS))
    if draw(st.integers(0, 7)) == 0:
        s["paused"] = True
    return s


@st.composite
def core_specs(draw: st.DrawFn, fid: str, quote: str, vaults: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    step = "0.01" if quote == "USD" else "0.000001"
    cash = Decimal(draw(st.integers(2000, 60000)))
    n = draw(st.integers(1, 3))
    sleeves = [draw(sleeve_specs(f"{quote.lower()}{j}", vaults)) for j in range(n)]
    tradeable = down(cash * Decimal(draw(st.sampled_from(["1", "0.9", "0.6"]))), Decimal(step))
    c: dict[str, Any] = core(quote, fid, sleeves, tradeable=str(tradeable))
    if n > 1 or draw(st.booleans()):
        parts = [draw(st.integers(1, 5)) for _ in sleeves]
        for s, p in zip(sleeves, parts, strict=True):
            s["allocation"] = str(down(tradeable * p / sum(parts), Decimal(step)))
    else:
        del c["tradeable"]
    if draw(st.integers(0, 9)) == 0:
        c["paused"] = True
    return c, f"{cash:.{2 if quote == 'USD' else 6}f}"


CAPS = st.sampled_from([{}, {}, {"max_pos_usd": "2500"}, {"max_single_pos_pct": "0.3"}, {"max_leverage": "0.5"},
                        {"max_leverage": "2"}, {"block": ["BBB"]}, {"allow": ["AAA", "XXX"]},
                        {"max_pos_usd": "6000", "max_single_pos_pct": "0.5", "block": ["CCC"]},
                        {"slippage_guard_bps": "2"}, {"slippage_guard_bps": "20"}])


@st.composite
def worlds(draw: st.DrawFn, cycles: int = 4) -> dict[str, Any]:
    prices: dict[str, list[str]] = {}
    for sym, start in zip((*USD_SYMS, "XXX"), ("100", "50", "20", "10"), strict=True):
        px, path = Decimal(start), []
        for _ in range(cycles):
            path.append(str(px))
            px = (px * Decimal(draw(st.sampled_from(STEPS)))).quantize(Decimal("0.01"))
        prices[sym] = path
    ex = draw(st.sampled_from([{"slippage_bps": "0", "fee_bps": "0"}, {"slippage_bps": "5", "fee_bps": "10"}]))
    mirroring = {"small_orders": draw(st.sampled_from(["skip", "accumulate"])),
                 "drift_threshold": draw(st.sampled_from([None, "0.1"]))}
    vaults = [vault("V", list(USD_SYMS), personas=list(PERSONAS), execution=ex, mirroring=mirroring,
                    risk={"max_single_pos_pct": draw(st.sampled_from(["0.4", "1"]))}),
              vault("W", ["XXX"], base="USDC", personas=list(PERSONAS), execution=ex, mirroring=mirroring)]
    min_notional = draw(st.sampled_from(["0", "1", "25"]))
    markets = {**{s: market(min_notional=min_notional) for s in USD_SYMS},
               "XXX": market("USDC", lot="0.000001", tick="0.000001", min_notional=min_notional)}
    followers, cash = [], {}
    for i in range(draw(st.integers(1, 4))):
        fid = f"F{i}"
        cores, money = [], {}
        for quote in ("USD", "USDC"):
            if quote == "USD" or draw(st.booleans()):
                c, m = draw(core_specs(fid, quote, ("V", "V", "W") if quote == "USD" else ("W", "V")))
                cores.append(c)
                money[quote] = m
        followers.append({"follower_id": fid, "caps": draw(CAPS), "cores": cores,
                          "kill_switch": draw(st.integers(0, 7)) == 0})
        cash[fid] = money
    scores = [{"V": {s: draw(st.sampled_from(SCORE_CHOICES)) for s in USD_SYMS},
               "W": {"XXX": draw(st.sampled_from(SCORE_CHOICES))}} for _ in range(cycles)]
    return {"prices": prices, "vaults": vaults, "markets": markets, "followers": followers, "cash": cash,
            "scores": scores, "vault_cash": {"V": "100000.00", "W": "50000.000000"}}


def world_home(root: Path, w: dict[str, Any]) -> Scenario:
    return Scenario(root, prices=w["prices"], vaults=copy.deepcopy(w["vaults"]), markets=w["markets"],
                    followers=copy.deepcopy(w["followers"]), cash=w["cash"], vault_cash=w["vault_cash"])


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d) / "home"


@PROPS
@given(worlds())
def test_property_child_orders_within_their_mode_and_the_caps(w: dict[str, Any]) -> None:
    """Every child order, in every mode, against the sizing rule and the caps
    (tests/logbooks.py: LogBooks.child); blocked and not-allowed symbols never bought;
    sleeves trade only their Core Vault's quote; nothing the broker must reject."""
    with scratch() as root:
        sc = world_home(root, w)
        for scores in w["scores"]:
            sc.cycle(scores)
        books = sc.books()
        assert books.rejects == []
        for o in books.child_log:
            f = next(x for x in w["followers"] if f"follower:{x['follower_id']}" == o["account"])
            if o["side"] == "buy":
                assert o["symbol"] not in f["caps"].get("block", [])
                assert not f["caps"].get("allow") or o["symbol"] in f["caps"]["allow"]
        # a sleeve following a vault of another quote asset idles, every cycle
        for f in w["followers"]:
            for c in f["cores"]:
                for s in c["sleeves"]:
                    if (c["quote"] == "USD") != (s["vault_id"] == "V") and not f["kill_switch"]:
                        n = books.counts_by_sleeve.get((f["follower_id"], s["sleeve_id"], "no_pairs_in_quote"), 0)
                        assert n == len(w["scores"]), (f["follower_id"], s["sleeve_id"])
                        assert not [o for o in books.child_log if o["sleeve"] == s["sleeve_id"]
                                    and o["account"] == f"follower:{f['follower_id']}"]


@st.composite
def edits(draw: st.DrawFn, cycles: int = 4) -> list[list[tuple[int, str, str]]]:
    """Per cycle after the first: (sleeve index, what, how) edits to the registry."""
    return [draw(st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["allocation", "pause"]),
                                    st.sampled_from(["0.3", "0.8", "1.5", "2"])), max_size=3))
            for _ in range(cycles - 1)]


def apply_edits(reg: dict[str, Any], todo: list[tuple[int, str, str]]) -> None:
    cores = [c for f in reg["followers"] for c in f["cores"]]
    for i, what, how in todo:
        c = cores[i % len(cores)]
        s = c["sleeves"][i % len(c["sleeves"])]
        if what == "pause":
            s["paused"] = not s.get("paused", False)
        elif s.get("allocation") is not None:
            step = Decimal("0.01") if c["quote"] == "USD" else Decimal("0.000001")
            others = sum((D(x["allocation"]) for x in c["sleeves"] if x is not s), Decimal(0))
            room = D(c["tradeable"]) - others if "tradeable" in c else D(s["allocation"]) * 3
            s["allocation"] = str(min(room, down(D(s["allocation"]) * D(how), step)))


@PROPS
@given(worlds(), edits())
def test_property_sleeves_never_negative_and_never_exchange_funds(w: dict[str, Any],
                                                                  todo: list[list[tuple[int, str, str]]]) -> None:
    """Allocations raised and lowered and sleeves paused between cycles: after every
    cycle each sleeve's cash and lots are non-negative, and its cash + open cost is
    exactly what it started with + allocation moves from/to its own Core Vault + the
    realized PnL of its own fills - its own sweeps (LogBooks.check_final); a Core Vault's
    cash moves only by its sleeves' allocation moves and sweeps."""
    with scratch() as root:
        sc = world_home(root, w)
        for n, scores in enumerate(w["scores"]):
            if n:
                reg = sc.registry()
                apply_edits(reg, todo[n - 1])
                sc.set_registry(reg)
            sc.cycle(scores)
            books = sc.books()  # checks every event so far, and the files after this cycle
            assert books.rejects == []
        sc.replays()  # cycles after registry edits replay byte for byte
        port = sc.portfolio()
        for cores in port["followers"].values():
            for cb in cores.values():
                assert D(cb["cash"]) >= 0
                for sb in cb["sleeves"].values():
                    assert all(D(x) >= 0 for x in sb["cash"].values())
                    assert all(D(a) > 0 and D(b) >= 0 for lots in sb["positions"].values() for a, b in lots)


# ---------------------------------------------------------------- bugs found


def test_allocations_above_the_wallet_never_overdraw_the_core_vault(tmp_path: Path) -> None:
    sc = two_symbols(tmp_path, [{"follower_id": "F", "cores": [core("USD", "F", [
        sleeve("quiet", allocation="10000"), sleeve("flash", allocation="5000", profit="sweep")])]}],
        cash={"F": {"USD": "12000.00"}})
    lines = sc.cycle({"V": {"AAA": "0.5"}})
    moved = sum(D(a["moved"]) for a in events(lines, "allocation"))
    assert moved <= 12000, f"moved {moved} out of a 12,000 Core Vault"
    assert D(sc.portfolio()["followers"]["F"]["USD"]["cash"]) >= 0
    sc.cycle({"V": {"AAA": "0.6"}})  # found: InputError, portfolio.json cash -3000.00


def test_accumulated_carry_does_not_break_the_caps(tmp_path: Path) -> None:
    sc = Scenario(
        tmp_path, prices={"AAA": ["100"] * 3}, markets={"AAA": market(min_notional="3.00")},
        vaults=[vault("V", ["AAA"], mirroring={"small_orders": "accumulate"})],
        followers=[{"follower_id": "F", "caps": {"max_pos_usd": "150"},
                    "cores": [core("USD", "F", [sleeve("main")])]}],
        cash={"F": {"USD": "20000.00"}})
    first = sc.cycle({"V": {"AAA": "0.0001"}})  # the child's 0.02 (2.00) waits in the carry
    assert [D(s["qty"]) for s in events(first, "child_skipped", reason="accumulated")] == [D("0.02")]
    second = sc.cycle({"V": {"AAA": "0.01"}})  # 1.98 wanted, capped to 1.50 by max_pos_usd
    assert [D(c["to"]) for c in events(second, "child_capped", reason="max_pos_usd")] == [D("1.5")]
    book = sleeve_book(sc.portfolio(), "F", "main")
    value = sum(D(q) for q, _ in book["positions"]["AAA"]) * 100
    assert value <= 150, f"AAA worth {value} after the buy, max_pos_usd 150"  # found: 152.00


def test_cash_is_held_at_the_minor_unit(tmp_path: Path) -> None:
    sc = quiet_flash(tmp_path, ["100", "110", "125", "125"], risk={"rebalance_band": "0.05"})
    for scores in ({"V": {"ETH": "1"}}, None, {"V": {"ETH": "-1"}}):
        sc.cycle(scores)
        port = sc.portfolio()
        amounts = [("vault", a["cash"]["USD"]) for a in port["vaults"].values()]
        for q, cb in port["followers"]["F"].items():
            amounts.append(("core", cb["cash"]))
            amounts += [(sid, sb["cash"].get(q, "0.00")) for sid, sb in cb["sleeves"].items()]
        wrong = [(who, x) for who, x in amounts if D(x).as_tuple().exponent != -2]
        assert wrong == [], f"cycle {sc.cycles}: cash not at the cent: {wrong}"
