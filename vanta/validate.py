"""Reading and validating memory files: the bad-input edge.

Every failure becomes an InputError naming the file, the JSON path, what was
expected, what was found, and the fix. Cross-file checks (a follower of a vault
that does not exist, a symbol with no market) are here too, so a cycle never
starts on inconsistent state.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

from pydantic import ValidationError

from vanta import canonical
from vanta.canonical import fmt_decimal
from vanta.errors import InputError
from vanta.models import (
    MEMORY_FILES,
    Account,
    ConvictionFile,
    CoreBook,
    Follower,
    Model,
    PortfolioFile,
    RegistryFile,
    Sleeve,
    Vault,
    VaultFile,
)
from vanta.money import CURRENCY_SCALE, ZERO, cash_step

M = TypeVar("M", bound=Model)

_FIXES = {
    "extra_forbidden": "remove the field, or check its spelling against schemas/",
    "missing": "add the field",
    "literal_error": "use one of the allowed values",
    "greater_than_equal": "use a value in the allowed range",
    "less_than_equal": "use a value in the allowed range",
    "greater_than": "use a value in the allowed range",
    "less_than": "use a value in the allowed range",
    "decimal_parsing": 'write a decimal number, such as 0.12 or "0.12"',
    "decimal_type": 'write a decimal number, such as 0.12 or "0.12"',
    "finite_number": 'write a finite decimal number, such as "0.12"',
    "string_pattern_mismatch": "use the documented format (see schemas/)",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
}
# Pydantic's wording where it names Python types rather than JSON ones.
_PROBLEMS = {
    "tuple_type": "expected a JSON array",
    "list_type": "expected a JSON array",
    "dict_type": "expected a JSON object",
    "model_type": "expected a JSON object",
    "model_attributes_type": "expected a JSON object",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
}


def json_path(loc: tuple[Any, ...]) -> str:
    """A JSON pointer into the file; a dict key error points at the key's entry."""
    parts = [str(p) for p in loc if p != "[key]"]
    return "/" + "/".join(parts) if parts else "/"


def _describe(err: Any) -> tuple[str, str]:
    """(problem, fix) for one pydantic error."""
    kind = err["type"]
    value = err.get("input")
    found = str(value) if isinstance(value, Decimal) else repr(value)  # 1E+400, not Decimal('1E+400')
    if len(found) > 80:
        found = found[:77] + "..."
    if kind == "value_error":
        # Our own validators say "problem; fix".
        text = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        problem, _, fix = text.partition("; ")
        return f"{problem}, found {found}", fix or "correct the value (see schemas/)"
    msg = _PROBLEMS.get(kind, err["msg"].rstrip("."))
    if "[key]" in err["loc"]:
        msg = f"bad key: {msg}"
    problem = msg if kind == "missing" else f"{msg}, found {found}"
    return problem, _FIXES.get(kind, "correct the value (see schemas/ for the format)")


def parse(raw: bytes, model: type[M], file: str, vouched: bool = False) -> M:
    """`raw` as a `model`, or an InputError. `vouched`: the bytes are exactly what vanta
    last committed (see `canonical.loads_for_model`)."""
    data = canonical.loads_for_model(raw, file, vouched)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        problem, fix = _describe(errors[0])
        if len(errors) > 1:
            problem += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise InputError(file, json_path(tuple(errors[0]["loc"])), problem, fix) from None


def parse_memory(raw: Mapping[str, bytes], vouched: Collection[str], prefix: str = "memory/") -> dict[str, Model]:
    """Every memory file as its model; `vouched`: the names whose bytes vanta last committed."""
    models = {name: parse(raw[name], model, prefix + name, name in vouched) for name, model in MEMORY_FILES.items()}
    if "portfolio.json" not in vouched:  # vanta's own books are at the minor unit: only an edited file is checked
        _check_minor_units(models["portfolio.json"], models["vault.json"], prefix + "portfolio.json")  # type: ignore[arg-type]
    return models


