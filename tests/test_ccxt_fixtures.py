"""The ccxt adapter against ccxt's own static fixtures (read in place, see ccxt_support).

Requests: real ccxt exchange objects, set up as vanta sets them up (Decimal numbers,
rate limiting), must send what ccxt's request fixtures expect, and vanta's client order
id must go out in each exchange's own parameter. Responses: the exchanges' recorded
answers must parse into the numbers ccxt expects and into vanta's fills."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from ccxt_support import Recorder, exchange, fixture, markets, order, vanta_market

from vanta.brokers.ccxt_broker import CcxtBroker, Policy, Venue, to_fill
from vanta.brokers.ccxt_exchange import CLIENT_ID_PARAM, native_client_id, to_market
from vanta.brokers.resilience import Breaker
from vanta.brokers.secrets import KeyRing, KeySet, parse_ref
from vanta.models import Execution

COID = "vt" + "ab" * 15


def snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def sent(exid: str, method: str, args: list[Any]) -> tuple[str, str, str | None]:
    """The one request ccxt sends for `method(*args)` on `exid`."""
    ex, rec = exchange(exid)

    async def go() -> None:
        try:
            with pytest.raises(Recorder.Captured):
                await getattr(ex, snake(method))(*args)
        finally:
            await ex.close()

    asyncio.run(go())
    assert len(rec.requests) == 1, rec.requests
    return rec.requests[0]


def fields(body: str | None, url: str, output_type: str) -> dict[str, Any]:
    query = dict(parse_qsl(urlsplit(url).query))
    if not body:
        return query
    return {**query, **(json.loads(body) if output_type == "json" else dict(parse_qsl(body)))}


def spot_cases(exid: str, method: str) -> list[dict[str, Any]]:
    req = fixture("request", exid)
    known = markets(exid)
    out = []
    for case in req["methods"].get(method, []):
        args = case["input"]
        params = args[5] if len(args) > 5 else {}
        if case.get("disabled") or case.get("options") or args[0] not in known or ":" in args[0]:
            continue
        if set(params) - {"postOnly", "timeInForce"}:
            continue  # margin, trigger, iceberg, cost-sized: orders vanta never sends
        out.append(case)
    return out


@pytest.mark.parametrize("exid", ["kraken", "coinbase", "binance"])
def test_plain_spot_orders_send_what_ccxt_expects(exid: str) -> None:
    req = fixture("request", exid)
    skip = set(req.get("skipKeys", [])) | {"nonce", "timestamp", "signature", "recvWindow"}
    cases = [c for c in spot_cases(exid, "createOrder") if c.get("output")]
    assert cases, f"no plain spot createOrder case in the {exid} request fixture"
    for case in cases:
        method, url, body = sent(exid, "createOrder", case["input"])
        assert method == "POST"
        assert urlsplit(url).path == urlsplit(case["url"]).path, case["description"]
        got = fields(body, url, req["outputType"])
        want = fields(case["output"], case["url"], req["outputType"])
        drop = lambda d: {k: v for k, v in d.items() if k not in skip}  # noqa: E731
        assert drop(got) == drop(want), case["description"]


@pytest.mark.parametrize("exid", ["kraken", "coinbase", "binance"])
def test_client_order_id_goes_out_in_the_native_parameter(exid: str) -> None:
    req = fixture("request", exid)
    case = next(c for c in spot_cases(exid, "createOrder") if c.get("output"))
    args = list(case["input"]) + [None] * (5 - len(case["input"]))
    params = {**(case["input"][5] if len(case["input"]) > 5 else {}),
              CLIENT_ID_PARAM[exid]: native_client_id(exid, COID)}
    _method, url, body = sent(exid, "createOrder", [*args[:5], params])
    got = fields(body, url, req["outputType"])
    want = fields(case["output"], case["url"], req["outputType"])
    native = native_client_id(exid, COID)
    assert got[CLIENT_ID_PARAM[exid]] == native
    ignore = {"nonce", "timestamp", "signature", "recvWindow", CLIENT_ID_PARAM[exid]}
    assert {k: v for k, v in got.items() if k not in ignore} == {k: v for k, v in want.items() if k not in ignore}


def test_coinbase_drops_the_unified_client_order_id() -> None:
    # Why vanta never relies on ccxt's unified `clientOrderId`: coinbase sends its own.
    _, _url, body = sent("coinbase", "createOrder", ["ADA/USDT", "limit", "buy", 4, 0.2, {"clientOrderId": COID}])
    assert json.loads(body or "{}")["client_order_id"] != COID


def test_kraken_client_order_id_is_a_uuid_derived_from_vanta_id() -> None:
    a, b = native_client_id("kraken", COID), native_client_id("kraken", COID[:-1] + "c")
    assert len(a) == 36 and a.count("-") == 4 and a != b
    assert a == native_client_id("kraken", COID)


def test_binance_lookup_by_client_order_id_matches_the_fixture() -> None:
    case = fixture("request", "binance")["methods"]["fetchOrderWithClientOrderId"][0]
    _, url, _ = sent("binance", "fetchOrder", [None, "LTC/USDT", {"origClientOrderId": "myid123"}])
    q = dict(parse_qsl(urlsplit(url).query))
    want = dict(parse_qsl(urlsplit(case["url"]).query))
    assert q["origClientOrderId"] == want["origClientOrderId"] == "myid123"
    assert q["symbol"] == want["symbol"]
    assert urlsplit(url).path == "/api/v3/order"  # spot, where the fixture's case is the futures twin


@pytest.mark.parametrize("exid", ["kraken", "coinbase", "alpaca"])
def test_open_order_lookup_calls_the_fixture_endpoint(exid: str) -> None:
    req = fixture("request", exid)
    case = req["methods"]["fetchOpenOrders"][0]
    _, url, _ = sent(exid, "fetchOpenOrders", case["input"])
    assert urlsplit(url).path == urlsplit(case["url"]).path
    want = dict(parse_qsl(urlsplit(case["url"]).query))
    if want:  # alpaca's fixture (an older ccxt) records the path only
        assert dict(parse_qsl(urlsplit(url).query)) == want


def test_alpaca_create_sends_the_native_client_order_id() -> None:
    _, url, body = sent("alpaca", "createOrder", ["BTC/USD", "limit", "buy", Decimal("0.001"), Decimal("30000"),
                                                  {"client_order_id": COID}])
    assert urlsplit(url).path == "/v2/orders"
    sent_body = json.loads(body or "{}")
    assert sent_body["client_order_id"] == COID and sent_body["symbol"] == "BTC/USD"


# ---------------------------------------------------------------- responses -> vanta fills


def answer(exid: str, method: str, description: str) -> dict[str, Any]:
    cases = fixture("response", exid)["methods"][method]
    found: dict[str, Any] = next(c for c in cases if c["description"] == description)
    return found


def parse(exid: str, case: dict[str, Any]) -> Any:
    ex, _ = exchange(exid, [(200, case["httpResponse"])])

    async def go() -> Any:
        try:
            return await getattr(ex, snake(case["method"]))(*case["input"])
        finally:
            await ex.close()

    return asyncio.run(go())


def same_numbers(got: dict[str, Any], want: dict[str, Any], keys: tuple[str, ...]) -> None:
    for k in keys:
        g, w = got.get(k), want.get(k)
        if w is None or isinstance(w, str):
            assert g == w, k
        else:
            assert isinstance(g, Decimal), (k, g)  # Decimal numbers end to end
            assert g == Decimal(str(w)), k


ORDER_KEYS = ("id", "clientOrderId", "status", "side", "amount", "filled", "cost", "average")


@pytest.mark.parametrize(("exid", "method", "description"), [
    ("kraken", "fetchOrder", "closed market order"),
    ("kraken", "fetchOrder", "fetch spot limit order"),
    ("kraken", "createOrder", "create order"),
    ("binance", "fetchOrder", "Fetch spot closed order"),
    ("coinbase", "fetchClosedOrders", "Spot closed order"),
])
def test_recorded_answers_parse_as_ccxt_expects(exid: str, method: str, description: str) -> None:
    case = answer(exid, method, description)
    got, want = parse(exid, case), case["parsedResponse"]
    if isinstance(want, list):
        assert len(got) == len(want)
        got, want = got[0], want[0]
    same_numbers(got, want, ORDER_KEYS)


def test_kraken_closed_order_books_as_a_fill() -> None:
    case = answer("kraken", "fetchOrder", "closed market order")
    got = parse("kraken", case)
    m = vanta_market(markets("kraken")["LTC/USDT"])
    fill = to_fill(order("LTC/USDT", "buy", "0.1", "71"), got, m, "LTC")
    # vol_exec 0.1, cost 7.105741, fee 0.018475 USDT: the buy pays both, to the micro-dollar.
    assert (fill.status, fill.qty, fill.fee, fill.cash) == ("filled", Decimal("0.1"), Decimal("0.018475"),
                                                            Decimal("-7.124216"))


def test_kraken_open_order_with_nothing_filled_is_not_a_fill() -> None:
    got = parse("kraken", answer("kraken", "fetchOrder", "fetch spot limit order"))
    m = vanta_market(markets("kraken")["LTC/USDT"])
    fill = to_fill(order("LTC/USDT", "buy", "0.1", "50"), got, m, "LTC")
    assert fill.status == "rejected" and fill.qty == 0 and fill.cash == 0


def test_binance_closed_sell_books_its_proceeds() -> None:
    got = parse("binance", answer("binance", "fetchOrder", "Fetch spot closed order"))
    m = vanta_market(markets("binance")["LTC/USDT"])
    fill = to_fill(order("LTC/USDT", "sell", "0.1", "90"), got, m, "LTC")
    assert (fill.qty, fill.cash, fill.price) == (Decimal("0.1"), Decimal("9.08"), Decimal("90.80"))


def test_coinbase_closed_sell_nets_its_fees() -> None:
    got = parse("coinbase", answer("coinbase", "fetchClosedOrders", "Spot closed order"))[0]
    m = vanta_market(markets("coinbase")["ADA/USDT"])
    fill = to_fill(order("ADA/USDT", "sell", "10", "0.39"), got, m, "ADA")
    # filled_value 3.92 less total_fees 0.03136 = total_value_after_fees 3.88864
    assert (fill.qty, fill.fee, fill.cash) == (Decimal("10"), Decimal("0.03136"), Decimal("3.88864"))


def test_kraken_insufficient_funds_answer_is_a_rejection_never_retried() -> None:
    ex, rec = exchange("kraken", [(200, {"error": ["EOrder:Insufficient funds"], "result": {}})])
    venue = Venue(parse_ref("kraken:alice"), ex, KeyRing([KeySet("t", "k", "s")]), Breaker("kraken"),
                  asyncio.Semaphore(4))
    m = markets("kraken")
    broker = CcxtBroker({"kraken:alice": venue}, {"LTC/USDT": vanta_market(m["LTC/USDT"])}, Policy())
    o = order("LTC/USDT", "buy", "0.1", "70")

    async def go() -> Any:
        try:
            return await broker.submit([o], {"follower:f1": "kraken:alice"}, {"v1": Execution()})
        finally:
            await ex.close()

    (fill,) = asyncio.run(go())
    assert fill.status == "rejected" and "InsufficientFunds" in (fill.reason or "")
    assert len(rec.requests) == 1  # one AddOrder, no retry
    assert dict(parse_qsl(rec.requests[0][2] or ""))["cl_ord_id"] == native_client_id("kraken", o.client_order_id)


@pytest.mark.parametrize(("exid", "symbol", "lot", "tick", "floor"), [
    ("kraken", "BTC/USD", "0.00000001", "0.1", "0"),
    ("coinbase", "BTC/USDC", "0.00000001", "0.01", "1"),
    ("binance", "BTC/USDT", "0.00001", "0.01", "5"),
    ("alpaca", "LTC/USD", "0.000000001", "0.005", "0"),
])
def test_markets_become_vanta_rounding_rules(exid: str, symbol: str, lot: str, tick: str, floor: str) -> None:
    m = to_market(markets(exid)[symbol])
    assert m is not None
    assert (m.lot_size, m.tick_size, m.min_notional) == (Decimal(lot), Decimal(tick), Decimal(floor))


def test_minimum_amount_becomes_a_notional_floor_at_a_price() -> None:
    m = to_market(markets("kraken")["BTC/USD"], price=Decimal("50000"))
    assert m is not None and m.min_notional == Decimal("5")  # 0.0001 BTC at 50,000


def test_contracts_and_unknown_quotes_are_not_vanta_markets() -> None:
    mk = markets("binance")
    assert to_market(mk["BTC/USDT:USDT"]) is None
    assert to_market({**mk["BTC/USDT"], "quote": "TRY"}) is None


# ---------------------------------------------------------------- lookups by client order id


def broker_on(exid: str, answers: list[tuple[int, Any]], symbol: str) -> tuple[CcxtBroker, Venue, Recorder]:
    ex, rec = exchange(exid, answers)
    venue = Venue(parse_ref(f"{exid}:alice"), ex, KeyRing([KeySet("t", "k", "s")]), Breaker(exid),
                  asyncio.Semaphore(4))
    return CcxtBroker({f"{exid}:alice": venue}, {symbol: vanta_market(markets(exid)[symbol])}, Policy()), venue, rec


def resume(broker: CcxtBroker, venue: Venue, o: Any) -> Any:
    async def go() -> Any:
        try:
            return await broker.place(venue, o, Execution(), maybe_sent=True)
        finally:
            await venue.exchange.close()

    return asyncio.run(go())


def test_coinbase_order_of_a_crashed_cycle_is_found_in_closed_orders_not_resent() -> None:
    case = answer("coinbase", "fetchClosedOrders", "Spot closed order")
    o = order("ADA/USDT", "sell", "10", "0.39", coid=COID)
    closed = json.loads(json.dumps(case["httpResponse"]))
    closed["orders"][0]["client_order_id"] = COID  # the order vanta sent before it crashed
    empty = {"orders": [], "sequence": "0", "has_next": False, "cursor": ""}
    broker, venue, rec = broker_on("coinbase", [(200, empty), (200, closed)], "ADA/USDT")
    fill = resume(broker, venue, o)
    assert (fill.status, fill.qty, fill.cash) == ("filled", Decimal("10"), Decimal("3.88864"))
    assert [urlsplit(u).path for _, u, _ in rec.requests] == ["/api/v3/brokerage/orders/historical/batch"] * 2
    # Open orders, then orders of every status (a cancelled order may hold a partial fill).
    assert [dict(parse_qsl(urlsplit(u).query)).get("order_status") for _, u, _ in rec.requests] == ["OPEN", None]


SINCE = 1700000000000  # 2023-11-14T22:13:20Z: before the recorded coinbase order (2023-11-26)


def coinbase_page(n: int, cursor: str, mine: bool = False) -> dict[str, Any]:
    """A full page of coinbase's list of orders (LOOKUP_PAGE orders), ours last if `mine`."""
    from vanta.brokers.ccxt_broker import LOOKUP_PAGE

    raw = answer("coinbase", "fetchClosedOrders", "Spot closed order")["httpResponse"]["orders"][0]
    orders = [{**raw, "order_id": f"{n:04d}-{i:04d}", "client_order_id": f"someone-else-{n}-{i}", "cursor": ""}
              for i in range(LOOKUP_PAGE)]
    if mine:
        orders[-1]["client_order_id"] = COID
    return {"orders": orders, "sequence": "0", "has_next": bool(cursor), "cursor": cursor}


