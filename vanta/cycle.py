"""The cycle driver and the live edge.

`drive` runs STAGES, one ordered tuple, and times each stage. `run_cycle` drives
them over a home: LiveEdge reads memory/, takes the market snapshot from the feed,
sends orders to the paper broker (recording `submitting` first) and commits through
the journal with the replay bundle.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import localcontext
from operator import attrgetter
from typing import Any

import orjson

from vanta import __version__, bundle, canonical, faults, feed, journal
from vanta.brokers.paper import PaperBroker
from vanta.context import Ctx, Edge, Memory
from vanta.errors import InputError, StateError
from vanta.home import Home, chain_end, digests, last_log_line, locked, now_asof, vouched
from vanta.models import (
    APPEND_FILES,
    MEMORY_FILES,
    BrokerAnswers,
    Manifest,
    MarketSnapshot,
    Span,
)
from vanta.money import CONTEXT
from vanta.stages import (
    commit,
    diff,
    execute,
    fees,
    load,
    market,
    mirror,
    overlay,
    pnl,
    pool,
    queue,
    reconcile,
    targets,
    truth,
)
from vanta.validate import cross_check, parse_memory

StageFn = Callable[[Any, Edge], Ctx]
_LOG = "trade_log.jsonl"


def _pure(fn: Callable[[Ctx], Ctx]) -> StageFn:
    return lambda ctx, edge: fn(ctx)


STAGES: tuple[tuple[str, StageFn], ...] = (
    ("load", load.run),
    ("market", market.run),
    ("overlay", _pure(overlay.run)),
    ("targets", _pure(targets.run)),
    ("diff", _pure(diff.run)),
    ("mirror", _pure(mirror.run)),
    ("queue", _pure(queue.run)),
    ("execute", execute.run),
    ("reconcile", _pure(reconcile.run)),
    ("truth", _pure(truth.run)),
    ("pool", _pure(pool.run)),
    ("pnl", _pure(pnl.run)),
    ("fees", _pure(fees.run)),
    ("commit", commit.run),
)

Progress = Callable[[str, float], None]


def drive(edge: Edge, progress: Progress | None = None) -> tuple[Ctx, dict[str, float]]:
    """Run every stage over `edge`. Returns the final context and seconds per stage."""
    timings: dict[str, float] = {}
    ctx: Any = None
    # Cyclic GC is paused: a cycle allocates millions of small objects and no cycles;
    # collection passes over them cost more than the cycle itself at 10k followers.
    gc_was = gc.isenabled()
    gc.disable()
    try:
        with localcontext(CONTEXT):
            for name, fn in STAGES:
                t = time.perf_counter()
                ctx = fn(ctx, edge)
                timings[name] = time.perf_counter() - t
                if progress is not None:
                    progress(name, timings[name])
    finally:
        if gc_was:
            # Hand the cycle's objects to the oldest generation (freeze, then unfreeze):
            # left young, the first collection after enable walks every one of them,
            # 0.3-0.5 s at 10k followers, after the last stage.
            gc.freeze()
            gc.unfreeze()
            gc.enable()
    return ctx, timings


def memory_from_raw(raw: dict[str, bytes], log_seq: int, log_head: str, prefix: str,
                    vouched: Collection[str]) -> Memory:
    models = parse_memory(raw, vouched, prefix)
    cross_check(models, prefix)
    return Memory(
        vault=models["vault.json"], overlay=models["vault_overlay.json"],  # type: ignore[arg-type]
        conviction=models["conviction_score.json"], allocation=models["vault_allocation.json"],  # type: ignore[arg-type]
        registry=models["mirror_registry.json"], portfolio=models["portfolio.json"],  # type: ignore[arg-type]
        pnl=models["pnl_summary.json"], queue=models["autotrade_queue.json"],  # type: ignore[arg-type]
        raw=raw, log_seq=log_seq, log_head=log_head)


@dataclass
class CycleReport:
    cycle: int
    asof: str
    recovered: bool
    """An interrupted commit was rolled forward first, or this cycle is the interrupted one, finished."""
    resumed: bool
    """This cycle is one interrupted after sending orders, finished with its own asof and inputs."""
    orders: int
    fills: int
    rejects: int
    skipped: int
    log_lines: int
    bundle_bytes: int
    timings: dict[str, float]
    keep: Any = field(default=None, repr=False)
    """The final context, so a caller that exits at once never pays to free it."""


_ID = attrgetter("client_order_id")


def answers_bytes(answers: BrokerAnswers, lines: list[bytes]) -> bytes:
    """The bundle's broker_answers.json: `answers` in the one-line canonical form
    (`canonical.dumps_line_trusted(answers)`), its fills taken from `lines`, each fill's
    canonical JSON line (newline included), in the same order. Formatting 60k fills'
    Decimals again for a multi-line file cost the main thread 0.13 s at 10k followers;
    splicing the lines the broker wrote costs a join. Replay parses any JSON form, so
    bundles written in the multi-line form replay as before."""
    # Every newline is a line's end (JSON escapes those in strings): one replace, not 60k slices.
    fills = orjson.Fragment(b"[" + b",".join(lines).replace(b"\n", b"") + b"]")
    return canonical.dumps_line_trusted({**canonical.default(answers), "fills": fills})


def _inflight(home: Home) -> dict[str, Any]:
    """The in-flight record of a cycle interrupted after sending orders. vanta writes it
    atomically, so a damaged one was changed by hand or by the disk: the operator settles it."""
    path = home.inflight
    try:
        rec = canonical.loads(path.read_bytes(), str(path))
    except InputError:
        rec = None
    if not isinstance(rec, dict) or not {"cycle", "asof", "inputs"} <= rec.keys() or type(rec["cycle"]) is not int:
        raise StateError(f"{path} is damaged (not JSON with cycle, asof and inputs); it records a cycle interrupted "
                         "after sending orders: restore it from a backup, or settle that cycle's orders with the "
                         "broker by hand and then delete it")
    return rec


class LiveEdge:
    def __init__(self, home: Home, asof: str | None, ccxt_pool: Callable[[], Any] | None = None) -> None:
        self.home = home
        self.asof = asof
        self.broker = PaperBroker(home.root)
        self.ccxt_pool = ccxt_pool
        """Builds the ccxt VenuePool (tests pass one wired to a stub); None: keys from the environment."""
        self.resumed = False
        self.resumed_snapshot: Any = None
        self.bundle_bytes = 0
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="vanta-store")
        """Hashes, compresses and writes bundle objects and staged files (all release the GIL)
        while the main thread runs the stages; `close` waits for it."""
        # One cycle's background work: the bundle objects of its inputs and outputs (sha256,
        # bytes added), its staged commit and the trade log streaming into it.
        self._stored_raw: dict[str, Future[tuple[str, int]]] | None = None
        self._stored_answers: Future[tuple[str, int]] | None = None
        self._staging: journal.Staging | None = None
        self._outputs: dict[str, Future[tuple[str, int]]] | None = None
        self._log: journal.Stream | None = None

    def load(self) -> tuple[int, str, Memory]:
        raw = self.home.read_memory()
        tail = last_log_line(self.home.log)
        seq, head = chain_end(tail)
        self.inputs = digests(raw)  # hashed once: for the fast reader, and the in-flight record
        mem = memory_from_raw(raw, seq, head, "memory/", vouched(tail, self.inputs))
        self.home.check_history(mem.portfolio.cycle)
        cycle, asof = mem.portfolio.cycle + 1, self.asof
        if self.home.inflight.exists():
            # A cycle died after orders may have reached the broker: finish that same
            # cycle (same asof, same inputs, same client order ids), never a new one.
            rec = _inflight(self.home)
            if rec["cycle"] < cycle:
                # Restoring memory/ would throw committed cycles away: the record is what is wrong.
                raise StateError(f"{self.home.inflight} is the record of cycle {rec['cycle']}, which memory/ has "
                                 f"committed since (it is at cycle {cycle - 1}): a stale record (.vanta/ restored "
                                 "from a copy?); delete that file and run again")
            if rec["inputs"] != self.inputs:
                raise StateError(
                    f"cycle {rec['cycle']} was interrupted after sending orders, and memory/ has changed "
                    "since; restore memory/ to its state at that time (git checkout memory/) and run "
                    "`vanta cycle` again to finish it")
            cycle, asof, self.resumed = rec["cycle"], rec["asof"], True
            self.resumed_snapshot = rec.get("market_snapshot")
        if asof is None:
            asof = now_asof()
        last = mem.portfolio.asof
        if last is not None and asof <= last:
            raise StateError(f"asof {asof} is not after the last cycle's asof {last}; pass a later --asof")
        return cycle, asof, mem

    def market(self, ctx: Ctx) -> MarketSnapshot:
        if self.resumed_snapshot is not None:
            # An interrupted cycle is finished with the prices its orders were sized at.
            return MarketSnapshot.model_validate(self.resumed_snapshot)
        vf = ctx.vault
        if vf.market_data.source == "ccxt":
            return self._ccxt_market(ctx)
        symbols = sorted(vf.markets)
        bars = feed.bars_for(vf.market_data, symbols, self.home.root, vf.market_data.start_bar + ctx.cycle)
        index = feed.bar_for_cycle(bars, ctx.cycle, vf.market_data)
        bar = bars[index]
        missing = [s for s in symbols if s not in bar.closes]
        if missing:
            raise StateError(f"the {vf.market_data.source} feed has no price for {', '.join(missing)} "
                             f"at bar {index} ({bar.time}); remove those markets from vault.json or "
                             "extend the feed")
        depth = max((v.strategy.lookback for v in vf.vaults if v.strategy.kind == "momentum"), default=0)
        history = {s: tuple(b.closes[s] for b in bars[max(0, index - depth):index] if s in b.closes)
                   for s in symbols} if depth else {}
        return MarketSnapshot.make(
            schema_version="vanta.market_snapshot/1", cycle=ctx.cycle, asof=ctx.asof, bar=index,
            bar_time=bar.time, prices={s: bar.closes[s] for s in symbols}, history=history,
            markets=dict(vf.markets))

    def _ccxt_market(self, ctx: Ctx) -> MarketSnapshot:
        from vanta.brokers import ccxt_market  # ccxt loads only for an exchange-priced home

        md, vf = ctx.vault.market_data, ctx.vault
        if not md.exchange:
            raise StateError("memory/vault.json:/market_data/exchange: a ccxt price source needs an exchange; "
                             "set it to e.g. \"binance\"")
        depth = max((v.strategy.lookback for v in vf.vaults if v.strategy.kind == "momentum"), default=0)
        pool = self.ccxt_pool() if self.ccxt_pool is not None else None
        exid = md.exchange.partition(":")[0]
        return ccxt_market.snapshot(ctx.cycle, ctx.asof, md.exchange, md.timeframe, sorted(vf.markets), vf.markets,
                                    depth, factory=pool.exchange_factory if pool else None,
                                    markets=pool.markets.get(exid) if pool else None,
                                    backoff=pool.policy.backoff if pool else None)

    def execute(self, ctx: Ctx) -> BrokerAnswers:
        orders = ctx.to_submit
        # One pass over the orders (each costs ~20 ms at 10k followers): the inflight record's
        # ids, and those of the paper broker's answers, which come one per order, in order.
        ids = list(map(_ID, orders))
        if orders:
            record: dict[str, Any] = {"cycle": ctx.cycle, "asof": ctx.asof,
                                      "inputs": self.inputs, "submitting": ids}
            if ctx.snap is not None:
                # Finished after a crash, the cycle prices its orders as they were sized, even if
                # the feed (a file outside memory/) or the exchange has moved on since.
                record["market_snapshot"] = ctx.snap.to_json()
            # Ids, digests and a model's JSON (no model has a float field): the trusted writer
            # skips the float walk over tens of thousands of ids.
            journal.write_durable(self.home.inflight, canonical.dumps_trusted(record))
            faults.point("inflight_written")
        vaults = {v.vault_id: v for v in ctx.vault.vaults}
        execution = {vid: v.execution for vid, v in vaults.items()}
        refs = _ccxt_refs(ctx)
        live = [o for o in orders if o.account in refs] if refs else []
        if live:
            orders = tuple(o for o in orders if o.account not in refs)
        fills, lines = self.broker.submit(
            ctx.cycle, orders, ctx.mem.portfolio, execution, ctx.vault.markets)
        balances: dict[str, Any] = {}
        conversions: tuple[Any, ...] = ()
        if refs:
            from vanta.brokers import ccxt_edge  # ccxt loads only when a cycle trades through it

            maybe_sent = frozenset(o.client_order_id for o in live) if self.resumed else frozenset()
            answered, balances, conversions = ccxt_edge.submit(
                live, refs, ctx.snap.markets if ctx.snap else ctx.vault.markets, execution, maybe_sent, self.ccxt_pool,
                ctx.cycle, lambda c: ctx.asof if c == ctx.cycle else _recorded_asof(self.home, c),
                ctx.snap.prices if ctx.snap else None, self.home.root)
            fills += answered
            lines += map(canonical.dumps_line_trusted, answered)
            ids = list(map(_ID, fills))
        faults.point("broker_answered")
        by_id = sorted(range(len(fills)), key=ids.__getitem__)  # one sort orders the fills and their lines
        answers = BrokerAnswers.make(
            schema_version="vanta.broker_answers/1", fills=tuple(map(fills.__getitem__, by_id)),
            balances=balances, conversions=tuple(sorted(conversions, key=_ID)))
        # The bundle's inputs are all known now: they are stored while the remaining stages run.
        self._inputs(ctx)
        self._stored_answers = self._put(answers_bytes(answers, list(map(lines.__getitem__, by_id))))
        return answers

    def rendered(self, ctx: Ctx, files: Mapping[str, bytes]) -> tuple[Callable[[bytes], None],
                                                                      Callable[[], dict[str, str]]]:
        self._staging = staging = journal.Staging(self.home, self.pool)
        for n in MEMORY_FILES:
            if files[n] != ctx.mem.raw[n]:
                staging.file(f"memory/{n}", files[n])
        inputs = self._inputs(ctx)
        self._outputs = outputs = {f"memory/{n}": inputs[n] if files[n] is ctx.mem.raw[n] else self._put(files[n])
                                   for n in MEMORY_FILES}
        self._log = staging.stream(f"memory/{_LOG}")
        # The bundle's objects are addressed by sha256: storing the files hashed them.
        return self._log.write, lambda: {n: outputs[f"memory/{n}"].result()[0] for n in MEMORY_FILES}

    def commit(self, ctx: Ctx) -> None:
        # The commit stage gave the rendered files and streamed the log (`rendered`), and
        # execute stored the broker answers: what is left is to wait for them and journal.
        assert ctx.snap is not None and self._stored_answers is not None
        assert self._staging is not None and self._outputs is not None and self._log is not None
        staging, outputs = self._staging, self._outputs
        log, self._log = self._log, None
        if log.length != ctx.log_length:
            raise AssertionError("the trade log streamed to staging is not the one rendered")
        lengths = {f"memory/{n}": ctx.log_length if n == _LOG else len(ctx.outputs[n]) for n in APPEND_FILES}
        appended = {rel: log.close() if rel == log.rel
                    else staging.append(rel, ctx.outputs[rel[len("memory/"):]]) if lengths[rel]
                    else self.pool.submit(bundle.digest, b"")
                    for rel in lengths}
        inputs = {f"memory/{n}": stored for n, stored in self._inputs(ctx).items()}
        inputs["market_snapshot.json"] = self._put(canonical.dumps_trusted(ctx.snap))
        inputs["broker_answers.json"] = self._stored_answers
        spans = {rel: Span.make(offset=journal.size_of(self.home.root / rel), length=length,
                                sha256=appended[rel].result()) for rel, length in lengths.items()}
        man = Manifest.make(
            schema_version="vanta.replay_manifest/1", cycle=ctx.cycle, asof=ctx.asof,
            vanta_version=__version__, inputs=self._stored(inputs), outputs=self._stored(outputs),
            appends=spans, log_head_before=ctx.mem.log_head, log_head_after=ctx.log_head,
            log_seq_before=ctx.mem.log_seq)
        mbytes = bundle.manifest_bytes(man)
        self.bundle_bytes += len(mbytes)
        staging.file(str(bundle.manifest_path(self.home, ctx.cycle).relative_to(self.home.root)), mbytes)
        faults.point("before_commit")
        staging.commit()

    def _inputs(self, ctx: Ctx) -> dict[str, Future[tuple[str, int]]]:
        """Memory file -> its bundle object (stored once, from execute on) as read at cycle start."""
        if self._stored_raw is None:
            self._stored_raw = {n: self._put(ctx.mem.raw[n]) for n in MEMORY_FILES}
        return self._stored_raw

    def _put(self, data: bytes) -> Future[tuple[str, int]]:
        """Store `data` in the bundle, on the background threads."""
        return self.pool.submit(bundle.put, self.home, data)

    def _stored(self, puts: dict[str, Future[tuple[str, int]]]) -> dict[str, str]:
        """name -> sha256 of each stored object, once it is durable."""
        shas = {}
        for name, fut in puts.items():
            shas[name], added = fut.result()
            self.bundle_bytes += added
        return shas

    def __enter__(self) -> LiveEdge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the background writes (a failed cycle's too: none outlives the home lock)."""
        self.pool.shutdown()
        if self._log is not None:
            self._log.abandon()
        self._stored_raw = self._stored_answers = self._staging = self._outputs = self._log = None


