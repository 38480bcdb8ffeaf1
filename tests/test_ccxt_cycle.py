"""Cycles with a follower on the ccxt adapter, against the stub exchange: the cycle
commits, every broker answer is recorded, replay never touches the network, an outage
keeps the follower's orders queued while the rest commits, and a crash between submit
and commit sends nothing twice and loses no fill."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ccxt_support import Crash, crash_at, live_cycle

from vanta import canonical, faults
from vanta import init as init_mod
from vanta.brokers import ccxt_exchange
from vanta.brokers.ccxt_broker import Policy, VenuePool
from vanta.brokers.resilience import Backoff
from vanta.brokers.secrets import KeySet
from vanta.brokers.stub import StubVenue, binance_markets
from vanta.home import Home
from vanta.replay import replay
from vanta.stages.execute import MAX_AGE_CYCLES as MAX_AGE

SYMBOLS = ["AAPL", "AMZN", "IBM", "MSFT"]
LIVE = "F_1042"


def make_home(tmp_path: Path) -> Home:
    files = init_mod.example_files()
    for f in files["mirror_registry.json"]["followers"]:
        if f["follower_id"] == LIVE:
            for core in f["cores"]:
                core["account"] = {"adapter": "ccxt:binance", "account_ref": "alice"}
    init_mod.write_home(tmp_path / "home", files, False)
    return Home(tmp_path / "home")


KEY = "k" * 64


def wallet(home: Home, quote: str = "USD") -> dict[str, Any]:
    """The live follower's wallet as its books hold it: the Core Vault's cash plus its
    sleeves', and the sleeves' positions together."""
    core = json.loads((home.memory / "portfolio.json").read_text())["followers"][LIVE][quote]
    cash = Decimal(core["cash"]) + sum((Decimal(sb["cash"].get(quote, "0")) for sb in core.get("sleeves", {}).values()),
                                       Decimal(0))
    positions: dict[str, list[Any]] = {}
    for sb in core.get("sleeves", {}).values():
        for sym, lots in sb["positions"].items():
            positions.setdefault(sym, []).extend(lots)
    return {"cash": {quote: cash}, "positions": positions}


def seeded(home: Home, **kw: Any) -> StubVenue:
    """A stub exchange whose account for the live follower holds what its books hold."""
    return StubVenue(latency=0, holdings={KEY: dict(wallet(home)["cash"])}, **kw)


def pool_for(stub: StubVenue, keys: list[KeySet] | None = None) -> Any:
    def factory(exid: str, ks: Any, sandbox: bool, mk: Any) -> Any:
        ex = ccxt_exchange.make_exchange(exid, ks, sandbox, mk)
        ccxt_exchange.use_transport(ex, stub.transport)
        return ex

    mk = binance_markets({s: ("0.0001", "0.01") for s in SYMBOLS})
    sets = keys or [KeySet("env #1", KEY, "s" * 64)]
    policy = Policy(follow_interval=0.0, backoff=Backoff(attempts=3, base=0.0))
    return lambda: VenuePool(policy, {"binance": mk}, keys=lambda ref: sets,
                             exchange_factory=factory)


def cycle(home: Home, asof: str, stub: StubVenue) -> Any:
    return live_cycle(home, asof, pool_for(stub))


def asof(day: int) -> str:
    return f"2026-11-{day:02d}T00:00:00Z"


def live_orders(ctx: Any) -> list[Any]:
    return [o for o in ctx.queue.orders if o.account == f"follower:{LIVE}"]


def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("replay built an exchange")

    monkeypatch.setattr(ccxt_exchange, "make_exchange", boom)
    monkeypatch.setattr(ccxt_exchange, "use_transport", boom)


def test_a_ccxt_follower_trades_through_the_exchange_and_replays_offline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = make_home(tmp_path)
    stub = seeded(home)
    ctxs = [cycle(home, asof(d), stub) for d in (1, 2, 3)]
    live_fills = [f for c in ctxs for f in c.broker_answers.fills if f.client_order_id in stub.creates]
    assert live_fills and all(f.status == "filled" for f in live_fills)
    assert stub.duplicates == 0
    # Only the ccxt follower's orders went to the exchange.
    sent = {o.account for c in ctxs for o in c.to_submit if o.client_order_id in stub.creates}
    assert sent == {f"follower:{LIVE}"}
    # The exchange's fills are what the books moved by (its 0.1% commission, not paper's 10 bps).
    start = Decimal(init_mod.example_files()["portfolio.json"]["followers"][LIVE]["USD"]["cash"])
    book = wallet(home)
    booked = start + sum(f.cash for f in live_fills)
    # The broker keeps more digits than vanta's rounded debits: the truth stage brings the
    # books to the broker's cents as rounding, never as drift.
    assert Decimal(book["cash"]["USD"]) == stub.holdings[KEY]["USD"].quantize(Decimal("0.01"), "ROUND_FLOOR")
    assert 0 <= Decimal(book["cash"]["USD"]) - booked <= Decimal("0.02") * len(live_fills)
    assert not [e for c in ctxs for e in c.events if e[0] in ("broker_drift", "broker_correction")]
    assert [e for c in ctxs for e in c.events if e[0] == "broker_rounding"]
    assert any(f.fee == Decimal("0.001") * abs(f.cash + f.fee) or f.fee > 0 for f in live_fills)
    no_network(monkeypatch)
    for n in (1, 2, 3):
        assert replay(home, n).ok


def test_an_outage_keeps_the_orders_queued_and_the_cycle_commits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = make_home(tmp_path)
    stub = seeded(home)
    stub.faults = {"create": ["outage"] * 100, "fetch": ["outage"] * 100}
    ctx = cycle(home, asof(1), stub)
    waiting = live_orders(ctx)
    assert waiting and all(o.status in ("retry", "submitting") and o.attempts == 1 for o in waiting)
    kinds = [k for k, _ in ctx.events]
    assert "order_deferred" in kinds and "fill" in kinds  # the paper followers traded
    queue = canonical.loads((home.memory / "autotrade_queue.json").read_bytes(), "queue")
    assert {o["client_order_id"] for o in queue["orders"]} == {o.client_order_id for o in waiting}
    # The stages carry the queue in execution order; reconcile leaves what waits by id, as the file holds it.
    ids = [o["client_order_id"] for o in queue["orders"]]
    assert ids == sorted(ids) and ids == [o.client_order_id for o in ctx.queue.orders]
    recorded = [f for f in ctx.broker_answers.fills if f.status == "deferred"]
    assert len(recorded) == len(waiting)
    # The exchange is back: the waiting orders are looked up, then sent once.
    stub.faults = {}
    ctx2 = cycle(home, asof(2), stub)
    assert not any(o.client_order_id in {w.client_order_id for w in waiting} for o in ctx2.queue.orders)
    assert all(n == 1 for n in stub.creates.values()) and stub.duplicates == 0
    no_network(monkeypatch)
    assert replay(home, 1).ok and replay(home, 2).ok


def test_orders_that_never_reached_the_exchange_expire(tmp_path: Path) -> None:
    from vanta.stages.execute import MAX_AGE_CYCLES

    home = make_home(tmp_path)
    stub = StubVenue(latency=0)
    stub.faults = {"create": ["auth"] * 10_000}  # the one key set is refused: nothing is ever sent
    gone: dict[str, str] = {}
    seen: set[str] = set()
    for day in range(1, 3 + MAX_AGE_CYCLES):
        ctx = cycle(home, asof(day), stub)
        for kind, d in ctx.events:
            if kind in ("order_expired", "order_superseded"):
                gone[d["client_order_id"]] = kind
        waiting = live_orders(ctx)
        assert all(o.status == "retry" for o in waiting)
        # Nothing older than the maximum age is left waiting.
        assert all(ctx.cycle - o.cycle < MAX_AGE_CYCLES for o in waiting)
        seen |= {o.client_order_id for o in waiting}
    assert gone  # every order that left the queue left by an event
    assert seen - {o.client_order_id for o in live_orders(ctx)} <= set(gone)
    assert stub.creates == {}


@pytest.mark.parametrize(("age", "expired"), [(MAX_AGE - 1, False), (MAX_AGE, True)])
def test_the_execute_stage_expires_never_sent_orders_at_the_maximum_age(
        tmp_path: Path, age: int, expired: bool) -> None:
    from dataclasses import replace

    from vanta.brokers.ccxt_broker import deferred
    from vanta.models import BrokerAnswers
    from vanta.stages import execute

    home = make_home(tmp_path)
    stub = StubVenue(latency=0)
    stub.faults = {"create": ["auth"] * 100}
    first = cycle(home, asof(1), stub)
    waiting = tuple(live_orders(first))
    assert waiting and all(o.status == "retry" and o.cycle == 1 for o in waiting)
    later = replace(first, cycle=1 + age, mem=replace(first.mem, queue=first.queue), vault_orders=(),
                    to_submit=waiting, events=())

    class Down:
        def execute(self, ctx: Any) -> BrokerAnswers:
            return BrokerAnswers.make(schema_version="vanta.broker_answers/1", balances={}, conversions=(),
                                      fills=tuple(deferred(o, "retry", "exchange down") for o in ctx.to_submit))

    out = execute.run(later, Down())  # type: ignore[arg-type]
    gone = {d["client_order_id"] for k, d in out.events if k == "order_expired"}
    left = {o.client_order_id: o for o in out.queue.orders}
    for o in waiting:
        assert (o.client_order_id in gone) is expired
        assert (o.client_order_id in left) is not expired
        if not expired:
            assert left[o.client_order_id].attempts == o.attempts + 1


def test_orders_that_may_be_at_the_exchange_never_expire(tmp_path: Path) -> None:
    from vanta.stages.execute import MAX_AGE_CYCLES

    home = make_home(tmp_path)
    stub = seeded(home)
    stub.faults = {"create": ["timeout"] * 10_000, "fetch": ["outage"] * 10_000}
    first = live_orders(cycle(home, asof(1), stub))
    assert first and all(o.status == "submitting" for o in first)
    for day in range(2, 3 + MAX_AGE_CYCLES):
        ctx = cycle(home, asof(day), stub)
    kept = {o.client_order_id: o for o in live_orders(ctx)}
    assert all(kept[o.client_order_id].attempts == 2 + MAX_AGE_CYCLES for o in first)
    assert stub.creates == {}


def test_a_crash_between_submit_and_commit_sends_nothing_twice_and_loses_no_fill(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = make_home(tmp_path)
    stub = seeded(home)
    crash_at(monkeypatch, "broker_answered")
    with pytest.raises(Crash):
        cycle(home, asof(1), stub)
    assert home.inflight.exists()
    sent = dict(stub.creates)
    assert sent
    monkeypatch.setattr(faults, "point", lambda name: None)
    ctx = cycle(home, asof(2), stub)  # finishes cycle 1, with cycle 1's asof
    assert ctx.cycle == 1 and ctx.asof == asof(1)
    assert stub.creates == sent and stub.duplicates == 0
    # Every order the exchange filled is booked once, at the exchange's quantities.
    by_id = {f.client_order_id: f for f in ctx.broker_answers.fills}
    for cid, o in stub.orders.items():
        assert by_id[cid].qty == o.executed
    book = wallet(home)
    bought = {o.symbol: Decimal(0) for o in stub.orders.values()}
    for o in stub.orders.values():
        bought[o.symbol] += o.executed if o.side == "BUY" else -o.executed
    for sym, lots in book["positions"].items():
        assert sum(Decimal(q) for q, _ in lots) == bought[sym + "USD"]


def test_a_paper_cycle_never_imports_ccxt(tmp_path: Path) -> None:
    init_mod.write_home(tmp_path / "home", init_mod.example_files(), False)
    code = ("import sys; from vanta.cycle import run_cycle; from vanta.home import Home; "
            f"run_cycle(Home(__import__('pathlib').Path({str(tmp_path / 'home')!r})), '2026-11-01T00:00:00Z'); "
            "print(any(m == 'ccxt' or m.startswith('ccxt.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_delayed_order_and_its_successor_never_both_go_out(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    stub = seeded(home)
    stub.faults = {"create": ["timeout"] * 100, "fetch": ["outage"] * 100}
    first = {o.client_order_id: o for o in live_orders(cycle(home, asof(1), stub))}
    assert first and all(o.status == "submitting" for o in first.values())
    ctx = cycle(home, asof(2), stub)  # still down: today's orders for those markets wait
    held = [d for k, d in ctx.events if k == "order_held"]
    keys = {(o.symbol, o.side) for o in first.values()}
    assert all(d["waiting_for"] in first for d in held)
    sent_today = [o for o in ctx.to_submit if o.account == f"follower:{LIVE}" and o.cycle == 2]
    assert not [o for o in sent_today if (o.symbol, o.side) in keys or o.symbol in {s for s, _ in keys}]
    assert stub.creates == {}
    stub.faults = {}
    cycle(home, asof(3), stub)
    # Back up: every market got one order through, never a delayed one and its successor both.
    per_market: dict[str, int] = {}
    for o in stub.orders.values():
        per_market[o.symbol] = per_market.get(o.symbol, 0) + 1
    assert stub.duplicates == 0 and per_market and all(n == 1 for n in per_market.values())


def test_a_never_sent_order_is_superseded_by_the_next_cycles(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    stub = seeded(home)
    stub.faults = {"create": ["auth"] * 100}  # refused before it reaches the book: `retry`
    first = live_orders(cycle(home, asof(1), stub))
    assert first and all(o.status == "retry" for o in first)
    stub.faults = {}
    ctx = cycle(home, asof(2), stub)
    gone = {d["client_order_id"] for k, d in ctx.events if k == "order_superseded"}
    # The vault traded those markets again: the stale orders go, never to the exchange.
    retraded = {o.client_order_id for o in first if any(v.symbol == o.symbol for v in ctx.vault_orders)}
    assert retraded and gone == retraded
    assert not gone & set(stub.creates)
    assert not gone & {o.client_order_id for o in ctx.queue.orders}


def test_an_exchange_down_from_the_start_delays_its_orders_and_the_cycle_commits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = make_home(tmp_path)
    stub = seeded(home)
    base = pool_for(stub)

    def no_markets() -> Any:
        pool = base()
        pool.markets = {}  # production: markets are loaded from the exchange, which is down
        return pool

    ctx = live_cycle(home, asof(1), no_markets)
    waiting = live_orders(ctx)
    assert waiting and all(o.status == "retry" for o in waiting)
    assert any("markets could not be loaded" in (f.reason or "") for f in ctx.broker_answers.fills)
    assert any(k == "fill" for k, _ in ctx.events)  # the paper followers traded
    assert stub.creates == {}
    no_network(monkeypatch)
    assert replay(home, 1).ok


def test_an_account_without_keys_waits_and_the_others_trade(tmp_path: Path) -> None:
    from vanta.brokers.secrets import resolve

    home = make_home(tmp_path)
    stub = seeded(home)
    base = pool_for(stub)

    def from_empty_env() -> Any:
        pool = base()
        pool.keys = lambda ref: resolve(ref, {})
        return pool

    ctx = live_cycle(home, asof(1), from_empty_env)
    waiting = live_orders(ctx)
    assert waiting and all(o.status == "retry" for o in waiting)
    reasons = [d["reason"] for k, d in ctx.events if k == "order_deferred"]
    assert reasons and all("VANTA_KEY_BINANCE_ALICE_1_API_KEY" in r for r in reasons)
    assert any(k == "fill" for k, _ in ctx.events)
    assert not home.inflight.exists()  # the cycle committed


def test_a_submitting_order_never_found_expires_and_its_id_never_goes_out_again(tmp_path: Path) -> None:
    from vanta.brokers.errors import NEVER_FOUND

    home = make_home(tmp_path)
    stub = seeded(home)
    # Every create is lost before it reaches the exchange; lookups work and find nothing.
    stub.faults = {"create": ["timeout"] * 10_000}
    first = {o.client_order_id: o for o in live_orders(cycle(home, asof(1), stub))}
    assert first and all(o.status == "submitting" for o in first.values())
    expired: dict[str, dict[str, Any]] = {}
    sends_after: dict[str, int] = {}
    for day in range(2, 3 + MAX_AGE):
        before = [cid for k, cid in stub.calls if k == "create"]
        ctx = cycle(home, asof(day), stub)
        now = [cid for k, cid in stub.calls if k == "create"]
        for k, d in ctx.events:
            if k == "order_expired" and d["client_order_id"] in first:
                expired[d["client_order_id"]] = d
                sends_after[d["client_order_id"]] = now.count(d["client_order_id"]) - before.count(d["client_order_id"])
        waiting = {o.client_order_id for o in live_orders(ctx)}
        if ctx.cycle - 1 < MAX_AGE:
            assert set(first) <= waiting  # looked up, not found, sent again under the same id: still waiting
    assert set(expired) == set(first)
    for cid, d in expired.items():
        assert d["age_cycles"] == MAX_AGE
        assert d["reason"].startswith(NEVER_FOUND) and "complete lookup" in d["reason"]
        assert sends_after[cid] == 0  # the expiring cycle only looked it up
        # One create per cycle while it waited (the exchange never got any), none after.
        assert [c for k, c in stub.calls if k == "create"].count(cid) == MAX_AGE
    assert not set(first) & {o.client_order_id for o in live_orders(ctx)}
    assert stub.creates == {} and stub.duplicates == 0


def test_an_open_order_is_followed_past_the_maximum_age(tmp_path: Path) -> None:
    from dataclasses import replace

    from vanta.brokers.ccxt_broker import deferred
    from vanta.brokers.errors import NEVER_FOUND
    from vanta.models import BrokerAnswers
    from vanta.stages import execute

    home = make_home(tmp_path)
    stub = StubVenue(latency=0)
    stub.faults = {"create": ["auth"] * 100}
    first = cycle(home, asof(1), stub)
    (one,) = live_orders(first)
    waiting = tuple(one.model_copy(update={"client_order_id": one.client_order_id[:-1] + str(n)}) for n in range(3))
    queue = first.queue.model_copy(update={"orders": waiting})
    why = {waiting[0].client_order_id: ("open", "order 7 reached the exchange; still open"),
           waiting[1].client_order_id: ("submitting", "NetworkDown: lookup failed"),
           waiting[2].client_order_id: ("submitting", f"{NEVER_FOUND} (a complete lookup); too old to send again")}

    class Broker:
        def execute(self, ctx: Any) -> BrokerAnswers:
            return BrokerAnswers.make(schema_version="vanta.broker_answers/1", balances={}, conversions=(),
                                      fills=tuple(deferred(o, *why.get(o.client_order_id, ("retry", "down")))
                                                  for o in ctx.to_submit))

    for age, gone in ((MAX_AGE - 1, set()), (MAX_AGE, {waiting[2].client_order_id})):
        later = replace(first, cycle=1 + age, queue=queue, vault_orders=(), to_submit=waiting, events=())
        out = execute.run(later, Broker())  # type: ignore[arg-type]
        assert {d["client_order_id"] for k, d in out.events if k == "order_expired"} == gone
        left = {o.client_order_id: o.status for o in out.queue.orders}
        assert left[waiting[0].client_order_id] == "open" and left[waiting[1].client_order_id] == "submitting"
        assert (waiting[2].client_order_id in left) is not bool(gone)


def test_a_fee_in_a_currency_without_a_price_is_logged_as_fee_unvalued(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = make_home(tmp_path)
    stub = seeded(home, fee_asset="BNB", fee_asset_price=Decimal("250"))
    ctx = cycle(home, asof(1), stub)
    live = {f.client_order_id: f for f in ctx.broker_answers.fills if f.client_order_id in stub.creates}
    assert live and all(f.status == "filled" and f.fee == 0 for f in live.values())
    events = [d for k, d in ctx.events if k == "fee_unvalued"]
    # One per fill: the currency and the amount the exchange charged, nothing dropped.
    charged = {cid: sum((Decimal(t["commission"]) for t in o.trades), Decimal(0)) for cid, o in stub.orders.items()}
    assert sorted((d["client_order_id"], d["currency"], d["amount"]) for d in events) == sorted(
        (cid, "BNB", amount) for cid, amount in charged.items())
    assert all(d["account"] == f"follower:{LIVE}" and "BNB" in d["reason"] for d in events)
    logged = [json.loads(line) for line in (home.memory / "trade_log.jsonl").read_text().splitlines()]
    assert len([x for x in logged if x["kind"] == "fee_unvalued"]) == len(events)
    no_network(monkeypatch)
    assert replay(home, 1).ok


def test_a_fee_in_coins_the_books_hold_is_valued_booked_and_paid_in_kind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vanta.brokers.errors import booked_fees

    home = make_home(tmp_path)
    stub = seeded(home)
    for day in (1, 2):  # the follower comes to hold IBM, fees in USD
        cycle(home, asof(day), stub)
    # From now on the exchange takes its 0.1% in IBM (at 100 USD an IBM): coins the
    # follower's sleeve holds from cycle 4 on.
    stub.fee_asset, stub.fee_asset_price = "IBM", Decimal("100")
    ctxs = [cycle(home, asof(day), stub) for day in (3, 4, 5, 6)]
    settled = 0
    for ctx in ctxs[2:]:
        orders = {o.client_order_id: o for o in ctx.to_submit}
        live = [f for f in ctx.broker_answers.fills if f.client_order_id in stub.creates and f.status == "filled"]
        kinds = {d["client_order_id"]: d for k, d in ctx.events if k == "fee_in_kind"}
        fills = {d["client_order_id"]: d for k, d in ctx.events if k == "fill"}
        for f in live:
            (noted,) = booked_fees(f.reason) if orders[f.client_order_id].symbol != "IBM" or \
                orders[f.client_order_id].side == "sell" else [None]
            if noted is None:  # an IBM buy: its IBM fee came out of the IBM bought
                continue
            amount, ccy, value = noted
            # Valued at the snapshot's IBM price, booked as a fee: in the fill, its cash, its PnL.
            assert ccy == "IBM" and Decimal(value) == (Decimal(amount) * ctx.snap.prices["IBM"]).quantize(
                Decimal("0.01"), "ROUND_CEILING")
            assert fills[f.client_order_id]["fee"] == f.fee >= Decimal(value)
            # The exchange took the coins, not cash: the sleeve gave up that IBM for its value.
            d = kinds[f.client_order_id]
            assert (d["asset"], d["qty"]) == ("IBM", Decimal(amount))
            assert Decimal(value) - Decimal("0.01") <= d["value"] <= Decimal(value)
            settled += 1
        # So the books meet the broker: no drift, at most rounding.
        assert not [d for k, d in ctx.events if k in ("broker_drift", "broker_correction")]
        book = wallet(home) if ctx is ctxs[-1] else None
    assert settled >= 3
    assert book is not None
    held = sum((Decimal(q) for q, _ in book["positions"].get("IBM", [])), Decimal(0))
    assert held == stub.holdings[KEY]["IBM"]
    no_network(monkeypatch)
    for n in (3, 4, 5, 6):
        assert replay(home, n).ok


def test_lookups_start_at_the_asof_of_the_orders_cycle_and_old_ones_are_lookup_only(tmp_path: Path) -> None:
    from vanta.brokers.ccxt_broker import SINCE_MARGIN_MS
    from vanta.brokers.ccxt_edge import past
    from vanta.cycle import _recorded_asof

    home = make_home(tmp_path)
    stub = StubVenue(latency=0)
    stub.faults = {"create": ["timeout"] * 100}
    (o,) = live_orders(cycle(home, asof(3), stub))
    assert _recorded_asof(home, 1) == asof(3) and _recorded_asof(home, 2) is None
    young = o.model_copy(update={"client_order_id": "young", "cycle": 1 + MAX_AGE - 1})
    old = o.model_copy(update={"client_order_id": "old"})
    resting = o.model_copy(update={"client_order_id": "resting", "status": "open"})
    asofs = {1: asof(3), young.cycle: asof(20)}
    got = past([young, old, resting], 1 + MAX_AGE, asofs.get, {"AAPL": Decimal("31.01")})
    ms = 1_793_664_000_000  # 2026-11-03T00:00:00Z
    assert got.since == {"old": ms - SINCE_MARGIN_MS, "resting": ms - SINCE_MARGIN_MS,
                         "young": ms + 17 * 86_400_000 - SINCE_MARGIN_MS}
    assert got.lookup_only == {"old"}  # submitting and MAX_AGE cycles old; an open order is followed
    assert past([young, old], None, None, None) == (({}, frozenset(), {}))


def test_the_stages_after_a_ccxt_execute_keep_vantas_decimal_context(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ccxt sets the Decimal context's rounding to half up (and traps underflow) as it rounds
    an order's amount and price. Leaked into the cycle's context, every stage after execute
    rounded half up live and half even in replay: a lot cost with a sub-cent digit (which
    portfolio.json now refuses) gave cost_basis 1000.01 live and 1000.00 replayed, and
    `vanta replay 1` failed; any inexact division after execute could do the same."""
    import decimal

    from vanta import cycle as cycle_mod
    from vanta.money import CONTEXT

    home = make_home(tmp_path)
    seen: list[tuple[str, str, bool]] = []

    def spy(name: str, fn: Any) -> Any:
        def run(ctx: Any, edge: Any) -> Any:
            c = decimal.getcontext()
            seen.append((name, c.rounding, c.traps[decimal.Underflow]))
            return fn(ctx, edge)
        return run

    monkeypatch.setattr(cycle_mod, "STAGES", tuple((n, spy(n, f)) for n, f in cycle_mod.STAGES))
    stub = seeded(home)
    ctx = cycle(home, asof(1), stub)
    assert stub.creates and live_orders(ctx) == [], "the live follower's orders went out and filled"
    assert [s for s in seen if s[1:] != (CONTEXT.rounding, False)] == []
    assert len(seen) == len(cycle_mod.STAGES)
    no_network(monkeypatch)
    result = replay(home, 1)
    assert result.ok, result.mismatches
