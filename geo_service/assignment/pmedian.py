"""The p-median: ``p`` sites chosen so that the weighted walk of every demand point to its nearest
chosen site is least, solved to HiGHS's optimality gap.

Not as one model of every (demand point, site) pair: citywide that is 2 million pairs, whose LP alone
HiGHS takes minutes over. Instead:

1. vertex substitution (greedy adds, then the best swap while one helps; Teitz and Bart 1968) finds a
   good choice in a second or two;
2. each demand point keeps the pairs with the sites no further than its site in that choice (and none
   beyond its nearest kept site, which is always open); one stand-in variable, costing the distance to
   its nearest site left out, covers the rest. That model is a relaxation: its optimum is a lower bound;
3. HiGHS solves it. When the true cost of its choice is no more than the relaxation's, the choice is
   optimal. Otherwise the points that leaned on their stand-in get their pairs up to their nearest chosen
   site, and it solves again (in the end, if need be, the whole model).

With site capacities the whole model is solved (a capacity can send a point past its nearest site).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import coo_matrix, csr_matrix, hstack, identity

from geo_service.assignment.optimize import _fixed_bounds, _tiebreak
from geo_service.budget import budget_left, check_budget
from geo_service.errors import InvalidInput

__all__ = ["PMedian", "solve_pmedian"]

_CHUNK = 4_000_000  # matrix cells one vectorised step handles at once (memory stays bounded)
_SWEEPS = 50  # at most this many rounds of swaps in the heuristic


def _weighted_nearest(d: np.ndarray, w: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """For every column j: Σ_i w_i · min(cur_i, d_ij), the cost if site j were added to ``cur``."""
    out = np.zeros(d.shape[1])
    rows = max(1, _CHUNK // max(d.shape[1], 1))
    for lo in range(0, d.shape[0], rows):
        part = slice(lo, lo + rows)
        out += w[part] @ np.minimum(cur[part, None], d[part])
    return out


def _substitution(d: np.ndarray, w: np.ndarray, p: int, fixed: Sequence[int]) -> np.ndarray:
    """Vertex substitution: the chosen columns (bool) of ``d`` (finite, large where not allowed)."""
    n, m = d.shape
    chosen = np.zeros(m, dtype=bool)
    chosen[list(fixed)] = True
    cur = d[:, chosen].min(axis=1) if chosen.any() else np.full(n, np.inf)
    while chosen.sum() < p:  # greedy: the site that cuts the total most, one at a time
        check_budget()
        cost = _weighted_nearest(d, w, cur)
        cost[chosen] = np.inf
        j = int(np.argmin(cost))
        chosen[j] = True
        cur = np.minimum(cur, d[:, j])
    total = float(w @ cur)
    keep = np.zeros(m, dtype=bool)
    keep[list(fixed)] = True
    for _ in range(_SWEEPS):  # swaps: each free site for the one that would do best in its place
        improved = False
        for s in np.flatnonzero(chosen & ~keep):
            check_budget()
            others = chosen.copy()
            others[s] = False
            without = d[:, others].min(axis=1) if others.any() else np.full(n, np.inf)
            cost = _weighted_nearest(d, w, without)
            cost[others] = np.inf
            j = int(np.argmin(cost))
            if cost[j] < total * (1 - 1e-12):
                chosen[s], chosen[j], total, improved = False, True, float(cost[j]), True
        if not improved:
            break
    return chosen


def _solve(
    d: np.ndarray,
    w: np.ndarray,
    pairs: np.ndarray,
    p: int,
    fixed: Sequence[int],
    time_limit_s: float,
    capacity: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray, float, bool]:
    """The model over ``pairs`` (bool, demand × site), each demand point's other sites stood in for by
    one variable costing its nearest one left out, solved for at most ``time_limit_s``. Returns y (bool
    per site; None when HiGHS found no choice in time), the site each demand point is assigned to (-1:
    its stand-in), a lower bound of the model's optimum, and whether HiGHS solved it (not stopped)."""
    n, m = d.shape
    di, dj = np.nonzero(pairs)
    k = len(di)
    left = np.where(pairs, np.inf, d).min(axis=1)  # the nearest site left out, per demand point
    si = np.flatnonzero(np.isfinite(left))  # the points with a stand-in
    s = len(si)
    # variables: y (m), x (k pairs), stand-ins (s); the tiny cost on y settles ties the same way each time
    c = np.concatenate([_tiebreak(m), w[di] * d[di, dj], w[si] * left[si]])
    assign = coo_matrix(
        (np.ones(k + s), (np.concatenate([di, si]), m + np.arange(k + s))), shape=(n, m + k + s)
    )
    link = hstack(
        [
            -coo_matrix((np.ones(k), (np.arange(k), dj)), shape=(k, m)),
            identity(k),
            coo_matrix((k, s)),
        ]
    )  # x_ij − y_j ≤ 0
    count = csr_matrix(np.concatenate([np.ones(m), np.zeros(k + s)]))
    cons = [
        LinearConstraint(assign.tocsr(), 1, 1),
        LinearConstraint(link.tocsr(), -np.inf, 0),
        LinearConstraint(count, p, p),
    ]
    if capacity is not None:  # the whole model: no stand-ins
        load = hstack(
            [
                -coo_matrix((capacity, (np.arange(m), np.arange(m))), shape=(m, m)),
                coo_matrix((w[di], (dj, np.arange(k))), shape=(m, k)),
            ]
        )
        cons.append(LinearConstraint(load.tocsr(), -np.inf, 0))
    lo_y, hi_y = _fixed_bounds(m, fixed)
    # uncapacitated, x is integral at an optimum with y integral; with capacities it must be required
    x_integral = np.ones(k) if capacity is not None else np.zeros(k)
    res = milp(
        c,
        constraints=cons,
        integrality=np.concatenate([np.ones(m), x_integral, np.zeros(s)]),
        bounds=(np.concatenate([lo_y, np.zeros(k + s)]), np.concatenate([hi_y, np.ones(k + s)])),
        options={"time_limit": max(time_limit_s, 0.01)},
    )
    if res.status == 2 and capacity is not None:
        raise InvalidInput(
            f"选址求解失败（容量不足？）：{res.message}", f"Site selection failed (capacity?): {res.message}"
        )
    if res.status == 2:
        raise InvalidInput(
            f"{p} 个站点无法让每个需求点都步行可达，请增加站点数",
            f"No {p} sites can be walked to from every demand point; more sites are needed",
            field="p",
        )
    # a lower bound of the model's optimum: its value when solved (to HiGHS's gap), else HiGHS's bound
    if res.status == 0:
        bound = float(res.fun) * (1 - 1e-4)
    else:
        bound = float(res.mip_dual_bound) if res.mip_dual_bound is not None else -np.inf
    if res.x is None:
        return None, np.full(n, -1), bound, False
    x = res.x[m : m + k]
    site = np.full(n, -1)
    order = np.argsort(-x, kind="stable")
    for idx in order[x[order] > 0.5]:
        site[di[idx]] = dj[idx]
    return res.x[:m] > 0.5, site, bound, res.status == 0


