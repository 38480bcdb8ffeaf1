"""The `vanta` command line: help, exit codes, messages, and what each command prints.

Success paths run in-process through typer's CliRunner (fast). Error paths run the
package as a subprocess, because vanta.cli.main() is what turns a VantaError into one
`Error: ...` line on stderr and its exit code (README: 0 ok, 1 internal, 2 usage,
3 bad input, 4 locked, 5 replay mismatch, 6 verify failed, 7 state).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from cli_support import home_files, invoke

from vanta import bundle, canonical
from vanta.cli import app
from vanta.home import Home

ASOF_1 = "2026-11-01T00:00:00Z"
ASOF_2 = "2026-11-02T00:00:00Z"
ASOF_3 = "2026-11-03T00:00:00Z"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("VANTA_HOME", "VANTA_CRASH_AT")}


def vanta(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point (vanta.cli.main) in a child process."""
    return subprocess.run([sys.executable, "-m", "vanta", *args], capture_output=True, text=True,
                          cwd=cwd, env=_env(), timeout=60)


def snapshot(root: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel in (".vanta", ".vanta/lock"):
            continue
        out[rel + ("/" if p.is_dir() else "")] = p.read_bytes() if p.is_file() else b""
    return out


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stdout + r.stderr, r.stderr


def error_line(r: subprocess.CompletedProcess[str]) -> str:
    """The one `Error: ...` line of a VantaError."""
    no_traceback(r)
    assert r.stderr.startswith("Error: "), f"stdout: {r.stdout!r}\nstderr: {r.stderr!r}"
    assert r.stderr.count("\n") == 1, r.stderr
    return r.stderr


# ---------------------------------------------------------------- homes


# ---------------------------------------------------------------- help


def _commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, cmd in sorted(group.commands.items()):
        yield prefix + name, cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + name + " ")


def test_every_command_has_an_example() -> None:
    root = typer.main.get_command(app)
    commands = dict(_commands(root))
    assert {"init", "cycle", "replay", "verify", "status"} <= set(commands)
    missing = [name for name, cmd in commands.items() if "Example:" not in (cmd.help or "")]
    assert not missing, f"commands without an `Example:` in their help: {missing}"
    for name in commands:
        r = invoke(*name.split(), "--help")
        assert r.exit_code == 0, r.output
        assert "Example:" in r.stdout, f"`vanta {name} --help` shows no example:\n{r.stdout}"


def test_root_help() -> None:
    r = invoke("--help")
    assert r.exit_code == 0
    for name in ("init", "cycle", "replay", "verify", "status"):
        assert name in r.stdout
    assert "3 bad input" in r.stdout  # the exit codes are documented where people look
    p = vanta("--help")
    assert p.returncode == 0 and "Usage:" in p.stdout
    no_traceback(p)


