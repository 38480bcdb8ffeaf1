"""Stage 9b, truth: the broker's balances against the books, for live (ccxt) accounts.

After reconcile booked the fills, each live account's cash (its vault's base currency)
and positions (each market's base asset) are compared with what the broker reported
holding, read after the cycle's orders. A difference is logged per follower
(`broker_drift`) and the books are corrected to the broker (`broker_correction`): cash
is set to the broker's, to the minor unit; a position the broker holds less of gives up its oldest lots
(cost pro rata, as a sale would); one it holds more of gets a lot at the snapshot price.
Cash within two minor units per fill of the cycle of the broker's is rounding (vanta
rounds notional and fee against the account, a broker keeps more digits): the books
take the broker's figure without a drift report (`broker_rounding`), so residue never
piles up. An account with an order still pending (deferred this cycle) is reported, not
corrected: the broker may hold a fill vanta has not booked yet.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from vanta.books import consume_fifo, qty_of
from vanta.context import Ctx, Event
from vanta.models import Account, PortfolioFile
from vanta.money import ZERO, cash_step, ceil, floor


def _asset(symbol: str) -> str:
    return symbol.partition("/")[0]


def _correct(acct: Account, currency: str, held: dict[str, Decimal], broker: dict[str, Decimal],
             prices: dict[str, Decimal], symbols: dict[str, str]) -> Account:
    cash = dict(acct.cash)
    cash[currency] = floor(broker.get(currency, ZERO), cash_step(currency))
    positions = dict(acct.positions)
    step = cash_step(currency)
    for sym, asset in symbols.items():
        have, want = held[sym], broker.get(asset, ZERO)
        lots = positions.get(sym, ())
        if want < have:
            lots, _ = consume_fifo(lots, have - want, currency)
        elif want > have:
            lots = (*lots, (want - have, ceil((want - have) * prices[sym], step)))
        if lots:
            positions[sym] = lots
        else:
            positions.pop(sym, None)
    return Account.make(cash=cash, positions=positions)


def run(ctx: Ctx) -> Ctx:
    recorded = ctx.broker_answers.balances if ctx.broker_answers is not None else {}
    rails: list[Event] = [("rail_conversion", {"client_order_id": f.client_order_id, "status": f.status,
                                               "qty": f.qty, "price": f.price, "reason": f.reason})
                          for f in (ctx.broker_answers.conversions if ctx.broker_answers else ())]
    if rails:
        ctx = replace(ctx, events=(*ctx.events, *rails))
    if not recorded:
        return ctx
    assert ctx.portfolio is not None and ctx.snap is not None and ctx.queue is not None
    pending = {o.account for o in ctx.queue.orders if o.status in ("submitting", "open", "retry")}
    vault_of = {f"follower:{f.follower_id}": f.vault_id for f in ctx.registry.followers}
    base = {v.vault_id: v.base_currency for v in ctx.vault.vaults}
    followers = dict(ctx.portfolio.followers)
    symbols = {s: _asset(s) for s in sorted(ctx.snap.markets)}
    fills: dict[str, int] = {}
    filled = {f.client_order_id for f in (ctx.answers.fills if ctx.answers else ()) if f.status == "filled"}
    for o in ctx.to_submit:
        if o.client_order_id in filled:
            fills[o.account] = fills.get(o.account, 0) + 1
    events: list[Event] = []
    for account in sorted(recorded):
        broker, fid = recorded[account], account.partition(":")[2]
        acct = followers.get(fid)
        if acct is None or account not in vault_of:
            continue
        currency = base[vault_of[account]]
        held = {s: qty_of(acct.positions.get(s, ())) for s in symbols}
        step = cash_step(currency)
        cash, there = acct.cash.get(currency, ZERO), floor(broker.get(currency, ZERO), step)
        # vanta rounds each fill's notional and fee to the minor unit against the account, a
        # broker may keep more digits: two minor units per fill of this cycle are rounding.
        rounding = there != cash and abs(there - cash) <= 2 * step * fills.get(account, 0)
        off = [(currency, cash, there)] if there != cash and not rounding else []
        off += [(symbols[s], held[s], broker.get(symbols[s], ZERO)) for s in symbols
                if held[s] != broker.get(symbols[s], ZERO)]
        for asset, mine, theirs in off:
            events.append(("broker_drift", {"account": account, "asset": asset, "book": mine, "broker": theirs,
                                            "difference": theirs - mine}))
        if (off or rounding) and account not in pending:
            followers[fid] = _correct(acct, currency, held, broker, dict(ctx.snap.prices), symbols)
            if off:
                events.append(("broker_correction", {"account": account, "assets": [a for a, _, _ in off]}))
            else:  # the books follow the broker's digits, so rounding residue never piles up
                events.append(("broker_rounding", {"account": account, "asset": currency, "difference": there - cash}))
    portfolio = PortfolioFile.make(schema_version=ctx.portfolio.schema_version, cycle=ctx.portfolio.cycle,
                                   asof=ctx.portfolio.asof, vaults=ctx.portfolio.vaults, followers=followers)
    return replace(ctx, portfolio=portfolio, events=(*ctx.events, *events))
