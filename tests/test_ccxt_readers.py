"""vanta's copies of ccxt's safe_string readers: ccxt's answers for every value ccxt
itself reads, and fixed-point text for the Decimals ccxt parses with `number = Decimal`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vanta.brokers import ccxt_exchange as cx

ccxt_base = pytest.importorskip("ccxt.base.exchange")
Exchange = ccxt_base.Exchange

KEYS = ["a", "b", "c", 0, 1]
values = st.one_of(st.none(), st.just(""), st.text(max_size=4), st.integers(), st.booleans(),
                   st.floats(allow_nan=False), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(), st.integers(), max_size=1))
containers = st.one_of(st.dictionaries(st.sampled_from(KEYS[:3]), values, max_size=3),
                       st.lists(values, max_size=3), st.none(), st.text(max_size=2))


@given(containers, st.sampled_from(KEYS), st.sampled_from(KEYS), st.lists(st.sampled_from(KEYS), max_size=3),
       st.sampled_from([None, "x"]))
def test_readers_agree_with_ccxt_on_what_ccxt_reads(d: Any, k1: Any, k2: Any, ks: list[Any], default: Any) -> None:
    assert cx._safe_string(d, k1, default) == Exchange.safe_string(d, k1, default)
    assert cx._safe_string_2(d, k1, k2, default) == Exchange.safe_string_2(d, k1, k2, default)
    assert cx._safe_string_n(d, ks, default) == Exchange.safe_string_n(d, ks, default)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8))
def test_readers_read_decimals_as_fixed_point(v: Decimal) -> None:
    d = {"fee": v, "cost": ""}
    text = format(v, "f")
    assert "E" not in text and Decimal(text) == v
    assert cx._safe_string(d, "fee") == text
    assert cx._safe_string_2(d, "cost", "fee") == text
    assert cx._safe_string_n(d, ["cost", "fee"]) == text


def test_exchange_readers_are_vantas_and_cased_ones_see_decimals() -> None:
    import ccxt.async_support as ccxt

    ex = ccxt.binance()
    cx.decimal_numbers(ex)
    assert ex.number is Decimal and ex.safe_string is cx._safe_string
    assert ex.safe_string_upper({"ccy": Decimal("1.50")}, "ccy") == "1.50"
    assert ex.safe_string_lower_2({"x": None, "y": Decimal("2")}, "x", "y") == "2"
    assert ex.safe_string_lower_n({"y": Decimal("3")}, ["x", "y"]) == "3"
    assert ex.safe_integer({"t": Decimal("1700000000000")}, "t") == 1700000000000
    assert ex.safe_number({"p": "0.10"}, "p") == Decimal("0.10")
