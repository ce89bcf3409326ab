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
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra

from geo_service.budget import check_budget
from geo_service.crs import from_metric, to_metric
from geo_service.errors import InvalidInput
from geo_service.network import RoadNetwork, _augment, snap

__all__ = ["SALT_T_PER_KM", "Item", "ResponsePlan", "Vehicle", "plan_response"]

SALT_T_PER_KM = 0.12


@dataclass(frozen=True)
class Item:
    id: str  # "road:<fid>" or "bridge:<fid>"
    kind: str  # road | bridge
    name: str
    priority: int
    u: int  # graph node where work starts (for a two-way road either end)
    v: int
    twoway: bool
    length_m: float
    service_s: float  # bridges: fixed; roads: computed per crew speed
    salt_t: float


@dataclass(frozen=True)
class Vehicle:
    id: str
    crew: str
    depot: str
    node: int
    work_mps: float
    empty_mps: float
    capacity_t: float


@dataclass
class _Route:
    vehicle: Vehicle
    items: list[tuple[int, int]] = field(default_factory=list)  # (item index, direction 0 u→v / 1 v→u)


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


class _Model:
    """Items, vehicles and the time matrix between the nodes they use."""

    def __init__(
        self,
        net: RoadNetwork,
        items: list[Item],
        vehicles: list[Vehicle],
        salt_nodes: list[int],
        graph: Any,
        n_nodes: int,
    ) -> None:
        self.items, self.vehicles, self.salt_nodes = items, vehicles, salt_nodes
        nodes = sorted(
            {i.u for i in items} | {i.v for i in items} | {v.node for v in vehicles} | set(salt_nodes)
        )
        self.index = {n: k for k, n in enumerate(nodes)}
        self.nodes = np.asarray(nodes)
        dist, pred = dijkstra(graph, directed=True, indices=self.nodes, return_predecessors=True)
        self.full_dist, self.pred = dist, pred
        self.D = dist[:, self.nodes]  # metres between nodes of interest (directed)
        self.graph, self.n_nodes = graph, n_nodes

    def d(self, a: int, b: int) -> float:
        return float(self.D[self.index[a], self.index[b]])

    def ends(self, k: int, direction: int) -> tuple[int, int]:
        it = self.items[k]
        return (it.u, it.v) if direction == 0 else (it.v, it.u)

    def work_s(self, k: int, veh: Vehicle) -> float:
        it = self.items[k]
        return it.service_s if it.kind == "bridge" else it.length_m / veh.work_mps

    def nearest_salt(self, node: int) -> tuple[int, float]:
        row = self.D[self.index[node]]
        best = min(self.salt_nodes, key=lambda s: row[self.index[s]])
        return best, float(row[self.index[best]])

    def simulate(
        self, veh: Vehicle, items: Sequence[tuple[int, int]], state: tuple[float, int, float]
    ) -> tuple[float, int, float, list[dict[str, Any]]]:
        """Drive a list of items from (time, node, salt left): returns the end state and the stops."""
        t, pos, salt = state
        stops = []
        for k, direction in items:
            it = self.items[k]
            if it.salt_t > salt + 1e-9:
                depot, dist_m = self.nearest_salt(pos)
                t += dist_m / veh.empty_mps
                stops.append({"reload": True, "node": depot, "arrive_s": t, "empty_m": dist_m})
                pos, salt = depot, veh.capacity_t
            a, b = self.ends(k, direction)
            empty = self.d(pos, a)
            t += empty / veh.empty_mps
            arrive = t
            t += self.work_s(k, veh)
            salt -= it.salt_t
            stops.append(
                {
                    "item": k,
                    "direction": direction,
                    "from": a,
                    "to": b,
                    "arrive_s": arrive,
                    "done_s": t,
                    "empty_m": empty,
                    "work_m": it.length_m,
                    "salt_t": it.salt_t,
                    "salt_left_t": salt,
                }
            )
            pos = b
        return t, pos, salt, stops


