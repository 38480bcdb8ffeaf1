"""Every type vanta reads or writes, in one place.

Each memory file is a frozen pydantic model with a `schema` version. Money and
quantities are Decimals written as fixed-point strings; people may write plain JSON
numbers (`0.12`, `5000`) and they are read as exactly the decimal written.
Maps keyed by id are written with sorted keys; lists are sorted by their id at
construction, so a file's bytes depend on its content only.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Annotated, Any, Literal, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    model_validator,
)

from vanta.canonical import dumps_trusted, fmt_decimal
from vanta.money import CURRENCY_SCALE

# ---------------------------------------------------------------- scalar types

_ser = PlainSerializer(fmt_decimal, return_type=str)

Dec = Annotated[Decimal, Field(allow_inf_nan=False), _ser]
"""Any finite decimal (PnL, cash deltas)."""
NonNeg = Annotated[Decimal, Field(ge=0, allow_inf_nan=False), _ser]
"""A quantity, price or balance: never negative."""
Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False), _ser]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False), _ser]
Conviction = Annotated[Decimal, Field(ge=-1, le=1, allow_inf_nan=False), _ser]
Bps = Annotated[Decimal, Field(ge=0, le=1000, allow_inf_nan=False), _ser]

def instant(text: str) -> str:
    """`text` if it is a real UTC instant in vanta's one format, else ValueError ("problem; fix")."""
    if not _INSTANT.fullmatch(text):
        raise ValueError("not a UTC instant in the form 2026-11-21T00:00:00Z; write it in that form")
    try:
        datetime.fromisoformat(text)  # the pattern lets through 2026-13-01 or 25:00:00
    except ValueError:
        raise ValueError("not a real date and time; write an existing UTC instant such as "
                         "2026-11-21T00:00:00Z") from None
    return text


_INSTANT_TEXT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
_INSTANT = re.compile(_INSTANT_TEXT, re.ASCII)  # ASCII digits: the schema's pattern alone takes any digit
Asof = Annotated[str, StringConstraints(pattern=f"^{_INSTANT_TEXT}$"), AfterValidator(instant)]
"""UTC instant, second precision: `2026-11-21T00:00:00Z` (sorts as text), a date and time that exist."""
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Symbol = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9.]{0,19}(/[A-Z0-9]{1,10})?$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def _known_currency(c: str) -> str:
    if c not in CURRENCY_SCALE:
        known = ", ".join(sorted(CURRENCY_SCALE))
        raise ValueError(f"unknown currency {c!r}; use one of {known} (or add it to vanta/money.py)")
    return c


Currency = Annotated[str, AfterValidator(_known_currency)]

Flag = Annotated[bool, Strict()]
"""true or false, nothing else: a switch read as `"yes"` or `1` is a mistake to report."""

Side = Literal["buy", "sell"]
Persona = Literal["baseline", "risk_averse", "contrarian", "aggressive"]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def model_post_init(self, context: Any, /) -> None:
        # Models read from a file share one fields-set per distinct content, as `make`'s
        # do: pydantic gives each instance its own set (200-700 bytes), 40 MB at 10k
        # followers. Pydantic never changes a set in place (model_copy copies it first).
        fields = self.__pydantic_fields_set__
        every = _all_fields(type(self))
        # Every field given (all vanta writes): `make`'s set, found without hashing this one.
        shared = every if len(fields) == len(every) else _FIELD_SETS.setdefault(frozenset(fields), fields)
        if shared is not fields:
            object.__setattr__(self, "__pydantic_fields_set__", shared)

    def to_json(self) -> dict[str, Any]:
        """The model as its canonical JSON value (what its file holds)."""
        value: dict[str, Any] = orjson.loads(dumps_trusted(self))
        return value

    @classmethod
    def make(cls, **values: Any) -> Self:
        """Build from values a stage already holds as valid types.

        The hot-path twin of model_construct (several times faster): stages make
        hundreds of thousands of orders and fills, validated when files are read.
        A field left out takes its default (so a field added later cannot leave a
        model without it); passing every field skips that look-up."""
        fields = _all_fields(cls)
        if len(values) != len(fields):
            for name in fields - values.keys():
                values[name] = cls.__pydantic_fields__[name].get_default(call_default_factory=True)
        m = _new(cls)
        # BaseModel's slots set through their descriptors: a third cheaper than
        # object.__setattr__ by name, for hundreds of thousands of orders and fills.
        _set_dict(m, values)
        # One shared set per class: every field is set, and frozen models never add to it.
        _set_fields_set(m, fields)
        _set_extra(m, None)
        _set_private(m, None)
        return m


