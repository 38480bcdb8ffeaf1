"""The paper broker's submit loop prices each (vault, symbol, side, price) slot once and
keeps each account's wallet as its answers move it: over random orders of a few
accounts, slots and wallets (sells before and after buys, rejects for want of cash or
position, an order answered before), it gives exactly the answers and lines of
price_fill applied order by order, and the money formulas of books.cash_move."""

from __future__ import annotations

from decimal import Decimal, localcontext
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanta import canonical
from vanta.books import CashMove, cash_move, wallet
from vanta.brokers.paper import PaperBroker, price_fill
from vanta.models import Account, CoreBook, Execution, Market, Order, PortfolioFile, SleeveBook
from vanta.money import CONTEXT

MARKETS = {"AAA": Market(quote="USD", lot_size=Decimal("0.01"), tick_size=Decimal("0.01")),
           "BBB": Market(quote="USD", lot_size=Decimal("1"), tick_size=Decimal("0.05")),
           "CCC": Market(quote="USDC", lot_size=Decimal("0.0001"), tick_size=Decimal("0.0001"))}
EXECUTION = {"V1": Execution(slippage_bps=Decimal("5"), fee_bps=Decimal("10")),
             "V2": Execution(slippage_bps=Decimal("2.5"), fee_bps=Decimal("0"))}
ACCOUNTS = ("follower:F1", "follower:F2", "vault:V1")
# Equal prices written apart (100 and 100.00) share a slot; a reject still quotes its own order's price.
PRICES = (Decimal("100"), Decimal("100.00"), Decimal("99.95"), Decimal("0.0001"), Decimal("0.00010"))


def _portfolio(cash: list[int], qty: list[int]) -> PortfolioFile:
    lots = {s: ((Decimal(q), Decimal(q) * 100),) for s, q in zip(MARKETS, qty, strict=True) if q}
    sleeve = SleeveBook(cash={"USD": Decimal(cash[1])}, positions=lots)
    return PortfolioFile(
        vaults={"V1": Account(cash={"USD": Decimal(cash[2]), "USDC": Decimal(cash[2])}, positions=lots)},
        followers={"F1": {"USD": CoreBook(cash=Decimal(cash[0]), sleeves={"main": sleeve, "b": sleeve}),
                          "USDC": CoreBook(cash=Decimal(cash[0]), sleeves={"main": sleeve})},
                   "F2": {"USD": CoreBook(cash=Decimal(cash[1]), sleeves={"main": sleeve})}})


orders_ = st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(sorted(MARKETS)),
                             st.sampled_from(["buy", "sell"]), st.integers(1, 4000),
                             st.sampled_from(PRICES), st.sampled_from(sorted(EXECUTION))), max_size=25)


@settings(derandomize=True, database=None, deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.too_slow])
@given(orders_, st.lists(st.integers(0, 300000), min_size=3, max_size=3),
       st.lists(st.integers(0, 3000), min_size=3, max_size=3), st.integers(0, 25))
def test_submit_answers_as_price_fill_order_by_order(
        spec: list[tuple[str, str, str, int, Decimal, str]], cash: list[int], qty: list[int], answered: int) -> None:
    orders = [Order(client_order_id=f"c{i:03d}", cycle=1, vault_id=vid, account=acct, symbol=sym, side=side,
                    qty=MARKETS[sym].lot_size * n, price=px)
              for i, (acct, sym, side, n, px, vid) in enumerate(spec)]
    portfolio = _portfolio(cash, qty)
    # The reference: price_fill per order against wallets moved by hand.
    with localcontext(CONTEXT):
        books: dict[tuple[str, str], tuple[Decimal, dict[str, Decimal]]] = {}
        want = []
        for o in orders:
            quote = MARKETS[o.symbol].quote
            c, held = books.get((o.account, quote)) or wallet(portfolio, o.account, quote)
            f = price_fill(o, EXECUTION[o.vault_id], MARKETS[o.symbol], quote, c, held.get(o.symbol, Decimal(0)))
            held = {**held, o.symbol: held.get(o.symbol, Decimal(0)) + (f.qty if o.side == "buy" else -f.qty)}
            books[o.account, quote] = (c + f.cash, held)
            want.append(f)
        with TemporaryDirectory() as tmp:
            broker = PaperBroker(Path(tmp))
            # Some orders were answered before (a resumed cycle): their first answers come back.
            first, _ = broker.submit(1, orders[:answered], portfolio, EXECUTION, MARKETS)
            got, lines = broker.submit(1, orders, portfolio, EXECUTION, MARKETS)
            written = (Path(tmp) / "broker" / "paper" / "000001.jsonl").read_bytes() if orders else b""
    assert got == want and got[:answered] == first
    assert lines == [canonical.dumps_line_trusted(f) for f in got]
    assert written == b"".join(lines)


def test_cash_move_wants_a_cash_step() -> None:
    # CashMove rounds by quantize, which is money.ceil / money.floor only for a power of ten.
    with pytest.raises(ValueError, match="power of ten"):
        CashMove("buy", Decimal("1"), Execution(), Decimal("0.05"))
    assert cash_move("sell", Decimal("3"), Decimal("0.333"), Execution(fee_bps=Decimal("10")), Decimal("0.01")) == (
        Decimal("0.01"), Decimal("0.98"))