def _greedy(
    model: _Model, classes: Sequence[int], locks: Mapping[int, str]
) -> list[dict[int, list[tuple[int, int]]]]:
    """Nearest-first by priority: the vehicle free earliest takes the nearest open item of its class."""
    states = [(0.0, v.node, v.capacity_t) for v in model.vehicles]
    iu = np.array([model.index[it.u] for it in model.items], dtype=np.int64)
    iv = np.array([model.index[it.v] for it in model.items], dtype=np.int64)
    two = np.array([it.twoway for it in model.items], dtype=bool)
    prio = np.array([it.priority for it in model.items])
    allowed = np.ones((len(model.vehicles), len(model.items)), dtype=bool)
    for k, who in locks.items():
        allowed[:, k] = [who in (v.crew, v.id) for v in model.vehicles]
    plan: list[dict[int, list[tuple[int, int]]]] = []
    for pclass in classes:
        open_mask = prio == pclass
        routes: dict[int, list[tuple[int, int]]] = {w: [] for w in range(len(model.vehicles))}
        idle = np.zeros(len(model.vehicles), dtype=bool)
        while open_mask.any():
            check_budget()
            times = np.array([st[0] for st in states])
            times[idle] = np.inf
            if not np.isfinite(times).any():
                break
            w = int(np.argmin(times))
            veh = model.vehicles[w]
            t, pos, salt = states[w]
            cand = open_mask & allowed[w]
            if not cand.any():
                idle[w] = True
                continue
            row = model.D[model.index[pos]]
            fwd = np.where(cand, row[iu], np.inf)
            rev = np.where(cand & two, row[iv], np.inf)
            kf, kr = int(np.argmin(fwd)), int(np.argmin(rev))
            if not np.isfinite(min(fwd[kf], rev[kr])):  # nothing open it may take is reachable from here
                idle[w] = True  # (a depot cut off by closures): the others go on, or the items stay unserved
                continue
            k, direction = (kf, 0) if fwd[kf] <= rev[kr] else (kr, 1)
            t2, pos2, salt2, _ = model.simulate(veh, [(k, direction)], (t, pos, salt))
            states[w] = (t2, pos2, salt2)
            routes[w].append((k, direction))
            open_mask[k] = False
        plan.append(routes)
    return plan


def _balanced_labels(d: np.ndarray, w: np.ndarray, cap: float) -> np.ndarray:
    """Nearest cluster for each item, but no cluster above ``cap`` of work (closest pairs first)."""
    n, k = d.shape
    label = np.full(n, -1)
    load = np.zeros(k)
    for flat in np.argsort(d, axis=None, kind="stable"):
        i, c = divmod(int(flat), k)
        if label[i] < 0 and load[c] + w[i] <= cap:
            label[i] = c
            load[c] += w[i]
    for i in np.flatnonzero(label < 0):
        c = int(np.argmin(load))
        label[i] = c
        load[c] += w[i]
    return label


def _clustered(
    model: _Model, classes: Sequence[int], locks: Mapping[int, str], xy: np.ndarray, rng: np.random.Generator
) -> list[dict[int, list[tuple[int, int]]]]:
    """Each class cut into one geographic cluster per vehicle (k-means on item positions, clusters matched
    to vehicles by distance), each cluster routed nearest-next then shortened by 2-opt."""
    from scipy.optimize import linear_sum_assignment

    nveh = len(model.vehicles)
    states = [(0.0, v.node, v.capacity_t) for v in model.vehicles]
    mid = (xy[[model.index[it.u] for it in model.items]] + xy[[model.index[it.v] for it in model.items]]) / 2
    weight = np.array([max(model.work_s(k, model.vehicles[0]), 1.0) for k in range(len(model.items))])
    plan: list[dict[int, list[tuple[int, int]]]] = []
    for pclass in classes:
        members = np.flatnonzero([it.priority == pclass for it in model.items])
        routes: dict[int, list[tuple[int, int]]] = {w: [] for w in range(nveh)}
        free = np.array([k for k in members if k not in locks])
        if len(free):
            k_clusters = min(nveh, len(free))
            centres = mid[free[rng.choice(len(free), k_clusters, replace=False)]]
            cap = weight[free].sum() / k_clusters * 1.03
            for _ in range(25):
                d = np.linalg.norm(mid[free][:, None, :] - centres[None, :, :], axis=2)
                label = _balanced_labels(d, weight[free], cap)
                for c in range(k_clusters):
                    sel = label == c
                    if sel.any():
                        centres[c] = np.average(mid[free][sel], axis=0, weights=weight[free][sel])
            start_xy = np.array([xy[model.index[st[1]]] for st in states])
            cost = np.linalg.norm(start_xy[:, None, :] - centres[None, :, :], axis=2)
            rows, cols = linear_sum_assignment(cost)
            owner = dict(zip(cols, rows, strict=True))
            groups: dict[int, list[int]] = {w: [] for w in range(nveh)}
            for k, c in zip(free, label, strict=True):
                groups[owner[int(c)]].append(int(k))
        else:
            groups = {w: [] for w in range(nveh)}
        for k in members:
            if k in locks:
                w = next(i for i, v in enumerate(model.vehicles) if locks[int(k)] in (v.crew, v.id))
                groups[w].append(int(k))
        for w, veh in enumerate(model.vehicles):
            pos = states[w][1]
            todo = set(groups[w])
            route: list[tuple[int, int]] = []
            while todo:
                check_budget()
                row = model.D[model.index[pos]]
                best = min(
                    (row[model.index[model.ends(k, d)[0]]], k, d)
                    for k in todo
                    for d in ((0, 1) if model.items[k].twoway else (0,))
                )
                _, k, d = best
                route.append((k, d))
                todo.discard(k)
                pos = model.ends(k, d)[1]
            for _ in range(200):
                better = _two_opt(model, route, states[w][1])
                if better is None:
                    break
                route = better
            routes[w] = route
            t, pos2, salt, _ = model.simulate(veh, route, states[w])
            states[w] = (t, pos2, salt)
        plan.append(routes)
    return plan


