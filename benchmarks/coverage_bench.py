"""Walking service areas: 30 sites, 1,200 m on a ~100,000-node street grid, beside the bare scipy
shortest-path call they need and pgRouting's ``pgr_drivingDistance`` on the same graph (run in the
same process; pgRouting needs ``apt-get install postgresql-15-pgrouting``, ``GEO_BENCH_POSTGIS=0``
leaves it out).

(Point-to-beat assignment is ``beats`` in ``beats_bench.py``; who-covers through the running service
is ``who`` in ``api_bench.py``.)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["ENTRIES"]

ORIGIN = (500_000.0, 3_900_000.0)  # metres in EPSG:4547, near Jiaozuo


def _line(name: str, ours: float, base_name: str, base: float, unit: str = "s", goal: str = "") -> None:
    scale = 1000.0 if unit == "ms" else 1.0
    print(
        f"   {name}  {ours * scale:.3g} {unit}  baseline({base_name}) {base * scale:.3g} {unit}  "
        f"ratio {ours / base:.3g}x {goal}",
        flush=True,
    )


def _warm_median(fn: Callable[[], object], repeat: int, warmup: int = 5) -> float:
    """Median time of ``fn`` after ``warmup`` untimed calls. The first calls of the bare scipy search
    run up to twice as slow while the allocator settles on its 24 MB answer (interleaved with other
    work it stays slow): each figure is timed warm, in a block of its own, so the baseline is at its
    fastest and the ratio is not flattered."""
    for _ in range(warmup):
        fn()
    return _median(fn, repeat)


def _against(
    fn: Callable[[], object], base: Callable[[], object], repeat: int = 15, rounds: int = 3
) -> tuple[float, float]:
    """Median times of ``fn`` and of its baseline ``base``, timed in alternating warm blocks (``base``,
    ``fn``, ``base``, ``fn``, …), so that a machine that speeds up or slows down during the run moves
    both alike: each figure's ratio is to a baseline timed beside it, not minutes before."""
    ours, theirs = [], []
    for _ in range(rounds):
        theirs.append(_warm_median(base, repeat))
        ours.append(_warm_median(fn, repeat))
    return statistics.median(ours), statistics.median(theirs)


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def grid_roads(side: int, step: float) -> gpd.GeoDataFrame:
    """A street grid of side × side nodes ``step`` metres apart from the benchmarks' origin (EPSG:4326)."""
    from geo_service.crs import from_metric

    i, j = np.meshgrid(np.arange(side), np.arange(side - 1), indexing="ij")
    x0, y0 = ORIGIN[0] + j.ravel() * step, ORIGIN[1] + i.ravel() * step
    east = shapely.linestrings(
        np.stack([np.column_stack([x0, y0]), np.column_stack([x0 + step, y0])], axis=1)
    )
    north = shapely.linestrings(
        np.stack(
            [
                np.column_stack([y0 - ORIGIN[1] + ORIGIN[0], x0 - ORIGIN[0] + ORIGIN[1]]),
                np.column_stack([y0 - ORIGIN[1] + ORIGIN[0], x0 - ORIGIN[0] + ORIGIN[1] + step]),
            ],
            axis=1,
        )
    )
    lines = np.concatenate([east, north])
    return gpd.GeoDataFrame(
        {"walkable": np.ones(len(lines), dtype=bool)}, geometry=list(from_metric(lines)), crs=4326
    )