@pytest.mark.parametrize("argv", [["vanta", "--help"], ["vanta", "cycle", "--help"]], ids=["root", "cycle"])
def test_help_does_not_import_ccxt(argv: list[str]) -> None:
    code = f"import sys; sys.argv={argv!r}; from vanta.cli import main; main()"
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                       env=_env(), timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Usage:" in r.stdout
    modules = [line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")]
    assert "vanta.cli" in modules  # the parse worked
    heavy = [m for m in modules if m == "ccxt" or m.startswith("ccxt.")]
    assert not heavy, f"`{' '.join(argv)}` imports {heavy[:5]}"


# ---------------------------------------------------------------- usage errors (exit 2)


def test_replay_without_arguments_is_a_usage_error(home: Path) -> None:
    r = vanta("replay", "--home", str(home))
    assert r.returncode == 2, r.stderr
    no_traceback(r)
    assert "latest" in r.stderr and "--all" in r.stderr


def test_replay_without_arguments_outside_a_home_is_a_usage_error(tmp_path: Path) -> None:
    r = vanta("replay", cwd=tmp_path)
    assert r.returncode == 2, r.stderr


@pytest.mark.parametrize("asof", ["yesterday", "2026-11-01", "2026-11-01T00:00:00+00:00", "2026-13-01T00:00:00Z",
                                  "2026-02-29T00:00:00Z", "2026-11-01T24:00:00Z", "\uff12026-11-01T00:00:00Z"])
def test_cycle_with_a_bad_asof_is_a_usage_error(home: Path, asof: str) -> None:
    before = snapshot(home)
    r = vanta("cycle", "--home", str(home), "--asof", asof)
    assert r.returncode == 2, r.stderr
    no_traceback(r)
    assert "--asof" in r.stderr and asof in r.stderr and "2026-11-21T00:00:00Z" in r.stderr
    assert snapshot(home) == before


@pytest.mark.parametrize("command", [["plan"], ["offboard", "F_1042"], ["deposit", "V_CORE", "alice", "1"]])
def test_every_asof_is_checked_where_it_is_parsed(home: Path, command: list[str]) -> None:
    before = snapshot(home)
    r = vanta(*command, "--home", str(home), "--asof", "yesterday")
    assert r.returncode == 2, r.stderr
    no_traceback(r)
    assert "'yesterday' is not a UTC instant" in r.stderr
    assert snapshot(home) == before


# ---------------------------------------------------------------- not a home, existing home (exit 7)


@pytest.mark.parametrize("args", [
    ["cycle", "--asof", ASOF_1], ["status"], ["status", "--json"], ["verify"], ["replay", "latest"],
    ["replay", "--all"],
], ids=lambda a: "-".join(x for x in a if not x.startswith("2026")))
@pytest.mark.parametrize("how", ["--home", "cwd", "missing"])
def test_command_outside_a_home_says_how_to_make_one(tmp_path: Path, args: list[str], how: str) -> None:
    folder = tmp_path / "not_a_home"
    if how != "missing":
        folder.mkdir()
        (folder / "notes.txt").write_text("hello\n")
    if how == "cwd":
        r = vanta(*args, cwd=folder)
    else:
        r = vanta(*args, "--home", str(folder))
    assert r.returncode == 7, f"{r.returncode}: {r.stderr}"
    msg = error_line(r)
    assert str(folder.resolve()) in msg
    assert "vanta init" in msg
    assert r.stdout == ""
    if how == "missing":
        assert not folder.exists()
    else:
        assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_init_refuses_an_existing_home(home: Path) -> None:
    before = snapshot(home)
    r = vanta("init", str(home))
    assert r.returncode == 7, r.stderr
    msg = error_line(r)
    assert str(home) in msg and "--force" in msg
    assert snapshot(home) == before


def test_init_force_replaces_the_home(home: Path) -> None:
    r = invoke("init", str(home), "--force")
    assert r.exit_code == 0, r.output
    assert not (home / "replays" / "cycles").exists()
    assert json.loads((home / "memory" / "portfolio.json").read_text())["cycle"] == 0


@pytest.mark.parametrize("asof", [ASOF_2, ASOF_1], ids=["same", "earlier"])
def test_asof_not_after_the_last_cycle_is_refused(home: Path, asof: str) -> None:
    before = snapshot(home)
    r = vanta("cycle", "--home", str(home), "--asof", asof)
    assert r.returncode == 7, r.stderr
    msg = error_line(r)
    assert asof in msg and ASOF_2 in msg and "--asof" in msg
    assert snapshot(home) == before


# ---------------------------------------------------------------- what commands print


def test_status_json(template: Path) -> None:
    r = invoke("status", "--home", str(template), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {"vaults", "followers", "queue", "cycle"} <= set(data)
    assert data["cycle"] == 2
    assert [v["vault_id"] for v in data["vaults"]] == ["V_CORE", "V_FLASH", "V_QUIET"]
    # one row per follower sleeve: eight followers, two of them with two sleeves
    assert len(data["followers"]) == 10
    assert {(f["follower_id"], f["sleeve"]) for f in data["followers"]} >= {("F_2001", "quiet"), ("F_2001", "flash")}
    quiet = next(f for f in data["followers"] if f["sleeve"] == "quiet")
    assert quiet["pnl"]["allocated"] == "10000.00" and quiet["core"]["tradeable"] == "15000"
    assert isinstance(data["queue"], list)


def test_status_table(template: Path) -> None:
    r = invoke("status", "--home", str(template))
    assert r.exit_code == 0, r.output
    assert "V_CORE" in r.stdout and "F_1042" in r.stdout


def test_cycle_json_prints_one_object(home: Path) -> None:
    r = invoke("cycle", "--home", str(home), "--asof", ASOF_3, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)  # the whole of stdout is one JSON object
    assert isinstance(data, dict)
    assert data["cycle"] == 3
    assert isinstance(data["orders"], int) and isinstance(data["fills"], int)
    assert data["asof"] == ASOF_3


def test_cycle_text(tmp_path: Path) -> None:
    root = tmp_path / "h"
    assert invoke("init", str(root)).exit_code == 0
    r = invoke("cycle", "--home", str(root), "--asof", ASOF_1)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"cycle 1 at {ASOF_1}: ")


@pytest.mark.parametrize("args", [["replay", "latest"], ["replay", "--all"], ["replay", "1"], ["verify"]])
def test_good_home_replays_and_verifies(template: Path, args: list[str]) -> None:
    r = invoke(*args, "--home", str(template))
    assert r.exit_code == 0, r.output
    if args[0] == "replay":
        want = {"latest": ["cycle 2: identical"], "--all": ["cycle 1: identical", "cycle 2: identical"],
                "1": ["cycle 1: identical"]}[args[1]]
        assert r.stdout.splitlines() == want
    else:
        assert "verified" in r.stdout


def test_replay_json(template: Path) -> None:
    r = invoke("replay", "--all", "--json", "--home", str(template))
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["ok"] is True and [x["cycle"] for x in data["replayed"]] == [1, 2]


def test_replay_of_an_unknown_cycle(home: Path) -> None:
    r = vanta("replay", "9", "--home", str(home))
    assert r.returncode == 7, r.stderr
    msg = error_line(r)
    assert "9" in msg and "1..2" in msg


# ---------------------------------------------------------------- verify finds edits (exit 6)


def test_verify_names_an_edited_memory_file(home: Path) -> None:
    p = home / "memory" / "portfolio.json"
    text = p.read_text()
    m = re.search(r'"USD": "(\d)', text)
    assert m
    digit = m.group(1)
    new = text[: m.start(1)] + ("1" if digit != "1" else "2") + text[m.end(1):]
    assert sum(a != b for a, b in zip(text, new, strict=True)) == 1
    json.loads(new)  # still valid JSON
    p.write_text(new)
    r = vanta("verify", "--home", str(home))
    assert r.returncode == 6, r.stdout + r.stderr
    no_traceback(r)
    out = r.stdout + r.stderr
    assert "memory/portfolio.json" in out
    others = [f for f in ("vault.json", "mirror_registry.json", "pnl_summary.json") if f"memory/{f}" in out]
    assert not others, out


def test_verify_names_an_altered_log_line(home: Path) -> None:
    p = home / "memory" / "trade_log.jsonl"
    lines = p.read_text().splitlines(keepends=True)
    assert len(lines) > 5
    rec = json.loads(lines[2])
    rec["kind"] = rec["kind"] + "x"
    lines[2] = json.dumps(rec, separators=(",", ":"), sort_keys=True) + "\n"
    p.write_text("".join(lines))
    r = vanta("verify", "--home", str(home))
    assert r.returncode == 6, r.stdout + r.stderr
    no_traceback(r)
    out = r.stdout + r.stderr
    assert re.search(r"trade_log\.jsonl:line 3\b", out), out


def test_verify_names_a_truncated_log(home: Path) -> None:
    p = home / "memory" / "trade_log.jsonl"
    data = p.read_bytes()
    p.write_bytes(data[:-10])
    r = vanta("verify", "--home", str(home))
    assert r.returncode == 6, r.stdout + r.stderr
    no_traceback(r)
    assert "trade_log.jsonl" in r.stdout + r.stderr


# ---------------------------------------------------------------- replay finds differences


def _manifest(home: Path, n: int) -> tuple[Path, dict[str, Any]]:
    path = home / "replays" / "cycles" / f"{n:06d}.json"
    return path, json.loads(path.read_text())


def _damage_recorded_portfolio(home: Path) -> str:
    """Overwrite cycle 2's stored portfolio output with a different valid zlib blob."""
    _, man = _manifest(home, 2)
    sha = man["outputs"]["memory/portfolio.json"]
    obj = home / "replays" / "objects" / sha[:2] / sha[2:]
    good = zlib.decompress(obj.read_bytes())
    bad = good.replace(b"2026-11-02", b"2026-11-09", 1)
    assert bad != good
    obj.write_bytes(zlib.compress(bad))
    return sha


def test_replay_detects_a_damaged_output_object(home: Path) -> None:
    sha = _damage_recorded_portfolio(home)
    r = vanta("replay", "latest", "--home", str(home))
    assert r.returncode != 0, r.stdout
    no_traceback(r)
    assert sha[2:] in r.stdout + r.stderr  # names the object


def test_verify_detects_a_damaged_output_object(home: Path) -> None:
    sha = _damage_recorded_portfolio(home)
    v = vanta("verify", "--home", str(home))
    assert v.returncode == 6, v.stdout + v.stderr
    no_traceback(v)
    assert "replays/cycles/000002.json" in v.stdout and sha[2:] in v.stdout


def test_replay_detects_a_damaged_input_object(home: Path) -> None:
    _, man = _manifest(home, 2)
    sha = man["inputs"]["memory/portfolio.json"]
    obj = home / "replays" / "objects" / sha[:2] / sha[2:]
    obj.write_bytes(zlib.compress(zlib.decompress(obj.read_bytes()) + b" "))
    r = vanta("replay", "2", "--home", str(home))
    assert r.returncode != 0, r.stdout
    msg = error_line(r)
    assert sha[2:] in msg


def _flip_in_log_span(home: Path) -> tuple[Path, dict[str, Any], bytes, bytes]:
    """Change one digit inside cycle 2's trade-log lines. Returns (manifest path, manifest,
    the original line, the changed one)."""
    path, man = _manifest(home, 2)
    span = man["appends"]["memory/trade_log.jsonl"]
    log = home / "memory" / "trade_log.jsonl"
    data = bytearray(log.read_bytes())
    start = span["offset"] + data[span["offset"]:].index(b'"cycle":2')
    data[start + 8] = ord("7")
    log.write_bytes(bytes(data))
    line_start = data.rindex(b"\n", 0, start) + 1
    line = bytes(data[line_start:data.index(b"\n", start)])
    return path, man, line.replace(b'"cycle":7', b'"cycle":2', 1), line


def test_replay_detects_changed_log_lines(home: Path) -> None:
    _flip_in_log_span(home)
    r = vanta("replay", "2", "--home", str(home))
    assert r.returncode == 7, r.stdout + r.stderr
    assert "trade_log.jsonl no longer holds the lines recorded" in error_line(r)


@pytest.mark.parametrize(("name", "how"), [("trade_log.jsonl", "missing"), ("trade_log.jsonl", "empty"),
                                         ("pnl_ledger.jsonl", "missing")])
@pytest.mark.parametrize("command", [("cycle",), ("offboard", "F_1042")])
def test_a_lost_history_file_stops_the_next_commit(home: Path, name: str, how: str, command: tuple[str, ...]) -> None:
    """Cycles were committed, and the trade log or the ledger is gone: a cycle or an admin
    command would start a new hash chain (or ledger) under the old history. It stops,
    names the file and the fix, and writes nothing."""
    path = home / "memory" / name
    if how == "missing":
        path.unlink()
    else:
        path.write_bytes(b"")
    before = home_files(home)
    r = vanta(*command, "--home", str(home), "--asof", ASOF_3)
    assert r.returncode == 7, r.stdout + r.stderr
    assert error_line(r).strip() == (f"Error: memory/{name} is {how}, but 2 cycle(s) were committed in "
                                     f"{home.resolve()}; restore it from git (git checkout memory/{name}) "
                                     "or from a backup")
    assert home_files(home) == before


def test_replay_of_a_home_whose_trade_log_is_gone_says_so(home: Path) -> None:
    (home / "memory" / "trade_log.jsonl").unlink()
    r = vanta("replay", "2", "--home", str(home))
    assert r.returncode == 7, r.stdout + r.stderr
    assert "trade_log.jsonl no longer holds the lines recorded" in error_line(r)
    assert "Traceback" not in r.stderr


def test_replay_diffs_log_lines_that_differ_from_the_replayed(home: Path) -> None:
    path, man, replayed, recorded = _flip_in_log_span(home)
    span = man["appends"]["memory/trade_log.jsonl"]
    with open(home / "memory" / "trade_log.jsonl", "rb") as fh:
        fh.seek(span["offset"])
        span["sha256"] = bundle.digest(fh.read(span["length"]))  # the manifest agrees with the file
    path.write_bytes(canonical.dumps(man))
    r = vanta("replay", "2", "--home", str(home))
    assert r.returncode == 5, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert "-" + recorded.decode() in out and "+" + replayed.decode() in out, r.stdout
    assert "cycle 2: MISMATCH in memory/trade_log.jsonl" in out


def _tamper_recorded_portfolio(home: Path) -> tuple[str, str, int]:
    """Point cycle 2's recorded portfolio output at a blob that differs in one line.
    Returns (the replayed line, the recorded line, its 1-based line number)."""
    path, man = _manifest(home, 2)
    real = bundle.get(Home(home), man["outputs"]["memory/portfolio.json"]).decode()
    lines = real.splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if '"USD": "' in line and k > 10)
    fake = lines[i].replace('": "', '": "9', 1)
    lines[i] = fake
    sha, _ = bundle.put(Home(home), "".join(lines).encode())
    man["outputs"]["memory/portfolio.json"] = sha
    path.write_bytes(canonical.dumps(man))
    return real.splitlines()[i], fake.rstrip("\n"), i + 1


