"""Dispatch against a workspace: its beats, rosters, category table, assets and crews."""

from __future__ import annotations

import geopandas as gpd

from geo_service.assignment.dispatch import CaseAssignment, Categories, dispatch
from geo_service.contexts import coverage_context, drive_network
from geo_service.workspace import Workspace

__all__ = ["dispatch_cases"]


def dispatch_cases(
    ws: Workspace, cases: gpd.GeoDataFrame, *, with_crews: bool = True
) -> list[CaseAssignment]:
    """Assign cases (EPSG:4326; ``category``, ``reported_at``) to beat, squad, department and crew."""
    ctx = coverage_context(ws)
    incidents = ws.frame("incidents")
    open_cases = incidents[incidents["status"].isin(["open", "assigned"])]
    net = drive_network(ws) if with_crews else None
    return dispatch(
        cases,
        beats=ctx.beats,
        shifts=ctx.shifts,
        categories=Categories.from_frame(ws.frame("case_categories")),
        districts=ws.frame("districts"),
        assets=ws.frame("bridges_culverts"),
        open_cases=open_cases,
        network=net,
        depots=ws.frame("depots"),
        crews=ws.frame("crews"),
        crs=ws.settings.metric_crs,
    )
