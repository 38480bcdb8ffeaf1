"""Money conservation properties.

- vanta.money rounding: exact multiples of the step at the step's scale, on the right
  side of x, less than one step away.
- vanta.books: over random buy/sell sequences priced by the paper broker's
  price_fill, cash + open lot cost == initial cash + realized PnL exactly after every
  fill; cash never negative; lots add up to the position; a full close leaves no lots.
- vanta.brokers.paper.price_fill: slippage against the account, fees >= 0, the cash
  formula, and a reject instead of an overdraft or an oversell.
- vanta.stages.targets.weights: long-only, capped, summing to at most 1, on the
  1e-6 grid.
- The trade-log chain: commit.chain output passes verify.check_log, and any one-byte
  edit inside a line's data is reported.
- The mirror stage, over real cycles of small synthetic homes whose followers have a
  Core Vault split into sleeves of every mode (tests/logbooks.py rebuilds the books from
  the trade log and checks each event): every child order is within what its sleeve's
  mode allows (proportional / scaled_trades: vault qty x sleeve equity / vault NAV x
  scale; fixed_ratio: vault qty x ratio; fixed_amount: amount / price; UOP/TOP sells;
  target modes move toward their weights), sells never exceed the sleeve's holding,
  caps and kill switches hold, vault and child orders are funded (no broker reject),
  sleeves never go negative, and money is conserved: for each follower wallet (a Core
  Vault and its sleeves) and each sleeve, cash + cost of open lots changes only by the
  realized PnL of its own fills, allocation moves to or from its own Core Vault, and
  its own Flash sweeps, which create or lose nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanta import canonical
from vanta.books import apply_fill, apply_fills, fill_price, qty_of
from vanta.brokers.paper import Slot, price_fill
from vanta.home import GENESIS
from vanta.models import Account, Execution, Fill, Market, Order
from vanta.money import BPS, CONTEXT, CURRENCY_SCALE, ONE, WEIGHT_STEP, cash_step, ceil, down, floor, half_even
from vanta.stages.commit import chain
from vanta.stages.targets import weights
from vanta.verify import check_log

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=200,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def dec(n: int, exp: int) -> Decimal:
    return Decimal(n).scaleb(exp)


def is_multiple(x: Decimal, step: Decimal) -> bool:
    return (Fraction(x) / Fraction(step)).denominator == 1


# ---------------------------------------------------------------- vanta.money

amounts = st.builds(dec, st.integers(-(10**15), 10**15), st.integers(-10, 3))
steps = st.one_of(
    st.builds(dec, st.sampled_from([1, 2, 5, 25, 3, 7, 10, 100]), st.integers(-8, 1)),
    st.sampled_from([Decimal("0.01"), Decimal("0.0001"), Decimal("0.10"), Decimal("1E+1"), Decimal("0.05")]),
)
contexts = st.sampled_from(["default", "money.CONTEXT"])


def _ctx(name: str) -> Any:
    return localcontext(CONTEXT) if name == "money.CONTEXT" else localcontext()


@SETTINGS
@given(amounts, steps, contexts)
def test_rounding_gives_multiples_of_step_at_its_scale(x: Decimal, step: Decimal, ctx: str) -> None:
    with _ctx(ctx):
        results = {"down": down(x, step), "floor": floor(x, step), "ceil": ceil(x, step),
                   "half_even": half_even(x, step)}
    for name, r in results.items():
        assert is_multiple(r, step), (name, x, step, r)
        assert r.as_tuple().exponent == step.as_tuple().exponent, (name, x, step, r)
        assert abs(Fraction(r) - Fraction(x)) < Fraction(step), (name, x, step, r)
    fx = Fraction(x)
    assert Fraction(results["floor"]) <= fx <= Fraction(results["ceil"])
    assert abs(Fraction(results["down"])) <= abs(fx)  # toward zero
    if x >= 0:
        assert results["down"] <= x
        assert results["down"] == results["floor"]
    else:
        assert results["down"] == results["ceil"]
    assert abs(Fraction(results["half_even"]) - fx) <= Fraction(step) / 2
    if is_multiple(x, step):
        assert all(r == x for r in results.values())


def test_down_never_exceeds_x_beyond_context_precision() -> None:
    x = Decimal("0.04" + "9" * 55)
    with localcontext(CONTEXT):
        r = down(x, Decimal("0.05"))
        f = floor(x, Decimal("0.05"))
    assert r <= x and f <= x


# ---------------------------------------------------------------- price_fill

currencies = st.sampled_from(sorted(CURRENCY_SCALE))
lots_ = st.sampled_from([Decimal("1"), Decimal("0.1"), Decimal("0.0001"), Decimal("0.5"), Decimal("0.25"),
                         Decimal("0.00000001"), Decimal("5")])
ticks = st.sampled_from([Decimal("0.01"), Decimal("0.05"), Decimal("0.0001"), Decimal("1"), Decimal("0.25"),
                         Decimal("0.5")])
bps = st.one_of(st.integers(0, 1000).map(Decimal), st.builds(dec, st.integers(0, 10000), st.just(-1)))
prices = st.builds(dec, st.integers(1, 10**8), st.sampled_from([-4, -2, 0]))


def _order(cid: str, side: str, qty: Decimal, price: Decimal, symbol: str = "SYM") -> Order:
    return Order(client_order_id=cid, cycle=1, vault_id="V", account="follower:F", symbol=symbol,
                 side=side, qty=qty, price=price)


@st.composite
def priced_orders(draw: st.DrawFn) -> tuple[Order, Execution, Market, str, Decimal, Decimal]:
    currency = draw(currencies)
    step = cash_step(currency)
    market = Market(quote=currency, lot_size=draw(lots_), tick_size=draw(ticks))
    ex = Execution(slippage_bps=draw(bps), fee_bps=draw(bps))
    qty = market.lot_size * draw(st.integers(1, 10**6))
    order = _order("c", draw(st.sampled_from(["buy", "sell"])), qty, draw(prices))
    cash = step * draw(st.integers(0, 10**12))
    held = market.lot_size * draw(st.integers(0, 2 * 10**6))
    return order, ex, market, currency, cash, held


@SETTINGS
@given(priced_orders())
def test_price_fill(case: tuple[Order, Execution, Market, str, Decimal, Decimal]) -> None:
    order, ex, market, currency, cash, held = case
    step = cash_step(currency)
    with localcontext(CONTEXT):
        f = price_fill(order, ex, market, currency, cash, held)
        slip = ex.slippage_bps / BPS
        if order.side == "buy":
            px = ceil(order.price * (ONE + slip), market.tick_size)
            notional = ceil(order.qty * px, step)
        else:
            px = floor(order.price * (ONE - slip), market.tick_size)
            notional = floor(order.qty * px, step)
        fee = ceil(notional * ex.fee_bps / BPS, step)
    assert f.client_order_id == order.client_order_id
    assert f.fee >= 0 and f.qty >= 0 and f.price >= 0
    # The broker writes a fill's line with its slot's price text made once: the fill's canonical line.
    line = Slot(order.side, order.price, ex, market, currency).answer(order, cash, held)[1]
    assert line == canonical.dumps_line_trusted(f)
    assert is_multiple(f.fee, step) and is_multiple(f.cash, step)
    if order.side == "buy":
        needed = notional + fee
        if needed > cash:
            assert f.status == "rejected"
        else:
            assert f.status == "filled"
            assert f.price >= order.price  # slippage never favours the account
            assert f.price == px and is_multiple(f.price, market.tick_size)
            assert str(f.fee) == str(fee)  # to the digit: books.CashMove's rounding is money.ceil's
            assert str(f.cash) == str(-(ceil(f.qty * f.price, step) + f.fee))
            assert cash + f.cash >= 0
    else:
        if order.qty > held or px <= 0:
            assert f.status == "rejected"  # nothing to deliver, or no price left after slippage
        else:
            assert f.status == "filled"
            assert f.price <= order.price
            assert f.price == px and is_multiple(f.price, market.tick_size)
            assert str(f.fee) == str(fee)
            assert str(f.cash) == str(floor(f.qty * f.price, step) - f.fee)
            assert f.cash >= 0  # a sale never costs more in fees than it brings in
    if f.status == "filled":
        assert f.qty == order.qty
        assert f.reason is None
        # the fill is a valid model: it survives validation and canonical writing
        assert Fill.model_validate(f.to_json()) == f
    else:
        assert f.qty == 0 and f.cash == 0 and f.fee == 0
        assert f.reason


# ---------------------------------------------------------------- books: FIFO lots


@st.composite
def trading_runs(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(currencies)
    market = Market(quote=currency, lot_size=draw(lots_), tick_size=draw(ticks))
    ex = Execution(slippage_bps=draw(bps), fee_bps=draw(bps))
    cash0 = cash_step(currency) * draw(st.integers(0, 10**11))
    n = draw(st.integers(1, 25))
    moves = draw(st.lists(st.tuples(
        st.sampled_from(["buy", "buy", "sell"]),
        st.integers(0, 6).flatmap(lambda k: st.integers(1, 10**k)),  # quantity in lots
        prices,
    ), min_size=n, max_size=n))
    return {"currency": currency, "market": market, "ex": ex, "cash0": cash0, "moves": moves,
            "close_price": draw(prices)}


def _check_books(acct: Account, currency: str, cash0: Decimal, realized: Decimal, held: Decimal) -> None:
    step = cash_step(currency)
    cash = acct.cash[currency]
    lots = acct.positions.get("SYM", ())
    assert cash >= 0
    # conservation, exactly: nothing is created or lost by rounding
    assert cash + sum((c for _, c in lots), Decimal(0)) == cash0 + realized
    assert qty_of(lots) == held
    assert ("SYM" in acct.positions) == (held > 0)
    for q, c in lots:
        assert q > 0
        assert c >= 0
        assert is_multiple(c, step)


@SETTINGS
@given(trading_runs())
def test_books_conserve_money_over_random_trading(run: dict[str, Any]) -> None:
    currency, market, ex, cash0 = run["currency"], run["market"], run["ex"], run["cash0"]
    acct = Account(cash={currency: cash0})
    realized = Decimal(0)
    held = Decimal(0)
    booked: list[tuple[Order, Fill]] = []
    with localcontext(CONTEXT):
        for i, (side, lots, price) in enumerate(run["moves"]):
            qty = market.lot_size * lots
            if side == "sell":
                if held == 0:
                    continue
                qty = min(qty, held)  # sells never more than held
            order = _order(f"c{i:03d}", side, qty, price)
            f = price_fill(order, ex, market, currency, acct.cash[currency], held)
            if f.status == "rejected":
                # only a buy the cash cannot pay for, or a sale left with no price after slippage
                assert side == "buy" or fill_price("sell", price, ex, market) <= 0, f.reason
                continue
            acct, r = apply_fill(acct, order, f, currency)
            booked.append((order, f))
            if side == "buy":
                assert r == 0
                held += f.qty
            else:
                held -= f.qty
            realized += r
            _check_books(acct, currency, cash0, realized, held)

        # the batch form books the same sequence to the same account
        batch, pnls = apply_fills(Account(cash={currency: cash0}), booked, currency)
        assert batch == acct
        assert sum(pnls, Decimal(0)) == realized

        # a full close leaves no lots, and realizes proceeds minus everything paid
        if held > 0:
            cost_before = sum((c for _, c in acct.positions["SYM"]), Decimal(0))
            order = _order("zclose", "sell", held, run["close_price"])
            f = price_fill(order, ex, market, currency, acct.cash[currency], held)
            assert f.status == "filled" or fill_price("sell", run["close_price"], ex, market) <= 0
        if held > 0 and f.status == "filled":
            acct, r = apply_fill(acct, order, f, currency)
            assert "SYM" not in acct.positions
            assert r == f.cash - cost_before
            realized += r
            held = Decimal(0)
            _check_books(acct, currency, cash0, realized, held)
        if "SYM" not in acct.positions:  # flat: every unit of cash is accounted for by realized PnL
            assert acct.cash[currency] == cash0 + realized


@SETTINGS
@given(trading_runs())
def test_books_refuse_oversell_and_overdraft(run: dict[str, Any]) -> None:
    """Fills the broker would never give are refused by the books, not booked."""
    currency, market, ex = run["currency"], run["market"], run["ex"]
    step = cash_step(currency)
    acct = Account(cash={currency: run["cash0"]})
    _, lots, price = run["moves"][0]
    qty = market.lot_size * lots
    with localcontext(CONTEXT):
        sell = _order("s", "sell", qty, price)
        f = price_fill(sell, ex, market, currency, acct.cash[currency], Decimal(0))
        assert f.status == "rejected"
        fake = Fill(client_order_id="s", status="filled", qty=qty, price=price, fee=Decimal(0), cash=Decimal(0))
        with pytest.raises(ValueError):
            apply_fill(acct, sell, fake, currency)
        buy = _order("b", "buy", qty, price)
        too_much = -(acct.cash[currency] + step)
        fake = Fill(client_order_id="b", status="filled", qty=qty, price=price, fee=Decimal(0), cash=too_much)
        with pytest.raises(ValueError):
            apply_fill(acct, buy, fake, currency)


# ---------------------------------------------------------------- targets.weights

convictions = st.builds(dec, st.integers(-(10**8), 10**8), st.just(-8))  # [-1, 1], up to 8 places
syms = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=4)
caps_on_grid = st.integers(1, 10**6).map(lambda n: n * WEIGHT_STEP)
caps_any = st.builds(dec, st.integers(1, 10**8), st.just(-8))  # (0, 1], up to 8 places


def _check_weights(scores: dict[str, Decimal], cap: Decimal) -> None:
    with localcontext(CONTEXT):
        w = weights(scores, cap)
    assert set(w) <= set(scores)
    for s, c in scores.items():
        if c <= 0:
            assert w.get(s, 0) == 0, (s, c, w)  # negative or zero conviction holds nothing
    for s, x in w.items():
        assert 0 <= x <= cap, (s, x)
        assert is_multiple(x, WEIGHT_STEP), (s, x)
    assert sum(w.values(), Decimal(0)) <= 1
    # more conviction never gets less weight
    pos = sorted((c, w[s]) for s, c in scores.items() if c > 0)
    assert all(a[1] <= b[1] for a, b in pairwise(pos))


@SETTINGS
@given(st.dictionaries(syms, convictions, max_size=12), caps_on_grid)
def test_weights_with_cap_on_the_grid(scores: dict[str, Decimal], cap: Decimal) -> None:
    _check_weights(scores, cap)


@SETTINGS
@given(st.dictionaries(syms, convictions, max_size=12), caps_any)
def test_weights_any_cap(scores: dict[str, Decimal], cap: Decimal) -> None:
    _check_weights(scores, cap)


# ---------------------------------------------------------------- the trade-log chain

asofs = st.integers(0, 4 * 10**9).map(lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
event_decimals = st.one_of(st.builds(dec, st.integers(-(10**20), 10**20), st.integers(-12, 6)),
                           st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("1E+2")]))
event_leaves = st.one_of(st.text(max_size=12), st.integers(-(2**53), 2**53), event_decimals)
event_values = st.one_of(event_leaves, st.lists(event_leaves, max_size=3),
                         st.dictionaries(st.text(max_size=6), event_leaves, max_size=3))
events = st.tuples(st.text(min_size=1, max_size=12), st.dictionaries(st.text(max_size=8), event_values, max_size=5))


def _chain_cycles(batches: list[list[tuple[str, dict]]], asof_list: list[str]) -> tuple[bytes, int, str]:
    raw, seq, head = b"", 0, GENESIS
    for cycle, (batch, asof) in enumerate(zip(batches, asof_list, strict=True), 1):
        out, seq, head = chain(tuple(batch), cycle, asof, seq, head)
        raw += out
    return raw, seq, head


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[list[tuple[str, dict]]], list[str]]:
    batches = draw(st.lists(st.lists(events, min_size=1, max_size=4), min_size=1, max_size=3))
    return batches, sorted(draw(st.lists(asofs, min_size=len(batches), max_size=len(batches))))


def _data_span(line: bytes) -> tuple[int, int]:
    start = line.index(b'"data":') + len(b'"data":')
    return start, line.rindex(b',"hash":"')


@SETTINGS
@given(logs())
def test_chain_passes_check_log(log: tuple[list[list[tuple[str, dict]]], list[str]]) -> None:
    batches, asof_list = log
    raw, seq, head = _chain_cycles(batches, asof_list)
    problems, lines, last = check_log(raw)
    assert problems == []
    assert lines == seq == sum(len(b) for b in batches)
    assert last == head
    assert check_log(io.BytesIO(raw)) == (problems, lines, last)  # as verify reads the file: a line at a time
    flat = [e for b in batches for e in b]
    prev = GENESIS
    for n, (line, (kind, data)) in enumerate(zip(raw.split(b"\n")[:-1], flat, strict=True), 1):
        rec = json.loads(line)
        assert rec["seq"] == n and rec["kind"] == kind and rec["prev"] == prev
        # data is the event's data in canonical form (Decimals as fixed-point strings)
        assert line[slice(*_data_span(line))] == canonical.dumps_line(data)[:-1]
        h = rec.pop("hash")
        assert h == hashlib.sha256(canonical.dumps_line(rec)[:-1]).hexdigest()
        prev = h


@SETTINGS
@given(logs(), st.data())
def test_check_log_reports_any_one_byte_edit_in_data(log: tuple[list[list[tuple[str, dict]]], list[str]],
                                                    data: st.DataObject) -> None:
    batches, asof_list = log
    raw, _, _ = _chain_cycles(batches, asof_list)
    lines = raw.split(b"\n")[:-1]
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    start, end = _data_span(lines[i])
    pos = data.draw(st.integers(start, end - 1), label="byte")
    old = lines[i][pos]
    new = data.draw(st.integers(0, 255).filter(lambda b: b != old), label="new byte")
    edited = bytearray(lines[i])
    edited[pos] = new
    lines[i] = bytes(edited)
    problems, _, _ = check_log(b"\n".join(lines) + b"\n")
    assert problems, f"edit of line {i + 1} byte {pos} ({chr(old)!r} -> {new:#04x}) not reported"
    assert check_log(io.BytesIO(b"\n".join(lines) + b"\n"))[0] == problems


def _two_line_log(data2: dict[str, Any]) -> list[bytes]:
    raw, _, _ = chain((("a", {"x": 1}), ("b", data2)), 1, "2026-11-21T00:00:00Z", 0, GENESIS)
    return raw.split(b"\n")[:-1]


@pytest.mark.parametrize("edit", [b"1.2", b"1e2"])
def test_check_log_reports_an_int_edited_into_a_fraction(edit: bytes) -> None:
    lines = _two_line_log({"x": 102})
    assert b'"x":102' in lines[1]
    lines[1] = lines[1].replace(b'"x":102', b'"x":' + edit)
    problems, _, _ = check_log(b"\n".join(lines) + b"\n")
    assert problems


def test_check_log_reports_a_non_canonical_edit() -> None:
    lines = _two_line_log({"x": "a\x1fb"})
    assert b"\\u001f" in lines[1]
    lines[1] = lines[1].replace(b"\\u001f", b"\\u001F")
    problems, _, _ = check_log(b"\n".join(lines) + b"\n")
    assert problems


# ---------------------------------------------------------------- the mirror stage, over real cycles

MODE_TERMS = {"fixed_ratio": {"ratio": "0.02"}, "fixed_amount": {"amount": "400"}}
MODES = ("proportional", "fixed_ratio", "fixed_amount", "target", "scaled_trades")


@st.composite
def sleeve_plans(draw: st.DrawFn) -> dict[str, Any]:
    """One follower's Core Vault: how much is tradeable, and its sleeves."""
    n = draw(st.integers(1, 2))
    sleeves = []
    for j in range(n):
        mode = draw(st.sampled_from(MODES))
        s: dict[str, Any] = {"sleeve_id": ["quiet", "flash"][j], "vault_id": "V_SYN", "mode": mode,
                             "profit": draw(st.sampled_from(["compound", "sweep"])),
                             "scale": draw(st.sampled_from(["0.25", "0.5", "1", "1.5", "3"])),
                             **MODE_TERMS.get(mode, {})}
        if draw(st.integers(0, 5)) == 0:
            s["paused"] = True
        if draw(st.booleans()):
            s["persona"] = draw(st.sampled_from(["risk_averse", "aggressive", "contrarian"]))
        sleeves.append(s)
    return {"sleeves": sleeves, "tradeable_pct": draw(st.sampled_from([None, "1", "0.75", "0.5"])),
            "split": draw(st.sampled_from(["0.5", "0.7", "0.9"])),
            "caps": draw(st.sampled_from([{}, {}, {"max_pos_usd": "3000"}, {"max_single_pos_pct": "0.2"},
                                          {"max_leverage": "0.5"}, {"block": ["S001"]}, {"allow": ["S000", "S002"]}]))}


