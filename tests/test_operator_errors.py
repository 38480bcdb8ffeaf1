"""The operator's mistakes at the command line: homes whose files cannot be read or
written, arguments that are not numbers, examples that must run as printed.

Each must end in one `Error: ...` line naming the path or argument, the README's exit
code (2 usage, 4 locked, 7 home state), no traceback, and nothing written.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from cli_support import clean_env, home_files
from filelock import FileLock

from vanta import home as home_mod
from vanta.cli import app
from vanta.cycle import run_cycle
from vanta.errors import StateError
from vanta.home import Home
from vanta.onboard import offboard

ASOF_1 = "2026-11-01T00:00:00Z"
ASOF_2 = "2026-11-02T00:00:00Z"
LATER = "2026-11-05T00:00:00Z"


def vanta(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vanta", *args], capture_output=True, text=True, cwd=cwd,
                          env=clean_env(**env), timeout=120)


def error_line(r: subprocess.CompletedProcess[str], code: int) -> str:
    out = r.stdout + r.stderr
    assert "Traceback" not in out, r.stderr
    assert r.returncode == code, f"exit {r.returncode}, expected {code}: {r.stderr}"
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: "), r.stderr
    if code != 2:  # click prints its usage lines above a usage error
        assert r.stderr.count("\n") == 1, r.stderr
        assert r.stdout == ""
    return line


# ---------------------------------------------------------------- files that cannot be read


COMMANDS = [["cycle", "--asof", LATER], ["status", "--json"], ["plan", "--asof", LATER], ["verify"],
            ["offboard", "F_1042", "--asof", LATER], ["deposit", "V_CORE", "alice", "5.00", "--asof", LATER]]


@pytest.mark.parametrize("name", ["portfolio.json", "trade_log.jsonl"])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_a_folder_where_a_memory_file_belongs(home: Path, name: str, args: list[str]) -> None:
    """It was a traceback (IsADirectoryError, exit 1); an unreadable file (chmod 000) was the same."""
    target = home / "memory" / name
    target.unlink()
    target.mkdir()
    before = home_files(home)
    line = error_line(vanta(*args, "--home", str(home)), 7)
    assert str(target) in line and "folder" in line and "restore the file" in line
    assert home_files(home) == before


@pytest.mark.parametrize("args", [["init", "{f}"], ["init", "{f}/sub"], ["schema", "{f}"], ["schema", "{f}/sub"]],
                         ids=["init", "init-under", "schema", "schema-under"])
def test_a_file_where_a_folder_belongs(tmp_path: Path, args: list[str]) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello\n")
    line = error_line(vanta(*(a.format(f=f) for a in args), cwd=tmp_path), 7)
    assert str(f) in line and "a file stands where vanta expects a folder" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# ---------------------------------------------------------------- places that take no writes


def _deny(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """os.access as on a read-only mount, or as another user sees a home: `denied` takes no writes
    (root passes chmod, so the tests stand in for the file system here)."""
    real = os.access

    def access(path: Any, mode: int, **kw: Any) -> bool:
        if mode & os.W_OK and Path(path) == denied:
            return False
        return real(path, mode, **kw)

    monkeypatch.setattr(home_mod.os, "access", access)


@pytest.mark.parametrize("place", ["memory", "replays", "memory/trade_log.jsonl", "memory/pnl_ledger.jsonl",
                                   "broker/paper", ".vanta"])
def test_a_cycle_that_could_not_commit_sends_nothing(home: Path, place: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With memory/ read-only the cycle sent its orders (broker/paper got them), journaled the
    commit and then failed renaming into memory/ with a traceback, leaving a journal to finish."""
    _deny(monkeypatch, home / place)
    before = home_files(home)
    with pytest.raises(StateError, match="does not take writes") as e:
        run_cycle(Home(home), LATER)
    assert str(home / place) in e.value.message and "nothing was changed" in e.value.message
    assert home_files(home) == before


