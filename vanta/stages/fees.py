"""Stage 11, fees: crystallize fees on realized profit into pnl_ledger.jsonl.

The seam for the revenue engine. Until fee models are built, no fee is charged and
no ledger entry is written: the ledger must never hold a fee that is not owed.
Trading fees (the broker's commission) are already inside realized PnL.
"""

from __future__ import annotations

from vanta.context import Ctx


def run(ctx: Ctx) -> Ctx:
    return ctx
