"""Optimisation over cost and coverage matrices with HiGHS (through ``scipy.optimize``):
vendors to stall sites (a transportation problem), and new-site selection (LSCP, MCLP, p-median).

Inputs are plain matrices (distances in metres, ``inf`` where not allowed), so the models are
checked by brute force on tiny cases; the network module builds the matrices for real data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import LinearConstraint, linprog, milp
from scipy.sparse import coo_matrix, csr_matrix, hstack, identity, vstack
from scipy.sparse.csgraph import maximum_flow

from geo_service.budget import budget_left, check_budget
from geo_service.errors import ComputationTimeout, InvalidInput

__all__ = ["Selection", "VendorAssignment", "assign_vendors", "select_lscp", "select_mclp", "select_pmedian"]


@dataclass(frozen=True)
class VendorAssignment:
    """``site[i]`` is the site index of vendor i, or -1 when the vendor could not be placed."""

    site: np.ndarray
    distance: np.ndarray
    total_distance: float
    placed: int
    reasons: tuple[str | None, ...]


_VENDOR_LIMIT_S = 60.0  # the transportation LP's own limit, when no request budget is shorter


def assign_vendors(cost: np.ndarray, capacity: np.ndarray) -> VendorAssignment:
    """Place as many vendors as possible, then minimise the total distance; capacities never exceeded.

    ``cost[i, j]`` is the walking distance from vendor i to site j, ``inf`` where the site does not
    take the vendor's goods or is beyond reach. Solved as a transportation LP (totally unimodular, so
    the HiGHS simplex vertex is integral).
    """
    cost = np.asarray(cost, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    n, m = cost.shape
    if len(capacity) != m or (capacity < 0).any():
        raise InvalidInput(
            "容量应为每个站点的非负整数", "Capacities must be non-negative, one per site", field="capacity"
        )
    vi, sj = np.nonzero(np.isfinite(cost))
    d = cost[vi, sj]
    site = np.full(n, -1, dtype=np.int64)
    reasons: list[str | None] = [None] * n
    if len(d):
        # most vendors placed first (a max flow), then the least walking among placements of that size: a
        # min-cost flow of fixed value, so the HiGHS simplex vertex is integral
        placed = _max_placed(vi, sj, n, m, capacity)
        k = len(d)
        a_vendor = coo_matrix((np.ones(k), (vi, np.arange(k))), shape=(n, k))
        a_site = coo_matrix((np.ones(k), (sj, np.arange(k))), shape=(m, k))
        res = linprog(
            d,
            A_ub=vstack([a_vendor, a_site]).tocsr(),
            b_ub=np.concatenate([np.ones(n), capacity]),
            A_eq=csr_matrix(np.ones((1, k))),
            b_eq=[placed],
            bounds=(0, 1),
            method="highs",
            options={"time_limit": budget_left(_VENDOR_LIMIT_S)},  # (HiGHS holds the GIL while it runs)
        )
        if res.status == 1:  # the time limit (of the request's budget, or the LP's own) reached
            check_budget()
            raise ComputationTimeout.after(_VENDOR_LIMIT_S)
        if res.status != 0:
            raise InvalidInput(f"求解失败：{res.message}", f"The solver failed: {res.message}")
        chosen = res.x > 0.5
        site[vi[chosen]] = sj[chosen]
    reachable = np.isfinite(cost).any(axis=1)
    for i in range(n):
        if site[i] < 0:
            reasons[i] = (
                "步行范围内没有经营该品类的站点 / no site for these goods within reach"
                if not reachable[i]
                else "可去的站点均已满 / every site within reach is full"
            )
    dist = np.where(site >= 0, cost[np.arange(n), np.maximum(site, 0)], np.nan)
    return VendorAssignment(site, dist, float(np.nansum(dist)), int((site >= 0).sum()), tuple(reasons))


def _max_placed(vi: np.ndarray, sj: np.ndarray, n: int, m: int, capacity: np.ndarray) -> int:
    """How many vendors can be placed at most: a max flow source → vendors → sites (capacities) → sink."""
    size = n + m + 2
    rows = np.concatenate([np.zeros(n, dtype=np.int64), 1 + vi, n + 1 + np.arange(m)])
    cols = np.concatenate([1 + np.arange(n), n + 1 + sj, np.full(m, size - 1)])
    caps = np.concatenate([np.ones(n), np.ones(len(vi)), np.floor(capacity)]).astype(np.int32)
    graph = csr_matrix((caps, (rows, cols)), shape=(size, size))
    return int(maximum_flow(graph, 0, size - 1).flow_value)


@dataclass(frozen=True)
class Selection:
    """Chosen candidate indices (fixed ones included), the objective and the served share."""

    method: str
    chosen: tuple[int, ...]
    objective: float
    covered_weight: float
    total_weight: float
    assignment: np.ndarray | None = None  # p-median: candidate index per demand point
    uncoverable: tuple[int, ...] = ()
    proven: bool = True  # optimal (to HiGHS's gap); a p-median may run out of time first
    gap: float = 0.0  # then: at most this share above the optimum

    @property
    def served_share(self) -> float:
        return self.covered_weight / self.total_weight if self.total_weight else 0.0


def _fixed_bounds(m: int, fixed: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.zeros(m), np.ones(m)
    for j in fixed:
        if not 0 <= j < m:
            raise InvalidInput(
                f"固定站点编号 {j} 不在候选中", f"Fixed site {j} is not a candidate", field="fixed"
            )
        lo[j] = 1
    return lo, hi


def _tiebreak(m: int) -> np.ndarray:
    """A tiny cost rising with the index, so that equal optima resolve the same way every time."""
    return np.arange(m) * 1e-7


def select_lscp(
    dist: np.ndarray, radius: float, *, fixed: Sequence[int] = (), time_limit_s: float = 60
) -> Selection:
    """Fewest sites so that every coverable demand point is within ``radius``."""
    a = csr_matrix((np.asarray(dist) <= radius).astype(float))
    n, m = a.shape
    coverable = np.asarray(a.sum(axis=1)).ravel() > 0
    lo, hi = _fixed_bounds(m, fixed)
    res = milp(
        np.ones(m) + _tiebreak(m),
        constraints=[LinearConstraint(a[coverable], lb=1, ub=np.inf)],
        integrality=np.ones(m),
        bounds=(lo, hi),
        options={"time_limit": budget_left(time_limit_s)},
    )
    check_budget()  # the solver stopped at the budget's end: its answer is not what was asked for
    if res.x is None:
        raise InvalidInput(f"选址求解失败：{res.message}", f"Site selection failed: {res.message}")
    chosen = tuple(int(j) for j in np.flatnonzero(res.x > 0.5))
    return Selection(
        "lscp",
        chosen,
        float(len(chosen)),
        float(coverable.sum()),
        float(n),
        uncoverable=tuple(int(i) for i in np.flatnonzero(~coverable)),
    )


def select_mclp(
    dist: np.ndarray,
    weights: np.ndarray,
    radius: float,
    p: int,
    *,
    fixed: Sequence[int] = (),
    time_limit_s: float = 60,
) -> Selection:
    """The ``p`` sites (fixed ones included) covering the most weight within ``radius``."""
    a = csr_matrix((np.asarray(dist) <= radius).astype(float))
    n, m = a.shape
    w = np.asarray(weights, dtype=float)
    if not len(fixed) <= p <= m:
        raise InvalidInput(
            f"p 应在 {len(fixed)} 与 {m} 之间", f"p must be between {len(fixed)} and {m}", field="p"
        )
    # variables: y (m sites, binary) then z (n demand, continuous 0..1); maximise w·z
    c = np.concatenate([_tiebreak(m), -w])
    cover = hstack([-a, identity(n, format="csr")]).tocsr()  # z_i − Σ a_ij y_j ≤ 0
    count = csr_matrix(np.concatenate([np.ones(m), np.zeros(n)]))
    lo_y, hi_y = _fixed_bounds(m, fixed)
    res = milp(
        c,
        constraints=[LinearConstraint(cover, -np.inf, 0), LinearConstraint(count, p, p)],
        integrality=np.concatenate([np.ones(m), np.zeros(n)]),
        bounds=(np.concatenate([lo_y, np.zeros(n)]), np.concatenate([hi_y, np.ones(n)])),
        options={"time_limit": budget_left(time_limit_s)},
    )
    check_budget()  # the solver stopped at the budget's end: its answer is not what was asked for
    if res.x is None:
        raise InvalidInput(f"选址求解失败：{res.message}", f"Site selection failed: {res.message}")
    y = res.x[:m] > 0.5
    covered = np.asarray(a[:, y].sum(axis=1)).ravel() > 0
    chosen = tuple(int(j) for j in np.flatnonzero(y))
    return Selection("mclp", chosen, float(w[covered].sum()), float(w[covered].sum()), float(w.sum()))


def select_pmedian(
    dist: np.ndarray,
    weights: np.ndarray,
    p: int,
    *,
    fixed: Sequence[int] = (),
    capacity: np.ndarray | None = None,
    time_limit_s: float = 60,
) -> Selection:
    """The ``p`` sites minimising the weighted distance of every demand point to its assigned site
    (see :mod:`geo_service.assignment.pmedian` for how it is solved)."""
    from geo_service.assignment.pmedian import solve_pmedian  # it builds on this module's helpers

    w = np.asarray(weights, dtype=float)
    got = solve_pmedian(dist, w, p, fixed=fixed, capacity=capacity, time_limit_s=time_limit_s)
    return Selection(
        "pmedian",
        got.chosen,
        got.total,
        float(w.sum()),
        float(w.sum()),
        assignment=got.site,
        proven=got.proven,
        gap=got.gap,
    )
