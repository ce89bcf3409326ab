"""Dispatch over a PostGIS workspace gives the answers it gives over the GeoPackage one: the demo loaded
into both, a crew marked busy in both through the same feature edit, the same batch sent to each."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo_service.assignment.service import dispatch_cases
from geo_service.catalog import load_catalog
from geo_service.features import patch_feature
from geo_service.seeding import load_demo
from geo_service.settings import Settings, default_layers_dir
from geo_service.store.postgis import PostGISStore
from geo_service.workspace import Workspace

pytestmark = pytest.mark.postgis


def test_dispatch_on_postgis_equals_geopackage(pg_schema_url, demo_ws):
    store = PostGISStore(pg_schema_url, load_catalog(default_layers_dir()))
    try:
        load_demo(store)
        pg = Workspace(store, Settings(database_url=pg_schema_url))
        rng = np.random.default_rng(12)
        x0, y0, x1, y1 = demo_ws.frame("districts").total_bounds
        n = 3000
        cases = gpd.GeoDataFrame(
            {
                "category": rng.choice(["0201", "占道经营", "道路积水"], n),
                "reported_at": [f"2026-12-01T{h:02d}:30:00+08:00" for h in rng.integers(0, 24, n)],
            },
            geometry=shapely.points(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)),
            crs=4326,
        )
        for ws in (demo_ws, pg):
            crews = ws.frame("crews")
            fid = int(crews.index[crews["crew"] == "解放一组"][0])
            patch_feature(
                ws,
                "crews",
                fid,
                {"properties": {"status": "busy", "busy_until": "2026-12-01T12:00:00+08:00"}},
                actor="test",
            )
        ours = [a.as_dict() for a in dispatch_cases(pg, cases)]
        theirs = [a.as_dict() for a in dispatch_cases(demo_ws, cases)]
        assert ours == theirs
        crews_sent = {a["crew"]["crew"] for a in ours if a["crew"]}
        assert "解放二组" in crews_sent  # the busy crew's depot sent its other crew before noon
        assert sum(a["crew"] is not None and a["crew"]["passed_over"] is not None for a in ours) == 0
        assert sum(a["squad"] is not None for a in ours) > n / 3
    finally:
        store.close()