def test_coinbase_lookup_reads_every_page_since_the_submission_and_finds_page_three() -> None:
    req = fixture("request", "coinbase")
    o = order("ADA/USDT", "sell", "10", "0.39", coid=COID)
    empty = {"orders": [], "sequence": "0", "has_next": False, "cursor": ""}
    pages = [(200, empty), (200, coinbase_page(1, "c1")), (200, coinbase_page(2, "c2")),
             (200, coinbase_page(3, "", mine=True))]
    broker, venue, rec = broker_on("coinbase", pages, "ADA/USDT")
    broker.since = {COID: SINCE}
    fill = resume(broker, venue, o)
    assert (fill.status, fill.qty, fill.cash) == ("filled", Decimal("10"), Decimal("3.88864"))
    assert [m for m, _, _ in rec.requests] == ["GET"] * 4  # found: nothing created
    queries = [dict(parse_qsl(urlsplit(u).query)) for _, u, _ in rec.requests]
    # What ccxt's own fixture expects for open orders, plus the market, the start and the page.
    want = dict(parse_qsl(urlsplit(req["methods"]["fetchOpenOrders"][0]["url"]).query))
    assert queries[0] == {**want, "product_id": "ADA-USDT", "start_date": "2023-11-14T22:13:20.000Z"}
    assert {k: queries[1][k] for k in ("limit", "product_id", "start_date")} == {
        "limit": "100", "product_id": "ADA-USDT", "start_date": "2023-11-14T22:13:20.000Z"}
    assert "order_status" not in queries[1] and "cursor" not in queries[1]
    assert [q.get("cursor") for q in queries[2:]] == ["c1", "c2"]
    assert all(urlsplit(u).path == urlsplit(req["methods"]["fetchOpenOrders"][0]["url"]).path
               for _, u, _ in rec.requests)


