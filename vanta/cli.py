"""The `vanta` command: a thin shell over the library.

Each command calls one library function and turns a VantaError into one
`Error: ...` line and its exit code (see vanta.errors.ExitCode and the README).
Heavy modules are imported inside the commands, so `vanta --help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from vanta.errors import ExitCode, StateError, VantaError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="vanta: deterministic vault mirroring. Exit codes: 0 ok, 1 internal error, 2 usage, "
    "3 bad input, 4 home locked, 5 replay mismatch, 6 verify failed, 7 home state.",
)

HomeOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at run time
    typer.Option("--home", help="The home folder (default: $VANTA_HOME, else the current folder)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]


def _asof(asof: str | None) -> str | None:
    """Every --asof is checked where it is parsed: a real UTC instant, or a usage error (exit 2)."""
    if asof is not None:
        from vanta.models import instant

        try:
            instant(asof)
        except ValueError as e:
            raise typer.BadParameter(f"{asof!r} is {e}", param_hint="--asof") from None
    return asof


def _month(period: str) -> str:
    """--period is checked where it is parsed: a month, or a usage error (exit 2)."""
    from vanta.statements import MONTH

    if not MONTH.fullmatch(period):
        raise typer.BadParameter(f"{period!r} is not a month written YYYY-MM, such as 2026-11", param_hint="--period")
    return period


def _asof_opt(help: str) -> Any:
    return typer.Option(help=help, callback=_asof)


def _json(obj: Any) -> None:
    from vanta import canonical

    sys.stdout.write(canonical.dumps(obj).decode())


def _err(msg: str) -> None:
    sys.stderr.write(msg + "\n")


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to make the home in (created if needed).")],
    followers: Annotated[Optional[int], typer.Option(  # noqa: UP045
        help="Synthetic home: number of followers.", min=1, max=1_000_000)] = None,
    symbols: Annotated[int, typer.Option(help="Synthetic home: number of symbols.", min=1, max=999)] = 20,
    seed: Annotated[int, typer.Option(help="Synthetic home: seed of the price walk.")] = 1,
    mode: Annotated[str, typer.Option(help="Synthetic home: every sleeve's sizing mode (proportional, "
                                           "fixed_ratio, fixed_amount, target, scaled_trades).")] = "proportional",
    force: Annotated[bool, typer.Option(help="Replace an existing home's state.")] = False,
) -> None:
    """Create a working home: the example (three vaults, eight followers with Core
    Vaults and sleeves in every sizing mode, historical prices), or with --followers
    a synthetic home for benchmarks.

    Example: vanta init ./demo && vanta cycle --home ./demo --asof 2026-11-01T00:00:00Z
    """
    from vanta import init as init_mod

    if mode not in init_mod.MODES:
        raise typer.BadParameter(f"{mode!r}; use one of {', '.join(init_mod.MODES)}", param_hint="--mode")
    files = (init_mod.example_files() if followers is None
             else init_mod.synthetic_files(followers, symbols, seed, mode))
    init_mod.write_home(directory, files, force)
    kind = "example" if followers is None else f"synthetic ({followers} followers x {symbols} symbols)"
    print(f"Created {kind} home in {directory}")


@app.command()
def cycle(
    home: HomeOpt = None,
    asof: Annotated[
        Optional[str],  # noqa: UP045
        _asof_opt("The cycle's instant, UTC: 2026-11-21T00:00:00Z (default: now)."),
    ] = None,
    json: JsonOpt = False,
    progress: Annotated[bool, typer.Option(help="Print each stage's time on stderr.")] = False,
) -> None:
    """Run one cycle: signals -> targets -> orders -> fills -> PnL, committed atomically
    with a replay bundle. A second cycle on a locked home exits at once with code 4.

    Example: vanta cycle --home ./demo --asof 2026-11-02T00:00:00Z --json
    """
    import time

    from vanta import home as home_mod
    from vanta.cycle import run_cycle

    h = home_mod.resolve(home)
    t0 = time.perf_counter()

    def report(stage: str, seconds: float) -> None:
        # Long cycles say where they are; short ones stay quiet.
        if progress or time.perf_counter() - t0 > 1.0:
            _err(f"  {stage:<10} {seconds:8.3f} s")

    r = run_cycle(h, asof, report)
    if json:
        _json({"cycle": r.cycle, "asof": r.asof, "recovered": r.recovered, "resumed": r.resumed, "orders": r.orders,
               "fills": r.fills, "rejects": r.rejects, "skipped": r.skipped, "log_lines": r.log_lines,
               "bundle_bytes": r.bundle_bytes,
               "timings": {k: f"{v:.6f}" for k, v in r.timings.items()}})
    else:
        note = (" (finished an interrupted cycle)" if r.resumed else
                " (after finishing the last cycle's interrupted commit)" if r.recovered else "")
        print(f"cycle {r.cycle} at {r.asof}{note}: {r.orders} orders, {r.fills} filled, {r.rejects} rejected, "
              f"{r.skipped} skipped; {r.log_lines} log lines; {sum(r.timings.values()):.2f} s")
    _waiting(r.keep.events if r.keep is not None else ())
    _done()


def _throttled() -> Callable[[str], None]:
    """Progress for long work on stderr: quiet for the first second, then a line a second."""
    import time

    last = [time.monotonic()]

    def say(text: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            _err(f"  {text}")

    return say


def _waiting(events: Any) -> None:
    """Orders a live broker could not take this cycle stay queued; say so, and why (the fix)."""
    reasons = [d["reason"] for kind, d in events if kind == "order_deferred"]
    if reasons:
        _err(f"Warning: {len(reasons)} orders wait in the queue for the broker (see the trade log's "
             "order_deferred lines); for example:")
        for why in sorted(set(reasons))[:3]:
            _err(f"  {why}")


@app.command()
def replay(
    cycle_no: Annotated[Optional[str], typer.Argument(metavar="N|latest", help="Cycle to replay.")] = None,  # noqa: UP045
    all_: Annotated[bool, typer.Option("--all", help="Replay every recorded cycle.")] = False,
    home: HomeOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run recorded cycles again from their bundles and compare every output byte;
    prints a unified diff and exits 5 on any mismatch. Never touches a broker.

    Example: vanta replay latest --home ./demo; vanta replay --all --home ./demo
    """
    from vanta import bundle
    from vanta import home as home_mod
    from vanta.replay import replay as run_replay

    if all_ == (cycle_no is not None):
        raise typer.BadParameter("give a cycle number, `latest`, or --all (one of them)", param_hint="N")
    if not all_ and cycle_no != "latest" and not (cycle_no or "").isdigit():
        raise typer.BadParameter(f"{cycle_no!r} is not a cycle number or `latest`", param_hint="N")
    h = home_mod.resolve(home)
    have = bundle.cycles(h)
    if all_:
        todo = have
    elif cycle_no == "latest":
        if not have:
            raise StateError(f"no replay bundles in {h.replays}/cycles: run `vanta cycle` first, or, if cycles "
                             "were run, restore replays/ from git or a backup (`vanta verify` lists what is lost)")
        todo = [have[-1]]
    else:
        todo = [int(cycle_no or 0)]
    failed = []
    results = []
    for n in todo:
        r = run_replay(h, n)
        results.append({"cycle": n, "ok": r.ok, "mismatched": sorted(r.mismatches)})
        if not r.ok:
            failed.append(n)
            if not json:
                for _name, diff in r.mismatches.items():
                    sys.stdout.write(diff)
                print(f"cycle {n}: MISMATCH in {', '.join(sorted(r.mismatches))}")
        elif not json:
            print(f"cycle {n}: identical")
    if json:
        _json({"replayed": results, "ok": not failed})
    _done(ExitCode.REPLAY_MISMATCH if failed else 0)