_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


_FIELD_SETS: dict[frozenset[str], set[str]] = {}


@cache
def _all_fields(cls: type[BaseModel]) -> set[str]:
    return set(cls.__pydantic_fields__)


def _sorted_by(key: str) -> AfterValidator:
    """Sort a list of models by `key` so written order never depends on history."""

    by = attrgetter(key)  # a C key function: 60k fills of a 10k replay are sorted at read

    def sort(items: tuple[Any, ...]) -> tuple[Any, ...]:
        if len(items) < 2:
            return items  # most lists of a large registry hold one item
        return tuple(sorted(items, key=by))

    return AfterValidator(sort)


def _schema(name: str, version: int = 1) -> Any:
    tag = f"vanta.{name}/{version}"
    return Field(default=tag, alias="schema", description="file type and version")


# ---------------------------------------------------------------- vault.json


class Risk(Model):
    max_drawdown: Fraction = Decimal("0.2")
    max_single_pos_pct: Fraction = Decimal("0.1")
    rebalance_band: Fraction = Decimal(0)
    """No order while |target - held| is worth less than this fraction of NAV (closes
    always go through): keeps a vault from paying fees to chase noise."""


class FeeTerms(Model):
    """A fee agreement, charged per sleeve by the fees stage (README: Fees)."""

    type: Literal["perf_share", "flat", "performance_or_flat"] = "perf_share"
    perf_share: Fraction = Decimal("0.20")
    """Share of realized profit above the sleeve's high-water mark."""
    flat_usd: NonNeg | None = None
    """The flat fee per calendar month, in the sleeve's quote currency."""

    @model_validator(mode="after")
    def _flat_amount(self) -> Self:
        if self.type != "perf_share" and self.flat_usd is None:
            raise ValueError(f'fee type {self.type} needs a monthly amount; add "flat_usd", such as "2000"')
        return self


Mode = Literal["proportional", "fixed_ratio", "fixed_amount", "target", "scaled_trades"]
"""How a sleeve's child orders are sized (README: Sizing modes)."""


class Mirroring(Model):
    mode: Mode = "proportional"
    """The mode onboarding gives a sleeve whose packet names none."""
    min_account_equity: NonNeg = Decimal(0)
    fee: FeeTerms = FeeTerms()
    small_orders: Literal["skip", "accumulate"] = "skip"
    """A child order under min notional: `skip` it, or `accumulate` its quantity in the
    sleeve's carry until a later child order of that symbol and side clears the minimum."""
    drift_threshold: Fraction | None = None
    """Tracking error (half the L1 distance of a sleeve's weights from the vault's) past
    which a mirrored sleeve is rebalanced to the vault's weights with reason `drift`;
    None: report only."""


class Strategy(Model):
    """Where conviction comes from.

    `conviction_file`: signal callers write conviction_score.json; the cycle reads it.
    `momentum`: built-in indicator; conviction = clamp(return over `lookback` bars /
    `full_scale`, -1, 1), written to conviction_score.json each cycle.
    """

    kind: Literal["conviction_file", "momentum"] = "conviction_file"
    lookback: int = Field(default=3, ge=1, le=250)
    full_scale: Positive = Decimal("0.10")


class Execution(Model):
    """The vault model account's broker, and the paper broker's simulated costs."""

    adapter: Literal["paper"] = "paper"
    slippage_bps: Bps = Decimal(0)
    fee_bps: Bps = Decimal(0)


