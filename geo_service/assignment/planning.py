"""Planner's questions on real data: vendors to stall sites, and which new sites to open, with
walking distances on the street network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo_service.assignment.optimize import assign_vendors, select_lscp, select_mclp, select_pmedian
from geo_service.crs import to_metric
from geo_service.errors import InvalidInput
from geo_service.network import RoadNetwork, network_distances, snap
from geo_service.settings import DEFAULT_GOODS_GROUPS

__all__ = ["candidate_points", "choose_sites", "place_vendors"]


def _goods(text: Any, groups: Mapping[str, Sequence[str]]) -> set[str]:
    """The kinds of goods in a list like ``水果、蔬菜`` or ``果蔬`` (a group of ``groups``: its kinds too)."""
    parts = str(text or "").replace("、", ",").replace("，", ",").replace(";", ",").split(",")
    kinds = {p.strip() for p in parts if p.strip()}
    return kinds | {k for p in kinds for k in groups.get(p, ())}


def _walk_matrix(
    net: RoadNetwork, origins: np.ndarray, targets: np.ndarray, limit: float, crs: str
) -> np.ndarray:
    o = snap(net, shapely.point_on_surface(to_metric(origins, crs)), max_distance=300)
    t = snap(net, shapely.point_on_surface(to_metric(targets, crs)), max_distance=300)
    d = network_distances(net, o, t, limit=limit)
    d = d + o.distance[:, None] + t.distance[None, :]
    d[d > limit] = np.inf
    return d


def place_vendors(
    net: RoadNetwork,
    vendors: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    max_walk_m: float = 1500,
    crs: str = "EPSG:4547",
    goods_groups: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Each vendor (``goods``) to a stall site that sells those goods, within capacity, least total walk.
    ``goods_groups``: names that mean several kinds (``Settings.goods_groups``; a 果蔬 vendor may take
    a 水果、蔬菜 stall)."""
    groups = goods_groups if goods_groups is not None else DEFAULT_GOODS_GROUPS
    if len(vendors) == 0 or len(sites) == 0:
        raise InvalidInput("需要摊贩和站点", "Vendors and sites are both needed", field="vendors")
    cost = _walk_matrix(net, vendors.geometry.to_numpy(), sites.geometry.to_numpy(), max_walk_m, crs)
    site_goods = [_goods(g, groups) for g in sites.get("goods", [""] * len(sites))]
    for i, g in enumerate(vendors.get("goods", [""] * len(vendors))):
        want = _goods(g, groups)
        if want:
            for j, offer in enumerate(site_goods):
                if offer and not (want & offer or any(w in o or o in w for w in want for o in offer)):
                    cost[i, j] = np.inf
    capacity = sites["capacity"].fillna(0).to_numpy(dtype=float)
    result = assign_vendors(cost, capacity)
    rows = []
    for i in range(len(vendors)):
        j = int(result.site[i])
        rows.append(
            {
                "vendor": i,
                "name": vendors["name"].iloc[i] if "name" in vendors else None,
                "site": None if j < 0 else int(sites.index[j]),
                "site_name": None if j < 0 else sites["name"].iloc[j],
                "walk_m": None if j < 0 else round(float(result.distance[i]), 1),
                "reason": result.reasons[i],
            }
        )
    load = np.bincount(result.site[result.site >= 0], minlength=len(sites))
    notes = []
    if len(vendors) > capacity.sum():
        notes.append(f"摊贩 {len(vendors)} 人多于摊位 {int(capacity.sum())} 个 / more vendors than stalls")
    return {
        "placed": result.placed,
        "unplaced": len(vendors) - result.placed,
        "total_walk_m": round(result.total_distance, 1),
        "assignments": rows,
        "site_load": {int(sites.index[j]): int(load[j]) for j in range(len(sites))},
        "notes": notes,
    }


