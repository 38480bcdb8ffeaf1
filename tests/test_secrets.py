"""API keys in a packet never reach the home, the log or the output; they go to the
secret store outside the home (sealed with VANTA_SECRETS_KEY) or stay in the
environment (`env:NAME`), and the broker layer gets them back with `resolve`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

os.environ.pop("VANTA_CRASH_AT", None)

import pytest
from cli_support import clean_env, home_files, invoke
from cryptography.fernet import Fernet

from vanta import secrets
from vanta.home import Home
from vanta.onboard import onboard

ASOF_1 = "2026-11-01T00:00:00Z"
ADMIN_1 = "2026-11-01T12:00:00Z"
ASOF_2 = "2026-11-02T00:00:00Z"

API_KEY = "AKQX7SECRETKEYID4242"
API_SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRET"
PASSPHRASE = "correct-horse-battery-staple-9"


def packet(**equities: Any) -> dict[str, Any]:
    """Seed 000's packet (plus vault_id) with keys on its equities (Alpaca) entry."""
    return {
        "user_id": "F_1042", "vault_id": "V_CORE", "persona": "risk_averse", "mirroring_mode": "proportional",
        "scale": 0.25, "fee_model": {"perf_share": 0.20},
        "brokers": {"equities": {"adapter": "alpaca", "account_ref": "alpaca_F1042", **equities},
                    "crypto": {"adapter": "coinbase", "account_ref": "cb_F1042"}},
    }


LITERAL = packet(api_key=API_KEY, api_secret=API_SECRET, passphrase=PASSPHRASE)


def vanta(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vanta", *map(str, args)], capture_output=True, text=True,
                          env=clean_env(**env), timeout=120, check=False)


