"""Benchmarks: `python -m vanta.bench` (or `make bench`) prints the figures.

- `vanta --help` cold start (median of runs, each a fresh process), and whether
  ccxt was imported on the way;
- one cycle and its replay on synthetic homes of F followers x 20 symbols: wall
  time (median over the measured cycles) and peak RSS of that process (wait4);
- bytes each cycle adds to replays/ (compressed objects + manifest);
- child orders and trade-log lines per cycle, so a figure is never of an idle cycle;
- the floor under each measured cycle (`vanta.bench_floor`): the bare data movement of the
  same bytes in CPython, with and without the pydantic models, and the cycle's ratio to it.

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

from vanta.bench_floor import IMPORTS

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


def floor(home: Path, cycle: int, startup: float) -> dict[str, float]:
    """The floor's sections for one cycle, and its totals with the interpreter's startup."""
    t = {k: float(v) for k, v in json.loads(run([sys.executable, "-m", "vanta.bench_floor", str(home),
                                                  str(cycle)])[2]).items()}
    rest = t["orders"] + t["log"] + t["render"] + t["write"]
    return {**t, "startup": startup, "floor": startup + t["read"] + rest, "models": startup + t["validate"] + rest}


def size(followers: int, symbols: int, cycles: int, root: Path, mode: str = "proportional",
         replay: bool = True, with_floor: bool = False) -> dict[str, Any]:
    home = root / f"f{followers}-{mode}"
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([*VANTA, "init", str(home), "--followers", str(followers), "--symbols", str(symbols),
                    "--seed", "1", "--mode", mode], check=True, capture_output=True)
    # Cycle 1 opens every position from cash; the measured cycles are the steady
    # state that follows (rebalancing, partial closes, FIFO consumption).
    run([*VANTA, "cycle", "--home", str(home), "--asof", asof(1), "--json"])
    startup = statistics.median(run([sys.executable, "-c", IMPORTS])[0] for _ in range(3)) if with_floor else 0.0
    rows = []
    for n in range(2, cycles + 2):
        wall, rss, out = run([*VANTA, "cycle", "--home", str(home), "--asof", asof(n), "--json"])
        rep = json.loads(out)
        rwall, rrss, _ = run([*VANTA, "replay", str(n), "--home", str(home)]) if replay else (0.0, 0, "")
        rows.append({"cycle": n, "wall_s": wall, "rss_mb": rss, "replay_s": rwall, "replay_rss_mb": rrss,
                     "orders": rep["orders"], "log_lines": rep["log_lines"],
                     "bundle_bytes": rep["bundle_bytes"],
                     "stages": {k: float(v) for k, v in rep["timings"].items()},
                     "floor": floor(home, n, startup) if with_floor else {}})
    med = statistics.median
    return {
        "followers": followers, "symbols": symbols, "mode": mode, "cycles": rows,
        "cycle_s": med(r["wall_s"] for r in rows), "cycle_rss_mb": max(r["rss_mb"] for r in rows),
        "replay_s": med(r["replay_s"] for r in rows), "replay_rss_mb": max(r["replay_rss_mb"] for r in rows),
        "orders": med(r["orders"] for r in rows), "log_lines": med(r["log_lines"] for r in rows),
        "bundle_bytes": med(r["bundle_bytes"] for r in rows),
        "stage_s": {k: med(r["stages"][k] for r in rows) for k in rows[0]["stages"]},
        "floor_s": {k: med(r["floor"][k] for r in rows) for k in rows[0]["floor"]},
        "cycle_per_floor": med(r["wall_s"] / r["floor"]["floor"] for r in rows) if with_floor else 0.0,
    }


def tracking(root: Path, cycles: int) -> list[dict[str, Any]]:
    """The demo run (the example home, `cycles` cycles): each follower sleeve's tracking
    error against its vault after every cycle, read back from the replay bundles."""
    from vanta import bundle
    from vanta.home import Home

    home = root / "demo"
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([*VANTA, "init", str(home)], check=True, capture_output=True)
    for n in range(1, cycles + 1):
        run([*VANTA, "cycle", "--home", str(home), "--asof", asof(n)])
    h = Home(home)
    series: dict[tuple[str, str], list[float]] = {}
    for n in bundle.cycles(h):
        pnl = json.loads(bundle.get(h, bundle.load_manifest(h, n).outputs["memory/pnl_summary.json"]))
        for fid, cores in pnl["followers"].items():
            for quote, core in cores.items():
                for sid, sp in core["sleeves"].items():
                    series.setdefault((fid, f"{quote}/{sid}"), []).append(float(sp["tracking_error"]))
    reg = json.loads((home / "memory" / "mirror_registry.json").read_bytes())
    how = {(f["follower_id"], f"{c['quote']}/{s['sleeve_id']}"): (s["vault_id"], s["mode"], s.get("persona")
                                                                  or f.get("persona", "baseline"))
           for f in reg["followers"] for c in f["cores"] for s in c["sleeves"]}
    return [{"follower": fid, "sleeve": sid, "vault": how[(fid, sid)][0], "mode": how[(fid, sid)][1],
             "persona": how[(fid, sid)][2], "cycles": len(v), "median": statistics.median(v), "max": max(v)}
            for (fid, sid), v in sorted(series.items())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--followers", default="1000,10000,100000", help="comma-separated sizes")
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--cycles", type=int, default=3, help="measured cycles per size")
    ap.add_argument("--help-runs", type=int, default=9)
    ap.add_argument("--modes", default="proportional,fixed_ratio,fixed_amount,target,scaled_trades",
                    help="sizing modes whose mirror stage is timed ('' to skip)")
    ap.add_argument("--mode-followers", type=int, default=10000, help="followers of the per-mode homes")
    ap.add_argument("--tracking-cycles", type=int, default=8, help="cycles of the demo run whose tracking "
                    "error is reported (0 to skip)")
    ap.add_argument("--no-floor", action="store_true", help="skip the floor under each measured cycle")
    ap.add_argument("--dir", default="bench-homes", help="where the synthetic homes go")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()
    root = Path(a.dir)
    root.mkdir(exist_ok=True)
    result: dict[str, Any] = {"help": help_cold_start(a.help_runs), "sizes": []}
    sizes: list[dict[str, Any]] = []
    for f in (int(x) for x in a.followers.split(",")):
        sys.stderr.write(f"measuring {f} followers x {a.symbols} symbols ...\n")
        sizes.append(size(f, a.symbols, a.cycles, root, with_floor=not a.no_floor))
    result["sizes"] = sizes
    per_mode = []
    for m in (x for x in a.modes.split(",") if x):
        sys.stderr.write(f"measuring mode {m} at {a.mode_followers} followers ...\n")
        per_mode.append(size(a.mode_followers, a.symbols, a.cycles, root, m, replay=False))
    result["modes"] = per_mode
    result["tracking"] = tracking(root, a.tracking_cycles) if a.tracking_cycles else []
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
    if not a.no_floor:
        print("\nthe floor under each cycle (vanta.bench_floor: the same bytes moved in bare CPython, no checks,"
              "\nno books, no bundle, no fsync; `+models` parses into the pydantic models instead), median:")
        print(f"{'followers':>10} {'startup':>8} {'read':>7} {'validate':>9} {'orders':>7} {'log':>7} "
              f"{'render':>7} {'write':>7} {'floor s':>8} {'+models s':>10} {'cycle/floor':>12}")
        for s in sizes:
            fl = s["floor_s"]
            print(f"{s['followers']:>10} {fl['startup']:>8.3f} {fl['read']:>7.3f} {fl['validate']:>9.3f} "
                  f"{fl['orders']:>7.3f} {fl['log']:>7.3f} {fl['render']:>7.3f} {fl['write']:>7.3f} "
                  f"{fl['floor']:>8.2f} {fl['models']:>10.2f} {s['cycle_per_floor']:>12.2f}")
    if per_mode:
        print(f"\nmirror stage by sizing mode, {a.mode_followers} followers x {a.symbols} symbols "
              f"(median of {a.cycles} cycles):")
        print(f"{'mode':>14} {'child orders':>13} {'mirror s':>9} {'cycle s':>8} {'RSS MB':>7}")
        for s in per_mode:
            print(f"{s['mode']:>14} {s['orders']:>13.0f} {s['stage_s']['mirror']:>9.3f} {s['cycle_s']:>8.2f} "
                  f"{s['cycle_rss_mb']:>7}")
    if result["tracking"]:
        print(f"\ntracking error of each follower sleeve against its vault over the demo run "
              f"({a.tracking_cycles} cycles; 0 = a perfect copy, 1 = nothing in common):")
        print(f"{'follower':>9} {'sleeve':>12} {'vault':>8} {'mode':>14} {'persona':>12} {'median':>8} {'max':>8}")
        for t in result["tracking"]:
            print(f"{t['follower']:>9} {t['sleeve']:>12} {t['vault']:>8} {t['mode']:>14} {t['persona']:>12} "
                  f"{t['median']:>8.4f} {t['max']:>8.4f}")


if __name__ == "__main__":
    main()
