"""`vanta plan`: the orders the next cycle would send, per follower sleeve, and why
any would be skipped. It runs the cycle's stages up to the queue on the live inputs
(memory/, the feed) and stops there: nothing is sent, nothing is written."""

from __future__ import annotations

import sys
from typing import Any

from vanta.context import Ctx
from vanta.cycle import STAGES, LiveEdge
from vanta.home import Home

_UNTIL = "queue"
_SKIPS = ("child_skipped", "child_capped", "sleeve_skipped", "follower_skipped", "drift", "allocation")


def plan(home: Home, asof: str | None) -> Ctx:
    from decimal import localcontext

    from vanta.money import CONTEXT

    ctx: Any = None
    with localcontext(CONTEXT), LiveEdge(home, asof) as edge:
        for name, fn in STAGES:
            ctx = fn(ctx, edge)
            if name == _UNTIL:
                break
    assert isinstance(ctx, Ctx)
    return ctx


def _order(o: Any, basis: str | None = None, parent: str | None = None) -> dict[str, Any]:
    out = {"client_order_id": o.client_order_id, "vault_id": o.vault_id, "sleeve": o.sleeve, "symbol": o.symbol,
           "side": o.side, "qty": o.qty, "price": o.price}
    if basis is not None:
        out |= {"basis": basis, "parent": parent}
    return out


def summary(ctx: Ctx) -> dict[str, Any]:
    child = {d["client_order_id"]: d for k, d in ctx.events if k == "child_order"}
    followers: dict[str, dict[str, list[Any]]] = {}
    for o in ctx.child_orders:
        fid = o.account.partition(":")[2]
        d = child[o.client_order_id]
        followers.setdefault(fid, {"orders": [], "notes": []})["orders"].append(_order(o, d["basis"], d["parent"]))
    for kind, d in ctx.events:
        if kind in _SKIPS:
            note = {"kind": kind, **{k: v for k, v in d.items() if k != "follower_id"}}
            followers.setdefault(d["follower_id"], {"orders": [], "notes": []})["notes"].append(note)
    return {"cycle": ctx.cycle, "asof": ctx.asof, "vault_orders": [_order(o) for o in ctx.vault_orders],
            "followers": dict(sorted(followers.items())),
            "waiting": [o.client_order_id for o in ctx.to_submit if o.cycle != ctx.cycle]}


def render(data: dict[str, Any], max_rows: int = 60) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=None if sys.stdout.isatty() else 160)  # a log or pipe gets whole rows
    con.print(f"[bold]plan for cycle {data['cycle']}[/] at {data['asof']}: nothing is sent or written")
    t = Table("vault", "symbol", "side", "qty", "price", title=f"Vault orders ({len(data['vault_orders'])})")
    for o in data["vault_orders"]:
        t.add_row(o["vault_id"], o["symbol"], o["side"], str(o["qty"]), str(o["price"]))
    con.print(t)
    t = Table("follower", "sleeve", "symbol", "side", "qty", "basis / note", title="Child orders and notes")
    rows = 0
    for fid, f in data["followers"].items():
        for o in f["orders"]:
            t.add_row(fid, o["sleeve"], o["symbol"], o["side"], str(o["qty"]), o["basis"])
            rows += 1
        for n in f["notes"]:
            t.add_row(fid, n.get("sleeve", ""), n.get("symbol", ""), n.get("side", ""), str(n.get("qty", "")),
                      f"{n['kind']}: {n.get('reason', '')}".rstrip(": "))
            rows += 1
        if rows >= max_rows:
            t.caption = "more: use --json for all"
            break
    con.print(t)
