"""Assignment performance: vendors to stall sites (5,000 × 300) and maximal covering (3,000 demand ×
400 candidates, p = 25) on HiGHS, against spopt with its default CBC solver where spopt is installed
(same problem, same process); the p-median of a city's size (2,800 × 780, 30 kept sites, 3 new) beside
HiGHS on the whole model with the same time; batch dispatch of 1M cases beside the bare point-to-beat assignment; the
nearest available crew for 1M cases beside the search that ignores availability."""

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
    same = (
        abs(square[rows, picked][ok].sum() - result.total_distance) < 1e-3 * max(1, result.total_distance)
        and ok.sum() == result.placed
    )
    print(
        f"   vendors 5,000 x 300: {took:.2f} s (goal < 1 s), {result.placed} placed; scipy linear_sum_assignment "
        f"on the stall-expanded matrix {base:.2f} s = {base / took:.1f}x slower; same optimum: {same} "
        f"({result.placed} / {result.total_distance:.0f} m vs {int(ok.sum())} / {square[rows, picked][ok].sum():.0f} m)",
        flush=True,
    )


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
        print(
            f"   MCLP 3,000 x 400, p=25: {took:.2f} s, covered {ours.objective:.0f}; spopt not installed, no baseline"
        )
        return
    dgdf = gpd.GeoDataFrame({"w": weights}, geometry=shapely.points(demand))
    cgdf = gpd.GeoDataFrame(geometry=shapely.points(cand))
    t = time.perf_counter()
    model = MCLP.from_cost_matrix(dist, weights, service_radius=800.0, p_facilities=25)
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    base = time.perf_counter() - t
    theirs = float(
        (weights * (dist[:, [j for j, f in enumerate(model.fac2cli) if f]] <= 800).any(axis=1)).sum()
    )
    del dgdf, cgdf
    print(
        f"   MCLP 3,000 x 400, p=25: HiGHS {took:.2f} s vs spopt+CBC {base:.2f} s = {took / base:.2f}x of its time"
        f" (goal <= 0.25x); covered weight {ours.objective:.0f} vs {theirs:.0f}",
        flush=True,
    )


def pmedian() -> None:
    """Ours (vertex substitution, then HiGHS proving it on a cut-down model) against HiGHS on the whole
    model (every pair), each with 60 s: time, whether proven, and the total."""
    from geo_service.assignment import pmedian as pm

    rng = np.random.default_rng(5)
    demand, cand = rng.uniform(0, 12_000, (2800, 2)), rng.uniform(0, 12_000, (780, 2))
    dist = np.abs(demand[:, None, :] - cand[None, :, :]).sum(axis=2) * 1.2  # street-grid walking
    weights = rng.integers(50, 2000, 2800).astype(float)
    kept = list(range(30))  # 30 sites already open
    limit = 60.0
    t = time.perf_counter()
    ours = pm.solve_pmedian(dist, weights, 33, fixed=kept, time_limit_s=limit, proof_share=1.0)
    took = time.perf_counter() - t
    t = time.perf_counter()
    y, site, _, _ = pm._solve(dist, weights, np.isfinite(dist), 33, kept, limit)  # every pair, no stand-ins
    base = time.perf_counter() - t
    whole = float((weights * dist[np.arange(len(dist)), site]).sum()) if y is not None else float("nan")
    print(
        f"   p-median 2,800 x 780, 30 kept + 3: ours {took:.1f} s (proven {ours.proven}, gap {ours.gap:.2%}), "
        f"total {ours.total:.4g}; HiGHS on the whole model {base:.1f} s (time limit {limit:.0f} s), total "
        f"{whole:.4g} = {whole / ours.total:.3f}x ours; time ratio {took / base:.2f}x",
        flush=True,
    )