@app.command()
def verify(home: HomeOpt = None, json: JsonOpt = False) -> None:
    """Check the trade log's hash chain, every replay bundle's manifest and objects, and
    that memory/ matches the last committed cycle. Exits 6 naming what differs.

    Example: vanta verify --home ./demo
    """
    from vanta import home as home_mod
    from vanta.verify import verify as run_verify

    h = home_mod.resolve(home)
    with home_mod.settled(h):
        problems, summary = run_verify(h, _throttled())
    if json:
        _json({**summary, "ok": not problems, "problems": problems})
    else:
        for p in problems:
            print(f"FAIL {p}")
        print(f"{summary['log_lines']} log lines, {summary['cycles']} bundles: "
              + ("verified" if not problems else f"{len(problems)} problem(s)"))
    if problems:
        raise typer.Exit(ExitCode.VERIFY_FAILED)


@app.command()
def status(home: HomeOpt = None, json: JsonOpt = False) -> None:
    """Show vaults, followers, equity, PnL and the order queue.

    Example: vanta status --home ./demo --json
    """
    from vanta import home as home_mod
    from vanta.status import collect, render

    h = home_mod.resolve(home)
    with home_mod.settled(h):
        data = collect(h)
    if json:
        _json(data)
    else:
        render(data)


AsofOpt = Annotated[
    Optional[str],  # noqa: UP045
    _asof_opt("The instant logged with the change, UTC: 2026-11-21T12:00:00Z (default: now)."),
]


