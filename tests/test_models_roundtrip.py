"""Every schema model round-trips through canonical bytes, and the bytes are canonical.

For each model in vanta.models.SCHEMA_MODELS (memory files, log line, ledger entry,
market snapshot, broker answers, replay manifest), built from explicit strategies:

    model -> canonical.dumps(m.to_json()) -> validate.parse(bytes) -> bytes again

gives the same bytes and an equal model; the bytes end with one newline, carry every
Decimal as a fixed-point string (no exponent, no -0), contain no float, and have
sorted keys. Lists of models are written sorted by id whatever order they were given in.

The strategies are explicit (st.builds over hand-written scalar strategies) and name
every field of every model; test_strategies_cover_every_field fails when a model gains
a field the strategies do not generate, so new fields get round-trip coverage too.
"""

from __future__ import annotations

import json
import re
import typing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from vanta import canonical, validate
from vanta.models import (
    SCHEMA_MODELS,
    Account,
    AccountLink,
    AccountPnl,
    AllocationFile,
    BrokerAnswers,
    Caps,
    ConvictionFile,
    CoreBook,
    CorePnl,
    CoreVault,
    Execution,
    FeeTerms,
    Fill,
    Flip,
    Follower,
    LedgerEntry,
    LogLine,
    Manifest,
    Market,
    MarketData,
    MarketSnapshot,
    Mirroring,
    Model,
    Order,
    OverlayFile,
    PnlFile,
    PoolBook,
    PoolRequest,
    PoolTerms,
    PortfolioFile,
    QueueFile,
    RegistryFile,
    Risk,
    Score,
    Sleeve,
    SleeveBook,
    SleeveFees,
    SleevePnl,
    Span,
    Stake,
    Strategy,
    Vault,
    VaultFile,
    VaultOverlay,
)
from vanta.money import CURRENCY_SCALE

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=100,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------- scalar strategies

SAFE_INT = 2**53  # canonical.loads refuses bigger integers (see test_canonical.py)

# Decimals are built from an integer coefficient and a scale, as a hand-written or
# computed amount would be. Exponents up to +3 give values like 5E+3, which must still
# be written "5000"; negative zeros must be written without the sign.
_NEG_ZEROS = [Decimal("-0"), Decimal("-0.00"), Decimal("-0E-8")]


def _decimal(lo: int, hi: int, min_exp: int = -10, max_exp: int = 3) -> st.SearchStrategy[Decimal]:
    """n x 10**e with lo <= n <= hi (for the range check, the caller bounds the value)."""
    return st.builds(lambda n, e: Decimal(n).scaleb(e), st.integers(lo, hi), st.integers(min_exp, max_exp))


def _bounded(lo: Decimal, hi: Decimal, max_scale: int = 10) -> st.SearchStrategy[Decimal]:
    """A Decimal in [lo, hi] with 0..max_scale decimal places."""

    def at_scale(k: int) -> st.SearchStrategy[Decimal]:
        q = Decimal(1).scaleb(-k)
        return st.integers(int(lo / q), int(hi / q)).map(lambda n: Decimal(n).scaleb(-k))

    return st.integers(0, max_scale).flatmap(at_scale)


