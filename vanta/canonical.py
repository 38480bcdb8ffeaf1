"""Canonical JSON: the only way vanta reads and writes its files.

Writing: orjson, sorted keys, 2-space indent, final newline; Decimals as fixed-point
strings (never exponent, never -0); floats and NaN refused. JSON Lines use the same
rules on one line.

Reading: numbers are read as exactly the decimal written. A number that a JSON
reader built on binary floats could not carry exactly (more than 15 significant
digits, or an integer beyond 2**53) is refused, and so is a key written twice in one
object (readers disagree on which one counts: a second `"kill_switch": false` under
an operator's `true` must not silently win), so a file means the same thing to every
reader.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

from vanta.errors import InputError

# OPT_APPEND_NEWLINE: orjson writes a file's final newline itself; `+ b"\n"` would copy a 20 MB file.
_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
_LINE_OPTS = orjson.OPT_SORT_KEYS

# What sends loads_for_model to the exact reader: a number token of 16+ characters
# (digits, dots, a sign), one with a fraction (a double drops its trailing zeros: `0.20` would
# be read as 0.2; vanta writes its Decimals as strings, so only numbers people wrote have
# one) or one with an exponent (orjson refuses NaN and Infinity). Tokens are found
# in a copy with whitespace dropped, every digit and `-` made `0` and every `,` `[` made
# `:`: a JSON number always follows `:`, `,` or `[`, so each starts at a `:0` (text in
# strings can only add false alarms, which cost the exact reader, never a wrong value).
# bytes.translate and bytes.find run at memory speed; a regex over the text was 10x slower.
_TOKENS = bytes.maketrans(b"0123456789-,[", b"00000000000::")
_WHITESPACE = b" \t\r\n"
_INEXACT = re.compile(rb":0(?:[0.]{15}|0*[.eE])")
_MAX_SAFE_INT = 2**53
_SIG_DIGITS = 15  # every decimal with <= 15 significant digits survives a double


def fmt_decimal(d: Decimal) -> str:
    """Fixed-point text of a finite Decimal; `-0` becomes `0`."""
    s = str(d)  # fast, and already fixed-point for the scales vanta uses
    if "E" in s or s[0] == "-" or not d.is_finite():
        if not d.is_finite():
            raise ValueError(f"refusing to write non-finite number {d}")
        s = format(d.copy_abs() if d.is_zero() else d, "f")
    return s


def default(obj: Any) -> Any:
    """orjson's hook for what it cannot write itself: Decimals and vanta models."""
    if type(obj) is Decimal:
        s = str(obj)  # fmt_decimal inlined: this runs a million times per large cycle
        if "E" not in s and (s[0].isdigit() or (s[0] == "-" and s[1].isdigit() and not obj.is_zero())):
            return s  # fixed point already: not an exponent, NaN, Inf or -0
        return fmt_decimal(obj)
    # A vanta model, written field by field (aliases honoured) without building the
    # intermediate tree model_dump would: the same bytes, at a fraction of the cost.
    cls = type(obj)
    n = _plain.get(cls)
    if n is None:
        n = _learn(cls)
    values = obj.__dict__
    if len(values) == n:
        return values  # no alias, and __dict__ holds exactly the fields: sorted keys make it the same bytes
    return {(f.alias or k): values[k] for k, f in cls.__pydantic_fields__.items()}


_plain: dict[type, int] = {}
"""Model class -> its number of fields, or -1 if a field has an alias (`schema`)."""


def _learn(cls: type) -> int:
    fields = getattr(cls, "__pydantic_fields__", None)
    if fields is None:
        raise TypeError(f"cannot write {cls.__name__} in canonical JSON")
    _plain[cls] = -1 if any(f.alias for f in fields.values()) else len(fields)
    return _plain[cls]


def dumps(data: Any) -> bytes:
    """Canonical multi-line JSON bytes with a final newline; refuses floats."""
    _reject_floats(data)
    return dumps_trusted(data)


def dumps_line(data: Any) -> bytes:
    """One canonical JSON Lines record, newline included; refuses floats."""
    _reject_floats(data)
    return dumps_line_trusted(data)


# The *_trusted writers skip the float walk, which costs more than the dump itself on
# a large portfolio or a 100k-line log. Callers pass only data whose types exclude
# floats: model dumps (no model has a float field: tests/test_models_roundtrip.py
# checks) and events built from model fields.


def dumps_trusted(data: Any) -> bytes:
    return orjson.dumps(data, default=default, option=_OPTS)


def dumps_line_trusted(data: Any) -> bytes:
    # `+ b"\n"` copies the line on purpose: a small orjson result kept alive pins its
    # page-sized buffer (60k kept lines: 240 MB), an exact-size copy does not.
    return orjson.dumps(data, default=default, option=_LINE_OPTS) + b"\n"


def _reject_floats(data: Any) -> None:
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, float):
            raise TypeError(f"refusing to write float {x!r}: use Decimal")
        if isinstance(x, int) and not isinstance(x, bool) and abs(x) > _MAX_SAFE_INT:
            raise TypeError(f"refusing to write integer {x}: beyond 2**53, readers cannot carry it")
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, list | tuple):
            stack.extend(x)