def _class_starts(
    model: _Model, plan: list[dict[int, list[tuple[int, int]]]], c: int
) -> list[tuple[float, int, float]]:
    states = [(0.0, v.node, v.capacity_t) for v in model.vehicles]
    for routes in plan[:c]:
        for w, veh in enumerate(model.vehicles):
            t, pos, salt, _ = model.simulate(veh, routes[w], states[w])
            states[w] = (t, pos, salt)
    return states


def _evaluate(
    model: _Model, plan: list[dict[int, list[tuple[int, int]]]]
) -> tuple[list[float], list[list[float]]]:
    """Clear time per class, and each vehicle's end time per class."""
    states = [(0.0, v.node, v.capacity_t) for v in model.vehicles]
    clear, ends = [], []
    for routes in plan:
        end_times = []
        for w, veh in enumerate(model.vehicles):
            t, pos, salt, _ = model.simulate(veh, routes[w], states[w])
            states[w] = (t, pos, salt)
            end_times.append(t if routes[w] else -1.0)
        clear.append(max(end_times) if end_times else 0.0)
        ends.append(end_times)
    return clear, ends


def _best_insertion(
    model: _Model, veh: Vehicle, route: list[tuple[int, int]], start_node: int, k: int
) -> tuple[int, int]:
    """Position and direction adding the least driving to ``route`` (salt reloads ignored in the estimate)."""
    D, idx = model.D, model.index
    ends_b = [start_node] + [model.ends(j, d)[1] for j, d in route]
    starts_n = [model.ends(j, d)[0] for j, d in route] + [None]
    prev = np.array([idx[n] for n in ends_b])
    best = (np.inf, 0, 0)
    for direction in (0, 1) if model.items[k].twoway else (0,):
        a, b = model.ends(k, direction)
        add = D[prev, idx[a]].copy()
        for i, nxt in enumerate(starts_n):
            if nxt is not None:
                add[i] += D[idx[b], idx[nxt]] - D[prev[i], idx[nxt]]
        i = int(np.argmin(add))
        if add[i] < best[0]:
            best = (float(add[i]), i, direction)
    return best[1], best[2]


def _two_opt(model: _Model, route: list[tuple[int, int]], start_node: int) -> list[tuple[int, int]] | None:
    """The best reversal of a stretch of two-way items (each flipped), by the driving it saves; or None."""
    n = len(route)
    if n < 3:
        return None
    D, idx = model.D, model.index
    a = np.array([idx[model.ends(k, d)[0]] for k, d in route])
    b = np.array([idx[model.ends(k, d)[1]] for k, d in route])
    flippable = np.array([model.items[k].twoway or model.items[k].kind == "bridge" for k, _ in route])
    prev = np.concatenate([[idx[start_node]], b[:-1]])
    fwd = np.concatenate([[0.0], np.cumsum(D[b[:-1], a[1:]])])  # internal driving up to each position
    rev = np.concatenate([[0.0], np.cumsum(D[a[1:], b[:-1]])])  # the same stretch driven backwards
    if not (np.isfinite(fwd[-1]) and np.isfinite(D[prev[0], a[0]])):
        return None  # a leg it cannot drive (a depot cut off by closures): no reversal makes it drivable
    bad = np.concatenate([[0], np.cumsum(~flippable)])
    best: tuple[float, tuple[int, int] | None] = (-1e-6, None)
    for i in range(n - 1):
        j = np.arange(i + 2, n + 1)  # reverse route[i:j]
        ok = bad[j] - bad[i] == 0
        if not ok.any():
            continue
        inner_old = fwd[j - 1] - fwd[i]
        inner_new = rev[j - 1] - rev[i]
        last = j == n  # the stretch ends the route: nothing to drive on to
        nxt = a[np.minimum(j, n - 1)]
        old = D[prev[i], a[i]] + inner_old + np.where(last, 0.0, D[b[j - 1], nxt])
        new = D[prev[i], b[j - 1]] + inner_new + np.where(last, 0.0, D[a[i], nxt])
        with np.errstate(invalid="ignore"):  # inf - inf where a reversal is not drivable either
            delta = np.where(ok & np.isfinite(new), new - old, np.inf)
        k = int(np.argmin(delta))
        if delta[k] < best[0]:
            best = (float(delta[k]), (i, int(j[k])))
    if best[1] is None:
        return None
    lo, hi = best[1]
    flipped = [(k, 1 - d if model.items[k].twoway else d) for k, d in reversed(route[lo:hi])]
    return route[:lo] + flipped + route[hi:]


