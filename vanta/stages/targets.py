"""Stage 4, targets: conviction -> long-only target weights per vault and persona.

Rule (published in the README): with c+ = max(conviction, 0) and S = sum of c+ over
the vault's universe, weight = min(max_single_pos_pct, c+ / max(1, S)), rounded down
to 1e-6. Negative conviction holds nothing; the weights sum to at most 1; the rest
of NAV is cash. A `momentum` vault first derives its conviction from the feed.

Personas are transforms of those weights (the README publishes them):
- `baseline`: the weights as above;
- `risk_averse`: half of each baseline weight;
- `aggressive`: 1.5 x each baseline weight, capped at min(1, 1.5 x max_single_pos_pct),
  scaled down together when they sum past 1;
- `contrarian`: the rule above applied to the negated conviction (it holds what the
  vault's signals turn against).
Every weight is rounded down to 1e-6. A vault publishes baseline, the personas it
lists, and any persona a flip puts it in.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from vanta.context import Ctx, Event
from vanta.models import AllocationFile, ConvictionFile, MarketSnapshot, Score, Strategy
from vanta.money import CONVICTION_STEP, ONE, WEIGHT_STEP, ZERO, down, half_even


def momentum(strategy: Strategy, symbol: str, snap: MarketSnapshot) -> Decimal | None:
    """clamp((price / price `lookback` bars ago - 1) / full_scale, -1, 1); None until
    the feed has that much history."""
    hist = snap.history.get(symbol, ())
    if len(hist) < strategy.lookback:
        return None
    ret = snap.prices[symbol] / hist[-strategy.lookback] - ONE
    c = half_even(ret / strategy.full_scale, CONVICTION_STEP)
    return max(-ONE, min(ONE, c))


def weights(scores: dict[str, Decimal], cap: Decimal) -> dict[str, Decimal]:
    positive = {s: c for s, c in scores.items() if c > 0}
    denom = max(ONE, sum(positive.values(), ZERO))
    return {s: down(min(cap, c / denom), WEIGHT_STEP) for s, c in sorted(positive.items())}


HALF, ONE_HALF = Decimal("0.5"), Decimal("1.5")


def persona_weights(persona: str, scores: dict[str, Decimal], cap: Decimal) -> dict[str, Decimal]:
    if persona == "contrarian":
        return weights({s: -c for s, c in scores.items()}, cap)
    base = weights(scores, cap)
    if persona == "risk_averse":
        return {s: down(w * HALF, WEIGHT_STEP) for s, w in base.items()}
    if persona == "aggressive":
        top = min(ONE, cap * ONE_HALF)
        up = {s: min(top, w * ONE_HALF) for s, w in base.items()}
        total = sum(up.values(), ZERO)
        scale = ONE / total if total > ONE else ONE
        return {s: down(w * scale, WEIGHT_STEP) for s, w in up.items()}
    return base


def run(ctx: Ctx) -> Ctx:
    assert ctx.snap is not None
    conv = dict(ctx.mem.conviction.scores)
    alloc: dict[str, dict[str, dict[str, Decimal]]] = {}
    events: list[Event] = []
    for v in ctx.vault.vaults:
        if v.strategy.kind == "momentum":
            fresh = {}
            for sym in v.universe:
                c = momentum(v.strategy, sym, ctx.snap)
                if c is not None:
                    fresh[sym] = Score(score=c, source="momentum", asof=ctx.asof)
            conv[v.vault_id] = fresh
        scores = {s: sc.score for s, sc in conv.get(v.vault_id, {}).items() if s in v.universe}
        events.append(("signal", {"vault_id": v.vault_id, "scores": dict(sorted(scores.items()))}))
        per: dict[str, dict[str, Decimal]] = {}
        flip = ctx.personas.get(v.vault_id)
        for persona in sorted({"baseline", *v.personas, *((flip,) if flip else ())}):
            per[persona] = persona_weights(persona, scores, v.risk.max_single_pos_pct)
            events.append(("target", {"vault_id": v.vault_id, "persona": persona, "weights": per[persona]}))
        alloc[v.vault_id] = per
    old = ctx.mem.conviction
    conviction = old if conv == old.scores else ConvictionFile.make(
        schema_version=old.schema_version, scores=conv)
    allocation = AllocationFile.make(
        schema_version=ctx.mem.allocation.schema_version, cycle=ctx.cycle, asof=ctx.asof, vaults=alloc)
    return replace(ctx, conviction=conviction, allocation=allocation, events=(*ctx.events, *events))