def test_coinbase_lookup_past_the_page_cap_is_incomplete_and_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from vanta.brokers import ccxt_broker

    monkeypatch.setattr(ccxt_broker, "LOOKUP_PAGES", 2)
    o = order("ADA/USDT", "sell", "10", "0.39", coid=COID)
    broker, venue, rec = broker_on("coinbase", [(200, coinbase_page(1, "c1")), (200, coinbase_page(2, "c2"))],
                                   "ADA/USDT")
    fill = resume(broker, venue, o)
    assert fill.status == "deferred" and (fill.reason or "").startswith("submitting:")
    assert "first 2 pages" in (fill.reason or "")
    assert [m for m, _, _ in rec.requests] == ["GET", "GET"]  # never sent on an incomplete search


def test_an_old_submitting_order_a_complete_lookup_does_not_find_is_not_sent_again() -> None:
    from vanta.brokers.errors import NEVER_FOUND

    o = order("ADA/USDT", "sell", "10", "0.39", coid=COID, status="submitting")
    empty = {"orders": [], "sequence": "0", "has_next": False, "cursor": ""}
    broker, venue, rec = broker_on("coinbase", [(200, empty), (200, coinbase_page(1, "")),
                                                (200, empty), (200, coinbase_page(1, ""))], "ADA/USDT")
    broker.lookup_only = frozenset({COID})
    fill = resume(broker, venue, o)
    assert fill.status == "deferred" and (fill.reason or "").startswith(f"submitting: {NEVER_FOUND}")
    assert [m for m, _, _ in rec.requests] == ["GET", "GET"]


