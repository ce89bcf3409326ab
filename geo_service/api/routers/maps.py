"""Map pages for planners, dispatchers and crews, and their PNG/PDF prints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from geo_service.api.browser import page_lang
from geo_service.api.deps import parse_moment
from geo_service.api.downloads import content_disposition, file_stem
from geo_service.api.paths import STATIC_DIR
from geo_service.auth import can
from geo_service.contexts import coverage_context
from geo_service.coverage import beat_coverage
from geo_service.duty import calendar_note_pairs, on_duty, open_windows
from geo_service.errors import InvalidInput, NotFound
from geo_service.maps.crew_routes import crew_routes_page
from geo_service.maps.furniture import PAPER
from geo_service.maps.pages import coverage_page
from geo_service.maps.plan_page import SITE_LAYERS, plan_page
from geo_service.maps.prints import print_page
from geo_service.maps.route_page import route_page
from geo_service.snow.export import crew_vehicles
from geo_service.snow.notes import plan_closures
from geo_service.snow.tags import vehicle_tag

__all__ = ["router"]

router = APIRouter(prefix="/maps", tags=["maps 地图"])
TZ = dt.timezone(dt.timedelta(hours=8))


# a page builder: (language, where the static files are, drawn for paper?) -> HTML
Builder = Callable[[str, str, bool], str]
# a print's file name: language -> (name, plain ASCII name for old clients), both without extension
Naming = Callable[[str], tuple[str, str]]


# a refusal (a time that does not parse, a plan or crew that does not exist, no Chromium for a print) is
# raised: the app's handlers answer a browser with a page and an API client with problem+json


def _page(request: Request, build: Builder) -> HTMLResponse:
    return HTMLResponse(build(page_lang(request), "/static", False))


def _print(request: Request, build: Builder, fmt: str, *, paper: str, naming: Naming) -> Response:
    """The print, named for what it shows (``naming``): shown in the browser, saved under that name."""
    lang = page_lang(request)
    name, plain = naming(lang)
    page = build(lang, STATIC_DIR.as_uri(), True)
    data = print_page(page, fmt=fmt, chromium=request.app.state.settings.chromium, orientation=PAPER[paper])
    disposition = content_disposition(f"{name}.{fmt}", fallback=f"{plain}.{fmt}", disposition="inline")
    return Response(
        data,
        media_type="image/png" if fmt == "png" else "application/pdf",
        headers={"Content-Disposition": disposition},
    )


def _today() -> str:
    return dt.datetime.now(TZ).date().isoformat()


def _plan_naming(lang: str) -> tuple[str, str]:
    """The planner's map, dated the day it is printed: 摊区规划图-2026-12-06."""
    return file_stem("stall-zones" if lang == "en" else "摊区规划图", _today()), f"stall-zones-{_today()}"


def _moment(request: Request) -> dt.datetime:
    """The moment the coverage map is drawn for (``at``, else this minute), in Beijing time."""
    at = parse_moment(request.query_params.get("at")) or dt.datetime.now(TZ).replace(second=0, microsecond=0)
    return at.astimezone(TZ)


def _coverage_naming(request: Request) -> Naming:
    """The coverage map at its moment: 值守覆盖图-2026-12-06-1500."""

    def naming(lang: str) -> tuple[str, str]:
        when = _moment(request).strftime("%Y-%m-%d-%H%M")
        return file_stem("duty-coverage" if lang == "en" else "值守覆盖图", when), f"duty-coverage-{when}"

    return naming


def _route_naming(request: Request, plan_id: str, crew: str) -> Naming:
    """A crew's route: the plan's title, the crew (or the one vehicle shown) and the day it starts
    (冻雨除雪预案-中站一组-2026-12-06, 冻雨除雪预案-山阳一组-2-2026-12-06)."""

    def naming(lang: str) -> tuple[str, str]:
        doc = request.app.state.workspace.store.get_document("snow_plan", plan_id)
        day = dt.datetime.fromisoformat(doc["start"]).astimezone(TZ).date().isoformat()
        vehicle = _vehicle(request)
        if vehicle is None:
            return file_stem(str(doc.get("title") or ""), crew, day), f"snow-route-{plan_id}-{day}"
        names = [str(v["vehicle"]) for v in crew_vehicles(doc, crew)]
        tag = vehicle_tag(names.index(vehicle)) if vehicle in names else "x"
        # the vehicle's name says its crew (山阳一组-2) where the plan names them so
        who = (vehicle,) if vehicle.startswith(crew) else (crew, vehicle)
        return file_stem(str(doc.get("title") or ""), *who, day), f"snow-route-{plan_id}-{tag}-{day}"

    return naming


