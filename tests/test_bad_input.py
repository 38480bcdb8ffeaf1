"""Bad input stops a cycle before anything is written, with a message a person can act on.

DESIGN.md, "Bad input": a memory file that does not parse or validate stops the command
before anything is written; the message names the file, the JSON path, what was expected,
what was found, and how to fix it; no traceback.

Each case mutates one memory file of an example home and runs `vanta cycle` as a
subprocess (the console entry point is what turns a VantaError into `Error: ...` and an
exit code). Every case runs on a fresh home (cycle 0) and on a home that has committed one
cycle, so replays/ and broker/ are non-empty when we check that nothing was written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from vanta import canonical
from vanta.errors import InputError
from vanta.models import VaultFile
from vanta.validate import parse

ASOF_1 = "2026-11-01T00:00:00Z"
ASOF_2 = "2026-11-02T00:00:00Z"
IGNORED = {".vanta/", ".vanta/lock"}  # the lock file (and its folder) is created by any locking command


# ---------------------------------------------------------------- helpers


def vanta(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VANTA_HOME", "VANTA_CRASH_AT")}
    return subprocess.run([sys.executable, "-m", "vanta", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the home (memory/, replays/, broker/, .vanta/), by relative path."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel not in IGNORED:
            out[rel] = p.read_bytes()
        elif p.is_dir() and rel + "/" not in IGNORED:
            out[rel + "/"] = b""
    return out


class Raw:
    """A JSON token written verbatim (NaN, Infinity, long numbers): json.dumps cannot."""

    def __init__(self, text: str) -> None:
        self.text = text


def _dump_with_raw(data: Any) -> str:
    raws: list[str] = []

    def swap(x: Any) -> Any:
        if isinstance(x, Raw):
            raws.append(x.text)
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(x, dict):
            return {k: swap(v) for k, v in x.items()}
        if isinstance(x, list):
            return [swap(v) for v in x]
        return x

    text = json.dumps(swap(data), indent=2) + "\n"
    for i, r in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', r)
    return text


def edit(path: list[Any], value: Any) -> Callable[[Any], None]:
    """Set data[path...] = value."""

    def fn(data: Any) -> None:
        for k in path[:-1]:
            data = data[k]
        data[path[-1]] = value

    return fn


def insert(path: list[Any], index: int, value: Any) -> Callable[[Any], None]:
    """Insert value into the list at data[path...]."""

    def fn(data: Any) -> None:
        for k in path:
            data = data[k]
        data.insert(index, value)

    return fn


@dataclass
class Case:
    id: str
    file: str  # the memory file mutated, e.g. "vault.json"
    json_edit: Callable[[Any], None] | None = None  # mutate the parsed JSON
    text_edit: Callable[[str], str] | None = None  # or mutate the text
    where: str | None = None  # the JSON path the message must give; None: "line N"
    found: str = ""  # what was found: the message must show it
    code: int = 3
    bug: str | None = None  # xfail reason

    def apply(self, home: Path) -> None:
        p = home / "memory" / self.file
        text = p.read_text()
        if self.text_edit is not None:
            new = self.text_edit(text)
        else:
            data = json.loads(text)
            assert self.json_edit is not None
            self.json_edit(data)
            new = _dump_with_raw(data)
        assert new != text, f"case {self.id} did not change {self.file}"
        p.write_text(new)


def _truncate(t: str) -> str:
    return t[: len(t) // 2]


def _kill_switch_twice(t: str) -> str:
    """An operator's edit that adds a key without removing the old one."""
    old = '"global_kill_switch": false,'
    assert old in t
    return t.replace(old, '"global_kill_switch": true,\n  ' + old)


def _trailing_comma(t: str) -> str:
    body = t.rstrip()
    assert body.endswith("}")
    return body[:-1].rstrip() + ",\n}\n"  # {"a": 1,}


NO_LOCATION = ("BUG: vanta/canonical.py loads(): a number refused by the reader (NaN/Infinity token, "
               "too many digits, integer beyond 2**53) is reported with an empty path, so the message "
               "names neither a JSON path nor a line/column")
FAST_FLOAT = ("BUG: vanta/canonical.py loads(): the orjson fast path (taken when the text has no run of 16+ "
              "digits/dots) returns Python floats for numbers with a fraction or exponent - "
              "loads(b'{\"scale\": 0.25}') gives 0.25 as a float, 0.12 -> 0.12 (float), 1e2 -> 100.0 - "
              "not the int or exact Decimal its docstring promises")
TINY_FLOAT = ("BUG: vanta/canonical.py loads(): on the orjson fast path a short number outside the normal double "
              "range is silently changed: 1e-400 is read as 0.0 and 4e-324 as 5e-324 (neither refused nor exact)")
