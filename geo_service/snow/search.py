"""Searches for a response plan (``snow/plan.py``): construction nearest-first by priority (the
baseline) or by geographic clusters with 2-opt, and improvement that moves items off the vehicle that
clears each class last while that class's clear time falls. Order locks are kept throughout
(``snow/locks.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from geo_service.budget import check_budget
from geo_service.snow.locks import pin
from geo_service.snow.model import PlanModel, Vehicle

__all__ = ["clustered", "evaluate", "greedy", "improve", "two_opt"]


def greedy(
    model: PlanModel, classes: Sequence[int], locks: Mapping[int, str]
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


def balanced_labels(d: np.ndarray, w: np.ndarray, cap: float) -> np.ndarray:
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


def clustered(
    model: PlanModel,
    classes: Sequence[int],
    locks: Mapping[int, str],
    xy: np.ndarray,
    rng: np.random.Generator,
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
                label = balanced_labels(d, weight[free], cap)
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
                better = two_opt(model, route, states[w][1])
                if better is None:
                    break
                route = better
            routes[w] = route
            t, pos2, salt, _ = model.simulate(veh, route, states[w])
            states[w] = (t, pos2, salt)
        plan.append(routes)
    return plan


def class_starts(
    model: PlanModel, plan: list[dict[int, list[tuple[int, int]]]], c: int
) -> list[tuple[float, int, float]]:
    states = [(0.0, v.node, v.capacity_t) for v in model.vehicles]
    for routes in plan[:c]:
        for w, veh in enumerate(model.vehicles):
            t, pos, salt, _ = model.simulate(veh, routes[w], states[w])
            states[w] = (t, pos, salt)
    return states


def evaluate(
    model: PlanModel, plan: list[dict[int, list[tuple[int, int]]]]
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


def best_insertion(
    model: PlanModel, veh: Vehicle, route: list[tuple[int, int]], start_node: int, k: int
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


def two_opt(model: PlanModel, route: list[tuple[int, int]], start_node: int) -> list[tuple[int, int]] | None:
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


def improve(
    model: PlanModel,
    plan: list[dict[int, list[tuple[int, int]]]],
    locks: Mapping[int, str],
    rng: np.random.Generator,
    iterations: int,
    pins: Mapping[int, int] | None = None,
) -> tuple[list[dict[int, list[tuple[int, int]]]], int]:
    """Move items off the vehicle that clears each class last while that class's clear time falls."""
    used = 0
    for c in range(len(plan)):
        starts = class_starts(model, plan, c)
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
            better = two_opt(model, route, starts[crit][1])
            if better is not None and pins:
                better = pin(model, [{0: better}], pins)[0][0]
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
                    i, direction = best_insertion(model, veh, target, start_node, k)
                    trial = [*target[:i], (k, direction), *target[i:]]
                    if pins:
                        trial = pin(model, [{0: trial}], pins)[0][0]
                        removed = pin(model, [{0: removed}], pins)[0][0]
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
