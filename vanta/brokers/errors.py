"""The broker errors vanta acts on, and the map from ccxt's exceptions to them.

ccxt raises some fifty exception classes. vanta needs to know one thing about each:
what to do next. Each class below says it in its docstring. `classify` is the only
place that knows ccxt's names; it imports ccxt lazily, so importing this module
costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from vanta.errors import VantaError


class BrokerError(VantaError):
    """A broker call failed. Subclasses say whether vanta retries."""

    retry = False


class Transient(BrokerError):
    """The broker may answer if asked again later: retried with exponential backoff
    (reads), looked up by client order id (a submit whose fate is unknown), or left
    queued for the next cycle once the attempts or the breaker run out."""

    retry = True


class NetworkDown(Transient):
    """No answer: connection refused, reset, or timed out."""


class RateLimited(Transient):
    """The broker asked vanta to slow down (HTTP 429, DDoS protection). The key set's
    health drops, so a rotation may follow."""


class Unavailable(Transient):
    """The broker says it is down or in maintenance."""


class CircuitOpen(Unavailable):
    """vanta's own breaker refused the call: nothing was sent, the order waits (`retry`)."""


class Final(BrokerError):
    """Asking again gives the same answer: never retried."""


class InsufficientFunds(Final):
    """The account cannot pay for or deliver the order: the order is rejected and logged."""


class InvalidOrder(Final):
    """The broker refused the order's terms (size, price, symbol): rejected and logged."""


class AuthFailed(Final):
    """The key set was refused: the next key set of the account_ref is tried; with none
    left, the account's orders stay queued and an operator fixes the keys."""


class NotFound(Final):
    """The broker does not know the order (a lookup by client order id found nothing)."""


class Unsupported(Final):
    """The exchange or ccxt cannot do what was asked (no sandbox, no such endpoint):
    a configuration problem the message names."""


NEVER_FOUND = "never found at the exchange by client order id"
"""Starts the reason of a `submitting` order's deferral when a complete lookup did not find
it and the order was too old to be sent again; the execute stage expires it."""


FEE_UNVALUED = "fee unvalued:"
"""Marks, in a fill's reason, a fee charged in a currency vanta could not value in the
quote (`fee unvalued: <amount> <currency> ...`); the truth stage logs it as `fee_unvalued`."""


def booked_fees(reason: str | None) -> list[tuple[str, str, str]]:
    """(amount, currency, value in the quote) of each fee a fill's reason says was charged in
    another currency and booked at its value (`fee <amount> <currency> booked as <value> ...`)."""
    if not reason or " booked as " not in reason:
        return []
    out = []
    for part in reason.split("; "):
        words = part.split()
        if len(words) >= 6 and words[0] == "fee" and words[3:5] == ["booked", "as"]:
            out.append((words[1], words[2], words[5]))
    return out


def unvalued_fees(reason: str | None) -> list[tuple[str, str]]:
    """(amount, currency) of each unvalued fee a fill's reason names."""
    if not reason or FEE_UNVALUED not in reason:
        return []
    out = []
    for part in reason.split("; "):
        if part.startswith(FEE_UNVALUED):
            amount, ccy = part[len(FEE_UNVALUED):].split()[:2]
            out.append((amount, ccy))
    return out


# ccxt class name -> vanta class. Checked along the exception's MRO, most specific first,
# so a new ccxt subclass lands on its parent's mapping.
_BY_NAME: dict[str, type[BrokerError]] = {
    "OrderNotFound": NotFound,
    "InsufficientFunds": InsufficientFunds,
    "AuthenticationError": AuthFailed,
    "RateLimitExceeded": RateLimited,
    "DDoSProtection": RateLimited,
    "OnMaintenance": Unavailable,
    "ExchangeNotAvailable": Unavailable,
    "RequestTimeout": NetworkDown,
    "InvalidNonce": NetworkDown,
    "NetworkError": NetworkDown,
    "NotSupported": Unsupported,
    "InvalidOrder": InvalidOrder,
    "BadSymbol": InvalidOrder,
    "BadRequest": InvalidOrder,
    "OperationRejected": InvalidOrder,
    "ArgumentsRequired": InvalidOrder,
    "BadResponse": Unavailable,
    "OperationFailed": NetworkDown,
    "ExchangeError": InvalidOrder,
}


def classify(exc: BaseException) -> BrokerError:
    """The vanta error for a ccxt exception (a BrokerError passes through).

    Anything that is not a ccxt error is a bug and is re-raised by the caller."""
    if isinstance(exc, BrokerError):
        return exc
    for klass in type(exc).__mro__:
        target = _BY_NAME.get(klass.__name__)
        if target is not None and klass.__module__.startswith("ccxt"):
            return target(f"{type(exc).__name__}: {_short(exc)}")
    raise TypeError(f"not a ccxt error: {type(exc).__name__}") from exc


def is_ccxt_error(exc: BaseException) -> bool:
    return any(k.__module__.startswith("ccxt") and k.__name__ == "BaseError" for k in type(exc).__mro__)


def _short(exc: BaseException) -> str:
    text = redact(" ".join(str(exc).split()))
    return text if len(text) <= 300 else text[:297] + "..."


# A query parameter that authenticates a request (binance signs its GET and DELETE calls in
# the URL, which ccxt puts in its messages): its value is replaced, the rest stays readable.
_SIGNED = re.compile(r"([?&][A-Za-z_]*(?:sign|key|secret|pass|token|auth)[A-Za-z_]*=)[^&\s\"']+", re.I)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` (a broker's error message, which vanta logs and records) with signatures and
    credentials in URLs, and every value of `secrets` (the account's keys), masked."""
    text = _SIGNED.sub(r"\1***", text)
    for s in secrets:
        if s and len(s) >= 6:  # shorter values would mask ordinary words
            text = text.replace(s, "***")
    return text
