"""Stable rails: an account holding USDC while the vault trades USD converts first,
within the slippage bound, once (its client order id derives from the buys')."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ccxt_support import live_cycle, order
from test_ccxt_cycle import KEY, SYMBOLS, asof, make_home, wallet

from vanta.brokers import ccxt_exchange, rails
from vanta.brokers.ccxt_broker import Policy, VenuePool
from vanta.brokers.rails import Rail
from vanta.brokers.resilience import Backoff
from vanta.brokers.secrets import KeySet
from vanta.brokers.stub import StubVenue, binance_markets
from vanta.errors import StateError
from vanta.models import Market

RAIL = Rail("USDC/USD", "USD", Decimal(20))
LOT = Market.make(quote="USD", lot_size=Decimal("0.01"), tick_size=Decimal("0.0001"), min_notional=Decimal(0))


def test_rails_are_read_from_the_environment() -> None:
    got = rails.from_env({"VANTA_RAIL_KRAKEN_USD": "USDC/USD:20", "OTHER": "x"})
    assert got == {("kraken", "USD"): Rail("USDC/USD", "USD", Decimal(20))}
    with pytest.raises(StateError, match="USDC/USD:20"):
        rails.from_env({"VANTA_RAIL_KRAKEN_USD": "USDC/EUR:20"})


def test_a_conversion_covers_the_shortfall_even_at_the_worst_price() -> None:
    buys = [order("AAPL", "buy", "10", "100.00", coid="vt" + "1" * 30)]
    short = rails.shortfall(buys, {}, {buys[0].client_order_id: Decimal("100.05")}, free=Decimal(0))
    assert short == Decimal("1010.505")  # 1000.50 plus a 1% fee margin
    conv = rails.conversion(buys, RAIL, short, Decimal(5000), LOT)
    assert conv is not None and conv.side == "sell" and conv.symbol == "USDC/USD"
    assert conv.qty * Decimal("0.998") >= short and conv.qty - short / Decimal("0.998") < LOT.lot_size
    again, capped = (rails.conversion(buys, RAIL, short, Decimal(5000), LOT),
                     rails.conversion(buys, RAIL, short, Decimal(100), LOT))
    assert again is not None and again.client_order_id == conv.client_order_id
    assert capped is not None and capped.qty == Decimal(100)  # no more than the account holds
    assert rails.conversion(buys, RAIL, Decimal(0), Decimal(100), LOT) is None


def test_balances_count_the_stable_at_par() -> None:
    assert rails.fold({"USD": Decimal(5), "USDC": Decimal(7), "AAPL": Decimal(1)}, [RAIL]) == {
        "USD": Decimal(12), "AAPL": Decimal(1)}


def home_on_usdc(tmp_path: Path) -> tuple[Any, StubVenue, Any]:
    home = make_home(tmp_path)
    cash = Decimal(wallet(home)["cash"]["USD"])
    stub = StubVenue(latency=0, holdings={KEY: {"USDC": cash}})
    mk = binance_markets({**{s: ("0.0001", "0.01") for s in SYMBOLS}, "USDC/USD": ("0.01", "0.0001")})

    def factory(exid: str, ks: Any, sandbox: bool, m: Any) -> Any:
        ex = ccxt_exchange.make_exchange(exid, ks, sandbox, m)
        ccxt_exchange.use_transport(ex, stub.transport)
        return ex

    policy = Policy(follow_interval=0.0, backoff=Backoff(attempts=2, base=0.0), rails={("binance", "USD"): RAIL})
    return home, stub, lambda: VenuePool(policy, {"binance": mk}, keys=lambda r: [KeySet("t", KEY, "s" * 64)],
                                         exchange_factory=factory)


def test_a_usdc_account_converts_before_its_usd_buys(tmp_path: Path) -> None:
    home, stub, pool = home_on_usdc(tmp_path)
    ctx = live_cycle(home, asof(1), pool)
    convs = ctx.broker_answers.conversions
    assert len(convs) == 1 and convs[0].status == "filled" and convs[0].price >= Decimal("0.998")
    kinds = [k for k, _ in stub.calls]
    assert kinds.index("create") == kinds.index("balance") + 1  # balance, then the conversion first
    assert stub.calls[kinds.index("create")][1] == convs[0].client_order_id
    live = [f for f in ctx.broker_answers.fills if f.client_order_id in stub.creates]
    assert live and all(f.status == "filled" for f in live)
    assert any(k == "rail_conversion" for k, _ in ctx.events)
    assert stub.duplicates == 0
