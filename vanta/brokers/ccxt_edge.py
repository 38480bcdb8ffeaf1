"""The live edge's door to the ccxt broker: which orders go to it, and one event loop
per cycle to send them.

Followers whose Core Vaults' `account.adapter` is `ccxt:<exchange>` trade through it; the vault model
accounts and paper followers stay on the paper broker. Imported by the live edge only
when a cycle has ccxt orders, so paper cycles never load ccxt.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, localcontext
from pathlib import Path
from typing import NamedTuple

from vanta.brokers import rails
from vanta.brokers.ccxt_broker import CcxtBroker, Policy, VenuePool, deferred
from vanta.brokers.errors import BrokerError
from vanta.brokers.resilience import Breaker, retry
from vanta.brokers.secrets import parse_ref
from vanta.errors import StateError
from vanta.home import asof_seconds
from vanta.models import Execution, Fill, Market, Order, RegistryFile

Balances = dict[str, dict[str, Decimal]]


class Answers(NamedTuple):
    fills: list[Fill]
    balances: Balances
    conversions: tuple[Fill, ...]


def ccxt_refs(registry: RegistryFile) -> dict[str, str]:
    """order.account -> `<exchange>:<account_ref>`, for followers on a ccxt adapter.

    A follower's live Core Vaults are wallets of one exchange account: every Core Vault
    of a follower on ccxt must name the same adapter and account_ref."""
    out = {}
    for f in registry.followers:
        links = sorted({(c.account.adapter, c.account.account_ref) for c in f.cores})
        if not any(a != "paper" for a, _ in links):
            continue
        if len(links) > 1:
            raise StateError(f"memory/mirror_registry.json: follower {f.follower_id} has Core Vaults on "
                             f"{' and '.join(f'{a} {r}' for a, r in links)}; a follower on a live exchange "
                             "trades one exchange account: give all its Core Vaults the same account")
        adapter, ref = links[0]
        out[f"follower:{f.follower_id}"] = f"{adapter.partition(':')[2]}:{ref}"
    return out


async def _markets(pool: VenuePool, exid: str, sandbox: bool) -> str | None:
    """Load an exchange's markets once for all its accounts; why not, if it cannot."""
    if exid in pool.markets:
        return None
    ex = pool.exchange_factory(exid, None, sandbox, None)
    try:
        await retry(ex.load_markets, Breaker(exid), pool.policy.backoff)
        pool.markets[exid] = ex.markets
        return None
    except BrokerError as err:
        return f"{exid} markets could not be loaded: {err.message}"
    finally:
        await ex.close()


def _later(o: Order, maybe_sent: frozenset[str], why: str) -> Fill:
    sent = o.status in ("submitting", "open") or o.client_order_id in maybe_sent
    return deferred(o, o.status if o.status in ("submitting", "open") else "submitting" if sent else "retry", why)


class Past(NamedTuple):
    """What the broker knows of the orders' past: where a lookup's listing starts, which
    orders are too old to be sent again, and the snapshot prices that value fees."""

    since: dict[str, int]
    lookup_only: frozenset[str]
    prices: Mapping[str, Decimal]


def past(orders: Sequence[Order], cycle: int | None, asof_of: Callable[[int], str | None] | None,
         prices: Mapping[str, Decimal] | None) -> Past:
    """`since`: SINCE_MARGIN_MS before the asof of each order's cycle (an order goes out in
    the cycle it was made in, at or after its asof). `lookup_only`: `submitting` orders
    MAX_AGE_CYCLES cycles old or more."""
    from vanta.brokers.ccxt_broker import SINCE_MARGIN_MS
    from vanta.stages.execute import MAX_AGE_CYCLES

    since: dict[str, int] = {}
    asofs: dict[int, str | None] = {}
    for o in orders:
        if asof_of is not None and o.cycle not in asofs:
            asofs[o.cycle] = asof_of(o.cycle)
        stamp = asofs.get(o.cycle)
        if stamp is not None:
            since[o.client_order_id] = asof_seconds(stamp) * 1000 - SINCE_MARGIN_MS
    old = frozenset(o.client_order_id for o in orders
                    if cycle is not None and o.status == "submitting" and cycle - o.cycle >= MAX_AGE_CYCLES)
    return Past(since, old, dict(prices or {}))


