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
    WorkspaceDep,
    actor_of,
    known_form_fields,
    known_query_only,
    parse_window,
)
from geo_service.assignment.dispatch import CaseAssignment
from geo_service.assignment.duplicates import cell_text
from geo_service.assignment.intake import Intake, case_times
from geo_service.assignment.service import dispatch_cases as _dispatch_cases
from geo_service.assignment.workload import workload
from geo_service.catalog import LayerSpec
from geo_service.contexts import coverage_context
from geo_service.crs import parse_crs, to_wgs84
from geo_service.errors import InvalidInput, PayloadTooLarge
from geo_service.formats import read_rows
from geo_service.store.base import NewFeature
from geo_service.workspace import Workspace

__all__ = ["ADDRESS_MOST", "DESCRIPTION_MOST", "router", "run_dispatch"]

router = APIRouter(tags=["dispatch 案件分派"], dependencies=[Depends(known_query_only)])
TZ = dt.timezone(dt.timedelta(hours=8))


DESCRIPTION_MOST, ADDRESS_MOST = 2000, 500  # characters of a case's description and address (Open311's too)


class Case(Body):
    # in ``crs`` (lon/lat by default, metres for a projected one): checked against the service area
    # after the transformation, case by case
    lon: float = Field(allow_inf_nan=False)
    lat: float = Field(allow_inf_nan=False)
    category: str = Field(min_length=1, max_length=50)
    # ISO 8601 or 2026/12/1 21:00, 2026年12月1日 21:00 …, Beijing time unless zoned; none: now. A time
    # that cannot be read (or outside 1901–2099) is that case's error, not the batch's. A number is
    # taken as it is, to be refused as no time (pydantic would read 46357, an Excel serial day, as
    # seconds since 1970, and the case would be "before the roster"); so is a boolean (pydantic would
    # read true as 1, and the case be refused as a number)
    reported_at: str | dt.datetime | bool | int | float | None = Field(
        default=None, examples=["2026-12-01T21:00:00+08:00", "2026/12/01 21:00", "2026年12月1日 21:00"]
    )
    description: str | None = Field(default=None, max_length=DESCRIPTION_MOST)
    source: str = "12345"
    case_no: str | None = Field(
        default=None, max_length=64, description="12345 工单编号 / the 12345 case number"
    )
    address: str | None = Field(
        default=None, max_length=ADDRESS_MOST, description="发生地址 / where it happened, as told"
    )


class CaseBatch(Body):
    cases: list[Case] = Field(min_length=1)
    crs: str = "EPSG:4326"
    save: bool = False


def run_dispatch(
    ws: Workspace, cases: gpd.GeoDataFrame, *, with_crews: bool = True, intake: Intake | None = None
) -> list[CaseAssignment]:
    """Dispatch cases (EPSG:4326) against the workspace (see :func:`geo_service.assignment.service.dispatch_cases`)."""
    return _dispatch_cases(ws, cases, with_crews=with_crews, intake=intake)


