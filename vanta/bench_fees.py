"""Fee and pool benchmarks: `python -m vanta.bench_fees` prints the figures.

- the fees stage of a steady-state cycle at F followers (synthetic home, every
  follower one perf_share sleeve; median over the measured cycles, from the cycle's
  own stage timings);
- a rollover at C contributors: the synthetic vault made pooled, C deposit requests
  processed by one cycle, then C withdrawals (all shares) by the next rollover: the
  pool stage's time and the whole cycle's wall time, each cycle its own process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from vanta.bench import VANTA, asof, run


def _edit(path: Path, change: Any) -> None:
    from vanta import canonical

    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_bytes(canonical.dumps(doc))


def rollover(contributors: int, root: Path) -> dict[str, Any]:
    home = root / f"pool{contributors}"
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([*VANTA, "init", str(home), "--followers", "1", "--symbols", "20", "--seed", "1"],
                   check=True, capture_output=True)
    mem = home / "memory"
    _edit(mem / "vault.json", lambda d: d["vaults"][0].update(
        pooled={"manager_id": "M", "manager_fee_bps": "1000", "attribution_bps": "200", "rollover_hours": 3,
                "withdrawal_profit_fee": "0.25"}))
    ids = [f"C{i:06d}" for i in range(contributors)]

    def requests(kind: str, when: str) -> Any:
        def put(d: dict[str, Any]) -> None:
            d["requests"] = [{"request_id": f"{when}-{kind}-{c}", "vault_id": "V_SYN", "contributor_id": c,
                              "kind": kind, "amount": "1000.00" if kind == "deposit" else "0",
                              "shares": "0", "all": kind == "withdraw", "asof": when} for c in ids]
        return put

    out: dict[str, Any] = {"contributors": contributors}
    run([*VANTA, "cycle", "--home", str(home), "--asof", asof(1), "--json"])  # opens the pool
    for n, kind in ((2, "deposit"), (3, "withdraw")):
        _edit(mem / "autotrade_queue.json", requests(kind, asof(n)[:11] + "00:00:00Z"))
        wall, rss, text = run([*VANTA, "cycle", "--home", str(home), "--asof", asof(n)[:11] + "01:00:00Z",
                               "--json"])
        rep = json.loads(text)
        out[kind] = {"cycle_s": wall, "rss_mb": rss, "pool_stage_s": float(rep["timings"]["pool"]),
                     "log_lines": rep["log_lines"]}
    book = json.loads((mem / "pnl_summary.json").read_bytes())["pools"]["V_SYN"]
    out["left_contributors_with_shares"] = sum(1 for s in book["contributors"].values() if s["shares"] != "0")
    return out


def fees(followers: int, root: Path) -> dict[str, Any]:
    """Every follower on performance_or_flat (flat 100): a steady cycle (performance fees
    only where a sleeve's realized PnL passes its mark), then the first cycle of the next
    month, which closes the month for every sleeve (a top-up entry each)."""
    home = root / f"fees{followers}"
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([*VANTA, "init", str(home), "--followers", str(followers), "--symbols", "20", "--seed", "1"],
                   check=True, capture_output=True)
    mem = home / "memory"

    def terms(d: dict[str, Any]) -> None:
        for f in d["followers"]:
            f["fee_model"] = {"type": "performance_or_flat", "perf_share": "0.20", "flat_usd": "100"}

    _edit(mem / "mirror_registry.json", terms)
    out: dict[str, Any] = {"followers": followers}
    for n, when in enumerate(("2026-01-01", "2026-01-02", "2026-01-03", "2026-02-01"), 1):
        before = _ledger_lines(mem)
        wall, rss, text = run([*VANTA, "cycle", "--home", str(home), "--asof", when + "T00:00:00Z", "--json"])
        rep = json.loads(text)
        out[f"cycle{n}"] = {"asof": when, "cycle_s": wall, "rss_mb": rss, "fees_stage_s": float(rep["timings"]["fees"]),
                            "ledger_entries": _ledger_lines(mem) - before}
    return out


def _ledger_lines(mem: Path) -> int:
    path = mem / "pnl_ledger.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--followers", type=int, default=10000)
    ap.add_argument("--contributors", type=int, default=10000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        f = fees(args.followers, Path(tmp))
        p = rollover(args.contributors, Path(tmp))
    if args.json:
        print(json.dumps({"fees": f, "rollover": p}, indent=2))
        return
    for n in (2, 3, 4):
        c = f[f"cycle{n}"]
        print(f"fees stage at {f['followers']:,} followers, cycle {n} ({c['asof']}): "
              f"{c['fees_stage_s'] * 1000:.0f} ms, {c['ledger_entries']:,} ledger entries; "
              f"cycle {c['cycle_s']:.2f} s, {c['rss_mb']} MB")
    for kind in ("deposit", "withdraw"):
        x = p[kind]
        print(f"rollover of {p['contributors']:,} {kind} requests: pool stage {x['pool_stage_s'] * 1000:.0f} ms, "
              f"cycle {x['cycle_s']:.2f} s, {x['rss_mb']} MB")


if __name__ == "__main__":
    main()
