"""Coverage on hand-checkable fixtures (a 3×3 grid of beats, a small street grid) and the demo."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_service.coverage import (
    AT_SITE_M,
    BeatIndex,
    SiteReach,
    assign_points_to_beats,
    beat_coverage,
    site_duty_coverage,
    walking_coverage,
    what_if,
    who_covers,
)
from geo_service.crs import from_metric, to_metric
from geo_service.duty import open_windows, shifts_from_frame
from geo_service.network import build_network
from tests.test_network import OX, OY, grid_roads

TZ = dt.timezone(dt.timedelta(hours=8))


def m2ll(geoms):
    return list(from_metric(np.asarray(geoms, dtype=object)))


def grid_beats(size: float = 100.0) -> gpd.GeoDataFrame:
    rows, geoms = [], []
    for i in range(3):
        for j in range(3):
            code = f"B{i}{j}"
            box = shapely.box(OX + j * size, OY + i * size, OX + (j + 1) * size, OY + (i + 1) * size)
            if code == "B11":
                box = box.difference(shapely.box(OX + 140, OY + 140, OX + 160, OY + 160))  # a 400 m² hole
            if code == "B00":
                box = shapely.box(OX, OY, OX + 110, OY + 100)  # 10 m into B01
            if code == "B22":
                box = shapely.box(OX + 200, OY + 200, OX + 297, OY + 300)  # 3 m short of the edge
            rows.append({"code": code, "name": code, "squad": f"S{j}", "district": "甲区", "buffer_m": 30.0})
            geoms.append(box)
    rows.append({"code": "R1", "name": "路段", "squad": "SR", "district": "甲区", "buffer_m": 20.0})
    geoms.append(shapely.LineString([(OX, OY + 310), (OX + 300, OY + 310)]))
    return gpd.GeoDataFrame(rows, geometry=m2ll(geoms), crs=4326)


DISTRICT = gpd.GeoDataFrame(
    {"code": ["000001"], "name": ["甲区"]}, geometry=m2ll([shapely.box(OX, OY, OX + 300, OY + 300)]), crs=4326
)
SHIFTS = shifts_from_frame(
    pd.DataFrame(
        [
            {"beat": f"B{i}{j}", "squad": f"S{j}", "weekdays": "1-7", "start": "08:00", "end": "18:00"}
            for i in range(3)
            for j in range(3)
        ]
        + [
            {"beat": "B00", "squad": "S0", "weekdays": "1-7", "start": "19:00", "end": "23:00"},
            {"beat": "R1", "squad": "SR", "weekdays": "1-7", "start": "07:00", "end": "22:00"},
        ]
    )
)


def ll(x, y):
    p = from_metric(np.array([shapely.Point(OX + x, OY + y)], dtype=object))[0]
    return p.x, p.y


def test_point_membership_by_hand():
    index = BeatIndex.build(grid_beats())
    pts = to_metric(
        np.array(
            [
                shapely.Point(*ll(x, y))
                for x, y in [(50, 50), (105, 50), (150, 150), (250, 250), (150, 320), (150, 340)]
            ],
            dtype=object,
        )
    )
    p, b = assign_points_to_beats(pts, index)
    got = {}
    for i, k in zip(p, b, strict=True):
        got.setdefault(int(i), set()).add(str(index.codes[k]))
    assert got == {
        0: {"B00"},
        1: {"B00", "B01"},
        3: {"B22"},
        4: {"R1"},
    }  # 2 is in the hole; 5 beyond the reach
    xy = shapely.get_coordinates(pts)
    assert [[str(index.codes[k]) for k in index.beats_at(x, y)] for x, y in xy] == [
        ["B00"],
        ["B00", "B01"],
        [],
        ["B22"],
        ["R1"],
        [],
    ]


def test_who_covers_at_hours():
    beats = grid_beats()
    index = BeatIndex.build(beats)
    net = build_network(grid_roads(), mode="walk")
    sites = gpd.GeoDataFrame(
        {"name": ["摊区甲"]},
        geometry=m2ll([shapely.box(OX + 95, OY + 5, OX + 99, OY + 20)]),
        crs=4326,
        index=[7],
    )
    noon = who_covers(
        *ll(50, 10),
        dt.datetime(2026, 12, 1, 12, tzinfo=TZ),
        beats=index,
        shifts=SHIFTS,
        districts=DISTRICT,
        network=net,
        stall_sites=sites,
    )
    assert [b["code"] for b in noon.beats] == ["B00"]
    assert noon.on_duty[0]["squad"] == "S0"
    assert noon.district == "甲区"
    assert noon.nearest["stall_site"]["id"] == 7
    # 10 m to the street, 50 m to the corner, 12.5 m up to the site's snap point, 3 m into the site
    assert noon.nearest["stall_site"]["walk_m"] == pytest.approx(10 + 50 + 12.5 + 3, abs=0.5)
    night = who_covers(
        *ll(150, 50), dt.datetime(2026, 12, 1, 20, tzinfo=TZ), beats=index, shifts=SHIFTS, districts=DISTRICT
    )
    assert night.on_duty == ()
    assert night.next_shift["starts"].startswith("2026-12-02T08:00")
    outside = who_covers(
        113.0, 30.0, dt.datetime(2026, 12, 1, 12, tzinfo=TZ), beats=index, shifts=SHIFTS, districts=DISTRICT
    )
    assert outside.district is None
    assert outside.beats == ()
    assert any("escalate" in r for r in outside.reasons)


def test_a_border_place_gets_one_district_for_its_beat_and_its_office():
    """On the border of two districts (each with its beat), the district named, the beat and the office
    a case is escalated to agree: all three are found from the same metric shapes."""
    left, right = shapely.box(OX, OY, OX + 100, OY + 300), shapely.box(OX + 100, OY, OX + 200, OY + 300)
    districts = gpd.GeoDataFrame(
        {"code": ["1", "2"], "name": ["甲区", "乙区"]}, geometry=m2ll([left, right]), crs=4326
    )
    beats = gpd.GeoDataFrame(
        {
            "code": ["J1", "Y1"],
            "name": "b",
            "squad": ["SJ", "SY"],
            "district": ["甲区", "乙区"],
            "buffer_m": 30.0,
        },
        geometry=m2ll([left, right]),
        crs=4326,
    )
    index = BeatIndex.build(beats)
    night = dt.datetime(2026, 12, 1, 2, tzinfo=TZ)  # nobody on duty: every answer names its office
    rng = np.random.default_rng(8)
    places = [ll(100, y) for y in rng.uniform(1, 299, 60)]  # on the border, as far as lon/lat can say
    places += [ll(100 + d, 150) for d in (-1e-9, 1e-9, -1e-7, 1e-7)]
    seen = set()
    for lon, lat in places:
        ans = who_covers(lon, lat, night, beats=index, shifts=[], districts=districts)
        assert ans.district in ("甲区", "乙区")
        assert ans.escalation == f"{ans.district}值班室"
        assert ans.district in {index.districts[list(index.codes).index(b["code"])] for b in ans.beats}
        seen.add(ans.district)
    assert seen == {"甲区", "乙区"}  # (the border places fall on both sides)
    inner = who_covers(*ll(30, 150), night, beats=index, shifts=[], districts=districts)
    assert (inner.district, [b["code"] for b in inner.beats], inner.escalation) == (
        "甲区",
        ["J1"],
        "甲区值班室",
    )


def test_gaps_overlaps_and_edges_by_hand():
    cov = beat_coverage(grid_beats(), SHIFTS, DISTRICT)
    assert sorted(round(g["area_m2"]) for g in cov.gaps) == [300, 400]
    assert len(cov.overlaps) == 1
    assert cov.overlaps[0]["beats"] == ["B00", "B01"]
    assert cov.overlaps[0]["area_m2"] == pytest.approx(1000, rel=1e-3)
    fig = cov.figures[0]
    assert fig["uncovered_m2"] == pytest.approx(700, rel=1e-3)
    assert fig["double_covered_m2"] == pytest.approx(1000, rel=1e-3)
    evening = beat_coverage(grid_beats(), SHIFTS, DISTRICT, at=dt.datetime(2026, 12, 1, 20, tzinfo=TZ))
    assert evening.figures[0]["covered_m2"] == pytest.approx(110 * 100, rel=1e-3)


def test_site_duty_coverage_lists_uncovered_hours():
    index = BeatIndex.build(grid_beats())
    sites = gpd.GeoDataFrame(
        {"name": ["甲"], "hours": ["16:00-20:00"], "status": ["open"]},
        geometry=[shapely.Point(*ll(150, 50))],
        crs=4326,
        index=[3],
    )
    gaps = site_duty_coverage(
        {"stall_sites": sites},
        index,
        SHIFTS,
        start=dt.datetime(2026, 12, 1, tzinfo=TZ),
        end=dt.datetime(2026, 12, 2, tzinfo=TZ),
    )
    assert [g["hour"][11:16] for g in gaps] == ["18:00", "19:00"]


def test_a_stall_zone_over_two_beats_is_covered_while_either_is_on_duty():
    """helper-62: a zone over two beats was checked against the one beat holding a point inside it. It
    counts every beat it shares ground with (not one it only touches); uncovered hours say why in
    Chinese and English apart, as other answers do."""
    index = BeatIndex.build(grid_beats())
    zone = shapely.Polygon([ll(120, 170), ll(180, 170), ll(180, 230), ll(120, 230)])  # B11 and B21
    touching = shapely.Polygon([ll(200, 20), ll(250, 20), ll(250, 60), ll(200, 60)])  # in B02, touches B01
    sites = gpd.GeoDataFrame(
        {"name": ["甲", "乙"], "hours": ["06:00-23:00", "06:00-23:00"], "status": ["open", "open"]},
        geometry=[zone, touching],
        crs=4326,
        index=[3, 4],
    )
    shifts = shifts_from_frame(
        pd.DataFrame(
            [
                {"beat": "B11", "squad": "S1", "weekdays": "1-7", "start": "08:00", "end": "18:00"},
                {"beat": "B21", "squad": "S1", "weekdays": "1-7", "start": "17:00", "end": "22:00"},
                {"beat": "B02", "squad": "S2", "weekdays": "1-7", "start": "06:00", "end": "23:00"},
                {"beat": "B01", "squad": "S1", "weekdays": "1-7", "start": "06:00", "end": "07:00"},
            ]
        )
    )
    gaps = site_duty_coverage(
        {"stall_sites": sites},
        index,
        shifts,
        start=dt.datetime(2026, 12, 1, tzinfo=TZ),
        end=dt.datetime(2026, 12, 2, tzinfo=TZ),
    )
    assert {g["id"] for g in gaps} == {3}
    from geo_service.coverage import _site_beats

    assert _site_beats(to_metric(sites.geometry.to_numpy()), index) == {0: {"B11", "B21"}, 1: {"B02"}}
    assert [g["hour"][11:16] for g in gaps] == ["06:00", "07:00", "22:00"]
    assert gaps[0]["beats"] == ["B11", "B21"]
    assert gaps[0]["reason_zh"] == "所在网格此时（或此小时内部分时间）无人值班"
    assert gaps[0]["reason_en"].startswith("nobody is on duty")


def test_an_hour_uncovered_for_part_of_it_is_listed():
    """helper-21: each hour was checked at its start only, so a shift ending at 11:30 left its site's
    11:00 hour looking covered (a shift starting at 14:30 did list its 14:00 hour). Every shift change
    within an hour is checked too."""
    index = BeatIndex.build(grid_beats())
    sites = gpd.GeoDataFrame(
        {"name": ["甲"], "hours": ["09:00-16:00"], "status": ["open"]},
        geometry=[shapely.Point(*ll(150, 50))],  # in B01
        crs=4326,
        index=[3],
    )
    shifts = shifts_from_frame(
        pd.DataFrame(
            [
                {"beat": "B01", "squad": "S1", "weekdays": "1-7", "start": "08:00", "end": "11:30"},
                {"beat": "B01", "squad": "S2", "weekdays": "1-7", "start": "12:00", "end": "14:00"},
                {"beat": "B01", "squad": "S3", "weekdays": "1-7", "start": "14:30", "end": "18:00"},
                {
                    "beat": "B00",
                    "squad": "S0",
                    "weekdays": "1-7",
                    "start": "10:45",
                    "end": "10:50",
                },  # elsewhere
            ]
        )
    )
    gaps = site_duty_coverage(
        {"stall_sites": sites},
        index,
        shifts,
        start=dt.datetime(2026, 12, 1, tzinfo=TZ),
        end=dt.datetime(2026, 12, 2, tzinfo=TZ),
    )
    assert [g["hour"][11:16] for g in gaps] == ["11:00", "14:00"]
    # the same window from 10:00 Beijing given in UTC: the roster's hours are Beijing's (helper-24)
    utc = site_duty_coverage(
        {"stall_sites": sites},
        index,
        shifts,
        start=dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC),
        end=dt.datetime(2026, 12, 2, tzinfo=TZ),
    )
    assert [g["hour"][11:16] for g in utc] == ["11:00", "14:00"]


def test_walking_coverage_and_what_if():
    net = build_network(grid_roads(n=4), mode="walk")
    demand = gpd.GeoDataFrame(
        {"population": [100, 200, 300]},
        geometry=[shapely.Point(*ll(x, y)) for x, y in [(10, 0), (300, 300), (150, 0)]],
        crs=4326,
    )
    sites = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(*ll(0, 0))], crs=4326, index=[1])
    cov = walking_coverage(net, sites.geometry, demand, max_walk_m=200)
    assert cov.served_population == 400
    assert cov.total_population == 600
    assert cov.distance_m[2] == pytest.approx(150, abs=0.1)
    assert cov.clusters[0]["population"] == 200
    assert cov.site_population.tolist() == [400]  # the site's own served people
    change = what_if(net, sites, demand, add=[shapely.Point(*ll(300, 250))], max_walk_m=200)
    assert change["change"] == 200
    moved = what_if(net, sites, demand, move={1: shapely.Point(*ll(300, 300))}, max_walk_m=200)
    assert moved["after"] == 200


def test_demo_who_covers_and_coverage(demo_ws):
    from geo_service.contexts import coverage_context

    ctx = coverage_context(demo_ws)
    jf = demo_ws.frame("roads").query("name == '解放西路'").geometry.iloc[0].interpolate(0.5, normalized=True)
    ans = who_covers(
        jf.x,
        jf.y,
        dt.datetime(2026, 12, 1, 10, tzinfo=TZ),
        beats=ctx.beats,
        shifts=ctx.shifts,
        districts=demo_ws.frame("districts"),
        network=ctx.walk,
        stall_sites=demo_ws.frame("stall_sites"),
        festival_points=demo_ws.frame("festival_sales_points"),
    )
    assert ans.district == "中站区"
    assert ans.on_duty
    cov = beat_coverage(demo_ws.frame("patrol_beats"), ctx.shifts, demo_ws.frame("districts"))
    assert cov.gaps
    assert cov.overlaps
    # helper-76: the 500 m² overlap of ZZ-01 and ZZ-02 (a 25 × 20 m rectangle) came with a spike of no
    # width a kilometre long along an edge the two beats share
    (zz,) = [o for o in cov.overlaps if o["beats"] == ["ZZ-01", "ZZ-02"]]
    shape = to_metric(np.array([zz["geometry"]], dtype=object))[0]
    assert zz["area_m2"] == pytest.approx(500, abs=0.5)
    assert shape.length == pytest.approx(90, abs=0.1)
    assert all(shapely.get_num_coordinates(g["geometry"]) < 5000 for g in cov.gaps)


def _random_beats(rng: np.random.Generator) -> gpd.GeoDataFrame:
    """60 random polygon beats over 3 km (overlapping, with gaps) and two road beats across them."""
    polys = [
        shapely.Polygon(np.column_stack([OX + cx + r * np.cos(a), OY + cy + r * np.sin(a)]))
        for cx, cy, r in rng.uniform([0, 0, 150], [3000, 3000, 600], (60, 3))
        for a in [np.sort(rng.uniform(0, 2 * np.pi, 12))]
    ]
    polys = [p if p.is_valid else p.convex_hull for p in polys]
    roads = [
        shapely.LineString([(OX - 100, OY + 1500), (OX + 3100, OY + 1700)]),
        shapely.LineString([(OX + 700, OY - 100), (OX + 800, OY + 3100)]),
    ]
    return gpd.GeoDataFrame(
        {
            "code": [f"B{i}" for i in range(62)],
            "name": "b",
            "squad": "s",
            "district": "d",
            "buffer_m": [25.0] * 60 + [40.0, 15.0],
        },
        geometry=m2ll(polys + roads),
        crs=4326,
    )


def test_interior_grid_gives_the_exact_answer_on_many_points(monkeypatch):
    from geo_service.coverage import membership

    monkeypatch.setattr(membership, "_GRID_CELLS", 1e5)  # a coarser grid: the same logic, a faster test
    rng = np.random.default_rng(3)
    index = BeatIndex.build(_random_beats(rng))
    xy = np.column_stack([OX + rng.uniform(-200, 3200, 120_000), OY + rng.uniform(-200, 3200, 120_000)])
    # points on beat vertices and edges, where "intersects" and "contains" differ
    on_edges = shapely.get_coordinates(shapely.segmentize(index.geoms[:60], 7.0))
    xy = np.vstack([xy, on_edges])
    pts = shapely.points(xy)
    p, b = assign_points_to_beats(xy, index)
    cells = index.interior_grid()["cells"]
    assert (cells >= 0).sum() > 1000
    assert (cells == -2).sum() > 1000
    q, c = index.tree.query(pts, predicate="dwithin", distance=40.0)  # brute force over the candidates
    d = shapely.distance(pts[q], index.geoms[c])
    member = np.where(index.is_line[c], d <= index.reach[c], shapely.intersects(index.geoms[c], pts[q]))
    expected = set(zip(q[member].tolist(), c[member].tolist(), strict=True))
    assert set(zip(p.tolist(), b.tolist(), strict=True)) == expected
    assert len(p) == len(expected)
    assert np.all(np.diff(p) >= 0)
    small_p, small_b = assign_points_to_beats(pts[:5000], index)  # the STRtree path, points as geometries
    assert set(zip(small_p.tolist(), small_b.tolist(), strict=True)) == {e for e in expected if e[0] < 5000}


def _cell_oracle(polys, x0, y0, size, state, ptr, cand):
    """Each cell (lower-left corners ``x0``, ``y0``) against GEOS: a cell given one polygon lies in
    that polygon's interior and meets no other; a cell given none meets none; a cell to be tested lists
    every polygon it meets. Returns how many cells GEOS itself could not give one polygon or none."""
    boxes = shapely.box(x0, y0, x0 + size, y0 + size)
    c, k = shapely.STRtree(polys).query(boxes, predicate="intersects")
    meets = np.bincount(c, minlength=len(boxes))
    one = state >= 0
    assert np.array_equal(meets[one], np.ones(one.sum()))
    assert shapely.contains_properly(polys[state[one]], boxes[one]).all()
    assert meets[state == -1].sum() == 0
    tested = state[c] == -2
    listed = {(int(i), int(b)) for i in np.flatnonzero(state == -2) for b in cand[ptr[i] : ptr[i + 1]]}
    assert set(zip(c[tested].tolist(), k[tested].tolist(), strict=True)) <= listed
    lone = np.flatnonzero(meets == 1)
    holds = np.zeros(len(boxes), dtype=bool)
    holds[lone] = shapely.contains_properly(polys[k[np.searchsorted(c, lone)]], boxes[lone])
    return int(((meets > 0) & ~holds).sum())


def test_beat_grid_cells_agree_with_geos():
    """The grid the batch look-up reads (:mod:`geo_service.coverage.cell_grid`), cell by cell against
    GEOS, on overlapping polygons with holes and in two parts, at both levels (cells and the quarters
    of the edge cells)."""
    from geo_service.coverage.cell_grid import classify, edges_of, near

    rng = np.random.default_rng(11)
    polys = []
    for cx, cy, r in rng.uniform([0, 0, 60], [1000, 1000, 250], (30, 3)):
        a = np.sort(rng.uniform(0, 2 * np.pi, 10))
        p = shapely.Polygon(np.column_stack([cx + r * np.cos(a), cy + r * np.sin(a)]))
        p = p if p.is_valid else p.convex_hull
        if rng.random() < 0.3:  # a hole
            p = p.difference(shapely.Point(cx, cy).buffer(r / 4, quad_segs=3))
        if rng.random() < 0.3:  # a second part beside it
            p = shapely.union(p, shapely.box(cx + r + 20, cy, cx + r + 60, cy + 35))
        polys.append(p)
    polys = np.array(polys, dtype=object)
    assert any(len(shapely.get_rings(p)) > 1 for p in polys)
    assert (shapely.get_type_id(polys) == 6).any()
    (minx, miny, maxx, maxy), size = shapely.total_bounds(polys), 9.0
    nx, ny = int((maxx - minx) // size) + 1, int((maxy - miny) // size) + 1
    edges = edges_of(polys)
    state, ptr, cand = classify(edges, (minx, miny), size, (ny, nx), np.arange(ny * nx), 1)
    row, col = np.divmod(np.arange(ny * nx), nx)
    x0, y0 = minx + col * size, miny + row * size
    unsure = _cell_oracle(polys, x0, y0, size, state, ptr, cand)
    assert (state >= 0).sum() > 3000
    assert (state == -2).sum() < 1.3 * unsure  # (marking every cell near an edge would fail this)
    edge = np.flatnonzero(state == -2)
    rank = np.full(len(state), -1, dtype=np.int64)
    rank[edge] = np.arange(len(edge))
    sub_state, sub_ptr, sub_cand = classify(edges, (minx, miny), size, (ny, nx), rank, 4)
    quarter = np.arange(len(edge) * 16)
    sy, sx = np.divmod(quarter % 16, 4)
    sub_x0, sub_y0 = x0[edge[quarter // 16]] + sx * size / 4, y0[edge[quarter // 16]] + sy * size / 4
    sub_unsure = _cell_oracle(polys, sub_x0, sub_y0, size / 4, sub_state, sub_ptr, sub_cand)
    assert (sub_state >= 0).sum() > 5000
    assert (sub_state == -1).sum() > 2000
    assert (sub_state == -2).sum() < 1.3 * sub_unsure
    # the cells a line comes within 25 m of, against GEOS' distances
    lines = np.array([shapely.LineString([(minx - 30, miny + 100), (maxx, maxy - 80), (maxx - 300, maxy)])])
    marked = near(edges_of(lines), (minx, miny), size, (ny, nx), 25.0)
    within = shapely.distance(shapely.box(x0, y0, x0 + size, y0 + size), lines[0]) <= 25.0
    assert marked[within].all()
    assert marked.sum() < 1.5 * within.sum()  # (a diagonal line's squares reach √2 as far at most)


def test_one_place_is_in_the_beats_a_batch_puts_it_in():
    """``BeatIndex.beats_at`` (who-covers asks for one place, from one tree query) against the batch
    answer, on random places, on the beats' vertices and edges, and beside the road beats."""
    index = BeatIndex.build(_random_beats(np.random.default_rng(5)))
    rng = np.random.default_rng(6)
    roads = index.geoms[index.is_line]
    xy = np.vstack(
        [
            np.column_stack([OX + rng.uniform(-200, 3200, 3000), OY + rng.uniform(-200, 3200, 3000)]),
            shapely.get_coordinates(shapely.segmentize(index.geoms[~index.is_line], 40.0)),
            # beside the roads: within the reach of both (40 m and 15 m), and of the first only
            shapely.get_coordinates(shapely.segmentize(shapely.offset_curve(roads, 14.0), 50.0)),
            shapely.get_coordinates(shapely.segmentize(shapely.offset_curve(roads, -30.0), 50.0)),
        ]
    )
    p, b = assign_points_to_beats(xy, index)
    split = np.searchsorted(p, np.arange(len(xy) + 1))
    got = [index.beats_at(x, y).tolist() for x, y in xy]
    assert got == [b[split[i] : split[i + 1]].tolist() for i in range(len(xy))]
    assert sum(map(len, got)) > len(xy) // 2  # (most places are in some beat)
    assert any(index.is_line[got[i]].any() for i in range(len(got)))
    # a layer of area beats only: the tree is asked for the beats touching the place
    areas = BeatIndex.build(_random_beats(np.random.default_rng(5)).iloc[:60])
    p, b = assign_points_to_beats(xy, areas)
    split = np.searchsorted(p, np.arange(len(xy) + 1))
    assert [areas.beats_at(x, y).tolist() for x, y in xy] == [
        b[split[i] : split[i + 1]].tolist() for i in range(len(xy))
    ]


