"""vanta.canonical: exact reading of hand-written numbers, and the writer's rules.

Reading: a JSON number is read as exactly the decimal written; a number a
binary-float JSON reader could not carry exactly (more than 15 significant digits,
an integer beyond 2**53) and the NaN/Infinity tokens are refused with an InputError
that says how to fix the file. Writing: fixed-point Decimal strings (never an
exponent, never -0), floats refused anywhere, sorted keys, final newline; dumps_line
is one line.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanta.canonical import dumps, dumps_line, fmt_decimal, loads
from vanta.errors import InputError

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=200,
                    suppress_health_check=[HealthCheck.too_slow])

FIXED_POINT = re.compile(r"^-?\d+(\.\d+)?$")


def _is_negative_zero_text(s: str) -> bool:
    return re.fullmatch(r"-0(\.0+)?", s) is not None


# ---------------------------------------------------------------- reading hand-written numbers


def test_loads_reads_fraction_exactly() -> None:
    got = loads(b'{"a": 0.12}', "x.json")["a"]
    assert isinstance(got, Decimal)
    assert got == Decimal("0.12")
    assert str(got) == "0.12"  # exactly as written, not 0.11999999999999999556


def test_model_reads_hand_written_fraction_exactly() -> None:
    """validate.parse (whatever fast path it takes) gives a Decimal field the decimal as written."""
    from vanta.models import Score
    from vanta.validate import parse

    assert str(parse(b'{"score": 0.12}', Score, "x.json").score) == "0.12"
    assert parse(b'{"score": 1e-1}', Score, "x.json").score == Decimal("0.1")


def test_loads_reads_integer_exactly() -> None:
    got = loads(b'{"a": 5000}', "x.json")["a"]
    assert got == 5000
    assert type(got) is int


@pytest.mark.parametrize("text", [b"1e2", b"1E2", b"1e+2", b"1E+2", b"100e0", b"0.1e3"])
def test_loads_reads_exponent_exactly(text: bytes) -> None:
    got = loads(b'{"a": ' + text + b"}", "x.json")["a"]
    assert isinstance(got, Decimal)
    assert got == Decimal("1E+2") == 100


def test_loads_integer_inside_list_and_nested() -> None:
    assert loads(b'{"a": [1, -2, {"b": 0}]}', "x.json") == {"a": [1, -2, {"b": 0}]}


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("where", ['{{"a": {}}}', '{{"a": [1, {}]}}', '{{"a": {{"b": {}}}}}'])
def test_loads_rejects_non_finite_tokens(token: str, where: str) -> None:
    raw = where.format(token).encode()
    with pytest.raises(InputError) as ei:
        loads(raw, "memory/x.json")
    err = ei.value
    assert err.file == "memory/x.json"
    # The fix shows a finite decimal written as a string ("0.12"): NaN has no string
    # form vanta accepts, so "write it as a string" alone would be wrong advice here.
    assert "finite decimal" in err.fix and '"' in err.fix


@pytest.mark.parametrize("text", ["0.1234567890123456", "1234567890.123456", "-3.14159265358979323",
                                  "1.234567890123456e5", "12345678901234567.5"])
def test_loads_rejects_more_than_15_significant_digits(text: str) -> None:
    with pytest.raises(InputError) as ei:
        loads(f'{{"a": {text}}}'.encode(), "memory/x.json")
    assert ei.value.file == "memory/x.json"
    assert ei.value.path == "/a"  # names where the number is
    assert "string" in ei.value.fix
    assert f'"{text}"' in ei.value.fix


def _long_number_texts(min_digits: int, max_digits: int) -> st.SearchStrategy[str]:
    """Number texts with min..max significant digits (first and last digit non-zero)."""

    def build(digits: int) -> st.SearchStrategy[str]:
        coeff = st.integers(10 ** (digits - 1), 10**digits - 1).filter(lambda n: n % 10 != 0)
        return st.builds(lambda n, e, neg, form: form(Decimal(-n if neg else n).scaleb(e)),
                         coeff, st.integers(-digits - 5, 3), st.booleans(),
                         st.sampled_from([str, lambda d: format(d, "f")]))

    return st.integers(min_digits, max_digits).flatmap(build).filter(lambda t: "." in t or "E" in t)


@SETTINGS
@given(_long_number_texts(16, 28))
def test_loads_rejects_any_16_to_28_digit_number(text: str) -> None:
    with pytest.raises(InputError) as ei:
        loads(f'{{"a": [{text}]}}'.encode(), "memory/x.json")
    assert f'"{text}"' in ei.value.fix


@pytest.mark.parametrize("precision", ["default", "money.CONTEXT"])
def test_loads_rejects_numbers_longer_than_the_context_precision(precision: str) -> None:
    from decimal import localcontext

    from vanta.money import CONTEXT

    texts = ["1.0000000000000000000000000001", "0." + "9" * 29, "1." + "0" * 50 + "1", "0." + "9" * 51]
    with localcontext(CONTEXT if precision != "default" else None):
        accepted = []
        for text in texts:
            try:
                accepted.append((text, loads(f'{{"a": {text}}}'.encode(), "x.json")))
            except InputError:
                pass
    assert not accepted


@pytest.mark.parametrize("n", [2**53 + 1, -(2**53) - 1, 10**16, 2**63, 10**30])
def test_loads_rejects_integers_beyond_2_53(n: int) -> None:
    with pytest.raises(InputError) as ei:
        loads(f'{{"a": {n}}}'.encode(), "memory/x.json")
    assert "string" in ei.value.fix
    assert f'"{n}"' in ei.value.fix


@pytest.mark.parametrize("n", [2**53, -(2**53), 10**15, 999_999_999_999_999])
def test_loads_accepts_integers_up_to_2_53(n: int) -> None:
    assert loads(f'{{"a": {n}}}'.encode(), "x.json")["a"] == n


@pytest.mark.parametrize("raw", [b"9007199254740993", b"1234567890.123456789"])
def test_loads_top_level_long_number_is_refused(raw: bytes) -> None:
    with pytest.raises(InputError):
        loads(raw, "x.json")


def _number_texts() -> st.SearchStrategy[tuple[Decimal, str]]:
    """A Decimal with at most 15 significant digits and a JSON number text for it."""

    def texts(d: Decimal) -> st.SearchStrategy[tuple[Decimal, str]]:
        forms = [str(d)]  # may be exponent form: 1.2E+5, 0E-7
        fixed = format(d, "f")
        if "." in fixed or abs(d) <= 2**53:  # an integer text beyond 2**53 is refused by design
            forms.append(fixed)
        return st.sampled_from(forms).map(lambda s: (d, s))

    coeff = st.integers(-(10**15 - 1), 10**15 - 1)
    return st.builds(lambda n, e: Decimal(n).scaleb(e), coeff, st.integers(-25, 8)).flatmap(texts)


@SETTINGS
@given(_number_texts())
def test_loads_reads_any_15_digit_number_exactly(pair: tuple[Decimal, str]) -> None:
    d, text = pair
    assert json.loads(text) is not None  # it is a valid JSON number token
    for raw in (f'{{"a": {text}}}', f'{{"a": [{text}]}}', f'{{\n  "a": [\n    1,\n    {text}\n  ]\n}}\n'):
        data = loads(raw.encode(), "x.json")
        got = data["a"] if not isinstance(data["a"], list) else data["a"][-1]
        assert not isinstance(got, float)
        if any(c in text for c in ".eE"):
            assert isinstance(got, Decimal)
        assert Decimal(got) == d


@SETTINGS
@given(_number_texts(), st.booleans())
def test_model_reads_any_15_digit_number_exactly(pair: tuple[Decimal, str], vouched: bool) -> None:
    """Through validate.parse into a Decimal field, every <= 15 digit number is exact, by
    the fast reader (vouched bytes) and by the strict one."""
    from vanta.models import AccountPnl
    from vanta.validate import parse

    d, text = pair
    fields = ["equity", "cash", "market_value", "cost_basis", "realized_pnl", "unrealized_pnl", "trading_fees"]
    raw = "{" + ", ".join(f'"{f}": {text}' for f in fields) + "}"
    m = parse(raw.encode(), AccountPnl, "x.json", vouched)
    assert m.equity == d
    assert isinstance(m.equity, Decimal)


@SETTINGS
@given(_number_texts())
def test_the_fast_and_strict_readers_give_the_same_decimal(pair: tuple[Decimal, str]) -> None:
    """A file's bytes mean one thing: the same number written by hand (`0.00010`, `5000.00`)
    is the same Decimal, digit for digit, whether the file is read fast (vouched: the bytes a
    commit recorded, as an operator's vault.json is from its second cycle on) or strictly.
    The fast reader went through a double (`0.00010` -> 0.0001): a lot size written so gave
    quantities of 5 decimals in a home's first cycle and of 4 in the next ones."""
    from vanta.models import AccountPnl
    from vanta.validate import parse

    _, text = pair
    fields = ["equity", "cash", "market_value", "cost_basis", "realized_pnl", "unrealized_pnl", "trading_fees"]
    raw = ("{" + ", ".join(f'"{f}": {text}' for f in fields) + "}").encode()
    fast, strict = parse(raw, AccountPnl, "x.json", True), parse(raw, AccountPnl, "x.json", False)
    assert dumps(fast) == dumps(strict), text


_LAYOUTS = ['{{"cash": {{"USD": "1"}}, "positions": {{"S": [[{t}, "2"]]}}}}',
            '{{\n  "positions": {{\n    "S": [\n      [\n        "1",\n        {t}\n      ]\n    ]\n  }}\n}}\n',
            '{{"positions":{{"S":[["1","2"],[\t\r\n{t},"3"]]}}}}']


@SETTINGS
@given(st.integers(10**15, 10**20).filter(lambda n: n % 10), st.integers(-12, 0), st.booleans(),
       st.sampled_from(_LAYOUTS), st.booleans())
def test_model_never_reads_a_long_number_through_a_double(n: int, exp: int, exponent_form: bool,
                                                          layout: str, vouched: bool) -> None:
    """A number with more than 15 significant digits is read exactly or refused, wherever and
    however it is written: the fast reader's scan must send every such file to the exact reader."""
    from vanta.models import Account
    from vanta.validate import parse

    d = Decimal(n).scaleb(exp)
    text = str(d) if exponent_form else format(d, "f")
    try:
        acct = parse(layout.format(t=text).encode(), Account, "x.json", vouched)
    except InputError as e:
        assert "significant digits" in e.problem or "larger than a JSON number" in e.problem, e.problem
        return
    assert d in [x for lot in acct.positions["S"] for x in lot], (text, acct.positions)


@SETTINGS
@given(st.integers(-(2**53), 2**53))
def test_loads_reads_any_safe_integer_exactly(n: int) -> None:
    got = loads(f'{{"a": {n}, "b": [{n}]}}'.encode(), "x.json")
    assert got == {"a": n, "b": [n]}
    assert type(got["a"]) is int


# ---------------------------------------------------------------- fmt_decimal


def _any_finite_decimal() -> st.SearchStrategy[Decimal]:
    built = st.builds(lambda n, e: Decimal(n).scaleb(e), st.integers(-(10**30), 10**30), st.integers(-40, 40))
    zeros = st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("0E+5"), Decimal("-0E-9"), Decimal("0")])
    return st.one_of(built, zeros, st.decimals(allow_nan=False, allow_infinity=False))


