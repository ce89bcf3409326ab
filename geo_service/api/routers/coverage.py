"""Coverage questions over HTTP: who covers, beat gaps and overlaps, site duty coverage, walking
service areas, what-if."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field, StrictInt
from shapely.geometry import mapping

from geo_service.api.deps import (
    Body,
    WorkspaceDep,
    known_query_only,
    parse_moment,
    parse_window,
)
from geo_service.api.limits import run_bounded
from geo_service.contexts import (
    coverage_context,
    open_sites,
    out_of_season,
    walk_network,
    who_context,
    who_covers_ready,
)
from geo_service.coverage import (
    beat_coverage,
    beat_coverage_week,
    site_duty_coverage,
    walking_coverage,
    what_if,
    who_covers,
)
from geo_service.crs import SourceCRS, from_metric, from_wgs84, parse_crs, to_wgs84
from geo_service.duty import TZ, calendar_notes, hour_start_notes, hours_within_years, parse_week_start
from geo_service.errors import InvalidInput
from geo_service.geometry import (
    check_kinds,
    check_place,
    check_positions,
    check_vertices,
    geometry_from_geojson,
    site_kinds,
)
from geo_service.workspace import Workspace

__all__ = ["router"]

router = APIRouter(prefix="/coverage", tags=["coverage 覆盖"], dependencies=[Depends(known_query_only)])
_SITE_LAYERS = ("stall_sites", "festival_sales_points")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))


def _json(body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=_default), media_type="application/json")


def _default(value: Any) -> Any:
    if isinstance(value, shapely.Geometry):
        return mapping(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))


def _fc(rows: Any) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": mapping(r["geometry"]),
                "properties": {k: v for k, v in r.items() if k != "geometry"},
            }
            for r in rows
        ],
    }


@router.get("/who", summary="此时此地由谁负责 / Who covers a place at a moment")
async def who(
    ws: WorkspaceDep,
    lon: Annotated[float, Query(allow_inf_nan=False, description="经度，或 crs 中的 x / lon, or x in crs")],
    lat: Annotated[float, Query(allow_inf_nan=False, description="纬度，或 crs 中的 y / lat, or y in crs")],
    at: str | None = None,
    crs: str = "EPSG:4326",
) -> Response:
    moment = parse_moment(at) or _now()
    point = to_wgs84([shapely.points(lon, lat)], parse_crs(crs))[0]
    x, y = point.x, point.y  # (WGS 84)
    finite = math.isfinite(x) and math.isfinite(y)
    swapped = finite and abs(x) <= 90 < abs(y) <= 180  # said so by the bounds check below
    wgs84 = parse_crs(crs) == parse_crs("EPSG:4326")
    if not finite or ((abs(x) > 180 or abs(y) > 90) and not swapped):
        hint_zh, hint_en = (
            (
                "（投影坐标请指定 crs，如 EPSG:4547）",
                " (name the crs of projected coordinates, e.g. EPSG:4547)",
            )
            if wgs84
            else ("", "")
        )
        raise InvalidInput(
            f"坐标 ({lon}, {lat}) 在 {crs} 中不是有效位置{hint_zh}",
            f"({lon}, {lat}) is no position in {crs}{hint_en}",
            field="lon",
        )
    try:  # as the command line does: a place outside the service's bounds is a mistake, not a gap
        check_place(x, y, bounds=ws.settings.service_bounds)
    except InvalidInput as e:
        if wgs84:
            raise e from None
        turned = to_wgs84([shapely.points(lat, lon)], parse_crs(crs))[0]
        try:  # the two values the other way round are a place in the service's area: they look swapped
            check_place(turned.x, turned.y, bounds=ws.settings.service_bounds)
        except InvalidInput:
            pass
        else:
            raise InvalidInput(
                f"坐标 ({lon}, {lat}) 似乎前后颠倒：按 {crs}，({lat}, {lon}) 才在服务范围内",
                f"({lon}, {lat}) look swapped: in {crs}, ({lat}, {lon}) is inside the service's area",
                field="lon",
            ) from None
        # the values sent, and where the crs put them: lon/lat read as metres land near (0, 0)
        hint_zh = hint_en = ""
        if abs(lon) <= 180 and abs(lat) <= 90:
            hint_zh, hint_en = (
                "；如为经纬度，请去掉 crs",
                "; if these are longitude and latitude, leave out crs",
            )
        raise InvalidInput(
            f"坐标 ({lon}, {lat}) 按 {crs} 换算为经纬度 ({x:.6g}, {y:.6g})，不在服务范围内{hint_zh}",
            f"({lon}, {lat}) in {crs} is longitude/latitude ({x:.6g}, {y:.6g}), outside the service's "
            f"area{hint_en}",
            field="crs",
        ) from None
    with ws.reading():  # (the layers' versions read once for the whole answer)
        if who_covers_ready(ws):  # a few array lookups: answer here rather than hop to a worker thread
            return _who(ws, x, y, moment)
        # the first ask after an edit builds the indexes
        return await run_in_threadpool(_who, ws, x, y, moment)


def _who(ws: Workspace, lon: float, lat: float, moment: dt.datetime) -> Response:
    who = who_context(ws)
    answer = who_covers(
        lon,
        lat,
        moment,
        beats=who.coverage.beats,
        shifts=who.coverage.shifts,
        districts=who.districts,
        network=who.coverage.walk,
        stall_sites=who.stall_sites,
        festival_points=who.festival_points,
        crs=ws.settings.metric_crs,
    )
    return _json(answer.as_dict())


@router.get("/beats", summary="网格覆盖检查：空白、重叠、边界 / Beat gaps, overlaps and edges")
def beats(
    ws: WorkspaceDep,
    at: str | None = None,
    min_gap_m2: Annotated[float, Query(ge=0, allow_inf_nan=False)] = 100.0,
) -> Response:
    moment = parse_moment(at)
    ctx = coverage_context(ws)
    cov = beat_coverage(
        ws.frame("patrol_beats"),
        ctx.shifts,
        ws.frame("districts"),
        at=moment,
        min_gap_m2=min_gap_m2,
        crs=ws.settings.metric_crs,
    )
    return _json(
        {
            "at": None if moment is None else moment.isoformat(),
            "figures": list(cov.figures),
            "gaps": _fc(cov.gaps),
            "overlaps": _fc(cov.overlaps),
            "mismatches": _fc(cov.mismatches),
            "notices": [] if moment is None else calendar_notes(_day(moment), _day(moment)),
        }
    )


def _day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(TZ).date()


@router.get("/beats/week", summary="逐小时网格覆盖（一周）/ Beat coverage hour by hour through a week")
async def beats_week(
    ws: WorkspaceDep,
    start: str | None = None,
    hours: Annotated[int, Query(ge=1, le=744)] = 168,
    min_gap_m2: Annotated[float, Query(ge=0, allow_inf_nan=False)] = 100.0,
) -> Response:
    """Each hour from ``start`` (a date or time; default: this week's Monday): the beats on duty all
    hour and part of it, per-district figures; gaps and overlaps once per distinct set of beats."""
    if start is None or not start.strip():  # a form's empty field: this week
        today = _now().date()
        begin: dt.date | dt.datetime = today - dt.timedelta(days=today.weekday())
    else:
        begin = parse_week_start(start, field="start")  # a day (from its midnight) or a time
    hours_within_years(begin, hours, field="hours")
    week = await run_bounded(_week, ws, begin, hours, min_gap_m2, timeout_s=ws.settings.computation_timeout_s)
    configurations = [
        {
            "configuration": k,
            "on_duty": sorted(codes),
            "figures": list(cov.figures),
            "gaps": _fc(cov.gaps),
            "overlaps": _fc(cov.overlaps),
        }
        for k, (codes, cov) in enumerate(week.configurations)
    ]
    return _json(
        {
            "start": week.start.isoformat(),
            "hours": list(week.hours),
            "figures": week.figures(),
            "configurations": configurations,
            "notices": hour_start_notes(begin, week.start)
            + calendar_notes(
                _day(week.start), _day(week.start + dt.timedelta(hours=max(len(week.hours) - 1, 0)))
            ),
        }
    )


def _week(ws: Workspace, begin: dt.date | dt.datetime, hours: int, min_gap_m2: float) -> Any:
    """In a worker thread: the layers are read (and the shift table built, if stale) off the event loop."""
    return beat_coverage_week(
        ws.frame("patrol_beats"),
        coverage_context(ws).shifts,
        ws.frame("districts"),
        start=begin,
        hours=hours,
        min_gap_m2=min_gap_m2,
        crs=ws.settings.metric_crs,
    )


@router.get("/sites", summary="站点值守覆盖：无人值班的站点时段 / Site-hours with no beat on duty")
def sites(ws: WorkspaceDep, start: str, end: str) -> Response:
    s, e = parse_window(start, end)
    ctx = coverage_context(ws)
    rows = site_duty_coverage(
        {name: open_sites(ws, name) for name in _SITE_LAYERS},
        ctx.beats,
        ctx.shifts,
        start=s,
        end=e,
        crs=ws.settings.metric_crs,
    )
    notices = calendar_notes(_day(s), _day(e))
    return _json(
        {
            "start": s.isoformat(),
            "end": e.isoformat(),
            "uncovered": rows,
            "count": len(rows),
            "notices": notices,
        }
    )


MAX_WALK_M = 5000.0
DEFAULT_WALK_M = 500.0


def walk_limit(metres: float | None, minutes: float | None, speed_m_per_min: float) -> float:
    """The walk in metres: ``metres``, or ``minutes`` at the walking speed, or 500 m; not both."""
    if metres is not None and minutes is not None:
        raise InvalidInput(
            "max_walk_m 与 max_walk_min 只能给出一个",
            "Give max_walk_m or max_walk_min, not both",
            field="max_walk_min",
        )
    if minutes is None:
        return DEFAULT_WALK_M if metres is None else metres
    out = minutes * speed_m_per_min
    if out > MAX_WALK_M:
        most = math.floor(MAX_WALK_M / speed_m_per_min * 10) / 10  # rounded down: the figure named is allowed
        raise InvalidInput(
            f"步行时间最多 {most:g} 分钟（按每分钟 {speed_m_per_min:g} 米，{MAX_WALK_M:.0f} 米）",
            f"At most {most:g} minutes on foot ({MAX_WALK_M:.0f} m at {speed_m_per_min:g} m/min)",
            field="max_walk_min",
        )
    return out


@router.get(
    "/service-areas",
    summary="步行服务范围与人口覆盖 / Walking service areas and served population",
    description="每个站点：步行可达的道路两侧各 40 米的范围，每处归于离它最近的道路，所以不画到步行未达的道路上"
    "（部分可达的路段在步行用尽处截断成平头，误差不超过 10 米）；及以其为最近站点的服务人口；人口按从居住点走到最近"
    "道路再沿路走到站点计算，所以街区深处的居住点可计入服务人口而不在范围图形内。未服务人口按相邻居住点分组，每组半径"
    "不超过步行距离。 / Per site: the ground within 40 m of the streets reachable on foot, each place counted to "
    "the street nearest to it, so the area is not drawn over streets the walk does not reach (partly reached "
    "streets end square where the walk runs out, to within 10 m), and the people it is the nearest site for. "
    "People are counted by their walk from home to the nearest street and on along the streets, so homes deep in "
    "a block count as served while lying outside the drawn area. Unserved people are grouped by neighbouring "
    "homes, each group no wider than the walking distance from its centre.",
)
async def areas(
    request: Request,
    ws: WorkspaceDep,
    layer: str = "stall_sites",
    max_walk_m: Annotated[
        float | None,
        Query(gt=0, le=MAX_WALK_M, allow_inf_nan=False, description="步行距离（米）/ metres on foot"),
    ] = None,
    max_walk_min: Annotated[
        float | None,
        Query(gt=0, allow_inf_nan=False, description="或步行时间（分钟）/ or minutes on foot"),
    ] = None,
    crs: Annotated[
        str,
        Query(description="返回坐标系：EPSG:4326（默认）、gcj02、bd09 … / the answer's coordinates"),
    ] = "EPSG:4326",
) -> Response:
    if layer not in _SITE_LAYERS:
        raise InvalidInput(
            f"图层应为 {'、'.join(_SITE_LAYERS)}",
            f"layer must be one of {', '.join(_SITE_LAYERS)}",
            field="layer",
        )
    out_crs = parse_crs(crs)
    metres = walk_limit(max_walk_m, max_walk_min, ws.settings.walk_speed_m_per_min)
    body = await run_bounded(_areas, ws, layer, metres, out_crs, timeout_s=ws.settings.computation_timeout_s)
    if max_walk_min is not None:
        body["max_walk_min"] = max_walk_min
        body["walk_speed_m_per_min"] = ws.settings.walk_speed_m_per_min
    return _json(body)


def _areas(ws: Workspace, layer: str, max_walk_m: float, out_crs: SourceCRS) -> dict[str, Any]:
    """In a worker thread: the network (if stale), the walk, and the polygons (built on first use), in
    ``out_crs``."""
    sites_frame = open_sites(ws, layer)
    crs = ws.settings.metric_crs
    cov = walking_coverage(
        walk_network(ws), sites_frame.geometry, ws.frame("demand"), max_walk_m=max_walk_m, crs=crs
    )
    feats = []
    if cov.areas is not None:
        polys = from_wgs84(from_metric(cov.areas.polygons, crs), out_crs)
        for fid, name, poly, reached, people in zip(
            sites_frame.index,
            sites_frame["name"],
            polys,
            cov.areas.reached_m,
            cov.site_population,
            strict=True,
        ):
            feats.append(
                {
                    "type": "Feature",
                    "geometry": mapping(shapely.simplify(poly, 1e-5)),
                    "properties": {
                        "site": int(fid),
                        "name": name,
                        "street_m": round(float(reached), 1),
                        "served_population": int(people),
                    },
                }
            )
    body = cov.as_dict()
    body["notices"] = _site_notices(ws, layer, len(sites_frame))
    clusters = body["unserved_clusters"]
    hulls = from_wgs84(np.array([c["geometry"] for c in clusters], dtype=object), out_crs)
    centres = from_wgs84(shapely.points(np.array([c["centre"] for c in clusters]).reshape(-1, 2)), out_crs)
    for c, hull, centre in zip(clusters, hulls, centres, strict=True):
        c["geometry"], c["centre"] = hull, [round(centre.x, 6), round(centre.y, 6)]
    body["crs"] = out_crs.name
    body["unserved_clusters"] = _fc(clusters)
    body["service_areas"] = {"type": "FeatureCollection", "features": feats}
    body["unreachable_sites"] = (
        [] if cov.areas is None else [int(sites_frame.index[i]) for i in cov.areas.unreachable]
    )
    return body


def _site_notices(ws: Workspace, layer: str, n_open: int) -> list[str]:
    """What a planner reading a walking answer should know about the sites it counted: none open (so
    nobody is served), or open ones that are out of season today (counted all the same: the layout is
    what is asked about)."""
    title = ws.catalog[layer].title
    if n_open == 0:
        return [
            f"「{title['zh']}」中没有状态为开放的站点，无人被服务 / no site of {title['en']} is open: nobody is served"
        ]
    resting = out_of_season(ws, layer, on=dt.datetime.now(TZ).date())
    if not resting:
        return []
    names = "、".join(str(s["name"] or s["id"]) for s in resting)
    return [
        f"以下站点今天不在经营期内，仍按开放计入：{names} / these sites are out of season today and are counted "
        f"as open all the same: {names}"
    ]


class WhatIf(Body):
    layer: str = "stall_sites"
    add: list[dict[str, Any]] = Field(default_factory=list, description="GeoJSON geometries of new sites")
    remove: list[StrictInt] = Field(default_factory=list, max_length=10_000)  # (not true, not "1")
    move: dict[int, dict[str, Any]] = Field(default_factory=dict)
    max_walk_m: float | None = Field(default=None, gt=0, le=MAX_WALK_M, allow_inf_nan=False)
    max_walk_min: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    crs: str = "EPSG:4326"


@router.post("/what-if", summary="假设增、移、撤站点后覆盖人口的变化（不保存）/ What-if, nothing saved")
async def what_if_route(ws: WorkspaceDep, body: WhatIf) -> Response:
    if body.layer not in _SITE_LAYERS:
        raise InvalidInput(
            f"图层应为 {'、'.join(_SITE_LAYERS)}",
            f"layer must be one of {', '.join(_SITE_LAYERS)}",
            field="layer",
        )
    src = parse_crs(body.crs)

    def site(what: str, key: Any, geojson: dict[str, Any]) -> shapely.Geometry:
        """A site put forward, held to the vertex limit a site written to the layer is held to (413, in
        the same words), before its coordinates are converted."""
        label = f"{what}[{key}]"
        geom = geometry_from_geojson(geojson, feature=label)
        check_vertices(geom, ws.settings.max_vertices, feature=label, field=what)
        return to_wgs84([geom], src)[0]

    add = [site("add", i, g) for i, g in enumerate(body.add)]
    move = {k: site("move", k, g) for k, g in body.move.items()}
    bounds = ws.settings.service_bounds
    check_positions(add, bounds=bounds, what="add")
    check_positions(list(move.values()), bounds=bounds, what="move", labels=list(move))
    kinds = site_kinds(ws.catalog[body.layer].geometry_types)
    check_kinds(add, kinds, what="add", thing=("站点", "a site"))
    check_kinds(list(move.values()), kinds, what="move", thing=("站点", "a site"), labels=list(move))
    metres = walk_limit(body.max_walk_m, body.max_walk_min, ws.settings.walk_speed_m_per_min)
    twice = sorted(k for k, n in Counter(body.remove).items() if n > 1)
    if twice:  # a list with a site twice was written in haste: which was meant is not for us to guess
        ids = ", ".join(map(str, twice))
        raise InvalidInput(
            f"remove 中的站点 {ids} 给了不止一次",
            f"remove names site(s) {ids} more than once",
            field="remove",
        )
    if not (add or body.remove or move):
        raise InvalidInput(
            "没有要增加、移动或撤销的站点（add、move、remove 均为空）",
            "Nothing to add, move or remove: add, move and remove are all empty",
            field="add",
        )

    def run() -> dict[str, Any]:  # in a worker thread: the layers and the network are read off the event loop
        sites = open_sites(ws, body.layer)
        out = what_if(
            walk_network(ws),
            sites,
            ws.frame("demand"),
            add=add,
            remove=body.remove,
            move=move,
            max_walk_m=metres,
            crs=ws.settings.metric_crs,
            districts=ws.frame("districts"),
        )
        out["notices"] = [
            *out["notices"],
            *_site_notices(ws, body.layer, len(sites)),
        ]
        return out

    result = await run_bounded(run, timeout_s=ws.settings.computation_timeout_s)
    if body.max_walk_min is not None:  # said back as service-areas says it
        result["max_walk_min"] = body.max_walk_min
        result["walk_speed_m_per_min"] = ws.settings.walk_speed_m_per_min
    return _json(result)
