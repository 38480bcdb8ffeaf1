"""Stable rails: a follower account that holds USDC while the vault trades USD pairs (or
the reverse) converts through a configured stable pair before its buys, within a
slippage bound from par.

Configured per exchange and needed currency in the environment, beside the keys:
`VANTA_RAIL_<EXCHANGE>_<NEED>=<PAIR>:<BPS>`, e.g. `VANTA_RAIL_KRAKEN_USD=USDC/USD:20`
(an account short of USD sells USDC on USDC/USD at no less than 0.998). For the books the
rail's stable counts as the needed currency at par (`fold`): the account's cash is one
figure, and what the conversion really cost shows up as broker drift and is corrected.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from vanta.errors import StateError
from vanta.models import Market, Order

BPS = Decimal(10_000)


@dataclass(frozen=True)
class Rail:
    pair: str
    """The stable pair, `USDC/USD` or `USD/USDC`."""
    need: str
    """The currency the vault's markets are quoted in."""
    bps: Decimal
    """The worst price accepted, in basis points from par."""

    @property
    def stable(self) -> str:
        base, _, quote = self.pair.partition("/")
        return quote if base == self.need else base


def from_env(env: Mapping[str, str]) -> dict[tuple[str, str], Rail]:
    """(exchange, needed currency) -> Rail, from VANTA_RAIL_* variables."""
    out: dict[tuple[str, str], Rail] = {}
    for name, value in sorted(env.items()):
        m = re.fullmatch(r"VANTA_RAIL_([A-Z]+)_([A-Z]+)", name)
        if not m:
            continue
        pair, _, bps = value.partition(":")
        need = m.group(2)
        if need not in pair.split("/") or len(pair.split("/")) != 2 or not bps.isdigit():
            raise StateError(f"{name}={value!r}: write it as <PAIR>:<BPS> with {need} on one side, "
                             f"e.g. USDC/{need}:20")
        out[(m.group(1).lower(), need)] = Rail(pair, need, Decimal(bps))
    return out


def shortfall(buys: Sequence[Order], markets: Mapping[str, Market], limits: Mapping[str, Decimal],
              free: Decimal, fee_margin: Decimal = Decimal("0.01")) -> Decimal:
    """How much of the quote currency the buys lack: their cost at the limit prices plus
    a fee margin, less what the account has free."""
    need = sum((o.qty * limits[o.client_order_id] for o in buys), Decimal(0)) * (1 + fee_margin)
    return max(Decimal(0), need - free)


def conversion(buys: Sequence[Order], rail: Rail, short: Decimal, stable_free: Decimal,
               market: Market) -> Order | None:
    """The order that turns enough of the stable into the needed currency (its client
    order id derives from the buys', so an interrupted cycle finds it again), or None
    when there is nothing to convert. `price` is par: the broker bounds it by `bps`."""
    if short <= 0 or stable_free <= 0 or not buys:
        return None
    base = rail.pair.partition("/")[0]
    worst = 1 - rail.bps / BPS
    if base == rail.stable:  # USDC/USD: sell enough USDC that even the worst price covers it
        side, qty = "sell", min(stable_free, short / worst)
    else:  # USD/USDC: buy the needed currency with the stable
        side, qty = "buy", min(short, stable_free / (1 + rail.bps / BPS))
    qty = (qty / market.lot_size).to_integral_value(ROUND_CEILING if side == "sell" else "ROUND_FLOOR")
    qty = min(qty * market.lot_size, stable_free) if side == "sell" else qty * market.lot_size
    if qty <= 0:
        return None
    first = min(buys, key=lambda o: o.client_order_id)
    key = "|".join(sorted(o.client_order_id for o in buys)).encode()
    return Order.make(client_order_id="vr" + hashlib.blake2b(key, digest_size=15).hexdigest(), cycle=first.cycle,
                      vault_id=first.vault_id, account=first.account, sleeve=first.sleeve, symbol=rail.pair,
                      side=side, qty=qty, price=Decimal(1), status="staged", attempts=0)


def fold(balances: Mapping[str, Decimal], rails: Sequence[Rail]) -> dict[str, Decimal]:
    """Balances as the books count them: each rail's stable added to its needed currency at par."""
    out = dict(balances)
    for r in rails:
        if r.stable in out:
            out[r.need] = out.get(r.need, Decimal(0)) + out.pop(r.stable)
    return out