dec = st.one_of(_decimal(-(10**15), 10**15), st.sampled_from(_NEG_ZEROS))
nonneg = st.one_of(_decimal(0, 10**15), st.sampled_from(_NEG_ZEROS))
positive = _decimal(1, 10**15)
fraction = st.one_of(_bounded(Decimal(0), Decimal(1)), st.sampled_from([Decimal("-0"), Decimal("1E+0")]))
conviction = st.one_of(_bounded(Decimal(-1), Decimal(1)), st.sampled_from(_NEG_ZEROS))
bps = st.one_of(_bounded(Decimal(0), Decimal(1000), max_scale=4), st.just(Decimal("1E+3")))
scale = _bounded(Decimal("0.0001"), Decimal(100), max_scale=6).filter(lambda d: d > 0)

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_UPNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ids = st.builds(lambda a, b: a + b, st.sampled_from(_ALNUM), st.text(_ALNUM + "_.-", max_size=12))
symbols = st.builds(
    lambda a, b, q: a + b + (f"/{q}" if q else ""),
    st.sampled_from(_UPNUM), st.text(_UPNUM + ".", max_size=8), st.text(_UPNUM, max_size=5),
)
asofs = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2199, 12, 31)).map(
    lambda t: t.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
sha256s = st.binary(min_size=32, max_size=32).map(bytes.hex)
currencies = st.sampled_from(sorted(CURRENCY_SCALE))
personas = st.sampled_from(["baseline", "risk_averse", "contrarian", "aggressive"])
text = st.text(max_size=16)  # any unicode, quotes, backslashes, control characters
nat = st.integers(0, SAFE_INT)
anyint = st.integers(-SAFE_INT, SAFE_INT)


def small_dict(keys: st.SearchStrategy, values: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.dictionaries(keys, values, max_size=3)


def small_tuple(items: st.SearchStrategy) -> st.SearchStrategy[tuple]:
    return st.lists(items, max_size=3).map(tuple)


# ---------------------------------------------------------------- model strategies

COVERED: dict[type[BaseModel], frozenset[str]] = {}


def model(cls: type[Model], **fields: st.SearchStrategy) -> st.SearchStrategy:
    """st.builds over every named field; remembers which fields were named."""
    COVERED[cls] = frozenset(fields)
    schema = cls.model_fields.get("schema_version")
    if schema is not None and "schema_version" not in fields:
        fields["schema_version"] = st.just(schema.default)
        COVERED[cls] = COVERED[cls] | {"schema_version"}
    return st.builds(cls, **fields)


def model_where(cls: type[Model], ok: Any, **fields: st.SearchStrategy) -> st.SearchStrategy:
    """Like model(), for a model whose validator ties fields together: draws the fields,
    keeps the combinations `ok` accepts, then builds."""
    COVERED[cls] = frozenset(fields)
    return st.fixed_dictionaries(fields).filter(ok).map(lambda kw: cls(**kw))


fee_terms = model_where(FeeTerms, lambda kw: kw["type"] == "perf_share" or kw["flat_usd"] is not None,
                        type=st.sampled_from(["perf_share", "flat", "performance_or_flat"]),
                        perf_share=fraction, flat_usd=st.none() | nonneg)
risk = model(Risk, max_drawdown=fraction, max_single_pos_pct=fraction, rebalance_band=fraction)
modes = st.sampled_from(["proportional", "fixed_ratio", "fixed_amount", "target", "scaled_trades"])
mirroring = model(Mirroring, mode=modes, min_account_equity=nonneg, fee=fee_terms,
                  small_orders=st.sampled_from(["skip", "accumulate"]), drift_threshold=st.none() | fraction)
strategy = model(Strategy, kind=st.sampled_from(["conviction_file", "momentum"]), lookback=st.integers(1, 250),
                 full_scale=positive)
execution = model(Execution, adapter=st.just("paper"), slippage_bps=bps, fee_bps=bps)
pool_terms = model(PoolTerms, manager_id=ids, creator_id=st.none() | ids, manager_fee_bps=bps, attribution_bps=bps,
                   carry_losses=st.booleans(), rollover_hours=st.integers(1, 24 * 366), min_stake=nonneg,
                   max_capacity=st.none() | nonneg, cooldown_hours=st.integers(0, 24 * 3660),
                   withdrawal_profit_fee=fraction, manager_min_stake_pct=fraction,
                   sunset_days=st.none() | st.integers(1, 3660))
vault = model(Vault, pooled=st.none() | pool_terms, vault_id=ids, base_currency=currencies,
              crypto_enabled=st.booleans(),
              personas=small_tuple(personas), risk=risk, mirroring=mirroring, strategy=strategy,
              universe=small_tuple(symbols), execution=execution)
market = model(Market, quote=currencies, lot_size=positive, tick_size=positive, min_notional=nonneg)
market_data = model(MarketData, source=st.sampled_from(["builtin", "synthetic", "csv", "ccxt"]), seed=anyint,
                    path=st.none() | text, start_bar=nat, exchange=st.none() | text, timeframe=text)
vault_file = model(VaultFile, vaults=small_tuple(vault), markets=small_dict(symbols, market),
                   market_data=market_data)

flip = model(Flip, persona=personas, expires_at=asofs)
vault_overlay = model(VaultOverlay, maintenance=st.booleans(), kill_switch=st.booleans(), flip=st.none() | flip)
overlay_file = model(OverlayFile, global_kill_switch=st.booleans(), vaults=small_dict(ids, vault_overlay))

score = model(Score, score=conviction, source=text, asof=st.none() | asofs)
conviction_file = model(ConvictionFile, scores=small_dict(ids, small_dict(symbols, score)))

allocation_file = model(AllocationFile, cycle=nat, asof=st.none() | asofs,
                        vaults=small_dict(ids, small_dict(personas, small_dict(symbols, fraction))))

adapters = st.sampled_from(["paper", "ccxt:alpaca", "ccxt:binance", "ccxt:coinbase", "ccxt:kraken"])
account_link = model(AccountLink, adapter=adapters, account_ref=st.text(min_size=1, max_size=24))
caps = model(Caps, max_pos_usd=st.none() | nonneg, max_single_pos_pct=st.none() | fraction,
             max_leverage=_bounded(Decimal("0.0001"), Decimal(10), max_scale=6).filter(lambda d: d > 0),
             allow=small_tuple(symbols), block=small_tuple(symbols), slippage_guard_bps=st.none() | bps)


def _mode_terms_ok(kw: dict[str, Any]) -> bool:
    return not ((kw["mode"] == "fixed_ratio" and kw["ratio"] is None)
                or (kw["mode"] == "fixed_amount" and kw["amount"] is None))


sleeve = model_where(Sleeve, _mode_terms_ok, sleeve_id=ids, vault_id=ids,
                     profit=st.sampled_from(["compound", "sweep"]), allocation=st.none() | nonneg, mode=modes,
                     scale=scale, ratio=st.none() | positive, amount=st.none() | positive,
                     persona=st.none() | personas, paused=st.booleans(), fee=st.none() | fee_terms)


def _allocations_ok(kw: dict[str, Any]) -> bool:
    ss = kw["sleeves"]
    if len(ss) > 1 and any(s.allocation is None for s in ss):
        return False
    total = sum((s.allocation or Decimal(0) for s in ss), Decimal(0))
    return kw["tradeable"] is None or total <= kw["tradeable"]


# Allocations are drawn small beside tradeable amounts, so most draws pass the check.
core_vault = model_where(CoreVault, _allocations_ok, quote=currencies, account=account_link,
                         tradeable=st.none() | nonneg, paused=st.booleans(),
                         sleeves=st.lists(sleeve, max_size=3, unique_by=lambda s: s.sleeve_id).map(tuple))


def _unique_sleeve_ids(kw: dict[str, Any]) -> bool:
    sids = [s.sleeve_id for c in kw["cores"] for s in c.sleeves]
    return len(sids) == len(set(sids))


follower = model_where(Follower, _unique_sleeve_ids, follower_id=ids, persona=personas,
                       min_account_equity=st.none() | nonneg, kill_switch=st.booleans(),
                       status=st.sampled_from(["active", "offboarded"]), caps=caps, fee_model=fee_terms,
                       cores=st.lists(core_vault, max_size=2, unique_by=lambda c: c.quote).map(tuple))
registry_file = model(RegistryFile, followers=small_tuple(follower))

lot = st.tuples(nonneg, nonneg)
account = model(Account, cash=small_dict(currencies, nonneg), positions=small_dict(symbols, small_tuple(lot)))
sleeve_book = model(SleeveBook, cash=small_dict(currencies, nonneg), positions=small_dict(symbols, small_tuple(lot)),
                    allocated=nonneg, returned=nonneg, carry=small_dict(symbols, dec))
core_book = model(CoreBook, cash=nonneg, sleeves=small_dict(ids, sleeve_book))
portfolio_file = model(PortfolioFile, cycle=nat, asof=st.none() | asofs, vaults=small_dict(ids, account),
                       followers=small_dict(ids, small_dict(currencies, core_book)))

account_pnl = model(AccountPnl, equity=dec, cash=dec, market_value=dec, cost_basis=dec, realized_pnl=dec,
                    unrealized_pnl=dec, trading_fees=dec)
sleeve_pnl = model(SleevePnl, equity=dec, cash=dec, market_value=dec, cost_basis=dec, realized_pnl=dec,
                   unrealized_pnl=dec, trading_fees=dec, allocated=dec, returned=dec, tracking_error=dec,
                   tracking_value=dec)
core_pnl = model(CorePnl, total_coins=dec, core_cash=dec, tradeable=dec, equity=dec, returned=dec,
                 sleeves=small_dict(ids, sleeve_pnl))
months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1970, 2199), st.integers(1, 12))
sleeve_fees = model(SleeveFees, currency=currencies, hwm=dec, charged=nonneg, month=months, month_perf=nonneg,
                    month_profit=nonneg)
