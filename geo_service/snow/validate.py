"""An independent check of a response plan (networkx, sharing no code with the solver): every item
served once, every driven leg a real shortest path along the open, correctly directed streets, salt
per trip within capacity, arrival times equal to distances over speeds plus service times."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj

__all__ = ["validate_plan"]


def _graph(roads: gpd.GeoDataFrame, closed: set[int], crs: str) -> tuple[nx.DiGraph, dict[int, tuple]]:
    t = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    g = nx.DiGraph()
    ends: dict[int, tuple] = {}
    for fid, row in roads.iterrows():
        if int(fid) in closed or bool(row.get("closed") or False):
            continue
        coords = list(row.geometry.coords)
        x, y = t.transform([c[0] for c in coords], [c[1] for c in coords])
        a, b = (round(x[0], 2), round(y[0], 2)), (round(x[-1], 2), round(y[-1], 2))
        length = float(np.hypot(np.diff(x), np.diff(y)).sum())
        ends[int(fid)] = (a, b)
        for u, v in ((a, b), (b, a)) if not bool(row.get("oneway") or False) else ((a, b),):
            if not g.has_edge(u, v) or g[u][v]["length"] > length:
                g.add_edge(u, v, length=length, road=int(fid))
    return g, ends


def validate_plan(
    doc: Mapping[str, Any],
    *,
    roads: gpd.GeoDataFrame,
    crews: pd.DataFrame,
    bridges: gpd.GeoDataFrame | None = None,
    crs: str = "EPSG:4547",
    tol_s: float = 1.0,
) -> list[str]:
    """Problems found (empty when the plan is sound). A closed bridge or underpass closes the streets
    within 15 m of it."""
    problems: list[str] = []
    closed = {int(r.split(":")[1]) for r in doc.get("closures", {}).get("roads", [])}
    shut = [int(b.split(":")[1]) for b in doc.get("closures", {}).get("bridges", [])]
    if bridges is not None:
        shut += [int(i) for i in bridges.index[bridges["closed"].fillna(False).astype(bool)]]
    if shut and bridges is not None:
        metric = roads.to_crs(crs)
        for p in bridges.loc[sorted(set(shut))].to_crs(crs).geometry:
            closed |= {int(i) for i in metric.index[metric.distance(p) <= 15.0]}
    g, ends = _graph(roads, closed, crs)
    speeds = {str(r["crew"]): r for _, r in crews.iterrows()}
    seen: dict[str, str] = {}
    for v in doc["vehicles"]:
        crew = speeds[v["crew"]]
        empty_mps, work_mps = crew["empty_speed_kph"] / 3.6, crew["work_speed_kph"] / 3.6
        salt = float(crew["salt_capacity_t"])
        clock = 0.0
        for s in v["stops"]:
            clock += s["empty_m"] / empty_mps
            if abs(clock - s["arrive_s"]) > tol_s:
                problems.append(
                    f"{v['vehicle']} stop {s['seq']}: arrives {s['arrive_s']} s, distances say {clock:.1f} s"
                )
                clock = s["arrive_s"]
            if s["kind"] == "reload":
                salt = float(crew["salt_capacity_t"])
                continue
            item = s["item"]
            if item in seen:
                problems.append(f"{item} served twice ({seen[item]} and {v['vehicle']})")
            seen[item] = v["vehicle"]
            salt -= s["salt_t"]
            if salt < -1e-6:
                problems.append(f"{v['vehicle']} runs out of salt at stop {s['seq']}")
            if s["kind"] == "road":
                fid = int(item.split(":")[1])
                if fid not in ends:
                    problems.append(f"{item} is on a closed or unknown street")
                    continue
                a, b = ends[fid]
                frm, to = (a, b) if s["direction"] == "forward" else (b, a)
                if not g.has_edge(frm, to):
                    problems.append(f"{item} driven against its one-way direction")
                clock += g[frm][to]["length"] / work_mps if g.has_edge(frm, to) else 0
            else:
                clock = s["done_s"]
            if abs(clock - s.get("done_s", clock)) > tol_s:
                problems.append(
                    f"{v['vehicle']} stop {s['seq']}: done at {s['done_s']} s, work says {clock:.1f} s"
                )
                clock = s["done_s"]
        # legs between road stops: the reported empty distance is the shortest open path
        road_stops = [s for s in v["stops"] if s["kind"] == "road"]
        for prev, nxt in itertools.pairwise(road_stops):
            if any(
                x["kind"] != "road" for x in v["stops"][v["stops"].index(prev) + 1 : v["stops"].index(nxt)]
            ):
                continue
            pa, pb = ends.get(int(prev["item"].split(":")[1]), (None, None))
            na, nb = ends.get(int(nxt["item"].split(":")[1]), (None, None))
            if pa is None or na is None:
                continue
            start = pb if prev["direction"] == "forward" else pa
            goal = na if nxt["direction"] == "forward" else nb
            try:
                shortest = nx.shortest_path_length(g, start, goal, weight="length")
            except nx.NetworkXNoPath:
                problems.append(f"{v['vehicle']}: no open path from {prev['item']} to {nxt['item']}")
                continue
            if abs(shortest - nxt["empty_m"]) > 1.0:
                problems.append(
                    f"{v['vehicle']}: leg to {nxt['item']} is {nxt['empty_m']} m, shortest {shortest:.1f} m"
                )
        path = v["path"]
        if len(path) >= 2:
            steps = np.hypot(*np.diff(np.array(path), axis=0).T)
            if (steps > 0.02).any():  # ~2 km in a single step: the path jumps instead of following streets
                problems.append(f"{v['vehicle']}: the driven path jumps")
    return problems