def test_a_place_within_a_metre_of_a_site_is_at_it():
    """``SiteReach.at_site`` (the sites' bounds compared first) against the distance to every site: a
    place in a stall zone or within a metre of it or of a point site is at the nearest such site (0 m
    on foot); a place further off is at none."""
    rng = np.random.default_rng(8)
    corners = OX + rng.uniform(0, 300, (40, 2))
    corners[:, 1] += OY - OX
    sizes = rng.uniform(1, 15, (20, 2))
    shapes = [shapely.Point(x, y) for x, y in corners[:20]] + [
        shapely.box(x, y, x + w, y + h) for (x, y), (w, h) in zip(corners[20:], sizes, strict=True)
    ]
    sites = gpd.GeoDataFrame({"name": [f"点{i}" for i in range(40)]}, geometry=m2ll(shapes), crs=4326)
    reach = SiteReach.build(build_network(grid_roads(), mode="walk"), sites)
    metric = reach.shapes
    turn = rng.uniform(0, 2 * np.pi, (len(metric), 4))
    near = [  # half a metre, just inside and just outside a metre, and two metres out from each site's edge
        # (a box's ring runs anticlockwise: a negative offset is outside it)
        shapely.get_coordinates(shapely.offset_curve(shapely.boundary(g), -r).interpolate(t, normalized=True))
        if g.geom_type == "Polygon"
        else np.array([[g.x + r * np.cos(t), g.y + r * np.sin(t)]])
        for g, ts in zip(metric, turn, strict=True)
        for r, t in zip((0.5, 0.99, 1.01, 2.0), ts / (2 * np.pi), strict=True)
    ]
    places = np.vstack(
        [*near, np.column_stack([OX + rng.uniform(0, 315, 2000), OY + rng.uniform(0, 315, 2000)])]
    )
    got, expected = [], []
    for x, y in places:
        point = shapely.Point(x, y)
        d = shapely.distance(metric, point)
        expected.append(int(np.argmin(d)) if d.min() <= AT_SITE_M else None)
        got.append(reach.at_site(point))
    assert got == expected
    assert sum(k is not None for k in got) > 100
    assert sum(k is None for k in got[: len(near)]) > 40  # (the places 1.01 m and 2 m off)


