"""Indexes built once from a workspace and cached by the versions of the layers they read.

The analysis modules are pure; this is where they meet the workspace: networks, beat indexes and
shift tables are rebuilt only when a layer they depend on changes (in any worker).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import geopandas as gpd

from geo_service.coverage import BeatIndex, SiteReach
from geo_service.coverage.season import sites_season
from geo_service.division_store import DivisionStore
from geo_service.duty import Shift, shifts_from_frame
from geo_service.network import RoadNetwork, build_network
from geo_service.reach import keep_divisions
from geo_service.workspace import Workspace

__all__ = [
    "CoverageContext",
    "WhoContext",
    "coverage_context",
    "drive_network",
    "open_sites",
    "out_of_season",
    "site_reach",
    "walk_network",
    "who_context",
    "who_covers_ready",
]


DRIVE_NETWORKS_KEPT = 4  # driving networks kept built, each with its own closures

# each cached index: its key, and the layers whose versions it was built from
_WALK: tuple[str, tuple[str, ...]] = ("network:walk", ("roads",))
_BEATS: tuple[str, tuple[str, ...]] = ("beats", ("patrol_beats",))
_SHIFTS: tuple[str, tuple[str, ...]] = ("shifts", ("duty_shifts",))


def _reach(layer: str) -> tuple[str, tuple[str, ...]]:
    return f"reach:{layer}", ("roads", layer)


@dataclass(frozen=True)
class CoverageContext:
    beats: BeatIndex
    shifts: tuple[Shift, ...]
    walk: RoadNetwork


def _divisions_kept(ws: Workspace, network: RoadNetwork) -> RoadNetwork:
    """``network`` with its divisions of the ground (service-area polygons) kept in the cache folder.
    (Only the walking network is outlined: a driving one is never divided.)"""
    folder = ws.settings.cache_folder()
    return keep_divisions(network, None if folder is None else DivisionStore(folder / "divisions"))


def walk_network(ws: Workspace) -> RoadNetwork:
    crs = ws.settings.metric_crs
    return ws.cached(
        *_WALK, lambda: _divisions_kept(ws, build_network(ws.frame("roads"), mode="walk", crs=crs))
    )


def drive_network(
    ws: Workspace, *, closed_road_ids: tuple[int, ...] = (), closed_bridge_ids: tuple[int, ...] = ()
) -> RoadNetwork:
    """The driving graph, without closed roads and with closed (or flagged) bridges and culverts cut."""
    crs = ws.settings.metric_crs

    def build() -> RoadNetwork:
        bridges = ws.frame("bridges_culverts")
        closed = bridges[bridges["closed"].fillna(False).astype(bool) | bridges.index.isin(closed_bridge_ids)]
        return build_network(
            ws.frame("roads"),
            mode="drive",
            closed_road_ids=closed_road_ids,
            closed_points=closed.geometry if len(closed) else None,
            crs=crs,
        )

    key = f"network:drive:{sorted(closed_road_ids)}:{sorted(closed_bridge_ids)}"
    # the usual network and the last few sets of closures a response plan asked for
    return ws.cached(
        key, ("roads", "bridges_culverts"), build, family="network:drive", keep=DRIVE_NETWORKS_KEPT
    )


def coverage_context(ws: Workspace) -> CoverageContext:
    crs = ws.settings.metric_crs
    beats = ws.cached(*_BEATS, lambda: BeatIndex.build(ws.frame("patrol_beats"), crs=crs))
    shifts = ws.cached(*_SHIFTS, lambda: shifts_from_frame(ws.frame("duty_shifts")))
    return CoverageContext(beats, shifts, walk_network(ws))


def open_sites(ws: Workspace, layer: str, *, on: dt.date | None = None) -> gpd.GeoDataFrame:
    """The sites of ``layer`` open now (status ``open``): planned, suspended and closed ones serve
    nobody, so coverage, walking areas, what-if and siting leave them out. With ``on`` (a day in
    Beijing time), also only those in season that day (``valid_from``/``valid_to``, lunar dates: see
    :func:`geo_service.coverage.season.site_season`); :func:`out_of_season` names the others."""
    frame = ws.frame(layer)
    frame = frame[frame["status"] == "open"] if "status" in frame else frame
    if on is None:
        return frame
    return frame[[s["in_season"] for s in sites_season(frame, day=on)]]


def out_of_season(ws: Workspace, layer: str, *, on: dt.date) -> list[dict[str, Any]]:
    """The sites of ``layer`` with status ``open`` that are not in season on ``on``: id, name and why
    (``season_zh``/``season_en``), for the answer that leaves them out to say so."""
    frame = ws.frame(layer)
    frame = frame[frame["status"] == "open"] if "status" in frame else frame
    return [
        {
            "id": int(fid),
            "name": name,
            "season": s.get("season"),
            "reason_zh": s["season_zh"],
            "reason_en": s["season_en"],
        }
        for fid, name, s in zip(
            frame.index, frame.get("name", [None] * len(frame)), sites_season(frame, day=on), strict=True
        )
        if not s["in_season"]
    ]


def goods_groups(ws: Workspace) -> dict[str, tuple[str, ...]]:
    """Names that stand for several kinds of goods: the ``GEO_GOODS_GROUPS`` setting, then the
    ``goods_groups`` layer the city edits (a group listed there replaces the setting's of that name)."""
    groups = dict(ws.settings.goods_groups)
    if "goods_groups" in ws.catalog:
        frame = ws.frame("goods_groups")
        for name, kinds in zip(frame.get("name", []), frame.get("kinds", []), strict=True):
            parts = tuple(k.strip() for k in re.split(r"[、,，;；/\s]+", str(kinds or "")) if k.strip())
            if name and parts:
                groups[str(name).strip()] = parts
    return groups


def site_reach(ws: Workspace, layer: str) -> SiteReach:
    """The nearest open site of ``layer`` from every street node on foot (rebuilt when roads or sites
    change)."""
    crs = ws.settings.metric_crs
    return ws.cached(
        *_reach(layer), lambda: SiteReach.build(walk_network(ws), open_sites(ws, layer), crs=crs)
    )


@dataclass(frozen=True)
class WhoContext:
    """Everything a who-covers answer reads, for one set of versions of the layers it reads."""

    coverage: CoverageContext
    districts: gpd.GeoDataFrame
    stall_sites: SiteReach
    festival_points: SiteReach


_WHO_SITES = ("stall_sites", "festival_sales_points")
_WHO: tuple[str, tuple[str, ...]] = (
    "who",
    tuple(
        dict.fromkeys(
            [*_BEATS[1], *_SHIFTS[1], *_WALK[1], "districts", *(x for s in _WHO_SITES for x in _reach(s)[1])]
        )
    ),
)


def who_context(ws: Workspace) -> WhoContext:
    """The parts of a who-covers answer, cached together: one look-up a request, not six (each part
    stays cached on its own too, for the other answers that read it)."""
    return ws.cached(
        *_WHO,
        lambda: WhoContext(
            coverage_context(ws), ws.frame("districts"), *(site_reach(ws, s) for s in _WHO_SITES)
        ),
    )


def who_covers_ready(ws: Workspace) -> bool:
    """Whether everything a who-covers answer reads is built for the current layer versions, so that
    answering costs array lookups only (the service then answers in the event loop, no thread hop)."""
    return ws.is_fresh(*_WHO)
