"""The cycle's thirteen stages, in the one order they run (see `vanta.cycle.STAGES`).

load, market, execute and commit do I/O through the edge; the other nine are pure.
"""
