"""Stage 9b, truth: the broker's balances against the books, for live (ccxt) accounts.

After reconcile booked the fills, each live account's Core Vaults (per quote asset: the
Core Vault's cash plus its sleeves', and the sleeves' positions in markets quoted in it)
are compared with what the broker reported holding, read after the cycle's orders. A
difference is logged per follower (`broker_drift`) and the books are corrected to the
broker (`broker_correction`): the Core Vault's own cash takes the cash difference (a
sleeve's cash is never touched; a shortfall the Core Vault cannot cover is reported as
`broker_uncorrected`); a position the broker holds less of gives up the oldest lots of
the sleeves holding it (cost pro rata, as a sale would); one it holds more of gets a lot
at the snapshot price.
Cash within two minor units per fill of the cycle of the broker's is rounding (vanta
rounds notional and fee against the account, a broker keeps more digits): the books
take the broker's figure without a drift report (`broker_rounding`), so residue never
piles up. An account with an order still pending (deferred this cycle) is reported, not
corrected: the broker may hold a fill vanta has not booked yet.
First, fees a live broker took in coins the books hold (valued and booked as fees by the
broker's answer) are paid in kind: the sleeves give up the coins for the value booked
(`fee_in_kind`). A fee a live broker charged in a currency vanta could not value (no price
for it in the snapshot) is logged as `fee_unvalued`, naming the currency and amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from vanta.books import consume_fifo, qty_of
from vanta.brokers.errors import booked_fees, unvalued_fees
from vanta.context import Ctx, Event
from vanta.models import CoreBook, Fill, PortfolioFile, SleeveBook
from vanta.money import ZERO, cash_step, ceil, floor


def _asset(symbol: str) -> str:
    return symbol.partition("/")[0]


def _held(core: CoreBook, symbols: dict[str, str]) -> dict[str, Decimal]:
    return {s: sum((qty_of(sb.positions.get(s, ())) for sb in core.sleeves.values()), ZERO) for s in symbols}


def _wallet_cash(core: CoreBook, quote: str) -> Decimal:
    return core.cash + sum((sb.cash.get(quote, ZERO) for sb in core.sleeves.values()), ZERO)


def _correct(core: CoreBook, quote: str, held: dict[str, Decimal], broker: dict[str, Decimal],
             prices: dict[str, Decimal], symbols: dict[str, str]
             ) -> tuple[CoreBook, list[str], list[dict[str, object]]]:
    """The Core Vault's books moved to the broker's figures. Cash moves in the Core Vault's
    own cash (never a sleeve's); a position the broker holds less of gives up the oldest
    lots of the sleeves that hold it, in sleeve order; one it holds more of gets a lot at
    the snapshot price in the sleeve that holds the most of it. Returns the books, the
    assets left uncorrected (cash the Core Vault cannot give up), and each sleeve's lots
    changed (sleeve, symbol, signed quantity and cost), for the log: an auditor rebuilds
    the books from it."""
    step = cash_step(quote)
    there = floor(broker.get(quote, ZERO), step)
    cash = core.cash + (there - _wallet_cash(core, quote))
    left: list[str] = []
    if cash < 0:
        left.append(quote)
        cash = core.cash
    sleeves = dict(core.sleeves)
    moved: list[dict[str, object]] = []
    for sym, asset in symbols.items():
        have, want = held[sym], broker.get(asset, ZERO)
        if want == have or not sleeves:
            continue
        if want < have:
            gone = have - want
            for sid in sorted(sleeves):
                sb = sleeves[sid]
                take = min(gone, qty_of(sb.positions.get(sym, ())))
                if take > 0:
                    lots, cost = consume_fifo(sb.positions[sym], take, quote)
                    sleeves[sid] = _with(sb, sym, lots)
                    moved.append({"sleeve": sid, "symbol": sym, "qty": -take, "cost": -cost})
                    gone -= take
        else:
            sid = max(sorted(sleeves), key=lambda k: qty_of(sleeves[k].positions.get(sym, ())))
            sb = sleeves[sid]
            cost = ceil((want - have) * prices[sym], step)
            lots = (*sb.positions.get(sym, ()), (want - have, cost))
            sleeves[sid] = _with(sb, sym, lots)
            moved.append({"sleeve": sid, "symbol": sym, "qty": want - have, "cost": cost})
    return CoreBook.make(cash=cash, sleeves=sleeves), left, moved


def _with(sb: SleeveBook, sym: str, lots: tuple[tuple[Decimal, Decimal], ...]) -> SleeveBook:
    positions = dict(sb.positions)
    if lots:
        positions[sym] = lots
    else:
        positions.pop(sym, None)
    return SleeveBook.make(**{**sb.__dict__, "positions": positions})


def _unvalued(ctx: Ctx, noted: Sequence[Fill]) -> list[Event]:
    """`fee_unvalued` per fee a live broker charged in a currency vanta had no price for:
    not in the books, so named here (the fill's reason says it too)."""
    if not noted:
        return []
    account = {o.client_order_id: (o.account, o.sleeve, o.symbol) for o in ctx.to_submit}
    return [("fee_unvalued", {"client_order_id": f.client_order_id, "account": account[f.client_order_id][0],
                              "sleeve": account[f.client_order_id][1], "symbol": account[f.client_order_id][2],
                              "currency": ccy, "amount": Decimal(amount),
                              "reason": f"no {ccy} price in the snapshot: the fee is not in the books; "
                                        f"add a {ccy} market to the vault or settle by hand"})
            for f in noted for amount, ccy in unvalued_fees(f.reason)]


def _in_kind(ctx: Ctx, noted: Sequence[Fill]) -> Ctx:
    """Fees a live broker took in coins the books hold (`fee X IBM booked as V USD`): the fill
    paid their value V in cash, the broker took the coins instead. The order's sleeve (then
    the others, in order) gives up X of that asset's oldest lots and gets back the value of
    what it gave up, as a sale at the price the fee was valued at (`fee_in_kind`, realized
    PnL = value - cost of the lots). Coins the books do not hold stay a cash difference for
    the comparison below."""
    noted = [f for f in noted if " booked as " in (f.reason or "")]
    if not noted or ctx.portfolio is None or ctx.snap is None:
        return ctx
    orders = {o.client_order_id: o for o in ctx.to_submit}
    markets = ctx.snap.markets
    followers = dict(ctx.portfolio.followers)
    realized = dict(ctx.realized)
    events: list[Event] = []
    for f in noted:
        o = orders[f.client_order_id]
        kind, _, fid = o.account.partition(":")
        quote = markets[o.symbol].quote
        if kind != "follower" or fid not in followers or quote not in followers[fid]:
            continue
        step = cash_step(quote)
        for amount_s, ccy, value_s in booked_fees(f.reason):
            amount, value = Decimal(amount_s), Decimal(value_s)
            sym = o.symbol if _asset(o.symbol) == ccy else next(
                (s for s, m in sorted(markets.items()) if _asset(s) == ccy and m.quote == quote), None)
            core = followers[fid][quote]
            if sym is None or amount <= 0:
                continue
            sleeves = dict(core.sleeves)
            left = amount
            for sid in [o.sleeve, *sorted(k for k in sleeves if k != o.sleeve)]:
                sb = sleeves.get(sid)
                take = min(left, qty_of(sb.positions.get(sym, ()))) if sb is not None else ZERO
                if sb is None or take <= 0:
                    continue
                lots, cost = consume_fifo(sb.positions[sym], take, quote)
                back = floor(value * take / amount, step)
                sb = _with(sb, sym, lots)
                sleeves[sid] = SleeveBook.make(**{**sb.__dict__, "cash": {**sb.cash,
                                                                             quote: sb.cash.get(quote, ZERO) + back}})
                key = f"{o.account}/{sid}"
                pnl, fees = realized.get(key, (ZERO, ZERO))
                realized[key] = (pnl + back - cost, fees)
                events.append(("fee_in_kind", {"client_order_id": o.client_order_id, "account": o.account,
                                               "sleeve": sid, "symbol": sym, "asset": ccy, "qty": take,
                                               "value": back, "cost": cost}))
                left -= take
                if left <= 0:
                    break
            followers[fid] = {**followers[fid], quote: CoreBook.make(cash=core.cash, sleeves=sleeves)}
    if not events:
        return ctx
    portfolio = PortfolioFile.make(schema_version=ctx.portfolio.schema_version, cycle=ctx.portfolio.cycle,
                                   asof=ctx.portfolio.asof, vaults=ctx.portfolio.vaults, followers=followers)
    return replace(ctx, portfolio=portfolio, realized=realized, events=(*ctx.events, *events))


def run(ctx: Ctx) -> Ctx:
    noted = ctx.noted  # live fills with a note on their fees (paper fills have none)
    ctx = _in_kind(ctx, noted)
    recorded = ctx.broker_answers.balances if ctx.broker_answers is not None else {}
    rails: list[Event] = [("rail_conversion", {"client_order_id": f.client_order_id, "status": f.status,
                                               "qty": f.qty, "price": f.price, "reason": f.reason})
                          for f in (ctx.broker_answers.conversions if ctx.broker_answers else ())]
    rails += _unvalued(ctx, noted)
    if rails:
        ctx = replace(ctx, events=(*ctx.events, *rails))
    if not recorded:
        return ctx
    assert ctx.portfolio is not None and ctx.snap is not None and ctx.queue is not None
    pending = {o.account for o in ctx.queue.orders if o.status in ("submitting", "open", "retry")}
    followers = dict(ctx.portfolio.followers)
    fills: dict[str, int] = {}
    filled = {f.client_order_id for f in (ctx.answers.fills if ctx.answers else ()) if f.status == "filled"}
    for o in ctx.to_submit:
        if o.client_order_id in filled:
            fills[o.account] = fills.get(o.account, 0) + 1
    events: list[Event] = []
    for account in sorted(recorded):
        broker, fid = recorded[account], account.partition(":")[2]
        cores = followers.get(fid)
        if cores is None:
            continue
        for quote in sorted(cores):
            core = cores[quote]
            symbols = {s: _asset(s) for s, m in sorted(ctx.snap.markets.items()) if m.quote == quote}
            held = _held(core, symbols)
            step = cash_step(quote)
            cash, there = _wallet_cash(core, quote), floor(broker.get(quote, ZERO), step)
            # vanta rounds each fill's notional and fee to the minor unit against the account, a
            # broker may keep more digits: two minor units per fill of this cycle are rounding.
            rounding = there != cash and abs(there - cash) <= 2 * step * fills.get(account, 0)
            off = [(quote, cash, there)] if there != cash and not rounding else []
            off += [(symbols[s], held[s], broker.get(symbols[s], ZERO)) for s in symbols
                    if held[s] != broker.get(symbols[s], ZERO)]
            for asset, mine, theirs in off:
                events.append(("broker_drift", {"account": account, "quote": quote, "asset": asset, "book": mine,
                                                "broker": theirs, "difference": theirs - mine}))
            if not (off or rounding) or account in pending:
                continue
            new, left, lots = _correct(core, quote, held, broker, dict(ctx.snap.prices), symbols)
            cores = {**cores, quote: new}
            if left:
                events.append(("broker_uncorrected", {"account": account, "quote": quote, "assets": left,
                                                      "reason": "the broker holds less cash than the sleeves "
                                                                "of this Core Vault: settle by hand"}))
            if off:
                # What moved, to the minor unit: the Core Vault's cash and each sleeve's lots.
                events.append(("broker_correction", {"account": account, "quote": quote,
                                                     "assets": [a for a, _, _ in off if a not in left],
                                                     "cash": new.cash - core.cash, "lots": lots}))
            elif not left:  # the books follow the broker's digits, so rounding residue never piles up
                events.append(("broker_rounding", {"account": account, "asset": quote, "difference": there - cash}))
        followers[fid] = cores
    portfolio = PortfolioFile.make(schema_version=ctx.portfolio.schema_version, cycle=ctx.portfolio.cycle,
                                   asof=ctx.portfolio.asof, vaults=ctx.portfolio.vaults, followers=followers)
    return replace(ctx, portfolio=portfolio, events=(*ctx.events, *events))
