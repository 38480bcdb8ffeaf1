"""The commit stage writes each trade-log line from byte templates around the orjson text of
the event's `data` (vanta/stages/commit.py chain_to). Whatever the events, the lines must be
exactly what the plain definition gives: the envelope dumped by orjson with sorted keys,
then sealed with the sha256 of that body (`seal`), whatever the chunking."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanta import canonical
from vanta.home import GENESIS
from vanta.models import Lot, Span
from vanta.stages import commit

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=300,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

decimals = st.one_of(
    # every shape: long digit runs, positive and negative exponents, trailing zeros, -0
    st.builds(lambda n, e: Decimal(f"{n}E{e}"), st.integers(-(10**20), 10**20), st.integers(-12, 6)),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9),
    st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("0E-8"), Decimal("1E+2"), Decimal("-1E-9"),
                     Decimal("123.4500"), Decimal("-28887.18")]),
)
text = st.text(max_size=10)  # quotes, backslashes, control characters, any unicode
leaves = st.one_of(st.none(), st.booleans(), text, st.integers(-(2**53), 2**53), decimals)
values = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(text, inner, max_size=3)), max_leaves=12)
events = st.lists(st.tuples(text, st.dictionaries(text, values, max_size=6)), max_size=8)
heads = st.one_of(st.just(GENESIS), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))


def _plain(events: list[tuple[str, dict[str, Any]]], cycle: int, asof: str, seq: int,
           head: str) -> tuple[bytes, int, str]:
    """The definition: each envelope through orjson, sealed."""
    out = b""
    for kind, data in events:
        seq += 1
        body = canonical.dumps_line_trusted(
            {"asof": asof, "cycle": cycle, "data": data, "kind": kind, "prev": head, "seq": seq})[:-1]
        line, head = commit.seal(body)
        out += line
    return out, seq, head


@SETTINGS
@given(events=events, cycle=st.integers(1, 10**9), asof=text, seq=st.integers(0, 2**40), head=heads,
       chunk=st.integers(1, 2000))
def test_chain_is_the_sealed_envelopes(monkeypatch: pytest.MonkeyPatch, events: list[tuple[str, dict[str, Any]]],
                                       cycle: int, asof: str, seq: int, head: str, chunk: int) -> None:
    monkeypatch.setattr(commit, "_CHUNK", chunk)
    parts: list[bytes] = []
    made, last, tip = commit.chain_to(parts.append, events, cycle, asof, seq, head)
    want, want_seq, want_head = _plain(events, cycle, asof, seq, head)
    assert b"".join(parts) == want
    assert (made, last, tip) == (len(want), want_seq, want_head)
    assert all(len(p) >= chunk for p in parts[:-1])


def test_chain_writes_models_and_tuples_as_the_envelope_does() -> None:
    span = Span.make(offset=3, length=5, sha256="ab" * 32)
    lot: Lot = (Decimal("1.50"), Decimal("-0.00"))
    events = [("x", {"span": span, "lot": lot, "s": 'a"\\\u00e9\u2028'})]
    assert commit.chain(events, 2, "2026-01-02T00:00:00Z", 7, GENESIS) == \
        _plain(events, 2, "2026-01-02T00:00:00Z", 7, GENESIS)
