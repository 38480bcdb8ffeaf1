"""Pooled-vault share arithmetic (ERC-4626 with a virtual offset), pure functions.

Assets are counted in whole minor units of the vault's currency and shares are whole
numbers (held as integer-valued Decimals, since they pass 2**53). A vault starts at
VIRTUAL_SHARES shares per minor unit. Minting and burning round down, never in the
contributor's favour, and count VIRTUAL_SHARES virtual shares against one virtual
minor unit of assets, so a first depositor cannot inflate the share price to steal
the next deposit's rounding (OpenZeppelin's decimals offset of 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from vanta.home import asof_seconds
from vanta.money import ZERO, cash_step

VIRTUAL_SHARES = Decimal(10) ** 6
"""Virtual shares, and shares minted per minor unit into an empty vault."""
VIRTUAL_ASSETS = Decimal(1)
"""Virtual assets, in minor units."""
NAV_UNIT = Decimal(10) ** 6
"""nav_per_share is reported for this many shares (one minor unit at the start)."""


def units(amount: Decimal, currency: str) -> Decimal:
    """Minor units of an amount (rounded down: what the vault counts as received or held)."""
    return (amount / cash_step(currency)).to_integral_value(rounding=ROUND_FLOOR)


def amount(minor: Decimal, currency: str) -> Decimal:
    return (minor * cash_step(currency)).quantize(cash_step(currency))


def mint(assets_in: Decimal, total_assets: Decimal, total_shares: Decimal) -> Decimal:
    """Shares for a deposit of `assets_in` minor units: floor(a x (S + V) / (A + 1))."""
    if total_assets < 0:
        return ZERO
    return (assets_in * (total_shares + VIRTUAL_SHARES) / (total_assets + VIRTUAL_ASSETS)).to_integral_value(
        rounding=ROUND_FLOOR)


def burn(shares: Decimal, total_assets: Decimal, total_shares: Decimal) -> Decimal:
    """Minor units paid for `shares`: floor(s x (A + 1) / (S + V)), never more than A."""
    if total_assets <= 0:
        return ZERO
    out = (shares * (total_assets + VIRTUAL_ASSETS) / (total_shares + VIRTUAL_SHARES)).to_integral_value(
        rounding=ROUND_FLOOR)
    return min(out, total_assets)


def basis_part(basis: Decimal, shares: Decimal, held: Decimal, step: Decimal) -> Decimal:
    """The cost basis that leaves with `shares` of `held`: pro rata, rounded up (so the
    profit a withdrawal fee counts is never overstated)."""
    if shares >= held:
        return basis
    return min(basis, (basis * shares / held).quantize(step, rounding=ROUND_CEILING))


@dataclass(frozen=True, slots=True)
class Payout:
    gross: Decimal
    """What the shares are worth at the rollover's NAV (minor units burned from assets)."""
    basis: Decimal
    fee: Decimal
    paid: Decimal


def withdrawal(shares: Decimal, held: Decimal, basis: Decimal, total_assets: Decimal, total_shares: Decimal,
               fee_rate: Decimal, currency: str) -> Payout:
    """Burn `shares` of a stake of `held` shares bought for `basis`; the fee is
    `fee_rate` of the profit over the basis, rounded down to the minor unit."""
    step = cash_step(currency)
    gross = amount(burn(shares, total_assets, total_shares), currency)
    part = basis_part(basis, shares, held, step)
    fee = (max(gross - part, ZERO) * fee_rate).quantize(step, rounding=ROUND_FLOOR)
    return Payout(gross=gross, basis=part, fee=fee, paid=gross - fee)


def hours_since_epoch(asof: str) -> int:
    return asof_seconds(asof) // 3600


def rollover_due(last: str | None, asof: str, every_hours: int) -> bool:
    """Does the cycle at `asof` cross a rollover boundary (a multiple of `every_hours`
    hours since the Unix epoch, UTC) since the rollover at `last`? The first cycle does."""
    if last is None:
        return True
    return hours_since_epoch(asof) // every_hours > hours_since_epoch(last) // every_hours


def seconds_between(a: str, b: str) -> int:
    return asof_seconds(b) - asof_seconds(a)