class PoolTerms(Model):
    """A pooled vault's terms (seeds 002 and 004)."""

    manager_id: Id
    creator_id: Id | None = None
    """The strategy's creator, paid `attribution_bps`; None: the manager."""
    manager_fee_bps: Bps = Decimal(0)
    attribution_bps: Bps = Decimal(0)
    carry_losses: Flag = True
    """true: manager and attribution fees only on realized profit above the pool's high-water
    mark; false: on every cycle's net realized profit, losses forgotten (an explicit option)."""
    rollover_hours: int = Field(default=3, ge=1, le=24 * 366)
    min_stake: NonNeg = Decimal(0)
    max_capacity: NonNeg | None = None
    cooldown_hours: int = Field(default=0, ge=0, le=24 * 3660)
    withdrawal_profit_fee: Fraction = Decimal("0.25")
    """Share of a withdrawal's profit over its cost basis paid to the manager (seed 004)."""
    manager_min_stake_pct: Fraction = Decimal(0)
    """The manager may not withdraw below this fraction of all shares."""
    sunset_days: int | None = Field(default=None, ge=1, le=3660)
    """A pool with no fill and no request processed for this many days returns every stake
    at its next rollover (once it holds no position); None: never."""


class Vault(Model):
    vault_id: Id
    base_currency: Currency = "USD"
    crypto_enabled: Flag = False
    personas: tuple[Persona, ...] = ()
    risk: Risk = Risk()
    mirroring: Mirroring = Mirroring()
    strategy: Strategy = Strategy()
    universe: tuple[Symbol, ...] = ()
    execution: Execution = Execution()
    pooled: PoolTerms | None = None
    """Pooled-vault terms: contributors own shares of this vault's model account (README: Pooled vaults)."""


class Market(Model):
    """Trading rules of one symbol: quantities step by `lot_size`, prices by `tick_size`."""

    quote: Currency
    lot_size: Positive
    tick_size: Positive
    min_notional: NonNeg = Decimal(0)


class MarketData(Model):
    """Price source. `builtin`: the packaged historical feed (see README);
    `synthetic`: a seeded random walk for benchmarks; `csv`: `path` in the home."""

    source: Literal["builtin", "synthetic", "csv", "ccxt"] = "builtin"
    seed: int = 0
    path: str | None = None
    exchange: str | None = None
    """`ccxt`: the exchange whose tickers and candles price the cycle (`binance`, or
    `binance:sandbox`); its market metadata (lot, tick, minimums) replaces `markets`."""
    timeframe: str = "1d"
    """`ccxt`: the candle length of the history indicators look back over."""
    start_bar: int = Field(default=0, ge=0)
    """Cycle N reads bar start_bar + N - 1, so indicators can start with history."""


class VaultFile(Model):
    schema_version: Literal["vanta.vault/1"] = _schema("vault")
    vaults: Annotated[tuple[Vault, ...], _sorted_by("vault_id")]
    markets: dict[Symbol, Market] = {}
    market_data: MarketData = MarketData()


# ---------------------------------------------------------------- vault_overlay.json


class Flip(Model):
    persona: Persona
    expires_at: Asof


class VaultOverlay(Model):
    maintenance: Flag = False
    kill_switch: Flag = False
    flip: Flip | None = None


class OverlayFile(Model):
    schema_version: Literal["vanta.vault_overlay/1"] = _schema("vault_overlay")
    global_kill_switch: Flag = False
    vaults: dict[Id, VaultOverlay] = {}


# ---------------------------------------------------------------- conviction_score.json


class Score(Model):
    score: Conviction
    source: str = "manual"
    asof: Asof | None = None


class ConvictionFile(Model):
    schema_version: Literal["vanta.conviction_score/1"] = _schema("conviction_score")
    scores: dict[Id, dict[Symbol, Score]] = {}


# ---------------------------------------------------------------- vault_allocation.json


class AllocationFile(Model):
    """Target weights per vault and persona (intent); the rest of NAV is cash."""

    schema_version: Literal["vanta.vault_allocation/1"] = _schema("vault_allocation")
    cycle: int = Field(default=0, ge=0)
    asof: Asof | None = None
    vaults: dict[Id, dict[Persona, dict[Symbol, Fraction]]] = {}


# ---------------------------------------------------------------- mirror_registry.json


class AccountLink(Model):
    """Which broker wallet holds a Core Vault. Keys never appear here: `account_ref`
    names them, and the broker layer resolves it outside the home."""

    adapter: Literal["paper", "ccxt:alpaca", "ccxt:binance", "ccxt:coinbase", "ccxt:kraken"] = "paper"
    """`paper`: the paper broker. `ccxt:<exchange>`: a live (or sandbox) exchange account,
    traded through ccxt; `account_ref` names its keys (`<name>`, or `<name>:sandbox` for the
    exchange's sandbox or testnet)."""
    account_ref: str = Field(min_length=1, max_length=128)


