"""`vanta onboard` and `vanta offboard`: packets become registry entries, admin changes
are logged between cycles, and verify and replay keep passing.

Error paths and crashes run the real command in a child process (vanta.cli.main turns
errors into exit codes); success paths call the library in this process.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.pop("VANTA_CRASH_AT", None)  # vanta.faults reads it at import

import pytest
from cli_support import clean_env, home_files, invoke

from vanta.home import Home
from vanta.init import example_files
from vanta.models import Follower, RegistryFile
from vanta.onboard import offboard, onboard
from vanta.replay import replay
from vanta.verify import verify

ASOF_1 = "2026-11-01T00:00:00Z"
ADMIN_1 = "2026-11-01T12:00:00Z"
ASOF_2 = "2026-11-02T00:00:00Z"
ADMIN_2 = "2026-11-02T12:00:00Z"
ASOF_3 = "2026-11-03T00:00:00Z"

# Seed 000's API packet as written, plus the vault vanta needs.
SEED_PACKET: dict[str, Any] = {
    "user_id": "F_1042",
    "brokers": {
        "equities": {"adapter": "alpaca", "account_ref": "alpaca_F1042"},
        "crypto": {"adapter": "coinbase", "account_ref": "cb_F1042"},
    },
    "persona": "risk_averse",
    "mirroring_mode": "proportional",
    "scale": 0.25,
    "fee_model": {"perf_share": 0.20},
    "vault_id": "V_CORE",
}

# The same on the paper broker, with opening cash: a follower the next cycle trades.
PAPER_PACKET: dict[str, Any] = {
    **SEED_PACKET,
    "user_id": "F_9001",
    "brokers": {"equities": {"adapter": "paper", "account_ref": "paper:F_9001"}},
    "paper_balance": {"USD": "25000.00"},
}


def vanta(*args: str | Path, crash: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    e = clean_env(**env)
    if crash:
        e["VANTA_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-m", "vanta", *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=120, check=False)


def write_packet(folder: Path, packet: dict[str, Any], name: str = "packet.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(packet, indent=2))
    return path


def registry(home: Path) -> dict[str, Follower]:
    reg = RegistryFile.model_validate_json((home / "memory" / "mirror_registry.json").read_bytes())
    return {f.follower_id: f for f in reg.followers}


def portfolio(home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((home / "memory" / "portfolio.json").read_text())
    return data


def log_lines(home: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (home / "memory" / "trade_log.jsonl").read_text().splitlines()]


def assert_verifies_and_replays(home: Path) -> None:
    problems, _ = verify(Home(home))
    assert problems == []
    r = invoke("replay", "--all", "--home", str(home))
    assert r.exit_code == 0, r.output
    assert "MISMATCH" not in r.stdout


# ---------------------------------------------------------------- homes


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example home after one cycle (never modified: copy it)."""
    root = tmp_path_factory.mktemp("onboard") / "home"
    assert invoke("init", str(root)).exit_code == 0
    r = invoke("cycle", "--home", str(root), "--asof", ASOF_1)
    assert r.exit_code == 0, r.output
    return root


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """A new example home without F_1042 (so seed 000's packet registers it afresh)."""
    root = tmp_path / "bare"
    assert invoke("init", str(root)).exit_code == 0
    for name, drop in (("mirror_registry.json", "followers"), ("portfolio.json", "followers")):
        p = root / "memory" / name
        data = json.loads(p.read_text())
        if isinstance(data[drop], list):
            data[drop] = [f for f in data[drop] if f["follower_id"] != "F_1042"]
        else:
            del data[drop]["F_1042"]
        p.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return root