def candidate_points(
    roads: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    *,
    classes: Sequence[str] = ("alley", "branch"),
    district: str | None = None,
    step: int = 1,
) -> gpd.GeoDataFrame:
    """Generated candidates: midpoints of back streets (every ``step``-th), inside the districts."""
    sel = roads[roads["road_class"].isin(classes)].iloc[:: max(1, step)]
    pts = shapely.line_interpolate_point(sel.geometry.to_numpy(), 0.5, normalized=True)
    area = districts if district is None else districts[districts["name"] == district]
    inside = shapely.within(pts, shapely.union_all(area.geometry.to_numpy()))
    return gpd.GeoDataFrame(
        {"name": [f"候选点{k + 1}" for k in range(int(inside.sum()))]}, geometry=list(pts[inside]), crs=4326
    )


def choose_sites(
    net: RoadNetwork,
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    method: str,
    max_walk_m: float = 500,
    p: int | None = None,
    fixed: Sequence[int] = (),
    capacity: np.ndarray | None = None,
    districts: gpd.GeoDataFrame | None = None,
    crs: str = "EPSG:4547",
    time_limit_s: float = 20,
) -> dict[str, Any]:
    """LSCP, MCLP or p-median over candidates (index order), fixed candidates kept; a p-median proves
    its answer optimal within ``time_limit_s`` or says how far from the best it can be."""
    if districts is not None:
        area = shapely.union_all(districts.geometry.to_numpy())
        outside = [
            int(i) for i, g in zip(candidates.index, candidates.geometry, strict=True) if not g.within(area)
        ]
        if outside:
            raise InvalidInput(
                f"候选点 {outside[:5]} 不在辖区内",
                f"Candidates {outside[:5]} lie outside the districts",
                field="candidates",
                details={"outside": outside},
            )
    w = demand["population"].fillna(0).to_numpy(dtype=float)
    dist = _walk_matrix(
        net,
        candidates.geometry.to_numpy(),
        demand.geometry.to_numpy(),
        max_walk_m if method != "pmedian" else 20_000,
        crs,
    ).T
    if method == "lscp":
        sel = select_lscp(dist, max_walk_m, fixed=fixed)
    elif method == "mclp":
        if p is None:
            raise InvalidInput("MCLP 需要 p", "MCLP needs p", field="p")
        sel = select_mclp(dist, w, max_walk_m, p, fixed=fixed)
    elif method == "pmedian":
        if p is None:
            raise InvalidInput("p-median 需要 p", "p-median needs p", field="p")
        reach = np.isfinite(dist).any(axis=1)
        sel = select_pmedian(
            dist[reach], w[reach], p, fixed=fixed, capacity=capacity, time_limit_s=time_limit_s
        )
    else:
        raise InvalidInput(
            f"方法「{method}」未知，可用 lscp、mclp、pmedian",
            f"Unknown method '{method}' (lscp, mclp, pmedian)",
            field="method",
        )
    covered = (dist[:, list(sel.chosen)] <= max_walk_m).any(axis=1) if sel.chosen else np.zeros(len(w), bool)
    chosen = candidates.iloc[list(sel.chosen)]
    notices = []
    if not sel.proven and sel.gap < 1:
        notices.append(
            f"计算时限内未能证明最优：所给方案的加权步行距离至多比最优多 {sel.gap:.1%} / Not proven optimal "
            f"within the time limit: the answer's weighted walk is at most {sel.gap:.1%} above the best"
        )
    elif not sel.proven:
        notices.append(
            "计算时限内未能证明最优，也未得到下界：所给方案为启发式结果 / Not proven optimal within the "
            "time limit and no bound was found: the answer is the heuristic's"
        )
    return {
        "method": method,
        "objective": sel.objective,
        "optimal": sel.proven,
        "gap": round(sel.gap, 4),
        "notices": notices,
        "chosen": [int(i) for i in chosen.index],
        "fixed": [int(candidates.index[j]) for j in fixed],
        "served_population": int(w[covered].sum()),
        "total_population": int(w.sum()),
        "served_share": round(float(w[covered].sum() / w.sum()), 4) if w.sum() else 0,
        "uncoverable_demand": len(sel.uncoverable),
        "sites": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(g),
                    "properties": {
                        "candidate": int(i),
                        "name": n,
                        "fixed": int(i) in {int(candidates.index[j]) for j in fixed},
                    },
                }
                for i, g, n in zip(
                    chosen.index, chosen.geometry, chosen.get("name", [None] * len(chosen)), strict=True
                )
            ],
        },
    }
