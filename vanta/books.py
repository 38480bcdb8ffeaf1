"""Position arithmetic shared by the broker simulator and the reconcile stage.

An account holds cash per currency and FIFO lots per symbol. A buy opens a lot at
the cash it cost (fee included); a sell consumes lots oldest first, and realized
PnL is what the sale brought in less the cost of the lots it consumed. Lot costs
are exact minor-unit amounts, so cash + open cost - realized is invariant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, Inexact, localcontext
from functools import lru_cache
from operator import itemgetter
from typing import TypeVar

from vanta.models import Account, Execution, Fill, Lot, Market, Order, PortfolioFile
from vanta.money import BPS, ONE, ZERO, cash_step, ceil, down, floor, is_pow10

A = TypeVar("A", bound=Account)


_QTY = itemgetter(0)
_COST = itemgetter(1)


def qty_of(lots: Iterable[Lot]) -> Decimal:
    return sum(map(_QTY, lots), ZERO)  # map, not a generator: called for every lot of every book


def cost_of(lots: Iterable[Lot]) -> Decimal:
    return sum(map(_COST, lots), ZERO)


def market_value(account: Account, prices: Mapping[str, Decimal]) -> Decimal:
    """Unrounded mark-to-market value of the account's positions."""
    return sum((qty_of(lots) * prices[sym] for sym, lots in account.positions.items()), ZERO)


def wallet(portfolio: PortfolioFile, account: str, quote: str) -> tuple[Decimal, dict[str, Decimal]]:
    """What the broker holds for `account` in its `quote` wallet: (cash, quantity per
    symbol). A follower's wallet is its Core Vault: the sleeves are vanta's own split."""
    kind, _, aid = account.partition(":")
    if kind == "vault":
        acct = portfolio.vaults[aid]
        return acct.cash.get(quote, ZERO), {s: qty_of(lots) for s, lots in acct.positions.items()}
    core = portfolio.followers[aid].get(quote)
    if core is None:
        return ZERO, {}
    cash = core.cash
    held: dict[str, Decimal] = {}
    for book in core.sleeves.values():
        cash += book.cash.get(quote, ZERO)
        for s, lots in book.positions.items():
            # qty_of starts from ZERO, so the first sleeve's sum needs no ZERO + of its own
            held[s] = held[s] + qty_of(lots) if s in held else qty_of(lots)
    return cash, held


def execution_order(order: Order) -> tuple[str, int, str]:
    """Within an account, sells settle before buys so their cash can fund the buys;
    then by client order id. Broker and reconcile both use this order."""
    return (order.account, 0 if order.side == "sell" else 1, order.client_order_id)


def fill_price(side: str, price: Decimal, ex: Execution, market: Market) -> Decimal:
    """The snapshot price moved `slippage_bps` against the account, to the tick."""
    return _fill_price(side, price, ex.slippage_bps, market.tick_size)


@lru_cache(maxsize=4096)  # one answer per symbol and side serves every follower of a cycle
def _fill_price(side: str, price: Decimal, slippage_bps: Decimal, tick: Decimal) -> Decimal:
    if side == "buy":
        return ceil(price * (ONE + slippage_bps / BPS), tick)
    return floor(price * (ONE - slippage_bps / BPS), tick)


def cash_move(side: str, qty: Decimal, px: Decimal, ex: Execution, step: Decimal) -> tuple[Decimal, Decimal]:
    """(fee, signed cash change) of filling `qty` at `px`: a buy pays notional rounded
    up plus the fee, a sell receives notional rounded down less the fee; the fee is
    `fee_bps` of notional, rounded up to the minor unit `step` (a cash step)."""
    return CashMove(side, px, ex, step)(qty)


class CashMove:
    """cash_move of one side, price, execution and cash step, for any quantity: what
    does not depend on the quantity is worked out once (the paper broker prices a
    cycle's tens of thousands of orders with a few dozen of these)."""

    __slots__ = ("buy", "px", "rate", "rounding", "step")

    def __init__(self, side: str, px: Decimal, ex: Execution, step: Decimal) -> None:
        if not is_pow10(step):
            raise ValueError(f"a cash step is a power of ten, not {step}")
        # A power-of-ten step makes money.ceil and money.floor one quantize, bound here once.
        self.buy, self.px, self.step = side == "buy", px, step
        self.rounding = ROUND_CEILING if self.buy else ROUND_FLOOR
        self.rate = ex.fee_bps / BPS  # exact: the same fee as notional * fee_bps / BPS

    def __call__(self, qty: Decimal) -> tuple[Decimal, Decimal]:
        # quantize's rounding passed by position: by keyword costs as much as the quantize itself
        notional = (qty * self.px).quantize(self.step, self.rounding)
        fee = (notional * self.rate).quantize(self.step, ROUND_CEILING)
        return fee, (-(notional + fee) if self.buy else notional - fee)