def _pin(
    model: _Model, plan: list[dict[int, list[tuple[int, int]]]], pins: Mapping[int, int]
) -> list[dict[int, list[tuple[int, int]]]]:
    """Put order-locked items at their position (1-based) among their vehicle's stops of their priority
    (a route holds its priorities one after another; each keeps its place)."""
    if not pins:
        return plan
    for routes in plan:
        for w in routes:
            route = routes[w]
            if not any(k in pins for k, _ in route):
                continue
            groups: dict[int, list[tuple[int, int]]] = {}
            for entry in route:
                groups.setdefault(model.items[entry[0]].priority, []).append(entry)
            routes[w] = [entry for group in groups.values() for entry in _pinned(group, pins)]
    return plan


def _pinned(route: list[tuple[int, int]], pins: Mapping[int, int]) -> list[tuple[int, int]]:
    """One priority's stops with its locks kept: a lock within the stops exactly (no two share a stop:
    refused up front); one beyond them as late as the others allow; the rest in their order around them."""
    n = len(route)
    slots: list[tuple[int, int] | None] = [None] * n
    pinned = sorted((pins[k], (k, d)) for k, d in route if k in pins)
    for position, entry in pinned:
        if position <= n:
            slots[position - 1] = entry
    free = [i for i in range(n) if slots[i] is None]
    beyond = [entry for position, entry in pinned if position > n]
    for i, entry in zip(free[len(free) - len(beyond) :], beyond, strict=True):
        slots[i] = entry
    rest = iter([(k, d) for k, d in route if k not in pins])
    return [slot if slot is not None else next(rest) for slot in slots]


def _refuse_shared_positions(model: _Model, pins: Mapping[int, int], lock_idx: Mapping[int, str]) -> None:
    """Two items locked to the same stop of one vehicle (positions count within a priority) cannot both
    be there: refused up front, naming both, rather than one quietly put after the other."""
    seen: dict[tuple[str, int, int], int] = {}
    for k, position in sorted(pins.items(), key=lambda kv: model.items[kv[0]].id):
        place = (lock_idx[k], model.items[k].priority, position)
        if place in seen:
            a, b = model.items[seen[place]].id, model.items[k].id
            raise InvalidInput(
                f"{a} 与 {b} 都锁定在车辆 {place[0]} 的 {place[1]} 级第 {position} 站，同一站只能安排一个对象",
                f"{a} and {b} are both locked to stop {position} of priority {place[1]} of vehicle "
                f"{place[0]}: one stop takes one item",
                field="locks",
                details={"items": [a, b]},
            )
        seen[place] = k


