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
        "pnl_summary.json": {"schema": "vanta.pnl_summary/2", "cycle": 0, "vaults": {}, "followers": {}},
        "autotrade_queue.json": {"schema": "vanta.autotrade_queue/1", "orders": []},
    }


def _market(lot: str = "0.0001") -> dict[str, str]:
    return {"quote": "USD", "lot_size": lot, "tick_size": "0.01", "min_notional": "1.00"}


def _account(cash: str) -> dict[str, Any]:
    return {"cash": {"USD": cash}, "positions": {}}


def _core(quote: str, fid: str, sleeves: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"quote": quote, "account": {"adapter": "paper", "account_ref": f"paper:{fid}"},
            "sleeves": sleeves, **extra}


def _sleeve(sid: str, vault: str, mode: str = "proportional", **extra: Any) -> dict[str, Any]:
    return {"sleeve_id": sid, "vault_id": vault, "mode": mode, **extra}


def _follower(fid: str, cores: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"follower_id": fid, "cores": cores, **extra}


def example_files() -> dict[str, Any]:
    symbols = ["AAPL", "AMZN", "IBM", "MSFT"]
    vault = {
        "schema": "vanta.vault/1",
        "market_data": {"source": "builtin", "start_bar": 3},
        "markets": {s: _market() for s in symbols},
        "vaults": [
            {"vault_id": "V_CORE", "base_currency": "USD", "personas": ["risk_averse", "contrarian", "aggressive"],
             "risk": {"max_drawdown": "0.12", "max_single_pos_pct": "0.30"},
             "mirroring": {"mode": "proportional", "min_account_equity": "5000", "small_orders": "accumulate",
                           "drift_threshold": "0.05",
                           "fee": {"type": "performance_or_flat", "flat_usd": "2000", "perf_share": "0.20"}},
             "strategy": {"kind": "momentum", "lookback": 3, "full_scale": "0.10"},
             "universe": symbols,
             "execution": {"adapter": "paper", "slippage_bps": "5", "fee_bps": "10"}},
            {"vault_id": "V_FLASH", "base_currency": "USD",
             "risk": {"max_drawdown": "0.25", "max_single_pos_pct": "0.50"},
             "mirroring": {"mode": "scaled_trades", "min_account_equity": "1000"},
             "strategy": {"kind": "momentum", "lookback": 1, "full_scale": "0.05"},
             "universe": ["AAPL", "AMZN"],
             "execution": {"adapter": "paper", "slippage_bps": "5", "fee_bps": "10"}},
            {"vault_id": "V_QUIET", "base_currency": "USD", "personas": ["aggressive"],
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
    files["mirror_registry.json"] = {"schema": "vanta.mirror_registry/2", "followers": [
        # Seed 000's packet: one Core Vault, one compounding sleeve.
        _follower("F_1042", [_core("USD", "F_1042", [_sleeve("main", "V_CORE", scale="0.25")])],
                  persona="risk_averse", fee_model={"perf_share": "0.20"}),
        # Seed 001's example (x 1000): 20,012.53 total, 15,000 tradeable, Quiet 10,000, Flash 5,000.
        _follower("F_2001", [_core("USD", "F_2001", [
            _sleeve("quiet", "V_QUIET", allocation="10000"),
            _sleeve("flash", "V_FLASH", "scaled_trades", profit="sweep", allocation="5000")],
            tradeable="15000")]),
        _follower("F_2002", [_core("USD", "F_2002", [_sleeve("main", "V_CORE")])], kill_switch=True),
        _follower("F_2003", [_core("USD", "F_2003", [_sleeve("main", "V_CORE", "fixed_ratio", ratio="0.05")])]),
        _follower("F_3001", [_core("USD", "F_3001", [_sleeve("main", "V_QUIET", "target", scale="0.5")])]),
        _follower("F_6001", [_core("USD", "F_6001", [_sleeve("main", "V_CORE")])]),
        _follower("F_4001", [_core("USD", "F_4001", [_sleeve("main", "V_CORE", "fixed_amount", amount="1500")])],
                  caps={"max_pos_usd": "4000", "block": ["AMZN"], "slippage_guard_bps": "20"}),
        _follower("F_5001", [
            _core("USD", "F_5001", [_sleeve("contra", "V_CORE", persona="contrarian")]),
            _core("USDC", "F_5001", [_sleeve("stable", "V_CORE")])]),
    ]}
    files["portfolio.json"] = {"schema": "vanta.portfolio/2", "cycle": 0,
                               "vaults": {"V_CORE": _account("100000.00"), "V_FLASH": _account("40000.00"),
                                          "V_QUIET": _account("50000.00")},
                               "followers": {
                                   "F_1042": {"USD": {"cash": "80000.00"}},
                                   "F_2001": {"USD": {"cash": "20012.53"}},
                                   "F_2002": {"USD": {"cash": "30000.00"}},
                                   "F_2003": {"USD": {"cash": "8000.00"}},
                                   "F_3001": {"USD": {"cash": "12000.00"}},
                                   "F_4001": {"USD": {"cash": "15000.00"}},
                                   "F_5001": {"USD": {"cash": "20000.00"}, "USDC": {"cash": "5000.000000"}},
                                   "F_6001": {"USD": {"cash": "3000.00"}}}}
    return files


MODES = ("proportional", "fixed_ratio", "fixed_amount", "target", "scaled_trades")
_MODE_TERMS = {"fixed_ratio": {"ratio": "0.02"}, "fixed_amount": {"amount": "500"}}


def synthetic_files(followers: int, symbols: int, seed: int, mode: str = "proportional") -> dict[str, Any]:
    syms = [f"S{i:03d}" for i in range(symbols)]
    vault = {
        "schema": "vanta.vault/1",
        "market_data": {"source": "synthetic", "seed": seed, "start_bar": 10},
        "markets": {s: _market() for s in syms},
        "vaults": [{"vault_id": "V_SYN", "base_currency": "USD",
                    "risk": {"max_drawdown": "0.2", "max_single_pos_pct": str(min(Decimal(1), Decimal(3) / symbols)),
                             "rebalance_band": "0.01"},
                    "mirroring": {"mode": mode, "min_account_equity": "1000"},
                    "strategy": {"kind": "momentum", "lookback": 10, "full_scale": "0.10"},
                    "universe": syms,
                    "execution": {"adapter": "paper", "slippage_bps": "5", "fee_bps": "10"}}],
    }
    files = _empty_files()
    files["vault.json"] = vault
    ids = [f"F{i:06d}" for i in range(followers)]
    sleeve = _sleeve("main", "V_SYN", mode, **_MODE_TERMS.get(mode, {}))
    files["mirror_registry.json"] = {"schema": "vanta.mirror_registry/2",
                                     "followers": [_follower(f, [_core("USD", f, [sleeve])]) for f in ids]}

    def equity(fid: str) -> str:
        h = int.from_bytes(hashlib.blake2b(f"{seed}|{fid}".encode(), digest_size=4).digest(), "big")
        return f"{10000 + h % 90000}.00"

    files["portfolio.json"] = {"schema": "vanta.portfolio/2", "cycle": 0,
                               "vaults": {"V_SYN": _account("1000000.00")},
                               "followers": {f: {"USD": {"cash": equity(f)}} for f in ids}}
    return files


def write_home(root: Path, files: dict[str, Any], force: bool) -> None:
    if (root / "memory").exists():
        if not force:
            raise StateError(f"{root} already holds a memory/ folder; choose a new DIR or pass --force "
                             "to replace it (its memory/, replays/ and broker/ are deleted)")
        from vanta.home import Home, locked

        with locked(Home(root), writes=False):  # never from under a running cycle (exit 4)
            for sub in ("memory", "replays", "broker"):
                shutil.rmtree(root / sub, ignore_errors=True)
        shutil.rmtree(root / ".vanta", ignore_errors=True)
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
