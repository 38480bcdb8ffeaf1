"""Issue #4, parts 4 and 5: statements from the ledger, and fees beside PnL in status."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from logbooks import D
from test_fees import BUY, SELL, at, home, ledger
from test_pool import at as pool_at
from test_pool import pool_home
from typer.testing import CliRunner

from vanta.cli import app
from vanta.errors import InputError
from vanta.home import Home
from vanta.pool_admin import request
from vanta.statements import build

runner = CliRunner()


def refused(r: Any, text: str) -> bool:
    """The command raised bad input (exit code 3 from the console script) naming `text`."""
    e = r.exception
    return isinstance(e, InputError) and int(e.code) == 3 and text in e.message


def test_statement_per_payer_traces_every_line_to_ledger_and_cycle(tmp_path: Path) -> None:
    sc = home(tmp_path, ["100", "105", "100", "110", "110"],
              {"type": "performance_or_flat", "flat_usd": "2000", "perf_share": "0.2"})
    at(sc, "2026-10-10T00:00:00Z", BUY)
    at(sc, "2026-10-20T00:00:00Z", SELL)  # +5,000: 1,000
    at(sc, "2026-11-01T00:00:00Z", BUY)  # October closes: top-up 1,000
    at(sc, "2026-11-20T00:00:00Z", SELL)  # +10,500: 2,100 (November's)
    r = runner.invoke(app, ["fees", "statement", "--period", "2026-10", "--home", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["payers"] == {"F": {"USD": "2000.00"}}
    folder = tmp_path / "statements" / "2026-10"
    st = json.loads((folder / "F.json").read_bytes())
    entries = ledger(tmp_path)
    assert [ln["entry_id"] for ln in st["lines"]] == ["2-1", "3-1"]
    for ln in st["lines"]:
        e = entries[ln["ledger_line"] - 1]  # the line it cites is the entry it copies
        assert (e["entry_id"], e["fee_usd"], e["cycle"]) == (ln["entry_id"], ln["fee"], ln["cycle"])
        assert (tmp_path / ln["bundle"]).exists()
    assert sum(D(ln["fee"]) for ln in st["lines"]) == D(st["totals"]["USD"]) == 2000
    rows = list(csv.reader(io.StringIO((folder / "F.csv").read_text())))
    assert rows[0][0] == "entry_id" and rows[-1] == ["TOTAL"] + [""] * 12 + ["USD", "2000.00"]
    assert [r[0] for r in rows[1:-1]] == ["2-1", "3-1"]
    nov = build(Home(tmp_path), "2026-11")
    assert nov["F"]["totals"] == {"USD": Decimal("2100.00")}
    with pytest.raises(InputError, match="YYYY-MM"):  # the library's own check
        build(Home(tmp_path), "2026-13")
    for period in ("2026-13", "2026-1", "2026-11-01", "11-2026"):  # the command's: a usage error, nothing written
        bad = runner.invoke(app, ["fees", "statement", "--period", period, "--home", str(tmp_path)])
        assert bad.exit_code == 2 and "YYYY-MM" in bad.output, bad.output
        assert not (tmp_path / "statements" / period).exists()


def test_status_shows_fees_beside_pnl(tmp_path: Path) -> None:
    sc = home(tmp_path, ["100", "105"], {"perf_share": "0.2"})
    sc.cycle(BUY)
    sc.cycle(SELL)
    r = runner.invoke(app, ["status", "--home", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    [f] = json.loads(r.stdout)["followers"]
    assert (D(f["pnl"]["realized_pnl"]), D(f["fees"]["charged"]), D(f["fees"]["realized_net_of_fees"])) == \
        (5000, 1000, 4000)
    r = runner.invoke(app, ["status", "--home", str(tmp_path)], env={"COLUMNS": "300"})
    assert r.exit_code == 0 and "vanta fees" in r.stdout and "net of fees" in r.stdout
    row = next(line for line in r.stdout.splitlines() if line.lstrip("│ ").startswith("F "))
    assert "1000.00" in row and "4000.00" in row


def test_status_and_contributors_show_the_pool(tmp_path: Path) -> None:
    sc = pool_home(tmp_path, ["100", "100"])
    pool_at(sc, 0)
    request(Home(tmp_path), "P", "B", "deposit", amount_in=Decimal("100.00"), asof="2026-11-01T00:30:00Z")
    r = runner.invoke(app, ["contributors", "P", "--home", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    assert [p["contributor_id"] for p in json.loads(r.stdout)["pending"]] == ["B"]
    pool_at(sc, 3)
    out = json.loads(runner.invoke(app, ["status", "--home", str(tmp_path), "--json"]).stdout)
    [pool] = out["pools"]
    assert {c["contributor_id"]: c["value"] for c in pool["contributors"]} == {"B": "100.00", "M": "900.00"}


def test_deposit_command_refuses_over_capacity_with_exit_3(tmp_path: Path) -> None:
    sc = pool_home(tmp_path, ["100"], max_capacity="950")
    pool_at(sc, 0)
    before = (tmp_path / "memory" / "autotrade_queue.json").read_bytes()
    r = runner.invoke(app, ["deposit", "P", "B", "100.00", "--home", str(tmp_path), "--asof", "2026-11-01T01:00:00Z"])
    assert refused(r, "capped at 950 USD") and refused(r, "deposit at most 50.00")
    assert (tmp_path / "memory" / "autotrade_queue.json").read_bytes() == before
    r = runner.invoke(app, ["deposit", "P", "B", "50.00", "--home", str(tmp_path), "--asof", "2026-11-01T01:00:00Z"])
    assert r.exit_code == 0 and "pending until the next rollover" in r.stdout
    r = runner.invoke(app, ["withdraw", "P", "B", "--home", str(tmp_path)])
    assert r.exit_code == 2 and "give SHARES or --all" in r.output  # a usage error, checked where parsed
