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
from vanta.books import cash_move, fill_price, wallet
from vanta.models import Execution, Fill, Market, Order, PortfolioFile
from vanta.money import ZERO, cash_step


def price_fill(order: Order, ex: Execution, market: Market, currency: str,
               cash: Decimal, held: Decimal) -> Fill:
    """The answer for one order, given what the account holds right now."""
    step = cash_step(currency)
    px = fill_price(order.side, order.price, ex, market)
    if px <= ZERO:
        return _reject(order, f"no_price: {order.price} less slippage is under one tick", step)
    if order.side == "sell" and order.qty > held:
        return _reject(order, f"insufficient_position: sells {order.qty}, holds {held}", step)
    fee, delta = cash_move(order.side, order.qty, px, ex, step)
    if cash + delta < ZERO:
        return _reject(order, f"insufficient_funds: needs {-delta} {currency}, has {cash}", step)
    return Fill.make(client_order_id=order.client_order_id, status="filled", qty=order.qty,
                     price=px, fee=fee, cash=delta, reason=None)


def _reject(order: Order, reason: str, step: Decimal) -> Fill:
    z = ZERO.quantize(step)
    return Fill.make(client_order_id=order.client_order_id, status="rejected", qty=ZERO,
                                price=ZERO, fee=z, cash=z, reason=reason)


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
        as first given. Returns the answers and each one's canonical JSON line."""
        known = self.known(cycle)
        cash: dict[tuple[str, str], Decimal] = {}
        held: dict[tuple[str, str], dict[str, Decimal]] = {}
        answers: list[Fill] = []
        lines: list[bytes] = []
        fresh: list[bytes] = []
        for o in orders:
            market = markets[o.symbol]
            key = (o.account, market.quote)
            if key not in cash:
                cash[key], held[key] = wallet(portfolio, o.account, market.quote)
            c, pos = cash[key], held[key]
            h = pos.get(o.symbol, ZERO)
            f = known.get(o.client_order_id)
            if f is None:
                f = price_fill(o, execution[o.vault_id], market, market.quote, c, h)
                fresh.append(canonical.dumps_line_trusted(f.__dict__))
                lines.append(fresh[-1])
            else:
                lines.append(canonical.dumps_line_trusted(f.__dict__))
            cash[key] = c + f.cash
            pos[o.symbol] = h + (f.qty if o.side == "buy" else -f.qty)
            answers.append(f)
        if fresh:
            self._append(cycle, fresh)
        return answers, lines

    def _append(self, cycle: int, lines: list[bytes]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{cycle:06d}.jsonl"
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
