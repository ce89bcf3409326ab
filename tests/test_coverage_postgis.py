"""Coverage answers equal PostGIS's on random data (ST_Contains/ST_DWithin, ST_Union/ST_Difference)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from geo_service.coverage import BeatIndex, assign_points_to_beats, beat_coverage
from geo_service.crs import from_metric, to_metric
from tests.test_network import OX, OY

pytestmark = pytest.mark.postgis


def random_beats(rng, n=40):
    rows, geoms = [], []
    for k in range(n):
        x, y = rng.uniform(0, 3000, 2)
        w, h = rng.uniform(200, 700, 2)
        poly = shapely.box(OX + x, OY + y, OX + x + w, OY + y + h)
        if k % 7 == 0:
            poly = shapely.LineString([(OX + x, OY + y), (OX + x + w, OY + y + h)])
        geoms.append(poly)
        rows.append({"code": f"B{k}", "name": f"B{k}", "squad": "S", "district": "甲区", "buffer_m": 25.0})
    return gpd.GeoDataFrame(rows, geometry=list(from_metric(np.asarray(geoms, dtype=object))), crs=4326)


def test_membership_and_gaps_equal_postgis(postgis_url):
    rng = np.random.default_rng(11)
    beats = random_beats(rng)
    pts = from_metric(shapely.points(OX + rng.uniform(-100, 3800, 3000), OY + rng.uniform(-100, 3800, 3000)))
    index = BeatIndex.build(beats)
    p, b = assign_points_to_beats(to_metric(pts), index)
    ours = set(zip(p.tolist(), b.tolist(), strict=True))
    engine = sa.create_engine(postgis_url)
    with engine.begin() as con:
        con.execute(sa.text("CREATE TEMP TABLE beats (k int, g geometry, line bool, reach float)"))
        con.execute(sa.text("CREATE TEMP TABLE pts (k int, g geometry)"))
        metric_beats = to_metric(beats.geometry.to_numpy())
        con.execute(
            sa.text("INSERT INTO beats VALUES (:k, ST_GeomFromText(:w, 4547), :l, :r)"),
            [
                {"k": k, "w": g.wkt, "l": g.geom_type == "LineString", "r": 25.0}
                for k, g in enumerate(metric_beats)
            ],
        )
        con.execute(
            sa.text("INSERT INTO pts VALUES (:k, ST_GeomFromText(:w, 4547))"),
            [{"k": k, "w": g.wkt} for k, g in enumerate(to_metric(pts))],
        )
        rows = con.execute(
            sa.text(
                "SELECT p.k, b.k FROM pts p JOIN beats b ON "
                "(NOT b.line AND ST_Intersects(b.g, p.g)) OR (b.line AND ST_DWithin(b.g, p.g, b.reach))"
            )
        ).all()
        theirs = {(int(a), int(c)) for a, c in rows}
        assert ours == theirs
        assert len(ours) > 500

        district = shapely.box(OX, OY, OX + 3500, OY + 3500)
        districts = gpd.GeoDataFrame(
            {"code": ["000001"], "name": ["甲区"]},
            geometry=list(from_metric(np.array([district], dtype=object))),
            crs=4326,
        )
        cov = beat_coverage(beats, (), districts, min_gap_m2=0.0)
        gap = con.execute(
            sa.text(
                "SELECT ST_Area(ST_Difference(ST_GeomFromText(:d, 4547), "
                "(SELECT ST_Union(g) FROM beats WHERE NOT line)))"
            ),
            {"d": to_metric(districts.geometry.to_numpy())[0].wkt},
        ).scalar_one()
        assert sum(g["area_m2"] for g in cov.gaps) == pytest.approx(gap, rel=1e-3)
        overlap_pg = con.execute(
            sa.text(
                "SELECT count(*) FROM beats a JOIN beats b ON a.k < b.k AND NOT a.line AND NOT b.line "
                "AND ST_Area(ST_Intersection(a.g, b.g)) >= 1"
            )
        ).scalar_one()
        assert len(cov.overlaps) == overlap_pg
    engine.dispose()