class Caps(Model):
    """Limits on a follower's child orders (each skip or cut is logged with its reason)."""

    max_pos_usd: NonNeg | None = None
    """Most a position may be worth after a buy, in the quote currency."""
    max_single_pos_pct: Fraction | None = None
    """Most a position may be worth after a buy, as a fraction of the sleeve's equity."""
    max_leverage: Annotated[Decimal, Field(gt=0, le=10, allow_inf_nan=False), _ser] = Decimal(1)
    """Most the sleeve's positions may be worth after a buy, as a multiple of its equity."""
    allow: tuple[Symbol, ...] = ()
    """Only these symbols (empty: every symbol)."""
    block: tuple[Symbol, ...] = ()
    """Never these symbols."""
    slippage_guard_bps: Bps | None = None
    """No child order when its expected fill is further than this from the vault's price."""


class Sleeve(Model):
    """A slice of a Core Vault's tradeable coins that follows one vault.

    `compound` (Quiet) keeps its profit; `sweep` (Flash) returns profit above its
    allocation to the Core Vault on each full close."""

    sleeve_id: Id
    vault_id: Id
    profit: Literal["compound", "sweep"] = "compound"
    allocation: NonNeg | None = None
    """Coins the Core Vault gives this sleeve; None: all its tradeable coins (one sleeve only).
    A change takes effect on the sleeve's next buy."""
    mode: Mode = "proportional"
    scale: Annotated[Decimal, Field(gt=0, le=100, allow_inf_nan=False), _ser] = Decimal(1)
    """proportional and scaled_trades: multiplies the equity ratio."""
    ratio: Positive | None = None
    """fixed_ratio: child quantity = vault quantity x ratio."""
    amount: Positive | None = None
    """fixed_amount: each buy is worth this much in the quote currency."""
    persona: Persona | None = None
    """None: the follower's persona."""
    paused: Flag = False
    """No new buys; sells (exits) go on."""
    fee: FeeTerms | None = None
    """This sleeve's fee agreement; None: the follower's `fee_model`."""

    @model_validator(mode="after")
    def _mode_terms(self) -> Self:
        if self.mode == "fixed_ratio" and self.ratio is None:
            raise ValueError('mode fixed_ratio needs a ratio; add "ratio", such as "0.5"')
        if self.mode == "fixed_amount" and self.amount is None:
            raise ValueError('mode fixed_amount needs an amount; add "amount", such as "500"')
        return self


class CoreVault(Model):
    """A follower's wallet in one quote asset: total coins (from the broker), the part
    put at risk (`tradeable`, the rest is a reserve) and the sleeves that trade it."""

    quote: Currency
    account: AccountLink
    tradeable: NonNeg | None = None
    """Coins put at risk; None: every coin. Sleeve allocations sum to at most this."""
    paused: Flag = False
    sleeves: Annotated[tuple[Sleeve, ...], _sorted_by("sleeve_id")] = ()

    @model_validator(mode="after")
    def _allocations(self) -> Self:
        whole = [s.sleeve_id for s in self.sleeves if s.allocation is None]
        if whole and len(self.sleeves) > 1:
            raise ValueError(f"sleeve {whole[0]!r} takes every tradeable coin but shares the Core Vault; "
                             "give each sleeve an allocation")
        if self.tradeable is None:
            return self
        total = sum((s.allocation or Decimal(0) for s in self.sleeves), Decimal(0))
        if total > self.tradeable:
            raise ValueError(f"sleeve allocations sum to {total}, more than the {self.tradeable} tradeable "
                             "coins; lower an allocation or raise tradeable")
        return self


class Follower(Model):
    follower_id: Id
    persona: Persona = "baseline"
    min_account_equity: NonNeg | None = None  # None: the vault's mirroring default
    kill_switch: Flag = False
    status: Literal["active", "offboarded"] = "active"
    caps: Caps = Caps()
    fee_model: FeeTerms = FeeTerms()
    cores: Annotated[tuple[CoreVault, ...], _sorted_by("quote")] = ()

    @model_validator(mode="after")
    def _unique_sleeves(self) -> Self:
        if len(self.cores) < 2 and all(len(c.sleeves) < 2 for c in self.cores):
            return self  # nothing to repeat (most followers of a large registry)
        ids = [s.sleeve_id for c in self.cores for s in c.sleeves]
        quotes = [c.quote for c in self.cores]
        if len(set(ids)) != len(ids):
            raise ValueError("two sleeves share a sleeve_id; give each sleeve of a follower its own id")
        if len(set(quotes)) != len(quotes):
            raise ValueError("two Core Vaults share a quote asset; keep one Core Vault per quote asset")
        return self

    def sleeves(self) -> list[tuple[CoreVault, Sleeve]]:
        return [(c, s) for c in self.cores for s in c.sleeves]