def test_kraken_lookup_filters_by_cl_ord_id_and_follows_the_offset_pages() -> None:
    from vanta.brokers.ccxt_broker import KRAKEN_PAGE

    o = order("LTC/USDT", "buy", "0.1", "70", coid=COID)
    native = native_client_id("kraken", COID)
    recorded = next(iter(answer("kraken", "fetchOrder", "closed market order")["httpResponse"]["result"].values()))
    # A full first page without ours (an exchange that applied the filter loosely, say):
    # the lookup reads on, by offset, and finds it on the second page.
    others = {f"O{i:05d}-AAAAA-BBBBBB": {**recorded, "cl_ord_id": f"other-{i}"} for i in range(KRAKEN_PAGE)}
    mine = {"OURS00-AAAAA-BBBBBB": {**recorded, "cl_ord_id": native}}
    nothing_open = {"error": [], "result": {"open": {}}}
    broker, venue, rec = broker_on("kraken", [(200, nothing_open),
                                              (200, {"error": [], "result": {"closed": others, "count": 51}}),
                                              (200, {"error": [], "result": {"closed": mine, "count": 51}})],
                                   "LTC/USDT")
    found = asyncio.run(_lookup(broker, venue, o))
    assert found is not None and found["clientOrderId"] == native
    paths = [urlsplit(u).path.rsplit("/", 1)[1] for _, u, _ in rec.requests]
    assert paths == ["OpenOrders", "ClosedOrders", "ClosedOrders"]
    bodies = [dict(parse_qsl(b or "")) for _, _, b in rec.requests]
    assert all(b["cl_ord_id"] == native for b in bodies)
    assert "ofs" not in bodies[1] and bodies[2]["ofs"] == str(KRAKEN_PAGE)
    # The requests are the fixture's (same endpoints), the cl_ord_id filter added.
    req = fixture("request", "kraken")["methods"]
    assert [urlsplit(req[m][0]["url"]).path.rsplit("/", 1)[1] for m in ("fetchOpenOrders", "fetchClosedOrders")] \
        == paths[:2]