def test_a_site_is_open_at_a_moment_as_its_windows_say():
    """``SiteReach.open_at`` (the day's windows worked out once per site and day) against
    :func:`open_windows` of the minute asked, for sites with day hours, split hours, a night market
    past midnight, a market from midnight, solar and lunar seasons, at random moments and at the edges: the last minute of a
    day, midnight, a window's start and end and a second either side."""
    sites = gpd.GeoDataFrame(
        {
            "name": ["日间", "两段", "夜市", "春节", "腊月夜市", "早市", "坏时段"],
            "hours": [
                "06:00-20:00",
                "06:00-11:00,15:00-20:00",
                "18:00-02:00",
                "07:00-22:00",
                "20:00-00:30",
                "00:00-06:00",
                "9点",
            ],
            "lunar_from": [None, None, None, "12-15", "12-01", None, None],
            "lunar_to": [None, None, None, "01-16", "12-30", None, None],
            "valid_from": [dt.date(2026, 1, 1), None, dt.date(2026, 12, 3), None, None, None, None],
            "valid_to": [None, None, dt.date(2026, 12, 20), None, None, None, None],
        },
        geometry=m2ll([shapely.Point(OX + 10 * i, OY + 5) for i in range(7)]),
        crs=4326,
    )
    reach = SiteReach.build(build_network(grid_roads(), mode="walk"), sites)
    rng = np.random.default_rng(9)
    shanghai = dt.timezone(dt.timedelta(hours=8))
    start = dt.datetime(2026, 11, 25, tzinfo=shanghai)
    moments = [start + dt.timedelta(seconds=float(s)) for s in rng.uniform(0, 120 * 86400, 3000)]
    for day in (dt.date(2026, 12, 2), dt.date(2026, 12, 3), dt.date(2026, 12, 20), dt.date(2027, 1, 22)):
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=shanghai)
        for minute in (0, 30, 120, 6 * 60, 11 * 60, 15 * 60, 18 * 60, 20 * 60, 22 * 60, 1439):
            for second in (-61, -60, -30, -1, 0, 1, 30, 59, 60):
                moments.append(midnight + dt.timedelta(minutes=minute, seconds=second))
    moments.append(dt.datetime(2026, 12, 3, 15, 59, 30, tzinfo=dt.UTC))  # (23:59:30 in Beijing)
    got, expected = [], []
    for at in moments:
        for k in range(6):
            timetable = {**reach.seasons[k], "hours": reach.hours[k]}
            expected.append(bool(open_windows(timetable, at, at + dt.timedelta(minutes=1))))
            got.append(reach.open_at(k, at))
    assert got == expected
    assert 0.1 < np.mean(got) < 0.9
    assert reach.open_at(6, moments[0]) is None  # hours that do not read: unknown