def _home_files(followers: int, symbols: int, seed: int, killed: set[int], off: set[int],
                plans: list[dict[str, Any]], vault_opts: dict[str, Any] | None = None) -> dict[str, Any]:
    """A synthetic home whose followers each have a USD Core Vault split into sleeves."""
    from vanta.init import synthetic_files

    files = synthetic_files(followers, symbols, seed)
    v = files["vault.json"]["vaults"][0]
    # signals that move every bar from cycle 2 on, so every cycle trades
    v["strategy"] = {"kind": "momentum", "lookback": 1, "full_scale": "0.01"}
    v["personas"] = ["risk_averse", "aggressive", "contrarian"]
    v["mirroring"].update(vault_opts or {})
    port = files["portfolio.json"]["followers"]
    for i, f in enumerate(files["mirror_registry.json"]["followers"]):
        plan = plans[i % len(plans)]
        f["kill_switch"] = i in killed
        if i in off:
            f["status"] = "offboarded"
        f["caps"] = plan["caps"]
        total = Decimal(port[f["follower_id"]]["USD"]["cash"])
        core = f["cores"][0]
        core["sleeves"] = [dict(s) for s in plan["sleeves"]]
        if plan["tradeable_pct"] is not None or len(core["sleeves"]) > 1:
            tradeable = down(total * Decimal(plan["tradeable_pct"] or "1"), Decimal("0.01"))
            core["tradeable"] = str(tradeable)
            first = down(tradeable * Decimal(plan["split"] if len(core["sleeves"]) > 1 else "1"), Decimal("0.01"))
            core["sleeves"][0]["allocation"] = str(first)
            if len(core["sleeves"]) > 1:
                core["sleeves"][1]["allocation"] = str(tradeable - first)
    return files


