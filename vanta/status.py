"""`vanta status`: vaults, followers and their sleeves, equity, PnL and the queue, from memory/."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from vanta.cycle import memory_from_raw
from vanta.home import Home, chain_end, digests, last_log_line, vouched
from vanta.models import SleeveFees, SleevePnl
from vanta.pool_admin import register


def collect(home: Home) -> dict[str, Any]:
    last = last_log_line(home.log)
    raw = home.read_memory()
    seq, head = chain_end(last)
    mem = memory_from_raw(raw, seq, head, "memory/", vouched(last, digests(raw)))
    ov = mem.overlay
    vaults = []
    for v in mem.vault.vaults:
        p = mem.pnl.vaults.get(v.vault_id)
        vo = ov.vaults.get(v.vault_id)
        vaults.append({
            "vault_id": v.vault_id, "strategy": v.strategy.kind, "universe": list(v.universe),
            "sleeves": sum(1 for f in mem.registry.followers for _, s in f.sleeves() if s.vault_id == v.vault_id),
            "state": ("killed" if ov.global_kill_switch or (vo and vo.kill_switch)
                      else "maintenance" if vo and vo.maintenance else "active"),
            "flip": vo.flip.to_json() if vo and vo.flip else None,
            "pnl": p.to_json() if p else None})
    sleeves = []
    for f in mem.registry.followers:
        books = mem.pnl.followers.get(f.follower_id, {})
        for core, s in f.sleeves():
            cp = books.get(core.quote)
            sp = cp.sleeves.get(s.sleeve_id) if cp else None
            sleeves.append({
                "follower_id": f.follower_id, "quote": core.quote, "sleeve": s.sleeve_id, "vault_id": s.vault_id,
                "mode": s.mode, "profit": s.profit, "persona": s.persona or f.persona,
                "status": ("killed" if f.kill_switch else "paused" if core.paused or s.paused else f.status),
                "core": None if cp is None else {k: v for k, v in cp.to_json().items() if k != "sleeves"},
                "pnl": sp.to_json() if sp else None,
                "fees": _fees((s.fee or f.fee_model).type, mem.pnl.fees.get(f.follower_id, {}).get(s.sleeve_id), sp)})
    queue = [o.to_json() for o in mem.queue.orders]
    pools = [{"vault_id": vid, **{k: x for k, x in b.to_json().items() if k != "contributors"},
              "contributors": register(b)} for vid, b in sorted(mem.pnl.pools.items())]
    return {"home": str(home.root), "cycle": mem.portfolio.cycle, "asof": mem.portfolio.asof,
            "log_lines": seq, "vaults": vaults, "followers": sleeves, "pools": pools, "queue": queue,
            "pool_requests": [r.to_json() for r in mem.queue.requests]}


def _fees(fee_type: str, st: SleeveFees | None, sp: SleevePnl | None) -> dict[str, Any]:
    """A sleeve's fees beside its PnL: charged to date, the mark, and realized PnL net of both."""
    charged = st.charged if st else Decimal(0)
    realized = sp.realized_pnl if sp else Decimal(0)
    return {"fee_type": fee_type, "charged": charged, "hwm": st.hwm if st else None,
            "month": st.month if st else None, "month_perf": st.month_perf if st else None,
            "realized_net_of_fees": realized - charged}


def render(data: dict[str, Any], max_rows: int = 50) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    con = Console(width=None if sys.stdout.isatty() else 160)  # a log or pipe gets whole rows
    con.print(f"[bold]{data['home']}[/]  cycle {data['cycle']}  asof {data['asof'] or '-'}  "
              f"log lines {data['log_lines']}")

    def money(p: dict[str, Any] | None, key: str) -> str:
        return p[key] if p else "-"

    t = Table(Column("vault", no_wrap=True), "state", "strategy", "sleeves", "equity", "realized", "unrealized", "fees",
              title="Vaults")
    for v in data["vaults"]:
        p = v["pnl"]
        state = v["state"] + (f" (flip {v['flip']['persona']} until {v['flip']['expires_at']})" if v["flip"] else "")
        t.add_row(v["vault_id"], state, v["strategy"], str(v["sleeves"]), money(p, "equity"),
                  money(p, "realized_pnl"), money(p, "unrealized_pnl"), money(p, "trading_fees"))
    con.print(t)
    fs = data["followers"]
    t = Table(Column("follower", no_wrap=True), Column("sleeve", no_wrap=True), Column("vault", no_wrap=True),
              "mode", "status", "equity", "realized", "unrealized", "fees", "vanta fees", "net of fees", "tracking",
              title=f"Follower sleeves ({len(fs)})")
    for f in fs[:max_rows]:
        p = f["pnl"]
        t.add_row(f["follower_id"], f"{f['quote']}/{f['sleeve']}", f["vault_id"], f["mode"], f["status"],
                  money(p, "equity"), money(p, "realized_pnl"), money(p, "unrealized_pnl"),
                  money(p, "trading_fees"), "-" if p is None else str(f["fees"]["charged"]),
                  "-" if p is None else str(f["fees"]["realized_net_of_fees"]),
                  money(p, "tracking_error"))
    if len(fs) > max_rows:
        t.caption = f"{len(fs) - max_rows} more: use --json for all"
    con.print(t)
    for pool in data["pools"]:
        t = Table(Column("contributor", no_wrap=True), "shares", "value", "cost basis", "unrealized", "paid out",
                  "fees paid", title=f"Pool {pool['vault_id']}: assets {pool['assets']} {pool['currency']}, "
                  f"fees owed {pool['fees_owed']}, last rollover {pool['last_rollover'] or '-'}")
        for r in pool["contributors"][:max_rows]:
            t.add_row(r["contributor_id"], str(r["shares"]), str(r["value"]), str(r["cost_basis"]),
                      str(r["unrealized_profit"]), str(r["paid_out"]), str(r["fees_paid"]))
        con.print(t)
    q = data["queue"]
    t = Table("client order id", "account", "sleeve", "symbol", "side", "qty", "status", title=f"Queue ({len(q)})")
    for o in q[:max_rows]:
        t.add_row(o["client_order_id"], o["account"], o["sleeve"], o["symbol"], o["side"], o["qty"], o["status"])
    con.print(t)
