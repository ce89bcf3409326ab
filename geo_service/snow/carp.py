"""Capacitated arc routing: the core of snow and ice routes.

Every required edge is served once, by one vehicle of limited capacity, from and back to the depot.
Solver: path-scanning construction, Ulusoy's optimal split of a giant tour, and an iterated local
search (relocate and swap with both directions, tail exchange between routes, vectorised in numpy;
2-opt within routes), restarted
from perturbed giant tours. Deterministic for a seed and an iteration budget; a time limit may stop
it earlier.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from geo_service.errors import InvalidInput
from geo_service.snow.instances import CarpInstance, read_instance

__all__ = ["CarpInstance", "CarpSolution", "read_instance", "route_cost", "solve_carp"]


@dataclass(frozen=True)
class CarpSolution:
    routes: tuple[tuple[int, ...], ...]  # arcs per route
    cost: float
    iterations: int
    seconds: float


def route_cost(inst: CarpInstance, route: list[int] | tuple[int, ...]) -> float:
    if not route:
        return 0.0
    arcs = np.asarray(route)
    tails, heads = inst.arc_tail(arcs), inst.arc_head(arcs)
    nodes = np.concatenate([[inst.depot], np.column_stack([tails, heads]).ravel(), [inst.depot]])
    dead = inst.dist[nodes[0::2], nodes[1::2]].sum()
    return float(dead + inst.serve[arcs // 2].sum())


def _split(inst: CarpInstance, tour: np.ndarray) -> list[list[int]]:
    """Ulusoy's split: the best cut of a giant tour into capacity-feasible trips (O(n²))."""
    n = len(tour)
    tails, heads = inst.arc_tail(tour), inst.arc_head(tour)
    serve = inst.serve[tour // 2]
    dem = inst.demand[tour // 2]
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    pred = np.zeros(n + 1, dtype=np.int64)
    D = inst.dist
    for i in range(n):
        if not np.isfinite(best[i]):
            continue
        load = 0.0
        cost = D[inst.depot, tails[i]]
        for j in range(i, n):
            load += dem[j]
            if load > inst.capacity:
                break
            if j > i:
                cost += D[heads[j - 1], tails[j]]
            cost += serve[j]
            total = best[i] + cost + D[heads[j], inst.depot]
            if total < best[j + 1]:
                best[j + 1] = total
                pred[j + 1] = i
    routes = []
    j = n
    while j > 0:
        i = pred[j]
        routes.append([int(a) for a in tour[i:j]])
        j = i
    return routes[::-1]


def _path_scanning(inst: CarpInstance, rng: np.random.Generator) -> list[int]:
    """A giant tour by randomised path scanning (nearest feasible task, ties by a random rule)."""
    left = set(range(inst.n_tasks))
    tour: list[int] = []
    pos, load = inst.depot, 0.0
    while left:
        cand = np.array(sorted(left))
        arcs = np.concatenate([2 * cand, 2 * cand + 1])
        fits = np.concatenate([inst.demand[cand], inst.demand[cand]]) + load <= inst.capacity
        if not fits.any():
            pos, load = inst.depot, 0.0
            continue
        arcs = arcs[fits]
        d = inst.dist[pos, inst.arc_tail(arcs)]
        near = arcs[d <= d.min() + 1e-9]
        if len(near) > 1:
            rule = rng.integers(3)
            score = (
                inst.dist[inst.arc_head(near), inst.depot] * (1 if rule == 0 else -1)
                if rule < 2
                else rng.random(len(near))
            )
            a = int(near[np.argmax(score)])
        else:
            a = int(near[0])
        tour.append(a)
        left.discard(a // 2)
        load += inst.demand[a // 2]
        pos = int(inst.arc_head(np.array([a]))[0])
    return tour


def _local_search(inst: CarpInstance, routes: list[list[int]]) -> list[list[int]]:
    """Relocate (with direction) until no move improves; then 2-opt inside routes; repeat."""
    D = inst.dist
    improved = True
    while improved:
        improved = False
        routes = [r for r in routes if r]
        loads = np.array([inst.demand[np.asarray(r) // 2].sum() for r in routes])
        # all insertion positions: (route, index, prev node, next node)
        pr: list[int] = []
        pi: list[int] = []
        pp: list[int] = []
        pn: list[int] = []
        for ri, r in enumerate(routes):
            nodes_t = inst.arc_tail(np.asarray(r))
            nodes_h = inst.arc_head(np.asarray(r))
            prev = np.concatenate([[inst.depot], nodes_h])
            nxt = np.concatenate([nodes_t, [inst.depot]])
            pr.extend([ri] * len(prev))
            pi.extend(range(len(prev)))
            pp.extend(prev)
            pn.extend(nxt)
        pr_a, pi_a, pp_a, pn_a = map(np.asarray, (pr, pi, pp, pn))
        base = D[pp_a, pn_a]
        for ri, r in enumerate(routes):
            for k, a in enumerate(r):
                before_k = inst.depot if k == 0 else int(inst.arc_head(np.array([r[k - 1]]))[0])
                after_k = inst.depot if k == len(r) - 1 else int(inst.arc_tail(np.array([r[k + 1]]))[0])
                t, h = int(inst.arc_tail(np.array([a]))[0]), int(inst.arc_head(np.array([a]))[0])
                gain = D[before_k, t] + D[h, after_k] - D[before_k, after_k]
                task = a // 2
                dem = inst.demand[task]
                u, v = inst.task_u[task], inst.task_v[task]
                ins_uv = D[pp_a, u] + D[v, pn_a] - base
                ins_vu = D[pp_a, v] + D[u, pn_a] - base
                ok = (pr_a != ri) & (loads[pr_a] + dem <= inst.capacity)
                cost = np.minimum(ins_uv, ins_vu)
                cost[~ok] = np.inf
                # a new route of its own
                alone = D[inst.depot, u] + D[v, inst.depot]
                j = int(np.argmin(cost))
                best_ins = cost[j]
                if alone < best_ins and len(r) > 1:
                    if alone - gain < -1e-9:
                        r.pop(k)
                        routes.append(
                            [
                                2 * task
                                if D[inst.depot, u] + D[v, inst.depot] <= D[inst.depot, v] + D[u, inst.depot]
                                else 2 * task + 1
                            ]
                        )
                        improved = True
                        break
                    continue
                if best_ins - gain < -1e-9:
                    tr, ti = int(pr_a[j]), int(pi_a[j])
                    arc = 2 * task if ins_uv[j] <= ins_vu[j] else 2 * task + 1
                    r.pop(k)
                    routes[tr].insert(ti, arc)
                    improved = True
                    break
                # flipping the task where it is
                flip = D[before_k, h] + D[t, after_k] - (D[before_k, t] + D[h, after_k])
                if flip < -1e-9:
                    r[k] = a ^ 1
                    improved = True
                    break
            if improved:
                break
        if not improved:
            improved = _two_opt(inst, routes) or _swap(inst, routes) or _cross(inst, routes)
    return [r for r in routes if r]


def _swap(inst: CarpInstance, routes: list[list[int]]) -> bool:
    """Exchange two tasks of different routes (each in its better direction): the best improving one."""
    D = inst.dist
    rid: list[int] = []
    pos: list[int] = []
    arc: list[int] = []
    prev: list[int] = []
    nxt: list[int] = []
    for ri, r in enumerate(routes):
        arcs = np.asarray(r)
        heads, tails = inst.arc_head(arcs), inst.arc_tail(arcs)
        rid.extend([ri] * len(r))
        pos.extend(range(len(r)))
        arc.extend(r)
        prev.extend(np.concatenate([[inst.depot], heads[:-1]]))
        nxt.extend(np.concatenate([tails[1:], [inst.depot]]))
    rid_a, pos_a, arc_a, prev_a, nxt_a = map(np.asarray, (rid, pos, arc, prev, nxt))
    task = arc_a // 2
    u, v = inst.task_u[task], inst.task_v[task]
    t, h = inst.arc_tail(arc_a), inst.arc_head(arc_a)
    here = D[prev_a, t] + D[h, nxt_a]  # cost of each task where it is
    loads = np.array([inst.demand[np.asarray(r) // 2].sum() for r in routes])
    dem = inst.demand[task]
    best: tuple[float, tuple[int, int] | None] = (-1e-9, None)
    for i in range(len(arc_a)):
        # put task j where i is, and task i where j is
        in_i = np.minimum(D[prev_a[i], u] + D[v, nxt_a[i]], D[prev_a[i], v] + D[u, nxt_a[i]])
        in_j = np.minimum(D[prev_a, u[i]] + D[v[i], nxt_a], D[prev_a, v[i]] + D[u[i], nxt_a])
        delta = in_i + in_j - here[i] - here
        ok = (
            (rid_a != rid_a[i])
            & (loads[rid_a[i]] - dem[i] + dem <= inst.capacity)
            & (loads[rid_a] - dem + dem[i] <= inst.capacity)
        )
        delta[~ok] = np.inf
        j = int(np.argmin(delta))
        if delta[j] < best[0]:
            best = (float(delta[j]), (i, j))
    if best[1] is None:
        return False
    i, j = best[1]
    ri, ki, rj, kj = int(rid_a[i]), int(pos_a[i]), int(rid_a[j]), int(pos_a[j])
    ti, tj = int(task[i]), int(task[j])

    def oriented(tk: int, p: int, n: int) -> int:
        a, b = inst.task_u[tk], inst.task_v[tk]
        return 2 * tk if D[p, a] + D[b, n] <= D[p, b] + D[a, n] else 2 * tk + 1

    routes[ri][ki] = oriented(tj, int(prev_a[i]), int(nxt_a[i]))
    routes[rj][kj] = oriented(ti, int(prev_a[j]), int(nxt_a[j]))
    return True


def _cross(inst: CarpInstance, routes: list[list[int]]) -> bool:
    """Exchange the tails of two routes (2-opt*): the best improving exchange within capacity."""
    D = inst.dist
    rid: list[int] = []
    pos: list[int] = []
    prev: list[int] = []
    nxt: list[int] = []
    before: list[float] = []
    total: list[float] = []
    for ri, r in enumerate(routes):
        arcs = np.asarray(r)
        dem = inst.demand[arcs // 2]
        rid.extend([ri] * (len(r) + 1))
        pos.extend(range(len(r) + 1))
        prev.extend(np.concatenate([[inst.depot], inst.arc_head(arcs)]))  # node before the cut
        nxt.extend(np.concatenate([inst.arc_tail(arcs), [inst.depot]]))  # node after the cut
        before.extend(np.concatenate([[0.0], np.cumsum(dem)]))
        total.extend([dem.sum()] * (len(r) + 1))
    rid_a, pos_a, prev_a, nxt_a, before_a, total_a = map(np.asarray, (rid, pos, prev, nxt, before, total))
    here = D[prev_a, nxt_a]
    best: tuple[float, tuple[int, int] | None] = (-1e-9, None)
    for p in range(len(rid_a)):
        delta = D[prev_a[p], nxt_a] + D[prev_a, nxt_a[p]] - here[p] - here
        ok = (
            (rid_a > rid_a[p])
            & (before_a[p] + total_a - before_a <= inst.capacity)
            & (before_a + total_a[p] - before_a[p] <= inst.capacity)
        )
        delta[~ok] = np.inf
        q = int(np.argmin(delta))
        if delta[q] < best[0]:
            best = (float(delta[q]), (p, q))
    if best[1] is None:
        return False
    p, q = best[1]
    r1, r2 = routes[int(rid_a[p])], routes[int(rid_a[q])]
    i, j = int(pos_a[p]), int(pos_a[q])
    routes[int(rid_a[p])], routes[int(rid_a[q])] = r1[:i] + r2[j:], r2[:j] + r1[i:]
    return True


def _two_opt(inst: CarpInstance, routes: list[list[int]]) -> bool:
    """Reverse a stretch of a route (each arc flipped): the first improving one."""
    D = inst.dist
    for r in routes:
        n = len(r)
        if n < 3:
            continue
        arcs = np.asarray(r)
        tails, heads = inst.arc_tail(arcs), inst.arc_head(arcs)
        prev = np.concatenate([[inst.depot], heads])  # node before position i
        nxt = np.concatenate([tails, [inst.depot]])  # node after position j-1 → tails[j]
        for i in range(n - 1):
            j = np.arange(i + 2, n + 1)
            old = D[prev[i], tails[i]] + D[heads[j - 1], nxt[j]]
            new = D[prev[i], heads[j - 1]] + D[tails[i], nxt[j]]
            delta = new - old
            k = int(np.argmin(delta))
            if delta[k] < -1e-9:
                jj = int(j[k])
                r[i:jj] = [a ^ 1 for a in reversed(r[i:jj])]
                return True
    return False


def _cost(inst: CarpInstance, routes: list[list[int]]) -> float:
    return sum(route_cost(inst, r) for r in routes)


def _perturb(tour: list[int], rng: np.random.Generator, strength: int) -> list[int]:
    tour = list(tour)
    n = len(tour)
    for _ in range(strength):
        i, j = sorted(rng.integers(0, n, 2))
        if rng.random() < 0.5 and j > i:
            tour[i : j + 1] = [a ^ 1 for a in reversed(tour[i : j + 1])]
        else:
            a = tour.pop(i)
            tour.insert(int(rng.integers(0, n)), a ^ int(rng.integers(2)))
    return tour


def solve_carp(
    inst: CarpInstance,
    *,
    seed: int = 0,
    iterations: int = 2000,
    time_limit_s: float | None = None,
    restart_after: int = 400,
) -> CarpSolution:
    """Solve; stops after ``iterations`` perturbation rounds or ``time_limit_s`` seconds."""
    if iterations <= 0 or (time_limit_s is not None and time_limit_s <= 0):
        raise InvalidInput(
            "求解时限与迭代次数须为正",
            "The time limit and iteration budget must be positive",
            field="time_limit_s",
        )
    too_big = np.flatnonzero(inst.demand > inst.capacity)
    if len(too_big):
        raise InvalidInput(
            f"任务 {too_big.tolist()} 的需求超过车辆容量",
            f"Tasks {too_big.tolist()} need more than a vehicle carries",
            field="capacity",
        )
    unreachable = np.flatnonzero(~np.isfinite(inst.dist[inst.depot, inst.task_u]))
    if len(unreachable):
        raise InvalidInput(
            f"任务 {unreachable.tolist()} 从场站不可达",
            f"Tasks {unreachable.tolist()} cannot be reached from the depot",
            field="tasks",
        )
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    best: list[list[int]] | None = None
    best_cost = np.inf
    it = 0
    current = _local_search(inst, _split(inst, np.asarray(_path_scanning(inst, rng))))
    current_cost = _cost(inst, current)
    best, best_cost = [list(r) for r in current], current_cost
    stale = 0
    while it < iterations:
        it += 1
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            break
        tour = [a for r in current for a in r]
        cand = _local_search(inst, _split(inst, np.asarray(_perturb(tour, rng, int(rng.integers(1, 4))))))
        cand_cost = _cost(inst, cand)
        # threshold acceptance: a slightly worse solution may be taken, the best is always kept
        if cand_cost <= current_cost * (1.0 + 0.01 * rng.random()) + 1e-9:
            current, current_cost = cand, cand_cost
        if cand_cost < best_cost - 1e-9:
            best, best_cost, stale = [list(r) for r in cand], cand_cost, 0
        else:
            stale += 1
        if stale > restart_after:
            current = _local_search(inst, _split(inst, np.asarray(_path_scanning(inst, rng))))
            current_cost, stale = _cost(inst, current), 0
    assert best is not None
    return CarpSolution(tuple(tuple(r) for r in best), float(best_cost), it, time.perf_counter() - start)
