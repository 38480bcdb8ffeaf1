"""Determinism: the same inputs give the same bytes in any process, and the pure core
holds no clock, randomness, environment or set-order dependence (checked on the AST).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "vanta"
_SCRIPT = Path(sys.executable).with_name("vanta")
VANTA_CMD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "vanta"]
ASOFS = [f"2026-11-{d:02d}T00:00:00Z" for d in (1, 2, 3, 4)]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VANTA_CRASH_AT", "VANTA_HOME", "PYTHONHASHSEED", "TZ", "LC_ALL", "LANG")
    }
    env.update(extra)
    return env


def tree(root: Path, sub: str) -> dict[str, bytes]:
    base = root / sub
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ same bytes, any process

# Two processes that differ in everything a stage must not depend on: hash seed (set and
# dict-of-str order), time zone, locale, working directory, and how the home is named.
SIDES = {
    "a": {"PYTHONHASHSEED": "0", "TZ": "UTC", "LC_ALL": "C", "LANG": "C"},
    "b": {"PYTHONHASHSEED": "12345", "TZ": "Asia/Tokyo", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
}


def _cmd(side: str, home: Path, *args: str) -> tuple[list[str], dict[str, str], Path]:
    """Side a names the home with --home from elsewhere; side b with VANTA_HOME from inside it."""
    if side == "a":
        return [*VANTA_CMD, *args, "--home", str(home)], _env(**SIDES["a"]), home.parent
    return [*VANTA_CMD, *args], _env(**SIDES["b"], VANTA_HOME="."), home


def _run_both(homes: dict[str, Path], *args: str) -> dict[str, dict]:
    """Run `vanta ARGS --json` in both homes at the same time; returns the parsed JSON."""
    procs = {}
    for side, home in homes.items():
        cmd, env, cwd = _cmd(side, home, *args, "--json")
        procs[side] = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = {}
    for side, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, f"side {side}: vanta {' '.join(args)} exited {p.returncode}\n{stderr.decode()}"
        out[side] = json.loads(stdout)
    return out


@pytest.mark.parametrize(
    "init_args", [(), ("--followers", "40", "--symbols", "6", "--seed", "3")], ids=["example", "synthetic"]
)
def test_same_bytes_in_different_processes(tmp_path: Path, init_args: tuple[str, ...]) -> None:
    homes = {side: tmp_path / side / "home" for side in SIDES}
    for side, home in homes.items():
        home.parent.mkdir()
        env = _env(**SIDES[side])
        p = subprocess.run([*VANTA_CMD, "init", str(home), *init_args], env=env, capture_output=True, check=False)
        assert p.returncode == 0, p.stderr

    for n, when in enumerate(ASOFS, 1):
        outs = _run_both(homes, "cycle", "--asof", when)
        for side, out in outs.items():
            # the cycle's number and instant are reported, whatever the process
            assert (out["cycle"], out["asof"], out["recovered"]) == (n, when, False), (side, out)
        a, b = ({k: v for k, v in outs[s].items() if k != "timings"} for s in SIDES)
        assert a == b, f"cycle {n}: --json reports differ between processes (timings aside)"

    for sub in ("memory", "replays", "broker"):
        a, b = tree(homes["a"], sub), tree(homes["b"], sub)
        assert sorted(a) == sorted(b), f"{sub}/: file lists differ: {sorted(set(a) ^ set(b))}"
        differ = sorted(k for k in a if a[k] != b[k])
        assert not differ, f"{sub}/: these files differ between the two processes: {differ}"
    assert len(tree(homes["a"], "replays/cycles")) == len(ASOFS)


def test_cycle_json_reports_the_cycle_it_ran(tmp_path: Path) -> None:
    """`cycle` in --json is the number of the cycle committed: the bundle and portfolio.json
    carry the same number."""
    home = tmp_path / "home"
    assert subprocess.run([*VANTA_CMD, "init", str(home)], env=_env(), capture_output=True).returncode == 0
    for n, when in enumerate(ASOFS[:3], 1):
        p = subprocess.run(
            [*VANTA_CMD, "cycle", "--home", str(home), "--asof", when, "--json"],
            env=_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert isinstance(out["cycle"], int) and out["cycle"] == n, out
        assert out["asof"] == when
        portfolio = json.loads((home / "memory" / "portfolio.json").read_text())
        assert (portfolio["cycle"], portfolio["asof"]) == (n, when)
        manifest = json.loads((home / "replays" / "cycles" / f"{n:06d}.json").read_text())
        assert (manifest["cycle"], manifest["asof"]) == (n, when)
    # a repeated asof is refused and changes nothing
    p = subprocess.run(
        [*VANTA_CMD, "cycle", "--home", str(home), "--asof", ASOFS[2], "--json"],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 7 and p.stderr.startswith("Error:"), (p.returncode, p.stderr)
    assert json.loads((home / "memory" / "portfolio.json").read_text())["cycle"] == 3


# ------------------------------------------------------------------ static scan of the pure core

PURE_MODULES = sorted(
    [
        *(PKG / "stages").glob("*.py"),
        *(PKG / name for name in ("books.py", "ids.py", "money.py", "canonical.py", "context.py")),
    ]
)

FORBIDDEN_MODULES = {"random", "uuid", "secrets"}
"""Importing these at all is refused."""
FORBIDDEN_NAMES = {
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
    "time.time",
    "time.time_ns",
    "time.monotonic",
    "time.monotonic_ns",
    "time.perf_counter",
    "time.perf_counter_ns",
    "time.localtime",
    "time.gmtime",
    "time.ctime",
    "os.urandom",
    "os.environ",
    "os.environb",
    "os.getenv",
    "os.getenvb",
}
SET_METHODS = {"union", "intersection", "difference", "symmetric_difference", "copy"}
ITERATING_CALLS = {"list", "tuple", "enumerate", "iter", "next", "zip", "map", "filter", "reversed"}


class Scanner(ast.NodeVisitor):
    """Find wall-clock, randomness, environment and set-order dependence in one module."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.alias: dict[str, str] = {}  # local name -> dotted origin
        self.set_names: set[str] = set()  # names bound to a set somewhere in the module
        self.found: list[str] = []

    def report(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.where}:{getattr(node, 'lineno', '?')}: {what}")

    # -- names
    def dotted(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.alias.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def _forbidden(self, name: str) -> bool:
        return (
            name in FORBIDDEN_NAMES
            or name.split(".")[0] in FORBIDDEN_MODULES
            or any(name.startswith(f + ".") for f in FORBIDDEN_NAMES)
        )

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name.split(".")[0] in FORBIDDEN_MODULES:
                self.report(node, f"import {a.name}")
            self.alias[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        mod = node.module or ""
        if mod.split(".")[0] in FORBIDDEN_MODULES:
            self.report(node, f"from {mod} import ...")
        for a in node.names:
            full = f"{mod}.{a.name}"
            if full in FORBIDDEN_NAMES:
                self.report(node, f"from {mod} import {a.name}")
            self.alias[a.asname or a.name] = full

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.dotted(node)
        if name is not None and self._forbidden(name) and not self._forbidden(name.rsplit(".", 1)[0]):
            self.report(node, name)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        origin = self.alias.get(node.id)
        if origin is not None and origin in FORBIDDEN_NAMES and isinstance(node.ctx, ast.Load):
            self.report(node, f"{node.id} ({origin})")

    # -- sets
    def is_set(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Set | ast.SetComp):
            return True
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in ("set", "frozenset"):
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr in SET_METHODS:
                return self.is_set(node.func.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.BitAnd | ast.Sub | ast.BitXor):
            return self.is_set(node.left) or self.is_set(node.right)
        if isinstance(node, ast.Name):
            return node.id in self.set_names
        return False

    def check_iter(self, node: ast.AST, how: str) -> None:
        if self.is_set(node):
            self.report(node, f"{how} over a set ({ast.unparse(node)}): its order is the hash order")

    def visit_For(self, node: ast.For) -> None:
        self.check_iter(node.iter, "for loop")
        self.generic_visit(node)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.check_iter(node.iter, "comprehension")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Name) and f.id in ITERATING_CALLS:
            for arg in node.args:
                self.check_iter(arg, f"{f.id}()")
        if isinstance(f, ast.Attribute) and f.attr == "join" and node.args:
            self.check_iter(node.args[0], "str.join()")
        self.generic_visit(node)

    def visit_Starred(self, node: ast.Starred) -> None:
        self.check_iter(node.value, "unpacking")
        self.generic_visit(node)


def scan(source: str, where: str) -> list[str]:
    tree = ast.parse(source, where)
    s = Scanner(where)
    # first pass: names bound to sets anywhere in the module (a simple, conservative guess)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and s.is_set(node.value):
            s.set_names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            ann = ast.unparse(node.annotation)
            if ann.startswith(("set[", "frozenset[", "set", "frozenset")) or (node.value and s.is_set(node.value)):
                s.set_names.add(node.target.id)
    s.visit(tree)
    return s.found


def test_scanner_catches_each_forbidden_pattern() -> None:
    """The scan is not vacuous: every pattern it looks for is caught in a sample."""
    samples = {
        "from datetime import datetime\nx = datetime.now()": "datetime.datetime.now",
        "import datetime\nx = datetime.datetime.utcnow()": "datetime.datetime.utcnow",
        "from datetime import date\nx = date.today()": "datetime.date.today",
        "import time\nx = time.time()": "time.time",
        "import time as t\nx = t.time_ns()": "time.time_ns",
        "from time import monotonic\nx = monotonic()": "monotonic",
        "import time\nx = time.perf_counter()": "time.perf_counter",
        "import random": "import random",
        "from random import choice": "from random",
        "import uuid": "import uuid",
        "from uuid import uuid4": "from uuid",
        "import secrets": "import secrets",
        "import os\nx = os.urandom(8)": "os.urandom",
        "import os\nx = os.environ['X']": "os.environ",
        "import os\nx = os.environ.get('X')": "os.environ",
        "import os\nx = os.getenv('X')": "os.getenv",
        "from os import getenv": "from os import getenv",
        "for x in {1, 2}: pass": "for loop over a set",
        "for x in set(y): pass": "for loop over a set",
        "z = [x for x in set(a) | set(b)]": "comprehension over a set",
        "s = set(a)\nfor x in s: pass": "for loop over a set",
        "z = list(frozenset(a))": "list() over a set",
        "z = ','.join({'a', 'b'})": "str.join() over a set",
    }
    for src, expected in samples.items():
        found = scan(src, "sample.py")
        assert any(expected in f for f in found), f"not caught: {src!r} -> {found}"
    # and order-independent uses of sets are left alone
    clean = "import time\nx = sorted(set(a) | set(b))\nn = len({1, 2})\ny = 3 in {1, 2}\nz = time.strftime"
    assert scan(clean, "clean.py") == []


@pytest.mark.parametrize("path", PURE_MODULES, ids=[p.relative_to(PKG).as_posix() for p in PURE_MODULES])
def test_pure_core_has_no_clock_randomness_environment_or_set_order(path: Path) -> None:
    assert path.exists(), path
    found = scan(path.read_text("utf-8"), str(path.relative_to(ROOT)))
    assert not found, "non-deterministic code in the pure core:\n" + "\n".join(found)


def test_pure_module_list_is_not_empty() -> None:
    assert len([p for p in PURE_MODULES if p.parent.name == "stages"]) >= 10, PURE_MODULES


def test_a_hand_written_number_means_the_same_in_every_cycle(tmp_path: Path) -> None:
    """vault.json written by hand with JSON numbers (`"lot_size": 0.00010`): its first cycle
    read it strictly, the later ones (its bytes now recorded in the log) and replay through a
    double, so the quantities had 5 decimals in cycle 1 and 4 from cycle 2 on, and
    `vanta replay 1` failed."""
    from cli_support import invoke

    home = tmp_path / "home"
    assert invoke("init", str(home)).exit_code == 0
    vault = home / "memory" / "vault.json"
    data = json.loads(vault.read_text())
    for m in data["markets"].values():
        m["lot_size"] = "__0.00010__"
    vault.write_text(json.dumps(data, indent=2).replace('"__0.00010__"', "0.00010"))
    for when in ASOFS[:3]:
        r = invoke("cycle", "--home", str(home), "--asof", when)
        assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in (home / "memory" / "trade_log.jsonl").read_text().splitlines()]
    decimals = {(e["cycle"], len(e["data"]["qty"].partition(".")[2])) for e in lines if e["kind"] == "child_order"}
    assert {c for c, _ in decimals} == {1, 2, 3}
    assert {d for _, d in decimals} == {5}, sorted(decimals)
    r = invoke("replay", "--all", "--home", str(home))
    assert r.exit_code == 0, r.output
