"""The published sizing rules: how big an order is, and why one is cut or skipped.

Pure arithmetic on Decimals, shared by the diff stage (vault orders) and the mirror
stage (child orders). Every quantity is rounded down to the market's lot; every
rule that cuts or drops an order names itself with a reason code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from vanta.books import fill_price
from vanta.models import Caps, Execution, Market, Sleeve
from vanta.money import BPS, ONE, WEIGHT_STEP, ZERO, down


class Leg(NamedTuple):
    """One order to place: symbol, side, quantity (and the target quantity it aims at).
    A named tuple: the mirror stage makes one per child order, and a frozen dataclass
    costs several times as much to build."""

    symbol: str
    side: str
    qty: Decimal
    target: Decimal | None = None


class Skip(NamedTuple):
    symbol: str
    side: str
    qty: Decimal
    reason: str


# ---------------------------------------------------------------- rebalancing to weights


def sized_nav(nav: Decimal, ex: Execution) -> Decimal:
    """NAV less one full turn of trading costs, so the targets leave cash to pay them."""
    return nav * (ONE - 2 * (ex.slippage_bps + ex.fee_bps) / BPS)


def rebalance(weights: Mapping[str, Decimal], nav: Decimal, held: Mapping[str, Decimal],
              symbols: Iterable[str], prices: Mapping[str, Decimal], markets: Mapping[str, Market],
              ex: Execution, band: Decimal) -> tuple[list[Leg], list[Skip]]:
    """Orders that bring holdings to weight x sized NAV / price (down to the lot).

    A target of zero sells the whole holding. An order worth less than `band` (a
    quote amount) is skipped unless it closes, and so is one under min notional."""
    sized = sized_nav(nav, ex)
    legs: list[Leg] = []
    skips: list[Skip] = []
    universe, known = _sorted_universe(tuple(symbols))
    extra = [s for s, q in held.items() if q > 0 and s not in known]
    for sym in sorted((*universe, *extra)) if extra else universe:
        w, h = weights.get(sym, ZERO), held.get(sym, ZERO)
        if not w and not h:
            continue  # no target, nothing held: no order (most of a wide universe, for every follower)
        price, market = prices[sym], markets[sym]
        target = down(w * sized / price, market.lot_size)
        if target == 0 and h > 0:
            side, qty = "sell", h
        elif target > h:
            side, qty = "buy", down(target - h, market.lot_size)
        else:
            side, qty = "sell", down(h - target, market.lot_size)
        if qty == 0:
            continue
        notional = qty * price
        if notional < band and target > 0:
            skips.append(Skip(sym, side, qty, "inside_rebalance_band"))
        elif notional < market.min_notional:
            skips.append(Skip(sym, side, qty, "below_min_notional"))
        else:
            legs.append(Leg(sym, side, qty, target))
    return legs, skips


@lru_cache(maxsize=64)  # a vault's universe, asked once per sleeve that follows it
def _sorted_universe(symbols: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset[str]]:
    return tuple(sorted(set(symbols))), frozenset(symbols)


def tracking_error(weights: Mapping[str, Decimal], values: Mapping[str, Decimal], equity: Decimal) -> Decimal:
    """Half the L1 distance between an account's weights (value / equity) and `weights`,
    rounded down to 1e-6: 0 is a perfect copy, 1 holds nothing in common."""
    if equity <= 0:
        return ZERO
    # Loops, not sum() over generators (the pnl stage asks for every sleeve); the same
    # additions in the same order, so the same rounding.
    dist = ZERO
    for s, w in weights.items():
        dist += abs(values.get(s, ZERO) - w * equity)
    away = ZERO
    for s, v in values.items():
        if s not in weights:
            away += v
    return down((dist + away) / (2 * equity), WEIGHT_STEP)


# ---------------------------------------------------------------- mirroring a vault order


def mirrored_qty(sleeve: Sleeve, side: str, vault_qty: Decimal, price: Decimal, ratio: Decimal,
                 held: Decimal, vault_held: Decimal) -> Decimal:
    """A child order's raw quantity (before lot rounding and caps) under the sleeve's mode.

    ratio = sleeve equity / vault NAV, both at cycle start. Sells are never more than
    the sleeve holds; when the vault sells its whole position, so does the sleeve.
    """
    mode = sleeve.mode
    if side == "sell":
        if held == 0:
            return ZERO
        if vault_qty >= vault_held:
            return held
        if mode in ("scaled_trades", "fixed_amount"):
            # UOP/TOP: the sleeve sells the same fraction of its position as the vault.
            return min(held, held * vault_qty / vault_held)
    if mode in ("proportional", "scaled_trades"):
        qty = vault_qty * ratio * sleeve.scale
    elif mode == "fixed_ratio":
        assert sleeve.ratio is not None
        qty = vault_qty * sleeve.ratio
    else:  # fixed_amount buy
        assert sleeve.amount is not None
        qty = sleeve.amount / price
    return min(qty, held) if side == "sell" else qty


def guard_slippage(caps: Caps, side: str, price: Decimal, vault_ex: Execution, market: Market) -> bool:
    """True when the vault's expected fill is further from `price` than the guard allows."""
    if caps.slippage_guard_bps is None:
        return False
    px = fill_price(side, price, vault_ex, market)
    return abs(px - price) * BPS > caps.slippage_guard_bps * price


def cap_buy(caps: Caps, symbol: str, qty: Decimal, price: Decimal, lot: Decimal, held_value: Decimal,
            equity: Decimal, room: Decimal) -> tuple[Decimal, str | None]:
    """A buy cut to the follower's caps: (quantity, the cap that cut it, or None).

    `room` is what the leverage limit still allows this sleeve to buy, in quote units."""
    if caps.allow and symbol not in caps.allow:
        return ZERO, "not_in_allow_list"
    if symbol in caps.block:
        return ZERO, "in_block_list"
    limits: list[tuple[Decimal, str]] = [(room, "max_leverage")]
    if caps.max_pos_usd is not None:
        limits.append((caps.max_pos_usd - held_value, "max_pos_usd"))
    if caps.max_single_pos_pct is not None:
        limits.append((caps.max_single_pos_pct * equity - held_value, "max_single_pos_pct"))
    why = None
    for limit, name in limits:
        if qty * price > limit:
            qty, why = down(max(limit, ZERO) / price, lot), name
    return qty, why