def test_admin_commands_write_nothing_where_they_could_not_commit(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _deny(monkeypatch, home / "memory")
    before = home_files(home)
    with pytest.raises(StateError, match="does not take writes"):
        offboard(Home(home), "F_1042", LATER)
    assert home_files(home) == before


def test_reading_commands_run_on_a_home_that_takes_no_writes_in_memory(home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from vanta.status import collect

    _deny(monkeypatch, home / "memory")
    with home_mod.settled(Home(home)):
        assert collect(Home(home))


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize("amount", ["1e400", "NaN", "Infinity", "1,000", "1_000", "99999999999999999999999999999",
                                    "\u0663", " 5", "-5", "5.", ""])
def test_deposit_amount_is_checked_where_it_is_parsed(home: Path, amount: str) -> None:
    """NaN and 1,000 were exit 3 ('command line:/amount'), 1e400 a traceback in the pool's check,
    1_000 and Arabic-Indic digits went into the queue as numbers."""
    before = home_files(home)
    line = error_line(vanta("deposit", "V_CORE", "alice", amount, "--home", str(home)), 2)
    assert "AMOUNT" in line or "-5" in line
    assert home_files(home) == before


@pytest.mark.parametrize("args", [["NaN"], ["sNaN"], ["1e400"], ["9e999999999"], ["1.5"], ["1000.0"], [],
                                  ["5", "--all"]], ids=lambda a: "-".join(a) or "none")
def test_withdraw_shares_are_checked_where_they_are_parsed(home: Path, args: list[str]) -> None:
    """NaN and 9e999999999 were tracebacks (InvalidOperation, Overflow); SHARES and --all both
    or neither was exit 3."""
    before = home_files(home)
    line = error_line(vanta("withdraw", "V_CORE", "alice", *args, "--home", str(home)), 2)
    assert "SHARES" in line
    assert home_files(home) == before


@pytest.mark.parametrize("args", [["3", "--all"], ["latest", "--all"]], ids=["n", "latest"])
def test_replay_of_a_cycle_and_all_is_a_usage_error(home: Path, args: list[str]) -> None:
    """The cycle number was ignored: every cycle was replayed."""
    r = vanta("replay", *args, "--home", str(home))
    assert "one of them" in error_line(r, 2)


def test_a_vanta_home_variable_that_names_nothing_says_so(tmp_path: Path) -> None:
    where = tmp_path / "gone"
    line = error_line(vanta("status", VANTA_HOME=str(where)), 7)
    assert f"$VANTA_HOME={where}" in line and "not a vanta home" in line


def test_a_vault_that_is_not_pooled_is_named_by_its_json_path(home: Path) -> None:
    line = error_line(vanta("contributors", "V_FLASH", "--home", str(home)), 3)
    assert "memory/vault.json:/vaults/1/pooled:" in line


def test_init_force_waits_for_no_running_cycle(home: Path) -> None:
    """It deleted memory/, replays/ and .vanta/ (the lock too) from under a running cycle."""
    before = home_files(home)
    lock = FileLock(str(home / ".vanta" / "lock"), timeout=0)
    with lock:
        line = error_line(vanta("init", str(home), "--force"), 4)
    assert "locked" in line
    assert home_files(home) == before


# ---------------------------------------------------------------- every help example runs


def _examples() -> dict[str, list[list[str]]]:
    """Each command's `Example:` line, as argument lists (`&&` and `;` separate commands)."""
    out = {}
    for name, cmd in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        for sub_name, sub in [(name, cmd), *((f"{name} {k}", v) for k, v in getattr(cmd, "commands", {}).items())]:
            text = " ".join((sub.help or "").split("Example:", 1)[1].split())
            runs = [shlex.split(part) for chunk in text.split("&&") for part in chunk.split(";")]
            assert all(run[0] == "vanta" for run in runs), (sub_name, runs)
            out[sub_name] = [run[1:] for run in runs]
    return out


def _pooled(root: Path) -> None:
    """The example home with V_CORE renamed V_POOL and given pooled terms (before its first cycle)."""
    for path in (root / "memory").glob("*.json"):
        path.write_text(path.read_text().replace("V_CORE", "V_POOL"))
    vault = json.loads((root / "memory" / "vault.json").read_text())
    for v in vault["vaults"]:
        if v["vault_id"] == "V_POOL":
            v["pooled"] = {"manager_id": "M", "rollover_hours": 3}
    (root / "memory" / "vault.json").write_text(json.dumps(vault, indent=2))


PACKET = {"user_id": "F_1042", "vault_id": "V_CORE",
          "brokers": {"equities": {"adapter": "alpaca", "account_ref": "alpaca_F1042"},
                      "crypto": {"adapter": "coinbase", "account_ref": "cb_F1042"}},
          "persona": "risk_averse", "mirroring_mode": "proportional", "scale": 0.25, "fee_model": {"perf_share": 0.20}}


def test_every_help_example_runs(tmp_path: Path) -> None:
    """`vanta init --help` showed `vanta --home ./demo cycle`, which is no command (exit 2)."""
    examples = _examples()
    order = ["init", "cycle", "plan", "status", "verify", "replay", "onboard", "offboard", "fees", "fees statement",
             "schema"]
    (tmp_path / "packet_F_1042.json").write_text(json.dumps(PACKET))  # README's packet
    assert set(examples) == {*order, "deposit", "withdraw", "contributors"}, sorted(examples)
    for name in order:
        for args in examples[name]:
            r = vanta(*args, cwd=tmp_path)
            assert r.returncode == 0, f"`vanta {shlex.join(args)}` ({name} --help): exit {r.returncode}: {r.stderr}"
    shutil.rmtree(tmp_path / "demo")
    assert vanta("init", "demo", cwd=tmp_path).returncode == 0
    _pooled(tmp_path / "demo")
    steps = [*examples["deposit"], ["cycle", "--home", "demo", "--asof", ASOF_1],
             *examples["withdraw"], *examples["contributors"]]
    for args in steps:
        r = vanta(*args, "--asof", ASOF_1, cwd=tmp_path) if args[0] in ("deposit", "withdraw") \
            else vanta(*args, cwd=tmp_path)
        assert r.returncode == 0, f"`vanta {shlex.join(args)}`: exit {r.returncode}: {r.stderr}"


# ---------------------------------------------------------------- damaged append-only files


@pytest.mark.parametrize("damage", ["cut", "not-a-line"])
@pytest.mark.parametrize("args", [["cycle", "--asof", LATER], ["status"], ["offboard", "F_1042", "--asof", LATER]],
                         ids=lambda a: a[0])
def test_a_damaged_last_log_line_is_named_by_its_line(home: Path, damage: str, args: list[str]) -> None:
    """A cut last line was reported at 'line 1' with 'fix the JSON syntax there' (a hash-chained
    log is never edited by hand); a last line `{}` was a traceback (KeyError: 'seq')."""
    log = home / "memory" / "trade_log.jsonl"
    lines = log.read_bytes().count(b"\n")
    if damage == "cut":
        log.write_bytes(log.read_bytes()[:-30])
    else:
        log.write_bytes(log.read_bytes() + b"{}\n")
        lines += 1
    before = home_files(home)
    line = error_line(vanta(*args, "--home", str(home)), 3)
    assert f"memory/trade_log.jsonl:line {lines}: the last line is damaged" in line
    assert "git checkout memory/trade_log.jsonl" in line
    assert home_files(home) == before


@pytest.mark.parametrize("name", ["pnl_ledger.jsonl", "trade_log.jsonl"])
@pytest.mark.parametrize("args", [["cycle", "--asof", LATER], ["offboard", "F_1042", "--asof", LATER]],
                         ids=lambda a: a[0])
def test_a_line_file_cut_short_is_never_appended_to(home: Path, name: str, args: list[str]) -> None:
    """The cycle appended its ledger lines to a ledger whose last line had been cut, gluing
    a new entry onto the cut one (exit 0); verify found it only afterwards."""
    path = home / "memory" / name
    assert vanta("cycle", "--home", str(home), "--asof", "2026-11-03T00:00:00Z").returncode == 0  # fees charged
    cut = 30 if name == "pnl_ledger.jsonl" else 1  # the log's last line stays whole JSON
    assert path.stat().st_size > cut
    path.write_bytes(path.read_bytes()[:-cut])
    before = home_files(home)
    line = error_line(vanta(*args, "--home", str(home)), 7)
    assert f"memory/{name} ends in a cut line" in line and f"git checkout memory/{name}" in line
    assert home_files(home) == before


def test_verify_of_a_cut_ledger_names_the_ledger_only(home: Path) -> None:
    """verify also reported every memory file as 'differs from what cycle 2 committed (edited
    outside vanta?)': a span that failed dropped the cycle, so memory/ met an older cycle."""
    assert vanta("cycle", "--home", str(home), "--asof", "2026-11-03T00:00:00Z").returncode == 0
    ledger = home / "memory" / "pnl_ledger.jsonl"
    ledger.write_bytes(ledger.read_bytes()[:-30])
    r = vanta("verify", "--home", str(home), "--json")
    assert r.returncode == 6, r.stderr
    problems = json.loads(r.stdout)["problems"]
    assert len(problems) == 1, problems
    assert problems[0].startswith("replays/cycles/000003.json: memory/pnl_ledger.jsonl"), problems


def test_a_home_that_lost_its_vault_file_is_told_to_restore_it(home: Path) -> None:
    """It was told it is 'not a vanta home' and to create one with `vanta init DIR`."""
    (home / "memory" / "vault.json").unlink()
    line = error_line(vanta("status", "--home", str(home)), 7)
    assert "memory/vault.json is missing" in line and "restore it from git" in line


@pytest.mark.parametrize("inside", ["memory", "replays"])
def test_a_folder_inside_a_home_names_the_home(home: Path, inside: str) -> None:
    """`--home ./demo/memory` was told to create a home with `vanta init DIR`."""
    line = error_line(vanta("status", "--home", str(home / inside)), 7)
    assert f"it lies inside the home {home}: pass --home {home}" in line
    assert error_line(vanta("status", cwd=home / inside), 7) == line


def test_init_refuses_a_follower_count_no_machine_holds(tmp_path: Path) -> None:
    """--followers 1000000000 (three zeros too many) built the home in memory until it ran out
    (MemoryError, exit 1, after filling the machine's memory)."""
    r = vanta("init", str(tmp_path / "big"), "--followers", "1000000000")
    assert "--followers" in error_line(r, 2)
    assert not (tmp_path / "big").exists()


@pytest.mark.parametrize("lost", ["all", "last"])
def test_verify_names_lost_replay_bundles(home: Path, lost: str) -> None:
    """With every bundle deleted verify said '0 bundles: verified' (exit 0); with the last one
    deleted it also listed every memory file as differing from the cycle before."""
    gone = sorted((home / "replays" / "cycles").iterdir())
    for path in gone if lost == "all" else gone[-1:]:
        path.unlink()
    r = vanta("verify", "--home", str(home), "--json")
    assert r.returncode == 6, r.stdout
    assert json.loads(r.stdout)["problems"] == [
        "replays/cycles/000002.json: missing, but the trade log records cycle 2; restore replays/ from git or a backup"]


@pytest.mark.parametrize("text", [b"{}\n", b"garbage"], ids=["no-fields", "not-json"])
def test_a_damaged_in_flight_record_is_the_operators_to_settle(home: Path, text: bytes) -> None:
    """`{}` was a traceback (KeyError: 'inputs'); garbage was exit 3 with 'fix the JSON syntax there'."""
    (home / ".vanta").mkdir(exist_ok=True)
    (home / ".vanta" / "inflight.json").write_bytes(text)
    before = home_files(home)
    line = error_line(vanta("cycle", "--home", str(home), "--asof", LATER), 7)
    assert ".vanta/inflight.json is damaged" in line and "settle that cycle's orders with the broker" in line
    assert home_files(home) == before


def test_a_reader_that_goes_away_ends_the_command_quietly(template: Path) -> None:
    """`vanta replay --all | head -1`: the reader closes the pipe. click ends the command
    with exit 1 and nothing on stderr, which is how the README tells it from a bug (exit 1
    with a traceback). Not SIGPIPE's default (death, 141): a live cycle's exchange sockets
    must get their errors, not kill the process."""
    for args in (("replay", "--all"), ("status", "--json")):
        p = subprocess.Popen([sys.executable, "-m", "vanta", *args, "--home", str(template)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()  # gone before the first line
        err = p.stderr.read()
        assert p.wait(timeout=120) == 1, (args, err)
        assert err == b"", (args, err)
