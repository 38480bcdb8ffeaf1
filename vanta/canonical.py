"""Canonical JSON: the only way vanta reads and writes its files.

Writing: orjson, sorted keys, 2-space indent, final newline; Decimals as fixed-point
strings (never exponent, never -0); floats and NaN refused. JSON Lines use the same
rules on one line.

Reading: numbers are read as exactly the decimal written. A number that a JSON
reader built on binary floats could not carry exactly (more than 15 significant
digits, or an integer beyond 2**53) is refused, so a file means the same thing to
every reader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from vanta.errors import InputError

_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
_LINE_OPTS = orjson.OPT_SORT_KEYS

# Fast-path guard. orjson reads a JSON number as a double, and pydantic turns a double
# into Decimal through its shortest repr, which is exact for up to 15 significant
# digits. Any run of 16+ digits (dots allowed) sends the file to the exact reader,
# which refuses what a double cannot carry; the fast path cannot lose a digit.
_LONG_NUMBER = re.compile(rb"\d[\d.]{15,}")
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


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return fmt_decimal(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot write {type(obj).__name__} in canonical JSON")


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
    return orjson.dumps(data, default=_default, option=_OPTS) + b"\n"


def dumps_line_trusted(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=_LINE_OPTS) + b"\n"


def _reject_floats(data: Any) -> None:
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, float):
            raise TypeError(f"refusing to write float {x!r}: use Decimal")
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, list | tuple):
            stack.extend(x)


def _exact_number(file: str) -> tuple[Callable[[str], Decimal], Callable[[str], int]]:
    def parse_float(text: str) -> Decimal:
        d = Decimal(text)
        digits = len(d.normalize().as_tuple().digits)  # significant: no leading/trailing zeros
        if digits > _SIG_DIGITS:
            raise InputError(
                file,
                "",
                f"the number {text} has {digits} significant digits, more than a JSON "
                f"number carries exactly ({_SIG_DIGITS})",
                f'write it as a string: "{text}"',
            )
        return d

    def parse_int(text: str) -> int:
        n = int(text)
        if abs(n) > _MAX_SAFE_INT:
            raise InputError(
                file,
                "",
                f"the integer {text} is larger than a JSON number carries exactly (2**53)",
                f'write it as a string: "{text}"',
            )
        return n

    return parse_float, parse_int


def _reject_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a number vanta accepts")


def loads(raw: bytes, file: str) -> Any:
    """Parse JSON bytes; numbers come back as int or exact Decimal.

    Raises:
        InputError: naming `file`, the line and column, and the fix.
    """
    if not _LONG_NUMBER.search(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the exact reader below gives the message
    parse_float, parse_int = _exact_number(file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(file, "", f"not UTF-8 text (byte {e.start})", "save the file as UTF-8") from None
    try:
        return json.loads(
            text, parse_float=parse_float, parse_int=parse_int, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as e:
        raise InputError(
            file,
            "",
            f"not valid JSON at line {e.lineno} column {e.colno}: {e.msg}",
            "fix the JSON syntax there (a missing comma, quote or bracket)",
        ) from None
    except ValueError as e:
        raise InputError(
            file, "", str(e), "write a finite decimal number such as \"0.12\""
        ) from None


def loads_lines(raw: bytes, file: str) -> list[Any]:
    """Parse JSON Lines; blank lines are an error (a log never has them)."""
    out = []
    for n, line in enumerate(raw.splitlines(), 1):
        try:
            out.append(loads(line, file))
        except InputError as e:
            raise InputError(file, f"line {n}", e.problem, e.fix) from None
    return out
