"""``geo-service who-covers`` and ``geo-service coverage-check``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from zoneinfo import ZoneInfo

from geo_service.cli.workspace import _common, _open
from geo_service.contexts import coverage_context, open_sites
from geo_service.coverage import beat_coverage, beat_coverage_week, who_covers
from geo_service.crs import parse_crs, to_wgs84
from geo_service.duty import (
    calendar_notes,
    hour_start_notes,
    hours_within_years,
    parse_time,
    parse_week_start,
)
from geo_service.errors import InvalidInput
from geo_service.geometry import check_place
from geo_service.workspace import Workspace

__all__ = ["register"]


def _moment(text: str | None) -> dt.datetime:
    return parse_time(text, field="--at") or dt.datetime.now(ZoneInfo("Asia/Shanghai"))


def _who(args: argparse.Namespace) -> int:
    import shapely

    settings, store = _open(args)
    try:
        ws = Workspace(store, settings)
        ctx = coverage_context(ws)
        p = to_wgs84([shapely.Point(args.lon, args.lat)], parse_crs(args.crs))[0]
        check_place(p.x, p.y, bounds=settings.service_bounds)
        ans = who_covers(
            p.x,
            p.y,
            _moment(args.at),
            beats=ctx.beats,
            shifts=ctx.shifts,
            districts=ws.frame("districts"),
            network=ctx.walk,
            stall_sites=open_sites(ws, "stall_sites"),
            festival_points=open_sites(ws, "festival_sales_points"),
        )
    finally:
        store.close()
    print(json.dumps(ans.as_dict(), ensure_ascii=False, indent=2))
    return 0


def _check(args: argparse.Namespace) -> int:
    if args.week is not None and args.at:
        raise InvalidInput(
            "--week 逐小时检查一周，不能同时给 --at",
            "--week checks every hour of a week: give it no --at",
            field="--at",
        )
    if args.week is not None:  # ("" is refused as no day, not taken as no --week)
        return _check_week(args)
    settings, store = _open(args)
    moment = _moment(args.at) if args.at else None
    try:
        ws = Workspace(store, settings)
        cov = beat_coverage(
            ws.frame("patrol_beats"), coverage_context(ws).shifts, ws.frame("districts"), at=moment
        )
    finally:
        store.close()
    for f in cov.figures:  # a gap or an overlap of a few hundred m² is what is looked for: whole m²
        print(
            f"{f['district']}: 覆盖 covered {f['covered_m2'] / 1e6:.2f} km², 空白 uncovered "
            f"{f['uncovered_m2']:,.0f} m², 重叠 double {f['double_covered_m2']:,.0f} m²"
        )
    print(
        f"空白 gaps: {len(cov.gaps)}, 重叠 overlaps: {len(cov.overlaps)}, 边界不符 mismatches: {len(cov.mismatches)}"
    )
    if moment is not None:
        _print_notes(calendar_notes(moment.date(), moment.date()))
    return 0


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"注意 note: {note}")


def _check_week(args: argparse.Namespace) -> int:
    start = parse_week_start(args.week, field="--week")  # (before the workspace is opened)
    hours_within_years(start, 168, field="--week")
    settings, store = _open(args)
    try:
        ws = Workspace(store, settings)
        beats = ws.frame("patrol_beats")
        week = beat_coverage_week(
            beats, coverage_context(ws).shifts, ws.frame("districts"), start=start, crs=settings.metric_crs
        )
    finally:
        store.close()
    district_of = dict(zip(beats["code"].astype(str), beats["district"], strict=True))
    print("小时 hour             区 district    在岗网格 beats  空白 uncovered m²  重叠 double m²")
    for f in week.figures():
        hour = next(h for h in week.hours if h["hour"] == f["hour"])
        here = sum(1 for code in hour["on_duty"] if district_of.get(str(code)) == f["district"])
        print(
            f"{f['hour'][:16]}  {f['district']:8}  {here:5}  {f['uncovered_m2']:14,.0f}"
            f"  {f['double_covered_m2']:12,.0f}"
        )
    first = week.start.date()
    _print_notes(hour_start_notes(start, week.start) + calendar_notes(first, first + dt.timedelta(days=6)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("who-covers", help="此时此地由谁负责 / who covers a place")
    _common(p)
    p.add_argument("lon", type=float)
    p.add_argument("lat", type=float)
    p.add_argument(
        "--at",
        help="时间，如 2026-12-01 21:00、2026年12月1日 21:00、下午3:05（今天），默认现在 / the time, e.g. "
        "2026-12-01 21:00 or 下午3:05 (today); default now",
    )
    p.add_argument("--crs", default="EPSG:4326")
    p.set_defaults(func=_who)
    p = sub.add_parser("coverage-check", help="网格空白与重叠 / beat gaps and overlaps")
    _common(p)
    p.add_argument("--at")
    p.add_argument(
        "--week",
        metavar="DAY",
        help="从该日（或时刻）起逐小时检查一周（168 小时），如 2026-12-07、2026年12月7日 / hour by hour for a week "
        "from that day (or time)",
    )
    p.set_defaults(func=_check)