def _vehicle(request: Request) -> str | None:
    """The one vehicle of the crew that a route page shows (``vehicle``), or None for all of them."""
    return (request.query_params.get("vehicle") or "").strip() or None


def _plan_builder(request: Request) -> Builder:
    ws = request.app.state.workspace
    editable, may_override = _planner_rights(request)
    return lambda lang, static, printing: plan_page(
        ws,
        lang=lang,
        static=static,
        query=dict(request.query_params),
        printing=printing,
        editable=editable,
        may_override=may_override,
    )


def _planner_rights(request: Request) -> tuple[tuple[str, ...], bool]:
    """The site layers the signed-in role may edit (their declarations' ``editors``; admin all) and
    whether it may override a siting rule: what the planner's map offers (the API checks again)."""
    user = getattr(request.state, "user", None)
    if user is None:
        return (), False
    catalog = request.app.state.catalog
    editable = tuple(
        name
        for name in SITE_LAYERS
        if name in catalog and (user.role == "admin" or user.role in catalog[name].editors)
    )
    return editable, can(user.role, "siting:override")


def _coverage_builder(request: Request) -> Builder:
    ws = request.app.state.workspace

    def build(lang: str, static: str, printing: bool) -> str:
        at = _moment(request)
        ctx = coverage_context(ws)
        beats = ws.frame("patrol_beats")
        running = {s.beat for s in on_duty(ctx.shifts, at)}
        cov = beat_coverage(  # the map draws gaps and overlaps, not mismatched edges: not looked for
            beats, ctx.shifts, ws.frame("districts"), at=at, crs=ws.settings.metric_crs, mismatches=()
        )
        incidents = ws.frame("incidents")
        # the cases still open that had been reported by the moment shown, the latest 500 (a map of
        # last January shows none of this week's cases)
        reported = pd.to_datetime(incidents["reported_at"], utc=True)
        shown = incidents["status"].isin(["open", "assigned", "escalated"]) & (reported <= pd.Timestamp(at))
        open_cases = incidents[shown].loc[reported[shown].sort_values(ascending=False).index[:500]]
        assignments: dict[Any, dict[str, Any]] = {}
        if len(open_cases):
            from geo_service.api.routers.dispatch import run_dispatch

            for fid, a in zip(open_cases.index, run_dispatch(ws, open_cases, with_crews=False), strict=True):
                assignments[fid] = {"squad": a.squad, "escalation": a.escalation, "department": a.department}
        # the roster's holidays for a year the calendar does not know yet are assumed: said on the map,
        # as /coverage/beats says it (the Spring Festival weeks of next year, when the map is most used)
        day = at.astimezone(TZ).date()
        notices = [pair[1] if lang == "en" else pair[0] for pair in calendar_note_pairs(day, day)]
        fest = ws.frame("festival_sales_points")
        hour_end = at + dt.timedelta(minutes=1)
        open_now = [bool(open_windows(row.to_dict(), at, hour_end)) for _, row in fest.iterrows()]
        return coverage_page(
            ws,
            at=at,
            beats=beats,
            on_duty=running,
            gaps=cov.gaps,
            overlaps=cov.overlaps,
            figures=cov.figures,
            cases=open_cases,
            assignments=assignments,
            festival_open=fest.iloc[[i for i, o in enumerate(open_now) if o]],
            notices=notices,
            lang=lang,
            static=static,
            query=dict(request.query_params),
            printing=printing,
        )

    return build