LAX_BOOL = ("BUG: vanta/models.py: bool fields use pydantic's lax mode, so a string such as \"yes\" or the "
            "number 1 is silently taken as true instead of being refused")

CASES = [
    # broken JSON: the message gives the line (and column)
    Case("truncated_file", "vault.json", text_edit=_truncate),
    Case("trailing_comma", "portfolio.json", text_edit=_trailing_comma),
    Case("byte_order_mark", "vault_overlay.json", text_edit=lambda t: "\ufeff" + t, found="byte-order mark"),
    # a key written twice: readers disagree on which counts
    Case("key_written_twice", "vault_overlay.json", text_edit=_kill_switch_twice,
         where="/global_kill_switch", found="'global_kill_switch'"),
    # wrong types
    Case("string_for_bool", "vault_overlay.json", edit(["global_kill_switch"], "maybe"),
         where="/global_kill_switch", found="'maybe'"),
    Case("string_yes_for_bool", "vault_overlay.json", edit(["global_kill_switch"], "yes"),
         where="/global_kill_switch", found="'yes'"),
    Case("number_for_bool", "vault_overlay.json", edit(["global_kill_switch"], 1),
         where="/global_kill_switch", found="1"),
    # an instant in the right form that names no real date or time
    Case("impossible_date", "vault_overlay.json",
         edit(["vaults", "V_QUIET", "flip"], {"persona": "aggressive", "expires_at": "2026-13-01T00:00:00Z"}),
         where="/vaults/V_QUIET/flip/expires_at", found="2026-13-01T00:00:00Z"),
    Case("impossible_time", "vault_overlay.json",
         edit(["vaults", "V_QUIET", "flip"], {"persona": "aggressive", "expires_at": "2026-11-30T24:00:00Z"}),
         where="/vaults/V_QUIET/flip/expires_at", found="2026-11-30T24:00:00Z"),
    Case("object_for_list", "vault.json", edit(["vaults", 0, "universe"], {"AAPL": 1}),
         where="/vaults/0/universe", found="AAPL"),
    Case("object_for_followers_list", "mirror_registry.json", edit(["followers"], {}),
         where="/followers", found="{}"),
    # unknown field
    Case("unknown_field", "vault.json", edit(["vaults", 0, "risk", "max_drawdwn"], "0.12"),
         where="/vaults/0/risk/max_drawdwn", found="0.12"),
    # a number written with an exponent is shown as written, not as Python's Decimal('1E+400')
    Case("huge_exponent", "vault.json", edit(["vaults", 0, "risk", "max_drawdown"], Raw("1e400")),
         where="/vaults/0/risk/max_drawdown", found="found 1E+400"),
    # negative quantities
    Case("negative_cash", "portfolio.json", edit(["followers", "F_1042", "USD", "cash"], "-1.00"),
         where="/followers/F_1042/USD/cash", found="-1.00"),
    Case("negative_lot_quantity", "portfolio.json",
         edit(["vaults", "V_CORE", "positions"], {"AAPL": [["-1", "100.00"]]}),
         where="/vaults/V_CORE/positions/AAPL/0/0", found="-1"),
    Case("zero_lot_quantity", "portfolio.json",
         edit(["vaults", "V_CORE", "positions"], {"AAPL": [["0", "100.00"]]}),
         where="/vaults/V_CORE/positions/AAPL/0/0", found="0"),
    Case("zero_lot_quantity_in_a_sleeve", "portfolio.json",
         edit(["followers", "F_1042", "USD", "sleeves"],
              {"main": {"positions": {"AAPL": [["5", "500.00"], ["0", "100.00"]]}}}),
         where="/followers/F_1042/USD/sleeves/main/positions/AAPL/1/0", found="0"),
    Case("position_without_market", "portfolio.json",
         edit(["followers", "F_1042", "USD", "sleeves"], {"main": {"positions": {"ZZZ": [["1", "10.00"]]}}}),
         where="/followers/F_1042/USD/sleeves/main/positions/ZZZ", found="ZZZ"),
    # NaN and Infinity, as bare tokens and as strings
    Case("nan_token", "vault.json", edit(["vaults", 0, "risk", "max_drawdown"], Raw("NaN")),
         where="/vaults/0/risk/max_drawdown", found="NaN"),
    Case("nan_string", "vault.json", edit(["vaults", 0, "risk", "max_drawdown"], "NaN"),
         where="/vaults/0/risk/max_drawdown", found="NaN"),
    Case("infinity_token", "vault.json", edit(["vaults", 0, "risk", "max_drawdown"], Raw("Infinity")),
         where="/vaults/0/risk/max_drawdown", found="Infinity"),
    Case("minus_infinity_token", "portfolio.json",
         edit(["followers", "F_1042", "USD", "cash"], Raw("-Infinity")),
         where="/followers/F_1042/USD/cash", found="-Infinity"),
    Case("infinity_string", "vault.json", edit(["vaults", 0, "risk", "max_drawdown"], "Infinity"),
         where="/vaults/0/risk/max_drawdown", found="Infinity"),
    # numbers a binary-float reader could not carry exactly
    Case("too_many_digits", "vault.json",
         edit(["vaults", 0, "risk", "max_drawdown"], Raw("0.12345678901234567")),
         where="/vaults/0/risk/max_drawdown", found="0.12345678901234567"),
    Case("huge_integer", "portfolio.json",
         edit(["followers", "F_1042", "USD", "cash"], Raw("12345678901234567890")),
         where="/followers/F_1042/USD/cash", found="12345678901234567890"),
    # wrong schema string, unknown currency
    Case("wrong_schema", "vault.json", edit(["schema"], "vanta.vault/2"),
         where="/schema", found="vanta.vault/2"),
    Case("unknown_currency", "vault.json", edit(["vaults", 0, "base_currency"], "XYZ"),
         where="/vaults/0/base_currency", found="XYZ"),
    # cross-file consistency
    Case("follower_of_missing_vault", "mirror_registry.json", edit(["followers", 0, "vault_id"], "V_NOPE"),
         where="/followers/0/vault_id", found="V_NOPE"),
    Case("universe_symbol_without_market", "vault.json", insert(["vaults", 0, "universe"], 0, "TSLA"),
         where="/vaults/0/universe/0", found="TSLA"),
]


