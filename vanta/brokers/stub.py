"""A local stub exchange that speaks binance's spot REST API, for tests and the benchmark.

Real ccxt binance objects talk to it through `ccxt_exchange.use_transport`: ccxt
builds and signs each request, the stub answers as binance would (JSON bodies,
binance's error codes), and ccxt parses the answer and maps the errors. Each call
waits `latency` seconds. Faults are scripted per call kind (`faults["create"] =
["timeout_after_accept", ...]`, consumed in order) and cover what the issue names: a
timeout after the order reached the exchange, outages (503), rate limits (429),
insufficient funds, a refused key, partial fills completed over later reports, and
reports delivered twice or out of order.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle  # the stub's own state file, written and read by tests only
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from vanta.money import ZERO


def binance_markets(symbols: Mapping[str, tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """ccxt market structures for `symbol -> (lot, tick)` on the stub (spot, quote per symbol)."""
    import ccxt.async_support as ccxt_async

    blank = ccxt_async.binance().safe_market_structure()
    out = {}
    for sym, (lot, tick) in symbols.items():
        base, _, quote = sym.partition("/")
        quote = quote or "USD"  # a bare symbol (an equity, `AAPL`) trades against USD
        out[sym] = {**blank, "id": base + quote, "symbol": sym, "base": base, "quote": quote,
                    "baseId": base, "quoteId": quote, "type": "spot", "spot": True, "active": True,
                    "precision": {"amount": Decimal(lot), "price": Decimal(tick)},
                    "limits": {"amount": {"min": Decimal(lot)}, "cost": {"min": Decimal(1)},
                               "price": {}, "leverage": {}},
                    "info": {"symbol": base + quote, "status": "TRADING",
                             "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"]}}
    return out


_ROUTES = {("POST", "/api/v3/order"): "create", ("GET", "/api/v3/order"): "fetch",
           ("DELETE", "/api/v3/order"): "cancel", ("GET", "/api/v3/account"): "balance",
           ("GET", "/api/v3/openOrders"): "open", ("GET", "/api/v3/myTrades"): "trades",
           ("GET", "/api/v3/ticker/24hr"): "tickers", ("GET", "/api/v3/klines"): "klines"}


@dataclass
class StubOrder:
    order_id: int
    client_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    executed: Decimal = ZERO
    status: str = "NEW"
    reports: int = 0
    trades: list[dict[str, Any]] = field(default_factory=list)
    key: str = ""


@dataclass
class StubVenue:
    latency: float = 0.05
    fee_rate: Decimal = Decimal("0.001")
    fee_asset: str | None = None
    """Charge commissions in this asset (binance's BNB discount) instead of the quote..."""
    fee_asset_price: Decimal = Decimal(1)
    """... at this price in the quote."""
    partial_steps: int = 1
    """Reports an order needs to fill completely: 1 fills it at once."""
    faults: dict[str, list[str]] = field(default_factory=dict)
    orders: dict[str, StubOrder] = field(default_factory=dict)
    creates: dict[str, int] = field(default_factory=dict)
    """Create calls received per client order id (a resend shows up as 2)."""
    calls: list[tuple[str, str]] = field(default_factory=list)
    stale_reports: bool = False
    """Answer every other fetch with the order's previous state (an out-of-order report)."""
    holdings: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """API key -> asset -> amount the account holds; fills move it (commission in the quote or `fee_asset`)."""
    prices: dict[str, Decimal] = field(default_factory=dict)
    """Market id (`BTCUSDT`) -> last price, for tickers and candles."""
    inflight: int = 0
    max_inflight: int = 0
    keys_seen: set[str] = field(default_factory=set)
    _history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _key: str = ""
    state_path: Path | None = None
    _next_id: int = 1000

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.creates.values() if n > 1)

    async def transport(self, url: str, method: str, headers: Mapping[str, Any], body: str | None) -> tuple[int, str]:
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return self._answer(url, method, headers, body)
        finally:
            self.inflight -= 1

    # The state a venue keeps across a client's crash (tests kill the client process).
    _STATE = ("orders", "creates", "holdings", "prices", "_next_id")

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps({k: getattr(self, k) for k in self._STATE}))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, **kw: Any) -> StubVenue:
        venue = cls(**kw)
        if path.exists():
            for k, v in pickle.loads(path.read_bytes()).items():
                setattr(venue, k, v)
        venue.state_path = path
        return venue

    def _answer(self, url: str, method: str, headers: Mapping[str, Any], body: str | None) -> tuple[int, str]:
        try:
            return self._route(url, method, headers, body)
        finally:
            if self.state_path is not None:
                self.save(self.state_path)  # the venue remembers what it answered, whatever the client does

    def _route(self, url: str, method: str, headers: Mapping[str, Any], body: str | None) -> tuple[int, str]:
        self._key = str(headers.get("X-MBX-APIKEY", ""))
        self.keys_seen.add(self._key)
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query)) | dict(parse_qsl(body or ""))
        kind = _ROUTES.get((method, parts.path), "other")
        self.calls.append((kind, params.get("newClientOrderId") or params.get("origClientOrderId") or ""))
        fault = self.faults.get(kind, [None]).pop(0) if self.faults.get(kind) else None
        early = self._fault_answer(fault)
        if early is not None:
            return early
        status, answer = getattr(self, "_" + kind)(params)
        if fault == "timeout_after_accept":
            import ccxt.async_support as ccxt_async

            raise ccxt_async.RequestTimeout(f"binance {method} {url} (the stub accepted it, then timed out)")
        return status, orjson.dumps(answer, default=str).decode()  # the venue's CPU is the benchmark's too

    @staticmethod
    def _fault_answer(fault: str | None) -> tuple[int, str] | None:
        if fault is None or fault == "timeout_after_accept":
            return None
        if fault == "timeout":
            import ccxt.async_support as ccxt_async

            raise ccxt_async.RequestTimeout("binance stub: timed out before the order arrived")
        return {
            "outage": (503, "Service Unavailable"),
            "rate_limit": (429, json.dumps({"code": -1003, "msg": "Too many requests."})),
            "insufficient": (400, json.dumps({"code": -2010, "msg": "Account has insufficient balance for "
                                                                     "requested action."})),
            "auth": (401, json.dumps({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})),
        }[fault]

    def _create(self, p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        cid = p["newClientOrderId"]
        self.creates[cid] = self.creates.get(cid, 0) + 1
        if cid in self.orders:
            return 400, {"code": -2010, "msg": "Duplicate order sent."}
        self._next_id += 1
        o = StubOrder(self._next_id, cid, p["symbol"], p["side"], Decimal(p["quantity"]), Decimal(p["price"]),
                      key=self._key)
        self.orders[cid] = o
        self._advance(o)
        return 200, self._json(o, fills=True)

    def _advance(self, o: StubOrder) -> None:
        if o.status in ("FILLED", "CANCELED"):
            return
        o.reports += 1
        step = (o.qty / self.partial_steps).quantize(Decimal("0.00000001"))
        before = o.executed
        o.executed = o.qty if o.reports >= self.partial_steps else min(o.qty, o.executed + step)
        o.status = "FILLED" if o.executed == o.qty else "PARTIALLY_FILLED"
        qty = o.executed - before
        if qty:
            self._next_id += 1
            fee_asset = self.fee_asset or _quote_of(o.symbol)
            commission = qty * o.price * self.fee_rate / (self.fee_asset_price if self.fee_asset else 1)
            o.trades.append({"symbol": o.symbol, "id": self._next_id, "orderId": o.order_id, "price": str(o.price),
                             "qty": str(qty), "quoteQty": str(qty * o.price),
                             "commission": str(commission),
                             "commissionAsset": fee_asset, "time": 1700000000000,
                             "isBuyer": o.side == "BUY", "isMaker": False, "isBestMatch": True})
            quote = _quote_of(o.symbol)
            base = o.symbol[: -len(quote)]
            book = self.holdings.setdefault(o.key, {})
            sign = 1 if o.side == "BUY" else -1
            book[base] = book.get(base, ZERO) + sign * qty
            book[quote] = book.get(quote, ZERO) - sign * qty * o.price
            book[fee_asset] = book.get(fee_asset, ZERO) - commission

    def _find(self, p: dict[str, str]) -> StubOrder | None:
        if "origClientOrderId" in p:
            return self.orders.get(p["origClientOrderId"])
        return next((o for o in self.orders.values() if str(o.order_id) == p.get("orderId")), None)

    def _fetch(self, p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        o = self._find(p)
        if o is None:
            return 400, {"code": -2013, "msg": "Order does not exist."}
        before = self._json(o)
        self._advance(o)
        now = self._json(o)
        hist = self._history.setdefault(o.client_id, [])
        hist.append(now)
        if self.stale_reports and len(hist) % 2 == 0:
            return 200, before  # an older report arrives after a newer one
        return 200, now

    def _cancel(self, p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        o = self._find(p)
        if o is None or o.status in ("FILLED", "CANCELED"):
            return 400, {"code": -2011, "msg": "Unknown order sent."}
        o.status = "CANCELED"
        return 200, self._json(o)

    def _open(self, p: dict[str, str]) -> tuple[int, list[dict[str, Any]]]:
        return 200, [self._json(o) for o in self.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")]

    def _trades(self, p: dict[str, str]) -> tuple[int, list[dict[str, Any]]]:
        o = self._find(p)
        return 200, [] if o is None else list(o.trades)

    def _tickers(self, p: dict[str, str]) -> tuple[int, list[dict[str, Any]]]:
        wanted = json.loads(p["symbols"]) if "symbols" in p else sorted(self.prices)
        return 200, [{"symbol": m, "lastPrice": str(self.prices[m]), "openPrice": str(self.prices[m]),
                      "closeTime": 1700000000000, "volume": "1", "quoteVolume": str(self.prices[m])}
                     for m in wanted if m in self.prices]

    def _klines(self, p: dict[str, str]) -> tuple[int, list[list[Any]]]:
        price, n = self.prices[p["symbol"]], int(p.get("limit", 10))
        # A gentle deterministic walk up to the last price: candle i closes at price * (1 - (n-1-i)/100).
        day = 86_400_000
        return 200, [[1700000000000 + i * day, str(price), str(price), str(price),
                      str(price * (1 - Decimal(n - 1 - i) / 100)), "1", 1700000000000 + (i + 1) * day - 1]
                     for i in range(n)]

    def _balance(self, p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        held = self.holdings.get(self._key, {})
        return 200, {"balances": [{"asset": a, "free": str(q), "locked": "0"} for a, q in sorted(held.items())],
                     "accountType": "SPOT", "canTrade": True, "updateTime": 1700000000000}

    def _other(self, p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 404, {"code": -1, "msg": "not in the stub"}

    def _json(self, o: StubOrder, fills: bool = False) -> dict[str, Any]:
        quote = o.executed * o.price
        out: dict[str, Any] = {
            "symbol": o.symbol, "orderId": o.order_id, "orderListId": -1, "clientOrderId": o.client_id,
            "transactTime": 1700000000000, "price": str(o.price), "origQty": str(o.qty),
            "executedQty": str(o.executed), "cummulativeQuoteQty": str(quote), "status": o.status,
            "timeInForce": "GTC", "type": "LIMIT", "side": o.side, "time": 1700000000000,
            "updateTime": 1700000000000}
        if fills:
            out["fills"] = [{"price": t["price"], "qty": t["qty"], "commission": t["commission"],
                             "commissionAsset": t["commissionAsset"], "tradeId": t["id"]} for t in o.trades]
        return out


def _quote_of(market_id: str) -> str:
    return next((q for q in ("USDT", "USDC", "USD", "EUR") if market_id.endswith(q)), "USD")
