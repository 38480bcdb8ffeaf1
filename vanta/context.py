"""The value the cycle's stages pass along, and the edge they do I/O through.

Stages are functions Ctx -> Ctx. Only load, market, execute and commit touch the
world, and they do it through an `Edge`: the live edge reads the home, calls the
broker and commits; the replay edge serves a bundle's recorded inputs and compares
the outputs. Both run the same stages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from vanta.models import (
    AllocationFile,
    BrokerAnswers,
    ConvictionFile,
    Fill,
    LedgerEntry,
    MarketSnapshot,
    Order,
    OverlayFile,
    Persona,
    PnlFile,
    PoolBook,
    PortfolioFile,
    QueueFile,
    RegistryFile,
    VaultFile,
)

Event = tuple[str, dict[str, Any]]
"""(kind, data): one trade-log line before it is numbered and chained."""


@dataclass(frozen=True, slots=True)
class SleeveMove:
    """Changes to a sleeve's books that do not come from a fill: coins moved in from
    its Core Vault (negative: back to it) for an allocation change, the allocation now
    in effect, and the small-order carry."""

    quote: str
    """The quote asset of the sleeve's Core Vault."""
    cash_in: Decimal
    allocated: Decimal
    carry: Mapping[str, Decimal]


@dataclass(frozen=True)
class Memory:
    """The memory files as read at cycle start: models, and the bytes they came from."""

    vault: VaultFile
    overlay: OverlayFile
    conviction: ConvictionFile
    allocation: AllocationFile
    registry: RegistryFile
    portfolio: PortfolioFile
    pnl: PnlFile
    queue: QueueFile
    raw: Mapping[str, bytes]
    log_seq: int
    log_head: str


@dataclass(frozen=True)
class Ctx:
    cycle: int
    asof: str
    mem: Memory
    snap: MarketSnapshot | None = None
    overlay: OverlayFile | None = None
    blocked: Mapping[str, str] = field(default_factory=dict)
    """vault_id -> why the vault places no orders this cycle."""
    personas: Mapping[str, Persona] = field(default_factory=dict)
    """vault_id -> the persona a flip puts the vault (and every sleeve following it) in."""
    conviction: ConvictionFile | None = None
    allocation: AllocationFile | None = None
    vault_nav: Mapping[str, Decimal] = field(default_factory=dict)
    vault_orders: tuple[Order, ...] = ()
    child_orders: tuple[Order, ...] = ()
    moves: Mapping[tuple[str, str], SleeveMove] = field(default_factory=dict)
    """(follower, sleeve) -> book changes mirror decided before any fill."""
    to_submit: tuple[Order, ...] = ()
    queue: QueueFile | None = None
    """The queue as the stages leave it. Its orders are in execution order, as submitted,
    until reconcile keeps those still waiting, sorted by client order id as the file holds
    them (most cycles none: sorting every order of the cycle would be wasted)."""
    answers: BrokerAnswers | None = None
    broker_answers: BrokerAnswers | None = None
    """Every answer as the broker gave it, deferrals included: what the bundle records."""
    portfolio: PortfolioFile | None = None
    realized: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    """account -> (realized PnL, trading fees) booked this cycle."""
    sold: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    """(follower, sleeve) -> client order ids of its sells filled this cycle, sorted (reconcile
    books them sleeve by sleeve; a performance fee cites them)."""
    noted: tuple[Fill, ...] = ()
    """Filled answers that carry a note (a live broker's fees), by client order id: reconcile
    sees every answer, so truth need not look at each again."""
    pools: Mapping[str, PoolBook] | None = None
    """vault_id -> pooled vault's share register after the pool stage (None: stage not run)."""
    pnl: PnlFile | None = None
    ledger: tuple[LedgerEntry, ...] = ()
    """Fee charges the fees stage made this cycle, in order (appended to pnl_ledger.jsonl)."""
    events: tuple[Event, ...] = ()
    outputs: Mapping[str, bytes] = field(default_factory=dict)
    """The rendered memory files and ledger lines (the trade log went to the edge's sink)."""
    log_head: str = ""
    """Hash of the last trade-log line once commit has rendered the cycle's lines."""
    log_length: int = 0
    """Bytes of trade-log lines the commit stage rendered."""

    @property
    def vault(self) -> VaultFile:
        return self.mem.vault

    @property
    def registry(self) -> RegistryFile:
        return self.mem.registry


class Edge(Protocol):
    """Where a cycle's inputs come from and its outputs go."""

    def load(self) -> tuple[int, str, Memory]:
        """Cycle number, asof, and the memory files."""
        ...

    def market(self, ctx: Ctx) -> MarketSnapshot:
        ...

    def execute(self, ctx: Ctx) -> BrokerAnswers:
        """Answers for `ctx.to_submit`, one per order."""
        ...

    def rendered(self, ctx: Ctx, files: Mapping[str, bytes]) -> tuple[Callable[[bytes], None],
                                                                      Callable[[], dict[str, str]]]:
        """The memory files, as soon as the commit stage has rendered them (before the
        trade log): the live edge starts writing them. Returns where the trade log's
        bytes go, chunk by chunk, as they are rendered (the log is never held whole),
        and what gives the files' sha256 by name for `cycle_end` once the log's events
        are rendered (the edge hashes them on its threads meanwhile)."""
        ...

    def commit(self, ctx: Ctx) -> None:
        """Persist (or, in replay, compare) `ctx.outputs` and the trade log given to `rendered`'s sink."""
        ...
