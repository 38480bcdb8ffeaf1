"""books.consume_fifo: where a sale ends (inside a lot, exactly at a lot's end, past every
lot) and a sale of nothing, against the lot-by-lot rule it implements."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vanta.books import consume_fifo

D = Decimal
Lots = tuple[tuple[Decimal, Decimal], ...]
LOTS: Lots = ((D("2.0"), D("20.00")), (D("3.0"), D("33.00")), (D("1.5"), D("7.51")))


def test_a_sale_inside_the_first_lot_keeps_the_rest_pro_rata() -> None:
    # 20.00 x 0.5 / 2.0 = 5.00 consumed; the lot keeps 1.5 and 15.00
    assert consume_fifo(LOTS, D("0.5"), "USD") == (((D("1.5"), D("15.00")), *LOTS[1:]), D("5.00"))


def test_a_sale_ending_at_a_lots_end_keeps_the_next_lots_whole() -> None:
    lots, cost = consume_fifo(LOTS, D("5.0"), "USD")
    assert lots == LOTS[2:] and lots[0] is LOTS[2]
    assert cost == D("53.00")


def test_a_partial_cost_rounds_up_to_the_minor_unit() -> None:
    # 7.51 x 1 / 1.5 = 5.0066.. -> 5.01 consumed, 2.50 left
    lots, cost = consume_fifo(LOTS, D("6.0"), "USD")
    assert lots == ((D("0.5"), D("2.50")),)
    assert cost == D("58.01")


def test_the_whole_position_leaves_nothing() -> None:
    assert consume_fifo(LOTS, D("6.5"), "USD") == ((), D("60.51"))


def test_a_sale_of_nothing_leaves_the_lots_as_they_are() -> None:
    assert consume_fifo(LOTS, D("0"), "USD") == (LOTS, D("0"))
    assert consume_fifo((), D("0"), "USD") == ((), D("0"))


def test_selling_more_than_held_is_refused() -> None:
    with pytest.raises(ValueError, match=r"exceeds the position by 0\.5"):
        consume_fifo(LOTS, D("7.0"), "USD")


def _lot_by_lot(lots: Lots, qty: Decimal) -> tuple[Lots, Decimal]:
    """The rule, one lot at a time: whole lots give up their cost, the last one its share rounded up."""
    out: list[tuple[Decimal, Decimal]] = []
    left, consumed = qty, D(0)
    for lq, lc in lots:
        if left <= 0:
            out.append((lq, lc))
        elif lq <= left:
            consumed, left = consumed + lc, left - lq
        else:
            part = min((lc * left / lq).quantize(D("0.01"), rounding="ROUND_CEILING"), lc)
            out.append((lq - left, lc - part))
            consumed, left = consumed + part, D(0)
    return tuple(out), consumed


_lot = st.tuples(st.integers(1, 500).map(lambda n: D(n).scaleb(-1)),
                 st.integers(0, 99_999).map(lambda n: D(n).scaleb(-2)))


@given(st.lists(_lot, min_size=1, max_size=5), st.integers(0, 100))
def test_consume_fifo_follows_the_lot_by_lot_rule(lots: list[tuple[Decimal, Decimal]], pct: int) -> None:
    held = sum((q for q, _ in lots), D(0))
    qty = (held * pct / 100).quantize(D("0.1"), rounding="ROUND_DOWN")
    assert consume_fifo(tuple(lots), qty, "USD") == _lot_by_lot(tuple(lots), qty)