class _Refused(ValueError):
    def __init__(self, token: str, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.token, self.problem, self.fix = token, problem, fix


def _parse_float(text: str) -> Decimal:
    d = Decimal(text)
    if not d.is_finite() or (d and not -999 < d.adjusted() < 999):
        raise _Refused(text, f"the number {text} is outside the range vanta accepts",
                       "write a decimal of ordinary size")
    t = d.as_tuple().digits  # Decimal(text) is exact; normalize() would round to the context
    nz = [i for i, x in enumerate(t) if x]
    digits = nz[-1] - nz[0] + 1 if nz else 1
    if digits > _SIG_DIGITS:
        raise _Refused(text, f"the number {text} has {digits} significant digits, more than a JSON "
                       f"number carries exactly ({_SIG_DIGITS})", f'write it as a string: "{text}"')
    return d


def _parse_int(text: str) -> int:
    n = int(text)
    if abs(n) > _MAX_SAFE_INT:
        raise _Refused(text, f"the integer {text} is larger than a JSON number carries exactly (2**53)",
                       f'write it as a string: "{text}"')
    return n


def _parse_constant(text: str) -> Any:
    raise _Refused(text, f"{text} is not a number", 'write a finite decimal number, such as "0.12"')


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _Duplicate(k)
            seen.add(k)
    return obj


def _duplicate_where(text: str) -> str:
    """JSON path of the first key written twice (only on the error path): parse again,
    marking the first object with a repeated key, then find the mark."""
    marked: list[tuple[dict[str, Any], str]] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs) and not marked:
            keys = [k for k, _ in pairs]
            marked.append((obj, next(k for i, k in enumerate(keys) if k in keys[:i])))
        return obj

    tree = json.loads(text, object_pairs_hook=hook, parse_float=str, parse_int=str, parse_constant=str)
    target, key = marked[0]
    return f"{_path_to(tree, target) or ''}/{key}"


def _path_to(tree: Any, target: object) -> str | None:
    """JSON pointer of `target` (the node itself, by identity) in a parsed tree: "" for
    the root, None if it is not there."""
    stack: list[tuple[Any, str]] = [(tree, "")]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            stack.extend((v, f"{path}/{k}") for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}/{i}") for i, v in enumerate(node))
    return None


def _where(text: str, token: str) -> str:
    """JSON path of the first value written as `token` (only on the error path):
    parse again with that token replaced by a marker, then find the marker."""
    marker = object()
    seen = [False]

    def mark(make: Any) -> Any:
        def hook(t: str) -> Any:
            if t == token and not seen[0]:
                seen[0] = True
                return marker
            return make(t)
        return hook

    tree = json.loads(text, parse_float=mark(Decimal), parse_int=mark(int), parse_constant=mark(Decimal))
    path = _path_to(tree, marker)
    return "" if path is None else path or "/"


def loads(raw: bytes, file: str) -> Any:
    """Parse JSON; numbers come back as int or as exactly the Decimal written; a key
    written twice in one object is refused.

    Raises:
        InputError: naming `file`, the line and column (or the JSON path), the problem and the fix.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(file, "", f"not UTF-8 text (byte {e.start})", "save the file as UTF-8") from None
    if text.startswith("\ufeff"):  # some Windows editors add one; JSON forbids it
        raise InputError(file, "line 1 column 1", "the file starts with a byte-order mark (BOM)",
                         "save it as UTF-8 without a BOM") from None
    try:
        return json.loads(text, object_pairs_hook=_unique, parse_float=_parse_float, parse_int=_parse_int,
                          parse_constant=_parse_constant)
    except json.JSONDecodeError as e:
        raise InputError(
            file, f"line {e.lineno} column {e.colno}", f"not valid JSON: {e.msg}",
            "fix the JSON syntax there (a missing comma, quote or bracket, or a trailing comma)",
        ) from None
    except _Refused as e:
        raise InputError(file, _where(text, e.token), e.problem, e.fix) from None
    except _Duplicate as e:
        raise InputError(file, _duplicate_where(text), f"the key {e.key!r} is written twice in one object",
                         "keep only one of them: JSON readers disagree on which one counts") from None


def loads_for_model(raw: bytes, file: str, vouched: bool) -> Any:
    """Parse JSON for model validation, fast where that is exact.

    Bytes that are not `vouched` (not exactly what vanta last committed: a file an
    operator wrote or edited) go to `loads`, which also refuses a key written twice.
    Vouched bytes were rendered by vanta from a validated model, so they have no
    repeated key and orjson may read them: orjson reads a JSON number as a double, and
    pydantic turns a double into a Decimal through its shortest repr: exact for up to
    15 significant digits and ordinary exponents, but not its trailing zeros. Files with a
    longer digit run, a fraction or an exponent go to `loads`, which refuses what a double
    cannot carry. Either way the model gets the decimal written, digit for digit.
    """
    if vouched and _doubles_exact(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # `loads` gives the located message (orjson refuses NaN and Infinity too)
    return loads(raw, file)


def _doubles_exact(raw: bytes) -> bool:
    """True when every number in `raw` survives a double (see _TOKENS)."""
    text = b":" + raw.translate(_TOKENS, _WHITESPACE)  # the ":" stands for a top-level number's start
    at = text.find(b":0")
    while at >= 0:
        if _INEXACT.match(text, at):
            return False
        at = text.find(b":0", at + 2)
    return True