class RegistryFile(Model):
    schema_version: Literal["vanta.mirror_registry/2"] = _schema("mirror_registry", 2)
    followers: Annotated[tuple[Follower, ...], _sorted_by("follower_id")] = ()


# ---------------------------------------------------------------- portfolio.json

Lot = tuple[NonNeg, NonNeg]
"""One FIFO lot: [quantity, cost]. Cost is what the account paid for that quantity,
trading fee included, in the quote currency's minor unit."""


class Account(Model):
    cash: dict[Currency, NonNeg] = {}
    positions: dict[Symbol, tuple[Lot, ...]] = {}
    """Open lots per symbol, oldest first (FIFO order is the sort key)."""


class SleeveBook(Account):
    """A sleeve's books: its own cash and lots, in its Core Vault's quote asset."""

    allocated: NonNeg = Decimal(0)
    """The allocation in effect (a changed allocation is applied on the next buy)."""
    returned: NonNeg = Decimal(0)
    """Profit this sleeve has swept back to its Core Vault, all time (sweep sleeves)."""
    carry: dict[Symbol, Dec] = {}
    """Child quantity under min notional waiting to be added to the next order (signed:
    buys positive), when the vault accumulates small orders."""


class CoreBook(Model):
    """A Core Vault's books: `cash` is the quote coins outside every sleeve (the
    reserve, unallocated tradeable coins, swept profit). Total coins = cash + the
    sleeves' cash."""

    cash: NonNeg
    sleeves: dict[Id, SleeveBook] = {}


class PortfolioFile(Model):
    schema_version: Literal["vanta.portfolio/2"] = _schema("portfolio", 2)
    cycle: int = Field(default=0, ge=0)
    asof: Asof | None = None
    vaults: dict[Id, Account] = {}
    followers: dict[Id, dict[Currency, CoreBook]] = {}
    """follower -> quote asset -> Core Vault books."""


# ---------------------------------------------------------------- pnl_summary.json


class AccountPnl(Model):
    equity: Dec
    cash: Dec
    market_value: Dec
    cost_basis: Dec
    realized_pnl: Dec
    unrealized_pnl: Dec
    trading_fees: Dec


class SleevePnl(AccountPnl):
    allocated: Dec
    returned: Dec
    tracking_error: Dec
    """Half the L1 distance between the sleeve's weights and its vault's, at the
    snapshot after the cycle's fills (0: a perfect copy, 1: nothing in common)."""
    tracking_value: Dec
    """The value held away from the vault's weights: tracking_error x equity."""


class CorePnl(Model):
    total_coins: Dec
    """Quote coins in the wallet: the Core Vault's cash and its sleeves'."""
    core_cash: Dec
    """Quote coins outside every sleeve (reserve, unallocated, swept profit)."""
    tradeable: Dec
    """The coins put at risk (the registry's `tradeable`, else the total)."""
    equity: Dec
    """Total coins plus the sleeves' positions at the snapshot."""
    returned: Dec
    sleeves: dict[Id, SleevePnl] = {}


Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
"""A calendar month, UTC: `2026-11`."""


class SleeveFees(Model):
    """A sleeve's fee state: its high-water mark and what it has been charged."""

    currency: Currency
    hwm: Dec
    """The highest cumulative realized PnL (net of trading fees) already charged or forgiven."""
    charged: NonNeg
    """Every fee charged to date (the ledger's entries for this sleeve, summed)."""
    month: Month
    """The open billing month: the calendar month of the last cycle that saw the sleeve."""
    month_perf: NonNeg
    """Performance fees charged in the open month (what a performance_or_flat top-up counts)."""
    month_profit: NonNeg
    """Realized profit above the high-water mark crystallized in the open month."""