def test_week_by_hour_by_hand():
    from geo_service.coverage import beat_coverage_week

    shifts = SHIFTS + shifts_from_frame(
        pd.DataFrame([{"beat": "B22", "squad": "S2", "weekdays": "6-7", "start": "18:30", "end": "20:00"}])
    )
    week = beat_coverage_week(
        grid_beats(), shifts, DISTRICT, start=dt.date(2026, 11, 30), hours=168
    )  # a Monday
    assert len(week.hours) == 168
    assert week.hours[0]["hour"] == "2026-11-30T00:00:00+08:00"
    by_hour = {h["hour"][:13]: h for h in week.hours}
    figures = {(f["hour"][:13], f["district"]): f for f in week.figures()}
    # 08:00-18:00 every day: the nine squares (minus the hole and the sliver, plus the 10 m overlap)
    assert figures[("2026-11-30T09", "甲区")]["uncovered_m2"] == pytest.approx(700, rel=1e-3)
    assert figures[("2026-11-30T09", "甲区")]["double_covered_m2"] == pytest.approx(1000, rel=1e-3)
    # 19:00-23:00 only B00 of the areas (and the road beat R1 until 22:00); 02:00 nobody
    assert by_hour["2026-11-30T20"]["on_duty"] == ["B00", "R1"]
    assert by_hour["2026-11-30T22"]["on_duty"] == ["B00"]
    assert figures[("2026-11-30T20", "甲区")]["covered_m2"] == pytest.approx(110 * 100, rel=1e-3)
    assert figures[("2026-11-30T02", "甲区")]["uncovered_m2"] == pytest.approx(300 * 300, rel=1e-3)
    # Saturday 18:00-19:00: B22 starts at 18:30, so it covers only part of the hour
    sat = by_hour["2026-12-05T18"]
    assert sat["partly"] == ["B22"]
    assert "B22" not in sat["on_duty"]
    assert by_hour["2026-12-05T19"]["on_duty"] == ["B00", "B22", "R1"]
    # each distinct set of beats on duty is checked once, not 168 times
    assert len(week.configurations) == len({frozenset(h["on_duty"]) for h in week.hours}) == 6


