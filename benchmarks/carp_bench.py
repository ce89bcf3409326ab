"""CARP benchmark: gdb and val instances, mean gap to the best-known costs (published optima).

``python -m benchmarks carp`` (10 s per instance; GEO_BENCH_CARP_S to change, GEO_BENCH_CARP_ONLY=gdb|val).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from geo_service.snow.carp import solve_carp
from geo_service.snow.instances import read_best_known, read_instance

DATA = Path(__file__).resolve().parent / "data" / "carp"


def best_known() -> dict[str, float]:
    return read_best_known(DATA / "README.md")


def run() -> None:
    seconds = float(os.environ.get("GEO_BENCH_CARP_S", "10"))
    only = os.environ.get("GEO_BENCH_CARP_ONLY")
    known = best_known()
    gaps: dict[str, list[float]] = {"gdb": [], "val": []}
    for name in sorted(known, key=lambda n: (n[:3], int(re.sub(r"\D", "", n)), n)):
        group = name[:3]
        if only and group != only:
            continue
        inst = read_instance(DATA / f"{name}.dat")
        sol = solve_carp(inst, seed=0, iterations=10**9, time_limit_s=seconds)
        gap = (sol.cost - known[name]) / known[name] * 100
        gaps[group].append(gap)
        print(
            f"   {name:8} tasks {inst.n_tasks:3}  cost {sol.cost:6.0f}  best known {known[name]:6.0f}  "
            f"gap {gap:5.2f}%  ({sol.iterations} rounds, {sol.seconds:.1f} s)",
            flush=True,
        )
    for group, values in gaps.items():
        if values:
            print(
                f"   {group}: mean gap {sum(values) / len(values):.2f}% over {len(values)} instances at {seconds:g} s each"
                f" (goal {'0.5' if group == 'gdb' else '1'}%)"
            )


ENTRIES = {"carp": run}