def _save(
    ws: Workspace, cases: gpd.GeoDataFrame, answers: list[CaseAssignment], actor: str, *, save: bool = True
) -> tuple[list[int | None], dict[int, dict[str, Any]]]:
    """Store the dispatched cases; (incident id per answer, the refusal of each case that cannot be
    stored, by answer): a bad value is that case's error, the rest are stored. Without ``save``
    nothing is stored, and the refusals are those saving would give."""
    spec = ws.catalog["incidents"]
    news, rows = [], []
    refused: dict[int, dict[str, Any]] = {}
    unsaved: set[str] = (
        set()
    )  # the names of the batch's cases not stored (a duplicate of one is no duplicate)
    for a in answers:
        name = f"row {a.row}" if a.row is not None else f"case {a.index + 1}"
        if not a.ok:
            unsaved.add(name)
            continue
        c = cases.iloc[a.index]
        duplicate = a.same_ticket and a.duplicate_of not in unsaved
        try:
            props = spec.validate_properties(
                {
                    "source": cell_text(c.get("source")) or "12345",  # an empty cell (NaN) too
                    "category": a.category,
                    "description": cell_text(c.get("description")),
                    "case_no": cell_text(c.get("case_no")),
                    "address": cell_text(c.get("address")),
                    "reported_at": c["reported_at"],
                    # the same ticket number is a duplicate for certain; a probable one (same category,
                    # near, within a day) goes its usual way, flagged in the answer, for a person to judge
                    "status": "duplicate" if duplicate else ("escalated" if a.escalation else "assigned"),
                    "beat": a.beat,
                    "squad": a.squad,
                    "department": a.department,
                    "escalated_to": a.escalation,  # the duty office a case no squad took went to
                },
                feature=f"row {a.row}" if a.row is not None else f"case {a.index + 1}",
            )
        except InvalidInput as exc:
            unsaved.add(name)
            where_zh = f"第 {a.row} 行" if a.row is not None else f"第 {a.index + 1} 个案件"
            where_en = f"Row {a.row}" if a.row is not None else f"Case {a.index + 1}"
            refused[a.index] = {
                "code": "not-saved",
                "codes": ["not-saved"],
                "field": exc.field,
                "detail_zh": f"{where_zh}{'未保存' if save else '保存时会被拒绝'}：{exc.zh}",
                "detail_en": f"{where_en} {'not saved' if save else 'would not be saved'}: {exc.en}",
            }
            continue
        news.append(NewFeature(props, c.geometry))
        rows.append(a.index)
    if not save:
        return [None] * len(answers), refused
    made = ws.store.create_features("incidents", news, actor=actor, reason="12345 派单") if news else []
    ids: list[int | None] = [None] * len(answers)
    for row, f in zip(rows, made, strict=True):
        ids[row] = f.id
    return ids, refused


def _respond(
    ws: Workspace, cases: gpd.GeoDataFrame, save: bool, actor: str, intake: Intake | None = None
) -> dict[str, Any]:
    """The batch's answer, case by case as a bad time or place is (a batch of one too): a case the
    store refuses (a source the layer does not take) is ``ok: false`` with its error, where it would
    have gone kept beside it, and counts as failed (``not_saved`` says how many of those were
    dispatched but not stored). A trial run (``save`` false) gives the same refusals, worded as what
    saving would do."""
    answers = run_dispatch(ws, cases, intake=intake)
    ids, refused = _save(
        ws, cases, answers, actor, save=save
    )  # (a trial run checks what saving would refuse)
    out = []
    for a, fid in zip(answers, ids, strict=True):
        row = a.as_dict()
        row["incident_id"] = fid
        if a.index in refused:  # dispatched, but not stored: refused, as the case's error says
            row["ok"] = False
            row["error"] = refused[a.index]
        out.append(row)
    return {
        "assignments": out,
        "count": len(out),
        "failed": sum(not row["ok"] for row in out),
        "not_saved": len(refused),
        "escalated": sum(1 for a in answers if a.escalation),
        "duplicates": sum(1 for a in answers if a.duplicate_of),
    }


def _frame(batch: CaseBatch) -> tuple[gpd.GeoDataFrame, Intake]:
    times, problems, assumed = case_times(
        [c.reported_at for c in batch.cases], received=dt.datetime.now(TZ), nan_is_blank=False
    )
    rows = [
        {
            "category": c.category,
            "reported_at": when,
            "description": c.description,
            "source": c.source,
            "case_no": c.case_no,
            "address": c.address,
        }
        for c, when in zip(batch.cases, times, strict=True)
    ]
    geoms = to_wgs84([shapely.Point(c.lon, c.lat) for c in batch.cases], parse_crs(batch.crs))
    frame = gpd.GeoDataFrame(rows, geometry=list(geoms), crs=4326)
    return frame, Intake(time_problems=problems, time_assumed=assumed)