def _admin_report(out: Any, json: bool) -> None:
    import json as json_mod

    if json:
        _json(out.to_json())
        return
    if out.action == "unchanged":
        print(f"{out.follower_id}: unchanged")
    else:
        done = {"onboard": "onboarded", "update": "updated", "offboard": "offboarded"}[out.action]
        print(f"{out.follower_id}: {done} (trade log line {out.log_seq})")
        if out.action != "onboard":
            for d in out.diff:
                print(f"  {d['path']}: {json_mod.dumps(d['before'])} -> {json_mod.dumps(d['after'])}")
    for ref in out.keys_stored:
        print(f"  keys for {ref} stored in {out.secrets_file}")


@app.command()
def onboard(
    packet: Annotated[Path, typer.Argument(help="The API packet (JSON): user_id, vault_id, brokers, persona, "
                                                "mirroring_mode, scale, fee_model, ...")],
    home: HomeOpt = None,
    asof: AsofOpt = None,
    json: JsonOpt = False,
) -> None:
    """Register a follower from an API packet, or update it: one Core Vault in the vault's
    base currency, its sleeves, persona, scale and fee terms. The same packet again
    changes nothing; a change is logged with its diff. API keys go to the secret store
    outside the home ($VANTA_SECRETS_FILE, sealed with $VANTA_SECRETS_KEY), or stay in
    the environment when written "env:NAME". A bad packet exits 3 and writes nothing.

    Example: vanta onboard packet_F_1042.json --home ./demo
    """
    from vanta import home as home_mod
    from vanta.onboard import onboard as run_onboard

    h = home_mod.resolve(home)
    _admin_report(run_onboard(h, packet, asof), json)


@app.command()
def offboard(
    follower_id: Annotated[str, typer.Argument(metavar="ID", help="The follower to stop mirroring.")],
    home: HomeOpt = None,
    asof: AsofOpt = None,
    json: JsonOpt = False,
) -> None:
    """Stop a follower's new orders: its status becomes offboarded; its books, PnL and
    history stay. Logged like an onboarding; an offboarded follower is left unchanged.

    Example: vanta offboard F_1042 --home ./demo
    """
    from vanta import home as home_mod
    from vanta.onboard import offboard as run_offboard

    h = home_mod.resolve(home)
    _admin_report(run_offboard(h, follower_id, asof), json)


