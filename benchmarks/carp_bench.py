"""CARP benchmark: gdb and val instances, mean gap to the best-known costs (published optima).

``python -m benchmarks carp`` (10 s per instance; GEO_BENCH_CARP_S to change, a number above 0;
GEO_BENCH_CARP_ONLY=gdb|val or one instance such as gdb1). A value it cannot take is refused (exit 2)
with what it takes, before anything runs.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from geo_service.snow.carp import solve_carp
from geo_service.snow.instances import read_best_known, read_instance

DATA = Path(__file__).resolve().parent / "data" / "carp"


def best_known() -> dict[str, float]:
    return read_best_known(DATA / "README.md")


def _refuse(message: str) -> NoReturn:
    print(f"carp benchmark: {message}", file=sys.stderr)
    raise SystemExit(2)


def _settings(known: Iterable[str]) -> tuple[float, str | None]:
    """GEO_BENCH_CARP_S (seconds per instance, a number above 0) and GEO_BENCH_CARP_ONLY (a group or an
    instance name), refused with what they take rather than a traceback or a run of nothing."""
    text = os.environ.get("GEO_BENCH_CARP_S", "10")
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        _refuse(f"GEO_BENCH_CARP_S={text!r}: seconds per instance, a number above 0 (default 10)")
    only = os.environ.get("GEO_BENCH_CARP_ONLY") or None
    names = _ordered(known)
    groups = sorted({n[:3] for n in names})
    if only is not None and only not in groups and only not in names:
        _refuse(
            f"GEO_BENCH_CARP_ONLY={only!r}: a group ({', '.join(groups)}) or one instance "
            f"({', '.join(names)}); unset to run all"
        )
    return seconds, only


def _ordered(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda n: (n[:3], int(re.sub(r"\D", "", n)), n))


def run() -> None:
    known = best_known()
    seconds, only = _settings(known)
    gaps: dict[str, list[float]] = {"gdb": [], "val": []}
    for name in _ordered(known):
        group = name[:3]
        if only and only not in (group, name):
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