@SETTINGS
@given(_any_finite_decimal())
def test_fmt_decimal_is_fixed_point_and_exact(d: Decimal) -> None:
    s = fmt_decimal(d)
    assert FIXED_POINT.match(s), s
    assert "E" not in s and "e" not in s
    assert not _is_negative_zero_text(s)
    assert Decimal(s) == d
    # the written scale is the Decimal's own (0.10 stays 0.10) unless it had a positive exponent
    exp = d.as_tuple().exponent
    assert isinstance(exp, int)
    assert (len(s.split(".")[1]) if "." in s else 0) == max(0, -exp)


@pytest.mark.parametrize(("d", "text"), [(Decimal("1E+2"), "100"), (Decimal("-0"), "0"),
                                         (Decimal("-0.00"), "0.00"), (Decimal("1E-7"), "0.0000001"),
                                         (Decimal("0.10"), "0.10"), (Decimal("-5.5"), "-5.5")])
def test_fmt_decimal_examples(d: Decimal, text: str) -> None:
    assert fmt_decimal(d) == text


@pytest.mark.parametrize("d", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
def test_fmt_decimal_refuses_non_finite(d: Decimal) -> None:
    with pytest.raises(ValueError):
        fmt_decimal(d)


# ---------------------------------------------------------------- dumps / dumps_line

json_keys = st.text(max_size=8)
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=12),
                        _any_finite_decimal())


