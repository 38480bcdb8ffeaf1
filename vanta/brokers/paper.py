"""The paper broker: a deterministic exchange simulator with books of its own.

Fills the whole quantity at the cycle's snapshot price moved against the account by
`slippage_bps` (buy up, sell down, to the tick), charges `fee_bps` of notional
(rounded up to the minor unit), and rejects an order the account cannot pay for or
deliver. Like a real venue it remembers every client order id it has answered, in
`broker/paper/<cycle>.jsonl` in the home: an order sent again gets its first answer
back, never a second fill. A torn last line (a crash mid-write) was never
acknowledged and is ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from vanta import canonical, faults
from vanta.books import CashMove, fill_price, wallet
from vanta.journal import fsync_dir, make_dirs
from vanta.models import Execution, Fill, Market, Order, PortfolioFile
from vanta.money import ZERO, cash_step


def price_fill(order: Order, ex: Execution, market: Market, currency: str,
               cash: Decimal, held: Decimal) -> Fill:
    """The answer for one order, given what the account holds right now."""
    return Slot(order.side, order.price, ex, market, currency).answer(order, cash, held)[0]


class Slot:
    """What the answers take from the vault's execution terms, the market, the side and
    the snapshot price: worked out once for each of a cycle's few dozen slots, not for
    each of its tens of thousands of orders. Prices equal but written apart (100, 100.00)
    share a slot, so nothing here depends on how the price is written."""

    __slots__ = ("currency", "move", "priced", "px", "px_text", "zero")

    def __init__(self, side: str, price: Decimal, ex: Execution, market: Market, currency: str) -> None:
        self.currency = currency
        step = cash_step(currency)
        self.zero = ZERO.quantize(step)
        self.px = fill_price(side, price, ex, market)
        self.px_text = canonical.default(self.px)
        self.move = CashMove(side, self.px, ex, step)
        self.priced = self.px > ZERO

    def answer(self, order: Order, cash: Decimal, held: Decimal) -> tuple[Fill, bytes]:
        """The answer for `order` (one of this slot's), given what the account holds
        right now, and its canonical JSON line."""
        if not self.priced:
            return self._reject(order, f"no_price: {order.price} less slippage is under one tick")
        if order.side == "sell" and order.qty > held:
            return self._reject(order, f"insufficient_position: sells {order.qty}, holds {held}")
        fee, delta = self.move(order.qty)
        if cash + delta < ZERO:
            return self._reject(order, f"insufficient_funds: needs {-delta} {self.currency}, has {cash}")
        fill = Fill.make(client_order_id=order.client_order_id, status="filled", qty=order.qty,
                         price=self.px, fee=fee, cash=delta, reason=None)
        # The slot's price text made once, not once per fill (the same bytes: tests/test_money_props.py).
        return fill, canonical.dumps_line_trusted({**fill.__dict__, "price": self.px_text})

    def _reject(self, order: Order, reason: str) -> tuple[Fill, bytes]:
        fill = Fill.make(client_order_id=order.client_order_id, status="rejected", qty=ZERO,
                         price=ZERO, fee=self.zero, cash=self.zero, reason=reason)
        return fill, canonical.dumps_line_trusted(fill.__dict__)


class _Wallet:
    """An account's wallet in one quote asset, as the answers so far have moved it."""

    __slots__ = ("cash", "held")

    def __init__(self, portfolio: PortfolioFile, account: str, quote: str) -> None:
        self.cash, self.held = wallet(portfolio, account, quote)


class PaperBroker:
    def __init__(self, home: Path) -> None:
        self.dir = home / "broker" / "paper"

    def known(self, cycle: int) -> dict[str, Fill]:
        """Answers already given for `cycle`, by client order id."""
        path = self.dir / f"{cycle:06d}.jsonl"
        if not path.exists():
            return {}
        out = {}
        for line in path.read_bytes().split(b"\n"):
            try:
                f = Fill.model_validate(canonical.loads(line, str(path)))
            except Exception:  # noqa: BLE001 - a torn tail line was never acknowledged
                continue
            out[f.client_order_id] = f
        return out

    def submit(self, cycle: int, orders: Sequence[Order], portfolio: PortfolioFile,
               execution: Mapping[str, Execution], markets: Mapping[str, Market]
               ) -> tuple[list[Fill], list[bytes]]:
        """Answer each order in the given (execution) order against the account's
        wallet in the symbol's quote asset; answers for ids seen before are returned
        as first given. Returns the answers, one per order and in their order, and
        each one's canonical JSON line."""
        known = self.known(cycle)
        slots: dict[tuple[str, str, str, Decimal], Slot] = {}
        wallets: dict[tuple[str, str], _Wallet] = {}
        answers: list[Fill] = []
        lines: list[bytes] = []
        fresh: list[bytes] = []
        for o in orders:
            slot = slots.get((o.vault_id, o.symbol, o.side, o.price))
            if slot is None:
                market = markets[o.symbol]
                slot = slots[o.vault_id, o.symbol, o.side, o.price] = Slot(
                    o.side, o.price, execution[o.vault_id], market, market.quote)
            w = wallets.get((o.account, slot.currency))
            if w is None:
                w = wallets[o.account, slot.currency] = _Wallet(portfolio, o.account, slot.currency)
            h = w.held.get(o.symbol, ZERO)
            f = known.get(o.client_order_id)
            if f is None:
                f, line = slot.answer(o, w.cash, h)
                fresh.append(line)
            else:
                line = canonical.dumps_line_trusted(f.__dict__)
            lines.append(line)
            w.cash += f.cash
            w.held[o.symbol] = h + (f.qty if o.side == "buy" else -f.qty)
            answers.append(f)
        if fresh:
            self._append(cycle, fresh)
        return answers, lines

    def _append(self, cycle: int, lines: list[bytes]) -> None:
        make_dirs(self.dir)
        path = self.dir / f"{cycle:06d}.jsonl"
        new = not path.exists()
        with open(path, "ab") as fh:
            # Drop a torn tail (never acknowledged) so new answers start on a line of their own.
            size = fh.seek(0, os.SEEK_END)
            if size:
                with open(path, "rb") as rd:
                    data = rd.read()
                if not data.endswith(b"\n"):
                    fh.truncate(data.rfind(b"\n") + 1)
            half = len(lines) // 2
            fh.write(b"".join(lines[:half]))
            fh.flush()
            faults.point("broker_half_written")
            fh.write(b"".join(lines[half:]))
            fh.flush()
            os.fsync(fh.fileno())
        if new:
            fsync_dir(self.dir)  # a venue's record survives a power loss, its name too