def _run_cycles(root: Path, files: dict[str, Any], cycles: int) -> None:
    from vanta.cycle import run_cycle
    from vanta.home import Home
    from vanta.init import write_home

    write_home(root, files, force=False)
    for c in range(1, cycles + 1):
        run_cycle(Home(root), f"2026-11-{c:02d}T00:00:00Z")


def _check_mirror_log(root: Path, files: dict[str, Any]) -> Any:
    """Replay the committed trade log against books rebuilt from its own events."""
    from logbooks import check_home

    from vanta.home import Home
    from vanta.verify import verify

    raw = (root / "memory" / "trade_log.jsonl").read_bytes()
    assert check_log(raw)[0] == []
    assert verify(Home(root))[0] == []
    # the *_trusted writers rely on events and models never holding a float
    for path in sorted((root / "memory").iterdir()):
        docs = path.read_bytes().split(b"\n")[:-1] if path.suffix == ".jsonl" else [path.read_bytes()]
        for doc in docs:
            json.loads(doc, parse_float=lambda s, p=path: pytest.fail(f"{p.name}: number {s} written"))
    # and the independent audit (tests/money_audit.py): every book rebuilt to the minor unit
    from money_audit import Audit, read_lines

    Audit({n: files[n] for n in ("portfolio.json", "pnl_summary.json", "vault.json", "mirror_registry.json")}
          ).run(read_lines(root / "memory" / "trade_log.jsonl")).check(root)
    return check_home(root, files)


