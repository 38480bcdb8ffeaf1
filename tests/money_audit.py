"""An independent money audit: every account rebuilt from the trade log alone.

`Audit(start)` takes the home's memory files before its first cycle (portfolio.json,
pnl_summary.json, vault.json, mirror_registry.json) and replays the hash-chained trade log
event by event with its own arithmetic, sharing no code with vanta's stages:

- vault model accounts: cash and FIFO lots from `fill` lines (a buy opens a lot at the
  cash it cost; a sell consumes the oldest lots, a partly consumed lot giving up cost pro
  rata rounded up to the minor unit); each fill's cash is checked against its quantity,
  price and fee, and its logged realized PnL against the audit's own;
- follower Core Vault cash and each sleeve's cash, lots, allocation, returned profit and
  small-order carry, from `fill`, `allocation`, `flash_sweep` and `child_skipped`
  (accumulated) lines;
- pooled vaults: cash from fills, `pool_deposit`, `pool_withdrawal` and `pool_fees_paid`;
  the share register (shares, cost basis, paid out, fees paid) from `pool_opened`,
  `pool_deposit` and `pool_withdrawal`; fees owed from `pool_fee`; each payout's and
  each mint's rounding checked against the share formula at the rollover's assets;
- fees: `fee` lines (and pnl_ledger.jsonl, line for line) against the sleeve's realized
  PnL rebuilt from its fills: the mark moves to the cumulative realized PnL, the fee is
  the sleeve's rate of the profit above the mark, rounded down;
- money from outside: a new paper wallet's opening cash (`registry_update`), and a live
  broker's balances (`broker_correction`: the Core Vault's cash and each sleeve's lots moved,
  `broker_rounding`, and `fee_in_kind`: coins a broker took for a fee, sold at the value booked).

`check(root)` compares the rebuilt books with portfolio.json and pnl_summary.json to the
minor unit, and checks that money is conserved home-wide: what every account holds (cash
plus cost of open lots) grew by exactly the realized PnL of the fills, plus deposits, less
withdrawals and pool fees paid out, and money that came or went outside vanta at a live
broker (the truth stage's corrections, which say what they moved).
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Context, Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

ZERO = Decimal(0)
STEPS = {"USD": Decimal("0.01"), "EUR": Decimal("0.01"), "GBP": Decimal("0.01"),
         "USDC": Decimal("0.000001"), "USDT": Decimal("0.000001")}
V_SHARES = 10**6  # the share formula's virtual offset, as the README publishes it


def D(x: Any) -> Decimal:
    return Decimal(str(x))


def fdown(x: Fraction, step: Decimal) -> Decimal:
    """x rounded toward -infinity to a multiple of step, exactly."""
    n = x / Fraction(step)
    return (Decimal(n.numerator // n.denominator) * step).quantize(step)


def fup(x: Fraction, step: Decimal) -> Decimal:
    n = x / Fraction(step)
    return (Decimal(-((-n.numerator) // n.denominator)) * step).quantize(step)


def read(root: Path, name: str) -> Any:
    return json.loads((root / "memory" / name).read_bytes())


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_bytes().split(b"\n")[:-1]]


def start_of(root: Path) -> dict[str, Any]:
    """The memory files an audit starts from (a home before its first cycle)."""
    return {n: read(root, n) for n in ("portfolio.json", "pnl_summary.json", "vault.json",
                                       "mirror_registry.json")}


Lots = list[list[Decimal]]
# Skips decided after a leg took its sleeve's carry (README: Small orders): the carry is spent.
# (With the accumulate policy, `below_min_notional` comes only from a rebalance, before the carry.)
TAKES_CARRY = frozenset({"accumulated", "rounds_to_zero", "max_pos_usd", "max_single_pos_pct", "max_leverage",
                         "not_in_allow_list", "in_block_list"})


class Book:
    """Cash and FIFO lots of one account (a vault model or a sleeve)."""

    def __init__(self, quote: str, doc: dict[str, Any] | None) -> None:
        doc = doc or {}
        self.quote = quote
        self.cash = D(doc.get("cash", {}).get(quote, "0"))
        self.lots: dict[str, Lots] = {s: [[D(q), D(c)] for q, c in lots]
                                      for s, lots in doc.get("positions", {}).items()}
        self.realized = ZERO
        self.fees = ZERO

    def held(self, sym: str) -> Decimal:
        return sum((q for q, _ in self.lots.get(sym, [])), ZERO)

    def at_cost(self) -> Decimal:
        return self.cash + sum((c for lots in self.lots.values() for _, c in lots), ZERO)

    def fill(self, d: dict[str, Any], live: bool = False) -> None:
        """Book a fill; a paper fill's cash is checked against its quantity, price and fee (a
        live broker's has its own digits: its cash is booked as it came)."""
        step = STEPS[self.quote]
        qty, px, fee, cash = D(d["qty"]), D(d["price"]), D(d["fee"]), D(d["cash"])
        sym = d["symbol"]
        assert qty > 0 and px > 0 and fee >= 0, d
        notional = Fraction(qty) * Fraction(px)
        if d["side"] == "buy":
            # the account pays notional rounded up, and the fee
            assert live or cash == -(fup(notional, step) + fee), \
                f"buy cash {cash} is not -(ceil(qty x price) + fee): {d}"
            self.lots.setdefault(sym, []).append([qty, -cash])
            realized = ZERO
        else:
            assert live or cash == fdown(notional, step) - fee, f"sell cash {cash} is not floor(qty x price) - fee: {d}"
            realized = cash - self.consume(sym, qty)
        self.cash += cash
        assert self.cash >= 0, f"{d['account']}/{d.get('sleeve')}: cash {self.cash} after {d}"
        assert D(d["realized"]) == realized, f"logged realized {d['realized']}, the audit's {realized}: {d}"
        self.realized += realized
        self.fees += fee

    def consume(self, sym: str, qty: Decimal) -> Decimal:
        """FIFO: the cost of `qty` taken from the oldest lots (pro rata, rounded up, for a part)."""
        lots = self.lots.get(sym, [])
        assert qty <= self.held(sym), f"sells {qty} {sym}, holds {self.held(sym)}"
        left, cost = qty, ZERO
        while left > 0:
            q, c = lots[0]
            if q <= left:
                cost += c
                left -= q
                lots.pop(0)
                continue
            part = min(c, fup(Fraction(c) * Fraction(left) / Fraction(q), STEPS[self.quote]))
            lots[0] = [q - left, c - part]
            cost += part
            left = ZERO
        if not lots:
            self.lots.pop(sym, None)
        return cost

    def check(self, doc: dict[str, Any], what: str) -> None:
        assert D(doc["cash"].get(self.quote, "0")) == self.cash, \
            f"{what}: cash {doc['cash'].get(self.quote)}, rebuilt from the log {self.cash}"
        assert set(doc["cash"]) <= {self.quote}, f"{what}: cash outside {self.quote}: {doc['cash']}"
        got = {s: [[D(q), D(c)] for q, c in lots] for s, lots in doc["positions"].items()}
        assert got == self.lots, f"{what}: lots {got}, rebuilt from the log {self.lots}"