stake = model(Stake, shares=nonneg, cost_basis=nonneg, since=asofs, paid_out=nonneg, fees_paid=nonneg)
pool_book = model(PoolBook, currency=currencies, total_shares=nonneg, assets=dec, nav_per_share=dec, fees_owed=nonneg,
                  hwm=dec, last_rollover=st.none() | asofs, last_active=st.none() | asofs, sunset=st.none() | asofs,
                  contributors=small_dict(ids, stake))
pnl_file = model(PnlFile, pools=small_dict(ids, pool_book), cycle=nat, asof=st.none() | asofs,
                 vaults=small_dict(ids, account_pnl),
                 followers=small_dict(ids, small_dict(currencies, core_pnl)),
                 fees=small_dict(ids, small_dict(ids, sleeve_fees)))

order = model(Order, client_order_id=text, cycle=anyint, vault_id=ids, account=text, sleeve=ids,
              symbol=symbols, side=st.sampled_from(["buy", "sell"]), qty=positive, price=positive,
              status=st.sampled_from(["staged", "submitting", "open", "retry"]), attempts=anyint)
pool_request = model(PoolRequest, request_id=text, vault_id=ids, contributor_id=ids,
                     kind=st.sampled_from(["deposit", "withdraw"]), amount=nonneg, shares=nonneg, all=st.booleans(),
                     asof=asofs)
