"""The floor benchmark moves the same bytes as the cycle it stands under: otherwise the
cycle/floor ratio `make bench` prints would compare different work."""

from __future__ import annotations

from pathlib import Path

import orjson

from vanta import bundle
from vanta.bench_floor import floor
from vanta.home import Home


def test_floor_writes_the_cycles_log_lines_and_files(template: Path) -> None:
    h = Home(template)
    m = bundle.load_manifest(h, 2)
    times, (log, *files) = floor(h, 2)
    assert set(times) == {"validate", "read", "orders", "log", "render", "write"}
    assert all(t > 0 for t in times.values())

    span = m.appends["memory/trade_log.jsonl"]
    with (h.memory / "trade_log.jsonl").open("rb") as f:
        f.seek(span.offset)
        theirs = f.read(span.length)
    assert len(log) == len(theirs)  # the same text, the hash in another place
    mine = [orjson.loads(x) for x in log.splitlines()]
    vanta = [orjson.loads(x) for x in theirs.splitlines()]
    assert any(x["kind"] == "child_order" for x in vanta)
    assert mine[0]["prev"] == vanta[0]["prev"]
    unchained = [[{k: v for k, v in x.items() if k not in ("hash", "prev")} for x in xs] for xs in (mine, vanta)]
    assert unchained[0] == unchained[1]

    written = [bundle.get(h, sha) for name, sha in sorted(m.outputs.items())
               if name.startswith("memory/") and m.inputs.get(name) != sha]
    assert len(written) >= 2 and files == written