def _median_s(fn, repeat: int = 3) -> float:
    """Median wall time of ``repeat`` calls (seconds), after one untimed call (a figure and its baseline
    are both timed warm)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def _depots_and_crews(rng: np.random.Generator, span: float):
    """20 depots across a square of ``span`` metres from the origin and 40 crews, 12 of them busy until
    06:00 … 17:00 on 2026-12-01, each alone at its depot."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from benchmarks.coverage_bench import ORIGIN
    from geo_service.crs import from_metric

    depot_xy = shapely.points(ORIGIN[0] + rng.uniform(0, span, 20), ORIGIN[1] + rng.uniform(0, span, 20))
    depots = gpd.GeoDataFrame(
        {"name": [f"场站{k}" for k in range(20)]}, geometry=list(from_metric(depot_xy)), crs=4326
    )
    day = pd.Timestamp("2026-12-01T00:00", tz="Asia/Shanghai")
    busy = [day + pd.Timedelta(hours=h) for h in range(6, 18)]
    crews = pd.DataFrame(
        {
            "crew": [f"班组{k}" for k in range(40)],
            "depot": [f"场站{k if k < 12 else 12 + k % 8}" for k in range(40)],
            "status": ["busy"] * 12 + ["available"] * 28,
            "busy_until": busy + [None] * 28,
        }
    )
    return depot_xy, depots, crews, day


def crews() -> None:
    """Nearest available crew for 1M cases over a day on a ~100,000-node driving grid: 20 depots, 40
    crews, 12 of them busy until different hours and alone at their depots (13 spans of free crews),
    beside one search from all depots and its query for the same cases (the answer when every crew is
    free; its snap by GEOS's tree, as before the street pieces were put in a grid, printed too)."""
    import os

    import shapely

    from benchmarks.coverage_bench import ORIGIN, grid_roads
    from geo_service.assignment.crews import nearest_available_crews
    from geo_service.network import build_network, snap_xy
    from geo_service.reach import nearest_sites

    n = int(os.environ.get("GEO_BENCH_CASES", "1000000"))
    side, step = int(os.environ.get("GEO_BENCH_GRID", "316")), 80.0
    net = build_network(grid_roads(side, step), mode="drive")
    span = (side - 1) * step
    rng = np.random.default_rng(4)
    depot_xy, depots, crews, day = _depots_and_crews(rng, span)
    xy = np.column_stack([ORIGIN[0] + rng.uniform(0, span, n), ORIGIN[1] + rng.uniform(0, span, n)])
    stamp = (day.timestamp() + rng.uniform(0, 24 * 3600, n)).astype(float)
    t = time.perf_counter()
    snap_xy(net, xy[:5000])  # the network's street pieces put in a grid (once per network version)
    build = time.perf_counter() - t
    t = time.perf_counter()
    got = nearest_available_crews(xy, stamp, net, depots, crews, "EPSG:4547")
    ours = time.perf_counter() - t
    t = time.perf_counter()
    field = nearest_sites(net, depot_xy, max_snap_m=500, from_sites=True)
    field.query(snap_xy(net, xy, max_distance=500))
    base = time.perf_counter() - t
    t = time.perf_counter()
    net.tree.query_nearest(shapely.points(xy), all_matches=False, max_distance=500)
    geos = time.perf_counter() - t
    print(
        f"   nearest available crew: {n:,} cases, 40 crews (12 busy until 06:00-17:00) at 20 depots, "
        f"{net.n_nodes:,} nodes: {ours:.2f} s vs one search from every depot and its query {base:.2f} s "
        f"= {ours / base:.2f}x; {int(np.sum(got.crew != None)):,} sent, "  # noqa: E711
        f"{int(np.sum(got.passed_over != None)):,} past a nearer depot whose crews were busy",  # noqa: E711
        flush=True,
    )
    print(
        f"   snapping the cases to streets: GEOS's nearest-line search alone {geos:.2f} s; the street pieces' grid"
        f" built once per network in {build:.2f} s",
        flush=True,
    )