queue_file = model(QueueFile, orders=small_tuple(order), requests=small_tuple(pool_request))

fill = model(Fill, client_order_id=text, status=st.sampled_from(["filled", "rejected", "deferred"]), qty=nonneg,
             price=nonneg, fee=nonneg, cash=dec, reason=st.none() | text)
broker_answers = model(BrokerAnswers, fills=small_tuple(fill), balances=small_dict(ids, small_dict(ids, nonneg)),
                       conversions=small_tuple(fill))

market_snapshot = model(MarketSnapshot, cycle=anyint, asof=asofs, bar=nat, bar_time=text,
                        prices=small_dict(symbols, positive), history=small_dict(symbols, small_tuple(positive)),
                        markets=small_dict(symbols, market))

charges = st.sampled_from(["performance", "flat", "topup", "manager", "attribution", "withdrawal"])
ledger_entry = model(LedgerEntry, user_id=ids, vault_id=ids,
                     fee_type=st.sampled_from(["perf_share", "flat", "performance_or_flat", "manager_fee",
                                               "attribution_fee", "withdrawal_fee"]), pnl_gross=dec,
                     fee_usd=nonneg, asof=asofs, cycle=anyint, hwm_before=dec, hwm_after=dec, entry_id=text,
                     sleeve=ids, currency=currencies, charge=charges,
                     period=text, orders=small_tuple(text), payee=st.none() | ids)

# A log line's data as read back from the file: JSON values (vanta writes Decimals in
# events as fixed-point strings, so a parsed line never holds a Decimal or a float).
json_values = st.recursive(
    st.none() | st.booleans() | anyint | text,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(text, kids, max_size=3),
    max_leaves=10,
)
log_line = model(LogLine, seq=st.integers(1, SAFE_INT), cycle=nat, asof=asofs, kind=text,
                 data=st.dictionaries(text, json_values, max_size=4), prev=sha256s, hash=sha256s)

manifest = model(Manifest, cycle=anyint, asof=asofs, vanta_version=text, inputs=small_dict(text, sha256s),
                 outputs=small_dict(text, sha256s),
                 appends=small_dict(text, model(Span, offset=nat, length=nat, sha256=sha256s)),
                 log_head_before=sha256s, log_head_after=sha256s, log_seq_before=anyint)

