"""Capacitated arc routing instances: the gdb/val (CARPLIB) file format and the best-known table.

Tasks are the required edges; arc ``2k`` is task ``k`` from ``u`` to ``v`` and arc ``2k + 1`` the other way.
Deadheading costs between all node pairs come from scipy's sparse shortest paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

from geo_service.errors import InvalidInput

__all__ = ["CarpInstance", "read_best_known", "read_instance"]


@dataclass(frozen=True)
class CarpInstance:
    """Tasks are required edges (u, v, serve cost, demand); arcs 2k and 2k+1 are task k both ways."""

    name: str
    n_nodes: int
    depot: int
    capacity: float
    task_u: np.ndarray
    task_v: np.ndarray
    serve: np.ndarray
    demand: np.ndarray
    dist: np.ndarray  # all-pairs deadheading cost between nodes
    best_known: float | None = None

    @property
    def n_tasks(self) -> int:
        return len(self.task_u)

    def arc_tail(self, arcs: np.ndarray) -> np.ndarray:
        k = arcs // 2
        return np.where(arcs % 2 == 0, self.task_u[k], self.task_v[k])

    def arc_head(self, arcs: np.ndarray) -> np.ndarray:
        k = arcs // 2
        return np.where(arcs % 2 == 0, self.task_v[k], self.task_u[k])


def read_instance(path: Path | str, *, best_known: float | None = None) -> CarpInstance:
    """Read a gdb/val (CARPLIB) file."""
    text = Path(path).read_text(encoding="latin-1")
    head = dict(re.findall(r"^\s*([A-Z_]+)\s*:\s*(\S+)", text, flags=re.M))
    edges = re.findall(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*coste\s+(\d+)(?:\s+demanda\s+(\d+))?", text)
    missing = [k for k in ("VERTICES", "ARISTAS_REQ", "CAPACIDAD") if k not in head]
    depot_match = re.search(r"DEPOSITO\s*:\s*(\d+)", text)
    if missing or depot_match is None or not edges:
        what = missing + ([] if depot_match else ["DEPOSITO"]) + ([] if edges else ["LISTA_ARISTAS_REQ"])
        raise InvalidInput(
            f"算例文件 {Path(path).name} 缺少 {what}",
            f"Instance file {Path(path).name} lacks {what}",
            field="instance",
        )
    req_count = int(head["ARISTAS_REQ"])
    n = int(head["VERTICES"])
    depot = int(depot_match.group(1)) - 1
    u = np.array([int(e[0]) - 1 for e in edges])
    v = np.array([int(e[1]) - 1 for e in edges])
    c = np.array([float(e[2]) for e in edges])
    d = np.array([float(e[3] or 0) for e in edges])
    graph = coo_matrix(
        (np.concatenate([c, c]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n)
    ).tocsr()
    graph.sum_duplicates()
    dist = shortest_path(graph, directed=False)
    return CarpInstance(
        head.get("NOMBRE", Path(path).stem),
        n,
        depot,
        float(head["CAPACIDAD"]),
        u[:req_count],
        v[:req_count],
        c[:req_count],
        d[:req_count],
        dist,
        best_known,
    )


def read_best_known(readme: Path | str) -> dict[str, float]:
    """Best-known costs from the markdown tables of the benchmark README (``gdb1`` … ``val10D``)."""
    text = Path(readme).read_text(encoding="utf-8")
    out: dict[str, float] = {}
    gdb = re.findall(r"^\| gdb \|(.+)\|$\n\|[-| ]+\|\n\| cost \|(.+)\|$", text, flags=re.M)
    for header, costs in gdb:
        for k, c in zip(header.split("|"), costs.split("|"), strict=True):
            out[f"gdb{k.strip()}"] = float(c)
    for row in re.findall(r"^\| (\d+) \|(.+)\|$", text, flags=re.M):
        for letter, c in zip("ABCD", row[1].split("|"), strict=False):
            if c.strip():
                out[f"val{row[0]}{letter}"] = float(c)
    return out
