"""Dispatch against a workspace: its beats, rosters, category table, assets and crews."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import shapely

from geo_service.assignment.dispatch import CaseAssignment, Categories, dispatch
from geo_service.assignment.duplicates import cell_text
from geo_service.assignment.intake import Intake
from geo_service.catalog import LayerSpec
from geo_service.contexts import coverage_context, drive_network
from geo_service.errors import InvalidInput
from geo_service.geometry import validate_geometry
from geo_service.workspace import Workspace

__all__ = ["dispatch_cases"]


def dispatch_cases(
    ws: Workspace, cases: gpd.GeoDataFrame, *, with_crews: bool = True, intake: Intake | None = None
) -> list[CaseAssignment]:
    """Assign cases (EPSG:4326; ``category``, ``reported_at``) to beat, squad, department and crew.

    ``intake``: what was found wrong with each case while reading it (a location problem given there
    stands, e.g. an empty 经度 cell, over the one its missing point would have), its spreadsheet rows."""
    ctx = coverage_context(ws)
    incidents = ws.frame("incidents")
    open_cases = incidents[incidents["status"].isin(["open", "assigned", "escalated"])]
    # every stored case's 12345 ticket number (closed ones too), with its category: the same ticket of
    # the same category again is a duplicate
    tickets: dict[str, tuple[int, str]] = {}
    if "case_no" in incidents:
        for fid, no in incidents["case_no"].dropna().items():
            text = cell_text(no)
            if text is not None:
                tickets.setdefault(text, (int(fid), str(incidents.at[fid, "category"])))
    net = drive_network(ws) if with_crews else None
    intake = intake or Intake()
    located = location_problems(
        cases.geometry.to_numpy(), ws.catalog["incidents"], ws.settings.service_bounds
    )
    if intake.location_problems is not None:
        located = [given or found for given, found in zip(intake.location_problems, located, strict=True)]
    return dispatch(
        cases,
        beats=ctx.beats,
        shifts=ctx.shifts,
        categories=Categories.from_frame(ws.frame("case_categories")),
        districts=ws.frame("districts"),
        assets=ws.frame("bridges_culverts"),
        open_cases=open_cases,
        tickets=tickets,
        network=net,
        depots=ws.frame("depots"),
        crews=ws.frame("crews"),
        crs=ws.settings.metric_crs,
        intake=replace(intake, location_problems=located),
    )


def location_problems(
    geoms: np.ndarray, spec: LayerSpec, bounds: tuple[float, float, float, float]
) -> list[tuple[str, str] | None]:
    """Per case point (EPSG:4326): why it cannot be a case's location, in Chinese and English, to follow
    the case's name (no
    point, not a point, NaN or infinite, outside the service area: as a case saved to ``spec`` would be
    refused), or None. Points inside the area pass at array speed; the others are named one by one.

    The Chinese is said of a case's place as a clerk would (第 3 行：未填写位置（经纬度）), not of a
    layer's geometry; a position's own fault (颠倒, 超出范围, 不在服务范围内) as the layer says it."""
    geoms = np.asarray(geoms, dtype=object)
    out: list[tuple[str, str] | None] = [None] * len(geoms)
    ok = (shapely.get_type_id(geoms) == shapely.GeometryType.POINT) & ~shapely.is_empty(geoms)
    x, y = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    x[ok], y[ok] = shapely.get_x(geoms[ok]), shapely.get_y(geoms[ok])
    minx, miny, maxx, maxy = bounds
    with np.errstate(invalid="ignore"):
        ok &= np.isfinite(x) & np.isfinite(y) & (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
    for i in np.flatnonzero(~ok):
        try:
            validate_geometry(spec, geoms[i], bounds=bounds)
        except InvalidInput as e:  # said of the case, not of the layer's feature
            zh = _place_zh(geoms[i], e.zh.removeprefix(f"图层 {spec.name}："))
            en = e.en.removeprefix(f"Layer {spec.name}: ")
            out[i] = (zh, f"location: {en[:1].lower()}{en[1:]}")
        else:  # valid for the layer after all (e.g. a one-point multipoint): still not one position
            out[i] = ("位置只能是一个点", "the location must be one point")
    return out


def _place_zh(geom: shapely.Geometry | None, said: str) -> str:
    """Why a case's place is refused, in Chinese: what is missing or wrong with it in a clerk's words,
    or (a position that is there and is a number) what the layer said of the position."""
    if geom is None or not isinstance(geom, shapely.Geometry):
        return "未填写位置（经纬度）"
    if geom.is_empty:
        return "位置为空，没有经纬度"
    if geom.geom_type != "Point":
        return f"位置只能是一个点，不能是{_SHAPE_ZH.get(geom.geom_type, geom.geom_type)}"
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        return "经纬度不是有效的数值（NaN 或无穷大）"
    return said


_SHAPE_ZH = {
    "MultiPoint": "多个点",
    "LineString": "线",
    "MultiLineString": "线",
    "Polygon": "面",
    "MultiPolygon": "面",
    "GeometryCollection": "多种图形的组合",
}