@router.post("/dispatch/cases", summary="案件分派：单个或批量 / Dispatch one case or a batch (JSON)")
def dispatch_cases(request: Request, ws: WorkspaceDep, body: CaseBatch) -> dict[str, Any]:
    _not_too_many(
        len(body.cases), ws.settings.max_features_per_request, what=("案件", "cases"), field="cases"
    )
    frame, intake = _frame(body)
    return _respond(ws, frame, body.save, actor_of(request), intake)


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
    await known_form_fields(request, ("file", "crs", "save"), what=("上传案件表", "a case upload"))
    data = await file.read()
    spec = ws.catalog["incidents"]
    sheet = await run_in_threadpool(  # off the event loop: reading a file may take a while
        read_rows,
        data,
        filename=file.filename or "cases",
        spec=spec,
        source_crs=crs,
        max_bytes=ws.settings.max_upload_bytes,
    )
    frame = sheet.frame
    _not_too_many(len(frame), ws.settings.max_features_per_request, what=("案件表的行", "rows"), field="file")
    for name in ("category", "reported_at"):
        if name not in frame.columns:
            raise _missing_column(spec, name, frame)
    # a blank cell is the time the file was received, as a JSON case without a time; a bad one is that row's error
    times, problems, assumed = case_times(frame["reported_at"], received=dt.datetime.now(TZ))
    frame["reported_at"] = times
    intake = Intake(
        rows=sheet.rows, location_problems=sheet.problems, time_problems=problems, time_assumed=assumed
    )
    return await run_in_threadpool(_respond, ws, frame, save, actor_of(request), intake)


def _not_too_many(n: int, most: int, *, what: tuple[str, str], field: str) -> None:
    """413 for a batch of more than ``most`` cases (a JSON batch, or an uploaded table's rows alike)."""
    if n > most:
        raise PayloadTooLarge(
            f"批量案件过多：{n} 个{what[0]}，一次最多 {most} 个",
            f"Too many cases in one batch: {n} {what[1]}, at most {most} at once",
            field=field,
        )


def _missing_column(spec: LayerSpec, name: str, frame: gpd.GeoDataFrame) -> InvalidInput:
    """The case table lacks a column: named in both languages, with the headers taken for it and the
    columns the table has."""
    f = spec.field(name)
    headers = f.headers()
    geometry = getattr(frame, "_geometry_column_name", None)
    # the columns read, a recognised one shown as its field (the reader renamed it: 案件类别 → category)
    columns = [str(c) for c in frame.columns if c != geometry]
    found_zh = [f"{spec.field(c).label('zh')}（{c}）" if c in spec.field_names else c for c in columns]
    found_en = [f"{spec.field(c).label('zh')} ({c})" if c in spec.field_names else c for c in columns]
    # a time may also come as a day column and a time-of-day column (geo_service.formats.day_and_clock)
    split_zh = "，或日期、时刻分两列（如 受理日期、受理时刻）" if f.type == "datetime" else ""
    split_en = (
        " (or a date column and a time column, such as 受理日期 and 受理时刻)" if f.type == "datetime" else ""
    )
    return InvalidInput(
        f"案件表缺少「{f.label('zh')}」列（{name}）；可用的表头：{'、'.join(headers)}{split_zh}；"
        f"表中现有列：{'、'.join(found_zh) or '—'}",
        f"The case table has no '{f.label('en')}' column ({name}, 「{f.label('zh')}」); headers taken for it: "
        f"{', '.join(headers)}{split_en}; columns found: {', '.join(found_en) or '—'}",
        field=name,
    )


@router.get("/dispatch/workload", summary="工作量：按中队、网格、小时 / Workload per squad, beat and hour")
def dispatch_workload(ws: WorkspaceDep, start: str, end: str) -> dict[str, Any]:
    s, e = parse_window(start, end)  # each in the years the calendars answer for
    if e <= s:
        raise InvalidInput("时间窗的结束须晚于开始", "The time window must end after it starts", field="end")
    if e - s > dt.timedelta(days=3660):
        raise InvalidInput("时间窗不应超过十年", "The time window must span at most ten years", field="end")
    incidents = ws.frame("incidents")
    when = pd.to_datetime(incidents["reported_at"], utc=True)
    sel = incidents[(when >= pd.Timestamp(s)) & (when < pd.Timestamp(e))]
    repeat = (sel["status"] == "duplicate").to_numpy()  # a case reported again is one case's work
    ctx = coverage_context(ws)
    return {
        "start": s.isoformat(),
        "end": e.isoformat(),
        **workload(
            sel[~repeat], beats=ctx.beats, shifts=ctx.shifts, start=s, end=e, crs=ws.settings.metric_crs
        ),
        "duplicates_left_out": int(repeat.sum()),
    }