def _json_trees(leaves: st.SearchStrategy) -> st.SearchStrategy:
    return st.recursive(
        leaves,
        lambda kids: st.one_of(st.lists(kids, max_size=4), st.tuples(kids, kids),
                               st.dictionaries(json_keys, kids, max_size=4)),
        max_leaves=20,
    )


@st.composite
def _trees_with_a_float(draw: st.DrawFn, floats: st.SearchStrategy[float], min_depth: int = 1) -> object:
    """A nested structure with one float planted at a random depth (>= min_depth)."""
    fl = draw(floats)
    path = draw(st.lists(st.sampled_from(["list", "tuple", "dict"]), min_size=min_depth, max_size=5))
    node: object = fl
    for kind in reversed(path):
        sibling = draw(_json_trees(json_leaves))
        if kind == "list":
            node = [sibling, node] if draw(st.booleans()) else [node, sibling]
        elif kind == "tuple":
            node = (node, sibling)
        else:
            node = {draw(json_keys): sibling, "k" + draw(json_keys): node}
    return node


def _walk_decimals(original: object, written: object) -> None:
    """Every Decimal was written as a fixed-point string equal to it; ints stay ints."""
    if isinstance(original, Decimal):
        assert isinstance(written, str)
        assert FIXED_POINT.match(written), written
        assert not _is_negative_zero_text(written)
        assert Decimal(written) == original
    elif isinstance(original, dict):
        assert isinstance(written, dict) and set(written) == set(original)
        for k, v in original.items():
            _walk_decimals(v, written[k])
    elif isinstance(original, list | tuple):
        assert isinstance(written, list) and len(written) == len(original)
        for a, b in zip(original, written, strict=True):
            _walk_decimals(a, b)
    else:
        assert written == original and type(written) is type(original)


