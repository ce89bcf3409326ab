"""Snow and flood response plans: every key-road segment and every bridge or culvert served once,
priority 1 cleared as early as possible, then 2, then 3, by crews' vehicles with salt reloads.

Items: key-road segments (driven while working, in an allowed direction) and bridges/culverts (a
visit with a service time). Costs are times: empty driving at the crew's empty speed, working at its
working speed. Construction is greedy nearest-first by priority (also the baseline); improvement
moves items off the vehicle that finishes a class last (relocate between and within vehicles) while
that class's clear time falls, class by class. Deterministic for a seed and an iteration budget.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.crs import from_metric, to_metric
from geo_service.errors import InvalidInput
from geo_service.network import RoadNetwork, _augment, snap
from geo_service.snow.locks import pin, pin_notices, refuse_shared_positions
from geo_service.snow.model import Item, PlanModel, Vehicle
from geo_service.snow.search import clustered, evaluate, greedy, improve

__all__ = ["SALT_T_PER_KM", "Item", "ResponsePlan", "Vehicle", "plan_response"]

SALT_T_PER_KM = 0.12


@dataclass(frozen=True)
class ResponsePlan:
    """A finished plan: per vehicle its stops in order with times, per class its clear time."""

    start: dt.datetime
    clear_s: Mapping[int, float]  # priority → seconds after start when its last item is done
    vehicles: tuple[Mapping[str, Any], ...]
    unserved: tuple[Mapping[str, Any], ...]
    notices: tuple[str, ...]
    baseline_clear_s: Mapping[int, float]
    iterations: int
    seed: int

    def clear_times(self) -> dict[str, str]:
        return {
            str(p): (self.start + dt.timedelta(seconds=s)).isoformat(timespec="minutes")
            for p, s in sorted(self.clear_s.items())
        }


def _why_not_there(crews: pd.DataFrame, crew: str) -> tuple[str, str]:
    """Why a crew of the crews layer has no vehicle in a plan (it is out of service), as a clause; empty
    when it is no crew of the layer."""
    if "crew" in crews and "status" in crews:
        row = crews[crews["crew"] == crew]
        if len(row) and row["status"].iloc[0] == "out_of_service":
            return f"：班组 {crew} 已停用", f": crew {crew} is out of service"
    return "", ""


def plan_response(
    net: RoadNetwork,
    *,
    roads: gpd.GeoDataFrame,
    bridges: gpd.GeoDataFrame,
    depots: gpd.GeoDataFrame,
    crews: pd.DataFrame,
    start: dt.datetime,
    seed: int = 0,
    iterations: int = 60,
    locks: Mapping[str, str] | None = None,
    crs: str = "EPSG:4547",
) -> ResponsePlan:
    """Plan the response over a driving network whose weights are metres (closures already applied)."""
    if iterations <= 0:
        raise InvalidInput(
            "计算时限必须大于 0", "The effort (time limit) must be above 0", field="time_limit_s"
        )
    if len(crews) == 0:
        raise InvalidInput("没有作业班组", "There are no crews", field="crews")
    notices: list[str] = []
    unserved: list[dict[str, Any]] = []
    # bridges and depots become nodes of the graph, inserted at their projected points
    shut = bridges["closed"].fillna(False).astype(bool)
    for fid, row in bridges[shut].iterrows():  # a closed bridge is not worked: said so, as a closed road
        unserved.append(
            {"item": f"bridge:{fid}", "name": row["name"], "reason_zh": "桥涵封闭", "reason_en": "closed"}
        )
    bridges = bridges[~shut]
    b_pts = (
        shapely.point_on_surface(to_metric(bridges.geometry.to_numpy(), crs))
        if len(bridges)
        else np.array([])
    )
    d_pts = to_metric(depots.geometry.to_numpy(), crs)
    snaps = snap(net, np.concatenate([b_pts, d_pts]).astype(object), max_distance=300)
    graph, node_of = _augment(net, snaps)
    b_nodes, d_nodes = node_of[: len(b_pts)], node_of[len(b_pts) :]
    ok = snaps.segment >= 0
    where = shapely.line_interpolate_point(net.seg_geom[snaps.segment[ok]], snaps.offset[ok])
    extra_xy = {int(n): (p.x, p.y) for n, p in zip(node_of[ok], where, strict=True)}
    depot_node = dict(zip(depots["name"], d_nodes, strict=True))
    items: list[Item] = []
    in_net = {int(r): i for i, r in enumerate(net.seg_road)}
    key = roads[roads["snow_priority"].notna()]
    for fid, row in key.iterrows():
        s = in_net.get(int(fid))
        if s is None:  # left out of the driving network: closed, or no road for vehicles at all
            drivable = row.get("drivable")
            zh, en = ("道路封闭", "road closed")
            if drivable is not None and not pd.isna(drivable) and not bool(drivable):
                zh, en = (
                    "不是车辆可行驶的道路（人行道、台阶）",
                    "not a road vehicles drive (a footway or steps)",
                )
            unserved.append({"item": f"road:{fid}", "name": row["name"], "reason_zh": zh, "reason_en": en})
            continue
        items.append(
            Item(
                f"road:{fid}",
                "road",
                str(row["name"]),
                int(row["snow_priority"]),
                int(net.seg_u[s]),
                int(net.seg_v[s]),
                bool(net.seg_twoway[s]),
                float(net.seg_len[s]),
                0.0,
                float(net.seg_len[s]) / 1000 * SALT_T_PER_KM,
            )
        )
    for (fid, row), node in zip(bridges.iterrows(), b_nodes, strict=True):
        if node < 0:
            unserved.append(
                {
                    "item": f"bridge:{fid}",
                    "name": row["name"],
                    "reason_zh": "300 米内没有可通行道路",
                    "reason_en": "no open street within 300 m",
                }
            )
            continue
        items.append(
            Item(
                f"bridge:{fid}",
                "bridge",
                str(row["name"]),
                int(row["snow_priority"] or 1),
                int(node),
                int(node),
                False,
                0.0,
                float(row["service_min"] or 15) * 60,
                float(row["salt_t"] or 0.5),
            )
        )
    vehicles = []
    for _, c in crews.iterrows():
        if c.get("status") == "out_of_service":
            notices.append(
                f"班组 {c['crew']} 停用，未参与方案 / crew {c['crew']} is out of service and left out"
            )
            continue
        node = depot_node.get(c["depot"], -1)
        if node is None or node < 0:
            notices.append(
                f"班组 {c['crew']} 的场站「{c['depot']}」不在路网上 / depot of crew {c['crew']} is off the network"
            )
            continue
        for n in range(int(c["vehicles"])):
            vehicles.append(
                Vehicle(
                    f"{c['crew']}-{n + 1}",
                    str(c["crew"]),
                    str(c["depot"]),
                    int(node),
                    float(c["work_speed_kph"]) / 3.6,
                    float(c["empty_speed_kph"]) / 3.6,
                    float(c["salt_capacity_t"]),
                )
            )
    if not vehicles:
        raise InvalidInput(
            "没有可出发的车辆（场站全部被封闭或不在路网上，或班组停用）",
            "No vehicle can start (every depot is cut off or off the network, or its crews are out of service)",
            field="crews",
        )
    salt_nodes = [
        int(depot_node[n])
        for n, s in zip(depots["name"], depots["salt_store"], strict=True)
        if s and depot_node.get(n, -1) >= 0
    ] or [v.node for v in vehicles]
    model = PlanModel(net, items, vehicles, salt_nodes, graph, graph.shape[0])
    # items no vehicle can reach, or needing more salt than any vehicle carries
    reach = np.zeros(len(items), dtype=bool)
    for v in vehicles:
        row = model.D[model.index[v.node]]
        for k, it in enumerate(items):
            ends = [(it.u, it.v)] + ([(it.v, it.u)] if it.twoway else [])
            if any(np.isfinite(row[model.index[a]]) for a, _ in ends):
                reach[k] = True
    for v in vehicles:
        others = np.isfinite(model.D[model.index[v.node]]).mean()
        if others < 0.5:
            notices.append(f"车辆 {v.id} 的场站被封闭道路隔断 / the depot of {v.id} is cut off by closures")
    max_cap = max(v.capacity_t for v in vehicles)
    keep = []
    for k, it in enumerate(items):
        if not reach[k]:
            unserved.append(
                {
                    "item": it.id,
                    "name": it.name,
                    "reason_zh": "任何场站都无法到达",
                    "reason_en": "not reachable from any depot",
                }
            )
        elif it.salt_t > max_cap:
            unserved.append(
                {
                    "item": it.id,
                    "name": it.name,
                    "reason_zh": "用盐量超过任何车辆的载量",
                    "reason_en": "needs more salt than any vehicle carries",
                }
            )
        else:
            keep.append(it)
    if len(keep) != len(items):
        model = PlanModel(net, keep, vehicles, salt_nodes, graph, graph.shape[0])
    lock_idx = {}
    pins: dict[int, int] = {}
    by_id = {it.id: k for k, it in enumerate(model.items)}
    for item_id, target in (locks or {}).items():
        who, _, position = str(target).partition("@")
        if position:
            if not position.isdigit() or int(position) < 1:
                raise InvalidInput(
                    f"顺序锁定「{target}」应为 车辆编号@序号（如 山阳一组-1@1）",
                    f"Order lock '{target}' must be vehicle@position (e.g. 山阳一组-1@1)",
                    field="locks",
                )
            if who not in {v.id for v in vehicles}:  # the form is right: the vehicle is not there
                crew = who.rpartition("-")[0]
                theirs = (
                    sorted(v.id for v in vehicles if v.crew == crew) or sorted(v.id for v in vehicles)[:8]
                )
                raise InvalidInput(
                    f"顺序锁定「{target}」中的车辆 {who} 不在方案中{_why_not_there(crews, crew)[0]}"
                    f"（可用：{'、'.join(theirs)}）",
                    f"Order lock '{target}': vehicle {who} is not in the plan{_why_not_there(crews, crew)[1]} "
                    f"(vehicles: {', '.join(theirs)})",
                    field="locks",
                )
            if item_id in by_id:
                pins[by_id[item_id]] = int(position)
        if item_id not in by_id:
            left_out = next((u for u in unserved if u["item"] == item_id), None)
            if left_out is not None:  # a closed bridge, a road cut off: say why
                raise InvalidInput(
                    f"锁定的作业对象 {item_id} 无法作业：{left_out['reason_zh']}",
                    f"Locked item {item_id} cannot be served: {left_out['reason_en']}",
                    field="locks",
                )
            raise InvalidInput(
                f"锁定的作业对象 {item_id} 不存在或不在除雪优先级中",
                f"Locked item {item_id} does not exist or has no snow priority",
                field="locks",
            )
        if who not in {v.crew for v in vehicles} | {v.id for v in vehicles}:
            zh, en = _why_not_there(crews, who)
            raise InvalidInput(
                f"锁定目标 {who} 不是方案中的班组或车辆{zh}",
                f"Lock target {who} is no crew or vehicle of the plan{en}",
                field="locks",
            )
        lock_idx[by_id[item_id]] = who
    refuse_shared_positions(model, pins, lock_idx)
    classes = sorted({it.priority for it in model.items})
    base = pin(model, greedy(model, classes, lock_idx), pins)
    base_clear, _ = evaluate(model, base)
    rng = np.random.default_rng(seed)
    xy = np.array([_xy(net, n, extra_xy) for n in model.nodes])
    start_plan = pin(model, clustered(model, classes, lock_idx, xy, rng), pins)
    if evaluate(model, start_plan)[0] > base_clear:
        start_plan = [{w: list(r) for w, r in routes.items()} for routes in base]
    plan, used = improve(model, start_plan, lock_idx, rng, iterations, pins)
    clear, _ = evaluate(model, plan)
    routed = {k for routes in plan for route in routes.values() for k, _ in route}
    for k, it in enumerate(model.items):
        if k not in routed:  # reachable from some depot, but by no vehicle that may take it, where it is
            unserved.append(
                {
                    "item": it.id,
                    "name": it.name,
                    "reason_zh": "可作业的车辆都无法到达（场站被封闭道路隔断，或锁定的班组到不了）",
                    "reason_en": "no vehicle allowed to serve it can get there (its depot is cut off by "
                    "closures, or the crew it is locked to cannot reach it)",
                }
            )
    vehicles_out = _describe(model, plan, net, crs, extra_xy)
    notices.extend(pin_notices(model, plan, pins, vehicles_out))
    return ResponsePlan(
        start,
        dict(zip(classes, clear, strict=True)),
        tuple(vehicles_out),
        tuple(unserved),
        tuple(notices),
        dict(zip(classes, base_clear, strict=True)),
        used,
        seed,
    )


def _xy(net: RoadNetwork, node: int, extra: Mapping[int, tuple[float, float]]) -> tuple[float, float]:
    if node < net.n_nodes:
        return float(net.node_xy[node][0]), float(net.node_xy[node][1])
    return extra[node]


def _lonlat(
    net: RoadNetwork, nodes: Sequence[int], extra: Mapping[int, tuple[float, float]], crs: str
) -> list[list[float]]:
    if not nodes:
        return []
    pts = shapely.points(np.array([_xy(net, n, extra) for n in nodes]))
    return [[round(p.x, 6), round(p.y, 6)] for p in from_metric(pts, crs)]


def _describe(
    model: PlanModel,
    plan: list[dict[int, list[tuple[int, int]]]],
    net: RoadNetwork,
    crs: str,
    extra_xy: Mapping[int, tuple[float, float]],
) -> list[dict[str, Any]]:
    """Each vehicle's stops in order with arrival times and its driven path (EPSG:4326 coordinates)."""
    out = []
    states = [(0.0, v.node, v.capacity_t) for v in model.vehicles]
    per_vehicle: list[list[dict[str, Any]]] = [[] for _ in model.vehicles]
    for routes in plan:
        for w, veh in enumerate(model.vehicles):
            t, pos, salt, stops = model.simulate(veh, routes[w], states[w])
            states[w] = (t, pos, salt)
            per_vehicle[w].extend(stops)
    for w, veh in enumerate(model.vehicles):
        stops = per_vehicle[w]
        path_nodes: list[int] = [veh.node]
        for s in stops:
            a = s["node"] if s.get("reload") else s["from"]
            path_nodes.extend(_path(model, path_nodes[-1], a)[1:])
            if not s.get("reload") and s["to"] != s["from"]:
                path_nodes.append(s["to"])
        seq = []
        stop_xy = _lonlat(net, [s["node"] if s.get("reload") else s["from"] for s in stops], extra_xy, crs)
        for i, s in enumerate(stops, start=1):
            entry = {
                "seq": i,
                "arrive_s": round(s["arrive_s"], 1),
                "empty_m": round(s["empty_m"], 1),
                "lonlat": stop_xy[i - 1],
            }
            if s.get("reload"):
                entry.update({"kind": "reload", "name": "装盐 / reload salt"})
            else:
                it = model.items[s["item"]]
                entry.update(
                    {
                        "kind": it.kind,
                        "item": it.id,
                        "name": it.name,
                        "priority": it.priority,
                        "done_s": round(s["done_s"], 1),
                        "work_m": round(it.length_m, 1),
                        "salt_t": round(it.salt_t, 3),
                        "direction": "reverse" if s["direction"] else "forward",
                    }
                )
            seq.append(entry)
        out.append(
            {
                "vehicle": veh.id,
                "crew": veh.crew,
                "depot": veh.depot,
                "stops": seq,
                "path_nodes": [int(n) for n in path_nodes],
                "path": _lonlat(net, path_nodes, extra_xy, crs),
                "work_m": round(sum(s.get("work_m", 0) for s in stops if not s.get("reload")), 1),
                "empty_m": round(sum(s["empty_m"] for s in stops), 1),
                "salt_t": round(sum(s.get("salt_t", 0) for s in stops if not s.get("reload")), 3),
                "reloads": sum(1 for s in stops if s.get("reload")),
                "end_s": round(states[w][0], 1),
            }
        )
    return out


def _path(model: PlanModel, a: int, b: int) -> list[int]:
    """Graph nodes of the shortest path a → b (a is one of the model's nodes)."""
    if a == b:
        return [a]
    row = model.pred[model.index[a]]
    nodes = [b]
    while nodes[-1] != a:
        p = int(row[nodes[-1]])
        if p < 0:
            return [a, b]
        nodes.append(p)
    return nodes[::-1]
