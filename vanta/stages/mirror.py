"""Stage 6, mirror: fan each vault's orders out to the sleeves that follow it.

Each active follower has a Core Vault per quote asset, split into sleeves; a sleeve
follows one vault and is sized by its own mode (sizing.mirrored_qty, README: Sizing
modes), from its equity and the vault's NAV both taken at the snapshot before any
order. A sleeve whose persona differs from its vault's (or whose mode is `target`)
rebalances to its persona's target weights instead; a mirrored sleeve whose
tracking error is past the vault's drift threshold rebalances to the vault's
weights, with reason `drift`.

Before a sleeve's first buy after its allocation changed, the Core Vault moves the
difference in (or reclaims it), logged. Buys pass the follower's caps and are
scaled down together when the sleeve's cash (less what its buys still waiting in
the queue may spend) and sales cannot pay for them; sells
(exits) are never cut except to what the sleeve holds. Every skipped order or
sleeve gets a logged reason code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple

from vanta.books import fill_price, fit_buys, qty_of
from vanta.context import Ctx, Event, SleeveMove
from vanta.ids import OrderIds, tail
from vanta.models import CoreBook, CoreVault, Follower, Market, Order, Persona, Sleeve, SleeveBook, Vault
from vanta.money import ZERO, cash_step, down
from vanta.sizing import Leg, cap_buy, guard_slippage, mirrored_qty, rebalance, tracking_error

EMPTY = SleeveBook.make(cash={}, positions={}, allocated=ZERO, returned=ZERO, carry={})
MIRRORED = ("proportional", "scaled_trades")


class Slot(NamedTuple):
    """One symbol and side of a vault's market this cycle: what every child order of it
    shares, looked up once per vault rather than once per child order."""

    symbol: str
    side: str
    price: Decimal
    """The snapshot price (the child order's price)."""
    market: Market
    fill_px: Decimal
    """The broker's fill price at the vault's slippage (what fit_buys checks cash at)."""
    parent: str | None
    """The vault order of this symbol and side: a child order's parent."""
    id_tail: bytes
    """The end of its child orders' id keys (ids.tail), encoded once."""


@dataclass(frozen=True, slots=True)
class VaultView:
    """What every sleeve of a vault shares this cycle."""

    vault: Vault
    plan: tuple[tuple[Slot, Order], ...]
    """The vault's orders, sells first (what they sell frees room for the buys), with their slots."""
    nav: Decimal
    held: Mapping[str, Decimal]
    weights: Mapping[str, Decimal]
    """The vault's own weights now (value / NAV), for tracking error."""
    blocked: str | None
    persona: Persona
    has_buy: bool
    slots: Mapping[tuple[str, str], Slot]
    """(symbol, side) -> its slot, for every market of the snapshot."""


def _views(ctx: Ctx) -> dict[str, VaultView]:
    assert ctx.snap is not None
    prices, markets = ctx.snap.prices, ctx.snap.markets
    by_vault: dict[str, list[Order]] = {}
    for o in ctx.vault_orders:
        by_vault.setdefault(o.vault_id, []).append(o)
    out = {}
    for v in ctx.vault.vaults:
        acct = ctx.mem.portfolio.vaults[v.vault_id]
        nav = ctx.vault_nav[v.vault_id]
        held = {s: qty_of(lots) for s, lots in acct.positions.items()}
        orders = by_vault.get(v.vault_id, [])
        parents = {(o.symbol, o.side): o.client_order_id for o in orders}
        slots = {(s, side): Slot(s, side, prices[s], markets[s], fill_price(side, prices[s], v.execution, markets[s]),
                                 parents.get((s, side)), tail(s, side))
                 for s in prices if s in markets for side in ("sell", "buy")}
        out[v.vault_id] = VaultView(
            vault=v, plan=tuple((slots[(o.symbol, o.side)], o) for o in sorted(orders, key=_sells_first)),
            nav=nav, held=held,
            weights={s: q * prices[s] / nav for s, q in held.items()} if nav > 0 else {},
            blocked=ctx.blocked.get(v.vault_id), persona=ctx.personas.get(v.vault_id, "baseline"),
            has_buy=any(o.side == "buy" for o in orders), slots=slots)
    return out


def _sells_first(o: Order | Leg) -> bool:
    return o.side == "buy"  # a stable sort on this keeps each side in its order


def _sleeve_block(f: Follower, core: CoreVault, sleeve: Sleeve, vv: VaultView, core_equity: Decimal) -> str | None:
    if vv.blocked is not None:
        return vv.blocked
    if vv.vault.base_currency != core.quote:
        return "no_pairs_in_quote"
    v = vv.vault
    floor = v.mirroring.min_account_equity if f.min_account_equity is None else f.min_account_equity
    if core_equity < floor:
        return "below_min_account_equity"
    return None


class _Sleeve:
    """One sleeve's sizing in one cycle: collects its orders, skips and book moves."""

    def __init__(self, ctx: Ctx, f: Follower, core: CoreVault, cb: CoreBook, sleeve: Sleeve, vv: VaultView,
                 free: list[Decimal]):
        """`free`: the Core Vault's cash not yet moved into a sleeve this cycle (shared,
        in sleeve order, so two sleeves' allocations never overdraw it)."""
        assert ctx.snap is not None
        self.ctx, self.f, self.core, self.sleeve, self.vv = ctx, f, core, sleeve, vv
        self.prices, self.markets = ctx.snap.prices, ctx.snap.markets
        self.book = cb.sleeves.get(sleeve.sleeve_id, EMPTY)
        prices = self.prices
        held: dict[str, Decimal] = {}
        values: dict[str, Decimal] = {}
        mv = ZERO
        for s, lots in self.book.positions.items():  # one pass: holdings, their values and their sum
            held[s] = q = qty_of(lots)
            values[s] = v = q * prices[s]
            mv += v
        self.held, self.values, self.mv = held, values, mv
        self.cash = self.book.cash.get(core.quote, ZERO)
        self.account = f"follower:{f.follower_id}"
        self.events: list[Event] = []
        self.carry = dict(self.book.carry)
        self.paused = "core_paused" if core.paused else "sleeve_paused" if sleeve.paused else None
        self.cash_in, self.allocated = ZERO, self.book.allocated
        self.cb = cb
        self.step = cash_step(core.quote)
        self.free = free
        self.accumulate = vv.vault.mirroring.small_orders == "accumulate"

    def base(self, kind: str, **data: object) -> None:
        self.events.append((kind, {"follower_id": self.f.follower_id, "sleeve": self.sleeve.sleeve_id, **data}))

    def allocate(self) -> None:
        """Apply a changed allocation (this cycle has a buy for the sleeve). Amounts are
        whole minor units: an allocation is rounded down to the cent (USD) or the
        micro-unit (USDC)."""
        s = self.sleeve
        want = s.allocation if s.allocation is not None else self.core.tradeable
        # No allocation and no tradeable limit: the sleeve takes every coin that arrives.
        delta = self.free[0] if want is None else down(want, self.step) - self.book.allocated
        want = self.book.allocated + delta
        if delta == 0:
            return
        move = min(delta, self.free[0]) if delta > 0 else -min(-delta, self.cash)
        if move == 0:
            return
        self.free[0] -= move
        self.cash_in, self.allocated = move, (self.book.allocated + move).quantize(self.step)
        self.base("allocation", vault_id=s.vault_id, quote=self.core.quote, by="mirror_registry.json",
                  before=self.book.allocated.quantize(self.step), after=self.allocated, moved=move,
                  short=(want - self.allocated).quantize(self.step))

    def equity(self) -> Decimal:
        return self.cash + self.cash_in + self.mv

    def legs(self, how: str, persona: Persona) -> list[tuple[Slot, Decimal]]:
        """(slot, quantity) before caps and the small-order policy, sells first (what they
        sell frees room under the leverage limit for the buys)."""
        vv, ctx = self.vv, self.ctx
        slots = vv.slots
        if how != "mirror":
            assert ctx.allocation is not None
            weights = ctx.allocation.vaults[vv.vault.vault_id][persona]
            if how == "target" and self.sleeve.scale != 1:
                weights = {sym: w * self.sleeve.scale for sym, w in weights.items()}
            eq = self.equity()
            legs, skips = rebalance(weights, eq, self.held, vv.vault.universe, self.prices, self.markets,
                                    vv.vault.execution, vv.vault.risk.rebalance_band * eq)
            for sk in skips:
                self.base("child_skipped", parent=slots[(sk.symbol, sk.side)].parent, symbol=sk.symbol,
                          side=sk.side, qty=sk.qty, reason=sk.reason)
            return [(slots[(leg.symbol, leg.side)], leg.qty) for leg in sorted(legs, key=_sells_first)]
        ratio = self.equity() / vv.nav if vv.nav > 0 else ZERO
        out: list[tuple[Slot, Decimal]] = []
        sleeve, mine, theirs = self.sleeve, self.held, vv.held
        for slot, vo in vv.plan:
            sym, side, price, market, _, parent, _ = slot
            held = mine.get(sym, ZERO)
            if not held and side == "sell":
                self.base("child_skipped", parent=parent, symbol=sym, side="sell", qty=ZERO, reason="no_position")
                continue
            raw = mirrored_qty(sleeve, side, vo.qty, price, ratio, held, theirs.get(sym, ZERO))
            out.append((slot, down(raw, market.lot_size)))
        return out

    def admit(self, slot: Slot, qty: Decimal, room: Decimal) -> Decimal:
        """The quantity this leg may trade after pause, guard, the small-order carry, caps
        and min notional (zero: skipped, logged)."""
        sym, side, price, market, _, parent, _ = slot  # one unpacking, not five field reads: per leg
        caps = self.f.caps
        why = None
        if side == "buy" and self.paused is not None:
            why = self.paused
        elif side == "buy" and guard_slippage(caps, side, price, self.vv.vault.execution, market):
            why = "slippage_guard"
        if why is not None:
            self.base("child_skipped", parent=parent, symbol=sym, side=side, qty=qty, reason=why)
            return ZERO
        if self.accumulate:
            qty = self._with_carry(sym, side, qty)
        if side == "buy":
            cut, cap = cap_buy(caps, sym, qty, price, market.lot_size, self.values.get(sym, ZERO),
                               self.equity(), room)
            if cap is not None and cut:
                self.base("child_capped", parent=parent, symbol=sym, side=side, qty=qty, to=cut, reason=cap)
            qty, why = cut, (None if cut else cap)
        if why is None and not qty:
            why = "rounds_to_zero"
        elif why is None and qty * price < market.min_notional:
            why = "below_min_notional"
            if self.accumulate:
                self.carry[sym] = qty if side == "buy" else -qty
                why = "accumulated"
        if why is not None:
            self.base("child_skipped", parent=parent, symbol=sym, side=side, qty=qty, reason=why)
            return ZERO
        return qty

    def _with_carry(self, sym: str, side: str, qty: Decimal) -> Decimal:
        """The leg plus the small-order carry of the same side (a carry of the other side
        is dropped: the vault turned). Only when the vault accumulates small orders."""
        c = self.carry.pop(sym, ZERO)
        if (c > 0) == (side == "buy") and c != 0:
            qty += abs(c)
            if side == "sell":
                qty = min(qty, self.held.get(sym, ZERO))
        return qty

    def move(self) -> SleeveMove | None:
        if self.cash_in == 0 and self.carry == self.book.carry and self.sleeve.sleeve_id in self.cb.sleeves:
            return None
        return SleeveMove(quote=self.core.quote, cash_in=self.cash_in, allocated=self.allocated,
                          carry=dict(sorted(self.carry.items())))


def _how(run: _Sleeve, persona: Persona) -> tuple[str, Decimal | None]:
    """How the sleeve is sized this cycle: mirror, target, persona or drift (and its
    tracking error when that decided it)."""
    s, vv = run.sleeve, run.vv
    if s.mode == "target":
        return "target", None
    if persona != vv.persona:
        return "persona", None
    threshold = vv.vault.mirroring.drift_threshold
    if threshold is not None and s.mode in MIRRORED and (run.held or vv.held):
        te = tracking_error(vv.weights, run.values, run.equity())
        if te > threshold:
            return "drift", te
    return "mirror", None


class Sized(NamedTuple):
    how: str
    """mirror, target, persona or drift (the child orders' `basis`)."""
    orders: list[Order]
    parents: list[str | None]
    fill_px: list[Decimal]
    """Each order's parent and broker fill price, in the order of `orders`."""


def _size(run: _Sleeve, cycle: int) -> Sized:
    f, s, vv = run.f, run.sleeve, run.vv
    persona = vv.persona if vv.vault.vault_id in run.ctx.personas else (s.persona or f.persona)
    how, te = _how(run, persona)
    if te is not None:
        run.base("drift", vault_id=s.vault_id, tracking_error=te, threshold=vv.vault.mirroring.drift_threshold)
    if run.paused is None and (how != "mirror" or vv.has_buy):
        run.allocate()
    room = f.caps.max_leverage * run.equity() - run.mv
    ids = OrderIds(s.vault_id, cycle, run.account, s.sleeve_id)
    out = Sized(how, [], [], [])
    for slot, leg_qty in run.legs(how, persona if how != "drift" else vv.persona):
        qty = run.admit(slot, leg_qty, room)
        if not qty:
            continue
        price = slot.price
        room = room - qty * price if slot.side == "buy" else room + qty * price
        out.orders.append(Order.make(
            client_order_id=ids.of(slot.id_tail), cycle=cycle, vault_id=s.vault_id, account=run.account,
            sleeve=s.sleeve_id, symbol=slot.symbol, side=slot.side, qty=qty, price=price, status="staged",
            attempts=0))
        out.parents.append(slot.parent)
        out.fill_px.append(slot.fill_px)
    return out


def run(ctx: Ctx) -> Ctx:
    assert ctx.snap is not None
    views = _views(ctx)
    children: list[Order] = []
    events: list[Event] = []
    moves: dict[tuple[str, str], SleeveMove] = {}
    # Buys still waiting in the queue (a live broker's back-pressure) hold their cash.
    reserved: dict[tuple[str, str], Decimal] = {}
    for o in ctx.mem.queue.orders:
        if o.side == "buy":
            key = (o.account, o.sleeve)
            reserved[key] = reserved.get(key, ZERO) + o.qty * o.price
    for f in ctx.registry.followers:
        if f.status != "active":
            continue
        if f.kill_switch:
            events.append(("follower_skipped", {"follower_id": f.follower_id, "reason": "follower_kill_switch"}))
            continue
        books = ctx.mem.portfolio.followers[f.follower_id]
        for core in f.cores:
            cb = books[core.quote]
            free = [cb.cash]
            runs = [_Sleeve(ctx, f, core, cb, s, views[s.vault_id], free) for s in core.sleeves]
            core_equity = cb.cash + sum((r.equity() for r in runs), ZERO)
            for r in runs:
                why = _sleeve_block(f, core, r.sleeve, r.vv, core_equity)
                if why is not None:
                    events.append(("sleeve_skipped", {"follower_id": f.follower_id, "sleeve": r.sleeve.sleeve_id,
                                                      "vault_id": r.sleeve.vault_id, "reason": why}))
                    continue
                sized = _size(r, ctx.cycle)
                held_back = reserved.get((r.account, r.sleeve.sleeve_id), ZERO) if reserved else ZERO
                mine, factor = fit_buys(sized.orders, max(ZERO, r.cash + r.cash_in - held_back),
                                        r.vv.vault.execution, r.markets, core.quote, sized.fill_px)
                parents = sized.parents
                if factor is not None:
                    r.base("child_buys_scaled", factor=factor,
                           reason="cash and sale proceeds do not cover the buys")
                    by_id = dict(zip((o.client_order_id for o in sized.orders), parents, strict=True))
                    parents = [by_id[o.client_order_id] for o in mine]
                events += r.events
                children += mine
                equity, how = r.equity(), sized.how
                vid, account, sid = r.sleeve.vault_id, r.account, r.sleeve.sleeve_id  # every child's own
                for o, parent in zip(mine, parents, strict=True):
                    # diff._order_event's fields and the child's own, built as one dict
                    events.append(("child_order", {
                        "client_order_id": o.client_order_id, "vault_id": vid, "account": account,
                        "symbol": o.symbol, "side": o.side, "qty": o.qty, "price": o.price, "sleeve": sid,
                        "basis": how, "parent": parent, "equity": equity}))
                mv = r.move()
                if mv is not None:
                    moves[(f.follower_id, r.sleeve.sleeve_id)] = mv
    return replace(ctx, child_orders=tuple(children), moves=moves, events=(*ctx.events, *events))