def write(folder: Path, data: dict[str, Any], name: str = "packet.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example home after one cycle, without F_1042 (the packets register it)."""
    root = tmp_path_factory.mktemp("secrets") / "home"
    assert invoke("init", str(root)).exit_code == 0
    for name in ("mirror_registry.json", "portfolio.json"):
        p = root / "memory" / name
        data = json.loads(p.read_text())
        if isinstance(data["followers"], list):
            data["followers"] = [f for f in data["followers"] if f["follower_id"] != "F_1042"]
        else:
            del data["followers"]["F_1042"]
        p.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    assert invoke("cycle", "--home", str(root), "--asof", ASOF_1).exit_code == 0
    return root


@pytest.fixture
def store(tmp_path: Path) -> dict[str, str]:
    return {"VANTA_SECRETS_FILE": str(tmp_path / "outside" / "secrets.enc"),
            "VANTA_SECRETS_KEY": Fernet.generate_key().decode()}


def files_containing(root: Path, needles: tuple[str, ...]) -> list[str]:
    hits = []
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.parent.parent.name == "objects":  # replay objects are zlib blobs
                data = zlib.decompress(data)
            hits += [f"{p.relative_to(root)}: {n}" for n in needles if n.encode() in data]
    return hits


# ---------------------------------------------------------------- literal keys


def test_literal_keys_never_reach_the_home_the_log_or_the_output(home: Path, tmp_path: Path,
                                                                 store: dict[str, str]) -> None:
    secrets_ = (API_KEY, API_SECRET, PASSPHRASE)
    r = vanta("onboard", write(tmp_path, LITERAL), "--home", home, "--asof", ADMIN_1, env=store)
    assert r.returncode == 0, r.stderr
    assert "keys for alpaca_F1042 stored in" in r.stdout
    r2 = vanta("onboard", write(tmp_path, LITERAL), "--home", home, "--json", env=store)
    r3 = vanta("cycle", "--home", home, "--asof", ASOF_2, env=store)
    r4 = vanta("status", "--home", home, "--json", env=store)
    for p in (r, r2, r3, r4):
        assert p.returncode == 0, p.stderr
        assert not [s for s in secrets_ if s in p.stdout + p.stderr]
    assert (home / "replays" / "cycles" / "000002.json").exists()
    assert files_containing(home, secrets_) == []
    # memory/ names the account only
    reg = (home / "memory" / "mirror_registry.json").read_text()
    assert '"account_ref": "alpaca_F1042"' in reg and "api_key" not in reg
    # the store: outside the home, 0600, and it opens to the keys
    path = Path(store["VANTA_SECRETS_FILE"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    raw = path.read_bytes()
    assert not [s for s in secrets_ if s.encode() in raw]
    sealed = json.loads(raw)["accounts"]["alpaca_F1042"][0]
    f = Fernet(store["VANTA_SECRETS_KEY"].encode())
    assert f.decrypt(sealed["api_secret"]["sealed"].encode()).decode() == API_SECRET
    [ks] = secrets.resolve("alpaca_F1042", store)
    assert (ks.api_key, ks.api_secret, ks.passphrase) == (API_KEY, API_SECRET, PASSPHRASE)
    assert API_KEY not in repr(ks) and API_SECRET not in repr(ks)
    assert secrets.resolve("cb_F1042", store) == []


def test_the_same_keys_again_rewrite_nothing(home: Path, tmp_path: Path, store: dict[str, str]) -> None:
    path = Path(store["VANTA_SECRETS_FILE"])
    assert onboard(Home(home), write(tmp_path, LITERAL), ADMIN_1, env=store).keys_stored == ("alpaca_F1042",)
    before, home_before, mtime = path.read_bytes(), home_files(home), path.stat().st_mtime_ns
    out = onboard(Home(home), write(tmp_path, LITERAL), ADMIN_1, env=store)
    assert (out.action, out.keys_stored) == ("unchanged", ())
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime  # not even re-sealed
    assert home_files(home) == home_before


def test_rotated_keys_replace_the_stored_ones_and_leave_the_home_alone(home: Path, tmp_path: Path,
                                                                       store: dict[str, str]) -> None:
    onboard(Home(home), write(tmp_path, LITERAL), ADMIN_1, env=store)
    before = home_files(home)
    rotated = packet(keys=[{"api_key": "NEWKEY-1", "secret": "NEWSECRET-1"},
                           {"api_key": "NEWKEY-2", "api_secret": "env:ALPACA_SECRET_2"}])
    r = vanta("onboard", write(tmp_path, rotated), "--home", home, env=store)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("F_1042: unchanged\n") and "keys for alpaca_F1042 stored" in r.stdout
    assert home_files(home) == before
    sets = secrets.resolve("alpaca_F1042", {**store, "ALPACA_SECRET_2": "from-env"})
    assert [(k.api_key, k.api_secret, k.passphrase) for k in sets] == [
        ("NEWKEY-1", "NEWSECRET-1", None), ("NEWKEY-2", "from-env", None)]


def test_literal_keys_without_a_key_exit_3_and_write_nothing(home: Path, tmp_path: Path) -> None:
    where = tmp_path / "outside" / "secrets.enc"
    before = home_files(home)
    r = vanta("onboard", write(tmp_path, LITERAL), "--home", home, "--asof", ADMIN_1,
              env={"VANTA_SECRETS_FILE": str(where)})
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "VANTA_SECRETS_KEY" in r.stderr
    assert 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"' in r.stderr
    assert API_KEY not in r.stderr + r.stdout
    assert home_files(home) == before and not where.exists() and not where.parent.exists()


def test_a_store_inside_the_home_is_refused(home: Path, tmp_path: Path, store: dict[str, str]) -> None:
    before = home_files(home)
    for inside in (home / "secrets.enc", home / "memory" / "keys.enc"):
        r = vanta("onboard", write(tmp_path, LITERAL), "--home", home, "--asof", ADMIN_1,
                  env={**store, "VANTA_SECRETS_FILE": str(inside)})
        assert r.returncode == 3, r.stderr
        assert "inside the home" in r.stderr and "VANTA_SECRETS_FILE" in r.stderr
        assert home_files(home) == before


def test_a_wrong_key_for_sealed_values_is_a_clear_error(home: Path, tmp_path: Path, store: dict[str, str]) -> None:
    onboard(Home(home), write(tmp_path, LITERAL), ADMIN_1, env=store)
    other = {**store, "VANTA_SECRETS_KEY": Fernet.generate_key().decode()}
    r = vanta("onboard", write(tmp_path, LITERAL), "--home", home, env=other)
    assert r.returncode == 3 and "sealed with another key" in r.stderr, r.stderr
    r = vanta("onboard", write(tmp_path, LITERAL), "--home", home, env={**store, "VANTA_SECRETS_KEY": "short"})
    assert r.returncode == 3 and "not a Fernet key" in r.stderr, r.stderr
    with pytest.raises(secrets.SecretsError, match="another key"):
        secrets.resolve("alpaca_F1042", other)


def test_a_packet_with_literal_keys_inside_the_home_is_refused(home: Path, store: dict[str, str]) -> None:
    p = write(home, LITERAL, "packet.json")
    before = home_files(home)
    r = vanta("onboard", p, "--home", home, "--asof", ADMIN_1, env=store)
    assert r.returncode == 3 and "inside the home" in r.stderr, r.stderr
    assert API_KEY not in r.stderr
    assert home_files(home) == before and not Path(store["VANTA_SECRETS_FILE"]).exists()


# ---------------------------------------------------------------- environment references


def test_env_references_are_stored_as_references(home: Path, tmp_path: Path) -> None:
    where = tmp_path / "outside" / "secrets.enc"
    refs = packet(api_key="env:ALPACA_KEY_F1042", secret="env:ALPACA_SECRET_F1042")
    # references are not secret: no VANTA_SECRETS_KEY needed
    out = onboard(Home(home), write(tmp_path, refs), ADMIN_1, env={"VANTA_SECRETS_FILE": str(where)})
    assert out.action == "onboard" and out.keys_stored == ("alpaca_F1042",)
    stored = json.loads(where.read_text())
    assert stored == {"schema": "vanta.secrets/1", "accounts": {"alpaca_F1042": [
        {"api_key": {"env": "ALPACA_KEY_F1042"}, "api_secret": {"env": "ALPACA_SECRET_F1042"}}]}}
    assert stat.S_IMODE(where.stat().st_mode) == 0o600
    assert "ALPACA_KEY_F1042" not in (home / "memory" / "mirror_registry.json").read_text()
    env = {"VANTA_SECRETS_FILE": str(where), "ALPACA_KEY_F1042": "k1", "ALPACA_SECRET_F1042": "s1"}
    [ks] = secrets.resolve("alpaca_F1042", env)
    assert (ks.api_key, ks.api_secret, ks.passphrase) == ("k1", "s1", None)
    with pytest.raises(secrets.SecretsError, match=r"ALPACA_SECRET_F1042.*not set"):
        secrets.resolve("alpaca_F1042", {"VANTA_SECRETS_FILE": str(where), "ALPACA_KEY_F1042": "k1"})


# ---------------------------------------------------------------- bad keys in packets


BAD_KEYS = {
    "secret_twice": (packet(api_key="k", api_secret="a", secret="b"), "/brokers/equities/secret"),
    "bad_env_name": (packet(api_key="env:1-BAD"), "/brokers/equities/api_key"),
    "paper_with_keys": ({**packet(), "brokers": {"equities": {"adapter": "paper", "account_ref": "p",
                                                              "api_key": API_KEY}}}, "/brokers/equities"),
    "fields_and_keys": (packet(api_key=API_KEY, keys=[{"api_key": "x"}]), "/brokers/equities/keys"),
    "key_not_a_string": (packet(api_key=[API_KEY]), "/brokers/equities/api_key"),
    "key_as_long_number": ({**packet(), "brokers": {"equities": {"adapter": "alpaca", "account_ref": "a",
                                                                 "api_key": 98765432109876543210}}},
                           "/brokers/equities/api_key"),
    "unknown_key_field": (packet(api_token=API_SECRET), "/brokers/equities/api_token"),
    "key_at_top_level": ({**packet(), "api_key": API_KEY}, "/api_key"),
}


@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_a_bad_key_entry_exits_3_without_quoting_the_value(home: Path, tmp_path: Path, store: dict[str, str],
                                                          case: str) -> None:
    data, path = BAD_KEYS[case]
    p = write(tmp_path, data)
    before = home_files(home)
    r = vanta("onboard", p, "--home", home, "--asof", ADMIN_1, env=store)
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith(f"Error: {p}:{path}:"), r.stderr
    for s in (API_KEY, API_SECRET, "98765432109876543210"):
        assert s not in r.stderr + r.stdout
    assert home_files(home) == before and not Path(store["VANTA_SECRETS_FILE"]).exists()


def test_a_parsed_packet_does_not_show_its_keys() -> None:
    from vanta.onboard import parse_packet

    p = parse_packet(json.dumps(LITERAL).encode(), "packet.json")
    assert not [s for s in (API_KEY, API_SECRET, PASSPHRASE) if s in repr(p) + str(p)]


# ---------------------------------------------------------------- the store itself


def test_the_store_is_written_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "s.enc"
    env = {"VANTA_SECRETS_FILE": str(path), "VANTA_SECRETS_KEY": Fernet.generate_key().decode()}
    old = os.umask(0)
    try:
        (path.parent).mkdir(parents=True)
        stale = path.with_name(path.name + ".tmp")
        stale.write_text("left by a crash")
        stale.chmod(0o666)
        pending = secrets.prepare({"ref": [{"api_key": "abc"}]}, tmp_path / "home", env)
        assert pending.changed == ("ref",)
        pending.write()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not stale.exists()
    assert [k.api_key for k in secrets.resolve("ref", env)] == ["abc"]


def test_a_file_that_is_not_a_store_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(secrets.SecretsError, match="not a vanta secrets file"):
        secrets.prepare({"ref": [{"api_key": "env:X"}]}, tmp_path / "home", {"VANTA_SECRETS_FILE": str(path)})
    assert path.read_text() == '{"hello": 1}\n'


def test_a_key_field_written_twice_is_named_without_its_values(home: Path, tmp_path: Path,
                                                               store: dict[str, str]) -> None:
    p = write(tmp_path, packet(api_key=API_KEY, api_secret=API_SECRET))
    text = p.read_text()
    one = f'"api_key": "{API_KEY}"'
    assert one in text
    p.write_text(text.replace(one, f'{one}, "api_key": "{API_KEY}x"'))
    before = home_files(home)
    r = vanta("onboard", p, "--home", home, "--asof", ADMIN_1, env=store)
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith(f"Error: {p}:/brokers/equities/api_key: the key 'api_key' is written twice"), r.stderr
    assert API_KEY not in r.stderr + r.stdout and API_SECRET not in r.stderr + r.stdout
    assert home_files(home) == before and not Path(store["VANTA_SECRETS_FILE"]).exists()


# A secret as exchanges issue them (base64: '/', '+', '='), pasted into the wrong field.
B64_SECRET = "kQ9m/7Jx+Zt2VbN8pLw3Rr5sYh6Ue1Fo4Gd0Ci=="
MISPLACED = {
    "user_id": ({**packet(), "user_id": B64_SECRET}, "/user_id"),
    "persona": ({**packet(), "persona": B64_SECRET}, "/persona"),
    "vault_id": ({**packet(), "vault_id": B64_SECRET}, "/vault_id"),
    "fee_model_as_text": ({**packet(), "fee_model": B64_SECRET}, "/fee_model"),
    "caps_allow": ({**packet(), "caps": {"allow": [B64_SECRET]}}, "/caps/allow/0"),
    "sleeve_id": ({**packet(), "vault_id": None, "mirroring_mode": None, "scale": None,
                   "sleeves": [{"sleeve_id": B64_SECRET, "vault_id": "V_CORE"}]}, "/sleeves/0/sleeve_id"),
    "env_ref_to_a_key": (packet(api_key="env:" + B64_SECRET), "/brokers/equities/api_key"),
}


@pytest.mark.parametrize("case", sorted(MISPLACED))
def test_a_key_pasted_into_another_field_is_not_quoted(home: Path, tmp_path: Path, store: dict[str, str],
                                                       case: str) -> None:
    """The refusal of a packet names the field and the problem but never prints a text value:
    a key in `user_id` or `persona` (a form's fields shifted by one) was printed on stderr,
    which cron mails and logs keep."""
    data, path = MISPLACED[case]
    p = write(tmp_path, {k: v for k, v in data.items() if v is not None})
    before = home_files(home)
    r = vanta("onboard", p, "--home", home, "--asof", ADMIN_1, env=store)
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith(f"Error: {p}:{path}:") and r.stderr.count("\n") == 1, r.stderr
    for part in (B64_SECRET, B64_SECRET[:12], B64_SECRET[-12:]):
        assert part not in r.stderr + r.stdout
    assert home_files(home) == before and not Path(store["VANTA_SECRETS_FILE"]).exists()


def test_a_misplaced_number_is_still_quoted(home: Path, tmp_path: Path) -> None:
    r = vanta("onboard", write(tmp_path, {**packet(), "scale": -0.25}), "--home", home, "--asof", ADMIN_1, env={})
    assert r.returncode == 3 and "greater than 0, found -0.25" in r.stderr, r.stderr


@pytest.mark.parametrize("where", ["account_ref", "user_id"])
def test_a_key_also_given_as_an_account_ref_is_refused(home: Path, tmp_path: Path, store: dict[str, str],
                                                       where: str) -> None:
    """The key id doubles as an account's name in some integrations: sent as `account_ref`
    (or `user_id`) too, it was written to mirror_registry.json, the registry_update line and
    every later replay bundle, while the same value in `api_key` was sealed outside the home."""
    data = packet(api_key=API_KEY, api_secret=API_SECRET)
    if where == "account_ref":
        data["brokers"]["equities"]["account_ref"] = API_KEY
    else:
        data["user_id"] = API_KEY
    before = home_files(home)
    r = vanta("onboard", write(tmp_path, data), "--home", home, "--asof", ADMIN_1, env=store)
    assert r.returncode == 3, r.stderr
    path = "/brokers/equities/account_ref" if where == "account_ref" else "/user_id"
    assert f":{path}: holds an API key" in r.stderr, r.stderr
    assert API_KEY not in r.stderr + r.stdout and API_SECRET not in r.stderr + r.stdout
    assert home_files(home) == before and not Path(store["VANTA_SECRETS_FILE"]).exists()
