"""The ccxt broker against the local stub exchange (real ccxt binance objects, binance's
REST answers): fault injection for idempotency, recovery, partial fills and back-pressure.
Every test checks the two numbers that matter: orders created twice (must be 0) and
fills lost (must be 0)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from ccxt_support import order

from vanta.brokers.ccxt_broker import CcxtBroker, Policy, VenuePool
from vanta.brokers.ccxt_exchange import make_exchange, use_transport
from vanta.brokers.resilience import Backoff
from vanta.brokers.secrets import KeySet
from vanta.brokers.stub import StubVenue, binance_markets
from vanta.models import Execution, Fill, Market

MARKETS = {"BTC/USDT": Market.make(quote="USDT", lot_size=Decimal("0.00001"), tick_size=Decimal("0.01"),
                                   min_notional=Decimal(0)),
           "ETH/USDT": Market.make(quote="USDT", lot_size=Decimal("0.0001"), tick_size=Decimal("0.01"),
                                   min_notional=Decimal(0))}
CCXT_MARKETS = binance_markets({"BTC/USDT": ("0.00001", "0.01"), "ETH/USDT": ("0.0001", "0.01")})
EXEC = {"v1": Execution()}
REF = "binance:alice"


class Rig:
    """A stub venue, a broker on it, and the sleeps the broker asked for."""

    def __init__(self, stub: StubVenue | None = None, keys: int = 1, **policy: Any) -> None:
        self.stub = stub or StubVenue(latency=0)
        self.sleeps: list[float] = []
        self.policy = Policy(**{"follow_interval": 0.0, **policy})
        sets = [KeySet(f"env #{i + 1}", f"key{i + 1}" + "k" * 60, "s" * 64) for i in range(keys)]

        def factory(exid: str, ks: Any, sandbox: bool, mk: Any) -> Any:
            ex = make_exchange(exid, ks, sandbox, mk)
            use_transport(ex, self.stub.transport)
            return ex

        self.pool = VenuePool(self.policy, {"binance": CCXT_MARKETS}, keys=lambda ref: sets, exchange_factory=factory)

    async def _sleep(self, s: float) -> None:
        self.sleeps.append(s)

    def submit(self, orders: list[Any], maybe_sent: frozenset[str] = frozenset(), refs: dict[str, str] | None = None
               ) -> list[Fill]:
        async def go() -> list[Fill]:
            venues = {ref: self.pool.venue(ref) for ref in sorted(set((refs or {}).values()) | {REF})}
            self.venues = venues
            broker = CcxtBroker(venues, MARKETS, self.policy, sleep=self._sleep)
            return await broker.submit(orders, refs or {o.account: REF for o in orders}, EXEC, maybe_sent)

        return asyncio.run(go())


def buy(n: int = 1, qty: str = "0.5", **kw: Any) -> Any:
    return order("ETH/USDT", "buy", qty, "100.00", coid=f"vt{n:030d}", **kw)


def sell(n: int = 2, qty: str = "0.01", **kw: Any) -> Any:
    return order("BTC/USDT", "sell", qty, "30000.00", coid=f"vt{n:030d}", **kw)


def test_plain_orders_fill_with_the_exchange_numbers() -> None:
    rig = Rig()
    fills = rig.submit([sell(), buy()])
    by = {f.client_order_id: f for f in fills}
    assert by[sell().client_order_id].cash == Decimal("299.700000")  # 300 less the 0.1% commission
    assert by[buy().client_order_id].cash == Decimal("-50.050000")
    assert rig.stub.duplicates == 0
    # Sells go first, buys after (a buy may need the sell's proceeds).
    assert [k for k, _ in rig.stub.calls] == ["create", "create"]
    assert rig.stub.calls[0][1] == sell().client_order_id


def test_timeout_after_the_order_reached_the_exchange_is_looked_up_not_resent() -> None:
    rig = Rig()
    rig.stub.faults["create"] = ["timeout_after_accept"]
    (fill,) = rig.submit([buy()])
    assert fill.status == "filled" and fill.qty == Decimal("0.5")
    assert rig.stub.creates == {buy().client_order_id: 1}
    assert [k for k, _ in rig.stub.calls] == ["create", "fetch", "trades"]
    assert fill.fee == Decimal("0.050000")


def test_timeout_before_arrival_waits_as_submitting_then_is_sent_once() -> None:
    rig = Rig()
    rig.stub.faults["create"] = ["timeout"]
    (first,) = rig.submit([buy()])
    assert first.status == "deferred" and (first.reason or "").startswith("submitting:")
    assert rig.stub.creates == {}
    # Next cycle: the queued `submitting` order is looked up first, found nowhere, sent once.
    (second,) = rig.submit([buy(status="submitting")])
    assert second.status == "filled"
    assert rig.stub.creates == {buy().client_order_id: 1}
    assert [k for k, _ in rig.stub.calls] == ["create", "fetch", "fetch", "create"]


def test_crash_between_submit_and_commit_gets_the_same_fills_without_resending() -> None:
    rig = Rig()
    orders = [sell(), buy()]
    before = rig.submit(orders)
    # The process died before the commit: the next run finishes the same cycle and
    # marks every order as maybe sent.
    after = rig.submit(orders, maybe_sent=frozenset(o.client_order_id for o in orders))
    # Same quantities, prices, fees and cash: the lookup fetched the trades for the fees.
    assert [f.model_dump() for f in after] == [f.model_dump() for f in before]
    assert rig.stub.duplicates == 0 and all(n == 1 for n in rig.stub.creates.values())
    assert sum(f.qty for f in after) == sum(f.qty for f in before) > 0


def test_partial_fills_are_followed_to_completion() -> None:
    rig = Rig(StubVenue(latency=0, partial_steps=3))
    (fill,) = rig.submit([buy()])
    assert fill.status == "filled" and fill.qty == Decimal("0.5")
    assert fill.fee == Decimal("0.050000") and fill.cash == Decimal("-50.050000")  # three trades' fees
    assert [k for k, _ in rig.stub.calls] == ["create", "fetch", "fetch", "trades"]


def test_out_of_order_and_repeated_reports_never_lower_the_filled_quantity() -> None:
    rig = Rig(StubVenue(latency=0, partial_steps=4, stale_reports=True), follow_polls=8)
    (fill,) = rig.submit([buy()])
    assert fill.qty == Decimal("0.5")
    assert CcxtBroker._newer({"id": "1", "filled": Decimal("0.3"), "status": "open"},
                             {"id": "1", "filled": Decimal("0.1"), "status": "open"})["filled"] == Decimal("0.3")
    assert CcxtBroker._newer({"id": "1", "filled": Decimal("0.5"), "status": "closed"},
                             {"id": "1", "filled": Decimal("0.5"), "status": "open"})["status"] == "closed"


def test_a_trade_reported_twice_is_booked_once() -> None:
    from vanta.brokers.ccxt_broker import to_fill

    trade = {"id": "t1", "fee": {"cost": Decimal("0.05"), "currency": "USDT"}}
    o = {"status": "closed", "filled": Decimal("0.5"), "cost": Decimal("50"), "average": Decimal("100"),
         "trades": [trade, dict(trade)]}
    fill = to_fill(buy(), o, MARKETS["ETH/USDT"], "ETH")
    assert fill.fee == Decimal("0.050000") and fill.cash == Decimal("-50.050000")


def test_an_order_still_open_after_the_budget_is_cancelled_and_its_part_booked() -> None:
    rig = Rig(StubVenue(latency=0, partial_steps=10), follow_polls=2)
    (fill,) = rig.submit([buy()])
    assert fill.status == "filled" and fill.qty == Decimal("0.15")  # 3 of 10 reports
    assert fill.cash == Decimal("-15.015000")
    assert [k for k, _ in rig.stub.calls] == ["create", "fetch", "fetch", "cancel", "fetch", "trades"]


def test_a_failed_cancel_is_retried_once() -> None:
    rig = Rig(StubVenue(latency=0, partial_steps=10), follow_polls=1)
    rig.stub.faults["cancel"] = ["outage"]
    (fill,) = rig.submit([buy()])
    assert fill.status == "filled"
    assert [k for k, _ in rig.stub.calls].count("cancel") == 2


def test_a_cancel_failing_twice_leaves_the_order_open_in_the_queue() -> None:
    rig = Rig(StubVenue(latency=0, partial_steps=10), follow_polls=1)
    rig.stub.faults["cancel"] = ["outage", "outage"]
    (fill,) = rig.submit([buy()])
    assert fill.status == "deferred" and (fill.reason or "").startswith("open:")
    assert [k for k, _ in rig.stub.calls].count("cancel") == 2


def test_reads_are_retried_with_exponential_backoff() -> None:
    rig = Rig(backoff=Backoff(attempts=4, base=0.25))
    rig.stub.faults["create"] = ["timeout_after_accept"]
    rig.stub.faults["fetch"] = ["outage", "rate_limit"]
    (fill,) = rig.submit([buy()])
    assert fill.status == "filled"
    assert rig.sleeps == [0.25, 0.5]
    assert rig.stub.duplicates == 0


def test_insufficient_funds_is_a_rejection_sent_once() -> None:
    rig = Rig()
    rig.stub.faults["create"] = ["insufficient"]
    (fill,) = rig.submit([buy()])
    assert fill.status == "rejected" and "InsufficientFunds" in (fill.reason or "")
    assert [k for k, _ in rig.stub.calls] == ["create"]


def test_an_outage_opens_the_breaker_and_defers_the_rest_without_calls() -> None:
    rig = Rig(breaker_threshold=2, backoff=Backoff(attempts=1), concurrency=1)
    rig.stub.faults["create"] = ["outage"] * 50
    rig.stub.faults["fetch"] = ["outage"] * 50
    orders = [order("ETH/USDT", "buy", "0.1", "100.00", coid=f"vt{n:030d}", account=f"follower:f{n}")
              for n in range(10)]
    fills = rig.submit(orders, refs={o.account: f"binance:f{n}" for n, o in enumerate(orders)})
    assert all(f.status == "deferred" for f in fills)
    statuses = sorted((f.reason or "").split(":")[0] for f in fills)
    assert "retry" in statuses  # refused by the open breaker: never sent
    assert len(rig.stub.calls) < 2 * len(orders)
    assert rig.pool.breakers["binance"].trips >= 1


def test_an_auth_error_rotates_to_the_next_key_set() -> None:
    rig = Rig(keys=2)
    rig.stub.faults["create"] = ["auth"]
    (fill,) = rig.submit([buy()])
    assert fill.status == "filled"
    venue = rig.venues[REF]
    assert venue.ring.rotations == 1 and venue.ring.current is not None and venue.ring.current.label == "env #2"
    assert len(venue.retired) == 1 and venue.retired[0].apiKey.startswith("key1")  # closed with the venue
    assert venue.exchange.apiKey.startswith("key2")
    assert rig.stub.creates == {buy().client_order_id: 1}
    assert {k[:4] for k in rig.stub.keys_seen} == {"key1", "key2"}


def test_an_auth_error_with_no_other_key_keeps_the_order_queued() -> None:
    rig = Rig(keys=1)
    rig.stub.faults["create"] = ["auth"]
    (fill,) = rig.submit([buy()])
    assert fill.status == "deferred" and (fill.reason or "").startswith("retry:")
    assert "binance:alice" in (fill.reason or "")


def test_rate_limits_rotate_keys_after_strikes() -> None:
    rig = Rig(keys=2)
    rig.stub.faults["create"] = ["rate_limit", "rate_limit", "rate_limit"]
    rig.stub.faults["fetch"] = ["rate_limit", "rate_limit"]
    orders = [order("ETH/USDT", "buy", "0.1", "100.00", coid=f"vt{n:030d}") for n in range(3)]
    rig.submit(orders)
    assert rig.venues[REF].ring.rotations >= 1
    assert rig.stub.duplicates == 0


def test_concurrency_is_bounded_per_exchange() -> None:
    rig = Rig(StubVenue(latency=0.01), concurrency=4)
    orders = [order("ETH/USDT", "buy", "0.1", "100.00", coid=f"vt{n:030d}", account=f"follower:f{n}")
              for n in range(20)]
    # One account_ref each: ccxt's own rate limiter spaces the calls of one account.
    fills = rig.submit(orders, refs={o.account: f"binance:f{n}" for n, o in enumerate(orders)})
    assert all(f.status == "filled" for f in fills)
    assert rig.stub.max_inflight == 4


@pytest.mark.parametrize(("name", "expected", "retry"), [
    ("RequestTimeout", "NetworkDown", True), ("NetworkError", "NetworkDown", True),
    ("DDoSProtection", "RateLimited", True), ("RateLimitExceeded", "RateLimited", True),
    ("ExchangeNotAvailable", "Unavailable", True), ("OnMaintenance", "Unavailable", True),
    ("InsufficientFunds", "InsufficientFunds", False), ("InvalidOrder", "InvalidOrder", False),
    ("OrderNotFound", "NotFound", False), ("AuthenticationError", "AuthFailed", False),
    ("PermissionDenied", "AuthFailed", False), ("BadSymbol", "InvalidOrder", False),
    ("NotSupported", "Unsupported", False),
])
def test_ccxt_errors_map_to_what_vanta_does_next(name: str, expected: str, retry: bool) -> None:
    import ccxt

    from vanta.brokers.errors import classify

    err = classify(getattr(ccxt, name)("boom"))
    assert type(err).__name__ == expected and err.retry is retry


def test_a_final_read_error_is_not_retried() -> None:
    from vanta.brokers.errors import InvalidOrder
    from vanta.brokers.resilience import Breaker, retry

    calls = []

    async def bad() -> None:
        import ccxt

        calls.append(1)
        raise ccxt.InvalidOrder("no")

    async def nosleep(s: float) -> None:
        pass

    with pytest.raises(InvalidOrder):
        asyncio.run(retry(bad, Breaker("x"), Backoff(attempts=5), nosleep))
    assert calls == [1]


def test_non_ccxt_errors_are_bugs_and_propagate() -> None:
    from vanta.brokers.resilience import Breaker, call

    async def bug() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        asyncio.run(call(bug, Breaker("x")))


def test_sandbox_where_ccxt_has_one_and_a_clear_error_where_not() -> None:
    from vanta.brokers.errors import Unsupported

    ex = make_exchange("binance", None, True)
    assert "testnet" in str(ex.urls["api"])
    asyncio.run(ex.close())
    ex = make_exchange("alpaca", None, True)
    assert "paper-api" in str(ex.urls["api"]) and ex.isSandboxModeEnabled
    asyncio.run(ex.close())
    for exid in ("kraken", "coinbase"):
        with pytest.raises(Unsupported, match=r"no .*sandbox"):
            make_exchange(exid, None, True)


def test_exchanges_are_rate_limited_and_decimal() -> None:
    for exid in ("kraken", "coinbase", "binance", "alpaca"):
        ex = make_exchange(exid, None, False)
        assert ex.enableRateLimit is True and ex.number is Decimal
        asyncio.run(ex.close())


# ---------------------------------------------------------------- fees in a third currency


def _order_report(fee: Decimal, ccy: str, side: str = "buy") -> dict[str, Any]:
    if side == "buy":
        return {"status": "closed", "filled": Decimal("0.5"), "cost": Decimal("50"), "average": Decimal("100"),
                "trades": [{"id": "t1", "fee": {"cost": fee, "currency": ccy}}]}
    return {"status": "closed", "filled": Decimal("0.01"), "cost": Decimal("300"), "average": Decimal("30000"),
            "trades": [{"id": "t1", "fee": {"cost": fee, "currency": ccy}}]}


def test_a_bnb_fee_is_valued_at_the_snapshot_price_and_booked() -> None:
    from vanta.brokers.ccxt_broker import to_fill

    fill = to_fill(buy(), _order_report(Decimal("0.0001"), "BNB"), MARKETS["ETH/USDT"], "ETH",
                   {"BNB": Decimal("300.5")})
    # 0.0001 BNB x 300.5 = 0.03005 USDT: a cost the buy pays, so its lot carries it.
    assert fill.fee == Decimal("0.030050") and fill.cash == Decimal("-50.030050")
    assert fill.qty == Decimal("0.5")
    assert "fee 0.0001 BNB booked as 0.030050 USDT at the BNB snapshot price 300.5" in (fill.reason or "")


def test_a_sell_fee_in_the_base_is_valued_at_the_fill_price() -> None:
    from vanta.brokers.ccxt_broker import to_fill

    fill = to_fill(sell(), _order_report(Decimal("0.00001"), "BTC", "sell"), MARKETS["BTC/USDT"], "BTC", {})
    assert fill.fee == Decimal("0.300000") and fill.cash == Decimal("299.700000")  # 300 less 0.00001 BTC x 30,000
    assert fill.qty == Decimal("0.01") and "at the fill price" in (fill.reason or "")


def test_a_fee_without_a_price_stays_visible_as_unvalued() -> None:
    from vanta.brokers.ccxt_broker import to_fill
    from vanta.brokers.errors import unvalued_fees

    o = _order_report(Decimal("0.0001"), "BNB")
    o["trades"].append({"id": "t2", "fee": {"cost": Decimal("0.01"), "currency": "USDT"}})
    fill = to_fill(buy(), o, MARKETS["ETH/USDT"], "ETH", {"BTC": Decimal("30000")})
    assert fill.fee == Decimal("0.010000") and fill.cash == Decimal("-50.010000")
    assert unvalued_fees(fill.reason) == [("0.0001", "BNB")]


def test_the_broker_values_binance_bnb_fees_through_a_whole_submit() -> None:
    rig = Rig(StubVenue(latency=0, fee_asset="BNB", fee_asset_price=Decimal("250")))

    bnb = Market.make(quote="USDT", lot_size=Decimal("0.001"), tick_size=Decimal("0.01"), min_notional=Decimal(0))

    async def go(prices: dict[str, Decimal]) -> list[Fill]:
        venues = {REF: rig.pool.venue(REF)}
        broker = CcxtBroker(venues, {**MARKETS, "BNB/USDT": bnb}, rig.policy, sleep=rig._sleep, prices=prices)
        try:
            return await broker.submit([buy()], {buy().account: REF}, EXEC)
        finally:
            await asyncio.gather(*(v.close() for v in venues.values()))

    (fill,) = asyncio.run(go({"BNB/USDT": Decimal("250")}))
    # The stub charged 0.1% of 50 USDT in BNB at 250: 0.0002 BNB, worth 0.05 USDT at the snapshot.
    assert fill.fee == Decimal("0.050000") and fill.cash == Decimal("-50.050000")
    assert "0.0002 BNB booked as 0.050000 USDT" in (fill.reason or "")
    rig.stub.orders.clear()
    rig.stub.creates.clear()
    (fill,) = asyncio.run(go({"BNB/USDC": Decimal("250"), "ETH/USDT": Decimal("100")}))  # no BNB in USDT
    assert fill.fee == 0 and fill.cash == Decimal("-50.000000") and "fee unvalued: 0.0002 BNB" in (fill.reason or "")
