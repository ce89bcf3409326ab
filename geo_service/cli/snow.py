"""``geo-service snow-plan``: plan a response, print the clear times, write GeoJSON/GPX/sheets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from geo_service.auth.accounts import AccountStore, account_url
from geo_service.cli.audit import record_cli
from geo_service.cli.workspace import _common, _open
from geo_service.duty import parse_time
from geo_service.errors import GeoServiceError, InvalidInput
from geo_service.snow.export import plan_geojson, plan_gpx, route_sheet
from geo_service.snow.service import check_time_limit, effort_for, make_plan
from geo_service.workspace import Workspace

__all__ = ["register"]


def _locks(pairs: list[str]) -> dict[str, str]:
    """``--lock bridge:3=山阳一组`` (or ``=山阳一组-1@2``) as the API's ``locks``."""
    out: dict[str, str] = {}
    for pair in pairs:
        item, sep, target = pair.partition("=")
        if not sep or not item.strip() or not target.strip():
            raise InvalidInput(
                f"锁定「{pair}」应为 对象=班组 或 对象=车辆@序号（如 bridge:3=山阳一组）",
                f"Lock '{pair}' must be item=crew or item=vehicle@position (e.g. bridge:3=山阳一组)",
                field="--lock",
            )
        if item.strip() in out:  # the API's locks are one per item: a second --lock would win quietly
            raise InvalidInput(
                f"对象 {item.strip()} 锁定了两次（{out[item.strip()]} 与 {target.strip()}），只能锁定一次",
                f"Item {item.strip()} is locked twice ({out[item.strip()]} and {target.strip()}): lock it once",
                field="--lock",
            )
        out[item.strip()] = target.strip()
    return out


_PLAN_FILES = ("plan.geojson", "{crew}.gpx", "{crew}.html")


def _out_dir(text: str, crews: list[str]) -> Path:
    """``--out``: a folder that does not exist yet, or one holding none of the files this plan writes
    (an earlier plan's files are never overwritten: another folder is suggested instead)."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise InvalidInput(
            f"--out 指向的「{out}」是一个文件，不是目录；请给一个目录",
            f"--out '{out}' is a file, not a folder: give a folder",
            field="--out",
        )
    blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise InvalidInput(
            f"无法在「{out}」建目录：「{blocking}」是一个文件",
            f"Cannot make the folder '{out}': '{blocking}' is a file",
            field="--out",
        )
    names = [f.format(crew=c) for f in _PLAN_FILES for c in (crews if "{crew}" in f else [""])]
    there = [n for n in names if (out / n).exists()]
    if there:
        n = 2
        while Path(f"{out}-{n}").exists():
            n += 1
        raise InvalidInput(
            f"目录「{out}」中已有方案文件（{'、'.join(there[:3])}），不予覆盖；请换一个新目录，如「{out}-{n}」",
            f"The folder '{out}' already holds a plan's files ({', '.join(there[:3])}) and they are not "
            f"overwritten: give a new folder, such as '{out}-{n}'",
            field="--out",
        )
    # made now, before planning: a folder that cannot be written to is refused before a plan is made
    # (and, with --save, stored)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".geo-service-write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise InvalidInput(
            f"无法写入目录「{out}」（{exc.strerror}）；请换一个可写的目录",
            f"Cannot write to the folder '{out}' ({exc.strerror}): give a folder that can be written to",
            field="--out",
        ) from None
    return out


def _write_out(out: Path, doc: dict[str, Any]) -> None:
    """The plan's GeoJSON and each crew's GPX and route sheet, each file new (never one overwritten)."""
    files = {"plan.geojson": json.dumps(plan_geojson(doc), ensure_ascii=False)}
    for crew in sorted({v["crew"] for v in doc["vehicles"]}):
        files[f"{crew}.gpx"] = plan_gpx(doc, crew)
        files[f"{crew}.html"] = route_sheet(doc, crew)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            with (out / name).open("x", encoding="utf-8") as f:
                f.write(text)
    except OSError as exc:
        raise InvalidInput(
            f"无法写出到「{out}」：{exc.strerror or exc}",
            f"Cannot write to '{out}': {exc.strerror or exc}",
            field="--out",
        ) from exc


_OPTIONS = {"locks": "--lock", "title": "--title", "time_limit_s": "--time-limit-s", "start": "--start"}


def _named_for_the_cli(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn``, its refusals naming the command-line option rather than the API's field."""
    try:
        return fn(*args, **kwargs)
    except GeoServiceError as exc:
        exc.field = _OPTIONS.get(exc.field or "", exc.field)
        raise


