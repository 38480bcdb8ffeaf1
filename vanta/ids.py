"""Deterministic client order ids.

The id is a hash of (vault, cycle, account, sleeve, symbol, side): an order sent
again after a crash carries the same id, so the broker recognises it. 32 characters
fit every exchange vanta targets (binance allows 36).
"""

from __future__ import annotations

import hashlib


def client_order_id(vault_id: str, cycle: int, account: str, sleeve: str, symbol: str, side: str) -> str:
    key = f"{vault_id}|{cycle}|{account}|{sleeve}|{symbol}|{side}".encode()
    return "vt" + hashlib.blake2b(key, digest_size=15).hexdigest()


class OrderIds:
    """client_order_id of the orders of one (vault, cycle, account, sleeve): the shared
    start of the key is hashed once and copied per order (about three times faster;
    the mirror stage makes an id per child order)."""

    def __init__(self, vault_id: str, cycle: int, account: str, sleeve: str) -> None:
        self._head = hashlib.blake2b(f"{vault_id}|{cycle}|{account}|{sleeve}|".encode(), digest_size=15)

    def __call__(self, symbol: str, side: str) -> str:
        return self.of(tail(symbol, side))

    def of(self, key_tail: bytes) -> str:
        """The id of the order whose key ends in `key_tail` (`tail(symbol, side)`, which a
        caller making many orders of one symbol and side encodes once)."""
        h = self._head.copy()
        h.update(key_tail)
        return "vt" + h.hexdigest()


def tail(symbol: str, side: str) -> bytes:
    return f"{symbol}|{side}".encode()
