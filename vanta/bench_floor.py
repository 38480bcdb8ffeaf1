"""The floor under one cycle: `python -m vanta.bench_floor HOME N` times the bare data movement
that cycle N of HOME had to do in CPython, with none of vanta's models, checks or books, and
prints the seconds as JSON. `vanta.bench` runs it beside each measured cycle, so the ratio of
the two is read on one machine in one run.

What it times, on the cycle's own bytes (taken from its replay bundle beforehand, untimed):
- read: parse the memory files the cycle read (orjson) and make a Decimal of each number in them
  (which values are numbers is found beforehand: a loader that knows the schema need not search);
- orders: per child order, the fewest Decimal steps a fill needs (size, round to the lot,
  notional, fee, cash), with no checks;
- log: render the cycle's trade-log lines (one sorted-key orjson call each) and chain their sha256;
- render: the memory files the cycle wrote, as canonical JSON (sorted keys, 2-space indent);
- write: those bytes into a scratch folder (no fsync).

Timed apart (`validate`): parsing the files the cycle read into the issue's pydantic models,
as the cycle does (this includes `read`), which any conforming design pays. Not timed at all,
so the floor is lower than any real cycle: sizing rules, books, checks, the journal and its
fsyncs, the replay bundle, the broker's records. Startup (`python -c` with the same imports)
is timed by the caller.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, localcontext
from pathlib import Path
from typing import Any

import orjson

from vanta import bundle
from vanta.home import Home
from vanta.models import Model
from vanta.money import CONTEXT
from vanta.validate import parse_memory

IMPORTS = "import orjson, pydantic, decimal, hashlib"
"""What any design of the cycle imports before it reads a byte (the caller times it)."""


def _numbers(o: Any) -> Iterator[str]:
    """Every text value of a parsed document that reads as a decimal number."""
    if isinstance(o, dict):
        for v in o.values():
            yield from _numbers(v)
    elif isinstance(o, list):
        for v in o:
            yield from _numbers(v)
    elif isinstance(o, str) and o[:1] in "-0123456789" and o.lstrip("-").replace(".", "", 1).isdigit():
        yield o


def _decimals(o: Any) -> Any:
    """A parsed document with its number strings as Decimals (as vanta renders them)."""
    if isinstance(o, dict):
        return {k: _decimals(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_decimals(v) for v in o]
    if isinstance(o, str) and o[:1] in "-0123456789" and o.lstrip("-").replace(".", "", 1).isdigit():
        return Decimal(o)
    return o


def _text(o: object) -> str:
    if type(o) is Decimal:
        return format(o, "f")
    raise TypeError(type(o).__name__)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def floor(home: Home, cycle: int) -> tuple[dict[str, float], list[bytes]]:
    """The seconds of each section, and what it wrote: the log text, then the files."""
    m = bundle.load_manifest(home, cycle)
    inputs = [bundle.get(home, sha) for name, sha in sorted(m.inputs.items()) if name.startswith("memory/")]
    outputs = [_decimals(orjson.loads(bundle.get(home, sha))) for name, sha in sorted(m.outputs.items())
               if name.startswith("memory/") and m.inputs.get(name) != sha]
    span = m.appends["memory/trade_log.jsonl"]
    with (home.memory / "trade_log.jsonl").open("rb") as f:
        f.seek(span.offset)
        lines = [orjson.loads(x) for x in f.read(span.length).splitlines()]
    events = [(x["kind"], _decimals(x["data"])) for x in lines]
    orders = [(d["qty"], d["price"]) for k, d in events if k == "child_order"]

    numbers = [s for b in inputs for s in _numbers(orjson.loads(b))]

    def read() -> int:
        docs = [orjson.loads(b) for b in inputs]  # where the numbers are is known: no search
        return len(docs) + len([Decimal(s) for s in numbers])

    def fill() -> Decimal:
        lot, cent, rate, scale = Decimal("0.0001"), Decimal("0.01"), Decimal("0.0010"), Decimal("0.0994")
        cash = Decimal(0)
        held = []
        for qty, px in orders:
            q = (qty * scale / scale).quantize(lot, ROUND_DOWN)
            notional = (q * px).quantize(cent)
            fee = (notional * rate).quantize(cent, ROUND_CEILING)
            cash -= notional + fee
            held.append((q, px, notional))
        return cash

    def log() -> bytes:
        prev, out = m.log_head_before, []
        for seq, (kind, data) in enumerate(events, m.log_seq_before + 1):
            line = orjson.dumps({"asof": m.asof, "cycle": cycle, "data": data, "kind": kind, "prev": prev,
                                 "seq": seq}, default=_text, option=orjson.OPT_SORT_KEYS)
            prev = hashlib.sha256(line).hexdigest()
            out.append(line[:-1] + b',"hash":"' + prev.encode() + b'"}\n')
        return b"".join(out)

    def render() -> list[bytes]:
        opt = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
        return [orjson.dumps(d, default=_text, option=opt) for d in outputs]

    raw = {name.removeprefix("memory/"): bundle.get(home, sha) for name, sha in m.inputs.items()
           if name.startswith("memory/")}

    def validate() -> dict[str, Model]:  # as the cycle reads the files it committed itself
        return parse_memory(raw, vouched=raw.keys())

    times: dict[str, float] = {}
    times["validate"], _ = _timed(validate)
    with localcontext(CONTEXT):
        times["read"], _ = _timed(read)
        times["orders"], _ = _timed(fill)
        times["log"], text = _timed(log)
        times["render"], files = _timed(render)
    with tempfile.TemporaryDirectory() as scratch:
        def write() -> None:
            for i, b in enumerate([text, *files]):
                Path(scratch, str(i)).write_bytes(b)
        times["write"], _ = _timed(write)
    return times, [text, *files]


def main() -> None:
    gc.disable()  # as the cycle does: millions of new objects, none of them cyclic garbage
    home, cycle = Home(Path(sys.argv[1])), int(sys.argv[2])
    print(json.dumps(floor(home, cycle)[0]))


if __name__ == "__main__":
    main()