def test_edges_that_do_not_match_their_neighbours_by_hand():
    """Five pairs of 100 m beats side by side, 300 m apart: one sharing its edge exactly, one with a
    wedge of no-man's-land (0 to 4 m wide, the beats still touching at one corner), one with a wedge
    only 6 cm wide, one whose edge runs 1 m into its neighbour, one 10 m into it (a real overlap, not a
    mismatched edge). Three beats meeting at a T are exact too."""
    pairs = {
        "exact": (0.0, 0.0, 0.0),
        "wedge": (0.0, -4.0, 0.0),  # the left beat's right edge: x offsets at the bottom and top
        "hair": (0.0, -0.06, 0.0),
        "sliver": (1.0, 1.0, 0.0),
        "overlap": (10.0, 10.0, 0.0),
    }
    rows, geoms = [], []
    for k, (name, (bottom, top, _)) in enumerate(pairs.items()):
        x0 = OX + k * 300.0
        left = shapely.Polygon(
            [(x0, OY), (x0 + 100 + bottom, OY), (x0 + 100 + top, OY + 100), (x0, OY + 100)]
        )
        right = shapely.box(x0 + 100, OY, x0 + 200, OY + 100)
        rows += [{"code": f"{name}-L"}, {"code": f"{name}-R"}]
        geoms += [left, right]
    # a T: two beats under one long one
    t0 = OX + 1500.0
    geoms += [
        shapely.box(t0, OY, t0 + 100, OY + 100),
        shapely.box(t0 + 100, OY, t0 + 200, OY + 100),
        shapely.box(t0, OY + 100, t0 + 200, OY + 200),
    ]
    rows += [{"code": "T1"}, {"code": "T2"}, {"code": "T3"}]
    beats = gpd.GeoDataFrame(rows, geometry=m2ll(geoms), crs=4326)
    district = gpd.GeoDataFrame(
        {"name": ["甲区"]}, geometry=m2ll([shapely.box(OX, OY, OX + 1800, OY + 300)]), crs=4326
    )
    cov = beat_coverage(beats, (), district)
    found = {tuple(m["beats"]): m for m in cov.mismatches}
    assert set(found) == {("wedge-L", "wedge-R"), ("hair-L", "hair-R"), ("sliver-L", "sliver-R")}
    assert found[("wedge-L", "wedge-R")]["kind"] == "gap"
    assert found[("wedge-L", "wedge-R")]["area_m2"] == pytest.approx(200, rel=1e-3)  # ½ × 4 m × 100 m
    assert found[("hair-L", "hair-R")]["area_m2"] == pytest.approx(3, rel=1e-2)
    assert found[("sliver-L", "sliver-R")]["kind"] == "overlap"
    assert found[("sliver-L", "sliver-R")]["area_m2"] == pytest.approx(100, rel=1e-3)
    assert found[("sliver-L", "sliver-R")]["length_m"] == pytest.approx(101, abs=1)
    # the 10 m overlap is an overlap, not an edge that missed
    assert any(o["beats"] == ["overlap-L", "overlap-R"] for o in cov.overlaps)
    # the hand-made 3x3 grid: B22 is 3 m short of the district edge (a gap, no neighbour on that side),
    # B00 runs 10 m into B01 (an overlap): no edge mismatches
    assert beat_coverage(grid_beats(), SHIFTS, DISTRICT).mismatches == ()


