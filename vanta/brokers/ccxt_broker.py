"""The ccxt broker: live and sandbox execution behind the paper broker's interface.

`CcxtBroker.submit` takes a cycle's orders and returns one `Fill` per order, like the
paper broker, with a third kind of answer: `deferred` (the order stays queued; the
reason starts with its next queue status: `retry` = never reached the exchange,
`submitting` = fate unknown, `open` = resting at the exchange). Every answer is
recorded as a cycle input by the live edge, so replay never calls an exchange.

Rules, per order:
- the client order id goes out in the exchange's own parameter (ccxt_exchange);
- an order that may already have reached the exchange (queued as `submitting` or
  `open`, or its cycle was interrupted) is first looked up by client order id (`lookup`:
  direct where the exchange can, else every page of its order lists); it is sent only
  when a complete lookup does not find it, and never once it is MAX_AGE_CYCLES old
  (`lookup_only`: it is deferred with NEVER_FOUND and the execute stage expires it);
- a submit that times out is not sent again in that cycle: its fate is looked up; unknown, it
  stays `submitting` for the next cycle;
- fees in a third currency are valued at the snapshot (`to_fill`), or named as unvalued;
- a partly filled order is followed until closed; still open after the follow
  budget, it is cancelled (the cancel is retried once) and its fills are booked;
- insufficient funds and invalid orders are rejections; an authentication error
  rotates to the account's next key set and tries once more; network, rate-limit
  and unavailable errors are retried with backoff on reads, and open the broker's
  circuit breaker, which defers the remaining orders without calling anyone.

Per account, sells go out together, then buys together (a buy may need a sell's
proceeds); accounts run concurrently, at most `concurrency` calls in flight per exchange.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from vanta import faults
from vanta.books import fill_price
from vanta.brokers import rails
from vanta.brokers.ccxt_exchange import CLIENT_ID_PARAM, make_exchange, native_client_id, to_market
from vanta.brokers.errors import (
    FEE_UNVALUED,
    NEVER_FOUND,
    AuthFailed,
    BrokerError,
    CircuitOpen,
    Final,
    InvalidOrder,
    NotFound,
    RateLimited,
    Transient,
    redact,
)
from vanta.brokers.rails import Rail
from vanta.brokers.resilience import Backoff, Breaker, Sleep, call, retry
from vanta.brokers.secrets import AccountRef, KeyRing, parse_ref
from vanta.models import Execution, Fill, Market, Order
from vanta.money import ZERO, cash_step, ceil, floor, half_even

TERMINAL = ("closed", "canceled", "cancelled", "expired", "rejected")

LOOKUP_PAGE = 100
"""Orders per page asked for when a lookup lists orders (coinbase's default and maximum page)."""
LOOKUP_PAGES = 10
"""Pages read per listing before a lookup gives up as incomplete (kraken: 50 orders a page,
coinbase: LOOKUP_PAGE), i.e. 500 to 1,000 orders with the client order id (kraken) or since
the order's submission (coinbase)."""
KRAKEN_PAGE = 50
SINCE_MARGIN_MS = 3_600_000
"""A listing starts this long before the asof of the order's cycle (clock skew between the
machine that ran the cycle and the exchange)."""
ALPACA_UNKNOWN = "40410000"
"""alpaca's error code for an order it does not know."""


class LookupIncomplete(Transient):
    """A lookup by client order id could not search every page: the order's fate stays unknown."""


def _next_page(paging: str, page: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any] | None:
    """The parameters of the page after `page`, or None when `page` was the last."""
    if paging == "kraken":  # offsets; a short page is the last
        return None if len(page) < KRAKEN_PAGE else {**params, "ofs": int(params.get("ofs", 0)) + len(page)}
    # coinbase: ccxt leaves the answer's cursor in the first order's raw structure
    cursor = ((page[0].get("info") or {}).get("cursor") if page else None)
    if not cursor or len(page) < LOOKUP_PAGE:
        return None
    return {**params, "cursor": cursor}


@dataclass(frozen=True)
class Policy:
    follow_polls: int = 5
    """fetch_order calls spent following an open order before it is cancelled."""
    follow_interval: float = 0.5
    backoff: Backoff = field(default_factory=Backoff)
    concurrency: int = 64
    """Calls in flight per exchange, over all its accounts."""
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    rails: Mapping[tuple[str, str], Rail] = field(default_factory=dict)
    """(exchange, needed currency) -> the stable pair that converts into it (vanta.brokers.rails)."""


@dataclass
class Venue:
    """One exchange account: its ccxt object, key ring and the exchange's breaker."""

    ref: AccountRef
    exchange: Any
    ring: KeyRing
    breaker: Breaker
    gate: asyncio.Semaphore
    make: Callable[[], Any] | None = None
    """Builds the exchange object again for the ring's current key set (after a rotation)."""
    retired: list[Any] = field(default_factory=list)
    """Exchange objects of rotated-out key sets, closed with the venue."""

    async def close(self) -> None:
        await asyncio.gather(*(ex.close() for ex in (*self.retired, self.exchange)))


def deferred(order: Order, status: str, why: str) -> Fill:
    return Fill.make(client_order_id=order.client_order_id, status="deferred", qty=ZERO, price=ZERO,
                     fee=ZERO, cash=ZERO, reason=f"{status}: {why}")


def rejected(order: Order, why: str) -> Fill:
    return Fill.make(client_order_id=order.client_order_id, status="rejected", qty=ZERO, price=ZERO,
                     fee=ZERO, cash=ZERO, reason=why)


def _dec(x: Any) -> Decimal | None:
    return None if x is None else x if isinstance(x, Decimal) else Decimal(str(x))


def _fees(o: Mapping[str, Any]) -> list[tuple[Decimal, str]]:
    """The order's fees, each trade's fee counted once (a trade reported twice is one trade)."""
    trades = o.get("trades") or []
    seen: dict[str, Mapping[str, Any]] = {}
    for t in trades:
        seen.setdefault(str(t.get("id")), t)
    fees = [t.get("fee") for t in seen.values()]
    if not any(f and f.get("cost") is not None for f in fees):
        fees = o.get("fees") or [o.get("fee")]
    return [(_dec(f["cost"]) or ZERO, f.get("currency") or "") for f in fees if f and f.get("cost") is not None]


def to_fill(order: Order, o: Mapping[str, Any], market: Market, base: str,
            rates: Mapping[str, Decimal] | None = None) -> Fill:
    """A ccxt order structure as vanta's answer for `order`: what was filled, at what
    average price, and the cash it moved (a buy pays notional rounded up plus fees; a
    sell receives notional rounded down less fees, as the paper broker books).

    Fees: in the quote, booked as they are; in the base of a buy, they come out of the
    coins bought. In any other currency (BNB on binance, the base of a sell) the fee is
    valued in the quote, at the snapshot price of the vault's market of that currency in
    this quote (`rates`: asset -> price), else (the base of a sell) at the fill's own price,
    and booked like a quote fee, so PnL carries the cost; the reason says what was valued how.
    A fee vanta has no price for stays in the reason as `fee unvalued: <amount> <currency>`
    (the truth stage logs it as `fee_unvalued`)."""
    filled = _dec(o.get("filled")) or ZERO
    if filled <= 0:
        return rejected(order, f"{o.get('status') or 'unknown'}: nothing filled")
    cost = _dec(o.get("cost"))
    avg = _dec(o.get("average")) or (cost / filled if cost else None) or _dec(o.get("price")) or order.price
    notional = cost if cost else filled * avg
    step = cash_step(market.quote)
    fee, notes = ZERO, []
    for amount, ccy in _fees(o):
        if ccy == market.quote or not ccy:
            fee += amount
        elif ccy == base and order.side == "buy":
            filled -= amount  # the fee came out of the coins bought
        elif amount > 0:
            rate, source = (rates or {}).get(ccy), f"the {ccy} snapshot price"
            if rate is None and ccy == base:
                rate, source = avg, "the fill price"
            if rate is None:
                notes.append(f"{FEE_UNVALUED} {amount} {ccy} (no {ccy} market in {market.quote} in the snapshot; "
                             "not in the books)")
                continue
            value = amount * rate
            fee += value
            notes.append(f"fee {amount} {ccy} booked as {ceil(value, step)} {market.quote} at {source} {rate}")
    fee = ceil(fee, step)
    cash = -(ceil(notional, step) + fee) if order.side == "buy" else floor(notional, step) - fee
    if filled % market.lot_size == 0:
        filled = filled.quantize(market.lot_size)  # written like the order's quantity (0.1000, not 0.10000000)
    return Fill.make(client_order_id=order.client_order_id, status="filled", qty=filled,
                     price=half_even(avg, market.tick_size), fee=fee, cash=cash,
                     reason="; ".join(notes) or None)


class CcxtBroker:
    """Orders of ccxt-linked accounts, one Fill (or deferral) each."""

    def __init__(self, venues: Mapping[str, Venue], markets: Mapping[str, Market],
                 policy: Policy = Policy(), sleep: Sleep = asyncio.sleep,
                 on_submitted: Callable[[Order, float], None] | None = None,
                 since: Mapping[str, int] | None = None, lookup_only: frozenset[str] = frozenset(),
                 prices: Mapping[str, Decimal] | None = None) -> None:
        self.venues = venues
        """account_ref -> venue."""
        self.markets = dict(markets)
        self.conversions: list[Fill] = []
        """Answers for stable-rail conversions placed before buys."""
        self.policy = policy
        self.sleep = sleep
        self.on_submitted = on_submitted
        self.since = dict(since or {})
        """client order id -> the earliest instant (ms) it can have been submitted: where
        a listing of orders starts."""
        self.lookup_only = lookup_only
        """Orders too old to be sent again: looked up, followed when found, else deferred
        with NEVER_FOUND (the execute stage expires them)."""
        self.prices = dict(prices or {})
        """The cycle's snapshot prices by symbol: a fee charged in a third currency is valued
        at the price of the market whose base it is, in the fill's quote."""
        self._by_quote: dict[str, dict[str, Decimal]] = {}
        self.calls = 0

    # ------------------------------------------------------------------ batch

    async def submit(self, orders: Sequence[Order], refs: Mapping[str, str], execution: Mapping[str, Execution],
                     maybe_sent: frozenset[str] = frozenset()) -> list[Fill]:
        """Answers for `orders` (in execution order), grouped by account.

        Args:
            refs: order.account -> account_ref.
            execution: vault_id -> its execution settings (the slippage bound of the limit price).
            maybe_sent: client order ids that may have reached an exchange already (an
                interrupted cycle's); orders queued as `submitting`/`open` count too.
        """
        by_account: dict[str, list[Order]] = {}
        for o in orders:
            by_account.setdefault(o.account, []).append(o)
        results = await asyncio.gather(*(
            self._account(self.venues[refs[acct]], group, execution, maybe_sent)
            for acct, group in by_account.items()))
        return [f for group in results for f in group]

    async def _account(self, venue: Venue, orders: list[Order], execution: Mapping[str, Execution],
                       maybe_sent: frozenset[str]) -> list[Fill]:
        out: list[Fill] = []
        for side in ("sell", "buy"):
            batch = [o for o in orders if o.side == side]
            if side == "buy" and batch and self.policy.rails:
                await self._rails(venue, batch, execution, maybe_sent)
            out += await asyncio.gather(*(
                self.place(venue, o, execution[o.vault_id],
                           o.client_order_id in maybe_sent or o.status in ("submitting", "open"))
                for o in batch))
        return out

    async def _rails(self, venue: Venue, buys: list[Order], execution: Mapping[str, Execution],
                     maybe_sent: frozenset[str]) -> None:
        """Convert through the stable rail what the buys lack in their quote currency."""
        by_quote: dict[str, list[Order]] = {}
        for o in buys:
            by_quote.setdefault(self.markets[o.symbol].quote, []).append(o)
        for quote, group in sorted(by_quote.items()):
            rail = self.policy.rails.get((venue.ref.exchange, quote))
            market = None if rail is None else to_market((venue.exchange.markets or {}).get(rail.pair) or {})
            if rail is None or market is None:
                continue
            try:
                free = (await self._read(venue, venue.exchange.fetch_balance)).get("free") or {}
            except BrokerError:
                continue  # the buys go out; one the account cannot pay is rejected by the exchange
            limits = {o.client_order_id: fill_price("buy", o.price, execution[o.vault_id], self.markets[o.symbol])
                      for o in group}
            short = rails.shortfall(group, self.markets, limits, _dec(free.get(quote)) or ZERO)
            order = rails.conversion(group, rail, short, _dec(free.get(rail.stable)) or ZERO, market)
            if order is None:
                continue
            self.markets[rail.pair] = market
            again = any(o.client_order_id in maybe_sent or o.status != "staged" for o in group)
            self.conversions.append(await self.place(venue, order, Execution.make(
                adapter="paper", slippage_bps=rail.bps, fee_bps=ZERO), again))

    # ------------------------------------------------------------------ one order

    async def place(self, venue: Venue, order: Order, ex: Execution, maybe_sent: bool) -> Fill:
        try:
            if maybe_sent:
                found = await self.lookup(venue, order)
                if found is not None:
                    return await self.follow(venue, order, found)
                if order.client_order_id in self.lookup_only:
                    return deferred(order, "submitting", f"{NEVER_FOUND} (a complete lookup); too old to send again")
            return await self._send(venue, order, ex)
        except Transient as err:
            return deferred(order, "submitting" if maybe_sent else "retry", err.message)
        except Final as err:
            return rejected(order, err.message)

    async def _send(self, venue: Venue, order: Order, ex: Execution) -> Fill:
        market = self.markets[order.symbol]
        limit = fill_price(order.side, order.price, ex, market)
        native = native_client_id(venue.ref.exchange, order.client_order_id)
        params = {CLIENT_ID_PARAM[venue.ref.exchange]: native}
        for _ in range(2):  # the second pass only after a key rotation
            if venue.ring.current is None:
                return deferred(order, "retry", f"every key set of {self._ref(venue)} was refused; fix its keys")
            try:
                placed = await self._call(venue, lambda: venue.exchange.create_order(
                    order.symbol, "limit", order.side, order.qty, limit, dict(params)))
            except CircuitOpen as err:
                return deferred(order, "retry", err.message)
            except AuthFailed as err:
                if not self._rotate(venue):
                    return deferred(order, "retry", f"{err.message}; no other key set for {self._ref(venue)}")
                continue
            except Transient as err:
                # The order may be at the exchange: find it by client order id, never resend.
                return await self._after_lost_answer(venue, order, err)
            if self.on_submitted is not None:
                self.on_submitted(order, time.perf_counter())
            faults.point("ccxt_submitted")
            return await self.follow(venue, order, placed)
        return deferred(order, "retry", f"key sets of {self._ref(venue)} keep being refused")

    async def _after_lost_answer(self, venue: Venue, order: Order, err: BrokerError) -> Fill:
        try:
            found = await self.lookup(venue, order)
        except Transient as again:
            return deferred(order, "submitting", f"{err.message}; lookup failed too: {again.message}")
        if found is None:
            return deferred(order, "submitting", f"{err.message}; not found by client order id yet")
        return await self.follow(venue, order, found)

    async def lookup(self, venue: Venue, order: Order) -> dict[str, Any] | None:
        """The exchange's order with this client order id (open or closed), or None when
        a complete search did not find it. A search that could not be completed (a page
        cap reached, a read failed) raises a Transient error: the order is never sent on
        the strength of an incomplete search.

        - binance: GET /api/v3/order by origClientOrderId (direct);
        - alpaca: GET /v2/orders:by_client_order_id (direct; 404 = unknown);
        - kraken: OpenOrders (one answer) and ClosedOrders (every page, `ofs`), both
          filtered by cl_ord_id at the exchange;
        - coinbase (no filter by client id): open orders, then orders of every status,
          every page (`cursor`) from the order's earliest submission time (`since`)."""
        exid, exch = venue.ref.exchange, venue.exchange
        native = native_client_id(exid, order.client_order_id)
        if exid == "binance":
            try:
                found: dict[str, Any] = await self._read(venue, lambda: exch.fetch_order(
                    None, order.symbol, {"origClientOrderId": native}))
            except NotFound:
                return None
            return found
        if exid == "alpaca":
            return await self._alpaca_lookup(venue, native)
        since = self.since.get(order.client_order_id)
        if exid == "kraken":
            # OpenOrders answers every open order at once; ClosedOrders pages by offset.
            listings: tuple[tuple[Callable[[dict[str, Any]], Any], str | None], ...] = (
                (functools.partial(exch.fetch_open_orders, None, None, None), None),
                (functools.partial(exch.fetch_closed_orders, None, None, None), "kraken"))
            first: dict[str, Any] = {"clientOrderId": native}
        else:
            listings = ((functools.partial(exch.fetch_open_orders, order.symbol, since, LOOKUP_PAGE), "coinbase"),
                        (functools.partial(exch.fetch_orders, order.symbol, since, LOOKUP_PAGE), "coinbase"))
            first = {}
        for listing, paging in listings:
            hit = await self._search(venue, paging, listing, first, native)
            if hit is not None:
                return hit
        return None

    async def _search(self, venue: Venue, paging: str | None, listing: Callable[[dict[str, Any]], Any],
                      first: dict[str, Any], native: str) -> dict[str, Any] | None:
        """Every page of one listing (at most LOOKUP_PAGES; `paging`: how it pages, None for a
        listing answered in one piece), the order with `native` or None."""
        params, seen = dict(first), set()
        for _ in range(LOOKUP_PAGES):
            page = list(await self._read(venue, functools.partial(listing, dict(params))))
            hits = [o for o in page if o.get("clientOrderId") == native]
            if hits:
                return dict(hits[0])
            nxt = None if paging is None else _next_page(paging, page, params)
            if nxt is None:
                return None
            key = repr(sorted(nxt.items()))
            if key in seen:
                return None  # the exchange gave the same cursor again: nothing further
            seen.add(key)
            params = nxt
        raise LookupIncomplete(f"client order id {native} not in the first {LOOKUP_PAGES} pages of "
                               f"{venue.ref.exchange}'s orders; not sent again until a lookup is complete")

    async def _alpaca_lookup(self, venue: Venue, native: str) -> dict[str, Any] | None:
        exch = venue.exchange
        try:
            raw = await self._read(venue, lambda: exch.request(
                "v2/orders:by_client_order_id", ["trader", "private"], "GET", {"client_order_id": native}))
        except NotFound:
            return None
        except InvalidOrder as err:
            if ALPACA_UNKNOWN in err.message:  # ccxt maps alpaca's 404 "order is not found" to InvalidOrder
                return None
            raise
        found: dict[str, Any] = exch.parse_order(raw, exch.safe_market(raw.get("symbol")))
        return found

    async def follow(self, venue: Venue, order: Order, o: Mapping[str, Any]) -> Fill:
        """Follow `o` until it is closed; cancel what is still open after the budget. The
        exchange has the order: when it cannot say more now (an outage, an order it does
        not show yet, any error), the order waits as `open`, never rejected, and is found
        again by client order id next cycle."""
        try:
            return await self._follow(venue, order, o)
        except BrokerError as err:
            return deferred(order, "open", f"order {o.get('id')} reached the exchange; {err.message}")

    async def _follow(self, venue: Venue, order: Order, o: Mapping[str, Any]) -> Fill:
        market = self.markets[order.symbol]
        base = order.symbol.split("/")[0]
        best = dict(o)
        for _ in range(self.policy.follow_polls):
            if best.get("status") in TERMINAL:
                break
            await self.sleep(self.policy.follow_interval)
            best = self._newer(best, await self._fetch(venue, order, best))
        if best.get("status") not in TERMINAL:
            best = self._newer(best, await self._cancel(venue, order, best))
            if best.get("status") not in TERMINAL:
                return deferred(order, "open", f"order {best.get('id')} still open after the cancel")
        return to_fill(order, await self._with_trades(venue, order, best), market, base, self._rates(market.quote))

    def _rates(self, quote: str) -> dict[str, Decimal]:
        """Asset -> its snapshot price in `quote` (the vault's markets quoted in it)."""
        if quote not in self._by_quote:
            self._by_quote[quote] = {s.partition("/")[0]: p for s, p in sorted(self.prices.items())
                                     if s in self.markets and self.markets[s].quote == quote}
        return self._by_quote[quote]

    async def _with_trades(self, venue: Venue, order: Order, o: dict[str, Any]) -> dict[str, Any]:
        """An order report without fees (binance's GET order has none) gets its trades,
        so the fees are booked whichever way the order was found."""
        filled = _dec(o.get("filled")) or ZERO
        if filled <= 0 or _fees(o) or not venue.exchange.has.get("fetchOrderTrades"):
            return o
        trades = await self._read(venue, lambda: venue.exchange.fetch_order_trades(o["id"], order.symbol))
        return {**o, "trades": trades}

    @staticmethod
    def _newer(seen: dict[str, Any], report: Mapping[str, Any]) -> dict[str, Any]:
        """The later of two reports of one order. Reports can arrive out of order: a
        filled quantity never goes down, and a terminal status is never undone."""
        old, new = _dec(seen.get("filled")) or ZERO, _dec(report.get("filled")) or ZERO
        if new < old or (seen.get("status") in TERMINAL and report.get("status") not in TERMINAL):
            return seen
        if new > old:  # an earlier report's fees cover only the part filled then
            seen = {k: v for k, v in seen.items() if k not in ("fee", "fees", "trades")}
        merged = {**seen, **{k: v for k, v in report.items() if v is not None}}
        merged["id"] = seen.get("id") or report.get("id")
        return merged

    async def _fetch(self, venue: Venue, order: Order, o: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = await self._read(venue, lambda: venue.exchange.fetch_order(o["id"], order.symbol))
        return found

    async def _cancel(self, venue: Venue, order: Order, o: Mapping[str, Any]) -> dict[str, Any]:
        """Cancel, retried once; then the order as the exchange now reports it."""
        for attempt in range(2):
            try:
                await self._call(venue, lambda: venue.exchange.cancel_order(o["id"], order.symbol))
                break
            except NotFound:
                break  # closed meanwhile: the fetch below tells
            except BrokerError:
                if attempt == 1:
                    return dict(o)
        try:
            return await self._fetch(venue, order, o)
        except Transient:
            return dict(o)

    async def balance(self, venue: Venue) -> dict[str, Decimal] | None:
        """What the account holds (totals, nonzero), or None when the broker cannot say now."""
        try:
            bal = await self._read(venue, venue.exchange.fetch_balance)
        except BrokerError:
            return None
        totals = bal.get("total") or {}
        return {str(a): d for a, v in sorted(totals.items()) if (d := _dec(v)) is not None and d > 0}

    # ------------------------------------------------------------------ calls

    async def _call(self, venue: Venue, fn: Callable[[], Any]) -> Any:
        async with venue.gate:
            self.calls += 1
            try:
                out = await call(fn, venue.breaker)
            except RateLimited as err:
                if venue.ring.rate_limited():
                    self._rebuild(venue)
                raise _masked(err, venue) from None
            except BrokerError as err:
                raise _masked(err, venue) from None
            venue.ring.ok()
            return out

    async def _read(self, venue: Venue, fn: Callable[[], Any]) -> Any:
        async def once() -> Any:
            return await self._call(venue, fn)

        return await retry(once, venue.breaker, self.policy.backoff, self.sleep, mapped=True)

    def _rotate(self, venue: Venue) -> bool:
        if not venue.ring.auth_failed():
            return False
        self._rebuild(venue)
        return True

    @staticmethod
    def _rebuild(venue: Venue) -> None:
        if venue.make is not None:
            venue.retired.append(venue.exchange)
            venue.exchange = venue.make()

    @staticmethod
    def _ref(venue: Venue) -> str:
        r = venue.ref
        return f"{r.exchange}:{r.name}" + (":sandbox" if r.sandbox else "")


def _masked(err: BrokerError, venue: Venue) -> BrokerError:
    """`err` with the account's key values masked: an exchange may echo the key it refused,
    and the message goes to the trade log, the replay bundle and stderr."""
    keys = [v for ks in venue.ring.sets for v in (ks.api_key, ks.secret, ks.password)]
    text = redact(err.message, keys)
    return err if text == err.message else type(err)(text)


@dataclass
class VenuePool:
    """Builds one Venue per account_ref: one breaker and one concurrency gate per exchange."""

    policy: Policy = Policy()
    markets: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    """exchange id -> ccxt markets (loaded once per exchange and shared)."""
    keys: Callable[[str], list[Any]] | None = None
    exchange_factory: Callable[..., Any] = make_exchange
    on_submitted: Callable[[Order, float], None] | None = None
    """Called with each order the exchange acknowledged and the perf_counter instant (benchmarks)."""
    breakers: dict[str, Breaker] = field(default_factory=dict)
    gates: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    home: Path | None = None
    """The home that trades: a VANTA_KEYS_FILE inside it is refused."""

    def venue(self, account_ref: str) -> Venue:
        from vanta.brokers import secrets

        ref = parse_ref(account_ref)
        ring = KeyRing(self.keys(account_ref) if self.keys else secrets.resolve(account_ref, home=self.home))
        breaker = self.breakers.setdefault(ref.exchange, Breaker(
            ref.exchange, self.policy.breaker_threshold, self.policy.breaker_cooldown))
        gate = self.gates.setdefault(ref.exchange, asyncio.Semaphore(self.policy.concurrency))
        mk = self.markets.get(ref.exchange)

        def make() -> Any:
            return self.exchange_factory(ref.exchange, ring.current, ref.sandbox, mk)

        return Venue(ref, make(), ring, breaker, gate, make)
