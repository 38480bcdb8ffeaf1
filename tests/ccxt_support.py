"""Helpers of the ccxt adapter tests: ccxt's static fixtures read in place, real ccxt
exchange objects whose HTTP goes to a recorder, and vanta orders to send."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from vanta import faults, journal
from vanta.brokers.ccxt_exchange import make_exchange, use_transport
from vanta.cycle import LiveEdge, drive
from vanta.home import Home, locked
from vanta.models import Market, Order

STATIC = Path(os.environ.get("VANTA_CCXT_STATIC")
              or Path(__file__).resolve().parents[2] / "shared" / "ccxt-static")

# Symbols some request cases use that the markets files lack (see the fixtures' README).
EXTRA = {"kraken": {"LTC/USD": ("LTC/USDT", {"id": "XLTCZUSD", "altname": "LTCUSD", "quote": "USD",
                                              "quoteId": "ZUSD"})},
         "binance": {"SOL/USDT": ("LTC/USDT", {"id": "SOLUSDT", "base": "SOL", "baseId": "SOL"})}}


def need_static() -> Path:
    if not (STATIC / "markets").is_dir():
        pytest.skip(f"ccxt static fixtures not found at {STATIC}: put ccxt's ts/src/test/static "
                    "(request/, response/, markets/) there or set VANTA_CCXT_STATIC")
    return STATIC


def fixture(kind: str, exid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((need_static() / kind / f"{exid}.json").read_text())
    return data


def markets(exid: str) -> dict[str, dict[str, Any]]:
    import ccxt.async_support as ccxt_async

    blank = getattr(ccxt_async, exid)().safe_market_structure()
    raw = fixture("markets", exid)
    for sym, (like, changes) in EXTRA.get(exid, {}).items():
        raw[sym] = {**raw[like], **changes, "symbol": sym, "info": {**raw[like].get("info", {}), **changes}}
    out = {}
    for sym, m in raw.items():
        m = {**blank, **m}
        if exid == "binance":  # this file predates TICK_SIZE precision: digits, not steps
            m["precision"] = {k: (10.0 ** -v if isinstance(v, int) else v) for k, v in m["precision"].items()}
        out[sym] = m
    return out


class Recorder:
    """An exchange's HTTP: records each request, answers from a queue
    (status, JSON-able body); with no answer left it raises Captured."""

    class Captured(Exception):
        pass

    def __init__(self, answers: list[tuple[int, Any]] | None = None) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        self.answers = list(answers or [])

    async def __call__(self, url: str, method: str, headers: Any, body: str | None) -> tuple[int, str]:
        self.requests.append((method, url, body))
        if not self.answers:
            raise Recorder.Captured(url)
        status, answer = self.answers.pop(0)
        return status, answer if isinstance(answer, str) else json.dumps(answer)


def exchange(exid: str, answers: list[tuple[int, Any]] | None = None, keys: bool = True) -> tuple[Any, Recorder]:
    from vanta.brokers.secrets import KeySet

    ks = KeySet("test", "k" * 64, "c2VjcmV0" * 11, "pass") if keys else None
    if exid == "coinbase" and keys:  # coinbase signs with an EC key when the key looks like a CDP key
        ks = KeySet("test", "key", "secret")
    if exid == "alpaca" and keys:
        ks = KeySet("test", "key", "secret")
    ex = make_exchange(exid, ks, False, markets(exid))
    rec = Recorder(answers)
    use_transport(ex, rec)
    return ex, rec


def vanta_market(m: dict[str, Any]) -> Market:
    from vanta.brokers.ccxt_exchange import to_market

    conv = to_market(m)
    assert conv is not None
    return conv


def order(symbol: str, side: str, qty: str, price: str, coid: str = "vt" + "0" * 29 + "1",
          account: str = "follower:f1", status: str = "staged") -> Order:
    return Order.make(client_order_id=coid, cycle=1, vault_id="v1", account=account, sleeve="main",
                      symbol=symbol, side=side, qty=Decimal(qty), price=Decimal(price), status=status, attempts=0)


def live_cycle(home: Home, asof: str, pool: Any) -> Any:
    """One cycle as `vanta cycle` runs it (lock, recovery, the live edge) with the ccxt
    accounts on `pool` (a VenuePool factory); its context."""
    with locked(home):
        journal.recover(home)
        with LiveEdge(home, asof, ccxt_pool=pool) as edge:
            return drive(edge)[0]


class Crash(Exception):
    """The process dies at a fault point (see `crash_at`)."""


def crash_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """Raise Crash when the cycle reaches fault point `point`."""
    def hit(name: str) -> None:
        if name == point:
            raise Crash(name)

    monkeypatch.setattr(faults, "point", hit)
