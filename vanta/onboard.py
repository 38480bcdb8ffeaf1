"""`vanta onboard PACKET.json` and `vanta offboard ID`: followers join and leave.

A packet (seed 000's API packet, plus `vault_id`) describes one Core Vault of a
follower: the vault's base currency is its quote asset, the broker entry for that
asset class (`equities` for fiat, `crypto` for stablecoins) its wallet, and its
sleeves follow vaults (one compounding sleeve `main` for a plain packet). Onboarding
computes the follower's registry entry from the packet and the current one:

- the same as now: nothing is written ("unchanged");
- new or different: mirror_registry.json (and portfolio.json, for a new Core Vault's
  opening cash) are committed through the journal, with one hash-chained
  `registry_update` line in trade_log.jsonl carrying the diff and the sha256 of every
  memory file after the change (what `vanta verify` checks memory/ against until the
  next cycle).

A packet updates only its own Core Vault: other Core Vaults of the follower stay, and
so do the operator's switches (`kill_switch`, `paused`). API keys in the packet go to
the secret store outside the home (vanta/secrets.py); memory/ keeps `account_ref`.
Offboarding sets `status: offboarded` (the mirror stage gives such a follower no
orders) and keeps its books and history.
"""

from __future__ import annotations

import re
from bisect import insort
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, StringConstraints, ValidationError

from vanta import admin, canonical, journal
from vanta import secrets as secret_store
from vanta.canonical import fmt_decimal
from vanta.errors import InputError
from vanta.home import Home, locked
from vanta.models import (
    MEMORY_FILES,
    AccountLink,
    Caps,
    CoreVault,
    Currency,
    FeeTerms,
    Follower,
    Id,
    Mode,
    Model,
    NonNeg,
    Persona,
    PortfolioFile,
    Positive,
    RegistryFile,
    Sleeve,
    Vault,
    VaultFile,
)
from vanta.money import cash_step
from vanta.validate import cross_check, parse

REGISTRY = "mirror_registry.json"
PORTFOLIO = "portfolio.json"
LOG = "memory/trade_log.jsonl"
ADMIN_KIND = "registry_update"
"""The kind of a log line written between cycles (verify accepts only this kind there)."""

# ---------------------------------------------------------------- the packet

Scale = Annotated[Decimal, Field(gt=0, le=100, allow_inf_nan=False), PlainSerializer(fmt_decimal, return_type=str)]
SecretText = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
LIVE = ("alpaca", "binance", "coinbase", "kraken")
Adapter = Literal["paper", "alpaca", "binance", "coinbase", "kraken",
                  "ccxt:alpaca", "ccxt:binance", "ccxt:coinbase", "ccxt:kraken"]
FIAT = ("USD", "EUR", "GBP")
"""Quote assets held at an equities broker; the others (USDC, USDT) at a crypto one."""


class KeyFields(Model):
    """One set of API keys: each a literal (stored encrypted) or `env:NAME`."""

    # repr=False: a packet printed by mistake (a debugger, a log call) shows no key.
    api_key: SecretText | None = Field(default=None, repr=False)
    api_secret: SecretText | None = Field(default=None, repr=False)
    secret: SecretText | None = Field(default=None, repr=False)
    """Another name for api_secret (exchanges use both)."""
    passphrase: SecretText | None = Field(default=None, repr=False)

    def spec(self) -> dict[str, str]:
        values = {"api_key": self.api_key, "api_secret": self.api_secret or self.secret,
                  "passphrase": self.passphrase}
        return {k: v for k, v in values.items() if v is not None}


class BrokerEntry(KeyFields):
    adapter: Adapter
    account_ref: str = Field(min_length=1, max_length=128)
    keys: tuple[KeyFields, ...] = ()
    """Several key sets, in rotation order (instead of the fields above)."""

    def specs(self) -> list[dict[str, str]]:
        flat = self.spec()
        return ([flat] if flat else []) + [k.spec() for k in self.keys]


class Brokers(Model):
    equities: BrokerEntry | None = None
    crypto: BrokerEntry | None = None