class Stake(Model):
    """A contributor's shares of a pooled vault and what they paid for them."""

    shares: NonNeg
    cost_basis: NonNeg
    since: Asof
    """When the last deposit was processed (the withdrawal cooldown runs from here)."""
    paid_out: NonNeg = Decimal(0)
    """Everything withdrawals paid this contributor, after fees."""
    fees_paid: NonNeg = Decimal(0)
    """Withdrawal fees on profit this contributor paid."""


class PoolBook(Model):
    """A pooled vault's share register, as of its last cycle."""

    currency: Currency
    total_shares: NonNeg
    assets: Dec
    """The vault's equity at the snapshot, less fees owed."""
    nav_per_share: Dec
    """assets / total_shares x 10^6 (the value of a million shares), half-even to 1e-8."""
    fees_owed: NonNeg
    """Manager and attribution fees crystallized, paid out at the next rollover."""
    hwm: Dec
    """The vault's cumulative realized PnL already charged manager and attribution fees."""
    last_rollover: Asof | None = None
    last_active: Asof | None = None
    """The last cycle with a fill of the vault or a request processed (what sunset counts from)."""
    sunset: Asof | None = None
    """When the pool returned every stake for idleness; it takes no deposit after."""
    contributors: dict[Id, Stake] = {}


class PnlFile(Model):
    schema_version: Literal["vanta.pnl_summary/2"] = _schema("pnl_summary", 2)
    cycle: int = Field(default=0, ge=0)
    asof: Asof | None = None
    vaults: dict[Id, AccountPnl] = {}
    followers: dict[Id, dict[Currency, CorePnl]] = {}
    fees: dict[Id, dict[Id, SleeveFees]] = {}
    """follower id -> sleeve id -> fee state (written by the fees stage)."""
    pools: dict[Id, PoolBook] = {}
    """vault id -> share register of a pooled vault (written by the pool stage)."""


# ---------------------------------------------------------------- autotrade_queue.json


class Order(Model):
    """An order as the queue holds it. `account` is `vault:<id>` or `follower:<id>`;
    a follower's order trades within one sleeve of the Core Vault of its quote asset."""

    client_order_id: str
    cycle: int
    vault_id: Id
    account: str
    sleeve: Id = "main"
    symbol: Symbol
    side: Side
    qty: Positive
    price: Positive
    """The cycle's snapshot price the order was sized at (the paper broker's reference)."""
    status: Literal["staged", "submitting", "open", "retry"] = "staged"
    attempts: int = 0


class PoolRequest(Model):
    """A pending deposit or withdrawal of a pooled vault, processed at the next rollover."""

    request_id: str
    vault_id: Id
    contributor_id: Id
    kind: Literal["deposit", "withdraw"]
    amount: NonNeg = Decimal(0)
    """deposit: coins in the vault's base currency."""
    shares: NonNeg = Decimal(0)
    """withdraw: shares to burn (0 with `all`)."""
    all: Flag = False
    asof: Asof


class QueueFile(Model):
    schema_version: Literal["vanta.autotrade_queue/1"] = _schema("autotrade_queue")
    orders: Annotated[tuple[Order, ...], _sorted_by("client_order_id")] = ()
    requests: Annotated[tuple[PoolRequest, ...], _sorted_by("request_id")] = ()
    """Pooled-vault deposits and withdrawals waiting for their rollover."""


# ---------------------------------------------------------------- broker answers


class Fill(Model):
    """A broker's answer for one order. `cash` is the signed change of the account's
    quote-currency cash (fee included); it is what the account's books move by."""

    client_order_id: str
    status: Literal["filled", "rejected", "deferred"]
    """`deferred`: not answered yet (ccxt broker outage, fate unknown, still open); the
    order stays queued and `reason` starts with its queue status."""
    qty: NonNeg
    price: NonNeg
    fee: NonNeg
    cash: Dec
    reason: str | None = None


class BrokerAnswers(Model):
    schema_version: Literal["vanta.broker_answers/1"] = _schema("broker_answers")
    fills: Annotated[tuple[Fill, ...], _sorted_by("client_order_id")] = ()
    balances: dict[str, dict[str, NonNeg]] = {}
    """Live accounts only: account -> asset -> total the broker holds, read after the
    cycle's orders (the paper broker's books are vanta's own, so it reports none)."""
    conversions: Annotated[tuple[Fill, ...], _sorted_by("client_order_id")] = ()
    """Live accounts only: stable-rail conversions placed before buys (not vault orders)."""