STRATEGIES: dict[str, st.SearchStrategy] = {
    "vault.json": vault_file,
    "vault_overlay.json": overlay_file,
    "conviction_score.json": conviction_file,
    "vault_allocation.json": allocation_file,
    "mirror_registry.json": registry_file,
    "portfolio.json": portfolio_file,
    "pnl_summary.json": pnl_file,
    "autotrade_queue.json": queue_file,
    "trade_log.jsonl": log_line,
    "pnl_ledger.jsonl": ledger_entry,
    "market_snapshot.json": market_snapshot,
    "broker_answers.json": broker_answers,
    "replay_manifest.json": manifest,
}

# ---------------------------------------------------------------- checks

FIXED_POINT = re.compile(r"^-?\d+(\.\d+)?$")
NEGATIVE_ZERO = re.compile(r"^-0(\.0+)?$")


def _no_floats(x: Any) -> None:
    if isinstance(x, float):
        pytest.fail(f"float {x!r} in a model dump")
    if isinstance(x, dict):
        for v in x.values():
            _no_floats(v)
    elif isinstance(x, list | tuple):
        for v in x:
            _no_floats(v)


def _decimals_written_fixed_point(value: Any, written: Any, where: str = "") -> int:
    """Walk the model instance beside the parsed bytes: every Decimal is a fixed-point
    string equal to it, never an exponent form, never -0. Returns how many were seen.
    (A model dump cannot be used here: the Decimal serializer runs in python mode too.)"""
    if isinstance(value, BaseModel):
        assert isinstance(written, dict), where
        fields = type(value).model_fields
        assert set(written) == {f.alias or n for n, f in fields.items()}, where
        return sum(_decimals_written_fixed_point(getattr(value, n), written[f.alias or n], f"{where}/{n}")
                   for n, f in fields.items())
    if isinstance(value, Decimal):
        assert isinstance(written, str), f"{where}: Decimal {value} written as {written!r}"
        assert FIXED_POINT.match(written), f"{where}: {value!r} written as {written!r}"
        assert not NEGATIVE_ZERO.match(written), f"{where}: {value!r} written as {written!r}"
        assert Decimal(written) == value
        return 1
    if isinstance(value, dict):
        assert isinstance(written, dict) and set(written) == set(value), where
        return sum(_decimals_written_fixed_point(v, written[k], f"{where}/{k}") for k, v in value.items())
    if isinstance(value, list | tuple):
        assert isinstance(written, list) and len(written) == len(value), where
        return sum(_decimals_written_fixed_point(a, b, f"{where}/{i}")
                   for i, (a, b) in enumerate(zip(value, written, strict=True)))
    assert written == value and type(written) is type(value), where
    return 0


def check_roundtrip(m: Model, cls: type[Model], name: str) -> bytes:
    data = m.to_json()
    _no_floats(data)
    first = canonical.dumps(data)
    # the writers on the hot path skip the float walk; they must give the same bytes
    trusted = getattr(canonical, "dumps_trusted", None)
    if trusted is not None:
        assert trusted(data) == first

    back = validate.parse(first, cls, name)
    assert back == m
    second = canonical.dumps(back.to_json())
    assert second == first

    # the bytes: one final newline, sorted keys with 2-space indent, no number token
    # with a fraction or exponent, every Decimal a fixed-point string and never -0
    assert first.endswith(b"\n") and not first.endswith(b"\n\n")
    parsed = orjson.loads(first)
    assert orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n" == first
    json.loads(first, parse_float=lambda s: pytest.fail(f"number token {s} written"),
               parse_constant=lambda s: pytest.fail(f"{s} written"))
    _decimals_written_fixed_point(m, parsed)
    return first


# ---------------------------------------------------------------- tests


def test_every_schema_model_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(SCHEMA_MODELS), "add a strategy for each new schema model"


def _nested_models(tp: Any, seen: set[type[BaseModel]]) -> None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp not in seen:
            seen.add(tp)
            for f in tp.model_fields.values():
                _nested_models(f.annotation, seen)
        return
    for arg in typing.get_args(tp):
        _nested_models(arg, seen)


def test_strategies_cover_every_field() -> None:
    models: set[type[BaseModel]] = set()
    for cls in SCHEMA_MODELS.values():
        _nested_models(cls, models)
    missing = {cls.__name__: sorted(set(cls.model_fields) - COVERED.get(cls, frozenset()))
               for cls in models}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"strategies do not generate these fields (add them above): {missing}"


