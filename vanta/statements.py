"""`vanta fees statement --period 2026-11`: one statement per payer, from the ledger.

A statement lists every ledger entry that bills the period (its `period` field) for
one payer (`user_id`: a follower, a contributor, or a pooled vault paying its manager),
with the entry's id, its line in pnl_ledger.jsonl and the replay bundle of its cycle,
and totals per currency that are the sums of those lines: a billing system collects
the totals, an auditor follows any line to the ledger, the cycle and its fills.
Written as canonical JSON and CSV to `statements/<period>/<payer>.{json,csv}`.
"""

from __future__ import annotations

import csv
import io
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from vanta import canonical
from vanta.errors import InputError
from vanta.home import Home, settled
from vanta.models import LedgerEntry
from vanta.validate import parse

COLUMNS = ("entry_id", "ledger_line", "cycle", "bundle", "asof", "vault_id", "sleeve", "fee_type", "charge",
           "payee", "pnl_gross", "hwm_before", "hwm_after", "currency", "fee")


def _lines(home: Home) -> list[tuple[int, LedgerEntry]]:
    with settled(home):
        path = home.memory / "pnl_ledger.jsonl"
        raw = path.read_bytes() if path.exists() else b""
    out = []
    for n, line in enumerate(raw.split(b"\n")[:-1], 1):
        out.append((n, parse(line, LedgerEntry, f"memory/pnl_ledger.jsonl:{n}")))
    return out


MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
"""A billing period: a calendar month, YYYY-MM."""


def build(home: Home, period: str) -> dict[str, dict[str, Any]]:
    """payer -> statement for `period` (YYYY-MM)."""
    if not MONTH.fullmatch(period):
        raise InputError("command line", "/period", f"expected a month as YYYY-MM, found {period!r}",
                         "pass --period 2026-11")
    by_payer: dict[str, list[dict[str, Any]]] = {}
    for n, e in _lines(home):
        if e.period != period:
            continue
        by_payer.setdefault(e.user_id, []).append({
            "entry_id": e.entry_id, "ledger_line": n, "cycle": e.cycle, "bundle": f"replays/cycles/{e.cycle:06d}.json",
            "asof": e.asof, "vault_id": e.vault_id, "sleeve": e.sleeve, "fee_type": e.fee_type, "charge": e.charge,
            "payee": e.payee or "vanta", "pnl_gross": e.pnl_gross, "hwm_before": e.hwm_before,
            "hwm_after": e.hwm_after, "currency": e.currency, "fee": e.fee_usd, "orders": list(e.orders)})
    out: dict[str, dict[str, Any]] = {}
    for payer, lines in sorted(by_payer.items()):
        totals: dict[str, Decimal] = {}
        for ln in lines:
            totals[ln["currency"]] = totals.get(ln["currency"], Decimal(0)) + ln["fee"]
        out[payer] = {"schema": "vanta.fee_statement/1", "payer": payer, "period": period,
                      "totals": dict(sorted(totals.items())), "lines": lines}
    return out


def _csv(st: dict[str, Any]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for ln in st["lines"]:
        w.writerow([canonical.fmt_decimal(ln[c]) if isinstance(ln[c], Decimal) else ln[c] for c in COLUMNS])
    for cur, total in st["totals"].items():
        w.writerow(["TOTAL", "", "", "", "", "", "", "", "", "", "", "", "", cur, canonical.fmt_decimal(total)])
    return buf.getvalue().encode()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write(home: Home, period: str, out_dir: Path | None = None) -> dict[str, Any]:
    """Write every payer's statement; returns {folder, payers: {payer: totals}}."""
    statements = build(home, period)
    folder = out_dir or home.root / "statements" / period
    folder.mkdir(parents=True, exist_ok=True)
    for payer, st in statements.items():
        _write(folder / f"{payer}.json", canonical.dumps(st))
        _write(folder / f"{payer}.csv", _csv(st))
    return {"folder": str(folder), "period": period,
            "payers": {p: st["totals"] for p, st in statements.items()}}
