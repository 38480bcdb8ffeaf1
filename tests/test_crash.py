"""Crash safety: SIGKILL at every named crash point, at random instants, and lock contention.

Every scenario runs the real `vanta` command in a child process and compares the home
with a reference home that ran the same cycles without interruption: determinism makes
the expected state byte-exact, so a crash test asserts "old state or new state", never
"something plausible".

What a crash leaves, by where it happens (see vanta/cycle.py LiveEdge.load, vanta/journal.py):
- "inflight": orders may have reached the broker (.vanta/inflight.json exists, no journal).
  memory/ is the old state; the next `vanta cycle` finishes *that* cycle, with its own asof
  and client order ids, and does nothing else.
- "journal": the journal was written (the commit point): the next `vanta cycle` rolls it
  forward (the new state), then runs the next cycle with the asof it was given.
- "none": no in-flight record and no journal (only possible when the cycle sent no order):
  memory/ is the old state and the next `vanta cycle` simply runs the cycle again, with
  the new asof.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from functools import cached_property
from pathlib import Path

# vanta.faults reads VANTA_CRASH_AT once, at import: never let it reach this process.
os.environ.pop("VANTA_CRASH_AT", None)

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "vanta"
_SCRIPT = Path(sys.executable).with_name("vanta")
VANTA_CMD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "vanta"]
KILLED = -signal.SIGKILL


def asof(n: int) -> str:
    """The asof the reference home gives cycle n."""
    return f"2026-11-{n:02d}T00:00:00Z"


# ------------------------------------------------------------------ crash points


def collect_crash_points() -> list[str]:
    """Every `faults.point("...")` name in the package, so new points are covered."""
    names: set[str] = set()
    for path in sorted(PKG.rglob("*.py")):
        text = path.read_text("utf-8")
        if "faults" not in text or path.name == "faults.py":
            continue
        names.update(re.findall(r"""\bpoint\(\s*["']([A-Za-z0-9_]+)["']""", text))
    return sorted(names)


POINTS = collect_crash_points()

# Expected phase after a crash at each known point, in a cycle that sends orders.
# A point not listed here is still tested: its phase is taken from what it leaves.
JOURNALED = {"after_journal", "renamed_file", "appended", "before_journal_removed"}
PRE_JOURNAL = {
    "inflight_written",
    "broker_half_written",
    "broker_answered",
    "before_commit",
    "staged_file",
    "before_journal",
}
ORDERS_ONLY = {"inflight_written", "broker_half_written"}  # never reached without orders
MULTI_VISIT = {"staged_file", "renamed_file"}  # once per file of the commit


def _cases(points: list[str], skip: set[str], later: tuple[str, ...] = (":3", ":last")) -> list[str]:
    out = []
    for p in points:
        if p in skip:
            continue
        out.append(p)
        if p in MULTI_VISIT:
            out += [f"{p}{k}" for k in later]
    return out


def test_crash_points_are_collected() -> None:
    assert POINTS, "no faults.point(...) call found under vanta/: the crash tests would test nothing"
    # the points every commit passes through must exist (if one is renamed, update this file)
    assert {"before_commit", "after_journal"} <= set(POINTS), POINTS


# ------------------------------------------------------------------ running vanta


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VANTA_CRASH_AT", "VANTA_HOME")}
    env.update(extra)
    return env


def vanta(*args: str | Path, crash: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = _env(VANTA_CRASH_AT=crash) if crash else _env()
    return subprocess.run(
        [*VANTA_CMD, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def cycle_json(home: Path, when: str) -> dict:
    p = vanta("cycle", "--home", home, "--asof", when, "--json")
    assert p.returncode == 0, f"vanta cycle --asof {when} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout)


def cli_inprocess(*args: str | Path) -> tuple[int, str]:
    """`vanta ARGS` through vanta.cli.main in this process (fast, for verify and replay)."""
    from vanta import cli

    out = io.StringIO()
    saved = sys.argv
    sys.argv = ["vanta", *map(str, args)]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(out):
            try:
                cli.main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = saved
    return code, out.getvalue()


# ------------------------------------------------------------------ home snapshots


def tree(root: Path, sub: str) -> dict[str, bytes]:
    base = root / sub
    if not base.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def state(home: Path, subs: tuple[str, ...] = ("memory", "broker", "replays")) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for s in subs:
        out.update(tree(home, s))
    return out


def assert_same(got: dict[str, bytes], want: dict[str, bytes], what: str) -> None:
    if got == want:
        return
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    msg = [f"{what}: missing {missing}, unexpected {extra}, different {differ}"]
    for k in differ[:2]:
        diff = difflib.unified_diff(
            want[k].decode("utf-8", "replace").splitlines(),
            got[k].decode("utf-8", "replace").splitlines(),
            f"expected/{k}",
            f"got/{k}",
            lineterm="",
            n=1,
        )
        msg += list(diff)[:40]
    pytest.fail("\n".join(msg))


def broker_answers(home: Path) -> Counter[str]:
    """client order id -> how many answers the paper venue recorded for it, over all cycles.
    Every line must be a whole answer."""
    seen: Counter[str] = Counter()
    for path in sorted((home / "broker" / "paper").glob("*.jsonl")):
        for n, line in enumerate(path.read_bytes().splitlines(), 1):
            try:
                seen[json.loads(line)["client_order_id"]] += 1
            except (ValueError, KeyError) as e:
                pytest.fail(f"{path.relative_to(home)}:{n} is not a whole broker answer ({e}): {line[:120]!r}")
    return seen


def assert_no_duplicate_answers(home: Path) -> None:
    dup = {k: n for k, n in broker_answers(home).items() if n > 1}
    assert not dup, f"client order ids answered (filled) more than once by the paper broker: {dup}"


def assert_healthy(home: Path, *, inprocess: bool = True) -> None:
    """Nothing left half done; verify and replay --all pass; no order answered twice."""
    for left in (".vanta/journal.json", ".vanta/inflight.json", ".vanta/staging"):
        assert not (home / left).exists(), f"{left} is still there after a successful cycle"
    for cmd in (("verify",), ("replay", "--all")):
        if inprocess:
            code, out = cli_inprocess(*cmd, "--home", home)
        else:
            p = vanta(*cmd, "--home", home)
            code, out = p.returncode, p.stdout + p.stderr
        assert code == 0, f"vanta {' '.join(cmd)} exited {code}:\n{out[-3000:]}"
    assert_no_duplicate_answers(home)


def phase_of(home: Path) -> str:
    if (home / ".vanta" / "journal.json").exists():
        return "journal"
    if (home / ".vanta" / "inflight.json").exists():
        return "inflight"
    return "none"


# ------------------------------------------------------------------ reference homes


class Reference:
    """A home that runs cycles 1..5 at asof(1..5) without interruption; `states[n]` is its
    memory/, broker/ and replays/ after cycle n; `base3` a pristine copy after cycle 3."""

    CYCLES = 5

    def __init__(self, root: Path, kill_switch: bool) -> None:
        self.root = root
        home = root / "ref"
        p = vanta("init", home)
        assert p.returncode == 0, p.stderr
        if kill_switch:
            # a home whose cycles send no order: no in-flight record is ever written
            from vanta import canonical

            ov_path = home / "memory" / "vault_overlay.json"
            ov = canonical.loads(ov_path.read_bytes(), "vault_overlay.json")
            ov["global_kill_switch"] = True
            ov_path.write_bytes(canonical.dumps(ov))
        self.states: dict[int, dict[str, bytes]] = {0: state(home)}
        self.outs: dict[int, dict] = {}
        for n in range(1, self.CYCLES + 1):
            self.outs[n] = cycle_json(home, asof(n))
            assert self.outs[n]["cycle"] == n
            self.states[n] = state(home)
            if n == 3:
                shutil.copytree(home, root / "base3")
        self.base3 = root / "base3"
        self.home = home

    def memory(self, n: int) -> dict[str, bytes]:
        return {k: v for k, v in self.states[n].items() if k.startswith("memory/")}

    @cached_property
    def cycle4_late(self) -> dict[str, bytes]:
        """The state after cycles 1..3 at asof(1..3) and cycle 4 run at asof(5): what a
        cycle interrupted before anything durable happened becomes."""
        home = self.root / "late4"
        shutil.copytree(self.base3, home)
        out = cycle_json(home, asof(5))
        assert (out["cycle"], out["asof"]) == (4, asof(5))
        return state(home)

    def commit_visits(self, point: str) -> int:
        """How often cycle 4's commit passes `point`: once per file it replaces (memory
        files that change, plus the replay manifest)."""
        assert point in MULTI_VISIT
        changed = [k for k in self.memory(4) if not k.endswith(".jsonl") and self.states[4][k] != self.states[3][k]]
        return len(changed) + 1

    def fresh(self, dest: Path) -> Path:
        shutil.copytree(self.base3, dest)
        return dest


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The example home (cycles send orders)."""
    r = Reference(tmp_path_factory.mktemp("ref_orders"), kill_switch=False)
    assert r.outs[4]["orders"] > 0, "cycle 4 of the example home must send orders for these tests"
    return r


@pytest.fixture(scope="module")
def ref_idle(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The example home with the global kill switch on (cycles send no order)."""
    r = Reference(tmp_path_factory.mktemp("ref_idle"), kill_switch=True)
    assert all(o["orders"] == 0 for o in r.outs.values())
    return r


# ------------------------------------------------------------------ crash at each point


def _resolve(ref: Reference, case: str) -> str:
    name, _, k = case.partition(":")
    return f"{name}:{ref.commit_visits(name)}" if k == "last" else case


def _effective_memory_after_recovery(home: Path, scratch: Path) -> dict[str, bytes]:
    """memory/ as vanta sees it: roll the journal forward on a copy of the home."""
    from vanta.home import Home
    from vanta.journal import recover

    shutil.copytree(home, scratch)
    recover(Home(scratch))
    return tree(scratch, "memory")


def check_crash_and_recovery(
    ref: Reference, home: Path, point: str, expected_phase: str | None, tmp_path: Path
) -> None:
    old_mem, new_mem = ref.memory(3), ref.memory(4)

    p = vanta("cycle", "--home", home, "--asof", asof(4), crash=point)
    if p.returncode == 0 and point.partition(":")[0] not in PRE_JOURNAL | JOURNALED:
        pytest.skip(f"new crash point {point} is not reached by this cycle")
    assert p.returncode == KILLED, (
        f"VANTA_CRASH_AT={point}: expected death by SIGKILL, got exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    )

    # --- what the crash left
    phase = phase_of(home)
    if expected_phase is not None:
        assert phase == expected_phase, f"after a crash at {point}: phase {phase}, expected {expected_phase}"
    mem = tree(home, "memory")
    if phase == "journal":
        # Committed: each file on disk is its old or its new version (renames are one by one),
        # and rolling the journal forward gives exactly the new state.
        assert set(mem) == set(old_mem), sorted(set(mem) ^ set(old_mem))
        mixed = [k for k in mem if mem[k] not in (old_mem[k], new_mem[k])]
        assert not mixed, f"crash at {point} left files that are neither old nor new: {mixed}"
        assert_same(
            _effective_memory_after_recovery(home, tmp_path / "scratch"),
            new_mem,
            f"memory/ after rolling forward the journal left by a crash at {point}",
        )
    else:
        assert_same(mem, old_mem, f"memory/ after a crash at {point} (no journal: must be the old state)")
        assert not (home / "replays" / "cycles" / "000004.json").exists()

    # --- recovery: the next invocation, with a later asof
    out = cycle_json(home, asof(5))
    if phase == "inflight":
        # finishes cycle 4 itself, with cycle 4's asof, and nothing else
        assert (out["cycle"], out["asof"], out["recovered"], out["resumed"]) == (4, asof(4), True, True), out
        assert_same(state(home), ref.states[4], f"home after finishing the cycle interrupted at {point}")
        out = cycle_json(home, asof(5))
        assert (out["cycle"], out["asof"], out["recovered"]) == (5, asof(5), False), out
        assert_same(state(home), ref.states[5], f"home after cycle 5 (crash at {point})")
    elif phase == "journal":
        # rolls cycle 4 forward, then runs cycle 5
        assert (out["cycle"], out["asof"], out["recovered"], out["resumed"]) == (5, asof(5), True, False), out
        assert_same(state(home), ref.states[5], f"home after recovery from a crash at {point}")
    else:
        # nothing durable happened: cycle 4 runs again, at the new asof
        assert (out["cycle"], out["asof"], out["recovered"]) == (4, asof(5), False), out
        got = state(home)
        want = ref.cycle4_late
        # replay objects of the abandoned attempt may remain (content-addressed, unreferenced)
        assert_same(
            {k: v for k, v in got.items() if not k.startswith("replays/objects/")},
            {k: v for k, v in want.items() if not k.startswith("replays/objects/")},
            f"home after re-running the cycle interrupted at {point}",
        )
        assert set(got) >= set(want)
    assert_healthy(home)


@pytest.mark.parametrize("case", _cases(POINTS, skip=set()))
def test_crash_point_with_orders(ref: Reference, tmp_path: Path, case: str) -> None:
    """Example home, crash in cycle 4 (which sends orders) at `case`, then recover."""
    point = _resolve(ref, case)
    name = point.partition(":")[0]
    expected = "journal" if name in JOURNALED else "inflight" if name in PRE_JOURNAL else None
    check_crash_and_recovery(ref, ref.fresh(tmp_path / "home"), point, expected, tmp_path)


# Without orders only the points before the journal behave differently (no in-flight record:
# the cycle is re-run at the new asof); after_journal stands for the journaled ones, which
# behave as with orders.
@pytest.mark.parametrize("case", _cases(POINTS, skip=ORDERS_ONLY | (JOURNALED - {"after_journal"}), later=(":last",)))
def test_crash_point_without_orders(ref_idle: Reference, tmp_path: Path, case: str) -> None:
    """Kill-switched home (no order, so no in-flight record), crash in cycle 4 at `case`."""
    point = _resolve(ref_idle, case)
    name = point.partition(":")[0]
    expected = "journal" if name in JOURNALED else "none" if name in PRE_JOURNAL else None
    check_crash_and_recovery(ref_idle, ref_idle.fresh(tmp_path / "home"), point, expected, tmp_path)


@pytest.mark.parametrize(
    "first, second",
    [
        ("broker_half_written", "broker_half_written"),
        ("inflight_written", "before_commit"),
        ("staged_file:2", "after_journal"),
        ("after_journal", "appended"),
        ("renamed_file:2", "renamed_file"),
    ],
)
def test_crash_during_recovery(ref: Reference, tmp_path: Path, first: str, second: str) -> None:
    """A second crash while recovering from the first still ends in the reference state."""
    home = ref.fresh(tmp_path / "home")
    p = vanta("cycle", "--home", home, "--asof", asof(4), crash=first)
    assert p.returncode == KILLED, (first, p.returncode, p.stderr)
    p = vanta("cycle", "--home", home, "--asof", asof(5), crash=second)
    assert p.returncode == KILLED, (second, p.returncode, p.stderr)
    mem, old, new = tree(home, "memory"), ref.memory(3), ref.memory(4)
    if phase_of(home) == "journal":
        assert set(mem) == set(old) and all(mem[k] in (old[k], new[k]) for k in mem)
    else:
        assert mem in (old, new), f"memory/ after crashes at {first} then {second} is neither old nor new"
    reports = []
    for _ in range(3):  # finish what was interrupted, then cycle 5
        reports.append(cycle_json(home, asof(5)))
        if reports[-1]["cycle"] == 5:
            break
    assert [(r["cycle"], r["asof"]) for r in reports][-1] == (5, asof(5)), reports
    assert all(r["asof"] == asof(r["cycle"]) for r in reports), reports
    assert_same(state(home), ref.states[5], f"home after crashes at {first} then {second} and recovery")
    assert_healthy(home)


def test_torn_broker_tail_is_not_glued_to_new_answers(ref: Reference, tmp_path: Path) -> None:
    """paper.py says a torn last line (a crash mid-write) was never acknowledged and is
    ignored. After recovery every answer of the cycle must still be on record, once."""
    from vanta.brokers.paper import PaperBroker

    home = ref.fresh(tmp_path / "home")
    p = vanta("cycle", "--home", home, "--asof", asof(4), crash="broker_half_written")
    assert p.returncode == KILLED, p.stderr
    book = home / "broker" / "paper" / "000004.jsonl"
    data = book.read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") >= 1
    book.write_bytes(data[:-25])  # the last line torn, as by a crash or power loss mid-write

    out = cycle_json(home, asof(5))
    assert (out["cycle"], out["recovered"]) == (4, True)
    assert_same(tree(home, "memory"), ref.memory(4), "memory/ after recovery")
    want = set(PaperBroker(ref.home).known(4))
    got = set(PaperBroker(home).known(4))
    assert got == want, f"the paper venue forgot answering {sorted(want - got)}"
    lines = book.read_bytes().splitlines()
    bad = [
        n
        for n, line in enumerate(lines[:-1], 1)
        if not line.startswith(b"{") or not line.endswith(b"}") or line.count(b'"client_order_id"') != 1
    ]
    assert not bad, f"{book.name}: lines {bad} are not whole answers"


def _status(home: Path) -> tuple[int, dict | str]:
    code, out = cli_inprocess("status", "--json", "--home", home)
    if code != 0:
        return code, out
    data = json.loads(out)
    data.pop("home")
    return code, data


def _materialize(files: dict[str, bytes], root: Path) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_status_after_crash_mid_rename_is_old_or_new_state(ref: Reference, tmp_path: Path) -> None:
    """DESIGN.md: a crash leaves the old state or the new one, never a mix. Between two
    renames the files on disk are mixed; readers must not present that as a state."""
    home = ref.fresh(tmp_path / "home")
    p = vanta("cycle", "--home", home, "--asof", asof(4), crash="renamed_file:2")
    assert p.returncode == KILLED, p.stderr
    mem, old, new = tree(home, "memory"), ref.memory(3), ref.memory(4)
    assert mem not in (old, new), "precondition: the files on disk are a mix of cycles 3 and 4"

    code, got = _status(home)
    if code != 0:
        assert isinstance(got, str) and got.startswith("Error:"), got
        return
    states = {n: _status(_materialize(ref.states[n], tmp_path / f"state{n}"))[1] for n in (3, 4)}
    assert got in (states[3], states[4]), (
        f"`vanta status` shows a state that never existed: cycle {got['cycle']} portfolio with "
        f"vault PnL {[v['pnl'] for v in got['vaults']]}"
    )


def test_replay_after_a_crash_mid_rename_finishes_the_commit_first(ref: Reference, tmp_path: Path) -> None:
    """Killed after cycle 4's manifest was renamed into place but before its log lines were
    appended: `vanta replay` must not read that half state (it reported the trade log as
    damaged and exited 7); like verify and status it finishes the commit, then replays."""
    home = ref.fresh(tmp_path / "home")
    point = _resolve(ref, "renamed_file:last")
    p = vanta("cycle", "--home", home, "--asof", asof(4), crash=point)
    assert p.returncode == KILLED, p.stderr
    assert (home / "replays" / "cycles" / "000004.json").exists() and phase_of(home) == "journal"
    p = vanta("replay", "latest", "--home", home)
    assert (p.returncode, p.stdout, p.stderr) == (0, "cycle 4: identical\n", "")
    assert phase_of(home) == "none"
    assert_same(state(home), ref.states[4], "home after the replay finished the interrupted commit")


def test_a_cycle_finished_after_a_crash_prices_as_it_sized_though_the_feed_changed(tmp_path: Path) -> None:
    """A csv feed is a file in the home but outside memory/ (the in-flight record's inputs).
    Killed after the broker answered, then the feed's bar for that cycle corrected: the
    finishing run priced the cycle at the new bar and sized other orders: orders the paper
    venue had filled were left out of the books (in one run, 26 answers on record and 20
    booked). It must finish the cycle exactly as sized: the state of an uninterrupted run."""
    from importlib import resources

    from vanta import canonical

    base = tmp_path / "base"
    assert vanta("init", base).returncode == 0
    (base / "feed").mkdir()
    feed = resources.files("vanta.data").joinpath("bars.csv").read_text("utf-8")
    (base / "feed" / "bars.csv").write_text(feed)
    vault = canonical.loads((base / "memory" / "vault.json").read_bytes(), "vault.json")
    vault["market_data"] = {"source": "csv", "path": "feed/bars.csv", "start_bar": vault["market_data"]["start_bar"]}
    (base / "memory" / "vault.json").write_bytes(canonical.dumps(vault))
    for n in (1, 2, 3):
        cycle_json(base, asof(n))
    ref_home, home = tmp_path / "ref", tmp_path / "home"
    shutil.copytree(base, ref_home)
    shutil.copytree(base, home)
    cycle_json(ref_home, asof(4))

    p = vanta("cycle", "--home", home, "--asof", asof(4), crash="broker_answered")
    assert p.returncode == KILLED and phase_of(home) == "inflight", p.stderr
    bar = sorted({line.split(",")[0] for line in feed.splitlines()[1:]})[vault["market_data"]["start_bar"] + 3]
    fixed = "".join(f"{line.rsplit(',', 1)[0]},{float(line.rsplit(',', 1)[1]) * 3:.2f}\n" if line.startswith(bar)
                    else line + "\n" for line in feed.splitlines())
    (home / "feed" / "bars.csv").write_text(fixed)
    out = cycle_json(home, asof(5))
    assert (out["cycle"], out["recovered"]) == (4, True), out
    assert_same(state(home), state(ref_home), "home after finishing cycle 4 over a corrected feed")
    assert_healthy(home)


@pytest.mark.parametrize("point", ["before_journal", "after_journal", "before_journal_removed"])
@pytest.mark.parametrize("kind", ["deposit", "withdraw"])
def test_a_pool_request_run_again_after_a_crash_is_recorded_once(tmp_path: Path, kind: str, point: str) -> None:
    """`vanta deposit` killed: the operator cannot tell whether it landed and runs it again,
    with the same --asof. It was recorded a second time (request ...-2), and the rollover
    then minted the deposit twice: money that never arrived. The same request at the same
    asof, still pending, is now 'unchanged', as the same onboarding packet is."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_pool import at, book, pool_home, when

    sc = pool_home(tmp_path, ["100"] * 5)
    at(sc, 0)
    home = str(tmp_path)
    if kind == "withdraw":
        assert vanta("deposit", "P", "B", "100.00", "--home", home, "--asof", when(0)).returncode == 0
        at(sc, 3)  # the rollover mints B's shares
        shares = book(sc)["contributors"]["B"]["shares"]
    cmd = (("deposit", "P", "B", "100.00") if kind == "deposit" else ("withdraw", "P", "B", "--all")) + (
        "--home", home, "--asof", when(4))
    assert vanta(*cmd, crash=point).returncode == KILLED
    p = vanta(*cmd)
    assert p.returncode == 0, p.stderr
    landed = point != "before_journal"
    assert ("unchanged" in p.stdout) == landed, p.stdout
    queue = json.loads((tmp_path / "memory" / "autotrade_queue.json").read_bytes())
    assert [r["request_id"] for r in queue["requests"]] == [f"{when(4)}-{kind}-B"], queue["requests"]
    at(sc, 6)  # the next rollover processes it, once
    b = book(sc)["contributors"]
    if kind == "deposit":
        assert b["B"]["cost_basis"] == "100.00", b
    else:
        assert b.get("B", {}).get("shares", "0") == "0" and b["B"]["paid_out"] != "0.00", (shares, b)
    assert vanta("verify", "--home", home).returncode == 0


@pytest.mark.parametrize("cycle", [2, 3])
@pytest.mark.parametrize("torn", ["object", "manifest"])
def test_verify_names_a_torn_bundle_and_nothing_else(ref: Reference, tmp_path: Path, torn: str, cycle: int) -> None:
    """A torn file in a cycle's bundle (disk damage, a copy cut short) is that bundle's
    problem. verify skipped the bundle, then compared memory/ (or the next bundle's log
    span and head) with the cycle before it: every file the last cycle changed was
    reported as 'edited outside vanta?', sending the operator after files that are fine."""
    home = ref.fresh(tmp_path / "home")
    manifest = home / "replays" / "cycles" / f"{cycle:06d}.json"
    sha = json.loads(manifest.read_bytes())["outputs"]["memory/portfolio.json"]
    path = manifest if torn == "manifest" else home / "replays" / "objects" / sha[:2] / sha[2:]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    code, out = cli_inprocess("verify", "--home", home)
    assert code == 6, out
    fails = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert f"FAIL replays/cycles/{cycle:06d}.json: " in out, out
    # only the torn file, in each bundle that holds it (an output of one cycle is the next one's input)
    named = f"FAIL replays/cycles/{cycle:06d}.json: " if torn == "manifest" else sha[2:]
    assert all(line.startswith("FAIL replays/cycles/") and named in line for line in fails), out


# ------------------------------------------------------------------ random SIGKILL


def test_random_sigkill_over_many_cycles(tmp_path: Path) -> None:
    """SIGKILL `vanta cycle` at seeded random instants over ~10 successive cycles, then run
    to completion: the home verifies, replays, answered no order twice, and every committed
    cycle is byte-identical to an uninterrupted run with the same asofs."""
    init = ("init", "--followers", "300", "--symbols", "8", "--seed", "7")
    home = tmp_path / "syn"
    assert vanta(init[0], home, *init[1:]).returncode == 0
    clock = iter(f"2026-12-{d:02d}T00:00:00Z" for d in range(1, 32))

    t0 = time.monotonic()
    cycle_json(home, next(clock))
    duration = time.monotonic() - t0
    # Interpreter and import start-up (a usage error exits right after the imports): a kill
    # before it ends tests nothing, so delays are drawn over the rest of the cycle's run.
    t0 = time.monotonic()
    assert vanta("cycle", "--home", home, "--asof", "not-an-instant").returncode == 2
    startup = min(time.monotonic() - t0, duration * 0.8)

    rng = random.Random(20261101)
    outcomes = []
    for i in range(10):
        when = next(clock)
        delay = rng.uniform(startup, duration)
        with open(tmp_path / "stderr.txt", "w+") as err:
            proc = subprocess.Popen(
                [*VANTA_CMD, "cycle", "--home", str(home), "--asof", when],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=_env(),
            )
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
            rc = proc.wait()
            err.seek(0)
            assert rc in (0, KILLED), f"cycle at {when} exited {rc}: {err.read()}"
        outcomes.append((round(delay, 3), rc, phase_of(home)))
        if i % 2:
            # Every other kill is followed by a run left alone, so the kills land on successive
            # cycles (the ones in between land on recoveries of the previous kill).
            cycle_json(home, next(clock))
    assert any(rc == KILLED for _, rc, _ in outcomes), f"no run was interrupted: {outcomes}"

    for _ in range(3):  # an interrupted cycle is finished by one run; then home is clean
        cycle_json(home, next(clock))
        if phase_of(home) == "none":
            break
    assert_healthy(home, inprocess=False)

    # the reference: the same cycles, with the asofs they were committed with, uninterrupted
    manifests = tree(home, "replays/cycles")
    n = len(manifests)
    assert sorted(manifests) == [f"replays/cycles/{i:06d}.json" for i in range(1, n + 1)], sorted(manifests)
    asofs = [json.loads(manifests[f"replays/cycles/{i:06d}.json"])["asof"] for i in range(1, n + 1)]
    assert asofs == sorted(asofs)
    from vanta import bundle
    from vanta import init as init_mod
    from vanta.cycle import run_cycle
    from vanta.home import Home

    reference = tmp_path / "ref"  # run in this process: same code, no interpreter start-up per cycle
    init_mod.write_home(reference, init_mod.synthetic_files(300, 8, 7), False)
    for i, when in enumerate(asofs, 1):
        assert run_cycle(Home(reference), when).cycle == i

    want_manifests = tree(reference, "replays/cycles")
    for i in range(1, n + 1):
        key = f"replays/cycles/{i:06d}.json"
        got_port = bundle.get(Home(home), json.loads(manifests[key])["outputs"]["memory/portfolio.json"])
        want_port = bundle.get(Home(reference), json.loads(want_manifests[key])["outputs"]["memory/portfolio.json"])
        assert got_port == want_port, f"cycle {i}: portfolio.json differs from the reference run ({outcomes})"
        assert manifests[key] == want_manifests[key], f"cycle {i}: bundle differs from the reference run"
    assert_same(tree(home, "memory"), tree(reference, "memory"), f"memory/ after random kills {outcomes}")
    assert broker_answers(home) == broker_answers(reference)


# ------------------------------------------------------------------ concurrency


def test_locked_home_exits_4_at_once_and_changes_nothing(ref: Reference, tmp_path: Path) -> None:
    home = ref.fresh(tmp_path / "home")
    before = state(home)
    vstate = sorted(p.name for p in (home / ".vanta").iterdir())
    lock = FileLock(str(home / ".vanta" / "lock"))
    with lock.acquire(timeout=5):
        t0 = time.monotonic()
        p = vanta("cycle", "--home", home, "--asof", asof(4), timeout=30)
        elapsed = time.monotonic() - t0
    assert p.returncode == 4, (p.returncode, p.stdout, p.stderr)
    assert elapsed < 5, f"a locked home must be refused at once, took {elapsed:.1f} s"
    assert p.stderr.startswith("Error:"), p.stderr
    assert p.stdout == ""
    assert_same(state(home), before, "home after a refused cycle")
    assert sorted(p.name for p in (home / ".vanta").iterdir()) == vstate
    # the lock was only borrowed: once released, the cycle runs
    assert cycle_json(home, asof(4))["cycle"] == 4
    assert_same(state(home), ref.states[4], "home after cycle 4")


def test_a_stale_in_flight_record_is_named_as_such(ref: Reference, tmp_path: Path) -> None:
    """An in-flight record of a cycle memory/ has committed since (.vanta/ restored from a
    copy) was refused as 'memory/ has changed since; restore memory/ to its state at that
    time (git checkout memory/)': advice that throws committed cycles away. The record is
    what is stale, and the message says so."""
    crashed = ref.fresh(tmp_path / "crashed")
    p = vanta("cycle", "--home", crashed, "--asof", asof(4), crash="broker_answered")
    assert p.returncode == KILLED, p.stderr
    home = tmp_path / "home"
    shutil.copytree(ref.home, home)  # cycles 1..5 committed
    shutil.copy(crashed / ".vanta" / "inflight.json", home / ".vanta" / "inflight.json")
    before = state(home)
    p = vanta("cycle", "--home", home, "--asof", "2026-11-30T00:00:00Z")
    assert p.returncode == 7, p.stderr
    assert "is the record of cycle 4, which memory/ has committed since (it is at cycle 5)" in p.stderr, p.stderr
    assert "git checkout" not in p.stderr and "delete that file" in p.stderr
    assert_same(state(home), before, "home after a stale in-flight record was refused")


def test_replay_and_verify_wait_for_no_commit_they_are_refused_while_one_runs(ref: Reference, tmp_path: Path) -> None:
    """A running cycle holds the lock: the readers never see its commit half done; they exit 4
    at once, as a second cycle does."""
    home = ref.fresh(tmp_path / "home")
    with FileLock(str(home / ".vanta" / "lock")).acquire(timeout=5):
        for cmd in (("replay", "latest"), ("verify",)):
            p = vanta(*cmd, "--home", home, timeout=30)
            assert p.returncode == 4 and p.stdout == "" and p.stderr.startswith("Error:"), (cmd, p)
    p = vanta("replay", "latest", "--home", home)
    assert (p.returncode, p.stdout) == (0, "cycle 3: identical\n"), p