def _annotation_has_float(tp: Any) -> bool:
    if tp is float:
        return True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return False  # visited through _nested_models
    return any(_annotation_has_float(a) for a in typing.get_args(tp))


def test_no_model_has_a_float_field() -> None:
    """canonical.dumps_trusted skips the float walk for model dumps: that is only safe
    while no model field can hold a float. (LogLine.data is dict[str, Any]: it is
    read from files, and vanta writes log lines through commit.chain, not this model.)"""
    models: set[type[BaseModel]] = set()
    for cls in SCHEMA_MODELS.values():
        _nested_models(cls, models)
    with_float = sorted(f"{cls.__name__}.{n}" for cls in models for n, f in cls.model_fields.items()
                        if _annotation_has_float(f.annotation))
    assert not with_float


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
@SETTINGS
@given(data=st.data())
def test_roundtrip(name: str, data: st.DataObject) -> None:
    cls = SCHEMA_MODELS[name]
    m = data.draw(STRATEGIES[name], label=name)
    assert type(m) is cls
    check_roundtrip(m, cls, name)


@pytest.mark.parametrize("name", sorted(n for n in SCHEMA_MODELS if n.endswith(".jsonl")))
@SETTINGS
@given(data=st.data())
def test_line_models_roundtrip_as_one_line(name: str, data: st.DataObject) -> None:
    cls = SCHEMA_MODELS[name]
    m = data.draw(STRATEGIES[name], label=name)
    line = canonical.dumps_line(m.to_json())
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = validate.parse(line, cls, name)
    assert back == m
    assert canonical.dumps_line(back.to_json()) == line
    # the line form holds the same JSON value as the multi-line form
    assert orjson.loads(line) == orjson.loads(canonical.dumps(m.to_json()))


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_defaults_roundtrip(name: str) -> None:
    """The smallest valid file of each kind (only required fields) round-trips too."""
    minimal: dict[str, dict[str, Any]] = {
        "vault.json": {"vaults": []},
        "trade_log.jsonl": {"seq": 1, "cycle": 0, "asof": "2026-11-21T00:00:00Z", "kind": "k", "data": {},
                            "prev": "0" * 64, "hash": "f" * 64},
        "pnl_ledger.jsonl": {"user_id": "u", "vault_id": "v", "fee_type": "flat", "pnl_gross": "-0",
                             "fee_usd": "0", "asof": "2026-11-21T00:00:00Z", "cycle": 1,
                             "hwm_before": "0", "hwm_after": "0"},
        "market_snapshot.json": {"cycle": 1, "asof": "2026-11-21T00:00:00Z", "bar": 0, "bar_time": "t",
                                 "prices": {}, "markets": {}},
        "replay_manifest.json": {"cycle": 1, "asof": "2026-11-21T00:00:00Z", "vanta_version": "0",
                                 "inputs": {}, "outputs": {}, "appends": {}, "log_head_before": "0" * 64,
                                 "log_head_after": "0" * 64, "log_seq_before": 0},
    }
    cls = SCHEMA_MODELS[name]
    m = cls.model_validate(minimal.get(name, {}))
    check_roundtrip(m, cls, name)


# ---------------------------------------------------------------- lists come out sorted


def _vault(vid: str) -> Vault:
    return Vault(vault_id=vid)


def _follower(fid: str) -> Follower:
    return Follower(follower_id=fid, cores=(_core("USD", [f"s-{fid}"]),))


def _sleeve(sid: str) -> Sleeve:
    return Sleeve(sleeve_id=sid, vault_id="V", allocation=Decimal(1))


def _core(quote: str, sids: list[str] | None = None) -> CoreVault:
    return CoreVault(quote=quote, account=AccountLink(account_ref=f"paper:{quote}"),
                     sleeves=tuple(_sleeve(s) for s in sids or ["q"]))


def _order(cid: str) -> Order:
    return Order(client_order_id=cid, cycle=1, vault_id="V", account="vault:V", symbol="AAPL", side="buy",
                 qty=Decimal("1"), price=Decimal("1"))


def _fill(cid: str) -> Fill:
    return Fill(client_order_id=cid, status="filled", qty=Decimal(1), price=Decimal(1), fee=Decimal(0),
                cash=Decimal("-1.00"))


