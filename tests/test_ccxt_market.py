"""Market data through ccxt: tickers, candles and market metadata become the cycle's
snapshot, recorded in the bundle; replay never calls the exchange."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ccxt_support import Crash, crash_at, exchange, fixture, live_cycle, markets
from test_ccxt_cycle import LIVE, SYMBOLS, asof, no_network, wallet

from vanta import faults
from vanta import init as init_mod
from vanta.brokers import ccxt_exchange
from vanta.brokers.ccxt_broker import Policy, VenuePool
from vanta.brokers.ccxt_market import build
from vanta.brokers.resilience import Backoff
from vanta.brokers.secrets import KeySet
from vanta.brokers.stub import StubVenue, binance_markets
from vanta.home import Home
from vanta.models import Market
from vanta.replay import replay


def test_kraken_ticker_and_candles_from_the_fixtures_make_a_snapshot() -> None:
    t_case = next(c for c in fixture("response", "kraken")["methods"]["fetchTicker"])
    o_case = next(c for c in fixture("response", "kraken")["methods"]["fetchOHLCV"])
    ex, _ = exchange("kraken", [(200, t_case["httpResponse"]), (200, o_case["httpResponse"])])

    async def go() -> tuple[Any, Any]:
        try:
            return (await ex.fetch_ticker(*t_case["input"]), await ex.fetch_ohlcv(*o_case["input"]))
        finally:
            await ex.close()

    ticker, candles = asyncio.run(go())
    assert isinstance(ticker["last"], Decimal) and ticker["last"] == Decimal(str(t_case["parsedResponse"]["last"]))
    sym = "BTC/USDT"
    configured = {sym: Market.make(quote="USDT", lot_size=Decimal("0.0001"), tick_size=Decimal("0.1"),
                                   min_notional=Decimal(0))}
    snap = build(7, "2026-11-21T00:00:00Z", [sym], {sym: ticker}, {sym: candles[:-1]}, markets("kraken"),
                 configured, depth=2)
    assert snap.prices[sym] == ticker["last"].quantize(Decimal("0.1"))
    assert snap.history[sym] == tuple(Decimal(str(c[4])) for c in o_case["parsedResponse"][:-1][-2:])
    assert snap.markets[sym].lot_size == Decimal("0.00000001")  # the exchange's, not vault.json's
    assert snap.markets[sym].min_notional == Decimal("0.0001") * ticker["last"]


def test_a_quote_currency_mismatch_is_refused_with_the_fix() -> None:
    from vanta.errors import StateError

    configured = {"BTC/USDT": Market.make(quote="USD", lot_size=Decimal(1), tick_size=Decimal(1),
                                          min_notional=Decimal(0))}
    with pytest.raises(StateError, match=r"quoted in USDT on the exchange and in USD in vault\.json"):
        build(1, "2026-11-21T00:00:00Z", ["BTC/USDT"], {"BTC/USDT": {"last": Decimal(100)}}, {},
              markets("kraken"), configured, depth=0)


def priced_home(tmp_path: Path) -> Home:
    files = init_mod.example_files()
    files["vault.json"]["market_data"] = {"source": "ccxt", "exchange": "binance", "timeframe": "1d"}
    for f in files["mirror_registry.json"]["followers"]:
        if f["follower_id"] == LIVE:
            for core in f["cores"]:
                core["account"] = {"adapter": "ccxt:binance", "account_ref": "alice"}
    init_mod.write_home(tmp_path / "home", files, False)
    return Home(tmp_path / "home")


def venue(prices: dict[str, str]) -> tuple[StubVenue, Any]:
    stub = StubVenue(latency=0, prices={s + "USD": Decimal(p) for s, p in prices.items()})
    mk = binance_markets({s: ("0.001", "0.01") for s in SYMBOLS})  # coarser lot than vault.json's 0.0001

    def factory(exid: str, ks: Any, sandbox: bool, m: Any) -> Any:
        ex = ccxt_exchange.make_exchange(exid, ks, sandbox, m)
        ccxt_exchange.use_transport(ex, stub.transport)
        return ex

    policy = Policy(follow_interval=0.0, backoff=Backoff(attempts=2, base=0.0))
    return stub, lambda: VenuePool(policy, {"binance": mk}, keys=lambda r: [KeySet("t", "k" * 64, "s" * 64)],
                                   exchange_factory=factory)


def run(home: Home, day: int, pool: Any) -> Any:
    return live_cycle(home, asof(day), pool)


PRICES = {"AAPL": "190.50", "AMZN": "130.25", "IBM": "140.00", "MSFT": "330.10"}


def test_an_exchange_priced_cycle_records_its_snapshot_and_replays_offline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = priced_home(tmp_path)
    stub, pool = venue(PRICES)
    ctx = run(home, 1, pool)
    assert ctx.snap.prices == {s: Decimal(p) for s, p in PRICES.items()}
    assert all(m.lot_size == Decimal("0.001") for m in ctx.snap.markets.values())
    assert ctx.to_submit and all(o.qty % Decimal("0.001") == 0 for o in ctx.to_submit)
    assert len(ctx.snap.history["AAPL"]) == 3  # the momentum lookback, closed candles only
    stub.prices = {k: v * Decimal("1.05") for k, v in stub.prices.items()}
    ctx2 = run(home, 2, pool)
    assert ctx2.snap.prices["AAPL"] == Decimal("200.02")  # 190.50 * 1.05 to the tick
    no_network(monkeypatch)
    assert replay(home, 1).ok and replay(home, 2).ok


def test_a_resumed_exchange_priced_cycle_keeps_its_prices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = priced_home(tmp_path)
    stub, pool = venue(PRICES)
    crash_at(monkeypatch, "broker_answered")
    with pytest.raises(Crash):
        run(home, 1, pool)
    sent = {cid: o.qty for cid, o in stub.orders.items()}
    assert sent
    stub.prices = {k: v * 2 for k, v in stub.prices.items()}  # the market moved while we were down
    monkeypatch.setattr(faults, "point", lambda name: None)
    ctx = run(home, 2, pool)
    assert ctx.cycle == 1 and ctx.snap.prices["AAPL"] == Decimal("190.50")
    assert {o.client_order_id: o.qty for o in ctx.to_submit if o.client_order_id in sent} == sent
    assert stub.duplicates == 0
    book = wallet(home)
    for sym, lots in book["positions"].items():
        assert sum(Decimal(q) for q, _ in lots) == sum(o.executed for o in stub.orders.values()
                                                        if o.symbol == sym + "USD" and o.side == "BUY")