@SETTINGS
@given(_json_trees(json_leaves))
def test_dumps_is_canonical(data: object) -> None:
    out = dumps(data)
    assert out.endswith(b"\n") and not out.endswith(b"\n\n")
    parsed = orjson.loads(out)
    # keys sorted, 2-space indent: re-dumping with those options gives the same bytes
    assert orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n" == out
    # no non-integer number token at all: Decimals are strings
    json.loads(out, parse_float=lambda s: pytest.fail(f"number token {s} written"))
    _walk_decimals(data, parsed)
    # canonical.loads reads it back as the same JSON value, and dumps is a fixed point
    assert loads(out, "x.json") == parsed
    assert dumps(parsed) == out


@SETTINGS
@given(_json_trees(json_leaves))
def test_dumps_line_is_one_line(data: object) -> None:
    out = dumps_line(data)
    assert out.endswith(b"\n")
    assert out.count(b"\n") == 1
    assert b"\r" not in out
    parsed = orjson.loads(out)
    assert orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS) + b"\n" == out
    _walk_decimals(data, parsed)
    assert dumps_line(parsed) == out


@SETTINGS
@given(_trees_with_a_float(st.floats(allow_nan=False, allow_infinity=False)))
def test_dumps_refuses_finite_floats_nested_anywhere(data: object) -> None:
    with pytest.raises(TypeError):
        dumps(data)
    with pytest.raises(TypeError):
        dumps_line(data)


