"""Retry with exponential backoff, and a circuit breaker per broker account.

Only reads and lookups go through `retry`: a submit whose answer was lost is never
sent again blindly, its fate is looked up by client order id (see ccxt_broker).
The clock and the sleep are injected, so tests run in no time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from vanta.brokers.errors import BrokerError, CircuitOpen, Transient, classify, is_ccxt_error

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """Attempt k (0-based) waits base * factor**k seconds, at most `cap`."""

    attempts: int = 4
    base: float = 0.25
    factor: float = 2.0
    cap: float = 8.0

    def delay(self, k: int) -> float:
        return float(min(self.cap, self.base * self.factor**k))


@dataclass
class Breaker:
    """Opens after `threshold` consecutive transient failures; while open (for
    `cooldown` seconds) calls fail at once with Unavailable, so an outage costs one
    timeout per account, not one per order. One probe is let through after the
    cooldown (half-open): a success closes it, a failure opens it again."""

    name: str
    threshold: int = 5
    cooldown: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    trips: int = field(default=0)

    @property
    def is_open(self) -> bool:
        if self.opened_at is None:
            return False
        if self.clock() - self.opened_at >= self.cooldown:
            return False  # half-open: let a probe through
        return True

    def check(self) -> None:
        if self.is_open:
            raise CircuitOpen(f"{self.name}: circuit open after {self.failures} failures in a row; "
                              f"orders stay queued, next probe in {self.cooldown:.0f} s")

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            if self.opened_at is None or not self.is_open:
                self.trips += 1
            self.opened_at = self.clock()


async def call(fn: Callable[[], Awaitable[T]], breaker: Breaker) -> T:
    """One broker call through the breaker, its error mapped to a BrokerError."""
    breaker.check()
    try:
        out = await fn()
    except Exception as exc:  # ccxt errors are mapped, anything else re-raised
        if not is_ccxt_error(exc) and not isinstance(exc, BrokerError):
            raise
        err = classify(exc)
        if isinstance(err, Transient):
            breaker.failure()
        raise err from exc
    breaker.success()
    return out


async def retry(fn: Callable[[], Awaitable[T]], breaker: Breaker, backoff: Backoff,
                sleep: Sleep = asyncio.sleep, mapped: bool = False) -> T:
    """`call` again after a transient error, waiting longer each time; a final error
    or the last attempt's error is raised. For reads and lookups only.

    `mapped`: `fn` already goes through `call` (it raises BrokerErrors and feeds the breaker)."""
    for k in range(backoff.attempts):
        try:
            return await (fn() if mapped else call(fn, breaker))
        except BrokerError as err:
            if not err.retry or k == backoff.attempts - 1 or breaker.is_open:
                raise
            await sleep(backoff.delay(k))
    raise AssertionError("unreachable")
