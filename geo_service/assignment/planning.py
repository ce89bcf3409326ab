"""Planner's questions on real data: vendors to stall sites, and which new sites to open, with
walking distances on the street network."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo_service.assignment.optimize import assign_vendors, select_lscp, select_mclp, select_pmedian
from geo_service.crs import from_metric, to_metric
from geo_service.errors import InvalidInput
from geo_service.network import RoadNetwork, Snap, network_distances, snap
from geo_service.settings import DEFAULT_GOODS_GROUPS

__all__ = [
    "FEATURE_ID",
    "SNAP_M",
    "candidate_points",
    "choose_sites",
    "input_id",
    "outside_districts",
    "place_vendors",
    "refuse_outside",
]

#: the column of an input frame holding each feature's GeoJSON ``id`` (echoed in answers)
FEATURE_ID = "_feature_id"
#: a vendor, site or candidate farther than this from any walkable street cannot be reached on foot
SNAP_M = 300.0
#: generated candidates stand this far beside their street's centreline, off the carriageway
KERB_M = 6.0


_SEPARATORS = re.compile(r"[、,，;；/\s]+")  # as the goods_groups layer is read (contexts.goods_groups)


def _named(text: Any) -> set[str]:
    """The goods named in a list like ``水果、蔬菜`` or ``果蔬``, as written. Missing goods (``None``, a
    frame's NaN, ``""``) are no goods named."""
    if isinstance(text, (list, tuple)):
        parts = [p for t in text for p in _SEPARATORS.split(str(t))]
    elif text is None or (isinstance(text, float) and text != text):
        parts = []
    else:
        parts = _SEPARATORS.split(str(text))
    return {p.strip() for p in parts if p.strip()}


def _goods(text: Any, groups: Mapping[str, Sequence[str]]) -> set[str]:
    """The kinds of goods in a list like ``水果、蔬菜`` or ``果蔬`` (a group of ``groups``: its kinds too)."""
    kinds = _named(text)
    return kinds | {k for p in kinds for k in groups.get(p, ())}


def _allowed(named: set[str], offer: set[str], groups: Mapping[str, Sequence[str]]) -> bool:
    """Whether a site selling ``offer`` (its kinds, groups opened) takes a vendor selling every one of
    ``named``: each is sold there, by name or, for a group, all its kinds are (水果、服装 is not a
    果蔬 vendor). No goods named, or a site that names none: any."""
    return (
        not named
        or not offer
        or all(g in offer or (groups.get(g) and set(groups[g]) <= offer) for g in named)
    )


def _vendor_label(vendors: gpd.GeoDataFrame, i: int) -> str:
    name = vendors["name"].iloc[i] if "name" in vendors else None
    return f"vendors[{i}]" + (f"「{name}」" if isinstance(name, str) and name else "")


def _check_goods(vendors: gpd.GeoDataFrame) -> None:
    """A vendor's goods are a name or list of names (``水果、蔬菜``, ``["水果", "蔬菜"]``) or nothing;
    an object, true/false or a number is no goods and is refused naming the vendor."""
    if "goods" not in vendors:
        return
    for i, g in enumerate(vendors["goods"]):
        ok = (
            g is None
            or isinstance(g, str)
            or (isinstance(g, float) and g != g)  # left out where other vendors give goods
            or (isinstance(g, (list, tuple)) and all(isinstance(t, str) for t in g))
        )
        if not ok:
            label = _vendor_label(vendors, i)
            raise InvalidInput(
                f"{label} 的经营品类应为品类名称（如「水果、蔬菜」）或名称列表，收到 {g!r}",
                f"{label}: goods must be a name of goods (such as 水果、蔬菜) or a list of names, not {g!r}",
                feature=f"vendors[{i}]",
                field="vendors",
            )


def _walk(
    net: RoadNetwork, origins: np.ndarray, targets: np.ndarray, limit: float, crs: str
) -> tuple[np.ndarray, Snap, Snap]:
    """Walking metres origin × target (``inf`` beyond ``limit``), with where each met the street
    (segment -1: no street within :data:`SNAP_M`)."""
    o = snap(net, shapely.point_on_surface(to_metric(origins, crs)), max_distance=SNAP_M)
    t = snap(net, shapely.point_on_surface(to_metric(targets, crs)), max_distance=SNAP_M)
    d = network_distances(net, o, t, limit=limit)
    d = d + o.distance[:, None] + t.distance[None, :]
    d[d > limit] = np.inf
    return d, o, t


def _walk_matrix(
    net: RoadNetwork, origins: np.ndarray, targets: np.ndarray, limit: float, crs: str
) -> np.ndarray:
    return _walk(net, origins, targets, limit, crs)[0]


def input_id(frame: gpd.GeoDataFrame, i: int) -> Any:
    """The id the user gave the i-th feature (GeoJSON ``id``, else an ``id`` property), or None."""
    for column in (FEATURE_ID, "id"):
        value = _cell(frame, column, i)
        if value is not None:
            return value
    return None


def _cell(frame: gpd.GeoDataFrame, column: str, i: int) -> Any:
    """The i-th value of ``column`` as a plain Python value (numpy's scalars are not JSON), None if missing."""
    if column not in frame:
        return None
    value = frame[column].iloc[i]
    if isinstance(value, np.generic):
        value = value.item()
    return None if value is None or (isinstance(value, float) and value != value) else value


def outside_districts(geoms: np.ndarray, districts: gpd.GeoDataFrame) -> np.ndarray:
    """Positions of the geometries not within the districts' union."""
    area = shapely.union_all(districts.geometry.to_numpy())
    shapely.prepare(area)
    return np.flatnonzero(~shapely.covered_by(np.asarray(geoms, dtype=object), area))


def place_vendors(
    net: RoadNetwork,
    vendors: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    max_walk_m: float = 1500,
    crs: str = "EPSG:4547",
    goods_groups: Mapping[str, Sequence[str]] | None = None,
    districts: gpd.GeoDataFrame | None = None,
) -> dict[str, Any]:
    """Each vendor (``goods``) to a stall site that sells those goods, within capacity, least total walk.

    ``goods_groups``: names that mean several kinds (``Settings.goods_groups``; a 果蔬 vendor may take
    a 水果、蔬菜 stall). Goods match as whole names or through a group, never as parts of a name (水果刀
    is not 水果). A vendor without goods takes any site. ``districts``: vendors outside them are refused.

    An unplaced vendor's ``reason`` (and ``reason_code``) says which of these held: no walkable street
    within :data:`SNAP_M` (``no_street``), no open site within ``max_walk_m`` (``no_site_within_reach``),
    none of those sells the goods (``no_site_for_goods``), or all that do are full (``sites_full``,
    naming them in ``full_sites``)."""
    groups = goods_groups if goods_groups is not None else DEFAULT_GOODS_GROUPS
    if len(vendors) == 0:
        raise InvalidInput("需要至少一个摊贩", "At least one vendor is needed", field="vendors")
    if len(sites) == 0:
        raise InvalidInput(
            "没有开放的摊位站点（状态为开放且在有效期内），无法安置摊贩",
            "There are no open stall sites (status open and within their dates) to place vendors at",
            layer="stall_sites",
        )
    _check_goods(vendors)
    if districts is not None and len(districts):
        outside = outside_districts(vendors.geometry.to_numpy(), districts)
        if len(outside):
            names = "、".join(_vendor_label(vendors, int(i)) for i in outside[:5])
            names_en = ", ".join(_vendor_label(vendors, int(i)) for i in outside[:5])
            raise InvalidInput(
                f"摊贩 {names} 不在市区（{'、'.join(map(str, districts['name']))}）范围内",
                f"{names_en} lie{'s' if len(outside) == 1 else ''} outside the city's districts",
                feature=f"vendors[{int(outside[0])}]",
                field="vendors",
                details={"outside": [int(i) for i in outside]},
            )
    raw, where, _ = _walk(net, vendors.geometry.to_numpy(), sites.geometry.to_numpy(), max_walk_m, crs)
    site_goods = [_goods(g, groups) for g in sites.get("goods", [""] * len(sites))]
    wants = [_named(g) for g in vendors.get("goods", [""] * len(vendors))]
    sells = np.array([[_allowed(want, offer, groups) for offer in site_goods] for want in wants])
    cost = np.where(sells, raw, np.inf)
    capacity = sites["capacity"].fillna(0).to_numpy(dtype=float)
    result = assign_vendors(cost, capacity)
    load = np.bincount(result.site[result.site >= 0], minlength=len(sites))
    rows = []
    for i in range(len(vendors)):
        j = int(result.site[i])
        row: dict[str, Any] = {
            "vendor": i,
            "id": input_id(vendors, i),
            "name": _cell(vendors, "name", i),
            "site": None if j < 0 else int(sites.index[j]),
            "site_name": None if j < 0 else sites["name"].iloc[j],
            "walk_m": None if j < 0 else round(float(result.distance[i]), 1),
            "reason": None,
            "reason_code": None,
        }
        if j < 0:
            row.update(_unplaced(i, raw, cost, where, sites, wants[i], load, capacity, max_walk_m))
        rows.append(row)
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


def _unplaced(
    i: int,
    raw: np.ndarray,
    cost: np.ndarray,
    where: Snap,
    sites: gpd.GeoDataFrame,
    want: set[str],
    load: np.ndarray,
    capacity: np.ndarray,
    max_walk_m: float,
) -> dict[str, Any]:
    """Why vendor i has no site: the first of no street, no site within reach, none selling its goods,
    all full."""
    if where.segment[i] < 0:
        return {
            "reason_code": "no_street",
            "reason": f"{SNAP_M:.0f} 米内没有可步行的道路 / no walkable street within {SNAP_M:.0f} m",
        }
    if not np.isfinite(raw[i]).any():
        return {
            "reason_code": "no_site_within_reach",
            "reason": f"步行 {max_walk_m:.0f} 米内没有开放的站点 / no open site within {max_walk_m:.0f} m on foot",
        }
    goods = "、".join(sorted(want))
    if not np.isfinite(cost[i]).any():
        near = np.flatnonzero(np.isfinite(raw[i]))
        return {
            "reason_code": "no_site_for_goods",
            "reason": f"步行 {max_walk_m:.0f} 米内的 {len(near)} 个站点都不经营「{goods}」 / none of the "
            f"{len(near)} sites within {max_walk_m:.0f} m on foot sells {goods}",
        }
    full = [j for j in np.flatnonzero(np.isfinite(cost[i])) if load[j] >= capacity[j]]
    names = [str(sites["name"].iloc[j]) if "name" in sites else str(sites.index[j]) for j in full]
    return {
        "reason_code": "sites_full",
        "reason": f"步行可达且经营该品类的站点均已满：{'、'.join(names)} / every site within reach that "
        f"sells these goods is full: {', '.join(names)}",
        "full_sites": [int(sites.index[j]) for j in full],
    }


def candidate_points(
    roads: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    *,
    classes: Sequence[str] = ("alley", "branch"),
    district: str | None = None,
    step: int = 1,
    kerb_m: float = KERB_M,
    crs: str = "EPSG:4547",
) -> gpd.GeoDataFrame:
    """Generated candidates: beside the midpoints of back streets (every ``step``-th), ``kerb_m`` to the
    left of the centreline (a stall stands beside the carriageway, not on it), inside the districts;
    the candidate numbered k (its index) is named 候选点k."""
    sel = roads[roads["road_class"].isin(classes)].iloc[:: max(1, step)]
    lines = to_metric(sel.geometry.to_numpy(), crs)
    length = shapely.length(lines)
    mid = shapely.line_interpolate_point(lines, 0.5, normalized=True)
    ahead = shapely.line_interpolate_point(lines, np.minimum(length / 2 + 1, length))
    behind = shapely.line_interpolate_point(lines, np.maximum(length / 2 - 1, 0))
    dx = shapely.get_x(ahead) - shapely.get_x(behind)
    dy = shapely.get_y(ahead) - shapely.get_y(behind)
    norm = np.hypot(dx, dy)
    norm[norm == 0] = np.inf  # a street of no length: its point itself
    pts_m = shapely.points(shapely.get_x(mid) - dy / norm * kerb_m, shapely.get_y(mid) + dx / norm * kerb_m)
    pts = from_metric(pts_m, crs)
    area = districts if district is None else districts[districts["name"] == district]
    inside = shapely.within(pts, shapely.union_all(area.geometry.to_numpy()))
    return gpd.GeoDataFrame(
        {"name": [f"候选点{k}" for k in range(int(inside.sum()))]}, geometry=list(pts[inside]), crs=4326
    )


def refuse_outside(candidates: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> None:
    """Refuse candidates that lie outside the districts, naming them (by index label)."""
    outside = [int(candidates.index[j]) for j in outside_districts(candidates.geometry.to_numpy(), districts)]
    if outside:
        raise InvalidInput(
            f"候选点 {outside[:5]} 不在辖区内",
            f"Candidate {outside[0]} lies outside the districts"
            if len(outside) == 1
            else f"Candidates {outside[:5]} lie outside the districts",
            field="candidates",
            details={"outside": outside},
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
    its answer optimal within ``time_limit_s`` or says how far from the best it can be.

    ``fixed`` are positions in ``candidates``; answers name candidates by their index labels. A candidate
    (not fixed) with no walkable street within :data:`SNAP_M` serves nobody: it is left out, listed in
    ``unreachable_candidates`` and a notice says so. When no candidate that is not fixed can serve anyone
    (within ``max_walk_m``; for a p-median, at all), the question is refused naming why."""
    if method not in ("lscp", "mclp", "pmedian"):
        raise InvalidInput(
            f"方法「{method}」未知，可用 lscp、mclp、pmedian",
            f"Unknown method '{method}' (lscp, mclp, pmedian)",
            field="method",
        )
    if method != "lscp" and p is None:
        name = "MCLP" if method == "mclp" else "p-median"
        raise InvalidInput(f"{name} 需要 p", f"{name} needs p", field="p")
    if districts is not None:
        refuse_outside(candidates, districts)
    w = demand["population"].fillna(0).to_numpy(dtype=float)
    reach_m = max_walk_m if method != "pmedian" else 20_000
    dist, where, _ = _walk(net, candidates.geometry.to_numpy(), demand.geometry.to_numpy(), reach_m, crs)
    dist = dist.T
    fixed_set = {int(j) for j in fixed}
    new = [j for j in range(len(candidates)) if j not in fixed_set]
    off_street = [j for j in new if where.segment[j] < 0]
    unreachable = [
        {
            "candidate": int(candidates.index[j]),
            "id": input_id(candidates, j),
            "name": _cell(candidates, "name", j),
            "reason_zh": f"{SNAP_M:.0f} 米内没有可步行的道路",
            "reason_en": f"No walkable street within {SNAP_M:.0f} m",
        }
        for j in off_street
    ]
    serving = [j for j in new if where.segment[j] >= 0 and (dist[:, j] <= reach_m).any()]
    if not serving:
        within = f"步行 {max_walk_m:.0f} 米内" if method != "pmedian" else "步行可达范围内"
        within_en = f"within {max_walk_m:.0f} m on foot" if method != "pmedian" else "on foot at all"
        off_zh = (
            f"（其中 {len(off_street)} 个 {SNAP_M:.0f} 米内没有可步行的道路）"
            if len(new) > 1
            else f"（{SNAP_M:.0f} 米内没有可步行的道路）"
        )
        off_zh = off_zh if off_street else ""
        if len(new) == 1:
            who_en, off_en = "The candidate cannot", f" (it has no walkable street within {SNAP_M:.0f} m)"
        else:
            who_en = f"None of the {len(new)} candidates can"
            have = "has" if len(off_street) == 1 else "have"
            off_en = f" ({len(off_street)} of them {have} no walkable street within {SNAP_M:.0f} m)"
        raise InvalidInput(
            f"{'候选点' if len(new) == 1 else f'{len(new)} 个候选点都'}无法服务到任何人：{within}没有人口点{off_zh}",
            f"{who_en} serve anyone: no people {within_en}{off_en if off_street else ''}",
            field="candidates",
            details={"unreachable_candidates": unreachable},
        )
    keep = [j for j in range(len(candidates)) if j not in set(off_street)]
    if p is not None and method != "lscp" and p > len(keep):
        raise InvalidInput(
            f"新增站点数 p={p - len(fixed_set)} 多于可用的候选点（{len(keep) - len(fixed_set)} 个；"
            f"另有 {len(off_street)} 个 {SNAP_M:.0f} 米内没有可步行的道路）",
            f"p={p - len(fixed_set)} new sites is more than the {len(keep) - len(fixed_set)} usable candidates "
            f"({len(off_street)} more have no walkable street within {SNAP_M:.0f} m)",
            field="p",
            details={"unreachable_candidates": unreachable},
        )
    candidates, dist = candidates.iloc[keep], dist[:, keep]
    position = {j: k for k, j in enumerate(keep)}
    fixed = [position[j] for j in fixed]
    notices = []
    if unreachable:
        notices.append(
            f"{len(unreachable)} 个候选点 {SNAP_M:.0f} 米内没有可步行的道路，未参与选址（见 unreachable_candidates）"
            f" / {len(unreachable)} candidates have no walkable street within {SNAP_M:.0f} m and were left "
            "out (see unreachable_candidates)"
        )
    uncoverable: tuple[int, ...] | list[int]
    if method == "lscp":
        if p is not None:
            notices.append(
                "LSCP 求覆盖全部可覆盖人口所需的最少站点数，不使用 p（已忽略）/ LSCP finds the fewest sites "
                "that cover everyone who can be covered: p does not apply and was ignored"
            )
        sel = select_lscp(dist, max_walk_m, fixed=fixed)
        uncoverable = sel.uncoverable
    elif method == "mclp":
        sel = select_mclp(dist, w, max_walk_m, p, fixed=fixed)  # type: ignore[arg-type]
        uncoverable = [int(i) for i in np.flatnonzero(~(dist <= max_walk_m).any(axis=1))]
    else:
        reach = np.isfinite(dist).any(axis=1)
        uncoverable = [int(i) for i in np.flatnonzero(~reach)]
        if uncoverable:
            notices.append(
                f"{len(uncoverable)} 个人口点（{int(w[~reach].sum())} 人）步行无法到达任何候选点，未计入"
                f" / {len(uncoverable)} demand points ({int(w[~reach].sum())} people) cannot reach any "
                "candidate on foot and are not counted"
            )
        sel = select_pmedian(
            dist[reach],
            w[reach],
            p,  # type: ignore[arg-type]
            fixed=fixed,
            capacity=capacity,
            time_limit_s=time_limit_s,
        )
    covered = (dist[:, list(sel.chosen)] <= max_walk_m).any(axis=1) if sel.chosen else np.zeros(len(w), bool)
    chosen = list(sel.chosen)
    if not sel.proven and sel.gap < 1:
        zh, en = (
            (f"至多 {sel.gap:.1%}", f"at most {sel.gap:.1%}")
            if sel.gap >= 0.001
            else ("不足 0.1%", "less than 0.1%")
        )
        notices.append(
            f"计算时限内未能证明最优：所给方案的加权步行距离比最优多{zh} / Not proven optimal "
            f"within the time limit: the answer's weighted walk is {en} above the best"
        )
    elif not sel.proven:
        notices.append(
            "计算时限内未能证明最优，也未得到下界：所给方案为启发式结果 / Not proven optimal within the "
            "time limit and no bound was found: the answer is the heuristic's"
        )
    fixed_labels = {int(candidates.index[j]) for j in fixed}
    return {
        "method": method,
        "objective": sel.objective,
        "optimal": sel.proven,
        "gap": round(sel.gap, 4),
        "notices": notices,
        "chosen": [int(candidates.index[j]) for j in chosen],
        "fixed": [int(candidates.index[j]) for j in fixed],
        "served_population": int(w[covered].sum()),
        "total_population": int(w.sum()),
        "served_share": round(float(w[covered].sum() / w.sum()), 4) if w.sum() else 0,
        "uncoverable_demand": len(uncoverable),
        "unreachable_candidates": unreachable,
        "sites": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(candidates.geometry.iloc[j]),
                    "properties": {
                        "candidate": int(candidates.index[j]),
                        "id": input_id(candidates, j),
                        "name": _cell(candidates, "name", j),
                        "fixed": int(candidates.index[j]) in fixed_labels,
                    },
                }
                for j in chosen
            ],
        },
    }
