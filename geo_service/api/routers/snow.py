"""Snow and flood response plans: plan, list, read as GeoJSON, per-crew GPX and printable sheet."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import Field

from geo_service.api.deps import Body, Moment, Offset, WorkspaceDep, actor_of, known_query_only
from geo_service.api.limits import run_bounded
from geo_service.errors import InvalidInput
from geo_service.snow.export import crew_vehicles, plan_geojson, plan_gpx, route_sheet
from geo_service.snow.service import TIME_LIMIT_MAX_S, effort_for, make_plan

__all__ = ["router"]

router = APIRouter(prefix="/plans/snow", tags=["snow 除雪防汛"], dependencies=[Depends(known_query_only)])


class PlanRequest(Body):
    title: str = Field(default="冻雨除雪预案", max_length=100)
    closed_roads: list[int] = Field(default_factory=list, description="封闭道路编号 / closed road ids")
    closed_bridges: list[int] = Field(
        default_factory=list, description="封闭桥涵编号 / closed bridge/culvert ids"
    )
    locks: dict[str, str] = Field(
        default_factory=dict,
        description='作业对象 → 班组、车辆或 车辆@序号，如 {"bridge:3": "山阳一组", "road:12": "山阳一组-1@1"}；'
        "序号在该对象的优先级内计（@1 为该车该优先级的第一站）/ item → crew, vehicle or vehicle@position; the "
        "position counts within the item's priority class (@1: the vehicle's first stop of that priority)",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    time_limit_s: float = Field(
        default=10,
        gt=0,
        le=TIME_LIMIT_MAX_S,
        allow_inf_nan=False,
        description="计算投入（按迭代计，同一种子结果相同）",
    )
    start: Moment | None = None


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["id"],
        "title": doc["title"],
        "start": doc["start"],
        "clear_times": doc["clear_times"],
        "clear_s": doc["clear_s"],
        "baseline_clear_s": doc["baseline_clear_s"],
        "vehicles": [
            {k: v[k] for k in ("vehicle", "crew", "depot", "work_m", "empty_m", "salt_t", "reloads", "end_s")}
            | {"stops": len(v["stops"])}
            for v in doc["vehicles"]
        ],
        "unserved": doc["unserved"],
        "notices": doc["notices"],
        "closures": doc["closures"],
    }


@router.post("", status_code=201, summary="制定并保存除雪方案 / Plan a response and store it")
async def create_plan(request: Request, ws: WorkspaceDep, body: PlanRequest) -> dict[str, Any]:
    if body.time_limit_s <= 0:
        raise InvalidInput("计算时限必须大于 0 秒", "The time limit must be above 0 s", field="time_limit_s")
    effort = effort_for(body.time_limit_s)
    start = body.start
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    doc = await run_bounded(
        make_plan,
        ws,
        closed_roads=body.closed_roads,
        closed_bridges=body.closed_bridges,
        locks=body.locks,
        seed=body.seed,
        effort=effort,
        start=start,
        title=body.title,
        actor=actor_of(request),
        timeout_s=ws.settings.computation_timeout_s,
    )
    return _summary(doc)


@router.get("", summary="已保存的方案 / Stored plans")
def list_plans(
    ws: WorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=500, description="最新的多少个方案 / how many of the newest")] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The newest plans first, each with its title, start, closures and clear times (plans that look
    alike by id are told apart by what they were made for)."""
    stored = ws.store.list_documents("snow_plan")
    plans = []
    for key, created, by in stored[offset : offset + limit]:
        doc = ws.store.get_document("snow_plan", key)
        plans.append(
            {
                "id": key,
                "created_at": created.isoformat(),
                "by": by,
                "title": doc.get("title"),
                "start": doc.get("start"),
                "closures": doc.get("closures"),
                "locks": doc.get("locks"),
                "clear_times": doc.get("clear_times"),
                "unserved": len(doc.get("unserved", ())),
            }
        )
    return {"plans": plans, "total": len(stored), "offset": offset, "limit": limit}


@router.get("/{plan_id}", summary="方案（GeoJSON：行驶路径与编号站点）/ A plan as GeoJSON")
def get_plan(ws: WorkspaceDep, plan_id: str) -> Response:
    doc = ws.store.get_document("snow_plan", plan_id)
    body = plan_geojson(doc)
    body["summary"] = _summary(dict(doc))
    return JSONResponse(body, media_type="application/geo+json")


#: one vehicle of the crew (its name, 山阳一组-2), kept under its letter; none: the whole crew
VehicleQuery = Annotated[
    str | None, Query(max_length=100, description="只看一辆车（车辆编号）/ one vehicle of the crew only")
]


def _one(vehicle: str | None) -> str | None:
    return (vehicle or "").strip() or None


@router.get("/{plan_id}/crews/{crew}.gpx", summary="班组路线 GPX / GPX for a crew")
def crew_gpx(ws: WorkspaceDep, plan_id: str, crew: str, vehicle: VehicleQuery = None) -> Response:
    """Waypoints named as on the route page (A1 …), a route and a track for each vehicle (A, B …)."""
    doc = ws.store.get_document("snow_plan", plan_id)
    who = _one(vehicle) or crew
    return Response(
        plan_gpx(doc, crew, vehicle=_one(vehicle)),
        media_type="application/gpx+xml",
        # the crew's (or vehicle's) name in the file name (RFC 6266: UTF-8 form, with a plain fallback)
        headers={
            "Content-Disposition": f'attachment; filename="{plan_id}-crew.gpx"; '
            f"filename*=UTF-8''{quote(f'{plan_id}-{who}.gpx', safe='')}"
        },
    )


@router.get(
    "/{plan_id}/crews/{crew}/sheet", response_class=HTMLResponse, summary="可打印路线单 / Printable sheet"
)
def crew_sheet(ws: WorkspaceDep, plan_id: str, crew: str, vehicle: VehicleQuery = None) -> HTMLResponse:
    """Each vehicle under its letter, stops labelled A1 … as on the route page; closures, unserved items."""
    doc = ws.store.get_document("snow_plan", plan_id)
    return HTMLResponse(route_sheet(doc, crew, vehicle=_one(vehicle)))


@router.get("/{plan_id}/crews/{crew}", summary="一个班组的路线（GeoJSON）/ One crew's routes")
def crew_plan(ws: WorkspaceDep, plan_id: str, crew: str) -> Response:
    doc = ws.store.get_document("snow_plan", plan_id)
    body = plan_geojson(doc, crew)
    body["vehicles"] = crew_vehicles(doc, crew)
    body["start"] = doc["start"]
    body["title"] = doc["title"]
    return JSONResponse(body, media_type="application/geo+json")