def test_a_tilted_t_junction_is_no_mismatch():
    """helper-37: on the demo layer six 'mismatches' of ~25 m² were reported where two beats' shared
    corner lies on a third beat's straight edge (a T), the edges not axis-aligned: the strip past the end
    of the shared edge lies inside the third beat, and the two edges on one line met in a film of
    rounding, reported as an overlap. A real wedge of no-man's-land at such a T is still found."""
    import shapely.affinity as affine

    def tilted(gap: float) -> gpd.GeoDataFrame:
        boxes = [
            shapely.box(OX, OY, OX + 100, OY + 100),
            shapely.box(OX + 100, OY, OX + 200, OY + 100),
            shapely.Polygon(
                [(OX, OY + 100 + gap), (OX + 200, OY + 100), (OX + 200, OY + 200), (OX, OY + 200)]
            ),
        ]
        geoms = [affine.rotate(b, 23.0, origin=(OX, OY)) for b in boxes]
        return gpd.GeoDataFrame({"code": ["T1", "T2", "T3"]}, geometry=m2ll(geoms), crs=4326)

    district = gpd.GeoDataFrame(
        {"name": ["甲区"]}, geometry=m2ll([shapely.box(OX - 300, OY - 300, OX + 300, OY + 300)]), crs=4326
    )
    assert beat_coverage(tilted(0.0), (), district).mismatches == ()
    found = beat_coverage(tilted(4.0), (), district).mismatches
    # T3's lower edge rises 4 m over T1 and T2's 200 m: a wedge of no-man's-land above each
    assert {tuple(m["beats"]): m["kind"] for m in found} == {("T1", "T3"): "gap", ("T2", "T3"): "gap"}
    # helper-62: whether edges match is the layer's drawing, not the hour's. With T3 off duty at 21:00
    # the exact T was reported as a gap between T1 and T2 (the strip past their shared edge lies in T3)
    shifts = shifts_from_frame(
        pd.DataFrame(
            [
                {"beat": b, "squad": "S", "weekdays": "1-7", "start": "08:00", "end": "23:00"}
                for b in ("T1", "T2")
            ]
            + [{"beat": "T3", "squad": "S", "weekdays": "1-7", "start": "08:00", "end": "18:00"}]
        )
    )
    night = dt.datetime(2026, 12, 1, 21, tzinfo=TZ)
    assert beat_coverage(tilted(0.0), shifts, district, at=night).mismatches == ()
    assert {tuple(m["beats"]) for m in beat_coverage(tilted(4.0), shifts, district, at=night).mismatches} == {
        ("T1", "T3"),
        ("T2", "T3"),
    }