def service_areas() -> None:
    from scipy.sparse.csgraph import dijkstra

    from geo_service.division_store import DivisionStore
    from geo_service.network import build_network, snap
    from geo_service.parallel import default_parts
    from geo_service.reach import _prepared, keep_divisions
    from geo_service.reach import service_areas as areas

    side, step = int(os.environ.get("GEO_BENCH_GRID", "316")), 80.0  # 316² ≈ 100,000 nodes
    roads = grid_roads(side, step)
    t = time.perf_counter()
    net = build_network(roads, mode="walk")
    built = time.perf_counter() - t
    rng = np.random.default_rng(2)
    sites = shapely.points(
        ORIGIN[0] + rng.uniform(0, (side - 1) * step, 30), ORIGIN[1] + rng.uniform(0, (side - 1) * step, 30)
    )
    sites_metric = sites
    s = snap(net, sites_metric)

    def bare() -> object:  # the same 30 searches from the sites' street ends, batched as scipy does best
        return dijkstra(net.graph, directed=True, indices=net.seg_u[s.segment], limit=1200.0)

    # the sites' walks and outlines run in ranges on the machine's cores at once (geo_service.parallel);
    # each figure is also given on one thread, as the bare call runs
    threads = default_parts()

    def timed(what: str, n: int) -> tuple[float, float]:
        return _against(lambda: getattr(areas(net, sites_metric, max_cost=1200.0, threads=n), what), bare)

    reach, reach_1 = timed("reached_m", threads), timed("reached_m", 1)
    linework, linework_1 = timed("lines", threads), timed("lines", 1)
    # the ground beside the streets is divided once per network (and width), as the network is built,
    # and kept in a folder that other workers and later starts read it back from
    with tempfile.TemporaryDirectory() as folder:
        keep_divisions(net, DivisionStore(Path(folder)))
        t = time.perf_counter()
        _prepared(net).cells(40.0)
        division = time.perf_counter() - t
        again = keep_divisions(build_network(roads, mode="walk"), DivisionStore(Path(folder)))
        t = time.perf_counter()
        _prepared(again).cells(40.0)
        read_back = time.perf_counter() - t
    polygons, polygons_1 = timed("polygons", threads), timed("polygons", 1)
    # as /coverage/service-areas asks: each range outlines its sites as soon as it has walked them
    eager = _against(lambda: areas(net, sites_metric, max_cost=1200.0, polygons=True).polygons, bare)
    result = areas(net, sites_metric, max_cost=1200.0)
    print(
        f"   30 sites, 1,200 m, {net.n_nodes:,} nodes; "
        f"{np.sum(result.reached_m) / 1000:.0f} km of street reached, "
        f"{shapely.get_num_coordinates(result.polygons).sum():,} polygon vertices; "
        f"{threads} thread(s) (the cores, at most 4), and 1"
    )
    for name, ours, one in (
        ("reached stretches", reach, reach_1),
        ("linework", linework, linework_1),
        ("with 40 m polygons", polygons, polygons_1),
    ):
        _line(
            f"service-areas ({name})", ours[0], "bare scipy dijkstra", ours[1], unit="ms", goal="(goal <= 2x)"
        )
        if threads > 1:
            _line(
                f"service-areas ({name}, 1 thread)",
                one[0],
                "bare scipy dijkstra",
                one[1],
                unit="ms",
                goal="(goal <= 2x)",
            )
    _line(
        "service-areas (with 40 m polygons, outlined as walked)",
        eager[0],
        "bare scipy dijkstra",
        eager[1],
        unit="ms",
        goal="(goal <= 2x)",
    )
    _line(
        "dividing the ground beside the streets (once per network)", division, "building the network", built
    )
    _line(
        "the division read back from its folder (other workers, restarts)",
        read_back,
        "building the network",
        built,
    )
    if os.environ.get("GEO_BENCH_POSTGIS", "1") == "0":
        return
    pgr = _pgrouting(net, net.seg_u[s.segment], 1200.0)
    if pgr is None:
        print("   pgRouting: not installed (apt-get install postgresql-15-pgrouting); comparison left out")
        return
    # pgr_drivingDistance answers (root, node, cost) rows, no geometry: the like answer is the reached stretches
    _line(
        "service-areas (reached stretches)",
        reach[0],
        "pgRouting pgr_drivingDistance",
        pgr,
        unit="ms",
        goal="(goal <= 0.02x, i.e. >= 50x faster)",
    )
    if threads > 1:
        _line(
            "service-areas (reached stretches, 1 thread)",
            reach_1[0],
            "pgRouting pgr_drivingDistance",
            pgr,
            unit="ms",
            goal="(goal <= 0.02x, i.e. >= 50x faster)",
        )
    _line("service-areas (linework)", linework[0], "pgRouting pgr_drivingDistance", pgr, unit="ms")


def _pgrouting(net, roots: np.ndarray, distance: float) -> float | None:
    """Median time of ``pgr_drivingDistance`` from ``roots`` on the same graph (edges with their costs,
    both directions), or None when pgRouting is not installed."""
    import psycopg
    import sqlalchemy as sa

    from geo_service.store.pgcluster import temporary_cluster

    with temporary_cluster() as (cluster, db):
        engine = sa.create_engine(cluster.url(db))
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:
                try:
                    cur.execute("CREATE EXTENSION pgrouting")
                except psycopg.errors.FeatureNotSupported:
                    return None
                cur.execute(
                    "CREATE TABLE edges (id bigint, source bigint, target bigint, cost float8, "
                    "reverse_cost float8)"
                )
                rev = np.where(net.seg_twoway, net.seg_cost, -1.0)
                with cur.copy("COPY edges FROM STDIN") as copy:
                    for row in zip(
                        range(len(net.seg_u)),
                        net.seg_u.tolist(),
                        net.seg_v.tolist(),
                        net.seg_cost.tolist(),
                        rev.tolist(),
                        strict=True,
                    ):
                        copy.write_row(row)
                cur.execute("ANALYZE edges")
                raw.commit()
                query = (
                    "SELECT count(*) FROM pgr_drivingDistance("
                    "'SELECT id, source, target, cost, reverse_cost FROM edges', %s::bigint[], %s, directed => true)"
                )
                args = ([int(r) for r in roots], distance)
                cur.execute(query, args)  # warm-up
                reached = int(cur.fetchone()[0])

                def run() -> None:
                    cur.execute(query, args)
                    cur.fetchone()

                took = _median(run, 3)
                print(f"   pgRouting reached {reached:,} (root, node) pairs")
                return took
        finally:
            raw.close()
            engine.dispose()


ENTRIES: dict[str, Callable[[], None]] = {"service-areas": service_areas}