# ---------------------------------------------------------------- market snapshot


class MarketSnapshot(Model):
    schema_version: Literal["vanta.market_snapshot/1"] = _schema("market_snapshot")
    cycle: int
    asof: Asof
    bar: int = Field(ge=0, description="index of this cycle's bar in the feed")
    bar_time: str
    prices: dict[Symbol, Positive]
    history: dict[Symbol, tuple[Positive, ...]] = {}
    """Closes before this bar, oldest first, as many as the strategies look back."""
    markets: dict[Symbol, Market]


# ---------------------------------------------------------------- append-only files


class LedgerEntry(Model):
    """One fee charge (seed 000's ledger fields, plus cycle and high-water marks).

    `fee_usd` keeps seed 000's name; the amount is in `currency`, the sleeve's quote."""

    user_id: Id
    vault_id: Id
    fee_type: Literal["perf_share", "flat", "performance_or_flat", "manager_fee", "attribution_fee",
                      "withdrawal_fee"]
    pnl_gross: Dec
    fee_usd: NonNeg
    asof: Asof
    cycle: int
    hwm_before: Dec
    hwm_after: Dec
    entry_id: str = ""
    """`<cycle>-<n>`: unique in the ledger, what a statement line cites."""
    sleeve: Id = "main"
    currency: Currency = "USD"
    charge: Literal["performance", "flat", "topup", "manager", "attribution", "withdrawal"] = "performance"
    """performance: a share of profit above the high-water mark; flat: a month's flat fee;
    topup: what a performance_or_flat month's performance fees fell short of the flat fee."""
    period: str = ""
    """The calendar month (`2026-11`) the charge bills."""
    orders: tuple[str, ...] = ()
    """Client order ids of the sleeve's sells filled in `cycle` (a performance charge's closes)."""
    payee: Id | None = None
    """Pooled-vault fees: who is paid (manager, creator); None: vanta."""


class LogLine(Model):
    """One trade_log.jsonl line. `hash` = sha256 of the canonical line without `hash`;
    `prev` is the previous line's hash (64 zeros for the first)."""

    seq: int = Field(ge=1)
    cycle: int = Field(ge=0)
    asof: Asof
    kind: str
    data: dict[str, Any]
    prev: Sha256
    hash: Sha256


# ---------------------------------------------------------------- replay manifest


class Span(Model):
    """Where one cycle's lines sit in an append-only file."""

    offset: int = Field(ge=0)
    length: int = Field(ge=0)
    sha256: Sha256


class Manifest(Model):
    """What a replay bundle holds: content hashes of each cycle input and output.

    Blobs live once in replays/objects/, addressed by the sha256 of their bytes. The
    lines a cycle appends to trade_log.jsonl and pnl_ledger.jsonl are not copied:
    `appends` says where they sit in those files, which the hash chain protects."""

    schema_version: Literal["vanta.replay_manifest/1"] = _schema("replay_manifest")
    cycle: int
    asof: Asof
    vanta_version: str
    inputs: dict[str, Sha256]
    outputs: dict[str, Sha256]
    appends: dict[str, Span]
    log_head_before: Sha256
    log_head_after: Sha256
    log_seq_before: int


MEMORY_FILES: dict[str, type[Model]] = {
    "vault.json": VaultFile,
    "vault_overlay.json": OverlayFile,
    "conviction_score.json": ConvictionFile,
    "vault_allocation.json": AllocationFile,
    "mirror_registry.json": RegistryFile,
    "portfolio.json": PortfolioFile,
    "pnl_summary.json": PnlFile,
    "autotrade_queue.json": QueueFile,
}
"""The JSON memory files, in load order. The two .jsonl files are append-only."""

APPEND_FILES = ("trade_log.jsonl", "pnl_ledger.jsonl")

LINE_FILES: dict[str, type[Model]] = {
    "trade_log.jsonl": LogLine,
    "pnl_ledger.jsonl": LedgerEntry,
}

SCHEMA_MODELS: dict[str, type[Model]] = {
    **MEMORY_FILES,
    **LINE_FILES,
    "market_snapshot.json": MarketSnapshot,
    "broker_answers.json": BrokerAnswers,
    "replay_manifest.json": Manifest,
}
