"""Cash and lot costs in portfolio.json are whole minor units of their currency: a hand-edited
file with a fraction of a cent is refused, naming the place; one with fewer digits is read as
written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import home_files, invoke

from vanta.errors import InputError

ASOF = "2026-11-01T00:00:00Z"


def _edit(home: Path, change: dict[str, object]) -> None:
    p = home / "memory" / "portfolio.json"
    data = json.loads(p.read_text())
    for path, value in change.items():
        *parents, last = path.strip("/").split("/")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    p.write_text(json.dumps(data, indent=2))


CASES = {
    "core_cash": ({"/followers/F_2002/USD/cash": "30000.005"}, "/followers/F_2002/USD/cash", "0.01"),
    "usdc_cash": ({"/followers/F_5001/USDC/cash": "5000.0000001"}, "/followers/F_5001/USDC/cash", "0.000001"),
    "vault_cash": ({"/vaults/V_CORE/cash/USD": "100000.001"}, "/vaults/V_CORE/cash/USD", "0.01"),
    "vault_lot_cost": ({"/vaults/V_CORE/positions": {"IBM": [["10", "1000.005"]]}},
                       "/vaults/V_CORE/positions/IBM/0/1", "0.01"),
    "sleeve_lot_cost": ({"/followers/F_2002/USD": {"cash": "29000.00", "sleeves": {"main": {
        "cash": {"USD": "0.00"}, "positions": {"IBM": [["10", "1000.005"]]}}}}},
        "/followers/F_2002/USD/sleeves/main/positions/IBM/0/1", "0.01"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_fraction_of_a_cent_in_the_books_is_refused(tmp_path: Path, case: str) -> None:
    """It was accepted and kept: 30000.005 stayed in the Core Vault's cash and a lot bought
    at 1000.005 gave a realized PnL of -2.005 when sold, in every later file and report."""
    change, path, step = CASES[case]
    home = tmp_path / "home"
    assert invoke("init", str(home)).exit_code == 0
    _edit(home, change)
    before = home_files(home)
    with pytest.raises(InputError) as err:
        invoke("cycle", "--home", str(home), "--asof", ASOF)
    assert err.value.code == 3
    assert (err.value.file, err.value.path) == ("memory/portfolio.json", path)
    assert f"counted in steps of {step}" in err.value.problem, err.value.message
    assert home_files(home) == before


def test_whole_amounts_with_fewer_digits_are_read_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert invoke("init", str(home)).exit_code == 0
    _edit(home, {"/followers/F_2002/USD/cash": "30000", "/followers/F_5001/USDC/cash": "5000.0000000"})
    r = invoke("cycle", "--home", str(home), "--asof", ASOF)
    assert r.exit_code == 0, r.output
    assert invoke("replay", "1", "--home", str(home)).exit_code == 0