@pytest.fixture
def store_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A secret store outside the home (never the user's own ~/.config)."""
    yield {"VANTA_SECRETS_FILE": str(tmp_path / "store" / "secrets.enc")}


# ---------------------------------------------------------------- seed 000's packet


def test_seed_packet_registers_one_core_vault_with_one_compounding_sleeve(
        bare: Path, tmp_path: Path, store_env: dict[str, str]) -> None:
    out = onboard(Home(bare), write_packet(tmp_path, SEED_PACKET), ADMIN_1, env=store_env)
    assert out.action == "onboard"
    f = registry(bare)["F_1042"]
    assert f.persona == "risk_averse" and f.status == "active" and not f.kill_switch
    assert f.fee_model.type == "perf_share" and str(f.fee_model.perf_share) == "0.2"
    assert [c.quote for c in f.cores] == ["USD"]
    core = f.cores[0]
    # USD is a fiat quote: the equities broker holds it; only its account_ref is in memory/
    assert core.account.adapter == "ccxt:alpaca" and core.account.account_ref == "alpaca_F1042"
    assert core.tradeable is None and not core.paused
    [s] = core.sleeves
    assert (s.sleeve_id, s.vault_id, s.mode, s.profit, str(s.scale), s.allocation) == \
        ("main", "V_CORE", "proportional", "compound", "0.25", None)
    # a live wallet starts with no cash in vanta's books (its balance comes from the broker)
    assert portfolio(bare)["followers"]["F_1042"] == {"USD": {"cash": "0.00", "sleeves": {}}}
    # the same follower `vanta init` writes by hand from this packet, but for its paper account
    want = RegistryFile.model_validate(example_files()["mirror_registry.json"])
    hand = next(x for x in want.followers if x.follower_id == "F_1042")
    assert f.model_copy(update={"cores": ()}) == hand.model_copy(update={"cores": ()})
    assert core.sleeves == hand.cores[0].sleeves
    line = log_lines(bare)[-1]
    assert line["kind"] == "registry_update" and line["cycle"] == 0 and line["asof"] == ADMIN_1
    assert line["data"]["action"] == "onboard" and line["data"]["follower_id"] == "F_1042"
    assert [d["path"] for d in line["data"]["diff"]] == ["mirror_registry.json:/followers/F_1042",
                                                         "portfolio.json:/followers/F_1042/USD"]
    problems, _ = verify(Home(bare))
    assert problems == []


def test_paper_packet_opens_a_funded_wallet_the_next_cycle_trades(home: Path, tmp_path: Path) -> None:
    out = onboard(Home(home), write_packet(tmp_path, PAPER_PACKET), ADMIN_1, env={})
    assert out.action == "onboard" and out.log_seq == len(log_lines(home))
    assert portfolio(home)["followers"]["F_9001"] == {"USD": {"cash": "25000.00", "sleeves": {}}}
    r = invoke("cycle", "--home", str(home), "--asof", ASOF_2)
    assert r.exit_code == 0, r.output
    mine = [x for x in log_lines(home) if x["cycle"] == 2 and x["kind"] == "child_order"
            and x["data"].get("account") == "follower:F_9001"]
    assert mine, "the onboarded follower got no child order"
    book = portfolio(home)["followers"]["F_9001"]["USD"]
    assert book["sleeves"]["main"]["positions"], book
    assert_verifies_and_replays(home)


def test_a_quiet_flash_packet_makes_seed_001s_core_vault(home: Path, tmp_path: Path) -> None:
    """Seed 001's example: 20,012.53 total, 15,000 tradeable, Quiet 10,000, Flash 5,000 (init's F_2001)."""
    packet = {"user_id": "F_2101", "brokers": {"equities": {"adapter": "paper", "account_ref": "paper:F_2101"}},
              "tradeable": "15000", "paper_balance": {"USD": "20012.53"},
              "sleeves": [{"sleeve_id": "quiet", "vault_id": "V_QUIET", "allocation": "10000"},
                          {"sleeve_id": "flash", "vault_id": "V_FLASH", "mode": "scaled_trades",
                           "profit": "sweep", "allocation": "5000"}]}
    out = onboard(Home(home), write_packet(tmp_path, packet), ADMIN_1, env={})
    assert out.action == "onboard"
    got = registry(home)["F_2101"]
    want = next(f for f in RegistryFile.model_validate(example_files()["mirror_registry.json"]).followers
                if f.follower_id == "F_2001")
    assert got.cores[0].sleeves == want.cores[0].sleeves
    assert got.cores[0].tradeable == want.cores[0].tradeable
    assert portfolio(home)["followers"]["F_2101"] == {"USD": {"cash": "20012.53", "sleeves": {}}}
    assert invoke("cycle", "--home", str(home), "--asof", ASOF_2).exit_code == 0
    sleeves = portfolio(home)["followers"]["F_2101"]["USD"]["sleeves"]
    assert set(sleeves) <= {"quiet", "flash"} and sleeves, sleeves
    assert_verifies_and_replays(home)


def test_the_same_packet_again_changes_no_byte(home: Path, tmp_path: Path) -> None:
    packet = write_packet(tmp_path, PAPER_PACKET)
    assert onboard(Home(home), packet, ADMIN_1, env={}).action == "onboard"
    before = home_files(home)
    r = vanta("onboard", packet, "--home", home)  # no --asof: the clock is read only to log a change
    assert r.returncode == 0, r.stderr
    assert r.stdout == "F_9001: unchanged\n"
    assert home_files(home) == before


def test_the_example_follower_from_its_own_packet_is_unchanged(home: Path, tmp_path: Path) -> None:
    """init's F_1042 is seed 000's packet on the paper broker: re-sending it is a no-op."""
    packet = {**SEED_PACKET, "brokers": {"equities": {"adapter": "paper", "account_ref": "paper:F_1042"}}}
    before = home_files(home)
    out = onboard(Home(home), write_packet(tmp_path, packet), ADMIN_1, env={})
    assert (out.action, out.diff) == ("unchanged", [])
    assert home_files(home) == before


def test_a_changed_scale_is_an_update_logged_with_its_diff(home: Path, tmp_path: Path) -> None:
    onboard(Home(home), write_packet(tmp_path, PAPER_PACKET), ADMIN_1, env={})
    r = vanta("onboard", write_packet(tmp_path, {**PAPER_PACKET, "scale": "0.5"}), "--home", home,
              "--asof", ADMIN_1, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    want = [{"path": "mirror_registry.json:/followers/F_9001/cores/USD/sleeves/main/scale",
             "before": "0.25", "after": "0.5"}]
    assert out["action"] == "update" and out["diff"] == want
    line = log_lines(home)[-1]
    assert (line["kind"], line["cycle"], line["asof"], line["seq"]) == ("registry_update", 1, ADMIN_1, out["log_seq"])
    assert line["data"]["action"] == "update" and line["data"]["diff"] == want
    assert str(registry(home)["F_9001"].cores[0].sleeves[0].scale) == "0.5"
    # the opening cash is not paid again
    assert portfolio(home)["followers"]["F_9001"]["USD"]["cash"] == "25000.00"
    # the line carries the sha256 of every memory file after the change, like cycle_end
    for name, sha in line["data"]["memory"].items():
        assert hashlib.sha256((home / "memory" / name).read_bytes()).hexdigest() == sha
    assert len(line["data"]["memory"]) == 8


def test_an_update_keeps_the_operators_switches_and_other_core_vaults(home: Path, tmp_path: Path) -> None:
    """F_5001 has a USD and a USDC Core Vault: a USD packet updates the USD one only."""
    reg = home / "memory" / "mirror_registry.json"
    before = registry(home)["F_5001"]
    packet = {"user_id": "F_5001", "persona": "baseline",
              "brokers": {"equities": {"adapter": "paper", "account_ref": "paper:F_5001"}},
              "sleeves": [{"sleeve_id": "contra", "vault_id": "V_CORE", "persona": "contrarian", "scale": "2"}]}
    out = onboard(Home(home), write_packet(tmp_path, packet), ADMIN_1, env={})
    assert out.action == "update"
    assert [d["path"].rsplit(":", 1)[1] for d in out.diff] == ["/followers/F_5001/cores/USD/sleeves/contra/scale"]
    after = registry(home)["F_5001"]
    assert after.cores[1] == before.cores[1]  # USDC untouched
    assert [f["follower_id"] for f in json.loads(reg.read_text())["followers"]].count("F_5001") == 1


def test_a_packet_that_drops_a_sleeve_holding_positions_is_refused(home: Path, tmp_path: Path) -> None:
    held = portfolio(home)["followers"]["F_2001"]["USD"]["sleeves"]
    assert any(b["positions"] for b in held.values()), "F_2001's sleeves should hold positions after cycle 1"
    packet = {"user_id": "F_2001", "vault_id": "V_QUIET",
              "brokers": {"equities": {"adapter": "paper", "account_ref": "paper:F_2001"}}}
    before = home_files(home)
    r = vanta("onboard", write_packet(tmp_path, packet), "--home", home, "--asof", ADMIN_1)
    assert r.returncode == 3, r.stderr
    assert "leaves it out" in r.stderr and "paused" in r.stderr
    assert home_files(home) == before


# ---------------------------------------------------------------- offboarding


def test_offboard_stops_new_orders_and_keeps_the_books(home: Path, tmp_path: Path) -> None:
    onboard(Home(home), write_packet(tmp_path, PAPER_PACKET), ADMIN_1, env={})
    assert invoke("cycle", "--home", str(home), "--asof", ASOF_2).exit_code == 0
    books = portfolio(home)["followers"]["F_9001"]
    assert books["USD"]["sleeves"]["main"]["positions"]
    r = vanta("offboard", "F_9001", "--home", home, "--asof", ADMIN_2)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("F_9001: offboarded (trade log line ")
    assert registry(home)["F_9001"].status == "offboarded"
    line = log_lines(home)[-1]
    assert line["data"] == {**line["data"], "action": "offboard", "follower_id": "F_9001",
                            "diff": [{"path": "mirror_registry.json:/followers/F_9001/status",
                                      "before": "active", "after": "offboarded"}]}
    assert portfolio(home)["followers"]["F_9001"] == books
    r = invoke("cycle", "--home", str(home), "--asof", ASOF_3)
    assert r.exit_code == 0, r.output
    cycle3 = [x for x in log_lines(home) if x["cycle"] == 3]
    assert not [x for x in cycle3 if "F_9001" in json.dumps(x["data"]) and x["kind"] in ("child_order", "fill")]
    assert portfolio(home)["followers"]["F_9001"]["USD"]["sleeves"]["main"]["positions"] == \
        books["USD"]["sleeves"]["main"]["positions"]
    assert "F_9001" in json.loads((home / "memory" / "pnl_summary.json").read_text())["followers"]
    # again: unchanged, nothing written
    before = home_files(home)
    assert offboard(Home(home), "F_9001").action == "unchanged"
    assert home_files(home) == before
    # and the packet again brings the follower back
    assert onboard(Home(home), write_packet(tmp_path, PAPER_PACKET), None, env={}).action == "onboard"
    assert registry(home)["F_9001"].status == "active"
    assert_verifies_and_replays(home)


def test_offboard_of_an_unknown_follower_names_the_known_ones(home: Path) -> None:
    before = home_files(home)
    r = vanta("offboard", "F_NOPE", "--home", home)
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1
    assert "F_NOPE" in r.stderr and "F_1042" in r.stderr and "F_5001" in r.stderr
    assert home_files(home) == before


# ---------------------------------------------------------------- verify and replay around admin lines


def test_cycles_around_admin_changes_verify_and_replay(tmp_path: Path) -> None:
    root = tmp_path / "h"
    assert invoke("init", str(root)).exit_code == 0
    # an admin change before the first cycle, one between cycles, one after the last
    onboard(Home(root), write_packet(tmp_path, PAPER_PACKET), "2026-10-31T00:00:00Z", env={})
    assert verify(Home(root))[0] == []
    assert invoke("cycle", "--home", str(root), "--asof", ASOF_1).exit_code == 0
    onboard(Home(root), write_packet(tmp_path, {**PAPER_PACKET, "scale": "0.3"}), ADMIN_1, env={})
    offboard(Home(root), "F_2003", ADMIN_1)
    assert verify(Home(root))[0] == []
    assert invoke("cycle", "--home", str(root), "--asof", ASOF_2).exit_code == 0
    offboard(Home(root), "F_9001", ADMIN_2)
    r = invoke("verify", "--home", str(root))
    assert r.exit_code == 0 and "verified" in r.stdout, r.output
    r = invoke("replay", "--all", "--home", str(root))
    assert r.exit_code == 0 and r.stdout.splitlines() == ["cycle 1: identical", "cycle 2: identical"], r.output
    for n in (1, 2):
        assert replay(Home(root), n).ok


def test_verify_checks_memory_against_the_last_admin_line(home: Path, tmp_path: Path) -> None:
    onboard(Home(home), write_packet(tmp_path, PAPER_PACKET), ADMIN_1, env={})
    p = home / "memory" / "mirror_registry.json"
    p.write_text(p.read_text().replace('"0.25"', '"0.26"', 1))
    r = vanta("verify", "--home", home)
    assert r.returncode == 6, r.stdout + r.stderr
    assert "memory/mirror_registry.json" in r.stdout and "registry update" in r.stdout
    assert "portfolio.json" not in r.stdout


def test_verify_refuses_a_non_admin_line_between_cycles(home: Path) -> None:
    """Only registry_update lines may sit between cycles: a forged cycle line, even
    correctly chained, breaks the next manifest's continuity."""
    from vanta.home import chain_end, last_log_line
    from vanta.stages.commit import chain

    seq, head = chain_end(last_log_line(home / "memory" / "trade_log.jsonl"))
    line, _, _ = chain((("fill", {"client_order_id": "x"}),), 1, ADMIN_1, seq, head)
    with open(home / "memory" / "trade_log.jsonl", "ab") as fh:
        fh.write(line)
    problems, _ = verify(Home(home))
    assert any("trade_log.jsonl" in p for p in problems), problems


# ---------------------------------------------------------------- bad packets (exit 3, nothing written)


def _bad(packet: dict[str, Any], **change: Any) -> dict[str, Any]:
    out = {**packet, **change}
    return {k: v for k, v in out.items() if v is not None}


BAD: dict[str, tuple[Any, str, str]] = {
    # name: (packet or raw text, JSON path in the message, a word of the problem)
    "broken_json": ('{"user_id": "F_1", "vault_id": "V_CORE",}', "line 1 column", "not valid JSON"),
    "not_an_object": ("[1, 2]", "/", "expected a JSON object"),
    "unknown_field": (_bad(PAPER_PACKET, risk="high"), "/risk", "unknown field"),
    "scale_not_a_number": (_bad(PAPER_PACKET, scale="lots"), "/scale", "decimal"),
    "negative_scale": (_bad(PAPER_PACKET, scale=-0.25), "/scale", "greater than 0"),
    "unknown_vault": (_bad(PAPER_PACKET, vault_id="V_GONE"), "/vault_id", "V_CORE, V_FLASH, V_QUIET"),
    "no_vault": (_bad(PAPER_PACKET, vault_id=None), "/vault_id", "V_CORE, V_FLASH, V_QUIET"),
    "no_user_id": (_bad(PAPER_PACKET, user_id=None), "/user_id", "missing"),
    "bad_user_id": (_bad(PAPER_PACKET, user_id="F 1"), "/user_id", "format"),
    "persona_not_offered": (_bad(PAPER_PACKET, vault_id="V_QUIET", persona="contrarian"), "/persona",
                            "does not offer persona"),
    "unknown_persona": (_bad(PAPER_PACKET, persona="yolo"), "/persona", "allowed values"),
    "unknown_mode": (_bad(PAPER_PACKET, mirroring_mode="copy"), "/mirroring_mode", "allowed values"),
    "ratio_missing": (_bad(PAPER_PACKET, mirroring_mode="fixed_ratio"), "/ratio", "needs a ratio"),
    "unknown_adapter": (_bad(PAPER_PACKET, brokers={"equities": {"adapter": "etrade", "account_ref": "x"}}),
                        "/brokers/equities/adapter", "allowed values"),
    "no_broker": (_bad(PAPER_PACKET, brokers={}), "/brokers", "no broker entry"),
    "paper_balance_for_live": (_bad(SEED_PACKET, paper_balance={"USD": "10.00"}), "/paper_balance",
                               "adapter paper"),
    "paper_balance_other_currency": (_bad(PAPER_PACKET, paper_balance={"EUR": "10.00"}), "/paper_balance/EUR",
                                     "EUR"),
    "paper_balance_sub_cent": (_bad(PAPER_PACKET, paper_balance={"USD": "10.001"}), "/paper_balance/USD",
                               "0.01"),
    "sleeves_and_vault_id": (_bad(PAPER_PACKET, sleeves=[{"sleeve_id": "q", "vault_id": "V_QUIET"}]), "/vault_id",
                             "beside sleeves"),
    "sleeves_over_tradeable": (_bad(PAPER_PACKET, vault_id=None, scale=None, mirroring_mode=None, tradeable="100",
                                    persona="baseline",
                                    sleeves=[{"sleeve_id": "q", "vault_id": "V_QUIET", "allocation": "80"},
                                             {"sleeve_id": "f", "vault_id": "V_FLASH", "allocation": "80"}]),
                               "/sleeves", "more than the 100"),
    "sleeve_unknown_vault": (_bad(PAPER_PACKET, vault_id=None, scale=None, mirroring_mode=None,
                                  sleeves=[{"sleeve_id": "q", "vault_id": "V_X"}]), "/sleeves/0/vault_id", "V_X"),
    "fee_share_over_one": (_bad(PAPER_PACKET, fee_model={"perf_share": 1.5}), "/fee_model/perf_share",
                           "less than or equal to 1"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_packet_exits_3_names_file_and_path_and_writes_nothing(home: Path, tmp_path: Path, case: str) -> None:
    packet, path, word = BAD[case]
    p = tmp_path / "bad.json"
    p.write_text(packet if isinstance(packet, str) else json.dumps(packet))
    before = home_files(home)
    r = vanta("onboard", p, "--home", home, "--asof", ADMIN_1)
    assert r.returncode == 3, f"{r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr.startswith(f"Error: {p}:{path}"), r.stderr
    assert r.stderr.count("\n") == 1 and word in r.stderr, r.stderr
    assert home_files(home) == before


def test_a_missing_packet_file(home: Path, tmp_path: Path) -> None:
    r = vanta("onboard", tmp_path / "nope.json", "--home", home)
    assert r.returncode == 3 and "nope.json" in r.stderr and "cannot read" in r.stderr, r.stderr


def test_onboard_waits_for_an_interrupted_cycle(home: Path, tmp_path: Path) -> None:
    (home / ".vanta" / "inflight.json").write_text("{}\n")
    before = home_files(home)
    r = vanta("onboard", write_packet(tmp_path, PAPER_PACKET), "--home", home, "--asof", ADMIN_1)
    assert r.returncode == 7, r.stderr
    assert "vanta cycle" in r.stderr
    assert home_files(home) == before


def test_an_asof_before_the_last_log_line_is_refused(home: Path, tmp_path: Path) -> None:
    before = home_files(home)
    r = vanta("onboard", write_packet(tmp_path, PAPER_PACKET), "--home", home, "--asof", "2026-10-01T00:00:00Z")
    assert r.returncode == 7, r.stderr
    assert ASOF_1 in r.stderr and "--asof" in r.stderr
    assert home_files(home) == before
    r = vanta("onboard", write_packet(tmp_path, PAPER_PACKET), "--home", home, "--asof", "tomorrow")
    assert r.returncode == 2


def test_a_locked_home_exits_4(home: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    with FileLock(str(home / ".vanta" / "lock")):
        r = vanta("onboard", write_packet(tmp_path, PAPER_PACKET), "--home", home, "--asof", ADMIN_1)
    assert r.returncode == 4, r.stderr


# ---------------------------------------------------------------- crash safety


JOURNALED = {"after_journal", "renamed_file", "renamed_file:2", "appended", "before_journal_removed"}
PRE_JOURNAL = {"staged_file", "staged_file:2", "before_journal"}


@pytest.fixture(scope="module")
def crash_ref(template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """(the packet, memory/ after a clean onboarding of it on the template)."""
    folder = tmp_path_factory.mktemp("crash_ref")
    packet = write_packet(folder, PAPER_PACKET)
    done = folder / "home"
    shutil.copytree(template, done)
    onboard(Home(done), packet, ADMIN_1, env={})
    return packet, {k: v for k, v in home_files(done).items() if k.startswith("memory/")}


@pytest.mark.parametrize("point", sorted(JOURNALED | PRE_JOURNAL))
def test_a_crash_in_onboardings_commit_leaves_old_or_new_state(
        home: Path, crash_ref: tuple[Path, dict[str, bytes]], point: str) -> None:
    packet, new = crash_ref
    old = {k: v for k, v in home_files(home).items() if k.startswith("memory/")}
    r = vanta("onboard", packet, "--home", home, "--asof", ADMIN_1, crash=point)
    assert r.returncode == -signal.SIGKILL, f"{point}: exit {r.returncode}\n{r.stderr}"
    mem = {k: v for k, v in home_files(home).items() if k.startswith("memory/")}
    if point in PRE_JOURNAL:
        assert mem == old
    else:
        assert set(mem) == set(old) and all(mem[k] in (old[k], new[k]) for k in mem), point
    # The next command finishes or discards the commit; the state is then old or new, whole.
    v = vanta("verify", "--home", home)
    assert v.returncode == 0, v.stdout + v.stderr
    mem = {k: v for k, v in home_files(home).items() if k.startswith("memory/")}
    assert mem == (old if point in PRE_JOURNAL else new), point
    # and onboarding again converges on the new state
    r = vanta("onboard", packet, "--home", home, "--asof", ADMIN_1)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"F_9001: onboarded (trade log line {len(log_lines(home))})\n"
                        if point in PRE_JOURNAL else "F_9001: unchanged\n")
    assert {k: v for k, v in home_files(home).items() if k.startswith("memory/")} == new
    assert not (home / ".vanta" / "journal.json").exists() and not (home / ".vanta" / "staging").exists()
    assert_verifies_and_replays(home)


# ---------------------------------------------------------------- the command line


def test_help_has_examples_and_does_not_load_heavy_modules() -> None:
    for cmd in ("onboard", "offboard"):
        r = invoke(cmd, "--help")
        assert r.exit_code == 0 and "Example: vanta " + cmd in r.stdout, r.output
    code = "import sys; sys.argv=['vanta', 'onboard', '--help']; from vanta.cli import main; main()"
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                       env=clean_env(), timeout=60)
    assert r.returncode == 0 and "Usage:" in r.stdout
    modules = [x.rsplit("|", 1)[1].strip() for x in r.stderr.splitlines() if x.startswith("import time:")]
    heavy = [m for m in modules if m.split(".")[0] in ("ccxt", "cryptography", "vanta")
             and m not in ("vanta", "vanta.cli", "vanta.errors")]
    assert not heavy, heavy


def test_root_help_lists_onboard_and_offboard() -> None:
    r = invoke("--help")
    assert "onboard" in r.stdout and "offboard" in r.stdout