def _route_builder(request: Request, plan_id: str, crew: str) -> Builder:
    ws = request.app.state.workspace

    def build(lang: str, static: str, printing: bool) -> str:
        doc = ws.store.get_document("snow_plan", plan_id)
        return route_page(
            ws,
            doc,
            crew_vehicles(doc, crew),
            crew,
            vehicle=_vehicle(request),
            lang=lang,
            static=static,
            query=dict(request.query_params),
            printing=printing,
        )

    return build


@router.get("/plan", response_class=HTMLResponse, summary="规划人员：绘制摊区 / Planner's map")
def plan_map(request: Request) -> HTMLResponse:
    return _page(request, _plan_builder(request))


@router.get("/plan.{fmt}", summary="规划图 PNG/PDF / Planner's map as PNG or PDF")
def plan_print(request: Request, fmt: str) -> Response:
    return _print(request, _plan_builder(request), _fmt(fmt), paper="plan", naming=_plan_naming)


@router.get(
    "/coverage", response_class=HTMLResponse, summary="指挥中心：值守覆盖图 / Dispatcher's coverage map"
)
def coverage_map(request: Request) -> HTMLResponse:
    return _page(request, _coverage_builder(request))


@router.get("/coverage.{fmt}", summary="覆盖图 PNG/PDF / Coverage map as PNG or PDF")
def coverage_print(request: Request, fmt: str) -> Response:
    return _print(
        request, _coverage_builder(request), _fmt(fmt), paper="coverage", naming=_coverage_naming(request)
    )


@router.get("/route/{plan_id}/{crew}.{fmt}", summary="作业路线图 PNG/PDF / Crew route as PNG or PDF")
def route_print(request: Request, plan_id: str, crew: str, fmt: str) -> Response:
    return _print(
        request,
        _route_builder(request, plan_id, crew),
        _fmt(fmt),
        paper="route",
        naming=_route_naming(request, plan_id, crew),
    )


@router.get(
    "/route/{plan_id}/{crew}", response_class=HTMLResponse, summary="作业人员：路线图 / Crew's route map"
)
def route_map(request: Request, plan_id: str, crew: str) -> HTMLResponse:
    return _page(request, _route_builder(request, plan_id, crew))


#: how many of a crew's newest plans its start page lists
CREW_PLANS_LISTED = 30


@router.get("/crews/{crew}", response_class=HTMLResponse, summary="作业人员：本班组路线 / A crew's routes")
def crew_routes(request: Request, crew: str) -> HTMLResponse:
    """A crew's start page (where a crew member lands after signing in): the stored plans that give the
    crew a route, newest first, with their starts and links to the route maps."""
    ws = request.app.state.workspace
    store = ws.store
    plans: list[dict[str, Any]] = []
    more = False
    for key, _, _ in store.list_documents("snow_plan"):  # newest first
        doc = store.get_document("snow_plan", key)
        mine = [v for v in doc.get("vehicles", []) if v.get("crew") == crew]
        if not mine:
            continue
        if len(plans) == CREW_PLANS_LISTED:
            more = True
            break
        plans.append(
            {
                "id": key,
                "title": doc.get("title"),
                "start": doc.get("start"),
                "vehicles": [{"vehicle": v["vehicle"], "stops": len(v.get("stops", ()))} for v in mine],
                "closures": [c["name"] or c["item"] for c in plan_closures(doc)],
                "unserved": len(doc.get("unserved", ())),
            }
        )
    if not plans:
        crews = ws.frame("crews")
        known = set(crews["crew"]) if "crew" in crews.columns else set()
        if crew not in known:
            raise NotFound(
                f"没有班组「{crew}」（有：{'、'.join(sorted(known)) or '无'}）",
                f"There is no crew '{crew}' (crews: {', '.join(sorted(known)) or 'none'})",
                layer="crews",
                field="crew",
            )
    lang = page_lang(request)
    return HTMLResponse(crew_routes_page(crew, plans, lang=lang, query=dict(request.query_params), more=more))


def _fmt(fmt: str) -> str:
    if fmt not in ("png", "pdf"):
        raise InvalidInput(
            f"格式「{fmt}」不支持，可用 png、pdf",
            f"Format '{fmt}' is not supported; use png or pdf",
            field="fmt",
        )
    return fmt
