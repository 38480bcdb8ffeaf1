"""API keys, kept outside the home.

A follower's broker account is named in memory/ by its `account_ref` only. The keys
for it live in one store file outside the home (`$VANTA_SECRETS_FILE`, default
`~/.config/vanta/secrets.enc`, mode 0600), as a list of key sets per account_ref
(several sets: rotation). Each value in a set is stored in one of two forms:

- an environment reference, `{"env": "NAME"}`, from a packet value written
  `"env:NAME"`: the key itself never reaches vanta; it is read from the
  environment when the broker layer resolves the account;
- a sealed value, `{"sealed": "<Fernet token>"}`, from a literal key in a packet:
  encrypted with the Fernet key in `$VANTA_SECRETS_KEY` (cryptography's
  authenticated AES-CBC + HMAC recipe, not our own).

References are not secret, so a packet of references alone needs no key. The
broker adapter calls `resolve(account_ref)` for the key sets, references read from
the environment and sealed values decrypted. `cryptography` is imported only when
a value is sealed or opened, so `vanta --help` stays fast.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vanta import canonical
from vanta.errors import ExitCode, VantaError

FIELDS = ("api_key", "api_secret", "passphrase")
"""The values of one key set, in the order exchanges ask for them."""
ENV_PREFIX = "env:"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
DEFAULT_FILE = "~/.config/vanta/secrets.enc"
KEYGEN = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
SCHEMA = "vanta.secrets/1"

KeySpec = Mapping[str, str]
"""One key set as a packet writes it: field -> literal value or `env:NAME`."""


class SecretsError(VantaError):
    """The secret store, its path or its key is missing or wrong. Nothing was written;
    the message says what to set."""

    code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class KeySet:
    """One set of API keys for an account, resolved. Never printed: repr hides values."""

    api_key: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        shown = [f for f in FIELDS if getattr(self, f) is not None]
        return f"KeySet({', '.join(shown)}: hidden)"


def is_ref(value: str) -> bool:
    return value.startswith(ENV_PREFIX)


def has_literals(specs: Mapping[str, Sequence[KeySpec]]) -> bool:
    return any(not is_ref(v) for sets in specs.values() for s in sets for v in s.values())


def store_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("VANTA_SECRETS_FILE") or DEFAULT_FILE).expanduser().resolve()


def _fernet(env: Mapping[str, str], why: str) -> Any:
    key = env.get("VANTA_SECRETS_KEY", "")
    if not key:
        raise SecretsError(f"{why}, and VANTA_SECRETS_KEY is not set; create a key with `{KEYGEN}`, "
                           "keep it outside the home and export VANTA_SECRETS_KEY=<key> "
                           '(or write each key as "env:NAME" to keep it in the environment)')
    from cryptography.fernet import Fernet

    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise SecretsError(f"VANTA_SECRETS_KEY is not a Fernet key (32 url-safe base64 bytes); create one with "
                           f"`{KEYGEN}`") from None


def _stored(spec: KeySpec, fernet: Any) -> dict[str, dict[str, str]]:
    out = {}
    for f in FIELDS:
        v = spec.get(f)
        if v is None:
            continue
        out[f] = {"env": v[len(ENV_PREFIX):]} if is_ref(v) else {"sealed": fernet.encrypt(v.encode()).decode()}
    return out


def _same(stored: Mapping[str, Mapping[str, str]], spec: KeySpec, fernet: Any) -> bool:
    """Does a stored key set hold what `spec` says? Opens sealed values only to compare
    them with literals (a reference never equals a sealed value)."""
    if set(stored) != {f for f in FIELDS if spec.get(f) is not None}:
        return False
    for f, form in stored.items():
        v = spec[f]
        if "env" in form:
            if not is_ref(v) or form["env"] != v[len(ENV_PREFIX):]:
                return False
        elif is_ref(v) or _open(form["sealed"], fernet) != v:
            return False
    return True


def _open(token: str, fernet: Any) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return str(fernet.decrypt(token.encode()).decode())
    except InvalidToken:
        raise SecretsError("the secrets file holds keys sealed with another key than VANTA_SECRETS_KEY; "
                           "set VANTA_SECRETS_KEY to the key they were stored with") from None


@dataclass
class Store:
    """The store file's content: account_ref -> key sets in stored form."""

    path: Path
    accounts: dict[str, list[dict[str, dict[str, str]]]]

    @classmethod
    def load(cls, path: Path) -> Store:
        if not path.exists():
            return cls(path, {})
        data = canonical.loads(path.read_bytes(), str(path))
        if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("accounts"), dict):
            raise SecretsError(f"{path} is not a vanta secrets file ({SCHEMA}); point VANTA_SECRETS_FILE "
                               "at another file, or move this one away")
        return cls(path, data["accounts"])

    def save(self) -> None:
        """Write atomically: a 0600 temporary file beside it, fsync, rename, fsync the folder."""
        data = canonical.dumps({"schema": SCHEMA, "accounts": self.accounts})
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # an old .tmp left with other bits keeps them under O_CREAT
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@dataclass
class Pending:
    """Key sets checked and ready to store (nothing written yet): see `prepare`."""

    store: Store | None
    changed: tuple[str, ...]
    """account_refs whose key sets the write replaces."""

    def write(self) -> None:
        if self.store is not None and self.changed:
            self.store.save()