@app.command()
def plan(
    home: HomeOpt = None,
    asof: Annotated[
        Optional[str],  # noqa: UP045
        _asof_opt("The instant to plan for, UTC (default: now)."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Show the child orders the next cycle would send, per follower sleeve, with every
    skip and cap and its reason. Nothing is sent and nothing is written.

    Example: vanta plan --home ./demo --asof 2026-11-09T00:00:00Z --json
    """
    from vanta import home as home_mod
    from vanta import plan as plan_mod

    h = home_mod.resolve(home)
    with home_mod.settled(h):
        data = plan_mod.summary(plan_mod.plan(h, asof))
    if json:
        _json(data)
    else:
        plan_mod.render(data)


@app.command()
def schema(
    directory: Annotated[Path, typer.Argument(help="Where to write the JSON Schema files.")] = Path("schemas"),
) -> None:
    """Write the JSON Schema of every memory file (and of bundles and log lines).

    Example: vanta schema schemas/
    """
    from vanta.schema import write_all

    for path in write_all(directory):
        print(path)


# ---------------------------------------------------------------- pooled vaults and fees


def _number(text: str, name: str, fraction: str, digits: int, example: str) -> Any:
    """AMOUNT and SHARES are checked where they are parsed: ASCII digits (and `fraction`),
    at most `digits` of them before the point, or a usage error (exit 2). Decimal() alone
    takes NaN, 1e400, 1_000 and other scripts' digits; the pool's rules check the value."""
    import re
    from decimal import Decimal

    whole = re.fullmatch(rf"([0-9]+)(?:{fraction})?" if fraction else "([0-9]+)", text, re.ASCII)
    if whole is None:
        kind = "a decimal number" if fraction else "a whole number"
        raise typer.BadParameter(f"{text!r} is not {kind} written with digits; write it like {example}",
                                 param_hint=name)
    if len(whole.group(1).lstrip("0")) > digits:
        raise typer.BadParameter(f"{text!r} has more than {digits} digits before the point; "
                                 f"write it like {example}", param_hint=name)
    return Decimal(text)


def _pool_report(out: dict[str, Any], json: bool) -> None:
    if json:
        _json(out)
        return
    r = out["request"]
    if out["unchanged"]:
        print(f"{r['request_id']}: unchanged (the same request at the same asof is pending)")
        return
    what = r["amount"] if r["kind"] == "deposit" else ("all shares" if r["all"] else f"{r['shares']} shares")
    print(f"{r['request_id']}: {r['kind']} {what} of {r['vault_id']} by {r['contributor_id']} pending until the "
          f"next rollover (trade log line {out['log_seq']})")


@app.command()
def deposit(
    vault_id: Annotated[str, typer.Argument(metavar="VAULT", help="The pooled vault.")],
    contributor: Annotated[str, typer.Argument(metavar="CONTRIBUTOR", help="Who deposits.")],
    amount: Annotated[str, typer.Argument(metavar="AMOUNT", help="Coins in the vault's base currency.")],
    home: HomeOpt = None,
    asof: AsofOpt = None,
    json: JsonOpt = False,
) -> None:
    """Request a deposit into a pooled vault: checked against min stake and capacity, then
    pending until the cycle that crosses the vault's next rollover mints its shares at
    that cycle's NAV per share.

    V_POOL stands for a vault with `pooled` terms in vault.json (the example home has none).

    Example: vanta deposit V_POOL alice 1000.00 --home ./demo
    """
    from vanta import home as home_mod
    from vanta.pool_admin import request

    value = _number(amount, "AMOUNT", r"\.[0-9]+", 18, "1000.00")
    _pool_report(request(home_mod.resolve(home), vault_id, contributor, "deposit", amount_in=value, asof=asof), json)


@app.command()
def withdraw(
    vault_id: Annotated[str, typer.Argument(metavar="VAULT", help="The pooled vault.")],
    contributor: Annotated[str, typer.Argument(metavar="CONTRIBUTOR", help="Who withdraws.")],
    shares: Annotated[Optional[str], typer.Argument(metavar="SHARES", help="Shares to burn.")] = None,  # noqa: UP045
    all_: Annotated[bool, typer.Option("--all", help="Burn every share the contributor holds.")] = False,
    home: HomeOpt = None,
    asof: AsofOpt = None,
    json: JsonOpt = False,
) -> None:
    """Request a withdrawal from a pooled vault: checked against the shares held, the
    cooldown and the manager's minimum stake, then pending until the next rollover pays
    it at that cycle's NAV per share, less the fee on profit over cost basis.

    V_POOL stands for a vault with `pooled` terms in vault.json (the example home has none).

    Example: vanta withdraw V_POOL alice --all --home ./demo
    """
    from decimal import Decimal

    from vanta import home as home_mod
    from vanta.pool_admin import request

    if (shares is None) == (not all_):
        raise typer.BadParameter("give SHARES or --all, one of them, such as: vanta withdraw VAULT CONTRIBUTOR "
                                 "1000000", param_hint="SHARES")
    value = _number(shares, "SHARES", "", 36, "1000000") if shares is not None else Decimal(0)
    out = request(home_mod.resolve(home), vault_id, contributor, "withdraw", shares=value, everything=all_, asof=asof)
    _pool_report(out, json)


@app.command()
def contributors(
    vault_id: Annotated[str, typer.Argument(metavar="VAULT", help="The pooled vault.")],
    home: HomeOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show a pooled vault's share register: each contributor's shares, value at the last
    cycle's NAV, cost basis and profit, and the requests pending.

    V_POOL stands for a vault with `pooled` terms in vault.json (the example home has none).

    Example: vanta contributors V_POOL --home ./demo --json
    """
    from vanta import home as home_mod
    from vanta.pool_admin import contributors as run

    out = run(home_mod.resolve(home), vault_id)
    if json:
        _json(out)
        return
    print(f"{out['vault_id']}: assets {out['assets']} {out['currency']}, {out['total_shares']} shares, "
          f"NAV per 10^6 shares {out['nav_per_share']}, fees owed {out['fees_owed']}, "
          f"last rollover {out['last_rollover']}")
    for r in out["contributors"]:
        print(f"  {r['contributor_id']}: {r['shares']} shares, value {r['value']}, cost {r['cost_basis']}, "
              f"profit {r['unrealized_profit']}, paid out {r['paid_out']}, fees paid {r['fees_paid']}")
    for r in out["pending"]:
        print(f"  pending {r['request_id']}")


fees_app = typer.Typer(no_args_is_help=True, help="Fee statements from the ledger.\n\n"
                       "Example: vanta fees statement --period 2026-11 --home ./demo")
app.add_typer(fees_app, name="fees")


@fees_app.command("statement")
def fees_statement(
    period: Annotated[str, typer.Option(help="The month billed, YYYY-MM.", callback=_month)],
    out: Annotated[Optional[Path], typer.Option(help="Folder (default: HOME/statements/PERIOD).")] = None,  # noqa: UP045
    home: HomeOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write one statement per payer (JSON and CSV) for a month, from pnl_ledger.jsonl:
    every line cites its ledger entry, ledger line and cycle bundle.

    Example: vanta fees statement --period 2026-11 --home ./demo
    """
    from vanta import home as home_mod
    from vanta.statements import write

    res = write(home_mod.resolve(home), period, out)
    if json:
        _json(res)
        return
    print(f"{len(res['payers'])} statements for {period} in {res['folder']}")
    for payer, totals in res["payers"].items():
        print(f"  {payer}: " + ", ".join(f"{t} {c}" for c, t in totals.items()))


_fast_exit = False


def _done(code: int = 0) -> None:
    """End a big command at once from the console entry point: its files are committed
    and closed, and freeing millions of objects one by one costs up to a second."""
    if _fast_exit:
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if code:
        raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except VantaError as e:
        _fail(e)
    except BrokenPipeError:
        raise  # the reader of stdout went away (`| head`): nothing to tell it
    except OSError as e:
        from vanta.errors import os_error

        _fail(os_error(e))


def _fail(e: VantaError) -> None:
    _err(f"Error: {e.message}")
    sys.exit(int(e.code))


def _fixed_mmap_threshold() -> None:
    """glibc gives a buffer over its mmap threshold (128 KiB) a mapping of its own, returned
    on free, but raises the threshold to the size of each such buffer freed (up to 32 MiB):
    the later 10-30 MB file buffers of a large cycle then come from the heap, which keeps
    their pages. A fixed threshold: peak RSS -25 MB at 10k followers, at no measured cost."""
    if sys.platform != "linux":
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return  # no C library mallopt to call
    mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD (setting it ends the dynamic adjustment)


def run() -> None:
    """The `vanta` console script: main() with the fast exit of the big commands."""
    global _fast_exit
    _fast_exit = True
    _fixed_mmap_threshold()
    main()