def _plan(args: argparse.Namespace) -> int:
    start = parse_time(args.start, field="--start")
    locks = _locks(args.lock)
    if args.time_limit_s is not None:  # refused as the API refuses time_limit_s, in its words
        check_time_limit(args.time_limit_s, field="--time-limit-s")
    elif args.effort < 1:
        raise InvalidInput(
            "参数「--effort」无效：应不小于 1",
            "Parameter '--effort' is invalid: Input should be at least 1",
            field="--effort",
        )
    settings, store = _open(args)
    try:
        ws = Workspace(store, settings)
        # checked before planning, so that a refused --out neither plans nor stores anything
        out = _out_dir(args.out, [str(c) for c in ws.frame("crews")["crew"]]) if args.out else None
        doc = _named_for_the_cli(
            make_plan,
            ws,
            closed_roads=args.close_road,
            closed_bridges=args.close_bridge,
            locks=locks,
            seed=args.seed,
            effort=args.effort if args.time_limit_s is None else effort_for(args.time_limit_s),
            start=start,
            actor="cli",
            save=args.save,
            **({"title": args.title} if args.title is not None else {}),
        )
        if args.save:  # a stored plan is a write: in the audit log, as account commands are
            accounts = AccountStore(account_url(str(settings.workspace), settings.database_url))
            try:
                record_cli(accounts, "snow-plan --save", {"plan": doc["id"], "title": doc["title"]})
            finally:
                accounts.close()
    finally:
        store.close()
    print(f"方案 / plan {doc['id']}（{doc['start']} 起 / from）")
    for note in doc["notices"]:
        print(f"  注意 / notice: {note}")
    for k, t in doc["clear_times"].items():
        print(f"  {k} 级完成 / priority {k} clear: {t}")
    for u in doc["unserved"]:
        print(f"  未安排 / unserved {u['item']} {u['name']}: {u['reason_zh']} / {u['reason_en']}")
    if out is not None:
        _write_out(out, doc)
        print(f"  已写出 / written to {out}")
    return 0


def _count(text: str) -> int:
    """A whole number, 0 or more (argparse reports anything else as a usage error, in both languages)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"应为不小于 0 的整数，而不是「{text}」/ should be a whole number of at least 0, not '{text}'"
        )
    return value


def _seconds(text: str) -> float:
    """A number (its range is checked as the API checks ``time_limit_s``: see ``check_time_limit``)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"应为数字，而不是「{text}」/ Input should be a valid number, not '{text}'"
        ) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snow-plan", help="除雪防汛作业方案 / plan a snow response")
    _common(p)
    p.add_argument("--close-road", type=_count, action="append", default=[], help="封闭道路编号（可多次）")
    p.add_argument("--close-bridge", type=_count, action="append", default=[], help="封闭桥涵编号（可多次）")
    p.add_argument("--start", help="开始时间，ISO 8601，默认现在（北京时间）/ start time, default now")
    p.add_argument(
        "--lock",
        action="append",
        default=[],
        help="锁定：对象=班组 或 对象=车辆@序号（可多次），如 bridge:3=山阳一组 / item=crew or item=vehicle@position",
    )
    p.add_argument("--title", help="方案标题 / plan title")
    p.add_argument("--seed", type=_count, default=0)
    p.add_argument(
        "--time-limit-s",
        type=_seconds,
        help="计算投入，与接口的 time_limit_s 相同（大于 0、不超过 3600，按迭代计，默认 10）/ search effort, as the"
        " API's time_limit_s (above 0, at most 3600)",
    )
    p.add_argument("--effort", type=_count, default=60, help="计算投入，按迭代计（--time-limit-s 的 6 倍）")
    p.add_argument("--save", action="store_true", help="保存方案供班组查看")
    p.add_argument(
        "--out",
        help="写出 GeoJSON、GPX 与路线单的目录：新目录，或其中没有方案文件的目录；已有方案文件（plan.geojson、"
        "班组.gpx、班组.html）的目录不覆盖，在制定方案之前即拒绝并建议新目录名 / folder for the GeoJSON, GPX and"
        " route sheets: a new one, or one without plan files; a folder holding an earlier plan's files"
        " (plan.geojson, CREW.gpx, CREW.html) is refused before planning, never overwritten, and a new"
        " folder name suggested",
    )
    p.set_defaults(func=_plan)
