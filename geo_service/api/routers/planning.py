"""Planning computations (nothing stored): vendors to stall sites, choosing new stall sites."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Depends
from pydantic import BeforeValidator, Field, StrictInt, ValidationInfo

from geo_service.api.deps import Body, WorkspaceDep, known_query_only
from geo_service.api.limits import run_bounded
from geo_service.assignment.planning import FEATURE_ID
from geo_service.assignment.planning_service import plan_sites, plan_vendors
from geo_service.crs import parse_crs, to_wgs84
from geo_service.duty import parse_time
from geo_service.errors import InvalidInput, PayloadTooLarge
from geo_service.geometry import (
    check_kinds,
    check_positions,
    check_vertices,
    geometry_from_geojson,
    site_kinds,
)

__all__ = ["router"]

router = APIRouter(prefix="/planning", tags=["planning 规划"], dependencies=[Depends(known_query_only)])


def _frame(
    fc: dict[str, Any],
    crs: str,
    what: str,
    bounds: tuple[float, float, float, float],
    kinds: tuple[str, ...],
    thing: tuple[str, str],
    *,
    max_vertices: int,
    most: int,
) -> gpd.GeoDataFrame:
    """The features of ``fc`` (the request's ``what``), at most ``most`` of them, each a ``thing`` given as
    one of ``kinds``, of at most ``max_vertices`` vertices (413, as a site written to a layer)."""
    feats = fc.get("features") if isinstance(fc, dict) else None
    if not isinstance(feats, list) or not feats:
        raise InvalidInput(
            f"{what}应为非空 FeatureCollection", f"{what} must be a non-empty FeatureCollection", field=what
        )
    if len(feats) > most:  # (as a batch of cases: a computation of every pair is refused before it starts)
        raise PayloadTooLarge(
            f"{what} 有 {len(feats)} 个要素，一次最多 {most} 个",
            f"{what} holds {len(feats)} features; at most {most} in one request",
            field=what,
        )
    for i, f in enumerate(feats):
        label = f"{what}[{i}]"
        if not isinstance(f, dict):
            raise InvalidInput(
                f"{label} 应为 GeoJSON 要素（对象），收到 {f!r}",
                f"{label} must be a GeoJSON Feature (an object), not {f!r}",
                feature=label,
                field=what,
            )
        if not isinstance(f.get("properties") or {}, dict):
            raise InvalidInput(
                f"{label} 的 properties 应为对象或 null",
                f"{label}: properties must be an object or null",
                feature=label,
                field=what,
            )
    geoms = [geometry_from_geojson(f.get("geometry"), feature=f"{what}[{i}]") for i, f in enumerate(feats)]
    for i, g in enumerate(geoms):  # before their coordinates are converted
        check_vertices(g, max_vertices, feature=f"{what}[{i}]", field=what)
    # values kept as given (objects): a column of numbers with gaps would turn 7 into 7.0 and round a long
    # id, and a column of numbers or booleans into numpy scalars that an answer cannot carry
    props = pd.DataFrame(
        [f.get("properties") or {} for f in feats], index=pd.RangeIndex(len(feats)), dtype=object
    )
    props[FEATURE_ID] = pd.Series([f.get("id") for f in feats], index=props.index, dtype=object)
    wgs84 = list(to_wgs84(geoms, parse_crs(crs)))
    check_positions(wgs84, bounds=bounds, what=what)
    check_kinds(wgs84, kinds, what=what, thing=thing)
    return gpd.GeoDataFrame(props, geometry=wgs84, crs=4326)


def _day(value: Any, info: ValidationInfo) -> Any:
    """A day written as dispatchers write times (2027-01-25, 2027年1月25日), read in Beijing time."""
    name = info.field_name or "on"
    if isinstance(value, str):
        moment = parse_time(value, field=name)
        return None if moment is None else moment.date()
    if isinstance(value, bool):
        raise InvalidInput(
            f"{name} 应为日期，如 2027-01-25，而不是 {str(value).lower()}",
            f"{name} must be a day such as 2027-01-25, not {str(value).lower()}",
            field=name,
        )
    if isinstance(value, (int, float)):  # 0 is no day (pydantic would read it as 1970-01-01)
        raise InvalidInput(
            f"{name} 应为日期，如 2027-01-25，而不是数字 {value}",
            f"{name} must be a day such as 2027-01-25, not the number {value}",
            field=name,
        )
    return value


Day = Annotated[dt.date, BeforeValidator(_day)]
_ON = "规划哪一天的开放站点（默认今天，北京时间）/ the day whose open sites count (default today, Beijing)"


class VendorRequest(Body):
    vendors: dict[str, Any] = Field(description="FeatureCollection of vendors' usual spots with name, goods")
    max_walk_m: float = Field(default=1500, gt=0, le=10_000, allow_inf_nan=False)
    crs: str = "EPSG:4326"
    on: Day | None = Field(default=None, description=_ON)


@router.post("/vendors", summary="流动摊贩安置到摊位（容量、品类、最短步行）/ Vendors to stall sites")
async def vendors(ws: WorkspaceDep, body: VendorRequest) -> dict[str, Any]:
    frame = _frame(
        body.vendors,
        body.crs,
        "vendors",
        ws.settings.service_bounds,
        ("Point",),
        ("摊贩的位置", "a vendor's spot"),
        max_vertices=ws.settings.max_vertices,
        most=ws.settings.max_features_per_request,
    )
    return await run_bounded(
        plan_vendors,
        ws,
        frame,
        max_walk_m=body.max_walk_m,
        on=body.on,
        timeout_s=ws.settings.computation_timeout_s,
    )


class SiteRequest(Body):
    method: Literal["lscp", "mclp", "pmedian"] = "mclp"
    # strict: JSON true or "2" is no number of sites (pydantic would read them as 1 and 2)
    p: StrictInt | None = Field(default=None, ge=1, le=500, description="新增站点数（MCLP、p-median）")
    max_walk_m: float = Field(default=500, gt=0, le=5000, allow_inf_nan=False)
    candidates: dict[str, Any] | None = Field(
        default=None, description="候选点 FeatureCollection；省略则沿背街小巷生成"
    )
    keep_existing: bool = True
    on: Day | None = Field(default=None, description=_ON)
    district: str | None = Field(
        default=None,
        description="只在该区内选址，只计该区人口 / new sites in this district only, for its people only",
    )
    crs: str = "EPSG:4326"
    time_limit_s: float = Field(
        default=20,
        gt=0,
        le=600,
        allow_inf_nan=False,
        description="p-median 的计算时间：先给出启发式方案，再在此时间内证明最优；未证明时答复给出与最优之差的上限"
        " / p-median's time: a heuristic answer first, then a proof of optimality within this time; "
        "when unproven the answer gives how far from the best it can be",
    )


@router.post("/sites", summary="新增摊点选址（LSCP、MCLP、p-median）/ Choose new stall sites")
async def sites(ws: WorkspaceDep, body: SiteRequest) -> dict[str, Any]:
    districts = ws.frame("districts")
    if body.district is not None and body.district not in set(districts["name"]):
        raise InvalidInput(
            f"没有名为「{body.district}」的区（现有：{'、'.join(districts['name'])}）",
            f"No district named '{body.district}' (districts: {', '.join(districts['name'])})",
            field="district",
        )
    cands = None
    if body.candidates is not None:
        cands = _frame(
            body.candidates,
            body.crs,
            "candidates",
            ws.settings.service_bounds,
            site_kinds(ws.catalog["stall_sites"].geometry_types),
            ("候选站点", "a candidate site"),
            max_vertices=ws.settings.max_vertices,
            most=ws.settings.max_features_per_request,
        )
    result = await run_bounded(
        plan_sites,
        ws,
        cands,
        method=body.method,
        p=body.p,
        max_walk_m=body.max_walk_m,
        keep_existing=body.keep_existing,
        district=body.district,
        time_limit_s=body.time_limit_s,
        on=body.on,
        timeout_s=ws.settings.computation_timeout_s,
    )
    cap = ws.settings.computation_timeout_s
    if body.method == "pmedian" and body.time_limit_s > cap:
        result["notices"].append(
            f"计算时间以服务上限 {cap:.0f} 秒为准（请求为 {body.time_limit_s:.0f} 秒）/ the service's limit of "
            f"{cap:.0f} s applied, not the {body.time_limit_s:.0f} s asked for"
        )
    return result
