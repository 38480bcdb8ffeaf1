"""Replay compares the replayed trade log with the recorded span a chunk at a time, as
the commit stage renders it (vanta/replay.py _SpanCheck): whatever the chunking, it
says "same" exactly when the bytes are the same, gives back every replayed byte for the
diff when they are not, and refuses a recorded span that no longer matches its hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanta import bundle, replay
from vanta.errors import StateError
from vanta.home import Home
from vanta.models import Span
from vanta.replay import _SpanCheck

REL = "memory/trade_log.jsonl"


def _home(tmp: Path, before: bytes, recorded: bytes, after: bytes) -> tuple[Home, Span]:
    (tmp / "memory").mkdir(parents=True, exist_ok=True)
    (tmp / REL).write_bytes(before + recorded + after)
    return Home(tmp), Span.make(offset=len(before), length=len(recorded),
                                sha256=hashlib.sha256(recorded).hexdigest())


def _feed(check: _SpanCheck, data: bytes, cuts: list[int]) -> None:
    at = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts} | {len(data)}):
        if cut > at:
            check(data[at:cut])
            at = cut


@settings(max_examples=200, deadline=None)
@given(recorded=st.binary(max_size=300),
       edit=st.one_of(st.none(), st.tuples(st.integers(0, 299), st.binary(max_size=5))),
       extra=st.binary(max_size=4), cuts=st.lists(st.integers(0, 400), max_size=6),
       before=st.binary(max_size=20), after=st.binary(max_size=20))
def test_span_check_agrees_with_plain_comparison(tmp_path_factory: pytest.TempPathFactory, recorded: bytes,
                                                 edit: tuple[int, bytes] | None, extra: bytes, cuts: list[int],
                                                 before: bytes, after: bytes) -> None:
    produced = recorded
    if edit is not None:
        at = edit[0] % (len(recorded) + 1)
        produced = recorded[:at] + edit[1] + recorded[at + len(edit[1]):]
    produced += extra
    home, span = _home(tmp_path_factory.mktemp("span"), before, recorded, after)
    check = _SpanCheck(home, REL, span)
    _feed(check, produced, cuts)
    assert check.finish() == (produced == recorded)
    if produced != recorded:
        assert check.replayed() == produced


def test_span_check_refuses_a_recorded_span_that_changed(tmp_path: Path) -> None:
    home, span = _home(tmp_path, b"x\n", b"line one\nline two\n", b"")
    (tmp_path / REL).write_bytes(b"x\nline one\nline 2wo\n")
    check = _SpanCheck(home, REL, span)
    check(b"line one\nline two\n")
    with pytest.raises(StateError, match="no longer holds the lines recorded"):
        check.finish()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recorded=st.binary(max_size=3000),
       edit=st.one_of(st.none(), st.tuples(st.integers(0, 2999), st.binary(max_size=3))),
       extra=st.binary(max_size=3), cut=st.integers(0, 3))
def test_same_object_agrees_with_plain_comparison(tmp_path_factory: pytest.TempPathFactory,
                                                  monkeypatch: pytest.MonkeyPatch, recorded: bytes,
                                                  edit: tuple[int, bytes] | None, extra: bytes, cut: int) -> None:
    """A changed file is compared with its recorded object a chunk at a time (vanta/replay.py
    same_object): True exactly when the bytes are the same, whatever the chunk size."""
    monkeypatch.setattr(replay, "_CHUNK", 256)  # several chunks, and a last one of any length
    produced = recorded
    if edit is not None:
        at = edit[0] % (len(recorded) + 1)
        produced = recorded[:at] + edit[1] + recorded[at + len(edit[1]):]
    produced = produced[:max(0, len(produced) - cut)] + extra
    home = Home(tmp_path_factory.mktemp("obj"))
    sha, _ = bundle.put(home, recorded)
    assert replay.same_object(home, sha, produced) == (produced == recorded)