SORTED_LISTS = [
    (VaultFile, "vaults", "vault_id", _vault),
    (RegistryFile, "followers", "follower_id", _follower),
    (QueueFile, "orders", "client_order_id", _order),
    (BrokerAnswers, "fills", "client_order_id", _fill),
]


@pytest.mark.parametrize(("cls", "field", "key", "make"), SORTED_LISTS, ids=[c.__name__ for c, *_ in SORTED_LISTS])
def test_lists_written_sorted_by_id(cls: type[Model], field: str, key: str, make: Any) -> None:
    id_list = ["b", "A", "a10", "a2", "Z_9", "0", "a.b", "a-b"]
    expected = sorted(id_list)
    built = cls(**{field: tuple(make(i) for i in reversed(expected))})
    assert [getattr(x, key) for x in getattr(built, field)] == expected
    raw = canonical.dumps(built.to_json())
    assert [x[key] for x in orjson.loads(raw)[field]] == expected
    # and a file written by hand in reverse order is read sorted and written sorted
    by_hand = dict(orjson.loads(raw))
    by_hand[field] = list(reversed(by_hand[field]))
    parsed = validate.parse(canonical.dumps(by_hand), cls, "x.json")
    assert canonical.dumps(parsed.to_json()) == raw


def test_core_vaults_and_sleeves_written_sorted() -> None:
    """A follower's Core Vaults are written sorted by quote, each one's sleeves by id,
    whatever order the file gave them in."""
    sids = ["b", "A", "a10", "a2", "Z_9", "0"]
    quotes = ["USDT", "EUR", "USDC", "USD"]
    cores = tuple(_core(q, [f"{q}-{s}" for s in reversed(sorted(sids))]) for q in quotes)
    reg = RegistryFile(followers=(Follower(follower_id="F", cores=cores),))
    f = reg.followers[0]
    assert [c.quote for c in f.cores] == sorted(quotes)
    for c in f.cores:
        assert [s.sleeve_id for s in c.sleeves] == sorted(f"{c.quote}-{s}" for s in sids)
    raw = canonical.dumps(reg.to_json())
    by_hand = orjson.loads(raw)
    by_hand["followers"][0]["cores"].reverse()
    for c in by_hand["followers"][0]["cores"]:
        c["sleeves"].reverse()
    assert canonical.dumps(by_hand) != raw
    parsed = validate.parse(canonical.dumps(by_hand), RegistryFile, "mirror_registry.json")
    assert canonical.dumps(parsed.to_json()) == raw


@pytest.mark.parametrize(("strategy_", "cls", "field", "key"), [
    (vault, VaultFile, "vaults", "vault_id"),
    (follower, RegistryFile, "followers", "follower_id"),
    (order, QueueFile, "orders", "client_order_id"),
    (fill, BrokerAnswers, "fills", "client_order_id"),
], ids=["VaultFile", "RegistryFile", "QueueFile", "BrokerAnswers"])
@SETTINGS
@given(data=st.data())
def test_file_bytes_do_not_depend_on_list_order(strategy_: st.SearchStrategy, cls: type[Model], field: str,
                                                key: str, data: st.DataObject) -> None:
    items = data.draw(st.lists(strategy_, max_size=5, unique_by=lambda x: getattr(x, key)), label="items")
    shuffled = data.draw(st.permutations(items), label="shuffled")
    a = canonical.dumps(cls(**{field: tuple(items)}).to_json())
    b = canonical.dumps(cls(**{field: tuple(shuffled)}).to_json())
    assert a == b
    assert [x[key] for x in orjson.loads(a)[field]] == sorted(getattr(x, key) for x in items)


# ---------------------------------------------------------------- known gap


def test_logline_model_writes_decimal_data_fixed_point() -> None:
    line = LogLine(seq=1, cycle=0, asof="2026-11-21T00:00:00Z", kind="k",
                   data={"a": Decimal("1E+2"), "b": Decimal("-0.00"), "c": [Decimal("5E-7")]},
                   prev="0" * 64, hash="0" * 64)
    written = orjson.loads(canonical.dumps(line.to_json()))["data"]
    assert written == {"a": "100", "b": "0.00", "c": ["0.0000005"]}
