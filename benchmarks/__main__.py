"""Run benchmark entries: ``python -m benchmarks`` (all) or ``python -m benchmarks import who …``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections.abc import Callable

import benchmarks


def entries() -> dict[str, Callable[[], None]]:
    found: dict[str, Callable[[], None]] = {}
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.ispkg:
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        found.update(getattr(module, "ENTRIES", {}))
    return found


def main(argv: list[str]) -> int:
    available = entries()
    names = argv or list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown entries {unknown}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        available[name]()
        print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