def _params() -> list[Any]:
    out = []
    for c in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=c.bug)] if c.bug else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("bad_input_templates")
    fresh, used = base / "fresh", base / "used"
    for h in (fresh, used):
        r = vanta("init", str(h))
        assert r.returncode == 0, r.stderr
    r = vanta("cycle", "--home", str(used), "--asof", ASOF_1)
    assert r.returncode == 0, r.stderr
    assert (used / "replays" / "cycles").is_dir() and (used / "broker").is_dir()
    return {"fresh": fresh, "used": used}


@pytest.fixture(params=["fresh", "used"])
def home(request: pytest.FixtureRequest, templates: dict[str, Path], tmp_path: Path) -> tuple[Path, str]:
    """A copy of a template home and the asof for its next cycle."""
    dst = tmp_path / "home"
    shutil.copytree(templates[request.param], dst)
    return dst, ASOF_1 if request.param == "fresh" else ASOF_2


# ---------------------------------------------------------------- the message


MESSAGE = re.compile(
    r"^Error: (?P<file>[\w./-]+?)(?::(?P<path>/\S*|line \d+ column \d+))?: (?P<problem>.+); (?P<fix>[^;]+)$")


def check_message(stderr: str, file: str, where: str | None, found: str) -> re.Match[str]:
    assert "Traceback" not in stderr
    assert stderr.startswith("Error: "), stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, f"expected one line: {stderr!r}"
    m = MESSAGE.match(stderr.rstrip("\n"))
    assert m, f"not `Error: FILE[:PATH]: PROBLEM; FIX`: {stderr!r}"
    assert m["file"] == file, stderr
    if where is None:  # a syntax error: the line (and column) instead of a JSON path
        assert re.fullmatch(r"line \d+ column \d+", m["path"] or ""), f"no line and column: {stderr!r}"
    else:
        assert m["path"] == where, f"expected JSON path {where}: {stderr!r}"
    assert found in m["problem"], f"the message does not show what was found ({found}): {stderr!r}"
    assert m["fix"].strip(), stderr
    return m


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("case", _params())
def test_bad_memory_file_stops_the_cycle_and_writes_nothing(case: Case, home: tuple[Path, str]) -> None:
    root, asof = home
    case.apply(root)
    before = snapshot(root)
    r = vanta("cycle", "--home", str(root), "--asof", asof)
    assert r.returncode == case.code, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert "Traceback" not in r.stdout + r.stderr
    assert r.stdout == ""
    check_message(r.stderr, f"memory/{case.file}", case.where, case.found)
    assert snapshot(root) == before, "a refused cycle wrote something"


