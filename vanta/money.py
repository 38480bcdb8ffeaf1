"""Decimal arithmetic with fixed scales and explicit rounding.

Rule: rounding favours the book that pays. An account is debited amounts rounded
up and credited amounts rounded down; quantities round toward zero to the lot.
"""

from __future__ import annotations

import math
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from fractions import Fraction

# One context for every stage: enough precision that no intermediate product of a
# quantity and a price is rounded before we quantize it on purpose.
CONTEXT = Context(
    prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10000)

# Minor units of the currencies vanta knows. A currency not here is refused at load.
CURRENCY_SCALE: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "USDC": 6,
    "USDT": 6,
}
WEIGHT_STEP = Decimal("0.000001")
CONVICTION_STEP = Decimal("0.0001")


_CASH_STEP = {c: Decimal(1).scaleb(-scale) for c, scale in CURRENCY_SCALE.items()}


def cash_step(currency: str) -> Decimal:
    return _CASH_STEP[currency]  # built once: asked for every order, fill and book


_POW10: dict[str, bool] = {}


def is_pow10(step: Decimal) -> bool:
    """Is `step` written as a power of ten (0.01, 1, 1E+1, but not 10)? Then quantize
    rounds to its multiples exactly. Cached by text, since Decimal("10") equals
    Decimal("1E+1"): a cycle asks about the same few steps hundreds of thousands of times."""
    key = str(step)
    known = _POW10.get(key)
    if known is None:
        known = _POW10[key] = step.as_tuple().digits == (1,)
    return known


# The rounding goes to quantize positionally: its keyword form costs about twice as much
# (C argument parsing), and these run a few hundred thousand times per large cycle.


def down(x: Decimal, step: Decimal) -> Decimal:
    """Round toward zero to a multiple of `step` (lots, weights)."""
    if is_pow10(step):
        return x.quantize(step, ROUND_DOWN)
    q = Fraction(x) / Fraction(step)  # exact, whatever the context's precision
    return (Decimal(math.trunc(q)) * step).quantize(step)


def floor(x: Decimal, step: Decimal) -> Decimal:
    """Round toward -infinity to a multiple of `step` (amounts an account receives)."""
    if is_pow10(step):
        return x.quantize(step, ROUND_FLOOR)
    q = Fraction(x) / Fraction(step)  # exact, whatever the context's precision
    return (Decimal(math.floor(q)) * step).quantize(step)


def ceil(x: Decimal, step: Decimal) -> Decimal:
    """Round toward +infinity to a multiple of `step` (amounts an account pays)."""
    if is_pow10(step):
        return x.quantize(step, ROUND_CEILING)
    q = Fraction(x) / Fraction(step)  # exact, whatever the context's precision
    return (Decimal(math.ceil(q)) * step).quantize(step)


def half_even(x: Decimal, step: Decimal) -> Decimal:
    """Nearest multiple of `step`, ties to even (reported figures, never balances)."""
    if is_pow10(step):
        return x.quantize(step, ROUND_HALF_EVEN)
    q = Fraction(x) / Fraction(step)  # exact, whatever the context's precision
    return (Decimal(round(q)) * step).quantize(step)