def dispatch() -> None:
    """1M cases (random points and times over a year, three categories) to the 2,025 synthetic beats of
    the point-to-beat benchmark, each beat with three shifts (one across midnight), vs the bare
    ``assign_points_to_beats`` of the same points."""
    import datetime as dt
    import os

    import geopandas as gpd
    import pandas as pd

    from benchmarks.beats_bench import ORIGIN, _beats
    from geo_service.assignment.dispatch import Categories, dispatch_batch
    from geo_service.coverage import BeatIndex, assign_points_to_beats
    from geo_service.crs import from_metric
    from geo_service.demo.duty import case_categories
    from geo_service.duty import shifts_from_frame

    n = int(os.environ.get("GEO_BENCH_CASES", "1000000"))
    frame = _beats(45, 50)
    index = BeatIndex.build(frame)
    index.interior_grid()
    shifts = shifts_from_frame(
        pd.DataFrame(
            [
                {"beat": c, "squad": f"{c}-{k}", "weekdays": "1-7", "start": a, "end": b}
                for c in frame["code"]
                for k, (a, b) in enumerate([("07:00", "12:00"), ("14:30", "18:00"), ("19:00", "02:00")])
            ]
        )
    )
    rng = np.random.default_rng(3)
    xy = np.column_stack([ORIGIN[0] + rng.uniform(0, 45 * 400, n), ORIGIN[1] + rng.uniform(0, 45 * 400, n)])
    start = pd.Timestamp("2026-01-01T00:00", tz="Asia/Shanghai")
    when = start + pd.to_timedelta(rng.integers(0, 365 * 24 * 3600, n), unit="s")
    categories = case_categories()
    cats = rng.choice(categories["minor"].to_numpy()[:3], n)
    cases = pd.DataFrame({"category": cats, "reported_at": when})
    district = gpd.GeoDataFrame(
        {"name": ["全域"]},
        geometry=list(
            from_metric(
                np.array(
                    [__import__("shapely").box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + 18_000, ORIGIN[1] + 18_000)],
                    dtype=object,
                )
            )
        ),
        crs=4326,
    )
    bare = _median_s(lambda: assign_points_to_beats(xy, index))

    def run() -> object:
        return dispatch_batch(
            cases,
            beats=index,
            shifts=shifts,
            categories=Categories.from_frame(categories),
            districts=district,
            now=dt.datetime(2027, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
            xy=xy,
        )

    ours = _median_s(run)
    result = run()
    on_duty = int(np.sum(result.squad != None))  # noqa: E711
    dups = int(np.sum(result.duplicate_of != None))  # noqa: E711
    print(
        f"   dispatch: {n:,} cases x {len(frame):,} beats: {ours:.2f} s vs bare point-to-beat {bare:.3f} s"
        f" = {ours / bare:.1f}x of it (goal: same order; medians of 3 runs each); {on_duty:,} with a squad on"
        f" duty, {dups:,} probable duplicates",
        flush=True,
    )
    if os.environ.get("GEO_BENCH_DISPATCH_CREWS", "1") == "0":
        return
    # the same, with the nearest available crew by driving time on a street grid over the beats
    from benchmarks.coverage_bench import grid_roads
    from geo_service.network import build_network, snap_xy

    net = build_network(grid_roads(226, 80.0), mode="drive")  # 18 km square, 51,076 nodes
    _, depots, crews, _ = _depots_and_crews(np.random.default_rng(4), 18_000.0)
    snap_xy(net, xy[:5000])  # the street pieces' grid, built once per network version
    t = time.perf_counter()
    result = dispatch_batch(
        cases,
        beats=index,
        shifts=shifts,
        categories=Categories.from_frame(categories),
        districts=district,
        network=net,
        depots=depots,
        crews=crews,
        now=dt.datetime(2027, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        xy=xy,
    )
    with_crews = time.perf_counter() - t
    print(
        f"   dispatch with the nearest available crew ({net.n_nodes:,}-node driving grid, 40 crews at 20 depots):"
        f" {with_crews:.2f} s vs bare point-to-beat {bare:.2f} s = {with_crews / bare:.0f}x of it;"
        f" {int(np.sum(result.crews.crew != None)):,} with a crew",  # noqa: E711
        flush=True,
    )


ENTRIES = {"vendors": vendors, "mclp": mclp, "pmedian": pmedian, "dispatch": dispatch, "crews": crews}
