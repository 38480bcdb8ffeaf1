"""`vanta deposit`, `vanta withdraw`, `vanta contributors`: pooled-vault requests.

A request is validated against the vault's terms and its share register (min stake,
capacity, enough shares, cooldown, the manager's minimum stake), then appended to
autotrade_queue.json's `requests` through the journal with one hash-chained
`pool_request` line in the trade log (which `vanta verify` accepts between cycles).
No money moves here: the cycle that crosses the vault's next rollover processes it.
The same request at the same asof, still pending, is not recorded again.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from typing import Any

from vanta import admin, canonical
from vanta.errors import InputError
from vanta.home import Home, digests, last_log_line, locked, settled, vouched
from vanta.journal import recover
from vanta.models import MEMORY_FILES, PnlFile, PoolBook, PoolRequest, PoolTerms, QueueFile, Stake, Vault
from vanta.money import CONTEXT, ZERO, cash_step
from vanta.pool import amount, burn, seconds_between, units
from vanta.validate import parse

ADMIN_KIND = "pool_request"
QUEUE = "autotrade_queue.json"
ARGS = "command line"


def _pooled(vaults: tuple[Vault, ...], vid: str) -> tuple[Vault, PoolTerms]:
    i, v = next(((i, x) for i, x in enumerate(vaults) if x.vault_id == vid), (None, None))
    if v is None:
        raise InputError("memory/vault.json", "/vaults", f"no vault {vid!r}", "name a vault in vault.json")
    if v.pooled is None:
        raise InputError("memory/vault.json", f"/vaults/{i}/pooled", f"vault {vid} is not a pooled vault",
                         "add pooled terms (manager_id, ...) to it, or deposit into a pooled vault")
    return v, v.pooled


def _book(pnl: PnlFile, v: Vault) -> PoolBook | None:
    return pnl.pools.get(v.vault_id)


def _assets(pnl: PnlFile, v: Vault) -> Decimal:
    book = _book(pnl, v)
    if book is not None:
        return book.assets
    old = pnl.vaults.get(v.vault_id)
    return old.equity if old else ZERO


def _check_deposit(v: Vault, t: PoolTerms, pnl: PnlFile, pending: list[PoolRequest], who: str,
                   amt: Decimal) -> None:
    step = cash_step(v.base_currency)
    book0 = _book(pnl, v)
    if book0 is not None and book0.sunset is not None:
        raise InputError("memory/pnl_summary.json", f"/pools/{v.vault_id}/sunset", f"vault {v.vault_id} was sunset "
                         f"at {book0.sunset} and returned every stake", "deposit into another pooled vault")
    if amt <= 0 or amt != amt.quantize(step):
        raise InputError(ARGS, "/amount", f"expected a positive amount in steps of {step} {v.base_currency}, "
                         f"found {canonical.fmt_decimal(amt)}", "give the amount to the minor unit, such as 100.00")
    book = _book(pnl, v)
    stake = book.contributors.get(who) if book else None
    queued = sum((r.amount for r in pending if r.kind == "deposit"), ZERO)
    mine = sum((r.amount for r in pending if r.kind == "deposit" and r.contributor_id == who), ZERO)
    if (stake is None or stake.shares == 0) and mine + amt < t.min_stake:
        raise InputError(ARGS, "/amount", f"a first deposit into {v.vault_id} must be at least its min_stake "
                         f"{t.min_stake}, found {amt}", f"deposit {t.min_stake} or more")
    if t.max_capacity is not None:
        after = _assets(pnl, v) + queued + amt
        if after > t.max_capacity:
            room = max(t.max_capacity - _assets(pnl, v) - queued, ZERO)
            raise InputError(ARGS, "/amount", f"vault {v.vault_id} is capped at {t.max_capacity} "
                             f"{v.base_currency}; this deposit would take it to {after}",
                             f"deposit at most {room.quantize(step)}")


def _check_withdraw(v: Vault, t: PoolTerms, pnl: PnlFile, pending: list[PoolRequest], who: str,
                    shares: Decimal, everything: bool, when: str) -> Stake:
    book = _book(pnl, v)
    stake = book.contributors.get(who) if book else None
    if book is None or stake is None or stake.shares <= 0:
        raise InputError(ARGS, "/contributor", f"{who} holds no shares of {v.vault_id}",
                         "see `vanta contributors " + v.vault_id + "`")
    queued = sum((r.shares for r in pending if r.kind == "withdraw" and r.contributor_id == who), ZERO)
    want = stake.shares if everything else shares
    if not everything and (shares <= 0 or shares != shares.to_integral_value()):
        raise InputError(ARGS, "/shares", f"expected a positive whole number of shares, found {shares}",
                         "give shares as a whole number, or --all")
    if want + queued > stake.shares:
        raise InputError(ARGS, "/shares", f"{who} holds {stake.shares} shares of {v.vault_id} and has "
                         f"{queued} pending; {want} more is too many", f"withdraw at most {stake.shares - queued}")
    wait = t.cooldown_hours * 3600 - seconds_between(stake.since, when)
    if wait > 0:
        raise InputError(ARGS, "/asof", f"{who}'s last deposit into {v.vault_id} was at {stake.since}; "
                         f"the cooldown is {t.cooldown_hours} h", f"withdraw in {(wait + 3599) // 3600} h or later")
    if who == t.manager_id and stake.shares - want - queued < t.manager_min_stake_pct * (book.total_shares - want):
        raise InputError(ARGS, "/shares", f"the manager must keep {t.manager_min_stake_pct} of "
                         f"{v.vault_id}'s shares", "withdraw fewer shares")
    return stake


def request(home: Home, vault_id: str, contributor: str, kind: str, *, amount_in: Decimal = ZERO,
            shares: Decimal = ZERO, everything: bool = False, asof: str | None = None) -> dict[str, Any]:
    """Validate and record one pending request; returns it with its trade-log seq."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", contributor):
        raise InputError(ARGS, "/contributor", f"expected an id (letters, digits, _ . -), found {contributor!r}",
                         "name the contributor like F_1042")
    with locked(home):
        recover(home)
        cur = admin.read(home)
        v, t = _pooled(cur.vault.vaults, vault_id)
        pnl: PnlFile = cur.models["pnl_summary.json"]  # type: ignore[assignment]
        queue: QueueFile = cur.models[QUEUE]  # type: ignore[assignment]
        pending = [r for r in queue.requests if r.vault_id == vault_id]
        at = admin.stamp(home, asof)
        when = at.asof
        amt, shr = (amount_in, ZERO) if kind == "deposit" else (ZERO, ZERO if everything else shares)
        same = next((r for r in pending if (r.contributor_id, r.kind, r.asof, r.amount, r.shares, r.all)
                     == (contributor, kind, when, amt, shr, everything)), None)
        if same is not None:
            # The same request at the same asof is already pending: a command run again after it
            # was interrupted (did it land?) records nothing twice, like an onboarding packet.
            return {"request": same.to_json(), "log_seq": None, "unchanged": True}
        if kind == "deposit":
            _check_deposit(v, t, pnl, pending, contributor, amount_in)
        else:
            _check_withdraw(v, t, pnl, pending, contributor, shares, everything, when)
        rid = f"{when}-{kind}-{contributor}"
        taken = {r.request_id for r in queue.requests}
        n = 1
        while (rid if n == 1 else f"{rid}-{n}") in taken:
            n += 1
        req = PoolRequest.model_validate({
            "request_id": rid if n == 1 else f"{rid}-{n}", "vault_id": vault_id, "contributor_id": contributor,
            "kind": kind, "amount": amt, "shares": shr, "all": everything, "asof": when})
        new = queue.model_copy(update={"requests": tuple(sorted((*queue.requests, req), key=lambda r: r.request_id))})
        files = {QUEUE: canonical.dumps(new.to_json())}
        seq = admin.commit(home, cur, files, ADMIN_KIND, {"request": req.to_json()}, at)
    return {"request": req.to_json(), "log_seq": seq, "unchanged": False}


