"""Books rebuilt from a home's own trade log, checking each event as it goes.

Shared by test_money_props.py and test_sleeves.py. `LogBooks(files)` starts from the
files a home was written with (vanta.init.write_home) and reads trade_log.jsonl line
by line: vault orders, allocation moves, child orders, fills, Flash sweeps. Every
child order is checked against the sizing rule of its sleeve's mode, the follower's
caps, kill switch and pauses; every book (a Core Vault's cash, a sleeve's cash and
holdings) must stay non-negative and may change only by its own fills, allocation
moves between a sleeve and its own Core Vault, and its own sweep. `check_final`
then compares the rebuilt books with the committed portfolio.json and pnl_summary.json,
and checks that money was conserved: for every wallet, cash + cost of open lots grew
by exactly the realized PnL of its fills.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

ZERO = Decimal(0)
WEIGHT_STEP = Decimal("0.000001")


def D(x: Any) -> Decimal:
    return Decimal(str(x))


def down(x: Fraction | Decimal, step: Decimal) -> Decimal:
    """x rounded toward zero to a multiple of step (exact, via Fraction)."""
    f = Fraction(x) / Fraction(step)
    n = int(f)  # toward zero
    return Decimal(n) * step


def is_multiple(x: Decimal, step: Decimal) -> bool:
    return (Fraction(x) / Fraction(step)).denominator == 1


def read_log(root: Path) -> list[dict[str, Any]]:
    raw = (root / "memory" / "trade_log.jsonl").read_bytes()
    return [json.loads(line) for line in raw.split(b"\n")[:-1]]


def read_json(root: Path, name: str) -> Any:
    return json.loads((root / "memory" / name).read_bytes())


class LogBooks:
    """Books rebuilt from the log's own events, checked event by event."""

    def __init__(self, files: dict[str, Any]) -> None:
        vf = files["vault.json"]
        self.markets = {s: {"quote": m["quote"], "lot": D(m["lot_size"]), "min": D(m.get("min_notional", "0"))}
                        for s, m in vf["markets"].items()}
        self.market_ticks = {s: m["tick_size"] for s, m in vf["markets"].items()}
        self.vaults = {v["vault_id"]: v for v in vf["vaults"]}
        self.base = {vid: v.get("base_currency", "USD") for vid, v in self.vaults.items()}
        self.followers: dict[str, dict[str, Any]] = {}
        self.quote_of_sleeve: dict[tuple[str, str], str] = {}
        # sleeve config, by (follower, sleeve)
        self.sleeves: dict[tuple[str, str], dict[str, Any]] = {}
        self.core_of: dict[tuple[str, str], dict[str, Any]] = {}
        self.set_registry(files["mirror_registry.json"]["followers"])
        ov = files["vault_overlay.json"]
        self.flips = {vid: (o["flip"]["persona"], o["flip"]["expires_at"])
                      for vid, o in ov.get("vaults", {}).items() if o.get("flip")}
        port = files["portfolio.json"]
        self.vcash = {vid: D(a["cash"].get(self.base[vid], "0")) for vid, a in port["vaults"].items()}
        self.vheld: dict[str, dict[str, Decimal]] = {
            vid: {s: sum((D(q) for q, _ in lots), ZERO) for s, lots in a.get("positions", {}).items()}
            for vid, a in port["vaults"].items()}
        self.vwallet0 = {vid: self._value_at_cost(a, self.base[vid]) for vid, a in port["vaults"].items()}
        self.core_cash: dict[tuple[str, str], Decimal] = {}
        self.scash: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.sheld: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
        self.salloc: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.sreturned: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.scarry: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
        self.swallet0: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.wallet0: dict[tuple[str, str], Decimal] = {}
        for fid, cores in port["followers"].items():
            for q, cb in cores.items():
                self.core_cash[(fid, q)] = D(cb["cash"])
                total = D(cb["cash"])
                for sid, sb in cb.get("sleeves", {}).items():
                    k = (fid, sid)
                    self.quote_of_sleeve[k] = q
                    self.scash[k] = D(sb.get("cash", {}).get(q, "0"))
                    self.sheld[k] = {s: sum((D(x) for x, _ in lots), ZERO)
                                     for s, lots in sb.get("positions", {}).items()}
                    self.salloc[k] = D(sb.get("allocated", "0"))
                    self.sreturned[k] = D(sb.get("returned", "0"))
                    self.scarry[k] = {s: D(c) for s, c in sb.get("carry", {}).items()}
                    self.swallet0[k] = self._value_at_cost(sb, q)
                    total += self.swallet0[k]
                self.wallet0[(fid, q)] = total
        # per-cycle state
        self.cycle = 0
        self.asof = ""
        self.prices: dict[str, Decimal] = {}
        self.vheld0: dict[str, dict[str, Decimal]] = {}
        self.nav: dict[str, Decimal] = {}
        self.parents: dict[str, dict[str, Any]] = {}
        self.targets: dict[tuple[str, str], dict[str, Decimal]] = {}
        self.children: dict[str, tuple[str, str]] = {}
        self.bought: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.sold: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.carry0: dict[tuple[str, str], dict[str, Decimal]] = {}
        # totals
        self.realized_v: dict[str, Decimal] = defaultdict(Decimal)
        self.realized_s: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.fees_s: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.moved: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.swept: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.counts: Counter[str] = Counter()
        self.counts_by_sleeve: Counter[tuple[str, str, str]] = Counter()
        self.rejects: list[dict[str, Any]] = []
        self.child_log: list[dict[str, Any]] = []

    def set_registry(self, followers: list[dict[str, Any]]) -> None:
        """The registry in force from now on (an operator edited it between cycles)."""
        self.followers = {f["follower_id"]: f for f in followers}
        self.sleeves, self.core_of = {}, {}
        for fid, f in self.followers.items():
            for core in f.get("cores", []):
                for s in core.get("sleeves", []):
                    self.sleeves[(fid, s["sleeve_id"])] = s
                    self.core_of[(fid, s["sleeve_id"])] = core
                    self.quote_of_sleeve.setdefault((fid, s["sleeve_id"]), core["quote"])

    @staticmethod
    def _value_at_cost(acct: dict[str, Any], quote: str) -> Decimal:
        cash = D(acct.get("cash", {}).get(quote, "0"))
        return cash + sum((D(c) for lots in acct.get("positions", {}).values() for _, c in lots), ZERO)

    # ------------------------------------------------------------ events

    def run(self, log: list[dict[str, Any]]) -> LogBooks:
        for rec in log:
            self.cycle, self.asof = rec["cycle"], rec["asof"]
            self.event(rec["kind"], rec["data"])
        return self

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.counts[kind] += 1
        if kind in ("child_skipped", "sleeve_skipped", "follower_skipped", "child_capped"):
            self.counts[f"{kind}:{data['reason']}"] += 1
            if "sleeve" in data:
                self.counts_by_sleeve[(data["follower_id"], data["sleeve"], data["reason"])] += 1
        if kind == "cycle_start":
            self.parents, self.targets, self.children = {}, {}, {}
            self.bought = defaultdict(Decimal)
            self.sold = defaultdict(Decimal)
            self.carry0 = {k: dict(v) for k, v in self.scarry.items()}
        elif kind == "market":
            self.prices = {s: D(p) for s, p in data["prices"].items()}
            self.vheld0 = {v: dict(h) for v, h in self.vheld.items()}
            self.nav = {v: self.vcash[v] + sum((q * self.prices[s] for s, q in self.vheld[v].items()), ZERO)
                        for v in self.vcash}
        elif kind == "flip_expired":
            assert self.flips.pop(data["vault_id"], None) is not None
        elif kind == "target":
            self.targets[(data["vault_id"], data["persona"])] = {s: D(w) for s, w in data["weights"].items()}
        elif kind == "vault_order":
            self.counts[f"vault_order:{data['side']}"] += 1
            assert D(data["nav"]) == self.nav[data["vault_id"]], "vault NAV is not the snapshot NAV"
            self.parents[data["client_order_id"]] = data
        elif kind == "allocation":
            self.allocation(data)
        elif kind == "child_skipped" and data["reason"] == "accumulated":
            k = (data["follower_id"], data["sleeve"])
            self.scarry[k][data["symbol"]] = D(data["qty"]) * (1 if data["side"] == "buy" else -1)
        elif kind == "child_order":
            self.child(data)
        elif kind == "fill":
            self.fill(data)
        elif kind == "reject":
            self.rejects.append(data)
        elif kind == "flash_sweep":
            self.sweep(data)

    def allocation(self, d: dict[str, Any]) -> None:
        k = (d["follower_id"], d["sleeve"])
        q = self.quote_of_sleeve[k]
        moved, before, after = D(d["moved"]), D(d["before"]), D(d["after"])
        assert before == self.salloc[k], f"{k}: allocation before {before}, books say {self.salloc[k]}"
        assert after == before + moved, d
        assert moved != 0
        self.core_cash[(k[0], q)] -= moved
        self.scash[k] += moved
        self.salloc[k] = after
        self.moved[k] += moved
        assert self.core_cash[(k[0], q)] >= 0, f"{k}: allocation overdraws the Core Vault"
        assert self.scash[k] >= 0, f"{k}: reclaiming an allocation overdraws the sleeve"
        self.counts["allocation_moves"] += 1

    def sweep(self, d: dict[str, Any]) -> None:
        k = (d["follower_id"], d["sleeve"])
        q = self.quote_of_sleeve[k]
        amount = D(d["amount"])
        assert self.sleeves[k].get("profit") == "sweep", f"{k} is not a sweep sleeve and swept"
        assert not self.sheld[k], f"{k} swept while holding {self.sheld[k]}"
        assert amount > 0 and amount == self.scash[k] - self.salloc[k], (d, self.scash[k], self.salloc[k])
        self.scash[k] -= amount
        self.core_cash[(k[0], q)] += amount
        self.sreturned[k] += amount
        self.swept[k] += amount

    def equity(self, k: tuple[str, str]) -> Decimal:
        return self.scash[k] + sum((q * self.prices[s] for s, q in self.sheld[k].items()), ZERO)

    def persona_for(self, k: tuple[str, str], basis: str) -> str:
        s, f = self.sleeves[k], self.followers[k[0]]
        vid = s["vault_id"]
        flip = self.flips.get(vid)
        if flip is not None and self.asof < flip[1]:
            return flip[0]
        if basis == "drift":
            return "baseline"
        return s.get("persona") or f.get("persona", "baseline")

    def child(self, d: dict[str, Any]) -> None:
        self.counts[f"child_order:{d['basis']}"] += 1
        self.child_log.append({**d, "cycle": self.cycle})
        fid = d["account"].removeprefix("follower:")
        k = (fid, d["sleeve"])
        f, s, core = self.followers[fid], self.sleeves[k], self.core_of[k]
        sym, side, qty = d["symbol"], d["side"], D(d["qty"])
        self.counts[f"child_order:{s.get('mode', 'proportional')}:{side}"] += 1
        assert not f.get("kill_switch", False), f"{fid} has its kill switch on and got {d}"
        assert f.get("status", "active") == "active", f"{fid} is offboarded and got {d}"
        assert d["vault_id"] == s["vault_id"]
        mk = self.markets[sym]
        assert mk["quote"] == core["quote"], f"{k} trades {sym} outside its quote {core['quote']}"
        assert qty > 0 and is_multiple(qty, mk["lot"]), d
        price = self.prices[sym]
        assert D(d["price"]) == price
        equity = D(d["equity"])
        assert equity == self.equity(k), f"{k}: logged equity {equity}, books say {self.equity(k)}"
        held = self.sheld[k].get(sym, ZERO)
        sign = 1 if side == "buy" else -1
        c0 = self.carry0.get(k, {}).get(sym, ZERO)
        carry = abs(c0) if c0 * sign > 0 else ZERO
        self.scarry[k].pop(sym, None)
        if side == "sell":
            assert qty <= held, f"{k} sells {qty} {sym} but holds {held}"
            self.sold[k] += qty * price  # a sleeve's sells come before its buys: they free leverage room
        else:
            assert not s.get("paused", False) and not core.get("paused", False), f"paused {k} bought: {d}"
            self.caps(f, k, sym, qty, price, equity, held)
        mode = s.get("mode", "proportional")
        basis = d["basis"]
        if basis == "mirror":
            assert mode != "target"
            self.mirror_rule(d, k, s, mode, qty, held, equity, carry)
        else:
            assert basis in ("target", "persona", "drift"), basis
            assert (basis == "target") == (mode == "target"), (basis, mode)
            self.target_rule(d, k, s, qty, held, equity, price, carry)
        self.children[d["client_order_id"]] = k

    def mirror_rule(self, d: dict[str, Any], k: tuple[str, str], s: dict[str, Any], mode: str, qty: Decimal,
                    held: Decimal, equity: Decimal, carry: Decimal) -> None:
        p = self.parents[d["parent"]]
        assert (p["symbol"], p["side"], p["vault_id"]) == (d["symbol"], d["side"], s["vault_id"])
        pqty, nav = D(p["qty"]), self.nav[s["vault_id"]]
        lot = self.markets[d["symbol"]]["lot"]
        vault_had = self.vheld0[s["vault_id"]].get(d["symbol"], ZERO)
        scale = Fraction(D(s.get("scale", "1")))
        share = Fraction(pqty) * Fraction(equity) * scale / Fraction(nav)
        if d["side"] == "sell":
            if pqty >= vault_had:
                self.counts["full_close"] += 1
                assert qty == held, f"{k}: the vault closes {d['symbol']}, the sleeve sells {qty} of {held}"
                return
            if mode in ("scaled_trades", "fixed_amount"):
                # UOP/TOP: the same fraction of the position as the vault sells
                want = down(Fraction(held) * Fraction(pqty) / Fraction(vault_had), lot)
                assert qty == want or (carry and qty <= min(held, want + carry)), \
                    f"{k}: sells {qty}, UOP/TOP gives {want}"
                self.counts["uop_top_sell"] += 1
                return
        if mode in ("proportional", "scaled_trades"):
            bound = share
        elif mode == "fixed_ratio":
            bound = Fraction(pqty) * Fraction(D(s["ratio"]))
        else:
            assert mode == "fixed_amount" and d["side"] == "buy"
            bound = Fraction(D(s["amount"])) / Fraction(self.prices[d["symbol"]])
        assert Fraction(qty) <= bound + Fraction(carry), f"{k} ({mode}): child {qty} > allowed {float(bound)}"

    def target_rule(self, d: dict[str, Any], k: tuple[str, str], s: dict[str, Any], qty: Decimal,
                    held: Decimal, equity: Decimal, price: Decimal, carry: Decimal) -> None:
        persona = self.persona_for(k, d["basis"])
        w = self.targets[(s["vault_id"], persona)].get(d["symbol"], ZERO)
        if d["basis"] == "target":  # target mode holds its weights x scale
            w = w * D(s.get("scale", "1"))
        ex = self.vaults[s["vault_id"]].get("execution", {})
        haircut = 1 - 2 * (Fraction(D(ex.get("slippage_bps", "0"))) + Fraction(D(ex.get("fee_bps", "0")))) / 10000
        target = down(Fraction(w) * Fraction(equity) * haircut / Fraction(price), self.markets[d["symbol"]]["lot"])
        if d["side"] == "buy":
            assert held + qty <= target + carry, f"{k}: buys {qty} {d['symbol']} past its target {target} ({persona})"
        else:
            assert held - qty >= target - carry, f"{k}: sells {qty} {d['symbol']} below its target {target}"
        self.counts["toward_target"] += 1

    def caps(self, f: dict[str, Any], k: tuple[str, str], sym: str, qty: Decimal, price: Decimal,
             equity: Decimal, held: Decimal) -> None:
        caps = f.get("caps", {})
        assert sym not in caps.get("block", []), f"{k} bought blocked {sym}"
        allow = caps.get("allow", [])
        assert not allow or sym in allow, f"{k} bought {sym}, not in its allow list"
        if caps.get("slippage_guard_bps") is not None:
            ex = self.vaults[self.sleeves[k]["vault_id"]].get("execution", {})
            tick = Fraction(D(self.market_ticks[sym]))
            want = Fraction(price) * (1 + Fraction(D(ex.get("slippage_bps", "0"))) / 10000)
            fill = -((-want) // tick) * tick  # up to the tick
            assert (fill - Fraction(price)) * 10000 <= Fraction(D(caps["slippage_guard_bps"])) * Fraction(price), \
                f"{k} bought {sym} with an expected fill past its slippage guard"
            self.counts["slippage_guard_checked"] += 1
        after = (held + qty) * price
        if caps.get("max_pos_usd") is not None:
            assert after <= D(caps["max_pos_usd"]), f"{k}: {sym} worth {after} after a buy > max_pos_usd"
        if caps.get("max_single_pos_pct") is not None:
            assert after <= D(caps["max_single_pos_pct"]) * equity, f"{k}: {sym} {after} > max_single_pos_pct"
        self.bought[k] += qty * price
        lev = D(caps.get("max_leverage", "1"))
        held_value = sum((q * self.prices[s] for s, q in self.sheld[k].items()), ZERO)
        assert held_value - self.sold[k] + self.bought[k] <= lev * equity, \
            f"{k}: positions past max_leverage x equity"

    def fill(self, d: dict[str, Any]) -> None:
        acct, sym, q, cash = d["account"], d["symbol"], D(d["qty"]), D(d["cash"])
        kind, _, aid = acct.partition(":")
        signed = q if d["side"] == "buy" else -q
        if kind == "vault":
            self.vcash[aid] += cash
            self.vheld[aid][sym] = self.vheld[aid].get(sym, ZERO) + signed
            assert self.vcash[aid] >= 0 and self.vheld[aid][sym] >= 0
            if self.vheld[aid][sym] == 0:
                del self.vheld[aid][sym]
            self.realized_v[aid] += D(d["realized"])
            return
        k = (aid, d["sleeve"])
        assert self.children.get(d["client_order_id"]) == k, f"fill {d} is not a child order of {k} this cycle"
        self.counts["follower_fill"] += 1
        self.scash[k] += cash
        self.sheld[k][sym] = self.sheld[k].get(sym, ZERO) + signed
        assert self.scash[k] >= 0, f"{k}: sleeve cash negative after {d}"
        assert self.sheld[k][sym] >= 0, f"{k}: sleeve holding negative after {d}"
        if self.sheld[k][sym] == 0:
            del self.sheld[k][sym]
        self.realized_s[k] += D(d["realized"])
        self.fees_s[k] += D(d["fee"])

    # ------------------------------------------------------------ the committed files

    def check_final(self, root: Path) -> None:
        port = read_json(root, "portfolio.json")
        pnl = read_json(root, "pnl_summary.json")
        for vid, a in port["vaults"].items():
            q = self.base[vid]
            assert D(a["cash"].get(q, "0")) == self.vcash[vid]
            assert {s: sum((D(x) for x, _ in lots), ZERO) for s, lots in a["positions"].items()} == self.vheld[vid]
            assert self._value_at_cost(a, q) == self.vwallet0[vid] + self.realized_v[vid], f"vault {vid} money"
        for fid, cores in port["followers"].items():
            for q, cb in cores.items():
                assert D(cb["cash"]) == self.core_cash[(fid, q)], f"{fid}/{q}: Core Vault cash"
                total = D(cb["cash"])
                realized = ZERO
                for sid, sb in cb["sleeves"].items():
                    k = (fid, sid)
                    assert self.quote_of_sleeve[k] == q
                    assert D(sb["cash"].get(q, "0")) == self.scash[k], f"{k}: sleeve cash"
                    assert set(sb["cash"]) <= {q}, f"{k} holds cash outside its quote"
                    held = {s: sum((D(x) for x, _ in lots), ZERO) for s, lots in sb["positions"].items()}
                    assert held == self.sheld[k], f"{k}: holdings"
                    for lots in sb["positions"].values():
                        assert all(D(x) > 0 and D(c) >= 0 for x, c in lots)
                    assert D(sb["allocated"]) == self.salloc[k], f"{k}: allocated"
                    assert D(sb["returned"]) == self.sreturned[k], f"{k}: returned"
                    value = self._value_at_cost(sb, q)
                    # a sleeve's money changes only by its own fills, moves and sweeps
                    assert value == self.swallet0[k] + self.moved[k] + self.realized_s[k] - self.swept[k], \
                        f"{k}: cash + open cost {value} is not start + moved + realized - swept"
                    total += value
                    realized += self.realized_s[k]
                    sp = pnl["followers"][fid][q]["sleeves"][sid]
                    assert D(sp["cash"]) == self.scash[k]
                    assert D(sp["allocated"]) == self.salloc[k] and D(sp["returned"]) == self.sreturned[k]
                    assert D(sp["realized_pnl"]) == self.realized_s[k], f"{k}: realized PnL"
                    assert D(sp["trading_fees"]) == self.fees_s[k], f"{k}: trading fees"
                assert total == self.wallet0[(fid, q)] + realized, f"{fid}/{q}: wallet money not conserved"
                cp = pnl["followers"][fid][q]
                sleeves_cash = sum((self.scash[(fid, s)] for s in cb["sleeves"]), ZERO)
                assert D(cp["total_coins"]) == D(cb["cash"]) + sleeves_cash
                assert D(cp["core_cash"]) == D(cb["cash"])
                assert D(cp["returned"]) == sum((self.sreturned[(fid, s)] for s in cb["sleeves"]), ZERO)


def check_home(root: Path, files: dict[str, Any], *, rejects_ok: bool = False) -> LogBooks:
    """Rebuild and check the books of a home written from `files`, after its cycles."""
    books = LogBooks(files).run(read_log(root))
    books.check_final(root)
    if not rejects_ok:
        assert books.rejects == [], f"the broker rejected orders vanta sized: {books.rejects[:3]}"
    return books
