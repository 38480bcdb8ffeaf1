"""`vanta init`: make a working home.

The example home mirrors two vaults into five paper accounts over the packaged
historical feed. A synthetic home (`--followers F --symbols S --seed K`) has one
momentum vault over S random-walk symbols whose signals move every bar, so every
cycle sends child orders to every follower: the benchmark's workload.
"""

from __future__ import annotations

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

from vanta import canonical
from vanta.errors import StateError
from vanta.models import MEMORY_FILES

GITIGNORE = "# vanta's working files: lock, journal, in-flight record, the paper venue's books\n.vanta/\nbroker/\n"


def _empty_files() -> dict[str, Any]:
    return {
        "vault_overlay.json": {"schema": "vanta.vault_overlay/1", "global_kill_switch": False, "vaults": {}},
        "conviction_score.json": {"schema": "vanta.conviction_score/1", "scores": {}},
        "vault_allocation.json": {"schema": "vanta.vault_allocation/1", "cycle": 0, "vaults": {}},
        "pnl_summary.json": {"schema": "vanta.pnl_summary/1", "cycle": 0, "vaults": {}, "followers": {}},
        "autotrade_queue.json": {"schema": "vanta.autotrade_queue/1", "orders": []},
    }


def _market(lot: str = "0.0001") -> dict[str, str]:
    return {"quote": "USD", "lot_size": lot, "tick_size": "0.01", "min_notional": "1.00"}


def _account(cash: str) -> dict[str, Any]:
    return {"cash": {"USD": cash}, "positions": {}}


def _follower(fid: str, vault: str, scale: str, **extra: Any) -> dict[str, Any]:
    return {"follower_id": fid, "vault_id": vault, "mode": "proportional", "scale": scale,
            "account": {"adapter": "paper", "account_ref": f"paper:{fid}"}, **extra}


def example_files() -> dict[str, Any]:
    symbols = ["AAPL", "AMZN", "IBM", "MSFT"]
    vault = {
        "schema": "vanta.vault/1",
        "market_data": {"source": "builtin", "start_bar": 3},
        "markets": {s: _market() for s in symbols},
        "vaults": [
            {"vault_id": "V_CORE", "base_currency": "USD", "personas": ["risk_averse", "contrarian", "aggressive"],
             "risk": {"max_drawdown": "0.12", "max_single_pos_pct": "0.30"},
             "mirroring": {"mode": "proportional", "min_account_equity": "5000",
                           "fee": {"type": "performance_or_flat", "flat_usd": "2000", "perf_share": "0.20"}},
             "strategy": {"kind": "momentum", "lookback": 3, "full_scale": "0.10"},
             "universe": symbols,
             "execution": {"adapter": "paper", "slippage_bps": "5", "fee_bps": "10"}},
            {"vault_id": "V_QUIET", "base_currency": "USD",
             "risk": {"max_drawdown": "0.08", "max_single_pos_pct": "0.25"},
             "mirroring": {"mode": "proportional", "min_account_equity": "1000"},
             "strategy": {"kind": "conviction_file"},
             "universe": ["IBM", "MSFT"],
             "execution": {"adapter": "paper", "slippage_bps": "2", "fee_bps": "5"}},
        ],
    }
    files = _empty_files()
    files["vault.json"] = vault
    files["conviction_score.json"]["scores"] = {"V_QUIET": {
        "IBM": {"score": "0.6", "source": "caller:desk", "asof": "2026-11-01T00:00:00Z"},
        "MSFT": {"score": "0.4", "source": "caller:desk", "asof": "2026-11-01T00:00:00Z"}}}
    files["vault_overlay.json"]["vaults"] = {
        "V_QUIET": {"maintenance": False, "kill_switch": False,
                    "flip": {"persona": "aggressive", "expires_at": "2026-11-03T00:00:00Z"}}}
    files["mirror_registry.json"] = {"schema": "vanta.mirror_registry/1", "followers": [
        _follower("F_1042", "V_CORE", "0.25", persona="risk_averse", fee_model={"perf_share": "0.20"}),
        _follower("F_2001", "V_CORE", "1"),
        _follower("F_2002", "V_CORE", "1", kill_switch=True),
        _follower("F_2003", "V_CORE", "1"),
        _follower("F_3001", "V_QUIET", "0.5"),
    ]}
    files["portfolio.json"] = {"schema": "vanta.portfolio/1", "cycle": 0,
                               "vaults": {"V_CORE": _account("100000.00"), "V_QUIET": _account("50000.00")},
                               "followers": {"F_1042": _account("80000.00"), "F_2001": _account("25000.00"),
                                             "F_2002": _account("30000.00"), "F_2003": _account("3000.00"),
                                             "F_3001": _account("12000.00")}}
    return files


def synthetic_files(followers: int, symbols: int, seed: int) -> dict[str, Any]:
    syms = [f"S{i:03d}" for i in range(symbols)]
    vault = {
        "schema": "vanta.vault/1",
        "market_data": {"source": "synthetic", "seed": seed, "start_bar": 10},
        "markets": {s: _market() for s in syms},
        "vaults": [{"vault_id": "V_SYN", "base_currency": "USD",
                    "risk": {"max_drawdown": "0.2", "max_single_pos_pct": str(min(Decimal(1), Decimal(3) / symbols)),
                             "rebalance_band": "0.01"},
                    "mirroring": {"mode": "proportional", "min_account_equity": "1000"},
                    "strategy": {"kind": "momentum", "lookback": 10, "full_scale": "0.10"},
                    "universe": syms,
                    "execution": {"adapter": "paper", "slippage_bps": "5", "fee_bps": "10"}}],
    }
    files = _empty_files()
    files["vault.json"] = vault
    ids = [f"F{i:06d}" for i in range(followers)]
    files["mirror_registry.json"] = {"schema": "vanta.mirror_registry/1",
                                     "followers": [_follower(f, "V_SYN", "1") for f in ids]}

    def equity(fid: str) -> str:
        h = int.from_bytes(hashlib.blake2b(f"{seed}|{fid}".encode(), digest_size=4).digest(), "big")
        return f"{10000 + h % 90000}.00"

    files["portfolio.json"] = {"schema": "vanta.portfolio/1", "cycle": 0,
                               "vaults": {"V_SYN": _account("1000000.00")},
                               "followers": {f: _account(equity(f)) for f in ids}}
    return files


def write_home(root: Path, files: dict[str, Any], force: bool) -> None:
    if (root / "memory").exists():
        if not force:
            raise StateError(f"{root} already holds a memory/ folder; choose a new DIR or pass --force "
                             "to replace it (its memory/, replays/ and broker/ are deleted)")
        for sub in ("memory", "replays", "broker", ".vanta"):
            shutil.rmtree(root / sub, ignore_errors=True)
    mem = root / "memory"
    mem.mkdir(parents=True)
    (root / "replays").mkdir(exist_ok=True)
    for name in MEMORY_FILES:
        (mem / name).write_bytes(canonical.dumps(files[name]))
    (mem / "trade_log.jsonl").write_bytes(b"")
    (mem / "pnl_ledger.jsonl").write_bytes(b"")
    gi = root / ".gitignore"
    if not gi.exists():
        gi.write_text(GITIGNORE)
