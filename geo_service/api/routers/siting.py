"""Siting checks over HTTP: check a drawn zone or point; report on every existing site."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from geo_service.api.deps import WorkspaceDep
from geo_service.errors import InvalidInput
from geo_service.features import new_feature_from_geojson
from geo_service.siting import check_all, check_site, siting_context

__all__ = ["router"]

router = APIRouter(prefix="/siting", tags=["siting 选址"])


class CheckRequest(BaseModel):
    layer: str = "stall_sites"
    feature: dict[str, Any]
    crs: str = "EPSG:4326"
    exclude_id: int | None = None


@router.post("/check", summary="按选址规则检查一个摊区或销售点 / Check a zone or point against the siting rules")
def check(ws: WorkspaceDep, body: CheckRequest) -> dict[str, Any]:
    spec = ws.catalog[body.layer]
    if not spec.siting:
        raise InvalidInput(f"图层 {body.layer} 不适用选址规则", f"Siting rules do not apply to layer {body.layer}",
                           field="layer")
    feat = new_feature_from_geojson(spec, body.feature, source_crs=body.crs, max_vertices=ws.settings.max_vertices)
    report = check_site(siting_context(ws), body.layer, feat.geometry, feat.properties, exclude_id=body.exclude_id)
    return report.as_dict()


@router.get("/report", summary="全部站点的选址检查报告 / Siting report for every existing site")
def report(ws: WorkspaceDep) -> dict[str, Any]:
    ctx = siting_context(ws)
    rows = check_all(ctx, {n: ws.frame(n) for n in ("stall_sites", "festival_sales_points")})
    by_rule: dict[str, int] = {}
    for r in rows:
        for v in r["violations"]:
            by_rule[v["rule"]] = by_rule.get(v["rule"], 0) + 1
    return {"sites": rows, "checked": len(rows), "failing": sum(not r["ok"] for r in rows), "by_rule": by_rule}
