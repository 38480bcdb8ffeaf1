"""reconcile books only what was filled: a rejected child order (the broker found no price,
no cash or no position) leaves its sleeve's cash and lots as they were, is logged as a
`reject` line with the broker's reason, and gives no `fill` line; the sleeve's other fills
are booked. No cycle of the example home is rejected by the paper broker (mirror funds every
order), so the answers are edited between execute and reconcile, as a live broker could
answer them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal, localcontext
from pathlib import Path

from vanta import journal
from vanta.context import Ctx
from vanta.cycle import STAGES, LiveEdge
from vanta.home import Home, locked
from vanta.init import example_files, write_home
from vanta.models import Fill, SleeveBook
from vanta.money import CONTEXT, ZERO
from vanta.stages import reconcile


def _after_execute(root: Path) -> Ctx:
    write_home(root, example_files(), force=False)
    home = Home(root)
    ctx: Ctx | None = None
    with locked(home), localcontext(CONTEXT):
        journal.recover(home)
        with LiveEdge(home, "2026-11-01T00:00:00Z") as edge:
            for name, fn in STAGES:
                ctx = fn(ctx, edge)
                if name == "execute":
                    break
    assert ctx is not None and ctx.answers is not None
    return ctx


def _sleeve(ctx: Ctx, account: str, sleeve: str) -> SleeveBook:
    fid = account.partition(":")[2]
    assert ctx.portfolio is not None
    [book] = [b.sleeves[sleeve] for b in ctx.portfolio.followers[fid].values() if sleeve in b.sleeves]
    return book


def _qty(book: SleeveBook, symbol: str) -> Decimal:
    return sum((q for q, _ in book.positions.get(symbol, ())), ZERO)


def test_rejected_orders_are_logged_and_leave_their_books_alone(tmp_path: Path) -> None:
    ctx = _after_execute(tmp_path)
    assert ctx.answers is not None
    by_sleeve: dict[tuple[str, str], list[str]] = defaultdict(list)
    for o in ctx.to_submit:
        if o.account.startswith("follower:"):
            by_sleeve[(o.account, o.sleeve)].append(o.client_order_id)
    # one sleeve with several orders loses one (the rest are booked), another loses all of them
    some = next(k for k, ids in by_sleeve.items() if len(ids) > 1)
    every = next(k for k in by_sleeve if k != some)
    rejected = {by_sleeve[some][0], *by_sleeve[every]}
    reason = "insufficient_funds: needs 1.00 USD, has 0.00"
    answers = ctx.answers.model_copy(update={"fills": tuple(
        Fill.make(client_order_id=f.client_order_id, status="rejected", qty=ZERO, price=ZERO,
                  fee=Decimal("0.00"), cash=Decimal("0.00"), reason=reason) if f.client_order_id in rejected else f
        for f in ctx.answers.fills)})
    out = reconcile.run(replace(ctx, answers=answers))

    lines = {(kind, d["client_order_id"]): d for kind, d in out.events[len(ctx.events):] if "client_order_id" in d}
    fills = {f.client_order_id: f for f in answers.fills}
    for o in ctx.to_submit:
        if o.client_order_id in rejected:
            assert ("fill", o.client_order_id) not in lines
            assert lines[("reject", o.client_order_id)] == {"client_order_id": o.client_order_id,
                                                            "account": o.account, "sleeve": o.sleeve,
                                                            "reason": reason}
        else:
            assert ("reject", o.client_order_id) not in lines
            assert lines[("fill", o.client_order_id)]["qty"] == fills[o.client_order_id].qty
    # Against the same cycle with every answer a fill: each touched sleeve lacks exactly the
    # rejected fills, in cash and in lots, and its other fills are booked as before.
    base = reconcile.run(ctx)
    original = {f.client_order_id: f for f in ctx.answers.fills}
    for account, sleeve in (some, every):
        was, now = _sleeve(base, account, sleeve), _sleeve(out, account, sleeve)
        mine = [o for o in ctx.to_submit if (o.account, o.sleeve) == (account, sleeve)]
        lost = [(o, original[o.client_order_id]) for o in mine if o.client_order_id in rejected]
        assert lost and all(f.status == "filled" and f.qty > 0 for _, f in lost)
        assert sum(now.cash.values(), ZERO) == sum(was.cash.values(), ZERO) - sum((f.cash for _, f in lost), ZERO)
        for o in mine:
            gone = sum((f.qty if b.side == "buy" else -f.qty for b, f in lost if b.symbol == o.symbol), ZERO)
            assert _qty(now, o.symbol) == _qty(was, o.symbol) - gone
    assert f"{every[0]}/{every[1]}" not in out.realized  # nothing booked, nothing realized
    assert f"{some[0]}/{some[1]}" in out.realized