def test_kraken_open_orders_come_in_one_answer_so_a_long_one_is_complete() -> None:
    from vanta.brokers.ccxt_broker import KRAKEN_PAGE

    o = order("LTC/USDT", "buy", "0.1", "70", coid=COID)
    recorded = next(iter(answer("kraken", "fetchOrder", "closed market order")["httpResponse"]["result"].values()))
    many = {f"O{i:05d}-AAAAA-BBBBBB": {**recorded, "status": "open", "cl_ord_id": f"other-{i}"}
            for i in range(2 * KRAKEN_PAGE)}
    broker, venue, rec = broker_on("kraken", [(200, {"error": [], "result": {"open": many}}),
                                              (200, {"error": [], "result": {"closed": {}, "count": 0}})],
                                   "LTC/USDT")
    assert asyncio.run(_lookup(broker, venue, o)) is None  # complete: not found
    assert [urlsplit(u).path.rsplit("/", 1)[1] for _, u, _ in rec.requests] == ["OpenOrders", "ClosedOrders"]
    assert not any("ofs" in dict(parse_qsl(b or "")) for _, _, b in rec.requests)


ALPACA_ORDER = {
    "id": "cbaf12d7-69b8-49c0-a31b-b46af35c755c", "client_order_id": COID,
    "created_at": "2023-11-17T04:21:42.234579Z", "updated_at": "2023-11-17T04:22:34.442765Z",
    "submitted_at": "2023-11-17T04:21:42.233357Z", "filled_at": "2023-11-17T04:22:34.399019Z",
    "asset_id": "77c6f47f-0939-4b23-b41e-47b4469c4bc8", "symbol": "LTC/USD", "asset_class": "crypto",
    "qty": "0.5", "filled_qty": "0.5", "filled_avg_price": "70.5", "order_type": "limit", "type": "limit",
    "side": "buy", "time_in_force": "gtc", "limit_price": "71", "status": "filled"}


