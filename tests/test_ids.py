"""ids.OrderIds (the mirror stage's id maker) gives exactly ids.client_order_id."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vanta.ids import OrderIds, client_order_id, tail

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(names, st.integers(0, 10**6), names, names, st.lists(st.tuples(names, st.sampled_from(["buy", "sell"])),
                                                           min_size=1, max_size=5))
def test_order_ids_match_client_order_id(vault: str, cycle: int, account: str, sleeve: str,
                                         legs: list[tuple[str, str]]) -> None:
    ids = OrderIds(vault, cycle, account, sleeve)
    for symbol, side in legs:
        assert ids(symbol, side) == ids.of(tail(symbol, side)) == client_order_id(vault, cycle, account, sleeve,
                                                                                   symbol, side)
