"""Price feeds for paper trading: one bar per cycle (cycle N reads bar start_bar + N - 1).

`builtin`: monthly closes of AAPL, AMZN, IBM and MSFT, 2000-01 to 2010-03, from the
vega_datasets package (see vanta/data/SOURCE.md). `synthetic`: a seeded random walk,
the same for the same seed on every machine. `csv`: a file in the home with
columns date,symbol,close.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

from vanta.errors import InputError, StateError
from vanta.models import MarketData
from vanta.money import ONE, half_even


@dataclass(frozen=True)
class Bar:
    time: str
    closes: dict[str, Decimal]


def _read_csv(text: str, file: str) -> list[Bar]:
    by_date: dict[str, dict[str, Decimal]] = {}
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != ["date", "symbol", "close"]:
        raise InputError(file, "line 1", f"header is {reader.fieldnames}", "use the header date,symbol,close")
    for n, row in enumerate(reader, 2):
        try:
            px = Decimal(row["close"])
        except ArithmeticError:
            raise InputError(file, f"line {n}", f"close {row['close']!r} is not a decimal",
                             "write the close as a plain decimal") from None
        if not px.is_finite() or px <= 0:
            raise InputError(file, f"line {n}", f"close {row['close']!r} is not a positive price",
                             "write a positive decimal")
        by_date.setdefault(row["date"], {})[row["symbol"]] = px
    return [Bar(d, by_date[d]) for d in sorted(by_date)]


def builtin_bars() -> list[Bar]:
    text = resources.files("vanta.data").joinpath("bars.csv").read_text("utf-8")
    return _read_csv(text, "vanta/data/bars.csv")


def synthetic_bars(symbols: list[str], seed: int, count: int) -> list[Bar]:
    """A random walk from 100, steps of -2%..+2% drawn from blake2b(seed, symbol, bar)."""
    bars: list[Bar] = []
    px = {s: Decimal(100) for s in symbols}
    for n in range(count):
        for s in symbols:
            h = hashlib.blake2b(f"{seed}|{s}|{n}".encode(), digest_size=8).digest()
            u = Decimal(int.from_bytes(h, "big")) / Decimal(2**64)  # [0, 1)
            px[s] = max(Decimal("0.01"), half_even(px[s] * (ONE + (u - Decimal("0.5")) / 25), Decimal("0.01")))
        bars.append(Bar(f"bar-{n:06d}", dict(px)))
    return bars


def bars_for(md: MarketData, symbols: list[str], home: Path, need: int) -> list[Bar]:
    if md.source == "builtin":
        return builtin_bars()
    if md.source == "synthetic":
        return synthetic_bars(symbols, md.seed, need)
    if md.path is None:
        raise InputError("memory/vault.json", "/market_data/path", "a csv feed needs a path",
                         "set path to a CSV file in the home, e.g. \"feed/bars.csv\"")
    path = home / md.path
    try:
        return _read_csv(path.read_text("utf-8"), md.path)
    except OSError as e:
        raise InputError("memory/vault.json", "/market_data/path", f"cannot read {path}: {e.strerror}",
                         "point path at an existing CSV file in the home") from None


def bar_for_cycle(bars: list[Bar], cycle: int, md: MarketData) -> int:
    index = md.start_bar + cycle - 1
    if index >= len(bars):
        raise StateError(f"the {md.source} feed has {len(bars)} bars and cycle {cycle} needs bar {index + 1}; "
                         "extend the feed (market_data in vault.json) or start a new home")
    return index
