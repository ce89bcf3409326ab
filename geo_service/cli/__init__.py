"""``geo-service …``: the command line. Each module here adds its subcommands with ``register``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from geo_service.errors import GeoServiceError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geo-service", description="城市管理空间规划服务 / geo-service")
    sub = parser.add_subparsers(dest="command", required=True)
    package = sys.modules[__name__]
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GeoServiceError as exc:
        where = f" [{exc.field}]" if exc.field else ""  # the option or field at fault
        print(f"错误 / error{where}: {exc.zh} / {exc.en}", file=sys.stderr)
        for row in exc.details.get("rows", ()):  # a refused import: every failing row
            # a sheet's row as a spreadsheet numbers it; another file's feature by its place in the file
            n, sheet = row["row"], not str(row.get("feature", "row")).startswith("feature")
            where_zh, where_en = (f"第 {n} 行", f"row {n}") if sheet else (f"第 {n} 个要素", f"feature {n}")
            for e in row["errors"]:
                print(f"  {where_zh} / {where_en}: {e['detail_zh']} / {e['detail_en']}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