def test_alpaca_lookup_asks_by_client_order_id_directly() -> None:
    o = order("LTC/USD", "buy", "0.5", "71", coid=COID)
    broker, venue, rec = broker_on("alpaca", [(200, ALPACA_ORDER)], "LTC/USD")
    fill = resume(broker, venue, o)
    assert (fill.status, fill.qty, fill.price) == ("filled", Decimal("0.5"), Decimal("70.5"))
    assert fill.cash == Decimal("-35.25")
    ((method, url, _),) = rec.requests  # one call, nothing sent
    want = urlsplit(fixture("request", "alpaca")["methods"]["fetchOpenOrders"][0]["url"])
    assert method == "GET" and urlsplit(url).netloc == want.netloc
    assert urlsplit(url).path == "/v2/orders:by_client_order_id"
    assert dict(parse_qsl(urlsplit(url).query)) == {"client_order_id": COID}


def test_alpaca_unknown_client_order_id_is_not_found_and_the_order_is_sent() -> None:
    o = order("LTC/USD", "buy", "0.5", "71", coid=COID)
    unknown = {"code": 40410000, "message": "order not found for " + COID}
    broker, venue, rec = broker_on("alpaca", [(404, unknown), (200, {**ALPACA_ORDER, "status": "new",
                                                                     "filled_qty": "0"}),
                                              (200, ALPACA_ORDER)], "LTC/USD")
    broker.sleep = _no_sleep
    fill = resume(broker, venue, o)
    assert [(m, urlsplit(u).path) for m, u, _ in rec.requests] == [
        ("GET", "/v2/orders:by_client_order_id"), ("POST", "/v2/orders"), ("GET", f"/v2/orders/{ALPACA_ORDER['id']}")]
    assert json.loads(rec.requests[1][2] or "{}")["client_order_id"] == COID
    assert fill.status == "filled"


