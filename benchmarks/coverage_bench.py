"""Coverage benchmarks, each beside a baseline run in the same process.

- ``beats``: 1M points × ~2,000 beat polygons (~50 vertices) against ``geopandas.sjoin`` and a
  PostGIS ``ST_Contains`` join with a GiST index (``GEO_BENCH_POSTGIS=0`` leaves PostGIS out).
- ``who``: ``GET /coverage/who`` on the demo workspace against a trivial endpoint of the same app.
- ``service-areas``: 30 sites, 1,200 m on a ~100k-node street grid against the bare scipy call.
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


def _grid_beats(n_side: int, verts: int) -> np.ndarray:
    size = 400.0
    return np.asarray(
        [
            shapely.segmentize(
                shapely.box(
                    ORIGIN[0] + j * size,
                    ORIGIN[1] + i * size,
                    ORIGIN[0] + (j + 1) * size,
                    ORIGIN[1] + (i + 1) * size,
                ),
                size / (verts // 4),
            )
            for i in range(n_side)
            for j in range(n_side)
        ],
        dtype=object,
    )


def beats() -> None:
    from geo_service.coverage import BeatIndex, assign_points_to_beats
    from geo_service.crs import from_metric

    n_points = int(os.environ.get("GEO_BENCH_POINTS", "1000000"))
    polys = _grid_beats(45, 50)  # 2,025 beats of ~50 vertices
    frame = gpd.GeoDataFrame(
        {
            "code": [f"B{k}" for k in range(len(polys))],
            "name": "b",
            "squad": "s",
            "district": "d",
            "buffer_m": 30.0,
        },
        geometry=list(from_metric(polys)),
        crs=4326,
    )
    rng = np.random.default_rng(1)
    xy = np.column_stack(
        [ORIGIN[0] + rng.uniform(0, 45 * 400, n_points), ORIGIN[1] + rng.uniform(0, 45 * 400, n_points)]
    )
    index = BeatIndex.build(frame)
    t = time.perf_counter()
    index.interior_grid()  # once per version of the beat layer (cached with the index in the workspace)
    build = time.perf_counter() - t
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        p, _ = assign_points_to_beats(xy, index)
        runs.append(time.perf_counter() - t)
    ours = min(runs)
    points = gpd.GeoDataFrame(geometry=shapely.points(xy), crs=4547)
    metric = gpd.GeoDataFrame(geometry=list(index.geoms), crs=4547)
    t = time.perf_counter()
    joined = gpd.sjoin(points, metric, predicate="intersects")
    sjoin = time.perf_counter() - t
    assert len(joined) == len(p), (len(joined), len(p))
    print(
        f"   {n_points:,} points x {len(polys):,} beats; grid built once per layer version in {build:.2f} s"
    )
    _line("beats", ours, "geopandas.sjoin", sjoin, goal="(goal <= 0.2x, i.e. >= 5x faster)")
    if os.environ.get("GEO_BENCH_POSTGIS", "1") == "0":
        return
    pg, n_pg = _postgis_join(index.geoms, xy)
    assert n_pg == len(p), (n_pg, len(p))  # no point lies on a beat edge here, so contains = intersects
    _line("beats", ours, "PostGIS ST_Contains join, GiST", pg, goal="(goal <= 0.033x, i.e. >= 30x faster)")


def _postgis_join(polys: np.ndarray, xy: np.ndarray) -> tuple[float, int]:
    import sqlalchemy as sa

    from geo_service.store.pgcluster import temporary_cluster

    with temporary_cluster() as (cluster, db):
        engine = sa.create_engine(cluster.url(db))
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:
                cur.execute("CREATE TABLE beats (k int, g geometry(Polygon, 4547))")
                cur.execute("CREATE TABLE pts (k int, g geometry(Point, 4547))")
                with cur.copy("COPY beats FROM STDIN") as copy:
                    for k, g in enumerate(polys):
                        copy.write_row((k, f"SRID=4547;{g.wkt}"))
                with cur.copy("COPY pts FROM STDIN") as copy:
                    for k, (x, y) in enumerate(xy):
                        copy.write_row((k, f"SRID=4547;POINT({x} {y})"))
                cur.execute("CREATE INDEX ON beats USING gist (g)")
                cur.execute("ANALYZE beats")
                cur.execute("ANALYZE pts")
                raw.commit()
                t = time.perf_counter()
                cur.execute("SELECT count(*) FROM pts p JOIN beats b ON ST_Contains(b.g, p.g)")
                n = int(cur.fetchone()[0])
                return time.perf_counter() - t, n
        finally:
            raw.close()
            engine.dispose()


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def who() -> None:
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.catalog import load_catalog
    from geo_service.seeding import load_demo
    from geo_service.settings import Settings, default_layers_dir
    from geo_service.store.gpkg import GeoPackageStore

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(workspace=Path(tmp) / "w.gpkg")
        store = GeoPackageStore(settings.workspace, load_catalog(default_layers_dir()))
        try:
            load_demo(store)
        finally:
            store.close()
        with TestClient(create_app(settings)) as client:
            accounts = client.app.state.accounts
            accounts.add_user("bench", "admin")
            client.headers["Authorization"] = f"Bearer {accounts.issue_token('bench')}"
            client.get("/coverage/who", params={"lon": 113.24, "lat": 35.22})  # warm the caches
            rng = np.random.default_rng(0)
            points = iter(rng.uniform([113.15, 35.18], [113.35, 35.28], (1000, 2)))

            def ask() -> None:
                lon, lat = next(points)
                r = client.get("/coverage/who", params={"lon": lon, "lat": lat, "at": "2026-12-01T21:00"})
                assert r.status_code == 200, r.text

            trivial = _median(lambda: client.get("/conformance"), 200)
            ours = _median(ask, 200)
    _line("who-covers", ours, "trivial endpoint /conformance", trivial, unit="ms", goal="(goal <= 1.5x)")


def service_areas() -> None:
    from scipy.sparse.csgraph import dijkstra

    from geo_service.crs import from_metric
    from geo_service.network import build_network, snap
    from geo_service.network import service_areas as areas

    side = int(os.environ.get("GEO_BENCH_GRID", "316"))  # 316² ≈ 100,000 nodes
    step = 80.0
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
    roads = gpd.GeoDataFrame(
        {"walkable": np.ones(len(lines), dtype=bool)}, geometry=list(from_metric(lines)), crs=4326
    )
    net = build_network(roads, mode="walk")
    rng = np.random.default_rng(2)
    sites = shapely.points(
        ORIGIN[0] + rng.uniform(0, (side - 1) * step, 30), ORIGIN[1] + rng.uniform(0, (side - 1) * step, 30)
    )
    result = areas(net, sites, max_cost=1200.0)  # warm-up
    ours = _median(lambda: areas(net, sites, max_cost=1200.0), 3)
    s = snap(net, sites)
    bare = _median(lambda: dijkstra(net.graph, directed=True, indices=net.seg_u[s.segment], limit=1200.0), 3)
    print(
        f"   30 sites, 1,200 m, {net.n_nodes:,} nodes; {np.sum(result.reached_m) / 1000:.0f} km reached"
    )
    lines_only = _median(lambda: areas(net, sites, max_cost=1200.0, with_polygons=False), 3)
    _line("service-areas (linework only)", lines_only, "bare scipy dijkstra", bare, goal="(goal <= 2x)")
    _line("service-areas (with polygons)", ours, "bare scipy dijkstra", bare, goal="(goal <= 2x)")


ENTRIES: dict[str, Callable[[], None]] = {"beats": beats, "who": who, "service-areas": service_areas}
