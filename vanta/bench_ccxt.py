"""Benchmark of live execution: `python -m vanta.bench_ccxt` (or `make bench-ccxt`).

A synthetic home (20 symbols, one momentum vault) whose followers are all on the ccxt
adapter, each its own exchange account, trades against the local stub exchange
(vanta/brokers/stub.py: binance's REST API, `--latency` seconds per call) through real
ccxt binance objects: requests built and signed by ccxt, answers parsed by it, ccxt's
rate limiter on for every account, at most `--concurrency` calls in flight on the exchange.

Printed, per measured cycle and as medians over them:
- latency per follower from cycle start (before memory/ is read) to the exchange's
  acknowledgement of that follower's last child order: p50 and p99 over followers;
- orders per second through the adapter (ccxt orders / wall time of the ccxt broker);
- the whole cycle's wall time (it includes reading every account's balance after its
  orders, for the truth stage), orders sent twice (must be 0), and accounts whose books
  the truth stage corrected (rounding residues the broker keeps; 0 drift otherwise).

The first cycle opens positions; the cycles after it are measured. One process, one run:
read the figures against each other, the machine is shared.

Last, the floor no scheduling can beat: ccxt's own CPU time per order (build, sign,
parse the answer: one account, no latency, the stub's time left out), times the orders
of a measured cycle, over the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from vanta import init as init_mod
from vanta import journal
from vanta.brokers import ccxt_edge, ccxt_exchange
from vanta.brokers.ccxt_broker import Policy, VenuePool
from vanta.brokers.resilience import Backoff
from vanta.brokers.secrets import KeySet
from vanta.brokers.stub import StubVenue, binance_markets
from vanta.cycle import LiveEdge, drive
from vanta.home import Home, locked
from vanta.models import Order


def make_home(root: Path, followers: int, symbols: int) -> tuple[Home, dict[str, Any], dict[str, Decimal]]:
    files = init_mod.synthetic_files(followers, symbols, 1)
    for f in files["mirror_registry.json"]["followers"]:
        for core in f["cores"]:
            core["account"] = {"adapter": "ccxt:binance", "account_ref": f["follower_id"]}
    init_mod.write_home(root, files, True)
    markets = {s: (m["lot_size"], m["tick_size"]) for s, m in files["vault.json"]["markets"].items()}
    cash = {fid: Decimal(a["USD"]["cash"]) for fid, a in files["portfolio.json"]["followers"].items()}
    return Home(root), binance_markets(markets), cash


def _key(ref: str) -> str:
    return ref.replace(":", "-").ljust(64, "k")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


class Run:
    def __init__(self, latency: float, concurrency: int, markets: dict[str, Any], cash: dict[str, Decimal]) -> None:
        # Every account its own key, holding what its books hold (the truth stage finds no drift).
        self.stub = StubVenue(latency=latency, holdings={_key(f"binance:{fid}"): {"USD": c} for fid, c in cash.items()})
        self.markets = markets
        self.policy = Policy(concurrency=concurrency, follow_interval=latency, backoff=Backoff(attempts=3))
        self.acks: list[tuple[str, float]] = []
        self.adapter_s = 0.0
        self.adapter_cpu = 0.0

    def pool(self) -> VenuePool:
        stub = self.stub

        def factory(exid: str, ks: Any, sandbox: bool, mk: Any) -> Any:
            ex = ccxt_exchange.make_exchange(exid, ks, sandbox, mk)
            ccxt_exchange.use_transport(ex, stub.transport)
            return ex

        return VenuePool(self.policy, {"binance": self.markets},
                         keys=lambda ref: [KeySet("bench", _key(ref), "s" * 64)],
                         exchange_factory=factory, on_submitted=self._ack)

    def _ack(self, order: Order, t: float) -> None:
        self.acks.append((order.account, t))

    def cycle(self, home: Home, asof: str) -> dict[str, Any]:
        self.acks = []
        real = ccxt_edge.submit

        def timed(*a: Any, **k: Any) -> Any:
            t, c = time.perf_counter(), time.process_time()
            try:
                return real(*a, **k)
            finally:
                self.adapter_s = time.perf_counter() - t
                self.adapter_cpu = time.process_time() - c

        ccxt_edge.submit = timed
        try:
            t0 = time.perf_counter()
            with locked(home):
                journal.recover(home)
                with LiveEdge(home, asof, ccxt_pool=self.pool) as edge:
                    ctx, _ = drive(edge)
            wall = time.perf_counter() - t0
        finally:
            ccxt_edge.submit = real
        last: dict[str, float] = {}
        for account, t in self.acks:
            last[account] = max(last.get(account, 0.0), t - t0)
        lat = list(last.values())
        deferred = sum(1 for f in (ctx.broker_answers.fills if ctx.broker_answers else ()) if f.status == "deferred")
        drift = sum(1 for k, _ in ctx.events if k == "broker_correction")
        return {"drift": drift, "followers": len(lat), "orders": len(self.acks), "p50": pct(lat, 0.5) if lat else 0.0,
                "p99": pct(lat, 0.99) if lat else 0.0, "ops": len(self.acks) / self.adapter_s if self.adapter_s else 0,
                "adapter_s": self.adapter_s,
                "cpu_ms": self.adapter_cpu / len(self.acks) * 1000 if self.acks else 0.0, "wall": wall,
                "deferred": deferred, "duplicates": self.stub.duplicates}


def ccxt_cpu_per_order(markets: dict[str, Any], n: int = 600) -> float:
    """Seconds of CPU ccxt spends per order (create_order and the parse of its answer),
    the stub's own time subtracted: the client's cost, whatever the concurrency."""
    import asyncio

    stub = StubVenue(latency=0.0, holdings={_key("binance:cpu"): {"USD": Decimal(10) ** 12}})
    answer = stub._answer
    spent = [0.0]

    def timed_answer(*a: Any) -> Any:
        t = time.process_time()
        try:
            return answer(*a)
        finally:
            spent[0] += time.process_time() - t

    stub._answer = timed_answer  # type: ignore[method-assign,assignment]
    ex = ccxt_exchange.make_exchange("binance", KeySet("cpu", _key("binance:cpu"), "s" * 64), False, markets)
    ccxt_exchange.use_transport(ex, stub.transport)
    ex.enableRateLimit = False  # the floor is CPU: the limiter's waits are not work
    symbols = sorted(markets)

    async def go() -> float:
        t = time.process_time()
        for i in range(n):
            sym = symbols[i % len(symbols)]
            m = markets[sym]
            await ex.create_order(sym, "limit", "buy", m["precision"]["amount"] * 10, Decimal(100),
                                  {"newClientOrderId": f"cpu{i:08d}"})
        return time.process_time() - t

    total = asyncio.run(go())
    return (total - spent[0]) / n


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--followers", type=int, default=1000)
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds per stub call (default 0.05)")
    ap.add_argument("--concurrency", type=int, default=1024, help="calls in flight on the exchange")
    ap.add_argument("--cycles", type=int, default=3, help="measured cycles after the opening one")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vanta-bench-ccxt-") as tmp:
        home, markets, cash = make_home(Path(tmp) / "home", a.followers, a.symbols)
        run = Run(a.latency, a.concurrency, markets, cash)
        print(f"{a.followers} followers on the ccxt adapter, stub exchange {a.latency * 1000:.0f} ms per call, "
              f"concurrency {a.concurrency}")
        print(f"{'cycle':>5} {'followers':>9} {'orders':>6} {'p50 ms':>7} {'p99 ms':>7} {'orders/s':>8} "
              f"{'adapter s':>9} {'CPU/order':>9} {'cycle s':>7} {'deferred':>8} {'dup':>3} {'corrected':>9}")
        rows = []
        for n in range(1, a.cycles + 2):
            r = run.cycle(home, f"2026-01-{n:02d}T00:00:00Z")
            print(f"{n:>5} {r['followers']:>9} {r['orders']:>6} {r['p50'] * 1000:>7.0f} {r['p99'] * 1000:>7.0f} "
                  f"{r['ops']:>8.0f} {r['adapter_s']:>9.2f} {r['cpu_ms']:>6.3f} ms {r['wall']:>7.2f} "
                  f"{r['deferred']:>8} {r['duplicates']:>3} "
                  f"{r['drift']:>9}"
                  + ("  (opening)" if n == 1 else ""))
            if n > 1:
                rows.append(r)
        med = {k: statistics.median(r[k] for r in rows) for k in ("p50", "p99", "ops", "wall", "cpu_ms")}
        print(f"median of cycles 2-{a.cycles + 1}: p50 {med['p50'] * 1000:.0f} ms, p99 {med['p99'] * 1000:.0f} ms "
              f"[target p99 <= 500 ms], {med['ops']:.0f} orders/s, adapter CPU {med['cpu_ms']:.3f} ms per order, "
              f"cycle {med['wall']:.2f} s; "
              f"orders sent twice: {run.stub.duplicates}")
        per = ccxt_cpu_per_order(markets)
        orders = statistics.median(r["orders"] for r in rows)
        cores = len(os.sched_getaffinity(0))
        print(f"ccxt CPU per order (build, sign, parse; stub excluded): {per * 1000:.3f} ms; "
              f"{orders:.0f} orders x that / {cores} cores = {orders * per / cores * 1000:.0f} ms, "
              f"the least any schedule needs to send them all on this machine")


if __name__ == "__main__":
    main()