async def _lookup(broker: CcxtBroker, venue: Venue, o: Any) -> Any:
    try:
        return await broker.lookup(venue, o)
    finally:
        await venue.exchange.close()


def test_kraken_lookup_asks_by_cl_ord_id_and_sends_when_unknown() -> None:
    o = order("LTC/USDT", "buy", "0.1", "70", coid=COID)
    nothing_open = {"error": [], "result": {"open": {}}}
    nothing_closed = {"error": [], "result": {"closed": {}, "count": 0}}
    created = answer("kraken", "createOrder", "create order")["httpResponse"]
    closed = answer("kraken", "fetchOrder", "closed market order")["httpResponse"]
    # The recorded closed order, under the id the recorded AddOrder answer gave.
    closed = {"error": [], "result": {created["result"]["txid"][0]: next(iter(closed["result"].values()))}}
    broker, venue, rec = broker_on("kraken", [(200, nothing_open), (200, nothing_closed), (200, created),
                                              (200, closed)], "LTC/USDT")
    broker.sleep = _no_sleep
    fill = resume(broker, venue, o)
    paths = [urlsplit(u).path.rsplit("/", 1)[1] for _, u, _ in rec.requests]
    assert paths == ["OpenOrders", "ClosedOrders", "AddOrder", "QueryOrders"]
    native = native_client_id("kraken", COID)
    assert dict(parse_qsl(rec.requests[0][2] or ""))["cl_ord_id"] == native
    assert dict(parse_qsl(rec.requests[2][2] or ""))["cl_ord_id"] == native
    assert fill.status == "filled" and fill.qty == Decimal("0.1")
    assert fill.cash == Decimal("-7.124216")


def test_an_acknowledged_order_the_exchange_does_not_show_yet_waits_as_open() -> None:
    o = order("LTC/USDT", "buy", "0.1", "70", coid=COID)
    created = answer("kraken", "createOrder", "create order")["httpResponse"]
    unknown = {"error": ["EOrder:Unknown order"], "result": {}}
    broker, venue, _ = broker_on("kraken", [(200, created), (200, unknown)], "LTC/USDT")
    broker.sleep = _no_sleep

    async def go() -> Any:
        try:
            return await broker.place(venue, o, Execution(), maybe_sent=False)
        finally:
            await venue.exchange.close()

    fill = asyncio.run(go())
    assert fill.status == "deferred" and (fill.reason or "").startswith("open:")  # never a rejection


async def _no_sleep(s: float) -> None:
    pass
