"""API keys of a follower's `account_ref`, resolved outside the home, and rotated on health.

An account_ref names an exchange account: `<exchange>:<name>` (live) or
`<exchange>:<name>:sandbox`, e.g. `binance:alice:sandbox`. Its key sets come from,
in order:

1. the environment: `VANTA_KEY_<REF>_<n>_API_KEY`, `..._SECRET` and, where the
   exchange needs one, `..._PASSWORD`, for n = 1, 2, ...; `<REF>` is the ref upper-cased
   with every other character than A-Z and 0-9 turned into `_` (`BINANCE_ALICE_SANDBOX`);
2. the file named by `VANTA_KEYS_FILE`: JSON `{"<account_ref>": [{"apiKey": ..., "secret":
   ..., "password": ...}, ...]}`, mode 0600, outside the home.

Keys live only in this process's memory: never in memory/, replays/, logs or messages
(`KeySet.__repr__` masks them). Several key sets per ref let one be rotated out when it
is refused (authentication errors) or throttled (rate limits).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vanta.errors import StateError

EXCHANGES = ("kraken", "coinbase", "binance", "alpaca")


@dataclass(frozen=True)
class AccountRef:
    exchange: str
    name: str
    sandbox: bool

    @property
    def env_stem(self) -> str:
        raw = f"{self.exchange}:{self.name}" + (":sandbox" if self.sandbox else "")
        return re.sub(r"[^A-Z0-9]", "_", raw.upper())


def parse_ref(ref: str) -> AccountRef:
    parts = ref.split(":")
    if len(parts) not in (2, 3) or not all(parts) or (len(parts) == 3 and parts[2] != "sandbox"):
        raise StateError(f"account_ref {ref!r} is not <exchange>:<name> or <exchange>:<name>:sandbox; "
                         f"write it as e.g. 'kraken:alice' in memory/mirror_registry.json")
    if parts[0] not in EXCHANGES:
        raise StateError(f"account_ref {ref!r}: exchange {parts[0]!r} is not supported; use one of "
                         f"{', '.join(EXCHANGES)}")
    return AccountRef(parts[0], parts[1], len(parts) == 3)


@dataclass(frozen=True)
class KeySet:
    label: str
    """Where it came from (`env #1`, `file #2`): safe to log."""
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"KeySet({self.label}, api_key=***{self.api_key[-4:] if len(self.api_key) > 8 else ''})"

    def ccxt_config(self) -> dict[str, str]:
        cfg = {"apiKey": self.api_key, "secret": self.secret}
        if self.password:
            cfg["password"] = self.password
        return cfg


def from_env(ref: AccountRef, env: Mapping[str, str]) -> list[KeySet]:
    out: list[KeySet] = []
    n = 1
    while True:
        stem = f"VANTA_KEY_{ref.env_stem}_{n}_"
        key, secret = env.get(stem + "API_KEY"), env.get(stem + "SECRET")
        if not key and not secret:
            return out
        if not key or not secret:
            missing = stem + ("SECRET" if key else "API_KEY")
            raise StateError(f"{missing} is not set while its pair is; set both or neither")
        out.append(KeySet(f"env #{n}", key, secret, env.get(stem + "PASSWORD") or None))
        n += 1


def from_file(ref: str, path: Path, home: Path | None) -> list[KeySet]:
    path = path.resolve()
    if home is not None and path.is_relative_to(home.resolve()):
        raise StateError(f"VANTA_KEYS_FILE {path} is inside the home {home}; move it outside the home, "
                         "where git, replays and backups of the home never see it")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise StateError(f"VANTA_KEYS_FILE {path} has mode {mode:04o}; run `chmod 600 {path}`")
    try:
        sets = json.loads(path.read_text()).get(ref, [])
    except (ValueError, AttributeError) as exc:
        raise StateError(f"VANTA_KEYS_FILE {path} is not a JSON object of key-set lists: {exc}") from None
    good = isinstance(sets, list) and all(
        isinstance(s, dict) and all(isinstance(s.get(k), str) and s[k] for k in ("apiKey", "secret"))
        and isinstance(s.get("password", ""), str | None) for s in sets)
    if not good:  # the values are never quoted: they are keys
        raise StateError(f"VANTA_KEYS_FILE {path}: {ref!r} is not a list of key sets "
                         '{"apiKey": "...", "secret": "...", "password": "..." (optional)}; fix the file')
    return [KeySet(f"file #{i + 1}", s["apiKey"], s["secret"], s.get("password")) for i, s in enumerate(sets)]


def resolve(ref: str, env: Mapping[str, str] | None = None, home: Path | None = None) -> list[KeySet]:
    """Every key set of `ref`, environment first. Raises StateError naming what to set."""
    env = os.environ if env is None else env
    parsed = parse_ref(ref)
    sets = from_env(parsed, env)
    file = env.get("VANTA_KEYS_FILE")
    if file:
        sets += from_file(ref, Path(file), home)
    # Keys `vanta onboard` put in the secret store, under the registry's account_ref.
    from vanta import secrets as store

    try:
        stored = store.resolve(ref.partition(":")[2], env)
    except store.SecretsError as err:  # this account cannot trade; the others still do
        raise StateError(err.message) from None
    sets += [KeySet(f"store #{i + 1}", k.api_key, k.api_secret, k.passphrase)
             for i, k in enumerate(stored) if k.api_key and k.api_secret]
    if not sets:
        stem = f"VANTA_KEY_{parsed.env_stem}_1_"
        raise StateError(f"no API keys for account_ref {ref!r}: set {stem}API_KEY and {stem}SECRET "
                         "(or list it in the file named by VANTA_KEYS_FILE)")
    return sets


@dataclass
class KeyRing:
    """The key sets of one account_ref and which one is in use.

    A key set is rotated out after one authentication failure or `rate_limit_strikes`
    rate-limit errors in a row; `current` is None once every set was refused for
    authentication (an operator must fix the keys)."""

    sets: list[KeySet]
    rate_limit_strikes: int = 3
    index: int = 0
    refused: set[int] = field(default_factory=set)
    strikes: int = 0
    rotations: int = 0

    @property
    def current(self) -> KeySet | None:
        return None if len(self.refused) == len(self.sets) else self.sets[self.index]

    def auth_failed(self) -> bool:
        """Mark the current set refused; True if another set is left to try."""
        self.refused.add(self.index)
        return self._rotate()

    def rate_limited(self) -> bool:
        """Count a rate-limit strike; True if that rotated to another set."""
        self.strikes += 1
        if self.strikes < self.rate_limit_strikes or len(self.sets) == 1:
            return False
        return self._rotate()

    def ok(self) -> None:
        self.strikes = 0

    def _rotate(self) -> bool:
        for step in range(1, len(self.sets) + 1):
            j = (self.index + step) % len(self.sets)
            if j not in self.refused:
                changed = j != self.index
                self.index, self.strikes = j, 0
                self.rotations += changed
                return changed
        return False