def fit_buys(orders: list[Order], cash: Decimal, ex: Execution, markets: Mapping[str, Market],
             currency: str, fill_px: Sequence[Decimal] | None = None) -> tuple[list[Order], Decimal | None]:
    """An account's orders with its buys scaled down together, if need be, so that
    cash plus the proceeds of its sells pays for them at the broker's own prices.

    Args:
        fill_px: each order's fill_price, if the caller has them (the mirror stage looks
            them up once per vault, not once per child order).

    Returns (orders, the factor applied or None): `orders` itself when nothing is cut.
    A buy that scales to zero is gone.
    """
    step = cash_step(currency)
    if fill_px is None:
        fill_px = [fill_price(o.side, o.price, ex, markets[o.symbol]) for o in orders]
    if _surely_fits(orders, fill_px, cash, ex, step):
        return orders, None
    proceeds: list[Decimal] = []
    costs: list[Decimal] = []
    buys: list[Order] = []
    for o, px in zip(orders, fill_px, strict=True):
        move = cash_move(o.side, o.qty, px, ex, step)[1]
        if o.side == "sell":
            proceeds.append(move)
        else:
            costs.append(move)
            buys.append(o)
    budget = cash + sum(proceeds, ZERO)
    cost = -sum(costs, ZERO)
    if cost <= budget:
        return orders, None
    # Leave a cent per buy for the rounding up of each notional and fee.
    factor = max(ZERO, budget - 2 * step * len(buys)) / cost
    scaled = {o.client_order_id: down(o.qty * factor, markets[o.symbol].lot_size) for o in buys}
    out = [o if o.side == "sell" else o.model_copy(update={"qty": scaled[o.client_order_id]})
           for o in orders if o.side == "sell" or scaled[o.client_order_id] > 0]
    return out, factor


def _surely_fits(orders: list[Order], fill_px: Sequence[Decimal], cash: Decimal, ex: Execution,
                 step: Decimal) -> bool:
    """A bound that spares fit_buys the exact cash moves when they clearly fit (the usual
    case: the mirror stage asks for every sleeve). With n = qty x fill price and r = fee_bps
    / BPS, rounding moves a notional and its fee by less than a step each, so a buy costs at
    most n(1 + r) + step(2 + r) and a sale brings at least n(1 - r) - 2 step. The bound is
    computed exactly (an inexact step answers False), so True means the exact costs fit."""
    rate = ex.fee_bps / BPS
    bought = sold = ZERO
    buys = 0
    with localcontext() as c:
        c.clear_flags()
        for o, px in zip(orders, fill_px, strict=True):
            if o.side == "buy":
                bought += o.qty * px
                buys += 1
            else:
                sold += o.qty * px
        # The per-order bounds added up: one multiplication per order, not three.
        cost = bought * (ONE + rate) + buys * step * (2 + rate)
        budget = cash + sold * (ONE - rate) - 2 * (len(orders) - buys) * step
        return cost <= budget and not c.flags[Inexact]


def consume_fifo(lots: tuple[Lot, ...], qty: Decimal, currency: str) -> tuple[tuple[Lot, ...], Decimal]:
    """Take `qty` from the oldest lots. Returns (remaining lots, cost consumed).

    A partly consumed lot gives up cost in proportion, rounded up to the minor unit
    (the cost leaving the books is never understated); a lot consumed whole gives
    up exactly its remaining cost, so no rounding residue stays behind.
    """
    return _consume(lots, qty, cash_step(currency))


def _consume(lots: tuple[Lot, ...], qty: Decimal, step: Decimal) -> tuple[tuple[Lot, ...], Decimal]:
    left = qty
    consumed = ZERO
    if left <= ZERO:
        return lots, consumed
    for i, (lq, lc) in enumerate(lots):
        if lq < left:
            consumed += lc
            left -= lq
            continue
        if lq == left:  # the sale ends with this lot: what follows stays (a whole position: nothing)
            return lots[i + 1:], consumed + lc
        part = ceil(lc * left / lq, step)
        if lc < part:  # a comparison, not min(): 30k partial sales at 10k followers
            part = lc
        return ((lq - left, lc - part), *lots[i + 1:]), consumed + part
    raise ValueError(f"sell of {qty} exceeds the position by {left}")


def apply_fills(
    account: A, fills: Iterable[tuple[Order, Fill]], currency: str
) -> tuple[A, list[Decimal]]:
    """Book filled orders, in execution order. Returns (new account, realized PnL of
    each fill: zero for a buy). Any other field of the account is kept."""
    cash = dict(account.cash)
    positions = dict(account.positions)
    realized: list[Decimal] = []
    step = cash_step(currency)
    balance = cash.get(currency, ZERO)
    for order, fill in fills:
        balance += fill.cash
        if balance < ZERO:
            raise ValueError(f"{order.account}: fill {fill.client_order_id} overdraws {currency}")
        sym = order.symbol
        if order.side == "buy":
            positions[sym] = (*positions.get(sym, ()), (fill.qty, -fill.cash))
            realized.append(ZERO)
            continue
        lots, consumed = _consume(positions.get(sym, ()), fill.qty, step)
        realized.append(fill.cash - consumed)
        if lots:
            positions[sym] = lots
        else:
            positions.pop(sym, None)
    if realized:
        cash[currency] = balance
    return type(account).make(**{**account.__dict__, "cash": cash, "positions": positions}), realized


def apply_fill(account: A, order: Order, fill: Fill, currency: str) -> tuple[A, Decimal]:
    """Book one filled order. Returns (new account, realized PnL of this fill)."""
    acct, realized = apply_fills(account, ((order, fill),), currency)
    return acct, realized[0]