class Packet(Model):
    """Seed 000's API packet, with vanta's extras (README: Onboarding)."""

    user_id: Id
    brokers: Brokers
    vault_id: Id | None = None
    persona: Persona = "baseline"
    mirroring_mode: Mode | None = None
    scale: Scale | None = None
    ratio: Positive | None = None
    amount: Positive | None = None
    fee_model: FeeTerms | None = None
    sleeves: tuple[Sleeve, ...] | None = None
    tradeable: NonNeg | None = None
    caps: Caps | None = None
    min_account_equity: NonNeg | None = None
    paper_balance: dict[Currency, NonNeg] | None = None


_FOUND = re.compile(r", found (?P<value>.*?)(?P<more> \(and \d+ more problems?\))?$", re.S)
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


def _shown(m: re.Match[str]) -> str:
    """A number found where it does not belong is quoted; text never is (a key pasted into
    the wrong field, `user_id` or `persona`, would be printed and end up in cron's mail)."""
    return m.group(0) if _NUMBER.fullmatch(m.group("value")) else ", value not shown" + (m.group("more") or "")


def parse_packet(raw: bytes, file: str) -> Packet:
    """Validate a packet. A message never quotes a text value, and about a broker entry or
    an unknown field no value at all: it may be an API key."""
    try:
        packet = parse(raw, Packet, file)
    except InputError as e:
        if not (e.path.startswith("/brokers") or e.problem.startswith("unknown field")):
            raise InputError(e.file, e.path, _FOUND.sub(_shown, e.problem, count=1), e.fix) from None
        problem, fix = _FOUND.sub(lambda m: ", value not shown" + (m.group("more") or ""), e.problem, count=1), e.fix
        if problem == e.problem and not problem.startswith(("required field is missing", "the key ")):
            # (a key written twice: the message names the key, never its value)
            # canonical's refusals quote the number in the problem and the fix
            problem, fix = "not a valid value (the value is not shown: it may be a key)", "write it as a string"
        raise InputError(e.file, e.path, problem, fix) from None
    _keys_stay_in_key_fields(packet, canonical.loads(raw, file), file)
    return packet


KEY_FIELDS = frozenset(KeyFields.model_fields) | {"keys"}