def _check_minor_units(port: PortfolioFile, vf: VaultFile, file: str) -> None:
    """Cash and lot costs are whole minor units (a cent no broker account holds would
    stay in the books, their PnL and fees for good)."""
    def check(amount: Decimal, currency: str | None, path: str) -> None:
        if currency not in CURRENCY_SCALE:
            return  # an unknown currency or symbol is reported by the model or cross_check
        step = cash_step(currency)
        if amount != amount.quantize(step, ROUND_DOWN):
            raise InputError(file, path, f"{currency} is counted in steps of {step}, found {fmt_decimal(amount)}",
                             f"round it to a multiple of {step}")

    def account(a: Account, at: str, quote: str | None) -> None:
        for ccy, amount in sorted(a.cash.items()):
            check(amount, ccy, f"{at}/cash/{ccy}")
        for sym, lots in sorted(a.positions.items()):
            mk = vf.markets.get(sym)
            for k, (_, cost) in enumerate(lots):
                check(cost, quote or (mk.quote if mk else None), f"{at}/positions/{sym}/{k}/1")

    for vid, acct in sorted(port.vaults.items()):
        account(acct, f"/vaults/{vid}", None)
    for fid, cores in sorted(port.followers.items()):
        for quote, core in sorted(cores.items()):
            check(core.cash, quote, f"/followers/{fid}/{quote}/cash")
            for sid, sb in sorted(core.sleeves.items()):
                account(sb, f"/followers/{fid}/{quote}/sleeves/{sid}", quote)


def cross_check(models: Mapping[str, Any], prefix: str = "memory/") -> None:
    """Consistency between files. Raises the first InputError found."""
    vaults = _check_vaults(models["vault.json"], models["portfolio.json"], prefix)
    _check_followers(models["mirror_registry.json"], vaults, models["portfolio.json"], prefix)
    _check_positions(models["portfolio.json"], models["vault.json"], prefix)
    _check_scores(models["conviction_score.json"], vaults, prefix)


def _check_vaults(vf: VaultFile, port: PortfolioFile, prefix: str) -> dict[str, Vault]:
    file = prefix + "vault.json"
    vaults = {v.vault_id: v for v in vf.vaults}
    if len(vaults) != len(vf.vaults):
        raise InputError(file, "/vaults", "two vaults share a vault_id", "give each vault its own id")
    for i, v in enumerate(vf.vaults):
        for j, sym in enumerate(v.universe):
            mk = vf.markets.get(sym)
            if mk is None:
                raise InputError(file, f"/vaults/{i}/universe/{j}", f"symbol {sym!r} has no entry in /markets",
                                 f"add /markets/{sym}")
            if mk.quote != v.base_currency:
                raise InputError(file, f"/markets/{sym}/quote",
                                 f"{sym} is quoted in {mk.quote} but vault {v.vault_id} trades in {v.base_currency}",
                                 f"remove {sym} from the vault's universe or quote it in {v.base_currency}")
        if v.vault_id not in port.vaults:
            raise InputError(prefix + "portfolio.json", "/vaults", f"vault {v.vault_id!r} has no model account",
                             f"add /vaults/{v.vault_id} with its cash")
    return vaults


def _check_followers(reg: RegistryFile, vaults: dict[str, Vault], port: PortfolioFile, prefix: str) -> None:
    file = prefix + "mirror_registry.json"
    seen = set()
    for i, f in enumerate(reg.followers):
        if f.follower_id in seen:
            raise InputError(file, f"/followers/{i}", f"follower {f.follower_id!r} appears twice",
                             "keep one entry per follower")
        seen.add(f.follower_id)
        books = port.followers.get(f.follower_id)
        if books is None:
            raise InputError(prefix + "portfolio.json", "/followers", f"follower {f.follower_id!r} has no account",
                             f"add /followers/{f.follower_id}")
        _check_orphans(f, books, prefix + "portfolio.json")
        for j, core in enumerate(f.cores):
            if core.quote not in books:
                raise InputError(prefix + "portfolio.json", f"/followers/{f.follower_id}",
                                 f"follower {f.follower_id!r} has no {core.quote} Core Vault books",
                                 f'add /followers/{f.follower_id}/{core.quote} with its "cash"')
            for k, sl in enumerate(core.sleeves):
                _check_sleeve(f.persona, sl, vaults, file, (i, j, k))