def _recorded_asof(home: Home, cycle: int) -> str | None:
    """The asof of a committed cycle (its replay manifest), or None when it has none."""
    try:
        return bundle.load_manifest(home, cycle).asof
    except StateError:
        return None


def _ccxt_refs(ctx: Ctx) -> dict[str, str]:
    """order.account -> account_ref of the followers on the ccxt adapter (none: no ccxt import)."""
    if all(c.account.adapter == "paper" for f in ctx.registry.followers for c in f.cores):
        return {}
    from vanta.brokers.ccxt_edge import ccxt_refs

    return ccxt_refs(ctx.registry)


def run_cycle(home: Home, asof: str | None, progress: Progress | None = None) -> CycleReport:
    with locked(home):
        recovered = journal.recover(home)
        with LiveEdge(home, asof) as edge:
            ctx, timings = drive(edge, progress)
    kinds: dict[str, int] = {}
    for kind, _ in ctx.events:
        kinds[kind] = kinds.get(kind, 0) + 1
    return CycleReport(
        cycle=ctx.cycle, asof=ctx.asof, recovered=recovered or edge.resumed, resumed=edge.resumed,
        orders=len(ctx.to_submit), fills=kinds.get("fill", 0), rejects=kinds.get("reject", 0),
        skipped=kinds.get("child_skipped", 0) + kinds.get("vault_order_skipped", 0) + kinds.get("follower_skipped", 0),
        log_lines=len(ctx.events) + 1, bundle_bytes=edge.bundle_bytes, timings=timings, keep=ctx)
