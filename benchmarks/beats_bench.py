"""Coverage performance: batch point-to-beat assignment and walking service areas, each beside a
baseline run in the same process (geopandas.sjoin, a PostGIS join with a GiST index, scipy's bare
shortest-path call)."""

from __future__ import annotations

import os
import time

import geopandas as gpd
import numpy as np
import shapely

from geo_service.coverage import BeatIndex, assign_points_to_beats
from geo_service.crs import from_metric, to_metric

ORIGIN = (500_000.0, 3_900_000.0)  # metres in EPSG:4547, near Jiaozuo


def _beats(n_side: int, verts: int) -> gpd.GeoDataFrame:
    """A grid of square beats, each edge split so that a beat has about ``verts`` vertices."""
    size = 400.0
    polys = [shapely.segmentize(shapely.box(ORIGIN[0] + j * size, ORIGIN[1] + i * size, ORIGIN[0] + (j + 1) * size,
                                            ORIGIN[1] + (i + 1) * size), size / (verts // 4))
             for i in range(n_side) for j in range(n_side)]
    geoms = from_metric(np.asarray(polys, dtype=object))
    return gpd.GeoDataFrame({"code": [f"B{k}" for k in range(len(polys))], "name": "b", "squad": "s", "district": "d",
                             "buffer_m": 30.0}, geometry=list(geoms), crs=4326)


def beats() -> None:
    n_points = int(os.environ.get("GEO_BENCH_POINTS", "1000000"))
    frame = _beats(45, 50)  # 2,025 beats of ~50 vertices
    rng = np.random.default_rng(1)
    xs = ORIGIN[0] + rng.uniform(0, 45 * 400, n_points)
    ys = ORIGIN[1] + rng.uniform(0, 45 * 400, n_points)
    pts_m = shapely.points(xs, ys)
    index = BeatIndex.build(frame)
    t = time.perf_counter()
    index.interior_grid()  # built once per version of the beat layer, then reused
    build = time.perf_counter() - t
    t = time.perf_counter()
    p, b = assign_points_to_beats(pts_m, index)
    ours = time.perf_counter() - t
    metric = gpd.GeoDataFrame(geometry=list(index.geoms), crs=4547)
    points = gpd.GeoDataFrame(geometry=pts_m, crs=4547)
    t = time.perf_counter()
    joined = gpd.sjoin(points, metric, predicate="intersects")
    sjoin = time.perf_counter() - t
    assert len(joined) == len(p), (len(joined), len(p))
    print(f"   beats: {n_points:,} points x {len(frame):,} beats: ours {ours:.2f} s vs geopandas.sjoin {sjoin:.2f} s"
          f" = {sjoin / ours:.1f}x (goal >= 5x); the interior grid, built once per beat-layer version, took {build:.2f} s",
          flush=True)
    try:
        from geo_service.store.pgcluster import temporary_cluster
    except ImportError:  # pragma: no cover
        return
    import sqlalchemy as sa

    with temporary_cluster() as (cluster, db):
        engine = sa.create_engine(cluster.url(db))
        raw = engine.raw_connection()
        with raw.cursor() as cur:
            cur.execute("CREATE TABLE beats (k int, g geometry(Polygon, 4547))")
            cur.execute("CREATE TABLE pts (k int, g geometry(Point, 4547))")
            for k, g in enumerate(index.geoms):
                cur.execute("INSERT INTO beats VALUES (%s, ST_GeomFromText(%s, 4547))", (k, g.wkt))
            with cur.copy("COPY pts FROM STDIN") as copy:
                for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
                    copy.write_row((k, f"SRID=4547;POINT({x} {y})"))
            cur.execute("CREATE INDEX ON beats USING gist (g)")
            cur.execute("ANALYZE beats")
            cur.execute("ANALYZE pts")
            raw.commit()
            t = time.perf_counter()
            cur.execute("SELECT count(*) FROM pts p JOIN beats b ON ST_Contains(b.g, p.g)")
            n_pg = cur.fetchone()[0]
            pg = time.perf_counter() - t
        raw.close()
        engine.dispose()
    print(f"   beats: same data in PostGIS (ST_Contains join, GiST index) {pg:.2f} s vs ours {ours:.2f} s"
          f" = {pg / ours:.1f}x (goal >= 30x); {n_pg:,} vs {len(p):,} memberships", flush=True)


def service_areas() -> None:
    from scipy.sparse.csgraph import dijkstra

    from geo_service.network import build_network, service_areas as areas, snap

    side = int(os.environ.get("GEO_BENCH_GRID", "316"))  # 316² ≈ 100,000 nodes
    step = 80.0
    lines = []
    for i in range(side):
        y = ORIGIN[1] + i * step
        lines += [shapely.LineString([(ORIGIN[0] + j * step, y), (ORIGIN[0] + (j + 1) * step, y)]) for j in range(side - 1)]
        x = ORIGIN[0] + i * step
        lines += [shapely.LineString([(x, ORIGIN[1] + j * step), (x, ORIGIN[1] + (j + 1) * step)]) for j in range(side - 1)]
    roads = gpd.GeoDataFrame({"walkable": np.ones(len(lines), dtype=bool)},
                             geometry=list(from_metric(np.asarray(lines, dtype=object))), crs=4326)
    net = build_network(roads, mode="walk")
    rng = np.random.default_rng(2)
    sites = shapely.points(ORIGIN[0] + rng.uniform(0, side * step, 30), ORIGIN[1] + rng.uniform(0, side * step, 30))
    t = time.perf_counter()
    result = areas(net, sites, max_cost=1200.0)
    ours = time.perf_counter() - t
    s = snap(net, sites)
    t = time.perf_counter()
    dijkstra(net.graph, directed=True, indices=net.seg_u[s.segment], limit=1200.0)
    bare = time.perf_counter() - t
    print(f"   service areas: 30 sites, 1,200 m, {net.n_nodes:,} nodes: {ours:.2f} s vs the bare scipy dijkstra "
          f"{bare:.2f} s = {ours / bare:.1f}x of it (goal <= 2x); {sum(result.reached_m) / 1000:.0f} km reached", flush=True)


ENTRIES = {"beats": beats, "service-areas": service_areas}
