"""ccxt exchange objects as vanta uses them, and their market metadata in vanta's terms.

The only module besides ccxt_broker that imports ccxt, and only inside functions:
`vanta --help` and every paper cycle start without it.

- `make_exchange`: an async ccxt exchange with rate limiting on, Decimal numbers,
  the account's key set, and the sandbox/testnet where ccxt has one (a clear error
  where it has none: kraken spot and coinbase advanced trade, for two).
- `CLIENT_ID_PARAM` / `native_client_id`: the client order id in each exchange's own
  parameter. coinbase ignores ccxt's unified `clientOrderId` and makes up its own, so
  vanta always sends the native name.
- `to_market`: lot size, tick, min notional of a ccxt market, for the mirror stage's rounding.
- `use_transport`: route an exchange's HTTP through a function (offline tests, the stub venue).
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from vanta.brokers.errors import Unsupported
from vanta.brokers.secrets import KeySet
from vanta.models import Market
from vanta.money import CURRENCY_SCALE

CLIENT_ID_PARAM: dict[str, str] = {
    "binance": "newClientOrderId",  # spot /api/v3/order; ccxt would add its broker prefix to a unified id
    "kraken": "cl_ord_id",  # AddOrder; ccxt maps the unified name too, the native one is explicit
    "coinbase": "client_order_id",  # ccxt drops `clientOrderId` and sends ccxt-<uuid4> instead
    "alpaca": "client_order_id",  # POST /v2/orders
}

# ccxt 4.5 lists urls["test"] = None for these two, so its set_sandbox_mode would not refuse:
# it would leave the exchange without an API URL. vanta refuses first, with the way out.
NO_SANDBOX: dict[str, str] = {
    "kraken": "kraken has no spot sandbox (ccxt knows none); trade a live account with small sizes, "
              "or keep the follower on the paper adapter",
    "coinbase": "coinbase advanced trade has no sandbox in ccxt; trade a live account with small sizes, "
                "or keep the follower on the paper adapter",
}


def native_client_id(exchange_id: str, client_order_id: str) -> str:
    """The id vanta sends for `client_order_id` on this exchange (a pure function of it,
    so a lookup after a crash asks for the same id). kraken's cl_ord_id takes a UUID or
    at most 18 characters, so vanta's 32-character id becomes a UUID derived from it."""
    if exchange_id == "kraken":
        return str(uuid.UUID(bytes=hashlib.blake2b(client_order_id.encode(), digest_size=16).digest()))
    return client_order_id


# ccxt's safe_string family reads str, int and float only ("# or t is Decimal" in its
# source): with `number = Decimal`, a number ccxt parsed once (a fee) reads as missing
# the second time. The three hot readers (about 100 calls per order) are ccxt's own
# code with the Decimal case added, so a call costs one frame, not a wrapper and the
# original; the rare case-changing ones get a wrapper that hands ccxt fixed-point text.
# safe_integer and safe_float need nothing: float(Decimal) already works.


def _safe_string(d: Any, key: Any, default: Any = None) -> Any:
    try:
        v = d[key]
    except Exception:  # noqa: BLE001  # ccxt's rule: whatever cannot be indexed reads as missing
        return default
    return _text(v, default) if v != "" else default


def _text(v: Any, default: Any) -> Any:
    """A value as ccxt's string readers give it: text, numbers (a Decimal too) as text."""
    t = type(v)
    if t is str:
        return v
    if t is int or t is float:
        return str(v)
    if t is Decimal:
        return format(v, "f")
    return default


def _safe_string_2(d: Any, k1: Any, k2: Any, default: Any = None) -> Any:
    v = _safe_string(d, k1)
    return v if v is not None else _safe_string(d, k2, default)


def _first_value(d: Any, keys: Any) -> Any:
    """ccxt's get_object_value_from_key_list: the first value neither None nor ''."""
    if isinstance(d, dict):
        for k in keys:
            v = d.get(k)
            if v is not None and v != "":
                return v
    elif isinstance(d, list):
        for k in keys:
            if isinstance(k, int) and 0 <= k < len(d) and d[k] is not None and d[k] != "":
                return d[k]
    return None


def _safe_string_n(d: Any, keys: Any, default: Any = None) -> Any:
    return _text(_first_value(d, keys), default)


_CASED = {"safe_string_lower": 1, "safe_string_lower_2": 2, "safe_string_lower_n": 0,
          "safe_string_upper": 1, "safe_string_upper_2": 2, "safe_string_upper_n": 0}


def _decimal_aware(orig: Callable[..., Any], nkeys: int) -> Callable[..., Any]:
    """`orig` (a case-changing reader) with Decimals under the keys given to it as text."""
    def read(d: Any, keys: Any, *rest: Any) -> Any:
        ks = [keys, *rest[:nkeys - 1]] if nkeys else [k for k in keys if type(k) is str]
        if type(d) is dict and any(type(d.get(k)) is Decimal for k in ks):
            d = {**d, **{k: format(d[k], "f") for k in ks if type(d.get(k)) is Decimal}}
        return orig(d, keys, *rest)

    return read


def decimal_numbers(ex: Any) -> None:
    """`ex.number = Decimal`, with ccxt's readers taught to read the Decimals back."""
    ex.number = Decimal
    ex.safe_string, ex.safe_string_2, ex.safe_string_n = _safe_string, _safe_string_2, _safe_string_n
    for name, nkeys in _CASED.items():
        setattr(ex, name, _decimal_aware(getattr(ex, name), nkeys))


_TEMPLATES: dict[tuple[str, bool, int], tuple[Any, Any]] = {}