def register(book: PoolBook) -> list[dict[str, Any]]:
    """Each contributor's stake at the book's NAV, beside what it was paid and charged,
    worked out in the cycle's Decimal context, so it equals what a withdrawal would pay."""
    rows = []
    with localcontext(CONTEXT):
        for cid, st in sorted(book.contributors.items()):
            value = amount(burn(st.shares, units(book.assets, book.currency), book.total_shares), book.currency)
            rows.append({"contributor_id": cid, "shares": st.shares, "value": value, "cost_basis": st.cost_basis,
                         "unrealized_profit": value - st.cost_basis, "paid_out": st.paid_out,
                         "fees_paid": st.fees_paid, "since": st.since})
    return rows


def contributors(home: Home, vault_id: str) -> dict[str, Any]:
    """The share register of a pooled vault: each contributor's shares, value at the last
    cycle's NAV, cost basis, and pending requests."""
    with settled(home):
        raw = home.read_memory()
        known = vouched(last_log_line(home.log), digests(raw))
    vf = parse(raw["vault.json"], MEMORY_FILES["vault.json"], "memory/vault.json", "vault.json" in known)
    v, _ = _pooled(vf.vaults, vault_id)  # type: ignore[attr-defined]
    pnl: PnlFile = parse(raw["pnl_summary.json"], PnlFile, "memory/pnl_summary.json", "pnl_summary.json" in known)
    queue: QueueFile = parse(raw[QUEUE], QueueFile, f"memory/{QUEUE}", QUEUE in known)
    book = pnl.pools.get(vault_id)
    rows = register(book) if book else []
    return {"vault_id": vault_id, "currency": v.base_currency,
            "assets": book.assets if book else ZERO, "total_shares": book.total_shares if book else ZERO,
            "nav_per_share": book.nav_per_share if book else ZERO, "fees_owed": book.fees_owed if book else ZERO,
            "last_rollover": book.last_rollover if book else None, "contributors": rows,
            "pending": [r.to_json() for r in queue.requests if r.vault_id == vault_id]}