def prepare(specs: Mapping[str, Sequence[KeySpec]], home_root: Path,
            env: Mapping[str, str] | None = None) -> Pending:
    """Check where and how `specs` (account_ref -> key sets) would be stored, without
    writing: the path is outside the home, a key is set if a value is literal, the
    existing file opens. The packet's sets replace an account's stored sets; an
    account the packet gives no keys for keeps its own.

    Raises:
        SecretsError: with the fix (set VANTA_SECRETS_KEY, move VANTA_SECRETS_FILE).
    """
    env = os.environ if env is None else env
    if not specs:
        return Pending(None, ())
    path = store_path(env)
    root = home_root.resolve()
    if path == root or path.is_relative_to(root):
        raise SecretsError(f"the secrets file {path} is inside the home {root}, whose files go to git and "
                           "replay bundles; set VANTA_SECRETS_FILE to a path outside it "
                           f"(default {DEFAULT_FILE})")
    fernet = _fernet(env, "the packet holds literal API keys, which are stored encrypted") \
        if has_literals(specs) else None
    store = Store.load(path)
    changed = []
    for ref, sets in sorted(specs.items()):
        old = store.accounts.get(ref, [])
        if fernet is None and any("sealed" in form for s in old for form in s.values()):
            fernet = _fernet(env, f"keys stored for {ref!r} are sealed")
        if len(old) == len(sets) and all(_same(o, s, fernet) for o, s in zip(old, sets, strict=True)):
            continue
        store.accounts[ref] = [_stored(s, fernet) for s in sets]
        changed.append(ref)
    return Pending(store, tuple(changed))


def resolve(account_ref: str, env: Mapping[str, str] | None = None) -> list[KeySet]:
    """The key sets stored for `account_ref`, in rotation order: references read from
    the environment, sealed values decrypted. [] when none is stored.

    Raises:
        SecretsError: a referenced variable is unset, or a sealed value cannot be opened.
    """
    env = os.environ if env is None else env
    store = Store.load(store_path(env))
    out = []
    fernet = None
    for stored in store.accounts.get(account_ref, []):
        values: dict[str, str] = {}
        for f, form in stored.items():
            if "env" in form:
                if form["env"] not in env:
                    raise SecretsError(f"{account_ref}: {f} refers to the environment variable {form['env']}, "
                                       "which is not set; set it in the environment of the process that trades")
                values[f] = env[form["env"]]
            else:
                fernet = fernet or _fernet(env, f"{account_ref}: {f} is sealed")
                values[f] = _open(form["sealed"], fernet)
        out.append(KeySet(**values))
    return out
