"""12345 cases: dispatch one case or a batch file, workload per squad and beat; Open311 GeoReport v2."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
import shapely
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from geo_service.api.deps import (
    Body,
    Moment,
    WorkspaceDep,
    actor_of,
    known_query_only,
    parse_moment,
    parse_window,
)
from geo_service.assignment.dispatch import CaseAssignment
from geo_service.assignment.service import dispatch_cases as _dispatch_cases
from geo_service.assignment.workload import workload
from geo_service.contexts import coverage_context
from geo_service.crs import parse_crs, to_wgs84
from geo_service.errors import InvalidInput, PayloadTooLarge
from geo_service.formats import read_features
from geo_service.store.base import NewFeature
from geo_service.workspace import Workspace

__all__ = ["router", "run_dispatch"]

router = APIRouter(tags=["dispatch 案件分派"], dependencies=[Depends(known_query_only)])
TZ = dt.timezone(dt.timedelta(hours=8))


class Case(Body):
    # in ``crs`` (lon/lat by default, metres for a projected one): checked against the service area
    # after the transformation, case by case
    lon: float = Field(allow_inf_nan=False)
    lat: float = Field(allow_inf_nan=False)
    category: str = Field(min_length=1, max_length=50)
    reported_at: Moment | None = None
    description: str | None = Field(default=None, max_length=2000)
    source: str = "12345"


class CaseBatch(Body):
    cases: list[Case] = Field(min_length=1)
    crs: str = "EPSG:4326"
    save: bool = False


def run_dispatch(ws: Workspace, cases: gpd.GeoDataFrame, *, with_crews: bool = True) -> list[CaseAssignment]:
    """Dispatch cases (EPSG:4326) against the workspace (see :func:`geo_service.assignment.service.dispatch_cases`)."""
    return _dispatch_cases(ws, cases, with_crews=with_crews)


def _save(
    ws: Workspace, cases: gpd.GeoDataFrame, answers: list[CaseAssignment], actor: str
) -> list[int | None]:
    spec = ws.catalog["incidents"]
    news, rows = [], []
    for a in answers:
        if not a.ok:
            continue
        c = cases.iloc[a.index]
        props = spec.validate_properties(
            {
                "source": c.get("source") or "12345",
                "category": a.category,
                "description": c.get("description"),
                "reported_at": c["reported_at"],
                "status": "duplicate" if a.duplicate_of else "assigned",
                "beat": a.beat,
                "squad": a.squad,
                "department": a.department,
            },
            feature=a.index,
        )
        news.append(NewFeature(props, c.geometry))
        rows.append(a.index)
    made = ws.store.create_features("incidents", news, actor=actor, reason="12345 派单") if news else []
    ids: list[int | None] = [None] * len(answers)
    for row, f in zip(rows, made, strict=True):
        ids[row] = f.id
    return ids


def _respond(ws: Workspace, cases: gpd.GeoDataFrame, save: bool, actor: str) -> dict[str, Any]:
    answers = run_dispatch(ws, cases)
    ids = _save(ws, cases, answers, actor) if save else [None] * len(answers)
    out = []
    for a, fid in zip(answers, ids, strict=True):
        row = a.as_dict()
        row["incident_id"] = fid
        out.append(row)
    return {
        "assignments": out,
        "count": len(out),
        "failed": sum(not a.ok for a in answers),
        "escalated": sum(1 for a in answers if a.escalation),
        "duplicates": sum(1 for a in answers if a.duplicate_of),
    }


def _frame(batch: CaseBatch) -> gpd.GeoDataFrame:
    now = dt.datetime.now(TZ)
    rows = [
        {
            "category": c.category,
            "reported_at": c.reported_at or now,
            "description": c.description,
            "source": c.source,
        }
        for c in batch.cases
    ]
    geoms = to_wgs84([shapely.Point(c.lon, c.lat) for c in batch.cases], parse_crs(batch.crs))
    return gpd.GeoDataFrame(rows, geometry=list(geoms), crs=4326)


@router.post("/dispatch/cases", summary="案件分派：单个或批量 / Dispatch one case or a batch (JSON)")
def dispatch_cases(request: Request, ws: WorkspaceDep, body: CaseBatch) -> dict[str, Any]:
    if len(body.cases) > ws.settings.max_features_per_request:
        raise PayloadTooLarge("批量案件过多", "Too many cases in one batch", field="cases")
    return _respond(ws, _frame(body), body.save, actor_of(request))


@router.post(
    "/dispatch/cases/upload", summary="上传案件表（CSV、XLSX、GeoJSON）批量分派 / Dispatch a file of cases"
)
async def dispatch_upload(
    request: Request,
    ws: WorkspaceDep,
    file: Annotated[UploadFile, File()],
    crs: Annotated[str, Form()] = "EPSG:4326",
    save: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    data = await file.read()
    frame = await run_in_threadpool(  # off the event loop: reading a file may take a while
        read_features,
        data,
        filename=file.filename or "cases",
        spec=ws.catalog["incidents"],
        source_crs=crs,
        max_bytes=ws.settings.max_upload_bytes,
    )
    for col in ("category", "reported_at"):
        if col not in frame.columns:
            raise InvalidInput(f"案件表缺少列「{col}」", f"The case table has no column '{col}'", field=col)
    frame["reported_at"] = [_reported_at(v, i) for i, v in enumerate(frame["reported_at"])]
    return await run_in_threadpool(_respond, ws, frame, save, actor_of(request))


def _reported_at(value: Any, i: int) -> dt.datetime:
    """The time a case of an uploaded table was reported; the case named if it is missing or bad."""
    if value is None or (not isinstance(value, str) and pd.isna(value)) or not str(value).strip():
        raise InvalidInput(
            f"第 {i + 1} 个案件缺少上报时间 reported_at",
            f"Case {i + 1} has no reported_at time",
            feature=i + 1,
            field="reported_at",
        )
    if isinstance(value, dt.datetime):  # a spreadsheet cell: a time already, in the years checked as text
        value = value.isoformat()
    try:
        when = parse_moment(str(value), name="reported_at")
    except InvalidInput as e:
        raise InvalidInput(
            f"第 {i + 1} 个案件：{e.zh}", f"Case {i + 1}: {e.en}", feature=i + 1, field="reported_at"
        ) from None
    assert when is not None
    return when


@router.get("/dispatch/workload", summary="工作量：按中队、网格、小时 / Workload per squad, beat and hour")
def dispatch_workload(ws: WorkspaceDep, start: str, end: str) -> dict[str, Any]:
    s, e = parse_window(start, end)  # each in the years the calendars answer for
    if e <= s:
        raise InvalidInput("时间窗结束早于开始", "The time window ends before it starts", field="end")
    if e - s > dt.timedelta(days=3660):
        raise InvalidInput("时间窗不应超过十年", "The time window must span at most ten years", field="end")
    incidents = ws.frame("incidents")
    when = pd.to_datetime(incidents["reported_at"], utc=True)
    sel = incidents[(when >= pd.Timestamp(s)) & (when < pd.Timestamp(e))]
    ctx = coverage_context(ws)
    return {
        "start": s.isoformat(),
        "end": e.isoformat(),
        **workload(sel, beats=ctx.beats, shifts=ctx.shifts, start=s, end=e, crs=ws.settings.metric_crs),
    }
