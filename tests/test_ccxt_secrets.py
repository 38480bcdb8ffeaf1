"""API keys: resolved from the environment or a 0600 file outside the home, rotated on
health, and never written anywhere in the home."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

import pytest
from ccxt_support import live_cycle
from test_ccxt_cycle import LIVE, asof, live_orders, make_home, pool_for, wallet

from vanta.brokers.ccxt_broker import VenuePool
from vanta.brokers.secrets import KeyRing, KeySet, parse_ref, resolve
from vanta.brokers.stub import StubVenue
from vanta.errors import StateError

SECRET = "S3cr3t-" + "q" * 40
API_KEY = "AK-" + "z" * 40


def env(ref_stem: str, n: int, key: str, secret: str) -> dict[str, str]:
    return {f"VANTA_KEY_{ref_stem}_{n}_API_KEY": key, f"VANTA_KEY_{ref_stem}_{n}_SECRET": secret}


def test_key_sets_come_from_environment_variables_named_from_the_ref() -> None:
    e = env("BINANCE_ALICE_SANDBOX", 1, "a1", "s1") | env("BINANCE_ALICE_SANDBOX", 2, "a2", "s2")
    sets = resolve("binance:alice:sandbox", e)
    assert [(s.label, s.api_key, s.secret) for s in sets] == [("env #1", "a1", "s1"), ("env #2", "a2", "s2")]


def test_missing_keys_name_the_variables_to_set() -> None:
    with pytest.raises(StateError, match="VANTA_KEY_KRAKEN_BOB_1_API_KEY and VANTA_KEY_KRAKEN_BOB_1_SECRET"):
        resolve("kraken:bob", {})
    with pytest.raises(StateError, match="VANTA_KEY_KRAKEN_BOB_1_SECRET is not set"):
        resolve("kraken:bob", {"VANTA_KEY_KRAKEN_BOB_1_API_KEY": "x"})


@pytest.mark.parametrize("ref", ["kraken", "ftx:alice", "kraken:alice:live", "kraken::x"])
def test_bad_refs_are_refused_with_the_expected_form(ref: str) -> None:
    with pytest.raises(StateError, match="account_ref"):
        parse_ref(ref)


def test_a_key_file_must_be_0600_and_outside_the_home(tmp_path: Path) -> None:
    f = tmp_path / "keys.json"
    f.write_text(json.dumps({"coinbase:carol": [{"apiKey": "a", "secret": "s"}]}))
    f.chmod(0o644)
    with pytest.raises(StateError, match="chmod 600"):
        resolve("coinbase:carol", {"VANTA_KEYS_FILE": str(f)})
    f.chmod(0o600)
    assert [s.api_key for s in resolve("coinbase:carol", {"VANTA_KEYS_FILE": str(f)})] == ["a"]
    with pytest.raises(StateError, match="inside the home"):
        resolve("coinbase:carol", {"VANTA_KEYS_FILE": str(f)}, home=tmp_path)


def test_a_key_set_never_shows_its_secret() -> None:
    ks = KeySet("env #1", API_KEY, SECRET, "pw-" + SECRET)
    assert SECRET not in repr(ks) and SECRET not in str(ks) and API_KEY not in repr(ks)


def test_rotation_on_auth_failure_and_rate_limit_strikes() -> None:
    ring = KeyRing([KeySet("a", "1", "1"), KeySet("b", "2", "2"), KeySet("c", "3", "3")], rate_limit_strikes=2)
    assert ring.rate_limited() is False and ring.current is not None and ring.current.label == "a"
    assert ring.rate_limited() is True and ring.current.label == "b"
    assert ring.auth_failed() is True and ring.current.label == "c"
    assert ring.auth_failed() is True and ring.current.label == "a"
    assert ring.auth_failed() is False and ring.current is None  # every set refused: a human fixes them
    assert ring.rotations == 3


def test_no_secret_reaches_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = make_home(tmp_path)
    keys = env("BINANCE_ALICE", 1, API_KEY, SECRET) | env("BINANCE_ALICE", 2, API_KEY + "2", SECRET + "2")
    for k, v in keys.items():
        monkeypatch.setenv(k, v)
    cash = dict(wallet(home)["cash"])
    stub = StubVenue(latency=0, holdings={API_KEY: dict(cash), API_KEY + "2": dict(cash)})
    stub.faults = {"create": ["auth"]}  # the first key is refused: its failure is logged, not its key
    base = pool_for(stub)

    def from_env() -> VenuePool:
        pool: VenuePool = base()
        pool.keys = None  # resolve from the environment, as in production
        return pool

    ctxs = []
    for day in (1, 2):
        ctxs.append(live_cycle(home, asof(day), from_env))
    assert any(k.startswith(API_KEY[:8]) for k in stub.keys_seen)  # the keys did reach the exchange
    assert stub.orders, "the live follower traded"
    assert any(o.account == f"follower:{LIVE}" for c in ctxs for o in c.to_submit)
    inflated = 0
    leaks = []
    for root, _, names in os.walk(home.root):
        for name in names:
            data = (Path(root) / name).read_bytes()
            try:  # replay objects are zlib blobs: look inside them too
                data += zlib.decompress(data)
                inflated += 1
            except zlib.error:
                pass
            for needle in (SECRET, API_KEY, SECRET[:12], API_KEY[:12]):
                if needle.encode() in data:
                    leaks.append((name, needle))
    assert leaks == []
    assert inflated > 0  # the replay objects were searched, not skipped


def _pool_from_env(stub: StubVenue) -> Any:
    base = pool_for(stub)

    def from_env() -> VenuePool:
        pool: VenuePool = base()
        pool.keys = None  # resolve from the environment, the keys file and the store, as in production
        return pool

    return from_env


def _one_cycle_with(home: Any, stub: StubVenue, env_: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for k, v in env_.items():
        monkeypatch.setenv(k, v)
    return live_cycle(home, asof(1), _pool_from_env(stub))


@pytest.mark.parametrize("case", ["store_env_unset", "store_sealed_no_key", "keys_file_without_secret",
                                  "keys_file_not_a_list", "keys_file_in_the_home"])
def test_an_account_whose_stored_keys_cannot_be_read_waits_and_the_others_trade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """Keys `vanta onboard` stored as `env:NAME` with NAME unset (or sealed, with no
    VANTA_SECRETS_KEY), or a keys file whose entry lacks its secret: that account trades
    nothing this cycle and the others trade (README: Keys). The store's error used to stop
    the whole cycle with exit 3 after its in-flight record, so every later `vanta cycle`
    failed the same way until someone fixed one follower's keys; a key set without
    "secret" in VANTA_KEYS_FILE was a KeyError (exit 1, a traceback); a VANTA_KEYS_FILE
    inside the home (README: outside the home) was used, the check never given the home."""
    for k in [k for k in os.environ if k.startswith(("VANTA_KEY", "VANTA_SECRETS"))]:
        monkeypatch.delenv(k)
    home = make_home(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    env_: dict[str, str] = {}
    if case.startswith("store"):
        form = {"env": "ALICE_KEY_UNSET"} if case == "store_env_unset" else {"sealed": "gAAAA-not-opened"}
        store = outside / "secrets.enc"
        store.write_text(json.dumps({"schema": "vanta.secrets/1",
                                     "accounts": {"alice": [{"api_key": form, "api_secret": form}]}}))
        env_["VANTA_SECRETS_FILE"] = str(store)
    else:
        keys = (home.root if case == "keys_file_in_the_home" else outside) / "keys.json"
        entry: Any = ({"apiKey": API_KEY} if case == "keys_file_not_a_list" else
                      [{"apiKey": API_KEY, "secret": SECRET}] if case == "keys_file_in_the_home" else
                      [{"apiKey": API_KEY}])
        keys.write_text(json.dumps({"binance:alice": entry}))
        keys.chmod(0o600)
        env_ |= {"VANTA_KEYS_FILE": str(keys), "VANTA_SECRETS_FILE": str(outside / "none.enc")}
    ctx = _one_cycle_with(home, StubVenue(latency=0), env_, monkeypatch)
    waiting = live_orders(ctx)
    assert waiting and all(o.status == "retry" for o in waiting)
    assert any(k == "fill" for k, _ in ctx.events)  # the paper followers traded
    assert not home.inflight.exists()  # the cycle committed
    reasons = [d["reason"] for k, d in ctx.events if k == "order_deferred"]
    assert reasons and not [r for r in reasons if API_KEY in r]
    if case == "keys_file_in_the_home":
        assert all("inside the home" in r for r in reasons), reasons


class EchoingVenue(StubVenue):
    """A venue whose refusal quotes the API key it was sent (some exchanges do), and whose
    signed GETs are out for a while (ccxt's message then holds the signed URL)."""

    def _route(self, url: str, method: str, headers: Any, body: str | None) -> tuple[int, str]:
        if method == "POST" and self.faults.pop("echo", None):
            return 401, json.dumps({"code": -2015, "msg": f"Invalid API-key {headers.get('X-MBX-APIKEY')}, "
                                                         "IP, or permissions for action."})
        return super()._route(url, method, headers, body)


def test_ccxt_error_messages_keep_no_key_or_signature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker error's message goes to the trade log (order_deferred, reject), the replay
    bundle (broker_answers.json) and stderr. ccxt writes the request URL into it, and binance
    signs GET and DELETE requests in the URL (`signature=<HMAC of the query with the secret>`):
    those signatures were logged and recorded, as was a key an exchange quoted back."""
    import re

    home = make_home(tmp_path)
    keys = env("BINANCE_ALICE", 1, API_KEY, SECRET) | {"VANTA_SECRETS_FILE": str(tmp_path / "none.enc")}
    stub = EchoingVenue(latency=0, holdings={API_KEY: dict(wallet(home)["cash"])})
    # cycle 1: the submit times out and its lookups (signed GETs) meet an outage: the order
    # waits as `submitting` with ccxt's message; cycle 2: the exchange refuses the key, quoting it
    stub.faults = {"create": ["timeout"], "fetch": ["outage"] * 20}
    ctx1 = _one_cycle_with(home, stub, keys, monkeypatch)
    stub.faults = {"echo": ["1"]}
    ctx2 = live_cycle(home, asof(2), _pool_from_env(stub))
    reasons = [d["reason"] for c in (ctx1, ctx2) for k, d in c.events if k == "order_deferred"]
    assert any("ExchangeNotAvailable: binance GET https://" in r and "signature=***" in r for r in reasons), reasons
    assert any("Invalid API-key ***" in r for r in reasons), reasons
    leaks = []
    for p in sorted(home.root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.parent.parent.name == "objects":
                data = zlib.decompress(data)
            leaks += [f"{p.relative_to(home.root)}: {m.decode()[:40]}"
                      for m in re.findall(rb"signature=[0-9a-f]{16,}", data)]
            leaks += [f"{p.relative_to(home.root)}: key" for n in (API_KEY, SECRET) if n.encode() in data]
    assert leaks == []
