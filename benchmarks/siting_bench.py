"""Siting on the Jiaozuo demo: checking every site in process against PostGIS SQL doing the same
geometric checks (setbacks, overlaps, spacing, density) on GiST-indexed tables, run in the same process;
and one zone check on save against a GeoPackage single-feature write."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import shapely
import shapely.affinity
import sqlalchemy as sa

from geo_service.catalog import load_catalog
from geo_service.seeding import load_demo
from geo_service.settings import Settings, default_layers_dir
from geo_service.siting import SITE_LAYERS, SitingContext, check_all, check_on_write, siting_context
from geo_service.store.base import NewFeature
from geo_service.store.gpkg import GeoPackageStore
from geo_service.workspace import Workspace

__all__ = ["ENTRIES"]


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _line(name: str, ours: float, base_name: str, base: float) -> None:
    print(
        f"   {name:<22} median {ours:8.1f} ms  baseline({base_name}) {base:8.1f} ms  ratio {ours / base:6.2f}x",
        flush=True,
    )


def _load_postgis(cur, ws: Workspace) -> None:
    def load(table: str, column: str, frame, values) -> None:
        cur.execute(f"CREATE TEMP TABLE {table} (k int, {column} text, cap int, g geometry)")
        cur.executemany(
            f"INSERT INTO {table} VALUES (%s, %s, %s, ST_Transform(ST_GeomFromWKB(%s, 4326), 4547))",
            [
                (int(i), v, c, shapely.to_wkb(g))
                for i, v, c, g in zip(frame.index, *values, frame.geometry, strict=True)
            ],
        )
        cur.execute(f"CREATE INDEX ON {table} USING gist (g)")
        cur.execute(f"ANALYZE {table}")

    roads, pois, areas = ws.frame("roads"), ws.frame("pois"), ws.frame("restricted_areas")
    load("roads", "cls", roads, (roads.road_class, [None] * len(roads)))
    load("pois", "kind", pois, (pois.kind, [None] * len(pois)))
    load("areas", "kind", areas, (areas.kind, [None] * len(areas)))
    cur.execute("CREATE TEMP TABLE zones (k int, layer text, cap int, g geometry)")
    for layer in SITE_LAYERS:
        f = ws.frame(layer)
        cur.executemany(
            "INSERT INTO zones VALUES (%s, %s, %s, ST_Transform(ST_GeomFromWKB(%s, 4326), 4547))",
            [
                (int(i), layer, None if c != c else int(c), shapely.to_wkb(g))
                for i, c, g in zip(f.index, f["capacity"], f.geometry, strict=True)
            ],
        )
    cur.execute("CREATE INDEX ON zones USING gist (g)")
    cur.execute("ANALYZE zones")


def _postgis_checks(cur, ctx: SitingContext) -> Counter:
    """The geometric rules in SQL: violations per rule over every site (with conflict areas computed)."""
    hits: Counter = Counter()
    for rule in ctx.rules.rules:
        p, applies = rule.params, list(rule.applies_to)
        if rule.kind in ("road_setback", "poi_setback", "road_conditions"):
            table, col, kinds = (
                ("pois", "kind", p["poi_kinds"])
                if rule.kind == "poi_setback"
                else ("roads", "cls", p["road_classes"])
            )
            cond = "AND z.cap > %(cap)s" if rule.kind == "road_conditions" else ""
            cur.execute(
                f"SELECT z.layer, z.k, ST_Area(ST_Intersection(z.g, ST_Union(ST_Buffer(f.g, %(d)s)))) "
                f"FROM zones z JOIN {table} f ON f.{col} = ANY(%(kinds)s) AND ST_DWithin(z.g, f.g, %(d)s) "
                f"WHERE z.layer = ANY(%(applies)s) {cond} GROUP BY z.layer, z.k, z.g",
                {
                    "d": float(p["distance_m"]),
                    "kinds": list(kinds),
                    "applies": applies,
                    "cap": p.get("max_capacity"),
                },
            )
        elif rule.kind == "spacing":
            cur.execute(
                "SELECT z.layer, z.k, ST_Area(ST_Intersection(z.g, ST_Buffer(s.g, %(d)s))) FROM zones z "
                "JOIN zones s ON s.layer = ANY(%(layers)s) AND (s.k <> z.k OR s.layer <> z.layer) "
                "AND ST_DWithin(z.g, s.g, %(d)s) WHERE z.layer = ANY(%(applies)s)",
                {"d": float(p["distance_m"]), "layers": list(p["layers"]), "applies": applies},
            )
        elif rule.kind == "no_overlap":
            cur.execute(
                "SELECT z.layer, z.k, ST_Area(ST_Intersection(z.g, ST_Union(a.g))) FROM zones z "
                "JOIN areas a ON a.kind = ANY(%(kinds)s) AND ST_Relate(z.g, a.g, 'T********') "
                "WHERE z.layer = ANY(%(applies)s) GROUP BY z.layer, z.k, z.g, a.kind",
                {"kinds": list(p["area_kinds"]), "applies": applies},
            )
        elif rule.kind == "density":
            cur.execute(
                "SELECT layer, k, ST_Area(g) FROM zones WHERE layer = ANY(%(applies)s) "
                "AND ST_Dimension(g) = 2 AND ST_Area(g) / cap < %(m2)s",
                {"applies": applies, "m2": float(p["min_m2_per_stall"])},
            )
        else:
            continue
        hits[rule.id] += len(cur.fetchall())
    return hits


def run() -> None:
    import psycopg

    from geo_service.store.pgcluster import temporary_cluster

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.gpkg"
        store = GeoPackageStore(path, load_catalog(default_layers_dir()))
        load_demo(store)
        ws = Workspace(store, Settings(workspace=path))
        frames = {n: ws.frame(n) for n in SITE_LAYERS}
        t0 = time.perf_counter()
        ctx = siting_context(ws)
        built = (time.perf_counter() - t0) * 1000
        n_sites = sum(len(f) for f in frames.values())
        print(
            f"   context build (once per version of roads/pois/areas): {built:.0f} ms "
            f"({len(ctx.all_roads.geoms)} road segments)",
            flush=True,
        )
        rows = check_all(ctx, frames)
        ours = Counter(v["rule"] for r in rows for v in r["violations"])
        ours_ms = _median_ms(lambda: check_all(ctx, frames), 7)

        with temporary_cluster() as (cluster, database):
            conninfo = (
                sa.make_url(cluster.url(database))
                .set(drivername="postgresql")
                .render_as_string(hide_password=False)
            )
            with psycopg.connect(conninfo) as con, con.cursor() as cur:
                _load_postgis(cur, ws)
                theirs = _postgis_checks(cur, ctx)
                pg_ms = _median_ms(lambda: _postgis_checks(cur, ctx), 7)
        geometric = {r.id for r in ctx.rules.rules if r.kind not in ("hours", "goods", "lunar_window")}
        same = {k: v for k, v in ours.items() if k in geometric} == dict(+theirs)
        _line(f"check-all ({n_sites} sites)", ours_ms, "PostGIS SQL, geometric rules", pg_ms)
        print(
            f"   same violations as PostGIS: {same}; failing sites: {sum(not r['ok'] for r in rows)} "
            f"(goal: well under 1000 ms)",
            flush=True,
        )

        site = frames["stall_sites"].iloc[0]
        props = {"name": "基准", "district": "山阳区", "capacity": 5, "goods": "果蔬", "hours": "07:00-19:00"}
        zone = shapely.affinity.translate(site.geometry, xoff=0.003)
        check_ms = _median_ms(lambda: check_on_write(ws, "stall_sites", zone, props, exclude_id=None), 21)
        clash_ms = _median_ms(
            lambda: check_on_write(ws, "stall_sites", site.geometry, props, exclude_id=None), 21
        )
        write_ms = _median_ms(
            lambda: store.create_features("stall_sites", [NewFeature(props, zone)], actor="bench"), 21
        )

        after = []
        for _ in range(11):  # each write invalidates the site index: time the check that follows it
            store.create_features("stall_sites", [NewFeature(props, zone)], actor="bench")
            t0 = time.perf_counter()
            check_on_write(ws, "stall_sites", zone, props, exclude_id=None)
            after.append(time.perf_counter() - t0)
        after_ms = statistics.median(after) * 1000
        _line("one zone check (clean)", check_ms, "GeoPackage single write", write_ms)
        _line("one zone check (clash)", clash_ms, "GeoPackage single write", write_ms)
        _line("check after a write", after_ms, "GeoPackage single write", write_ms)
        store.close()


ENTRIES = {"siting": run}