def _keys_stay_in_key_fields(packet: Packet, tree: Any, file: str) -> None:
    """Refuse a packet whose key value also appears in a field that goes to memory/ (an
    integration that sends the API key as `account_ref`, the account's name, as well)."""
    entries = [e for e in (packet.brokers.equities, packet.brokers.crypto) if e is not None]
    secrets = {v for e in entries for spec in e.specs() for v in spec.values()
               if not secret_store.is_ref(v) and len(v) >= 8}
    if not secrets:
        return
    stack: list[tuple[Any, str]] = [(tree, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack += [(v, f"{path}/{k}") for k, v in node.items() if k not in KEY_FIELDS]
        elif isinstance(node, list):
            stack += [(v, f"{path}/{i}") for i, v in enumerate(node)]
        elif isinstance(node, str) and any(s in node for s in secrets):
            raise InputError(file, path, "holds an API key given in the packet (value not shown); this field "
                             "is written to memory/, the trade log and replay bundles",
                             "name the account with an id that is not a key (the keys go in api_key, "
                             "api_secret and passphrase only)")


# ---------------------------------------------------------------- from packet to registry entry


@dataclass
class Plan:
    """What onboarding would write: the entry, the Core Vault's opening books, keys."""

    follower: Follower
    quote: str
    opening_cash: Decimal | None
    """Cash of a Core Vault that has no books yet; None: its books exist."""
    keys: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def _vault(vaults: Mapping[str, Vault], vid: str | None, file: str, where: str) -> Vault:
    names = ", ".join(sorted(vaults))
    if vid is None:
        raise InputError(file, where, "required field is missing: the packet names no vault to follow",
                         f'add "vault_id": one of {names}')
    v = vaults.get(vid)
    if v is None:
        raise InputError(file, where, f"vault {vid!r} is not in vault.json", f"use one of {names}")
    return v


def _check_persona(v: Vault, persona: str, file: str, where: str) -> None:
    if persona != "baseline" and persona not in v.personas:
        offered = ", ".join(("baseline", *v.personas))
        raise InputError(file, where, f"vault {v.vault_id} does not offer persona {persona!r}",
                         f"choose one of {offered}")


def _plain_sleeve(p: Packet, v: Vault, file: str) -> Sleeve:
    mode = p.mirroring_mode or v.mirroring.mode
    where = "/mirroring_mode" if p.mirroring_mode else "/vault_id"
    if mode == "fixed_ratio" and p.ratio is None:
        raise InputError(file, "/ratio", f"mode fixed_ratio (from {where[1:]}) needs a ratio",
                         'add "ratio", such as "0.5"')
    if mode == "fixed_amount" and p.amount is None:
        raise InputError(file, "/amount", f"mode fixed_amount (from {where[1:]}) needs an amount",
                         'add "amount", such as "500"')
    return Sleeve(sleeve_id="main", vault_id=v.vault_id, mode=mode, scale=p.scale or Decimal(1),
                  ratio=p.ratio, amount=p.amount)


def _sleeves(p: Packet, vaults: Mapping[str, Vault], file: str) -> tuple[list[Sleeve], Vault]:
    """The Core Vault's sleeves and the vault that sets its quote asset."""
    if p.sleeves is None:
        v = _vault(vaults, p.vault_id, file, "/vault_id")
        _check_persona(v, p.persona, file, "/persona")
        return [_plain_sleeve(p, v, file)], v
    for name in ("vault_id", "mirroring_mode", "scale", "ratio", "amount"):
        if getattr(p, name) is not None:
            raise InputError(file, f"/{name}", f"{name} is given beside sleeves, which set it per sleeve",
                             f'remove "{name}", or set it in each sleeve')
    if not p.sleeves:
        raise InputError(file, "/sleeves", "the list of sleeves is empty", "give at least one sleeve")
    first = None
    for i, s in enumerate(p.sleeves):
        v = _vault(vaults, s.vault_id, file, f"/sleeves/{i}/vault_id")
        _check_persona(v, s.persona or p.persona, file, f"/sleeves/{i}/persona" if s.persona else "/persona")
        first = first or v
        if v.base_currency != first.base_currency:
            raise InputError(file, f"/sleeves/{i}/vault_id",
                             f"vault {v.vault_id} trades in {v.base_currency}, the Core Vault in "
                             f"{first.base_currency} (from vault {first.vault_id})",
                             "send one packet per quote asset")
    assert first is not None
    return list(p.sleeves), first


def _link(p: Packet, quote: str, file: str) -> AccountLink:
    order = ("equities", "crypto") if quote in FIAT else ("crypto", "equities")
    for kind in order:
        entry: BrokerEntry | None = getattr(p.brokers, kind)
        if entry is not None:
            adapter = f"ccxt:{entry.adapter}" if entry.adapter in LIVE else entry.adapter
            return AccountLink(adapter=adapter, account_ref=entry.account_ref)
    raise InputError(file, "/brokers", f"no broker entry for the {quote} Core Vault",
                     f'add "{order[0]}": {{"adapter": "paper", "account_ref": "..."}}')


def _opening_cash(p: Packet, quote: str, link: AccountLink, file: str) -> Decimal:
    if p.paper_balance is None:
        return Decimal(0).quantize(cash_step(quote))
    if link.adapter != "paper":
        raise InputError(file, "/paper_balance",
                         f"paper_balance is the opening cash of a paper wallet, but the {quote} wallet uses "
                         f"{link.adapter}, whose balance comes from the broker",
                         "remove paper_balance, or use adapter paper")
    other = sorted(set(p.paper_balance) - {quote})
    if other:
        raise InputError(file, f"/paper_balance/{other[0]}", f"the Core Vault trades in {quote}, not {other[0]}",
                         f"give only {quote}")
    if quote not in p.paper_balance:
        raise InputError(file, "/paper_balance", f"no {quote} balance", f'add "{quote}": "25000.00"')
    cash = p.paper_balance[quote]
    step = cash_step(quote)
    if cash != cash.quantize(step):
        raise InputError(file, f"/paper_balance/{quote}", f"{quote} is counted in steps of {step}, "
                         f"found {fmt_decimal(cash)}", f"round it to a multiple of {step}")
    return cash.quantize(step)


def _key_specs(p: Packet, file: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for kind in ("equities", "crypto"):
        entry: BrokerEntry | None = getattr(p.brokers, kind)
        if entry is None:
            continue
        where = f"/brokers/{kind}"
        sets = [entry, *entry.keys]
        for i, ks in enumerate(sets):
            at = where if i == 0 else f"{where}/keys/{i - 1}"
            if ks.api_secret is not None and ks.secret is not None:
                raise InputError(file, f"{at}/secret", "both api_secret and secret are given (values not shown)",
                                 "keep one of them")
            for name, value in ks.spec().items():
                ref = value[len(secret_store.ENV_PREFIX):]
                if secret_store.is_ref(value) and not secret_store.ENV_NAME.match(ref):
                    raise InputError(file, f"{at}/{name}", "the env reference is not a variable name (value not "
                                     "shown: it may be a key)",
                                     'write "env:NAME" with letters, digits and _')
        specs = entry.specs()
        if entry.spec() and entry.keys:
            raise InputError(file, f"{where}/keys", "keys are given both as fields and in keys (values not shown)",
                             "move every key set into keys")
        if specs and entry.adapter == "paper":
            raise InputError(file, where, "adapter paper takes no API keys (values not shown)",
                             "remove the keys, or name the live adapter they belong to")
        if specs:
            if entry.account_ref in out and out[entry.account_ref] != specs:
                raise InputError(file, f"{where}/account_ref",
                                 f"account_ref {entry.account_ref!r} is given twice with different keys",
                                 "give each broker account its own account_ref")
            out[entry.account_ref] = specs
    return out


def _follower(p: Packet, sleeves: list[Sleeve], quote: str, link: AccountLink, fee: FeeTerms,
              old: Follower | None, file: str) -> Follower:
    old_core = next((c for c in old.cores if c.quote == quote), None) if old else None
    kept = {s.sleeve_id: s for s in old_core.sleeves} if old_core else {}
    # The operator's pause switches survive a packet that does not set them.
    sleeves = [s if "paused" in s.model_fields_set or s.sleeve_id not in kept
               else s.model_copy(update={"paused": kept[s.sleeve_id].paused}) for s in sleeves]
    where = "/sleeves" if p.sleeves is not None else "/"
    try:
        core = CoreVault(quote=quote, account=link, tradeable=p.tradeable,
                         paused=old_core.paused if old_core else False, sleeves=tuple(sleeves))
        return Follower(
            follower_id=p.user_id, persona=p.persona, min_account_equity=p.min_account_equity,
            kill_switch=old.kill_switch if old else False, status="active", caps=p.caps or Caps(),
            fee_model=fee,
            cores=tuple([*(c for c in (old.cores if old else ()) if c.quote != quote), core]))
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        text = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        problem, _, fix = text.partition("; ")
        raise InputError(file, where, problem, fix or "correct the packet") from None


def _orphans(old: Follower | None, new: Follower, port: PortfolioFile, quote: str, file: str) -> None:
    """Refuse to drop a sleeve whose books hold coins or positions: they would leave every report."""
    if old is None:
        return
    books = port.followers.get(old.follower_id, {}).get(quote)
    keep = {s.sleeve_id for _, s in new.sleeves()}
    for _, s in old.sleeves():
        sb = books.sleeves.get(s.sleeve_id) if books else None
        if s.sleeve_id in keep or sb is None:
            continue
        if sb.positions or any(sb.cash.values()):
            held = ", ".join(sorted(sb.positions)) or "cash"
            raise InputError(file, "/sleeves" if new.cores else "/",
                             f"sleeve {s.sleeve_id!r} of {old.follower_id}'s {quote} Core Vault holds {held}, "
                             "and the packet leaves it out",
                             f'keep sleeve {s.sleeve_id!r} in the packet (with "paused": true) until it is sold')


def _keep(p: Packet, old: Follower | None, vaults: Mapping[str, Vault]) -> Packet:
    """An update keeps the follower's settings the packet leaves out (persona, fee terms,
    caps, minimum equity, and its Core Vault's tradeable coins): a fee agreement never
    changes because a field was omitted. A field given, even null, is set."""
    if old is None:
        return p
    given = p.model_fields_set
    kept: dict[str, Any] = {name: getattr(old, name) for name in ("persona", "fee_model", "caps", "min_account_equity")
                            if name not in given}
    if "tradeable" not in given:
        first = p.sleeves[0].vault_id if p.sleeves else p.vault_id
        v = vaults.get(first or "")
        core = next((c for c in old.cores if v is not None and c.quote == v.base_currency), None)
        kept["tradeable"] = core.tradeable if core else None
    return p.model_copy(update=kept)


def plan(p: Packet, vf: VaultFile, reg: RegistryFile, port: PortfolioFile, file: str) -> Plan:
    """The follower entry a packet makes, given the current files (pure)."""
    vaults = {v.vault_id: v for v in vf.vaults}
    old = next((f for f in reg.followers if f.follower_id == p.user_id), None)
    p = _keep(p, old, vaults)
    sleeves, v = _sleeves(p, vaults, file)
    quote = v.base_currency
    link = _link(p, quote, file)
    cash = _opening_cash(p, quote, link, file)
    keys = _key_specs(p, file)
    new = _follower(p, sleeves, quote, link, p.fee_model or v.mirroring.fee, old, file)
    _orphans(old, new, port, quote, file)
    has_books = quote in port.followers.get(p.user_id, {})
    return Plan(new, quote, None if has_books else cash, keys)


# ---------------------------------------------------------------- diffs


def _keyed(value: Any) -> Any:
    """Lists of entries with an id become maps by that id, so a diff path names the
    Core Vault or sleeve (`cores/USD/sleeves/main/scale`), not a list position."""
    if isinstance(value, dict):
        return {k: _keyed(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        for key in ("quote", "sleeve_id"):
            if all(key in x for x in value):
                return {x[key]: _keyed({k: v for k, v in x.items() if k != key}) for x in value}
    return value


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        try:
            return Decimal(a) == Decimal(b)  # "0.20" and "0.2" are one fee share
        except InvalidOperation:
            return False
    return False


def diff(before: Any, after: Any, path: str) -> list[dict[str, Any]]:
    """[{path, before, after}] for every leaf that differs (absent: None)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for k in sorted(set(before) | set(after)):
            out += diff(before.get(k), after.get(k), f"{path}/{k}")
        return out
    return [] if _same(before, after) else [{"path": path, "before": before, "after": after}]


# ---------------------------------------------------------------- committing an admin change


@dataclass
class Outcome:
    follower_id: str
    action: Literal["onboard", "update", "offboard", "unchanged"]
    diff: list[dict[str, Any]]
    log_seq: int | None = None
    keys_stored: tuple[str, ...] = ()
    secrets_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"follower_id": self.follower_id, "action": self.action, "diff": self.diff,
                "log_seq": self.log_seq, "keys_stored": list(self.keys_stored), "secrets_file": self.secrets_file}


def _check_written(files: dict[str, bytes], cur: admin.Current, file: str) -> None:
    """The files as written must load like any memory file: a last net under the packet checks."""
    models = dict(cur.models)
    for name, data in files.items():
        models[name] = parse(data, MEMORY_FILES[name], f"memory/{name}")
    try:
        cross_check(models)
    except InputError as e:
        raise InputError(file, "/", f"the follower it makes fails a memory check ({e.problem})", e.fix) from None


def onboard(home: Home, packet_path: Path, asof: str | None = None,
            env: Mapping[str, str] | None = None) -> Outcome:
    file = str(packet_path)
    try:
        raw = packet_path.read_bytes()
    except OSError as e:
        raise InputError(file, "", f"cannot read the packet ({e.strerror})", "check the path") from None
    packet = parse_packet(raw, file)
    with locked(home):
        journal.recover(home)
        cur = admin.read(home)
        pl = plan(packet, cur.vault, cur.registry, cur.portfolio, file)
        if secret_store.has_literals(pl.keys) and packet_path.resolve().is_relative_to(home.root.resolve()):
            raise InputError(file, "/brokers", "the packet holds literal API keys and sits inside the home, whose "
                             "files go to git and backups", "move the packet outside the home and delete this copy")
        pending = secret_store.prepare(pl.keys, home.root, env)
        fid = packet.user_id
        old = next((f for f in cur.registry.followers if f.follower_id == fid), None)
        path = f"{REGISTRY}:/followers/{fid}"
        new_json = pl.follower.to_json()
        changes = ([{"path": path, "before": None, "after": new_json}] if old is None
                   else diff(_keyed(old.to_json()), _keyed(new_json), path))
        files: dict[str, bytes] = {}
        if changes:
            files[REGISTRY] = _registry_bytes(cur.raw[REGISTRY], fid, new_json)
        if pl.opening_cash is not None:
            books = {"cash": fmt_decimal(pl.opening_cash), "sleeves": {}}
            changes.append({"path": f"{PORTFOLIO}:/followers/{fid}/{pl.quote}", "before": None, "after": books})
            files[PORTFOLIO] = _portfolio_bytes(cur.raw[PORTFOLIO], fid, pl.quote, books)
        stored = str(secret_store.store_path(env)) if pending.changed else None
        if not changes:
            pending.write()
            return Outcome(fid, "unchanged", [], keys_stored=pending.changed, secrets_file=stored)
        _check_written(files, cur, file)
        action: Literal["onboard", "update"] = "onboard" if old is None or old.status != "active" else "update"
        at = admin.stamp(home, asof)
        # Keys first: a crash between the two leaves keys for an account not yet
        # registered (harmless; the packet again finishes), never an account without them.
        pending.write()
        seq = admin.commit(home, cur, files, ADMIN_KIND, {"follower_id": fid, "action": action, "diff": changes}, at)
    return Outcome(fid, action, changes, seq, pending.changed, stored)


def offboard(home: Home, follower_id: str, asof: str | None = None) -> Outcome:
    with locked(home):
        journal.recover(home)
        cur = admin.read(home)
        old = next((f for f in cur.registry.followers if f.follower_id == follower_id), None)
        if old is None:
            ids = [f.follower_id for f in cur.registry.followers]
            known = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            raise InputError(f"memory/{REGISTRY}", "/followers", f"no follower {follower_id!r}",
                             f"use one of {known}" if ids else "onboard one with `vanta onboard PACKET.json`")
        if old.status == "offboarded":
            return Outcome(follower_id, "unchanged", [])
        new_json = old.model_copy(update={"status": "offboarded"}).to_json()
        changes = [{"path": f"{REGISTRY}:/followers/{follower_id}/status", "before": old.status,
                    "after": "offboarded"}]
        files = {REGISTRY: _registry_bytes(cur.raw[REGISTRY], follower_id, new_json)}
        seq = admin.commit(home, cur, files, ADMIN_KIND,
                           {"follower_id": follower_id, "action": "offboard", "diff": changes}, admin.stamp(home, asof))
    return Outcome(follower_id, "offboard", changes, seq)


def _registry_bytes(raw: bytes, follower_id: str, entry: dict[str, Any]) -> bytes:
    """The registry with one entry put in place; every other entry keeps its content."""
    tree = canonical.loads(raw, f"memory/{REGISTRY}")
    rest = [f for f in tree.get("followers", []) if f.get("follower_id") != follower_id]
    ids = [f.get("follower_id") for f in rest]
    if ids == sorted(ids):
        insort(rest, entry, key=lambda f: f["follower_id"])
    else:
        rest = sorted([*rest, entry], key=lambda f: f["follower_id"])
    tree["followers"] = rest
    return canonical.dumps(tree)


def _portfolio_bytes(raw: bytes, follower_id: str, quote: str, books: dict[str, Any]) -> bytes:
    tree = canonical.loads(raw, f"memory/{PORTFOLIO}")
    tree.setdefault("followers", {}).setdefault(follower_id, {})[quote] = books
    return canonical.dumps(tree)
