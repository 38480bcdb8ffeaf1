"""Benchmarks: `python -m vanta.bench` (or `make bench`) prints the figures.

- `vanta --help` cold start (median of runs, each a fresh process), and whether
  ccxt was imported on the way;
- one cycle and its replay on synthetic homes of F followers x 20 symbols: wall
  time (median over the measured cycles) and peak RSS of that process (wait4);
- bytes each cycle adds to replays/ (compressed objects + manifest);
- child orders and trade-log lines per cycle, so a figure is never of an idle cycle.

Every run is a separate process, as cron runs it. The machines are shared: read the
medians and the ratios between sizes, measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

VANTA = [sys.executable, "-m", "vanta"]


def run(args: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child process."""
    t = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout is not None
    out = p.stdout.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {p.returncode}")
    return wall, usage.ru_maxrss // 1024, out


def help_cold_start(runs: int) -> dict[str, Any]:
    times = [run([*VANTA, "--help"])[0] for _ in range(runs)]
    probe = subprocess.run([sys.executable, "-X", "importtime", "-m", "vanta", "--help"],
                           capture_output=True, text=True, check=True)
    return {"median_s": statistics.median(times), "min_s": min(times),
            "imports_ccxt": any(line.rstrip().endswith("ccxt") for line in probe.stderr.splitlines())}


def asof(n: int) -> str:
    day = (n - 1) % 28 + 1
    month = (n - 1) // 28 % 12 + 1
    year = 2026 + (n - 1) // (28 * 12)
    return f"{year}-{month:02d}-{day:02d}T00:00:00Z"


def size(followers: int, symbols: int, cycles: int, root: Path) -> dict[str, Any]:
    home = root / f"f{followers}"
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([*VANTA, "init", str(home), "--followers", str(followers), "--symbols", str(symbols),
                    "--seed", "1"], check=True, capture_output=True)
    # Cycle 1 opens every position from cash; the measured cycles are the steady
    # state that follows (rebalancing, partial closes, FIFO consumption).
    run([*VANTA, "cycle", "--home", str(home), "--asof", asof(1), "--json"])
    rows = []
    for n in range(2, cycles + 2):
        wall, rss, out = run([*VANTA, "cycle", "--home", str(home), "--asof", asof(n), "--json"])
        rep = json.loads(out)
        rwall, rrss, _ = run([*VANTA, "replay", str(n), "--home", str(home)])
        rows.append({"cycle": n, "wall_s": wall, "rss_mb": rss, "replay_s": rwall, "replay_rss_mb": rrss,
                     "orders": rep["orders"], "log_lines": rep["log_lines"],
                     "bundle_bytes": rep["bundle_bytes"],
                     "stages": {k: float(v) for k, v in rep["timings"].items()}})
    med = statistics.median
    return {
        "followers": followers, "symbols": symbols, "cycles": rows,
        "cycle_s": med(r["wall_s"] for r in rows), "cycle_rss_mb": max(r["rss_mb"] for r in rows),
        "replay_s": med(r["replay_s"] for r in rows), "replay_rss_mb": max(r["replay_rss_mb"] for r in rows),
        "orders": med(r["orders"] for r in rows), "log_lines": med(r["log_lines"] for r in rows),
        "bundle_bytes": med(r["bundle_bytes"] for r in rows),
        "stage_s": {k: med(r["stages"][k] for r in rows) for k in rows[0]["stages"]},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--followers", default="1000,10000,100000", help="comma-separated sizes")
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--cycles", type=int, default=3, help="measured cycles per size")
    ap.add_argument("--help-runs", type=int, default=9)
    ap.add_argument("--dir", default="bench-homes", help="where the synthetic homes go")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()
    root = Path(a.dir)
    root.mkdir(exist_ok=True)
    result: dict[str, Any] = {"help": help_cold_start(a.help_runs), "sizes": []}
    sizes: list[dict[str, Any]] = []
    for f in (int(x) for x in a.followers.split(",")):
        sys.stderr.write(f"measuring {f} followers x {a.symbols} symbols ...\n")
        sizes.append(size(f, a.symbols, a.cycles, root))
    result["sizes"] = sizes
    if a.json:
        print(json.dumps(result, indent=2))
        return
    h = result["help"]
    print(f"vanta --help cold start: median {h['median_s']:.3f} s (min {h['min_s']:.3f} s, "
          f"{a.help_runs} runs); imports ccxt: {h['imports_ccxt']}  [target <= 0.3 s]")
    print(f"\ncycle and replay, {a.symbols} symbols, median of {a.cycles} steady-state cycles "
          "[target at 10k: <= 2 s, <= 500 MB]")
    print(f"{'followers':>10} {'orders':>8} {'log lines':>10} {'cycle s':>8} {'RSS MB':>7} "
          f"{'replay s':>9} {'RSS MB':>7} {'bundle KB':>10} {'s/1k fol':>9}")
    for s in sizes:
        per_k = s["cycle_s"] / (s["followers"] / 1000)
        print(f"{s['followers']:>10} {s['orders']:>8.0f} {s['log_lines']:>10.0f} {s['cycle_s']:>8.2f} "
              f"{s['cycle_rss_mb']:>7} {s['replay_s']:>9.2f} {s['replay_rss_mb']:>7} "
              f"{s['bundle_bytes'] / 1024:>10.0f} {per_k:>9.3f}")
    print("\nstage seconds (median):")
    names = list(sizes[0]["stage_s"])
    print(f"{'followers':>10} " + " ".join(f"{n[:9]:>9}" for n in names))
    for s in sizes:
        st = s["stage_s"]
        print(f"{s['followers']:>10} " + " ".join(f"{st[n]:>9.3f}" for n in names))


if __name__ == "__main__":
    main()