@dataclass(frozen=True)
class PMedian:
    """The chosen sites (fixed ones included), their total weighted distance, the site of each demand
    point, and whether the total is proven optimal (within HiGHS's 0.01 % gap). When it is not (the time
    ran out first), no choice can beat ``lower_bound``, so the answer is within ``gap`` of the best."""

    chosen: tuple[int, ...]
    total: float
    site: np.ndarray
    proven: bool
    lower_bound: float

    @property
    def gap(self) -> float:
        """(total − lower bound) / total: 0 when proven, 1 when no bound is known."""
        if self.proven:
            return 0.0
        if not self.total or not np.isfinite(self.lower_bound):
            return 1.0
        return max(0.0, min(1.0, (self.total - self.lower_bound) / self.total))


def solve_pmedian(
    dist: np.ndarray,
    weights: np.ndarray,
    p: int,
    *,
    fixed: Sequence[int] = (),
    capacity: np.ndarray | None = None,
    time_limit_s: float = 60,
    proof_share: float = 0.8,
) -> PMedian:
    """The ``p`` sites (fixed ones included) minimising Σ weight × distance to the assigned site.

    ``dist`` is demand × site, ``inf`` where a site cannot serve a point; ``capacity`` bounds each site's
    total weight (then the whole model is solved, within the time or not at all). Without capacities the
    heuristic's choice stands, with the best lower bound found, when the proof has not finished within
    ``proof_share`` of the time left: an answer is given in time."""
    d = np.asarray(dist, dtype=float)
    n, m = d.shape
    w = np.asarray(weights, dtype=float)
    if not len(fixed) <= p <= m:
        raise InvalidInput(
            f"p 应在 {len(fixed)} 与 {m} 之间", f"p must be between {len(fixed)} and {m}", field="p"
        )
    _fixed_bounds(m, fixed)  # refuses a fixed site that is not a candidate
    ok = np.isfinite(d)
    if not ok.any(axis=1).all():
        bad = int(np.flatnonzero(~ok.any(axis=1))[0])
        raise InvalidInput(
            f"需求点 {bad} 无法到达任何候选点", f"Demand point {bad} reaches no candidate", field="demand"
        )
    if capacity is not None:
        # the whole model; a point goes where the model sends it (its nearest site may be full)
        y, site, _, _ = _solve(
            d, w, ok, p, fixed, budget_left(time_limit_s), np.asarray(capacity, dtype=float)
        )
        check_budget()  # the solver stopped at the budget's end: its answer is not what was asked for
        if y is None:
            raise InvalidInput("选址求解未得到方案", "Site selection found no answer", field="p")
        total = float((w * d[np.arange(n), site]).sum())
        return PMedian(tuple(int(j) for j in np.flatnonzero(y)), total, site, True, total)
    deadline = time.monotonic() + budget_left(time_limit_s) * proof_share  # the heuristic's time counts
    if len(fixed):
        # a kept site is always open and everyone goes to their nearest open site: no one is sent
        # further than their nearest kept site, so pairs beyond it are never used
        ok &= d <= d[:, list(fixed)].min(axis=1)[:, None]
    reach = np.where(ok, d, np.inf)

    def nearest(chosen: np.ndarray) -> np.ndarray:
        """Each demand point's nearest chosen site it can walk to (-1: none)."""
        if len(chosen) == 0 or n == 0:
            return np.full(n, -1)
        near = reach[:, chosen]
        return np.where(np.isfinite(near.min(axis=1)), chosen[np.argmin(near, axis=1)], -1)

    # points where nobody lives change no total: they are left out of the model (they must not make a
    # choice impossible), and are given their nearest chosen site afterwards
    heavy = np.flatnonzero(w > 0)
    if len(heavy) == 0:  # no one to serve: the kept sites and the first others
        y = np.zeros(m, dtype=bool)
        y[list(fixed)] = True
        y[np.flatnonzero(~y)[: p - int(y.sum())]] = True
        return PMedian(tuple(int(j) for j in np.flatnonzero(y)), 0.0, nearest(np.flatnonzero(y)), True, 0.0)
    dh, wh, okh, reach_h = d[heavy], w[heavy], ok[heavy], reach[heavy]

    def answer(y: np.ndarray, proven: bool, bound: float) -> PMedian:
        chosen = np.flatnonzero(y)
        return PMedian(
            tuple(int(j) for j in chosen),
            float(wh @ reach_h[:, chosen].min(axis=1)),
            nearest(chosen),
            proven,
            bound,
        )

    big = np.where(okh, dh, np.max(np.where(okh, dh, 0.0)) * 10 + 1e6)  # finite, for the heuristic
    guess = _substitution(big, wh, p, fixed)
    best = answer(guess, False, -np.inf)
    limit = reach_h[:, guess].min(axis=1)  # each point's distance to its site in the guess
    bound = -np.inf
    while (left := deadline - time.monotonic()) > 0:
        y, _, model_bound, solved = _solve(dh, wh, okh & (dh <= limit[:, None]), p, fixed, left)
        bound = max(bound, model_bound)  # the model is a relaxation: its bound is the p-median's too
        if y is None:  # out of time before HiGHS found a choice
            break
        found = answer(y, False, bound)
        if found.total < best.total:
            best = found
        true = reach_h[:, found.chosen].min(axis=1)
        within = true <= limit  # the points the model could assign as its choice does
        if solved and within.all():  # its optimum, a lower bound, is what this choice costs
            return dataclasses.replace(found, proven=True, lower_bound=max(bound, found.total * (1 - 1e-4)))
        if not solved:
            break
        limit = np.where(within, limit, true)  # the others get their pairs up to their chosen site
    if not np.isfinite(best.total):
        raise InvalidInput(
            f"计算时限内未找到让每个需求点都能步行到达的 {p} 个站点；请增加站点数或计算时间",
            f"No {p} sites that every demand point can walk to were found in the time; give more sites "
            "or more time",
            field="p",
        )
    return dataclasses.replace(best, lower_bound=min(bound, best.total))
