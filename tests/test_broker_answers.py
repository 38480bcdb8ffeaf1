"""The replay bundle's broker_answers.json: the one-line canonical form of the cycle's
BrokerAnswers, its fills spliced in from the answer lines the broker already wrote
(cycle.answers_bytes); a bundle written in the earlier multi-line form still replays."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from vanta import bundle, canonical
from vanta.cycle import answers_bytes, run_cycle
from vanta.home import Home
from vanta.init import synthetic_files, write_home
from vanta.models import BrokerAnswers, Fill
from vanta.replay import replay
from vanta.validate import parse


def fill(n: int, reason: str | None, status: str = "rejected") -> Fill:
    return Fill.make(client_order_id=f"vt{n:030d}", status=status, qty=Decimal("1.2500"),
                     price=Decimal("0.0000001"), fee=Decimal("0.01"), cash=Decimal("-0.00"), reason=reason)


@given(st.lists(st.one_of(st.none(), st.text(st.characters(blacklist_categories=["Cs"]))), max_size=5), st.booleans())
def test_answers_bytes_is_the_one_line_canonical_form(reasons: list[str | None], live: bool) -> None:
    # Reasons of any text (quotes, backslashes, newlines, non-ASCII) and Decimals the
    # writer must not print as they are (an exponent, a negative zero).
    fills = tuple(fill(i, r) for i, r in enumerate(reasons))
    answers = BrokerAnswers.make(
        schema_version="vanta.broker_answers/1", fills=fills,
        balances={"follower:a\nb": {"USD": Decimal("1E+2")}} if live else {},
        conversions=(fill(99, 'say "no"\\', "filled"),) if live else ())
    got = answers_bytes(answers, [canonical.dumps_line_trusted(f) for f in fills])
    assert got == canonical.dumps_line_trusted(answers)
    assert parse(got, BrokerAnswers, "broker_answers.json") == answers


def cycles(root: Path, n: int) -> Home:
    write_home(root, synthetic_files(40, 6, 3), False)
    home = Home(root)
    for day in range(1, n + 1):
        run_cycle(home, f"2026-11-{day:02d}T00:00:00Z")
    return home


def test_bundle_holds_the_paper_brokers_answer_lines(tmp_path: Path) -> None:
    home = cycles(tmp_path / "h", 2)
    blob = bundle.get(home, bundle.load_manifest(home, 2).inputs["broker_answers.json"])
    answers = parse(blob, BrokerAnswers, "broker_answers.json")
    assert answers.fills and blob == canonical.dumps_line_trusted(answers)
    paper = (tmp_path / "h" / "broker" / "paper" / "000002.jsonl").read_bytes().splitlines()
    assert sorted(paper) == sorted(canonical.dumps_line_trusted(f)[:-1] for f in answers.fills)


def test_a_bundle_with_multi_line_broker_answers_replays(tmp_path: Path) -> None:
    # Bundles written before the one-line form hold canonical multi-line JSON.
    home = cycles(tmp_path / "h", 2)
    man = bundle.load_manifest(home, 2)
    answers = parse(bundle.get(home, man.inputs["broker_answers.json"]), BrokerAnswers, "broker_answers.json")
    old = canonical.dumps_trusted(answers)
    assert old.count(b"\n") > len(answers.fills)
    sha, _ = bundle.put(home, old)
    inputs = {**man.inputs, "broker_answers.json": sha}
    bundle.manifest_path(home, 2).write_bytes(bundle.manifest_bytes(man.model_copy(update={"inputs": inputs})))
    result = replay(home, 2)
    assert result.ok, result.mismatches