def _pin_notices(
    model: _Model,
    plan: list[dict[int, list[tuple[int, int]]]],
    pins: Mapping[int, int],
    vehicles_out: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Where an order lock asked for a stop beyond the vehicle's stops of that priority, the item goes
    last (as ``_pin`` puts it): said so, with where it went."""
    notices = []
    for routes in plan:
        for w, route in routes.items():
            for at, (k, _) in enumerate(route, start=1):
                asked = pins.get(k)
                if asked is None or asked == at:
                    continue
                it, veh = model.items[k], model.vehicles[w]
                seq = next((s["seq"] for s in vehicles_out[w]["stops"] if s.get("item") == it.id), at)
                last_zh, last_en = ("，即最后一站", ", the last") if at == len(route) else ("", "")
                notices.append(
                    f"{it.id} 锁定在车辆 {veh.id} 的 {it.priority} 级第 {asked} 站，但该车 {it.priority} 级只有 "
                    f"{len(route)} 站：已排在第 {at} 站{last_zh}（路线第 {seq} 站）/ {it.id} is locked to "
                    f"stop {asked} of priority {it.priority} of vehicle {veh.id}, which has only {len(route)} "
                    f"stops of that priority: it is placed at stop {at} of {len(route)}{last_en} "
                    f"(stop {seq} of the route)"
                )
    return notices


def _improve(
    model: _Model,
    plan: list[dict[int, list[tuple[int, int]]]],
    locks: Mapping[int, str],
    rng: np.random.Generator,
    iterations: int,
    pins: Mapping[int, int] | None = None,
) -> tuple[list[dict[int, list[tuple[int, int]]]], int]:
    """Move items off the vehicle that clears each class last while that class's clear time falls."""
    used = 0
    for c in range(len(plan)):
        starts = _class_starts(model, plan, c)
        routes = plan[c]

        def end(
            w: int, route: list[tuple[int, int]], starts: list[tuple[float, int, float]] = starts
        ) -> float:
            return model.simulate(model.vehicles[w], route, starts[w])[0] if route else -1.0

        ends = [end(w, routes[w]) for w in range(len(model.vehicles))]
        for _ in range(iterations):
            check_budget()
            used += 1
            crit = int(np.argmax(ends))
            route = routes[crit]
            if not route:
                break
            clear = ends[crit]
            better = _two_opt(model, route, starts[crit][1])
            if better is not None and pins:
                better = _pin(model, [{0: better}], pins)[0][0]
            if better is not None and end(crit, better) < clear - 1e-6:
                routes[crit] = better
                ends[crit] = end(crit, better)
                continue
            best: tuple[float, float, int, list[tuple[int, int]], list[tuple[int, int]]] | None = None
            picks = rng.permutation(len(route))[:24]
            for pos in picks:
                k = route[int(pos)][0]
                if pins and k in pins:
                    continue
                removed = route[: int(pos)] + route[int(pos) + 1 :]
                crit_end = end(crit, removed)
                for w, veh in enumerate(model.vehicles):
                    if locks.get(k) not in (None, veh.crew, veh.id):
                        continue
                    target = removed if w == crit else routes[w]
                    start_node = starts[w][1]
                    i, direction = _best_insertion(model, veh, target, start_node, k)
                    trial = [*target[:i], (k, direction), *target[i:]]
                    if pins:
                        trial = _pin(model, [{0: trial}], pins)[0][0]
                        removed = _pin(model, [{0: removed}], pins)[0][0]
                        crit_end = end(crit, removed)
                    new_w = end(w, trial)
                    others = [ends[j] for j in range(len(ends)) if j not in (crit, w)]
                    new_clear = max([crit_end if w != crit else new_w, new_w, *others])
                    total = sum(others) + new_w + (crit_end if w != crit else 0)
                    if new_clear < clear - 1e-6 and (best is None or (new_clear, total) < best[:2]):
                        best = (new_clear, total, w, removed, trial)
            if best is None:
                break
            _, _, w, removed, trial = best
            if w == crit:
                routes[crit] = trial
            else:
                routes[crit], routes[w] = removed, trial
                ends[w] = end(w, trial)
            ends[crit] = end(crit, routes[crit])
    return plan, used


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
        if s is None:
            unserved.append(
                {
                    "item": f"road:{fid}",
                    "name": row["name"],
                    "reason_zh": "道路封闭",
                    "reason_en": "road closed",
                }
            )
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
    model = _Model(net, items, vehicles, salt_nodes, graph, graph.shape[0])
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
        model = _Model(net, keep, vehicles, salt_nodes, graph, graph.shape[0])
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
    _refuse_shared_positions(model, pins, lock_idx)
    classes = sorted({it.priority for it in model.items})
    base = _pin(model, _greedy(model, classes, lock_idx), pins)
    base_clear, _ = _evaluate(model, base)
    rng = np.random.default_rng(seed)
    xy = np.array([_xy(net, n, extra_xy) for n in model.nodes])
    start_plan = _pin(model, _clustered(model, classes, lock_idx, xy, rng), pins)
    if _evaluate(model, start_plan)[0] > base_clear:
        start_plan = [{w: list(r) for w, r in routes.items()} for routes in base]
    plan, used = _improve(model, start_plan, lock_idx, rng, iterations, pins)
    clear, _ = _evaluate(model, plan)
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
    notices.extend(_pin_notices(model, plan, pins, vehicles_out))
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
    model: _Model,
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


def _path(model: _Model, a: int, b: int) -> list[int]:
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
