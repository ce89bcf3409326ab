"""``geo-service …``: the command line. Each module here adds its subcommands with ``register``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sqlite3
import sys
from collections.abc import Sequence
from typing import NoReturn

from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError
from sqlalchemy.exc import DBAPIError

from geo_service.errors import GeoServiceError
from geo_service.settings import say_settings_problems, settings_problems

__all__ = ["main"]


# argparse's refusals (Python 3.11's words), each in Chinese: (pattern, Chinese with the pattern's groups)
_ARGPARSE_ZH = (
    (r"argument (.+?): invalid float value: (.+)", "参数 {0} 的值 {1} 无效（应为数）"),
    (r"argument (.+?): invalid int value: (.+)", "参数 {0} 的值 {1} 无效（应为整数）"),
    (r"argument (.+?): invalid (\w+) value: (.+)", "参数 {0} 的值 {2} 无效"),
    (r"argument (.+?): invalid choice: (.+?) \(choose from (.+)\)", "参数 {0} 的值 {1} 无效（可选：{2}）"),
    (r"argument (.+?): expected one argument", "参数 {0} 需要一个值"),
    (r"argument (.+?): expected (.+)", "参数 {0} 的值个数不对"),
    (r"argument (.+?): not allowed with argument (.+)", "参数 {0} 不能与 {1} 同时使用"),
    (r"the following arguments are required: (.+)", "缺少参数：{0}"),
    (r"one of the arguments (.+) is required", "需要参数 {0} 之一"),
    (r"unrecognized arguments: (.+)", "无法识别的参数：{0}"),
    (r"ambiguous option: (.+?) could match (.+)", "选项 {0} 不明确（可能是 {1}）"),
)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, its refusals said as the command's other refusals are: in Chinese and English,
    after the usage, exit status 2."""

    def error(self, message: str) -> NoReturn:
        zh = "命令行参数有误"
        for pattern, words in _ARGPARSE_ZH:
            found = re.fullmatch(pattern, message)
            if found is not None:
                zh = words.format(*found.groups())
                break
        self.print_usage(sys.stderr)
        self.exit(2, f"错误 / error: {zh} / {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="geo-service", description="城市管理空间规划服务 / geo-service")
    sub = parser.add_subparsers(dest="command", required=True)
    package = sys.modules[__name__]
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def _storage_failure(args: argparse.Namespace, exc: Exception) -> GeoServiceError | None:
    """A driver error the stores did not translate (the accounts tables) that is a full disk or a
    workspace that cannot be written, said as the API says it."""
    from geo_service.store.failures import storage_failure, workspace_name

    try:
        from geo_service.cli.workspace import _settings

        settings = _settings(args)
        name = workspace_name(settings.workspace, settings.database_url)
    except Exception:  # settings that cannot be read: the workspace unnamed
        name = workspace_name(None)
    return storage_failure(exc, name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        try:
            return int(args.func(args) or 0)
        except (sqlite3.Error, DBAPIError) as exc:
            failure = _storage_failure(args, exc)
            if failure is None:
                raise
            raise failure from exc
    except (ValidationError, SettingsError) as exc:
        lines = settings_problems(exc)  # refused at start: each bad GEO_* setting, no traceback
        if lines is None:
            raise
        say_settings_problems(lines)
        return 2
    except GeoServiceError as exc:
        print(exc.as_line(), file=sys.stderr)
        for row in exc.details.get("rows", ()):  # a refused import: every failing row
            # a sheet's row as a spreadsheet numbers it; another file's feature by its place in the file
            n, sheet = row["row"], not str(row.get("feature", "row")).startswith("feature")
            where_zh, where_en = (f"第 {n} 行", f"row {n}") if sheet else (f"第 {n} 个要素", f"feature {n}")
            for e in row["errors"]:
                print(f"  {where_zh} / {where_en}: {e['detail_zh']} / {e['detail_en']}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