@SETTINGS
@given(_trees_with_a_float(st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0]), min_depth=0))
def test_dumps_refuses_nan_inf_and_negative_zero_floats_anywhere(data: object) -> None:
    # orjson itself writes NaN and infinities as null: the walk must catch them first
    with pytest.raises(TypeError):
        dumps(data)
    with pytest.raises(TypeError):
        dumps_line(data)


@pytest.mark.parametrize("fn", [dumps, dumps_line])
def test_dumps_refuses_top_level_float(fn: object) -> None:
    with pytest.raises(TypeError):
        fn(0.0)  # type: ignore[operator]


@pytest.mark.parametrize("fn", [dumps, dumps_line])
@pytest.mark.parametrize("data", [{1.5: "x"}, {1: "a", "1": "b"}, {"a": {float("nan"): 1}}, {None: 1}])
def test_dumps_refuses_non_string_keys(fn: object, data: object) -> None:
    with pytest.raises(TypeError):
        fn(data)  # type: ignore[operator]


@pytest.mark.parametrize("d", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_dumps_refuses_non_finite_decimals(d: Decimal) -> None:
    with pytest.raises((TypeError, ValueError)):
        dumps({"a": [1, {"b": d}]})


@pytest.mark.parametrize("n", [2**53 + 1, -(2**53) - 1, 2**62])
def test_dumps_output_is_readable_by_loads(n: int) -> None:
    try:
        out = dumps({"a": n})
    except (TypeError, ValueError):
        return  # refusing to write is fine
    assert loads(out, "x.json") == {"a": n}


# ---------------------------------------------------------------- keys written twice


@pytest.mark.parametrize("text, where, key", [
    ('{"a": 1, "a": 2}', "/a", "a"),
    ('{"kill_switch": true, "x": {"y": [1]}, "kill_switch": false}', "/kill_switch", "kill_switch"),
    ('{"vaults": {"V": {"flip": null, "maintenance": false, "maintenance": true}}}', "/vaults/V/maintenance",
     "maintenance"),
    ('{"followers": [{"id": "F1"}, {"id": "F2", "scale": 1, "scale": 2}]}', "/followers/1/scale", "scale"),
    ('[{"b": 1}, {"c": {"d": 1, "d": 1}}]', "/1/c/d", "d"),
])
def test_loads_refuses_a_key_written_twice(text: str, where: str, key: str) -> None:
    """Readers disagree on which of two equal keys counts (orjson and json take the last,
    others the first): an operator's `"kill_switch": true` above a stale `false` must not
    silently lose. The message names the key and where it is."""
    with pytest.raises(InputError) as e:
        loads(text.encode(), "f.json")
    assert (e.value.file, e.value.path) == ("f.json", where)
    assert repr(key) in e.value.problem and "twice" in e.value.problem and e.value.fix


def test_only_vouched_bytes_skip_the_strict_reader() -> None:
    """The fast reader (orjson) would take the last of two equal keys: it reads only bytes
    vanta itself committed; anything else goes to the strict reader."""
    from vanta.canonical import loads_for_model

    raw = b'{"a": 1, "a": 2}'
    with pytest.raises(InputError):
        loads_for_model(raw, "f.json", vouched=False)
    assert loads_for_model(raw, "f.json", vouched=True) == {"a": 2}
