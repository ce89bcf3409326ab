"""The siting checker's answers on ~200 random zones equal PostGIS's: setbacks by ST_DWithin, conflict
areas by ST_Area(ST_Intersection(zone, ST_Buffer(...))), area overlaps by ST_Relate 'T********', road
rules unchecked exactly where no road lies within 200 m. Parameters are read from the shipped rules."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import shapely
import shapely.affinity
import sqlalchemy as sa

from geo_service.crs import from_metric, to_metric
from geo_service.settings import default_layers_dir
from geo_service.siting import SitingContext, check_site, load_rules
from tests.test_network import OX, OY

pytestmark = pytest.mark.postgis

RULES = default_layers_dir() / "rules" / "siting.yaml"
POI_KINDS = [
    "school",
    "bus_stop",
    "traffic_signal",
    "intersection",
    "roundabout",
    "compound_entrance",
    "alley_mouth",
    "hydrant",
    "market",
]
AREA_KINDS = ["green_belt", "parking", "fire_lane", "blind_path", "carriageway"]
STALL = {"name": "随机", "district": "山阳区", "goods": "果蔬", "hours": "07:00-19:00"}
FEST = {
    "name": "随机",
    "district": "中站区",
    "hours": "07:00-20:00",
    "lunar_from": "12-20",
    "lunar_to": "01-10",
}


def ll(geoms):
    return from_metric(np.asarray(geoms, dtype=object))


def random_world(rng):
    """Roads, POIs, restricted areas and sites in a 2 km square at the origin (metric)."""
    roads, classes = [], []
    for k in range(36):
        x0, y0 = rng.uniform(0, 2000, 2)
        ang, length = rng.uniform(0, np.pi), rng.uniform(200, 1200)
        roads.append(
            shapely.LineString(
                [(OX + x0, OY + y0), (OX + x0 + length * np.cos(ang), OY + y0 + length * np.sin(ang))]
            )
        )
        classes.append(["main", "secondary", "branch", "alley"][k % 4])
    pois = shapely.points(OX + rng.uniform(0, 2000, 180), OY + rng.uniform(0, 2000, 180))
    areas = []
    for k in range(60):
        x, y = rng.uniform(0, 2000, 2)
        w, h = rng.uniform(2, 40, 2)
        box = shapely.box(OX + x, OY + y, OX + x + w, OY + y + h)
        areas.append(box if k % 2 == 0 else shapely.affinity.rotate(box, rng.uniform(0, 90)))
    sites = [shapely.box(OX + x, OY + y, OX + x + 30, OY + y + 20) for x, y in rng.uniform(0, 2000, (15, 2))]
    fest = list(shapely.points(OX + rng.uniform(0, 2000, 8), OY + rng.uniform(0, 2000, 8)))
    return {
        "roads": gpd.GeoDataFrame(
            {"name": [f"R{k}" for k in range(36)], "road_class": classes},
            geometry=list(ll(roads)),
            crs=4326,
            index=range(1, 37),
        ),
        "pois": gpd.GeoDataFrame(
            {"name": [f"P{k}" for k in range(180)], "kind": [POI_KINDS[k % 9] for k in range(180)]},
            geometry=list(ll(pois)),
            crs=4326,
            index=range(1, 181),
        ),
        "restricted_areas": gpd.GeoDataFrame(
            {"name": [f"A{k}" for k in range(60)], "kind": [AREA_KINDS[k % 5] for k in range(60)]},
            geometry=list(ll(areas)),
            crs=4326,
            index=range(1, 61),
        ),
        "stall_sites": gpd.GeoDataFrame(
            {"name": [f"S{k}" for k in range(15)]}, geometry=list(ll(sites)), crs=4326, index=range(1, 16)
        ),
        "festival_sales_points": gpd.GeoDataFrame(
            {"name": [f"F{k}" for k in range(8)]}, geometry=list(ll(fest)), crs=4326, index=range(1, 9)
        ),
    }, areas


def random_zones(rng, areas):
    """(layer, metric geometry, properties): boxes, rotated boxes, edge-sharing boxes, points, far zones."""
    zones = []
    for k in range(10):  # share a whole edge with an unrotated restricted area: touching, not overlapping
        _, y0, x1, y1 = areas[2 * k].bounds
        zones.append(("stall_sites", shapely.box(x1, y0, x1 + 15, y1), {**STALL, "capacity": 1}))
    for k in range(150):
        x, y = rng.uniform(-50, 2050, 2)
        w, h = rng.uniform(4, 60, 2)
        box = shapely.box(OX + x, OY + y, OX + x + w, OY + y + h)
        if k % 3 == 0:
            box = shapely.affinity.rotate(box, rng.uniform(0, 90))
        zones.append(("stall_sites", box, {**STALL, "capacity": int(rng.integers(1, 40))}))
    for x, y in rng.uniform(0, 2000, (35, 2)):
        zones.append(("festival_sales_points", shapely.Point(OX + x, OY + y), FEST))
    for x, y in rng.uniform(0, 300, (5, 2)):  # far from every road
        zones.append(
            (
                "stall_sites",
                shapely.box(OX + 3000 + x, OY + 3000 + y, OX + 3020 + x, OY + 3020 + y),
                {**STALL, "capacity": 1},
            )
        )
    return zones


def ours(ctx, zones):
    """zone → Counter of rule ids, zone → {rule: conflict area m²}, zones whose road rules are unchecked."""
    hits, area, unchecked = {}, defaultdict(dict), set()
    for k, (layer, geom, props) in enumerate(zones):
        rep = check_site(ctx, layer, ll([geom])[0], props, today=dt.date(2026, 12, 5))
        hits[k] = Counter(v.rule_id for v in rep.violations)
        for v in rep.violations:
            if v.geometry is not None:
                area[k][v.rule_id] = area[k].get(v.rule_id, 0.0) + float(
                    to_metric(np.array([v.geometry]))[0].area
                )
        if any(u["rule"] == "main-road-ban" for u in rep.unchecked):
            unchecked.add(k)
    return hits, area, unchecked


def _load(cur, table, columns, rows):
    cur.execute(f"CREATE TEMP TABLE {table} (k int, {columns}, g geometry)")
    extra = columns.count(",") + 1
    marks = ", ".join(["%s"] * extra)
    cur.executemany(
        f"INSERT INTO {table} VALUES (%s, {marks}, ST_Transform(ST_GeomFromWKB(%s, 4326), 4547))", rows
    )


def theirs(url, frames, zones, rules):
    """The same answers from PostGIS SQL on the same EPSG:4326 input."""
    hits, area = defaultdict(Counter), defaultdict(dict)
    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as con, con.cursor() as cur:
        wkb = shapely.to_wkb
        _load(
            cur,
            "roads",
            "cls text",
            [(int(i), r.road_class, wkb(r.geometry)) for i, r in frames["roads"].iterrows()],
        )
        _load(
            cur,
            "pois",
            "kind text",
            [(int(i), r.kind, wkb(r.geometry)) for i, r in frames["pois"].iterrows()],
        )
        _load(
            cur,
            "areas",
            "kind text",
            [(int(i), r.kind, wkb(r.geometry)) for i, r in frames["restricted_areas"].iterrows()],
        )
        _load(
            cur,
            "sites",
            "layer text",
            [
                (int(i), n, wkb(g))
                for n in ("stall_sites", "festival_sales_points")
                for i, g in frames[n].geometry.items()
            ],
        )
        _load(
            cur,
            "zones",
            "layer text, cap int",
            [(k, layer, props.get("capacity"), wkb(ll([g])[0])) for k, (layer, g, props) in enumerate(zones)],
        )
        cur.execute(
            "SELECT k FROM zones z WHERE NOT EXISTS (SELECT 1 FROM roads r WHERE ST_DWithin(z.g, r.g, 200))"
        )
        unchecked = {k for (k,) in cur.fetchall()}
        for rule in rules.rules:
            p, applies = rule.params, list(rule.applies_to)
            if rule.kind in ("road_setback", "poi_setback", "road_conditions"):
                table, col, kinds = (
                    ("pois", "kind", p["poi_kinds"])
                    if rule.kind == "poi_setback"
                    else ("roads", "cls", p["road_classes"])
                )
                cond = "AND z.cap > %(cap)s" if rule.kind == "road_conditions" else ""
                cur.execute(
                    f"SELECT z.k, ST_Area(ST_Intersection(z.g, ST_Union(ST_Buffer(f.g, %(d)s, 'quad_segs=16')))) "
                    f"FROM zones z JOIN {table} f ON f.{col} = ANY(%(kinds)s) AND ST_DWithin(z.g, f.g, %(d)s) "
                    f"WHERE z.layer = ANY(%(applies)s) {cond} GROUP BY z.k, z.g",
                    {
                        "d": float(p["distance_m"]),
                        "kinds": list(kinds),
                        "applies": applies,
                        "cap": p.get("max_capacity"),
                    },
                )
                for k, a in cur.fetchall():
                    hits[k][rule.id] += 1
                    area[k][rule.id] = a
            elif rule.kind == "spacing":
                cur.execute(
                    "SELECT z.k, ST_Area(ST_Intersection(z.g, ST_Buffer(s.g, %(d)s, 'quad_segs=16'))) "
                    "FROM zones z JOIN sites s ON s.layer = ANY(%(layers)s) AND ST_DWithin(z.g, s.g, %(d)s) "
                    "WHERE z.layer = ANY(%(applies)s)",
                    {"d": float(p["distance_m"]), "layers": list(p["layers"]), "applies": applies},
                )
                for k, a in cur.fetchall():
                    hits[k][rule.id] += 1
                    area[k][rule.id] = area[k].get(rule.id, 0.0) + a
            elif rule.kind == "no_overlap":
                cur.execute(
                    "SELECT z.k, a.kind, ST_Area(ST_Intersection(z.g, ST_Union(a.g))) FROM zones z "
                    "JOIN areas a ON a.kind = ANY(%(kinds)s) AND ST_Relate(z.g, a.g, 'T********') "
                    "WHERE z.layer = ANY(%(applies)s) GROUP BY z.k, z.g, a.kind",
                    {"kinds": list(p["area_kinds"]), "applies": applies},
                )
                for k, _kind, a in cur.fetchall():
                    hits[k][rule.id] += 1
                    area[k][rule.id] = area[k].get(rule.id, 0.0) + a
            elif rule.kind == "density":
                cur.execute(
                    "SELECT k, ST_Area(g) FROM zones WHERE layer = ANY(%(applies)s) AND ST_Dimension(g) = 2 "
                    "AND ST_Area(g) / cap < %(m2)s",
                    {"applies": applies, "m2": float(p["min_m2_per_stall"])},
                )
                for k, a in cur.fetchall():
                    hits[k][rule.id] += 1
                    area[k][rule.id] = a
    return hits, area, unchecked


def test_random_zones_equal_postgis(postgis_url, catalog):
    rng = np.random.default_rng(2027)
    frames, areas = random_world(rng)
    zones = random_zones(rng, areas)
    rules = load_rules(RULES, catalog=catalog)
    ctx = SitingContext.build(frames, rules)
    our_hits, our_area, our_unchecked = ours(ctx, zones)
    pg_hits, pg_area, pg_unchecked = theirs(postgis_url, frames, zones, rules)

    assert our_unchecked == pg_unchecked
    assert len(pg_unchecked) >= 5
    for k in range(len(zones)):
        assert our_hits[k] == pg_hits[k], (k, zones[k][1].wkt)
        for rule, a in pg_area[k].items():
            assert our_area[k].get(rule, 0.0) == pytest.approx(a, rel=1e-3, abs=0.05), (k, rule)
    # the random data exercise every geometric rule, both ways
    failing = Counter(r for c in pg_hits.values() for r in c)
    geometric = {r.id for r in rules.rules if r.kind not in ("hours", "goods", "lunar_window")}
    assert geometric <= set(failing), geometric - set(failing)
    assert sum(not c for c in pg_hits.values()) >= 20
    assert not any(pg_hits[k]["restricted-areas"] for k in range(10))  # shared edges are not overlaps