def test_message_format_example(tmp_path: Path) -> None:
    """The documented shape, on the documented example field."""
    root = tmp_path / "h"
    assert vanta("init", str(root)).returncode == 0
    Case("", "vault.json", edit(["vaults", 0, "risk", "max_drawdown"], "1.5")).apply(root)
    r = vanta("cycle", "--home", str(root), "--asof", ASOF_1)
    assert r.returncode == 3
    m = check_message(r.stderr, "memory/vault.json", "/vaults/0/risk/max_drawdown", "1.5")
    assert "less than or equal to 1" in m["problem"]


def test_missing_memory_file_is_a_state_error(tmp_path: Path) -> None:
    root = tmp_path / "h"
    assert vanta("init", str(root)).returncode == 0
    (root / "memory" / "portfolio.json").unlink()
    before = snapshot(root)
    r = vanta("cycle", "--home", str(root), "--asof", ASOF_1)
    assert r.returncode == 7, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.startswith("Error: ")
    assert "memory/portfolio.json" in r.stderr
    assert "; " in r.stderr and "vanta init" in r.stderr  # the fix
    assert snapshot(root) == before


def test_unknown_currency_message_keeps_codes_as_written(tmp_path: Path) -> None:
    root = tmp_path / "h"
    assert vanta("init", str(root)).returncode == 0
    Case("", "vault.json", edit(["vaults", 0, "base_currency"], "XYZ")).apply(root)
    r = vanta("cycle", "--home", str(root), "--asof", ASOF_1)
    assert r.returncode == 3
    msg = r.stderr
    assert "'xyz'" not in msg and "usd" not in msg.replace("USD", ""), msg
    assert "value error" not in msg, msg
    assert msg.count("; ") == 1, msg
    m = MESSAGE.match(msg.rstrip("\n"))
    assert m and "USD" in m["fix"], msg


def test_bad_dict_key_path_is_a_json_pointer(tmp_path: Path) -> None:
    root = tmp_path / "h"
    assert vanta("init", str(root)).returncode == 0
    Case("", "portfolio.json", edit(["followers", "F_1042", "cash"], {"XYZ": "1.00"})).apply(root)
    r = vanta("cycle", "--home", str(root), "--asof", ASOF_1)
    assert r.returncode == 3
    assert "[key]" not in r.stderr, r.stderr
    assert re.match(r"Error: memory/portfolio\.json:/followers/F_1042/cash(/XYZ)?: ", r.stderr), r.stderr


def test_wrong_container_message_speaks_json(tmp_path: Path) -> None:
    root = tmp_path / "h"
    assert vanta("init", str(root)).returncode == 0
    Case("", "vault.json", edit(["vaults", 0, "universe"], {"AAPL": 1})).apply(root)
    r = vanta("cycle", "--home", str(root), "--asof", ASOF_1)
    assert r.returncode == 3
    assert "tuple" not in r.stderr and re.search(r"\b(list|array)\b", r.stderr), r.stderr


# ---------------------------------------------------------------- numbers written by hand

# Copied literally from /work/shared/seeds/000_*.txt ("Example `vault.json`").
SEED_VAULT_JSON = """{
  "vaults": [
    {
      "vault_id": "V_CORE",
      "base_currency": "USD",
      "crypto_enabled": true,
      "personas": ["risk_averse","contrarian","aggressive"],
      "risk": {
        "max_drawdown": 0.12,
        "max_single_pos_pct": 0.08
      },
      "mirroring": {
        "mode": "proportional",
        "min_account_equity": 5000,
        "fee": {"type":"performance_or_flat","flat_usd":2000,"perf_share":0.20}
      }
    }
  ]
}"""

# Seed 000, "API Packet Onboarding".
SEED_API_PACKET = """{
  "user_id": "F_1042",
  "brokers": {
    "equities": {"adapter": "alpaca", "account_ref": "alpaca_F1042"},
    "crypto":   {"adapter": "coinbase", "account_ref": "cb_F1042"}
  },
  "persona": "risk_averse",
  "mirroring_mode": "proportional",
  "scale": 0.25,
  "fee_model": {"perf_share": 0.20}
}"""


def _seed_text() -> str | None:
    seeds = sorted(Path("/work/shared/seeds").glob("000_*.txt"))
    return seeds[0].read_text() if seeds else None


def test_seed_examples_are_copied_literally() -> None:
    text = _seed_text()
    if text is None:
        pytest.skip("seed 000 not available")
    assert SEED_VAULT_JSON in text
    assert SEED_API_PACKET in text


