"""fees.run keeps the fee record of a sleeve the registry no longer names (its high-water
mark still stands), and writes no record for a follower whose record holds no sleeve."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from vanta import journal
from vanta.cycle import LiveEdge, drive
from vanta.home import Home, locked
from vanta.init import example_files, write_home
from vanta.models import SleeveFees
from vanta.stages import fees


def test_records_of_sleeves_the_registry_no_longer_names_are_kept(tmp_path: Path) -> None:
    write_home(tmp_path, example_files(), force=False)
    home = Home(tmp_path)
    with locked(home):
        journal.recover(home)
        with LiveEdge(home, "2026-11-01T00:00:00Z") as edge:
            ctx = drive(edge)[0]
    fid = ctx.registry.followers[0].follower_id
    gone = SleeveFees.make(currency="USD", hwm=Decimal("12.34"), charged=Decimal("1.00"), month="2026-10",
                           month_perf=Decimal("0.00"), month_profit=Decimal("0.00"))
    old = {**ctx.mem.pnl.fees, "F_GONE": {"main": gone}, "F_EMPTY": {},
           fid: {**ctx.mem.pnl.fees.get(fid, {}), "gone": gone}}
    out = fees.run(replace(ctx, mem=replace(ctx.mem, pnl=ctx.mem.pnl.model_copy(update={"fees": old}))))
    assert out.pnl is not None
    assert out.pnl.fees["F_GONE"] == {"main": gone}
    assert out.pnl.fees[fid]["gone"] is gone
    assert set(out.pnl.fees[fid]) == {"gone", *(s.sleeve_id for c in ctx.registry.followers[0].cores
                                                for s in c.sleeves)}
    assert "F_EMPTY" not in out.pnl.fees