def _check_orphans(f: Follower, books: Mapping[str, CoreBook], file: str) -> None:
    """Books the registry no longer names would never trade again: refuse them."""
    named = {c.quote: {s.sleeve_id for s in c.sleeves} for c in f.cores}
    if all(quote in named and named[quote].issuperset(core.sleeves) for quote, core in books.items()):
        return  # every book is named (the common case, decided without sorting 10k followers' books)
    for quote, core in sorted(books.items()):
        for sid, sb in sorted(core.sleeves.items()):
            if sid not in named.get(quote, set()) and (sb.positions or any(v > 0 for v in sb.cash.values())):
                raise InputError(file, f"/followers/{f.follower_id}/{quote}/sleeves/{sid}",
                                 f"sleeve {sid!r} holds cash or positions but follower {f.follower_id} has no such "
                                 f"sleeve in its {quote} Core Vault in mirror_registry.json",
                                 "put the sleeve back in the registry (pause it to stop its buys) until it is empty")
        if quote not in named and (core.cash > 0 or core.sleeves):
            raise InputError(file, f"/followers/{f.follower_id}/{quote}",
                             f"a {quote} Core Vault holds coins but follower {f.follower_id} has no {quote} "
                             "Core Vault in mirror_registry.json", "put the Core Vault back in the registry")


def _check_sleeve(persona: str, sl: Sleeve, vaults: dict[str, Vault], file: str, at: tuple[int, int, int]) -> None:
    v = vaults.get(sl.vault_id)
    chosen = sl.persona or persona
    if v is not None and (chosen == "baseline" or chosen in v.personas):
        return
    where = "/followers/{}/cores/{}/sleeves/{}".format(*at)  # only for the error: 10k sleeves pass
    if v is None:
        raise InputError(file, f"{where}/vault_id", f"vault {sl.vault_id!r} is not in vault.json",
                         f"use one of {', '.join(sorted(vaults))}")
    offered = ", ".join(("baseline", *v.personas))
    raise InputError(file, f"{where}/persona" if sl.persona else where,
                     f"vault {v.vault_id} does not offer persona {chosen!r}",
                     f"choose one of {offered}, or add it to the vault's personas in vault.json")


def _accounts(port: PortfolioFile) -> Iterator[tuple[tuple[str, ...], Account]]:
    """Every account with its JSON path as parts (joined only for an error)."""
    for aid, a in port.vaults.items():
        yield ("vaults", aid), a
    for fid, cores in port.followers.items():
        for q, core in cores.items():
            for sid, sb in core.sleeves.items():
                yield ("followers", fid, q, "sleeves", sid), sb


def _check_positions(port: PortfolioFile, vf: VaultFile, prefix: str) -> None:
    file = prefix + "portfolio.json"
    markets = vf.markets.keys()
    # Every account at once first: 100k positions at 10k followers, nearly always all fine.
    books = [acct.positions for _, acct in _accounts(port)]
    if set().union(*books) <= markets and all(q > ZERO for p in books for lots in p.values() for q, _ in lots):
        return
    for at, acct in _accounts(port):
        for sym, lots in acct.positions.items():
            if sym not in markets:
                raise InputError(file, "/".join(("", *at, "positions", sym)),
                                 f"position in {sym!r}, which has no market in vault.json",
                                 f"add /markets/{sym} to vault.json")
            for k, (q, _) in enumerate(lots):
                if q <= ZERO:
                    raise InputError(file, "/".join(("", *at, "positions", sym, str(k), "0")),
                                     f"lot quantity must be positive, found {q}", "remove the empty lot")


def _check_scores(conv: ConvictionFile, vaults: dict[str, Vault], prefix: str) -> None:
    file = prefix + "conviction_score.json"
    for vid, per in conv.scores.items():
        if vid not in vaults:
            raise InputError(file, f"/scores/{vid}", f"vault {vid!r} is not in vault.json",
                             f"use one of {', '.join(sorted(vaults))}")
        for sym in per:
            if sym not in vaults[vid].universe:
                raise InputError(file, f"/scores/{vid}/{sym}", f"{sym!r} is not in vault {vid}'s universe",
                                 "add it to the universe in vault.json or remove the score")
