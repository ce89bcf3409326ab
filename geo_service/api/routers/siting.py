"""Siting checks over HTTP: check a drawn zone or point; report on every existing site."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import Field

from geo_service.api.deps import Body, WorkspaceDep, known_query_only
from geo_service.errors import InvalidInput, NotFound
from geo_service.features import new_feature_from_geojson
from geo_service.siting import (
    SITE_LAYERS,
    check_all,
    check_site,
    report_features,
    report_summary,
    siting_context,
)

__all__ = ["router"]

router = APIRouter(prefix="/siting", tags=["siting 选址"], dependencies=[Depends(known_query_only)])


class CheckRequest(Body):
    """A drawn zone or point to check (not stored)."""

    layer: str = Field("stall_sites", description="stall_sites | festival_sales_points")
    feature: dict[str, Any] = Field(..., description="GeoJSON Feature (geometry + properties)")
    crs: str = Field("EPSG:4326", description="CRS of the coordinates: EPSG code, gcj02 or bd09")
    exclude_id: int | None = Field(None, description="the feature's own id when it replaces a stored one")


@router.post(
    "/check", summary="按选址规则检查一个摊区或销售点 / Check a zone or point against the siting rules"
)
def check(ws: WorkspaceDep, body: CheckRequest) -> dict[str, Any]:
    """Every violation (rule, zh/en message, source, conflict geometry in EPSG:4326) and unchecked rule."""
    if body.layer not in ws.catalog:
        raise NotFound(f"图层 {body.layer} 不存在", f"No layer {body.layer}", field="layer")
    spec = ws.catalog[body.layer]
    if not spec.siting:
        raise InvalidInput(
            f"图层 {body.layer} 不适用选址规则",
            f"Siting rules do not apply to layer {body.layer}",
            field="layer",
        )
    feat = new_feature_from_geojson(
        spec, body.feature, source_crs=body.crs, max_vertices=ws.settings.max_vertices
    )
    report = check_site(
        siting_context(ws), body.layer, feat.geometry, feat.properties, exclude_id=body.exclude_id
    )
    return {**report.as_dict(), "crs": "EPSG:4326", "features": report_features(report)}


@router.get("/report", summary="全部站点的选址检查报告 / Siting report for every existing site")
def report(
    ws: WorkspaceDep, layer: Literal["stall_sites", "festival_sales_points"] | None = None
) -> dict[str, Any]:
    """One row per site (violations and unchecked rules), counts per rule and the conflicts as GeoJSON."""
    layers = (layer,) if layer else SITE_LAYERS
    rows = check_all(siting_context(ws), {n: ws.frame(n) for n in layers})
    return {"sites": rows, **report_summary(rows)}