def test_replay_prints_a_unified_diff(home: Path) -> None:
    replayed, recorded, _ = _tamper_recorded_portfolio(home)
    r = vanta("replay", "2", "--home", str(home))
    assert r.returncode == 5, r.stdout + r.stderr
    no_traceback(r)
    out = r.stdout.splitlines()
    assert any(line.startswith("--- ") and "portfolio.json" in line for line in out), r.stdout
    assert any(line.startswith("+++ ") and "portfolio.json" in line for line in out), r.stdout
    assert "-" + recorded in out, r.stdout
    assert "+" + replayed in out, r.stdout
    assert "cycle 2: MISMATCH in memory/portfolio.json" in out
    # the other cycle is still fine
    assert vanta("replay", "1", "--home", str(home)).returncode == 0


def test_replay_diff_hunk_header_is_standard(home: Path) -> None:
    _, recorded, lineno = _tamper_recorded_portfolio(home)
    r = vanta("replay", "2", "--home", str(home))
    assert r.returncode == 5
    out = r.stdout.splitlines()
    heads = [line for line in out if line.startswith("@@")]
    assert heads, r.stdout
    m = re.fullmatch(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@.*", heads[0])
    assert m, f"not a unified-diff hunk header: {heads[0]!r}"
    hunk = out[out.index(heads[0]) + 1:]
    offset = [line for line in hunk if not line.startswith("+")].index("-" + recorded)
    assert int(m.group(1)) + offset == lineno, (heads[0], lineno)
