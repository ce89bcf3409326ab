"""What a snow or flood response plan is made of: the items to serve (key-road segments, bridges and
culverts), the vehicles that serve them, and ``PlanModel``, the driving times between the nodes they
use with a vehicle's run through a list of items (salt reloads included), which the searches
(``snow/search.py``) and the plan (``snow/plan.py``) share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra

from geo_service.network import RoadNetwork

__all__ = ["Item", "PlanModel", "Vehicle"]


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


class PlanModel:
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