def test_an_overlap_is_its_area_only():
    """helper-62: two beats sharing a 500 m² square and touching along a kilometre of edge gave a
    GeometryCollection overlap (the square, a spike, the whole shared edge as a line and points): a map
    drew the edge as overlap. Only the area is the overlap."""
    a = shapely.Polygon([(OX, OY), (OX + 1000, OY), (OX + 1000, OY + 100), (OX, OY + 100)])
    # b lies above a, sharing its top edge, and dips 20 m into it over 25 m
    b = shapely.Polygon(
        [
            (OX, OY + 100),
            (OX + 500, OY + 100),
            (OX + 500, OY + 80),
            (OX + 525, OY + 80),
            (OX + 525, OY + 100),
            (OX + 1000, OY + 100),
            (OX + 1000, OY + 200),
            (OX, OY + 200),
        ]
    )
    beats = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=m2ll([a, b]), crs=4326)
    district = gpd.GeoDataFrame(
        {"name": ["甲区"]}, geometry=m2ll([shapely.box(OX, OY, OX + 1000, OY + 200)]), crs=4326
    )
    (overlap,) = beat_coverage(beats, (), district).overlaps
    assert overlap["geometry"].geom_type == "Polygon"
    assert overlap["area_m2"] == pytest.approx(500, rel=1e-3)
    assert to_metric(np.array([overlap["geometry"]], dtype=object))[0].area == pytest.approx(500, rel=1e-3)


