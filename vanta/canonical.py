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

# Fast path guard: a non-integer or long number token anywhere means the exact reader.
_FLOATISH = re.compile(rb"[:\[,]\s*-?\d+[.eE]|[:\[,]\s*-?\d{16,}")
_MAX_SAFE_INT = 2**53
_SIG_DIGITS = 15  # every decimal with <= 15 significant digits survives a double


def fmt_decimal(d: Decimal) -> str:
    """Fixed-point text of a finite Decimal; `-0` becomes `0`."""
    if not d.is_finite():
        raise ValueError(f"refusing to write non-finite number {d}")
    if d.is_zero():
        d = d.copy_abs()
    return format(d, "f")


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return fmt_decimal(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot write {type(obj).__name__} in canonical JSON")


def dumps(data: Any) -> bytes:
    """Canonical multi-line JSON bytes with a final newline."""
    _reject_floats(data)
    return orjson.dumps(data, default=_default, option=_OPTS) + b"\n"


def dumps_line(data: Any) -> bytes:
    """One canonical JSON Lines record, newline included."""
    _reject_floats(data)
    return orjson.dumps(data, default=_default, option=_LINE_OPTS) + b"\n"


def _reject_floats(data: Any) -> None:
    # Writers hand us model dumps in "json" mode; a float there is a bug upstream.
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
        digits = len(d.as_tuple().digits.lstrip((0,))) if not d.is_zero() else 1
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
    if not _FLOATISH.search(raw):
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