def make_exchange(exchange_id: str, keys: KeySet | None, sandbox: bool,
                  markets: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None) -> Any:
    """An async ccxt exchange (ccxt.async_support), rate limiting on, Decimal numbers.

    Building a ccxt exchange costs milliseconds (its whole API description is merged);
    a cycle needs one per account, so accounts of one exchange are cloned from a
    template with their own keys, options, rate limiter and HTTP session."""
    if options:
        return _build(exchange_id, keys, sandbox, markets, options)
    key = (exchange_id, sandbox, id(markets))
    if key not in _TEMPLATES:  # the markets object is kept with its template, so its id stays its own
        _TEMPLATES[key] = (markets, _build(exchange_id, None, sandbox, markets, None))
    return _clone(_TEMPLATES[key][1], keys)


def _clone(template: Any, keys: KeySet | None) -> Any:
    ex = copy.copy(template)
    ex.options = dict(template.options)  # ccxt sets flags in its options at run time (top level)
    ex.init_throttler()  # each account has its own rate limit
    ex.session = None
    ex.own_session = True
    ex.ssl_context = None
    ex.tcp_connector = None
    ex.last_http_response = None
    ex.apiKey = keys.api_key if keys else ""
    ex.secret = keys.secret if keys else ""
    ex.password = (keys.password or "") if keys else ""
    return ex


def _build(exchange_id: str, keys: KeySet | None, sandbox: bool,
           markets: Mapping[str, Any] | None, options: Mapping[str, Any] | None) -> Any:
    import ccxt.async_support as ccxt_async  # the adapter edge: nowhere else

    if exchange_id not in CLIENT_ID_PARAM:
        raise Unsupported(f"exchange {exchange_id!r} is not supported; use one of {', '.join(CLIENT_ID_PARAM)}")
    config: dict[str, Any] = {"enableRateLimit": True, "options": dict(options or {})}
    if keys is not None:
        config.update(keys.ccxt_config())
    ex = getattr(ccxt_async, exchange_id)(config)
    decimal_numbers(ex)
    if sandbox:
        if exchange_id in NO_SANDBOX:
            raise Unsupported(NO_SANDBOX[exchange_id])
        try:
            ex.set_sandbox_mode(True)
        except ccxt_async.NotSupported as exc:
            raise Unsupported(f"{exchange_id} has no sandbox in ccxt {ccxt_async.__version__}: {exc}; "
                              "drop ':sandbox' from the account_ref to trade live") from None
    if markets is not None:
        ex.set_markets(dict(markets))
    return ex


Transport = Callable[[str, str, Mapping[str, Any], str | None], Awaitable[tuple[int, str]]]
"""(url, method, headers, body) -> (HTTP status, body text)."""


def use_transport(ex: Any, transport: Transport) -> None:
    """Answer every HTTP call of `ex` from `transport`, through ccxt's own error
    handling (so an exchange's error answer raises the ccxt exception it maps to)."""

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        status, text = await transport(url, method, headers or {}, body)
        try:
            parsed = ex.on_json_response(text) if text else None
        except ValueError:
            parsed = None
        ex.last_http_response = text
        ex.handle_errors(status, "", url, method, {}, text, parsed, headers, body)
        if status >= 400:
            ex.handle_http_status_code(status, "", url, method, text)
            import ccxt.async_support as ccxt_async

            raise ccxt_async.ExchangeError(f"{ex.id} {method} {url} {status} {text}")
        return parsed if parsed is not None else text

    ex.fetch = fetch


def _step(value: Any, mode: int) -> Decimal | None:
    """A precision value as a step: ccxt's TICK_SIZE mode gives the step, DECIMAL_PLACES
    mode (2) a digit count."""
    if value is None:
        return None
    d = Decimal(str(value))
    return Decimal(1).scaleb(-int(d)) if mode == 2 else d


def to_market(m: Mapping[str, Any], precision_mode: int = 4, price: Decimal | None = None) -> Market | None:
    """vanta's rounding rules for a ccxt spot market; None where vanta cannot trade it
    (not spot, an unknown quote currency, or no precision)."""
    if not m.get("spot", True) or m.get("quote") not in CURRENCY_SCALE:
        return None
    prec = m.get("precision") or {}
    lot, tick = _step(prec.get("amount"), precision_mode), _step(prec.get("price"), precision_mode)
    if lot is None or tick is None or lot <= 0 or tick <= 0:
        return None
    limits = m.get("limits") or {}
    min_cost = (limits.get("cost") or {}).get("min")
    min_amount = (limits.get("amount") or {}).get("min")
    floor = Decimal(str(min_cost)) if min_cost is not None else Decimal(0)
    if min_amount is not None and price is not None:
        # vanta has no minimum quantity: a minimum amount becomes its worth at this price.
        floor = max(floor, Decimal(str(min_amount)) * price)
    return Market.make(quote=m["quote"], lot_size=lot.normalize(), tick_size=tick.normalize(),
                       min_notional=floor.normalize() if floor else Decimal(0))


def to_markets(markets: Mapping[str, Mapping[str, Any]], symbols: list[str], precision_mode: int = 4,
               prices: Mapping[str, Decimal] | None = None) -> dict[str, Market]:
    """vanta Markets for `symbols`; raises Unsupported naming a symbol vanta cannot trade."""
    out: dict[str, Market] = {}
    for s in symbols:
        m = markets.get(s)
        conv = None if m is None else to_market(m, precision_mode, (prices or {}).get(s))
        if conv is None:
            raise Unsupported(f"market {s} is not a spot market with a known quote currency and precision "
                              "on this exchange; remove it from the vault's universe")
        out[s] = conv
    return out