def test_unserved_clusters_stay_within_a_walk_of_their_centre():
    """helper-53: unserved homes 300 m apart chained into one group across the whole city (350,000
    people, 123 km²). A chain is cut until no group reaches further than the walk from its centre; every
    home is in exactly one group."""
    from geo_service.coverage import _clusters
    from geo_service.crs import to_metric

    rng = np.random.default_rng(3)
    # a 6 km line of homes 300 m apart, a 2 km square of homes 250 m apart, and a lone home far off
    line = np.column_stack([np.arange(0, 6000, 300.0), np.zeros(20)])
    gx, gy = np.meshgrid(np.arange(0, 2000, 250.0), np.arange(0, 2000, 250.0))
    square = np.column_stack([gx.ravel() + 10_000, gy.ravel() + 5000])
    xy = np.concatenate([line, square, [[30_000.0, 30_000.0]]]) + 500_000.0
    pts = shapely.points(xy)
    people = rng.integers(1, 100, len(xy))
    groups = _clusters(pts, people, radius_m=350.0, widest_m=500.0, crs="EPSG:4547")
    assert sum(g["points"] for g in groups) == len(xy)
    assert sum(g["population"] for g in groups) == people.sum()
    assert len(groups) > 3  # the line and the square are cut, the lone home is a group of its own
    for g in groups:
        hull = to_metric(np.array([g["geometry"]], dtype=object), "EPSG:4547")[0]
        centre = to_metric(np.array([shapely.Point(g["centre"])], dtype=object), "EPSG:4547")[0]
        far = max(shapely.Point(c).distance(centre) for c in hull.exterior.coords)
        assert far <= 500.0 + 175.0 + 1.0  # the walk, and the hull's half-radius margin
    lone = [g for g in groups if g["points"] == 1]
    assert len(lone) == 1

    # the groups depend on where the homes are, not on their order (helper-54: the median home went to
    # either side by the axis's sign)
    def shapes(order):
        got = _clusters(pts[order], people[order], radius_m=350.0, widest_m=500.0, crs="EPSG:4547")
        return sorted((g["points"], g["population"], tuple(g["centre"])) for g in got)

    assert shapes(np.arange(len(xy))) == shapes(np.arange(len(xy))[::-1]) == shapes(rng.permutation(len(xy)))
    three = shapely.points([(500_000.0, 3_900_000.0), (500_600.0, 3_900_000.0), (501_200.0, 3_900_000.0)])
    once = _clusters(three, np.array([1, 2, 4]), radius_m=700.0, widest_m=500.0, crs="EPSG:4547")
    again = _clusters(three[::-1], np.array([4, 2, 1]), radius_m=700.0, widest_m=500.0, crs="EPSG:4547")
    assert sorted(g["population"] for g in once) == sorted(g["population"] for g in again)
    # a home without a place is in no group, and the others keep their own people
    holes = np.array([shapely.Point(), *three], dtype=object)
    kept = _clusters(holes, np.array([100, 1, 2, 4]), radius_m=700.0, widest_m=5000.0, crs="EPSG:4547")
    assert [g["population"] for g in kept] == [7]