def test_seed_vault_json_parses_exactly() -> None:
    vf = parse(SEED_VAULT_JSON.encode(), VaultFile, "vault.json")
    v = vf.vaults[0]
    assert v.vault_id == "V_CORE"
    for got, want in [(v.risk.max_drawdown, "0.12"), (v.risk.max_single_pos_pct, "0.08"),
                      (v.mirroring.min_account_equity, "5000"), (v.mirroring.fee.perf_share, "0.20"),
                      (v.mirroring.fee.flat_usd, "2000")]:
        assert isinstance(got, Decimal) and got == Decimal(want), (got, want)
    assert str(v.risk.max_drawdown) == "0.12" and str(v.mirroring.min_account_equity) == "5000"


def test_seed_api_packet_numbers_are_exact() -> None:
    data = canonical.loads(SEED_API_PACKET.encode(), "packet.json")
    assert isinstance(data["scale"], Decimal) and data["scale"] == Decimal("0.25"), repr(data["scale"])
    perf = data["fee_model"]["perf_share"]
    assert isinstance(perf, Decimal) and perf == Decimal("0.20"), repr(perf)


@pytest.mark.parametrize("text, want", [
    pytest.param("5000", 5000, id="int"),
    pytest.param("-7", -7, id="negative-int"),
    pytest.param("9007199254740992", 2**53, id="2**53"),
    pytest.param("0.12", Decimal("0.12"), id="0.12"),
    pytest.param("0.25", Decimal("0.25"), id="0.25"),
    pytest.param("123456789012.345", Decimal("123456789012.345"), id="15-digits"),
    pytest.param("0.000000000000001", Decimal("1E-15"), id="tiny"),
    pytest.param("1e2", Decimal("1e2"), id="exponent"),
])
def test_numbers_read_exactly(text: str, want: Any) -> None:
    got = canonical.loads(f'{{"x": {text}}}'.encode(), "f.json")["x"]
    assert type(got) is type(want) and got == want, repr(got)


@pytest.mark.parametrize("text", [
    pytest.param("1e-400", id="1e-400"),
    pytest.param("4e-324", id="4e-324"),
    pytest.param("1e400", id="1e400"),
])
def test_numbers_outside_double_range_are_exact_or_refused(text: str) -> None:
    try:
        got = canonical.loads(f'{{"x": {text}}}'.encode(), "f.json")["x"]
    except InputError as e:
        assert e.fix
        return
    assert isinstance(got, Decimal) and got == Decimal(text), repr(got)


@pytest.mark.parametrize("text", [
    pytest.param("0.12345678901234567", id="17-digits"),
    pytest.param("1234567890123456.7", id="17-digits-int-part"),
    pytest.param("12345678901234567890", id="huge-int"),
    pytest.param("-12345678901234567890", id="huge-negative-int"),
    pytest.param("9007199254740993", id="2**53+1"),
    pytest.param("NaN", id="NaN"),
    pytest.param("Infinity", id="Infinity"),
    pytest.param("-Infinity", id="-Infinity"),
])
def test_numbers_refused_with_a_fix(text: str) -> None:
    with pytest.raises(InputError) as ei:
        canonical.loads(f'{{"x": {text}}}'.encode(), "f.json")
    e = ei.value
    assert e.file == "f.json" and e.fix
    assert text.lstrip("-") in e.message


def test_cycle_reads_hand_written_numbers(tmp_path: Path) -> None:
    """An operator writes 0.12 and 5000 as plain JSON numbers in vault.json."""
    root = tmp_path / "h"
    assert vanta("init", str(root)).returncode == 0
    p = root / "memory" / "vault.json"
    text = p.read_text()
    new = (text.replace('"max_drawdown": "0.12"', '"max_drawdown": 0.12')
               .replace('"min_account_equity": "5000"', '"min_account_equity": 5000'))
    assert new.count(": 0.12") == 1 and new.count(": 5000") == 1
    p.write_text(new)
    r = vanta("cycle", "--home", str(root), "--asof", ASOF_1)
    assert r.returncode == 0, r.stderr


def test_vouched_names_exactly_the_files_the_last_change_committed(templates: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    """Only bytes the last cycle recorded skip the strict reader; a fresh home (no log) has none."""
    from vanta.home import Home, digests, last_log_line, vouched
    from vanta.models import MEMORY_FILES

    fresh = Home(templates["fresh"])
    assert vouched(last_log_line(fresh.log), digests(fresh.read_memory())) == frozenset()
    root = tmp_path / "home"
    shutil.copytree(templates["used"], root)
    home = Home(root)
    assert vouched(last_log_line(home.log), digests(home.read_memory())) == frozenset(MEMORY_FILES)
    p = root / "memory" / "vault_overlay.json"
    p.write_text(p.read_text() + " ")  # same JSON, other bytes
    edited = vouched(last_log_line(home.log), digests(home.read_memory()))
    assert edited == frozenset(MEMORY_FILES) - {"vault_overlay.json"}