@settings(derandomize=True, database=None, deadline=None, max_examples=10,
          suppress_health_check=[HealthCheck.too_slow])
@given(followers=st.integers(1, 12), symbols=st.integers(1, 5), seed=st.integers(0, 10**6),
       cycles=st.integers(3, 4), data=st.data())
def test_mirror_children_within_their_modes_and_money_conserved(followers: int, symbols: int, seed: int,
                                                                cycles: int, data: st.DataObject) -> None:
    killed = data.draw(st.sets(st.integers(0, followers - 1), max_size=max(1, followers // 3)), label="killed")
    off = data.draw(st.sets(st.integers(0, followers - 1), max_size=1), label="offboarded")
    plans = data.draw(st.lists(sleeve_plans(), min_size=1, max_size=4), label="plans")
    opts = data.draw(st.fixed_dictionaries({"small_orders": st.sampled_from(["skip", "accumulate"]),
                                            "drift_threshold": st.sampled_from([None, "0.05", "0.3"])}),
                     label="mirroring")
    files = _home_files(followers, symbols, seed, killed, off, plans, opts)
    from logbooks import check_home

    from vanta.cycle import run_cycle
    from vanta.home import Home

    with tempfile.TemporaryDirectory() as d:
        _run_cycles(Path(d), files, 1)
        for c in range(2, cycles + 1):
            check_home(Path(d), files)  # money conserved after every cycle, not just the last
            run_cycle(Home(Path(d)), f"2026-11-{c:02d}T00:00:00Z")
        books = _check_mirror_log(Path(d), files)
    if killed - off:
        assert books.counts["follower_skipped:follower_kill_switch"] > 0 or books.counts["vault_order"] == 0


def _plan(*sleeves: dict[str, Any], caps: dict[str, Any] | None = None, tradeable: str | None = "0.8",
          split: str = "0.6") -> dict[str, Any]:
    return {"sleeves": list(sleeves), "tradeable_pct": tradeable, "split": split, "caps": caps or {}}


def _s(sid: str, mode: str, **extra: Any) -> dict[str, Any]:
    return {"sleeve_id": sid, "vault_id": "V_SYN", "mode": mode, **MODE_TERMS.get(mode, {}), **extra}


def test_mirror_property_is_not_vacuous(tmp_path: Path) -> None:
    """One fixed home where every kind of event the property checks does occur."""
    plans = [
        _plan(_s("quiet", "proportional", scale="0.5"), _s("flash", "scaled_trades", profit="sweep")),
        _plan(_s("quiet", "fixed_ratio"), _s("flash", "fixed_amount", profit="sweep"), caps={"max_pos_usd": "3000"}),
        _plan(_s("main", "target", persona="risk_averse"), tradeable=None),
        _plan(_s("quiet", "proportional", scale="3"), _s("flash", "proportional", persona="aggressive")),
    ]
    files = _home_files(12, 4, 7, killed={1, 5}, off={3}, plans=plans)
    _run_cycles(tmp_path, files, 6)
    c = _check_mirror_log(tmp_path, files).counts
    assert c["vault_order"] > 0 and c["child_order"] > 0 and c["follower_fill"] > 0
    assert c["follower_skipped:follower_kill_switch"] > 0
    for mode in MODES:
        assert c[f"child_order:{mode}:buy"] > 0, mode
    assert c["vault_order:sell"] > 0 and c["child_order:mirror"] > 0 and c["child_order:persona"] > 0
    assert c["allocation_moves"] > 0 and c["toward_target"] > 0
    assert sum(c[f"child_order:{m}:sell"] for m in MODES) > 0


def test_flash_sweeps_move_profit_without_creating_or_losing_money(tmp_path: Path) -> None:
    """One symbol, so the vault's full closes flatten the Flash sleeves: each sweep
    moves exactly the sleeve's cash above its allocation to its Core Vault."""
    plans = [_plan(_s("quiet", "proportional"), _s("flash", "scaled_trades", profit="sweep"))]
    files = _home_files(2, 1, 14, killed=set(), off=set(), plans=plans)
    _run_cycles(tmp_path, files, 6)
    books = _check_mirror_log(tmp_path, files)
    assert books.counts["flash_sweep"] > 0 and books.counts["full_close"] > 0
    swept = sum(books.swept.values(), Decimal(0))
    assert swept > 0
    port = json.loads((tmp_path / "memory" / "portfolio.json").read_bytes())
    for fid, cores in port["followers"].items():
        flash = cores["USD"]["sleeves"]["flash"]
        assert Decimal(flash["returned"]) == books.swept[(fid, "flash")]
        if not flash["positions"]:
            assert Decimal(flash["cash"]["USD"]) <= Decimal(flash["allocated"])


def test_mirror_on_the_example_home(tmp_path: Path) -> None:
    from vanta.init import example_files

    files = example_files()
    _run_cycles(tmp_path, files, 5)
    c = _check_mirror_log(tmp_path, files).counts
    assert c["child_order"] > 0 and c["follower_skipped:follower_kill_switch"] > 0  # F_2002's kill switch is on
    assert c["child_order:target"] > 0 and c["child_order:persona"] > 0 and c["child_order:mirror"] > 0


@pytest.mark.parametrize("band", ["0", "0.01"])
@pytest.mark.parametrize("seed", [5, 6, 8])
def test_vault_model_orders_are_funded(tmp_path: Path, seed: int, band: str) -> None:
    files = _home_files(1, 6, seed, killed=set(), off=set(), plans=[_plan(_s("main", "proportional"), tradeable=None)])
    v = files["vault.json"]["vaults"][0]
    v["risk"] = {"max_drawdown": "0.2", "max_single_pos_pct": "0.5", "rebalance_band": band}
    v["execution"] = {"adapter": "paper", "slippage_bps": "5", "fee_bps": "10"}
    _run_cycles(tmp_path, files, 4)
    raw = (tmp_path / "memory" / "trade_log.jsonl").read_bytes()
    recs = [json.loads(line) for line in raw.split(b"\n")[:-1]]
    assert [r for r in recs if r["kind"] == "vault_order"], "the vault never traded"
    assert [r["data"] for r in recs if r["kind"] == "reject"] == []


@pytest.mark.parametrize("tail", [b"", b'{"asof":', b"not json"])
def test_check_log_reports_a_torn_or_broken_last_line(tail: bytes) -> None:
    raw = b"\n".join(_two_line_log({"x": 1})) + b"\n" + tail
    problems, lines, _ = check_log(io.BytesIO(raw))
    assert lines == 2
    assert bool(problems) == bool(tail), problems
    if tail:
        assert problems[-1] == "memory/trade_log.jsonl: last line is incomplete"


def test_check_log_tells_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    from vanta import verify as verify_mod

    monkeypatch.setattr(verify_mod, "_PROGRESS_EVERY", 100)
    raw, _, _ = chain([("a", {"x": "y" * 150})] * 5, 1, "2026-11-21T00:00:00Z", 0, GENESIS)
    told: list[str] = []
    assert check_log(raw, None, told.append)[0] == []
    assert len(told) == 5 and told[-1].endswith("5 lines checked"), told
