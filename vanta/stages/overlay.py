"""Stage 3, overlay: kill switches and maintenance block a vault's orders; flip mode
switches a vault (and every sleeve that follows it) to the flip's persona until its
TTL, then expires (the overlay is rewritten without it, and the expiry is logged)."""

from __future__ import annotations

from dataclasses import replace

from vanta.context import Ctx, Event
from vanta.models import OverlayFile


def run(ctx: Ctx) -> Ctx:
    ov = ctx.mem.overlay
    events: list[Event] = []
    vaults = dict(ov.vaults)
    for vid, vo in sorted(ov.vaults.items()):
        if vo.flip is not None and vo.flip.expires_at <= ctx.asof:
            vaults[vid] = vo.model_copy(update={"flip": None})
            events.append(("flip_expired", {"vault_id": vid, "persona": vo.flip.persona,
                                            "expires_at": vo.flip.expires_at}))
    new_ov = ov if not events else OverlayFile.make(
        schema_version=ov.schema_version, global_kill_switch=ov.global_kill_switch, vaults=vaults)

    blocked: dict[str, str] = {}
    personas = {vid: vo.flip.persona for vid, vo in sorted(vaults.items()) if vo.flip is not None}
    for v in ctx.vault.vaults:
        ovr = vaults.get(v.vault_id)
        # The strongest reason is recorded: global kill, vault kill, maintenance.
        if ov.global_kill_switch:
            blocked[v.vault_id] = "global_kill_switch"
        elif ovr is not None and ovr.kill_switch:
            blocked[v.vault_id] = "vault_kill_switch"
        elif ovr is not None and ovr.maintenance:
            blocked[v.vault_id] = "maintenance"
    events += [("vault_blocked", {"vault_id": vid, "reason": r}) for vid, r in sorted(blocked.items())]
    return replace(ctx, overlay=new_ov, blocked=blocked, personas=personas, events=(*ctx.events, *events))
