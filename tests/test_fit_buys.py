"""fit_buys' shortcut: when its exact bound says the buys fit, the exact cash moves agree,
and fit_buys answers what it answers without the shortcut."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vanta import books
from vanta.models import Execution, Market, Order
from vanta.money import cash_step

MARKETS = {
    "BTC/USD": Market.make(quote="USD", lot_size=Decimal("0.0001"), tick_size=Decimal("0.01")),
    "ETH/USD": Market.make(quote="USD", lot_size=Decimal("0.001"), tick_size=Decimal("0.01")),
    "AAPL": Market.make(quote="USD", lot_size=Decimal("1"), tick_size=Decimal("0.01")),
}

order = st.builds(
    lambda i, sym, side, lots, cents: Order.make(
        client_order_id=f"o{i:04d}", cycle=1, vault_id="V", account="follower:F", symbol=sym, side=side,
        qty=MARKETS[sym].lot_size * lots, price=Decimal(cents) / 100),
    st.integers(0, 9999), st.sampled_from(sorted(MARKETS)), st.sampled_from(["buy", "sell"]),
    st.integers(1, 5000), st.integers(1, 10_000_000))
# The cash is drawn near what the orders need (the exact cost less the proceeds, give or
# take a few cents): there the rounding decides, and there a loose bound would show.
near = st.one_of(st.integers(-3, 3), st.integers(-500, 500))
execution = st.builds(lambda s, f: Execution.make(slippage_bps=Decimal(s), fee_bps=Decimal(f)),
                      st.integers(0, 500), st.integers(0, 100))


def exact(orders: list[Order], cash: Decimal, ex: Execution) -> tuple[Decimal, Decimal]:
    """(cost of the buys, cash plus the sells' proceeds) from the exact cash moves."""
    step = cash_step("USD")
    moves = [(o.side, books.cash_move(o.side, o.qty, books.fill_price(o.side, o.price, ex, MARKETS[o.symbol]),
                                      ex, step)[1]) for o in orders]
    return -sum((m for s, m in moves if s == "buy"), Decimal(0)), cash + sum((m for s, m in moves if s == "sell"),
                                                                           Decimal(0))


def at(orders: list[Order], cents: int, ex: Execution) -> Decimal:
    cost, proceeds = exact(orders, Decimal(0), ex)
    return max(Decimal(0), cost - proceeds + Decimal(cents) / 100)


@settings(max_examples=400)
@given(st.lists(order, min_size=1, max_size=6, unique_by=lambda o: o.client_order_id),
       near, execution)
def test_the_bound_never_admits_buys_the_cash_cannot_pay(orders: list[Order], cents: int, ex: Execution) -> None:
    cash = at(orders, cents, ex)
    px = [books.fill_price(o.side, o.price, ex, MARKETS[o.symbol]) for o in orders]
    if books._surely_fits(orders, px, cash, ex, cash_step("USD")):
        cost, budget = exact(orders, cash, ex)
        assert cost <= budget


@settings(max_examples=200)
@given(st.lists(order, min_size=1, max_size=6, unique_by=lambda o: o.client_order_id),
       near, execution)
def test_fit_buys_answers_the_same_without_the_shortcut(orders: list[Order], cents: int, ex: Execution) -> None:
    cash = at(orders, cents, ex)
    fast = books.fit_buys(orders, cash, ex, MARKETS, "USD")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(books, "_surely_fits", lambda *a: False)
        slow = books.fit_buys(orders, cash, ex, MARKETS, "USD")
    assert fast == slow
