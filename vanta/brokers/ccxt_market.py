"""The market stage's snapshot from an exchange, through ccxt (`market_data.source: ccxt`).

Tickers give the cycle's prices, candles (OHLCV) the history the indicators look back
over, and the exchange's market metadata the lot, tick and minimums the diff and
mirror stages round to. The snapshot is recorded in the replay bundle like any feed's,
so replay reads it from the bundle and never calls the exchange.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

from vanta.brokers.ccxt_exchange import make_exchange, to_market
from vanta.brokers.errors import BrokerError
from vanta.brokers.resilience import Backoff, Breaker, retry
from vanta.errors import StateError
from vanta.models import Market, MarketSnapshot
from vanta.money import half_even


def _iso(ms: Any) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(cycle: int, asof: str, symbols: Sequence[str], tickers: Mapping[str, Mapping[str, Any]],
          candles: Mapping[str, Sequence[Sequence[Any]]], ccxt_markets: Mapping[str, Mapping[str, Any]],
          configured: Mapping[str, Market], depth: int) -> MarketSnapshot:
    """A snapshot from exchange data (pure). `candles` hold closed candles, oldest first;
    the quote currency must be the one vault.json configures for the symbol."""
    prices: dict[str, Decimal] = {}
    markets: dict[str, Market] = {}
    for s in symbols:
        t = tickers.get(s) or {}
        last = t.get("last") if t.get("last") is not None else t.get("close")
        raw = None if last is None else Decimal(str(last))
        m = to_market(ccxt_markets.get(s) or {}, price=raw)
        if raw is None or raw <= 0 or m is None:
            raise StateError(f"the exchange gave no usable price or market for {s}; remove it from the vault's "
                             "universe and markets, or check the symbol on the exchange")
        if m.quote != configured[s].quote:
            raise StateError(f"{s} is quoted in {m.quote} on the exchange and in {configured[s].quote} in "
                             "vault.json; set the market's quote to the exchange's")
        markets[s], prices[s] = m, half_even(raw, m.tick_size)
    history = {s: tuple(Decimal(str(c[4])) for c in candles.get(s, ())[-depth:] if c[4] is not None)
               for s in symbols} if depth else {}
    stamps = [c[-1][0] for c in candles.values() if c]
    bar_time = _iso(max(stamps)) if stamps else asof
    return MarketSnapshot.make(schema_version="vanta.market_snapshot/1", cycle=cycle, asof=asof, bar=cycle,
                               bar_time=bar_time, prices=prices, history=history, markets=markets)


async def _fetch(ex: Any, symbols: list[str], timeframe: str, depth: int,
                 backoff: Backoff) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    breaker = Breaker(ex.id)
    if ex.markets is None:
        await retry(ex.load_markets, breaker, backoff)
    tickers = await retry(lambda: ex.fetch_tickers(symbols), breaker, backoff)
    candles: dict[str, list[Any]] = {}
    if depth:
        for s in symbols:
            # One candle more than needed: the last one is still forming and is dropped.
            rows = await retry(functools.partial(ex.fetch_ohlcv, s, timeframe, None, depth + 1), breaker, backoff)
            candles[s] = list(rows)[:-1]
    return dict(tickers), candles


def snapshot(cycle: int, asof: str, exchange: str, timeframe: str, symbols: Sequence[str],
             configured: Mapping[str, Market], depth: int,
             factory: Callable[..., Any] | None = None, markets: Mapping[str, Any] | None = None,
             backoff: Backoff | None = None) -> MarketSnapshot:
    """Fetch tickers (and candles when `depth`) from `exchange` (`id` or `id:sandbox`)."""
    exid, _, mode = exchange.partition(":")
    make = factory or make_exchange

    async def go() -> MarketSnapshot:
        ex = make(exid, None, mode == "sandbox", markets)
        try:
            tickers, candles = await _fetch(ex, list(symbols), timeframe, depth, backoff or Backoff())
            return build(cycle, asof, symbols, tickers, candles, ex.markets, configured, depth)
        except BrokerError as err:
            raise StateError(f"market data from {exid}: {err.message}; the cycle did not start, run it again "
                             "once the exchange answers") from None
        finally:
            await ex.close()

    with localcontext():  # ccxt may change the Decimal context it runs in: keep that from the stages
        return asyncio.run(go())