async def _run(pool: VenuePool, orders: Sequence[Order], refs: Mapping[str, str], markets: Mapping[str, Market],
               execution: Mapping[str, Execution], maybe_sent: frozenset[str], history: Past) -> Answers:
    venues = {}
    try:
        # Why an account_ref cannot trade this cycle (a malformed ref, missing keys, its
        # exchange down): its orders wait in the queue, the message says the fix, and every
        # other account trades.
        down: dict[str, str] = {}
        parsed = {}
        for ref in sorted(set(refs.values())):
            try:
                parsed[ref] = parse_ref(ref)
            except StateError as err:
                down[ref] = err.message
        for exid, sandbox in sorted({(p.exchange, p.sandbox) for p in parsed.values()}):
            why = await _markets(pool, exid, sandbox)
            for ref, p in parsed.items():
                if why is not None and p.exchange == exid:
                    down[ref] = why
        for ref in sorted(set(parsed) - set(down)):
            try:
                venues[ref] = pool.venue(ref)
            except StateError as err:
                down[ref] = err.message
        broker = CcxtBroker(venues, markets, pool.policy, on_submitted=pool.on_submitted, since=history.since,
                            lookup_only=history.lookup_only, prices=history.prices)
        fills = await broker.submit([o for o in orders if refs[o.account] not in down], refs, execution,
                                    maybe_sent)
        fills += [_later(o, maybe_sent, down[refs[o.account]]) for o in orders if refs[o.account] in down]
        # Read after the orders: what the accounts hold once this cycle's fills landed.
        shared = {ref for ref, n in Counter(refs.values()).items() if n > 1}
        accounts = sorted(a for a, ref in refs.items() if ref not in shared and ref in venues)
        held = await asyncio.gather(*(broker.balance(venues[refs[a]]) for a in accounts))
        on = {ex: [r for (e, _), r in sorted(pool.policy.rails.items()) if e == ex] for ex in {v.ref.exchange
                                                                                         for v in venues.values()}}
        balances = {a: rails.fold(h, on[venues[refs[a]].ref.exchange])
                    for a, h in zip(accounts, held, strict=True) if h is not None}
        return Answers(fills, balances, tuple(broker.conversions))
    except BrokerError as err:
        raise StateError(f"ccxt broker: {err.message}") from None
    finally:
        # Together: each close waits ccxt's timeout_on_exit (a quarter second) for TLS to shut.
        await asyncio.gather(*(v.close() for v in venues.values()))


def submit(orders: Sequence[Order], refs: Mapping[str, str], markets: Mapping[str, Market],
           execution: Mapping[str, Execution], maybe_sent: frozenset[str],
           pool_factory: Callable[[], VenuePool] | None = None, cycle: int | None = None,
           asof_of: Callable[[int], str | None] | None = None,
           prices: Mapping[str, Decimal] | None = None, home: Path | None = None) -> Answers:
    """Answers for the ccxt accounts' orders (one per order; deferrals included), each
    account's balances read afterwards (an account whose read failed is left out), and
    the stable-rail conversions. Without a pool factory, rails come from VANTA_RAIL_*.

    `cycle` (this cycle's number), `asof_of` (a cycle's asof) and `prices` (the snapshot's)
    tell the broker the orders' past (see `past`); `home`, the home that trades, is where
    no key file may be."""
    pool = pool_factory() if pool_factory is not None else VenuePool(Policy(rails=rails.from_env(os.environ)))
    pool.home = pool.home or home
    history = past(orders, cycle, asof_of, prices)
    with localcontext():  # ccxt sets the Decimal context's rounding (half up) as it rounds amounts: not the stages'
        return asyncio.run(_run(pool, orders, refs, markets, execution, maybe_sent, history))