class Sleeve(Book):
    def __init__(self, quote: str, doc: dict[str, Any] | None) -> None:
        super().__init__(quote, doc)
        doc = doc or {}
        self.allocated = D(doc.get("allocated", "0"))
        self.returned = D(doc.get("returned", "0"))
        self.carry = {s: D(c) for s, c in doc.get("carry", {}).items()}


class Pool:
    def __init__(self, doc: dict[str, Any] | None) -> None:
        doc = doc or {}
        self.shares = D(doc.get("total_shares", "0"))
        self.fees_owed = D(doc.get("fees_owed", "0"))
        self.stakes: dict[str, dict[str, Decimal]] = {
            c: {k: D(s[k]) for k in ("shares", "cost_basis", "paid_out", "fees_paid")}
            for c, s in doc.get("contributors", {}).items()}
        self.assets: Decimal | None = None  # minor units at this cycle's rollover, once known


class Audit:
    def __init__(self, start: dict[str, Any]) -> None:
        vf = start["vault.json"]
        self.quote_of = {s: m["quote"] for s, m in vf["markets"].items()}
        self.base = {v["vault_id"]: v.get("base_currency", "USD") for v in vf["vaults"]}
        self.pooled = {v["vault_id"]: v["pooled"] for v in vf["vaults"] if v.get("pooled")}
        port, pnl = start["portfolio.json"], start["pnl_summary.json"]
        self.vaults = {vid: Book(self.base[vid], a) for vid, a in port["vaults"].items()}
        self.core: dict[tuple[str, str], Decimal] = {}
        self.sleeves: dict[tuple[str, str], Sleeve] = {}
        self.quote_of_sleeve: dict[tuple[str, str], str] = {}
        for fid, cores in port["followers"].items():
            for q, cb in cores.items():
                self.core[(fid, q)] = D(cb["cash"])
                for sid, sb in cb.get("sleeves", {}).items():
                    self.sleeves[(fid, sid)] = Sleeve(q, sb)
                    self.quote_of_sleeve[(fid, sid)] = q
        for f in start["mirror_registry.json"]["followers"]:
            for c in f.get("cores", []):
                for s in c.get("sleeves", []):
                    self.quote_of_sleeve.setdefault((f["follower_id"], s["sleeve_id"]), c["quote"])
        self.live = {f["follower_id"] for f in start["mirror_registry.json"]["followers"]
                     for c in f.get("cores", []) if c.get("account", {}).get("adapter", "paper") != "paper"}
        self.fee_terms = {(f["follower_id"], s["sleeve_id"]): {**(f.get("fee_model") or {}), **(s.get("fee") or {})}
                          for f in start["mirror_registry.json"]["followers"] for c in f.get("cores", [])
                          for s in c.get("sleeves", [])}
        self.realized0 = {vid: D(p["realized_pnl"]) for vid, p in pnl.get("vaults", {}).items()}
        self.fees0 = {vid: D(p["trading_fees"]) for vid, p in pnl.get("vaults", {}).items()}
        self.srealized0: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.sfees0: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for fid, cores in pnl.get("followers", {}).items():
            for cp in cores.values():
                for sid, sp in cp.get("sleeves", {}).items():
                    self.srealized0[(fid, sid)] = D(sp["realized_pnl"])
                    self.sfees0[(fid, sid)] = D(sp["trading_fees"])
        self.hwm0: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.charged: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for fid, per in pnl.get("fees", {}).items():
            for sid, st in per.items():
                self.hwm0[(fid, sid)], self.charged[(fid, sid)] = D(st["hwm"]), D(st["charged"])
        self.peak: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.pools = {vid: Pool(pnl.get("pools", {}).get(vid)) for vid in self.pooled}
        self.pool_hwm = {vid: D(pnl.get("pools", {}).get(vid, {}).get("hwm", "0")) for vid in self.pooled}
        self.total0 = self.total()
        self.flows = ZERO  # deposits in, less withdrawals and pool fees paid out
        self.fee_events: list[dict[str, Any]] = []
        self.pool_fee_events: list[dict[str, Any]] = []
        self.withdrawal_fees: list[tuple[str, dict[str, Any]]] = []
        self.prices: dict[str, Decimal] = {}
        self.cycle = 0
        self.asof = ""
        self.counts: defaultdict[str, int] = defaultdict(int)

    def total(self) -> Decimal:
        return (sum((b.at_cost() for b in self.vaults.values()), ZERO) + sum(self.core.values(), ZERO)
                + sum((s.at_cost() for s in self.sleeves.values()), ZERO))

    def realized(self) -> Decimal:
        return (sum((b.realized for b in self.vaults.values()), ZERO)
                + sum((s.realized for s in self.sleeves.values()), ZERO))

    def sleeve(self, fid: str, sid: str) -> Sleeve:
        k = (fid, sid)
        if k not in self.sleeves:
            self.sleeves[k] = Sleeve(self.quote_of_sleeve[k], None)
        return self.sleeves[k]

    # ------------------------------------------------------------ events

    def run(self, log: list[dict[str, Any]]) -> Audit:
        with localcontext(Context(prec=100)):  # exact: no figure here comes near 100 digits
            return self._run(log)

    def _run(self, log: list[dict[str, Any]]) -> Audit:
        for rec in log:
            self.cycle, self.asof = rec["cycle"], rec["asof"]
            kind, d = rec["kind"], rec["data"]
            self.counts[kind] += 1
            handler = getattr(self, "on_" + kind, None)
            if handler is not None:
                handler(d)
            # Not handled, as they move no book: signals, orders, skips, rejects, drift reports,
            # rail conversions (the stable counts at par; what one cost comes back as a
            # correction) and fees a broker took in a currency vanta could not value.
        return self

    # ------------------------------------------------------------ a live broker's truth

    def on_broker_correction(self, d: dict[str, Any]) -> None:
        """The books moved to the broker's: money that came or went outside vanta (a flow)."""
        fid = d["account"].partition(":")[2]
        self._outside(fid, d["quote"], D(d["cash"]), d)
        for m in d["lots"]:
            s, qty, cost = self.sleeve(fid, m["sleeve"]), D(m["qty"]), D(m["cost"])
            if qty > 0:
                assert cost >= 0
                s.lots.setdefault(m["symbol"], []).append([qty, cost])
            else:
                assert s.consume(m["symbol"], -qty) == -cost, (d, m)
            self.flows += cost

    def on_broker_rounding(self, d: dict[str, Any]) -> None:
        self._outside(d["account"].partition(":")[2], d["asset"], D(d["difference"]), d)

    def _outside(self, fid: str, quote: str, amount: Decimal, d: dict[str, Any]) -> None:
        """Core Vault cash that came or went outside vanta (a flow); never below zero."""
        self.core[(fid, quote)] += amount
        assert self.core[(fid, quote)] >= 0, d
        self.flows += amount

    def on_fee_in_kind(self, d: dict[str, Any]) -> None:
        """A fee the broker took in coins: the sleeve sells them for the value its fill booked."""
        s = self.sleeve(d["account"].partition(":")[2], d["sleeve"])
        qty, value, cost = D(d["qty"]), D(d["value"]), D(d["cost"])
        assert s.consume(d["symbol"], qty) == cost, d
        s.cash += value
        s.realized += value - cost

    def on_registry_update(self, d: dict[str, Any]) -> None:
        """Onboarding: a new paper wallet's opening cash (money in), and the follower's terms."""
        fid = d["follower_id"]
        for c in d["diff"]:
            where, _, path = c["path"].partition(":")
            if where == "portfolio.json" and c["before"] is None:
                q = path.rsplit("/", 1)[1]
                assert (fid, q) not in self.core or self.core[(fid, q)] == 0, c
                self.core[(fid, q)] = D(c["after"]["cash"])
                self.flows += D(c["after"]["cash"])
            elif where == "mirror_registry.json" and path == f"/followers/{fid}" and c["after"] is not None:
                f = c["after"]
                for core in f.get("cores", []):
                    for sl in core.get("sleeves", []):
                        self.quote_of_sleeve.setdefault((fid, sl["sleeve_id"]), core["quote"])
                        self.fee_terms[(fid, sl["sleeve_id"])] = {**(f.get("fee_model") or {}), **(sl.get("fee") or {})}
            elif where == "mirror_registry.json":
                for k in [k for k in self.fee_terms if k[0] == fid]:
                    self.fee_terms[k] = {"unknown": True}  # a partial update: the rate check is skipped

    def on_cycle_start(self, d: dict[str, Any]) -> None:
        self.cycle_realized = {vid: b.realized for vid, b in self.vaults.items()}

    def on_cycle_end(self, d: dict[str, Any]) -> None:
        for k, s in self.sleeves.items():
            self.peak[k] = max(self.peak[k], self.srealized0[k] + s.realized)
        for vid in self.pools:
            cum = self.realized0.get(vid, ZERO) + self.vaults[vid].realized
            self.pool_hwm[vid] = max(self.pool_hwm[vid], cum) if self.pooled[vid].get("carry_losses", True) else cum

    def on_market(self, d: dict[str, Any]) -> None:
        self.prices = {s: D(p) for s, p in d["prices"].items()}
        for p in self.pools.values():
            p.assets = None

    def on_fill(self, d: dict[str, Any]) -> None:
        kind, _, aid = d["account"].partition(":")
        assert self.quote_of[d["symbol"]] in STEPS
        if kind == "vault":
            self.vaults[aid].fill(d)
        else:
            s = self.sleeve(aid, d["sleeve"])
            assert s.quote == self.quote_of[d["symbol"]], d
            s.fill(d, live=aid in self.live)
            self.counts["follower_fill"] += 1

    def on_allocation(self, d: dict[str, Any]) -> None:
        k = (d["follower_id"], d["sleeve"])
        s, moved = self.sleeve(*k), D(d["moved"])
        assert D(d["before"]) == s.allocated and D(d["after"]) == s.allocated + moved, (d, s.allocated)
        self.core[(k[0], s.quote)] -= moved
        s.cash += moved
        s.allocated += moved
        assert self.core[(k[0], s.quote)] >= 0 and s.cash >= 0, f"{k}: an allocation overdraws: {d}"

    def on_flash_sweep(self, d: dict[str, Any]) -> None:
        s, amount = self.sleeve(d["follower_id"], d["sleeve"]), D(d["amount"])
        assert not s.lots and amount == s.cash - s.allocated > 0, (d, s.cash, s.allocated)
        s.cash -= amount
        s.returned += amount
        self.core[(d["follower_id"], s.quote)] += amount

    def on_child_skipped(self, d: dict[str, Any]) -> None:
        """Small-order carry: a leg that reached the carry took it (an order of either side),
        a leg under the min notional is carried in its place."""
        if d["reason"] in TAKES_CARRY:
            s = self.sleeve(d["follower_id"], d["sleeve"])
            s.carry.pop(d["symbol"], None)
            if d["reason"] == "accumulated":
                s.carry[d["symbol"]] = D(d["qty"]) if d["side"] == "buy" else -D(d["qty"])

    def on_child_order(self, d: dict[str, Any]) -> None:
        self.sleeve(d["account"].partition(":")[2], d["sleeve"]).carry.pop(d["symbol"], None)

    def on_fee(self, d: dict[str, Any]) -> None:
        k = (d["user_id"], d["sleeve"])
        s = self.sleeve(*k)
        fee, gross = D(d["fee"]), D(d["pnl_gross"])
        # The mark is the highest cumulative realized PnL a cycle ended with (a flat fee moves it too).
        mark = max(self.hwm0[k], self.peak[k])
        assert D(d["hwm_before"]) == mark, (d, mark)
        cum = self.srealized0[k] + s.realized
        if d["charge"] == "performance":
            # the mark moves to the cumulative realized PnL rebuilt from the sleeve's fills
            assert D(d["hwm_after"]) == cum, f"{k}: fee mark {d['hwm_after']}, realized PnL from the log {cum}"
            assert gross == cum - mark > 0, (d, cum)
            terms = self.fee_terms.get(k, {})
            if "unknown" not in terms:
                rate = D(terms.get("perf_share", "0.20"))
                assert fee == fdown(Fraction(gross) * Fraction(rate), STEPS[s.quote]), d
        else:
            assert D(d["hwm_after"]) == mark and fee > 0, d
        self.charged[k] += fee
        self.fee_events.append(d)

    # ------------------------------------------------------------ pooled vaults

    def _pool_assets(self, vid: str) -> Decimal:
        """The pool's assets in minor units at this moment of the rollover, from the audit's books."""
        b, step = self.vaults[vid], STEPS[self.base[vid]]
        mv = sum((Fraction(b.held(s)) * Fraction(self.prices[s]) for s in b.lots), Fraction(0))
        equity = b.cash + fdown(mv, step)
        return Decimal(int((equity - self.pools[vid].fees_owed) / step))

    def on_pool_opened(self, d: dict[str, Any]) -> None:
        vid = d["vault_id"]
        p, m = self.pools[vid], self.pooled[vid]["manager_id"]
        assert p.shares == 0 and not p.stakes
        equity = D(d["assets"])
        shares = D(d["shares"])
        assert shares == int(equity / STEPS[self.base[vid]]) * V_SHARES, d
        if shares > 0:
            p.stakes[m] = {"shares": shares, "cost_basis": equity, "paid_out": ZERO, "fees_paid": ZERO}
        p.shares = shares
        # a new pool's fee mark starts at what the vault had realized: no fee on its past
        self.pool_hwm[vid] = self.realized0.get(vid, ZERO) + self.vaults[vid].realized

    def on_pool_fee(self, d: dict[str, Any]) -> None:
        """Manager and attribution fees: their rate of the vault's realized profit above the
        mark (or this cycle's, without carried losses), each rounded down on its own."""
        vid = d["vault_id"]
        terms, b = self.pooled[vid], self.vaults[vid]
        cum = self.realized0.get(vid, ZERO) + b.realized
        profit = (cum - self.pool_hwm[vid] if terms.get("carry_losses", True)
                  else b.realized - self.cycle_realized[vid])
        assert D(d["profit"]) == profit > 0, (d, profit)
        bps = D(terms.get("manager_fee_bps" if d["charge"] == "manager" else "attribution_bps", "0"))
        assert D(d["fee"]) == fdown(Fraction(profit) * Fraction(bps) / 10000, STEPS[b.quote]) > 0, d
        self.pools[vid].fees_owed += D(d["fee"])
        self.pool_fee_events.append(d)

    def on_pool_fees_paid(self, d: dict[str, Any]) -> None:
        vid, amount = d["vault_id"], D(d["amount"])
        p = self.pools[vid]
        assert amount == p.fees_owed > 0, (d, p.fees_owed)
        self.vaults[vid].cash -= amount
        assert self.vaults[vid].cash >= 0
        p.fees_owed = ZERO
        self.flows -= amount

    def on_pool_withdrawal(self, d: dict[str, Any]) -> None:
        vid, who = d["vault_id"], d["contributor_id"]
        p, step = self.pools[vid], STEPS[self.base[vid]]
        st = p.stakes[who]
        s, gross, basis, fee, paid = (D(d[k]) for k in ("shares", "gross", "cost_basis", "fee", "paid"))
        assert 0 < s <= st["shares"], (d, st)
        assets = self._pool_assets(vid)
        # burn: floor(s x (A + 1) / (S + V)) minor units, never more than the assets
        want = min(Fraction(int(s) * (int(assets) + 1), int(p.shares) + V_SHARES).__floor__(), int(assets))
        assert gross == Decimal(want) * step, f"{who} burns {s} shares for {gross}, the formula gives {want} units"
        share_basis = st["cost_basis"] if s == st["shares"] else min(
            st["cost_basis"], fup(Fraction(st["cost_basis"]) * Fraction(s) / Fraction(st["shares"]), step))
        assert basis == share_basis, (d, share_basis)
        assert paid + fee == gross and fee >= 0, d
        self.vaults[vid].cash -= gross
        assert self.vaults[vid].cash >= 0, f"pool {vid} pays {gross} it does not hold"
        p.shares -= s
        st["shares"] -= s
        st["cost_basis"] -= basis
        st["paid_out"] += paid
        st["fees_paid"] += fee
        self.flows -= gross
        if fee > 0:
            self.withdrawal_fees.append((vid, d))

    def on_pool_deposit(self, d: dict[str, Any]) -> None:
        vid, who = d["vault_id"], d["contributor_id"]
        p, step = self.pools[vid], STEPS[self.base[vid]]
        amount, got = D(d["amount"]), D(d["shares"])
        assets = self._pool_assets(vid)
        units = int(amount / step)
        assert Decimal(units) * step == amount, d
        want = Fraction(units * (int(p.shares) + V_SHARES), int(assets) + 1).__floor__()
        assert got == want > 0, f"{who} deposits {amount} for {got} shares, the formula gives {want}"
        self.vaults[vid].cash += amount
        p.shares += got
        st = p.stakes.setdefault(who, {"shares": ZERO, "cost_basis": ZERO, "paid_out": ZERO, "fees_paid": ZERO})
        st["shares"] += got
        st["cost_basis"] += amount
        self.flows += amount

    def on_rollover(self, d: dict[str, Any]) -> None:
        vid = d["vault_id"]
        p, step = self.pools[vid], STEPS[self.base[vid]]
        assets = self._pool_assets(vid)
        assert D(d["assets"]) == assets * step and D(d["shares"]) == p.shares, (d, assets, p.shares)
        # rounding residue stays in the pool: the holders' claims never exceed its assets
        claims = sum((min(Fraction(int(st["shares"]) * (int(assets) + 1), int(p.shares) + V_SHARES).__floor__(),
                          int(assets)) for st in p.stakes.values()), 0)
        assert claims <= max(int(assets), 0), (vid, claims, assets)

    # ------------------------------------------------------------ the committed files

    def check(self, root: Path) -> None:
        with localcontext(Context(prec=100)):
            self._check(root)

    def _check(self, root: Path) -> None:
        port, pnl = read(root, "portfolio.json"), read(root, "pnl_summary.json")
        assert set(port["vaults"]) == set(self.vaults)
        for vid, b in self.vaults.items():
            b.check(port["vaults"][vid], f"vault {vid}")
            vp, step = pnl["vaults"][vid], STEPS[b.quote]
            assert D(vp["cash"]) == b.cash
            assert D(vp["cost_basis"]) == b.at_cost() - b.cash
            assert D(vp["realized_pnl"]) == self.realized0.get(vid, ZERO) + b.realized, f"vault {vid} realized PnL"
            assert D(vp["trading_fees"]) == self.fees0.get(vid, ZERO) + b.fees, f"vault {vid} trading fees"
            assert D(vp["equity"]) == b.cash + D(vp["market_value"])
            assert D(vp["unrealized_pnl"]) == D(vp["market_value"]) - D(vp["cost_basis"])
            assert step  # quote known
        seen = set()
        for fid, cores in port["followers"].items():
            for q, cb in cores.items():
                assert D(cb["cash"]) == self.core[(fid, q)], \
                    f"{fid}/{q}: Core Vault cash {cb['cash']}, rebuilt from the log {self.core[(fid, q)]}"
                cp = pnl["followers"][fid][q]
                total = D(cb["cash"])
                for sid, sb in cb.get("sleeves", {}).items():
                    k = (fid, sid)
                    seen.add(k)
                    self.quote_of_sleeve.setdefault(k, q)
                    s = self.sleeve(*k)
                    s.check(sb, f"{fid}/{q}/{sid}")
                    assert D(sb["allocated"]) == s.allocated and D(sb["returned"]) == s.returned, k
                    assert {x: D(c) for x, c in sb.get("carry", {}).items()} == s.carry, \
                        f"{k}: carry {sb.get('carry')}, rebuilt from the log {s.carry}"
                    sp = cp["sleeves"][sid]
                    assert D(sp["realized_pnl"]) == self.srealized0[k] + s.realized, f"{k}: realized PnL"
                    assert D(sp["trading_fees"]) == self.sfees0[k] + s.fees, f"{k}: trading fees"
                    assert D(sp["cash"]) == s.cash and D(sp["cost_basis"]) == s.at_cost() - s.cash
                    total += s.cash
                assert D(cp["total_coins"]) == total and D(cp["core_cash"]) == D(cb["cash"])
        lost = {k for k, s in self.sleeves.items() if s.cash or s.lots or s.allocated or s.returned} - seen
        assert not lost, f"sleeves with books missing from portfolio.json: {sorted(lost)}"
        self.check_fees(root, pnl)
        self.check_pools(pnl)
        # home-wide: nothing created or lost
        assert self.total() == self.total0 + self.realized() + self.flows, \
            f"money: {self.total()} held at cost, {self.total0} + realized {self.realized()} + flows {self.flows}"

    def check_fees(self, root: Path, pnl: dict[str, Any]) -> None:
        fees = pnl.get("fees", {})
        for (fid, sid), charged in self.charged.items():
            if charged:
                st = fees[fid][sid]
                assert D(st["charged"]) == charged, f"{fid}/{sid}: charged {st['charged']}, the log's fees {charged}"
        for fid, per in fees.items():
            for sid, st in per.items():
                k = (fid, sid)
                # the mark is the highest cumulative realized PnL any cycle ended with (flat fees move it too)
                assert D(st["hwm"]) == max(self.hwm0[k], self.peak[k]), (k, st, self.peak[k])
                assert D(st["charged"]) == self.charged[k], (k, st)
        ledger = read_lines(root / "memory" / "pnl_ledger.jsonl")
        mine = [e for e in ledger if e.get("sleeve") != "pool"]
        assert len(mine) == len(self.fee_events), "ledger entries and fee lines differ in number"
        for e, d in zip(mine, self.fee_events, strict=True):
            assert (e["entry_id"], e["user_id"], e["sleeve"], D(e["fee_usd"]), D(e["pnl_gross"])) == \
                (d["entry_id"], d["user_id"], d["sleeve"], D(d["fee"]), D(d["pnl_gross"])), (e, d)
        pool_entries = [e for e in ledger if e.get("sleeve") == "pool"]
        wants = [(d["vault_id"], d["charge"], D(d["fee"])) for d in self.pool_fee_events]
        wants += [(d["contributor_id"], "withdrawal", D(d["fee"])) for _, d in self.withdrawal_fees]
        got = [(e["user_id"], e["charge"], D(e["fee_usd"])) for e in pool_entries]
        assert sorted(got) == sorted(wants), (got, wants)

    def check_pools(self, pnl: dict[str, Any]) -> None:
        for vid, p in self.pools.items():
            book = pnl.get("pools", {}).get(vid)
            if book is None:
                assert p.shares == 0 and not p.stakes
                continue
            assert D(book["total_shares"]) == p.shares, (vid, book["total_shares"], p.shares)
            assert D(book["hwm"]) == self.pool_hwm[vid], (vid, book["hwm"], self.pool_hwm[vid])
            assert D(book["fees_owed"]) == p.fees_owed, (vid, book["fees_owed"], p.fees_owed)
            assert sum((D(s["shares"]) for s in book["contributors"].values()), ZERO) == p.shares
            got = {c: {k: D(s[k]) for k in ("shares", "cost_basis", "paid_out", "fees_paid")}
                   for c, s in book["contributors"].items()}
            assert got == p.stakes, f"pool {vid}: register {got}, rebuilt from the log {p.stakes}"
            step = STEPS[self.base[vid]]
            assets = self._pool_assets(vid)
            assert D(book["assets"]) == assets * step, (vid, book["assets"], assets)
            claims = sum((min(Fraction(int(st["shares"]) * (int(assets) + 1), int(p.shares) + V_SHARES).__floor__(),
                              int(assets)) for st in p.stakes.values()), 0)
            assert claims <= max(int(assets), 0), (vid, claims, assets)
