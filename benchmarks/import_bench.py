"""Bulk import of incident points: through each store against a raw write of the same rows.

``python -m benchmarks import`` (GEO_BENCH_N rows, default 1,000,000; GEO_BENCH_STORES=gpkg,postgis).
PostGIS runs on a throwaway cluster started here; baseline = raw psycopg COPY into a bare table;
GeoPackage baseline = a raw pyogrio write of the same frame.

``python -m benchmarks import-replace`` (GEO_BENCH_REPLACE_N rows, default 20,000): a replace import
that changes every feature and keeps its id (the layer's export edited and imported back), beside
creating the same rows in the same store (its own bulk path) in the same run.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from geo_service.catalog import Catalog, load_catalog
from geo_service.settings import default_layers_dir
from geo_service.store.base import NewFeature


def _features(n: int) -> tuple[list[NewFeature], gpd.GeoDataFrame]:
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(113.1, 113.4, n), rng.uniform(35.15, 35.3, n)
    tz = dt.timezone(dt.timedelta(hours=8))
    t0 = dt.datetime(2026, 1, 1, tzinfo=tz)
    when = [t0 + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 500_000, n)]
    cats = rng.choice(["占道经营", "噪声扰民", "油烟污染"], n)
    geoms = shapely.points(xs, ys)
    feats = [
        NewFeature({"source": "12345", "category": c, "reported_at": w, "status": "closed"}, g)
        for c, w, g in zip(cats, when, geoms, strict=True)
    ]
    frame = gpd.GeoDataFrame(
        {"source": "12345", "category": cats, "reported_at": when, "status": "closed"},
        geometry=geoms,
        crs=4326,
    )
    return feats, frame


def run() -> None:
    n = int(os.environ.get("GEO_BENCH_N", "1000000"))
    catalog = load_catalog(default_layers_dir())
    stores = os.environ.get("GEO_BENCH_STORES", "gpkg,postgis").split(",")
    feats, frame = _features(n)
    if "gpkg" in stores:
        _gpkg(catalog, feats, frame, n)
    if "postgis" in stores:
        _postgis(catalog, feats, frame, n)


def _gpkg(catalog: Catalog, feats: list[NewFeature], frame: gpd.GeoDataFrame, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        from geo_service.store.gpkg import GeoPackageStore

        store = GeoPackageStore(Path(tmp) / "w.gpkg", catalog)
        t = time.perf_counter()
        store.create_features("incidents", feats, actor="bench")
        ours = time.perf_counter() - t
        store.close()
        t = time.perf_counter()
        pyogrio.write_dataframe(frame, Path(tmp) / "raw.gpkg", layer="incidents")
        raw = time.perf_counter() - t
        print(
            f"   GeoPackage: {n:,} points through the store {ours:.1f} s vs raw pyogrio write {raw:.1f} s"
            f" = {raw / ours:.2f}x of raw speed (goal >= 0.5)",
            flush=True,
        )


def _postgis(catalog: Catalog, feats: list[NewFeature], frame: gpd.GeoDataFrame, n: int) -> None:
    from geo_service.store.pgcluster import temporary_cluster
    from geo_service.store.postgis import PostGISStore

    with temporary_cluster() as (cluster, db):
        store = PostGISStore(cluster.url(db), catalog)
        t = time.perf_counter()
        store.create_features("incidents", feats, actor="bench")
        ours = time.perf_counter() - t
        hexes = shapely.to_wkb(shapely.set_srid(frame.geometry.to_numpy(), 4326), hex=True, include_srid=True)
        raw_con = store.engine.raw_connection()
        t = time.perf_counter()
        with raw_con.cursor() as cur:
            cur.execute(
                "CREATE TABLE raw_incidents (id bigserial primary key, source text, category text, "
                "reported_at timestamptz, status text, geom geometry(Point, 4326))"
            )
            with cur.copy(
                "COPY raw_incidents (source, category, reported_at, status, geom) FROM STDIN"
            ) as copy:
                for c, w, h in zip(frame["category"], frame["reported_at"], hexes, strict=True):
                    copy.write_row(("12345", c, w, "closed", h))
            cur.execute("CREATE INDEX ON raw_incidents USING gist (geom)")
        raw_con.commit()
        raw = time.perf_counter() - t
        raw_con.close()
        store.close()
        print(
            f"   PostGIS: {n:,} points through the store {ours:.1f} s vs raw COPY + GiST index {raw:.1f} s"
            f" = {raw / ours:.2f}x of raw speed (goal >= 0.5)",
            flush=True,
        )


def replace() -> None:
    n = int(os.environ.get("GEO_BENCH_REPLACE_N", "20000"))
    catalog = load_catalog(default_layers_dir())
    feats, _ = _features(n)
    changed = [NewFeature({**f.properties, "status": "open"}, f.geometry) for f in feats]
    stores = os.environ.get("GEO_BENCH_STORES", "gpkg,postgis").split(",")
    if "gpkg" in stores:
        from geo_service.store.gpkg import GeoPackageStore

        with tempfile.TemporaryDirectory() as tmp:
            store = GeoPackageStore(Path(tmp) / "w.gpkg", catalog)
            _replace(store, "GeoPackage", feats, changed)
            store.close()
    if "postgis" in stores:
        from geo_service.store.pgcluster import temporary_cluster
        from geo_service.store.postgis import PostGISStore

        with temporary_cluster() as (cluster, db):
            store = PostGISStore(cluster.url(db), catalog)
            _replace(store, "PostGIS", feats, changed)
            store.close()


def _replace(store, name: str, feats: list[NewFeature], changed: list[NewFeature]) -> None:
    t = time.perf_counter()
    made = store.create_features("incidents", feats, actor="bench")
    create = time.perf_counter() - t
    t = time.perf_counter()
    store.replace_layer(
        "incidents",
        changed,
        actor="bench",
        ids=[m.id for m in made],
        expected={m.id: m.version for m in made},
    )
    took = time.perf_counter() - t
    print(
        f"   {name}: replace import changing all {len(feats):,} incidents (ids kept, an update each in "
        f"history) {took:.2f} s  baseline(creating them) {create:.2f} s  ratio {took / create:.2f}x",
        flush=True,
    )


ENTRIES = {"import": run, "import-replace": replace}
