"""Assignment performance: vendors to stall sites (5,000 × 300) and maximal covering (3,000 demand ×
400 candidates, p = 25) on HiGHS, against spopt with its default CBC solver where spopt is installed
(same problem, same process)."""

from __future__ import annotations

import time

import numpy as np

from geo_service.assignment.optimize import assign_vendors, select_mclp


def vendors() -> None:
    rng = np.random.default_rng(0)
    v, s = rng.uniform(0, 20_000, (5000, 2)), rng.uniform(0, 20_000, (300, 2))
    cost = np.abs(v[:, None, :] - s[None, :, :]).sum(axis=2)
    cost[cost > 3_000] = np.inf
    capacity = rng.integers(10, 30, 300)
    t = time.perf_counter()
    result = assign_vendors(cost, capacity)
    took = time.perf_counter() - t
    from scipy.optimize import linear_sum_assignment

    # baseline: the same problem as a plain assignment with one column per stall (scipy's Hungarian method)
    cols = np.repeat(np.arange(300), capacity)
    square = np.where(np.isfinite(cost[:, cols]), cost[:, cols], 1e9)
    t = time.perf_counter()
    rows, picked = linear_sum_assignment(square)
    base = time.perf_counter() - t
    ok = square[rows, picked] < 1e9
    same = abs(square[rows, picked][ok].sum() - result.total_distance) < 1e-3 * max(1, result.total_distance) \
        and ok.sum() == result.placed
    print(f"   vendors 5,000 x 300: {took:.2f} s (goal < 1 s), {result.placed} placed; scipy linear_sum_assignment "
          f"on the stall-expanded matrix {base:.2f} s = {base / took:.1f}x slower; same optimum: {same} "
          f"({result.placed} / {result.total_distance:.0f} m vs {int(ok.sum())} / {square[rows, picked][ok].sum():.0f} m)",
          flush=True)


def mclp() -> None:
    rng = np.random.default_rng(1)
    demand, cand = rng.uniform(0, 10_000, (3000, 2)), rng.uniform(0, 10_000, (400, 2))
    weights = rng.integers(1, 100, 3000).astype(float)
    dist = np.hypot(*(demand[:, None, :] - cand[None, :, :]).transpose(2, 0, 1))
    t = time.perf_counter()
    ours = select_mclp(dist, weights, 800.0, 25)
    took = time.perf_counter() - t
    try:
        import geopandas as gpd
        import pulp
        import shapely
        from spopt.locate import MCLP
    except ImportError:
        print(f"   MCLP 3,000 x 400, p=25: {took:.2f} s, covered {ours.objective:.0f}; spopt not installed, no baseline")
        return
    dgdf = gpd.GeoDataFrame({"w": weights}, geometry=shapely.points(demand))
    cgdf = gpd.GeoDataFrame(geometry=shapely.points(cand))
    t = time.perf_counter()
    model = MCLP.from_cost_matrix(dist, weights, service_radius=800.0, p_facilities=25)
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    base = time.perf_counter() - t
    theirs = float((weights * (dist[:, [j for j, f in enumerate(model.fac2cli) if f]] <= 800).any(axis=1)).sum())
    del dgdf, cgdf
    print(f"   MCLP 3,000 x 400, p=25: HiGHS {took:.2f} s vs spopt+CBC {base:.2f} s = {took / base:.2f}x of its time"
          f" (goal <= 0.25x); covered weight {ours.objective:.0f} vs {theirs:.0f}", flush=True)


ENTRIES = {"vendors": vendors, "mclp": mclp}
