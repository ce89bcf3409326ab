"""Service-area polygons read off the network's division of the ground (``street_cells``), checked
by hand and against distances GEOS measures to the streets reached and not reached."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo_service import reach
from geo_service.crs import from_metric
from geo_service.network import build_network
from geo_service.reach import service_areas
from geo_service.street_cells import outlines
from tests.test_reach import OX, OY, random_roads

WIDTH, HALF_SLICE = 40.0, 10.0
RADIUS = 1.001 * float(np.hypot(WIDTH, HALF_SLICE))


def roads(*lines) -> gpd.GeoDataFrame:
    geoms = [shapely.LineString([(OX + x, OY + y) for x, y in line]) for line in lines]
    return gpd.GeoDataFrame(
        {"walkable": True},
        index=np.arange(1, len(geoms) + 1),
        geometry=list(from_metric(np.array(geoms))),
        crs=4326,
    )


def at(*xy):
    return np.array([shapely.Point(OX + x, OY + y) for x, y in xy], dtype=object)


def test_a_straight_street_by_hand():
    """200 m of street cut into ten 20 m slices: a walk of 100 m from its start covers five of them,
    ends square at 100 m, and is round (the start node's disc) behind the site."""
    net = build_network(roads([(0, 0), (200, 0)]), mode="walk")
    for walk, end in ((100.0, 100.0), (95.0, 100.0), (85.0, 80.0), (131.0, 140.0)):
        poly = service_areas(net, at((0, 0)), max_cost=walk).polygons[0]
        assert poly.is_valid
        minx, miny, maxx, maxy = np.array(poly.bounds) - [OX, OY, OX, OY]
        assert maxx == pytest.approx(end, abs=0.01), walk  # within half a slice of the walk's end
        assert -RADIUS - 0.01 <= minx <= -WIDTH  # the round end, in 30° chords
        # the band's edge along the street is a straight chord at the width, not a row of scallops
        # (by a node its disc takes a quarter slice, and the first slice's chord leans out by a metre)
        for x, off in ((15.0, 1.0), (50.0, 0.05), (71.0, 0.05)):
            across = poly.intersection(shapely.LineString([(OX + x, OY - 100), (OX + x, OY + 100)]))
            assert np.array(across.bounds)[[1, 3]] - OY == pytest.approx([-WIDTH, WIDTH], abs=off)
        assert miny >= -RADIUS
        assert maxy <= RADIUS
        assert poly.contains(shapely.Point(OX + end - 1, OY + 39))
        assert not poly.contains(shapely.Point(OX + end + 1, OY))
    # both ways from the middle: 60 m each way, rounded to slice ends at 40 and 160
    poly = service_areas(net, at((100, 5)), max_cost=65.0).polygons[0]
    assert np.array(poly.bounds)[[0, 2]] - OX == pytest.approx([40.0, 160.0], abs=0.01)


def test_junctions_blocks_and_streets_not_reached():
    """A square of 300 m streets keeps its middle open; a 60 m block is covered whole; the street the
    walk does not reach is not drawn over, even where it runs 50 m beside a reached one."""
    square = [(0, 0), (300, 0), (300, 300), (0, 300), (0, 0)]
    small = [(0, 0), (-60, 0), (-60, 60), (0, 60)]
    aside = [(1000, 50), (1200, 50)]  # parallel to nothing reached... and one beside a reached street:
    beside = [(50, -50), (250, -50)]
    net = build_network(roads(square, small, aside, beside), mode="walk")
    areas = service_areas(net, at((150, 0)), max_cost=2000.0)
    poly = areas.polygons[0]
    assert poly.is_valid
    assert not poly.contains(shapely.Point(OX + 150, OY + 150))  # the middle of the wide block
    assert poly.contains(shapely.Point(OX + 150, OY + 260))  # its far side, reached round the square
    assert poly.contains(shapely.Point(OX - 30, OY + 30))  # the narrow block
    assert len(poly.geoms[0].interiors) == 1 if poly.geom_type == "MultiPolygon" else len(poly.interiors) == 1
    # the street 50 m south is not connected: the ground nearer to it than to the square's side is not
    # the walk's (a buffer of the reached streets would cover it down to 40 m)
    assert poly.contains(shapely.Point(OX + 150, OY - 20))
    assert not poly.contains(shapely.Point(OX + 150, OY - 30))
    assert not poly.intersects(shapely.Point(OX + 1100, OY + 50))


def _stretches(net, seg, a, b):
    keep = b - a > 1e-9
    if not keep.any():
        return shapely.MultiLineString()
    xy, offsets, _, _ = reach._prepared(net).geometry.pieces(seg[keep], a[keep], b[keep])
    return shapely.multilinestrings(
        shapely.from_ragged_array(shapely.GeometryType.LINESTRING, xy, (offsets,))
    )


def _complement(net, seg, a, b):
    """The parts of every street outside the stretches (seg, a, b)."""
    length = reach._prepared(net).geometry.along[reach._prepared(net).geometry.start[1:] - 1]
    out_seg, out_a, out_b = [], [], []
    for s in range(len(length)):
        here = np.flatnonzero(seg == s)
        pos = 0.0
        for i in here[np.argsort(a[here])]:
            if a[i] > pos:
                out_seg.append(s), out_a.append(pos), out_b.append(a[i])
            pos = max(pos, b[i])
        if pos < length[s]:
            out_seg.append(s), out_a.append(pos), out_b.append(length[s])
    return np.array(out_seg, dtype=int), np.array(out_a), np.array(out_b)


@pytest.mark.parametrize(("seed", "limit"), [(31, 400.0), (32, 700.0), (33, 1000.0)])
def test_polygons_are_the_ground_nearest_to_streets_reached(seed, limit):
    """The oracle: a place is the site's when the nearest street to it is reached and within 40 m.

    Measured with GEOS on the stretches the walk reached, with allowance for what the division
    approximates: a walk's end counts to the nearest slice end (±10 m), and the street points stand
    10 m apart (so a place is certainly nearer to a reached street's points only if it is nearer to the
    street by that much). Places closer than that to either call are not judged."""
    net = build_network(random_roads(seed, n=150, size=2500.0), mode="walk")
    geometry = reach._prepared(net).geometry
    length = geometry.along[geometry.start[1:] - 1]
    rng = np.random.default_rng(seed)
    sites = at(*rng.uniform(500, 2000, size=(4, 2)))
    areas = service_areas(net, sites, max_cost=limit)
    judged_in = judged_out = 0
    for i, poly in enumerate(areas.polygons):
        assert poly.is_valid
        mine = areas.site == i
        seg, a, b = areas.segment[mine], areas.start[mine], areas.stop[mine]
        cut_a, cut_b = a > 1e-6, b < length[seg] - 1e-6
        # the reached streets shortened and lengthened by half a slice where the walk ran out
        a_in, b_in = a + cut_a * HALF_SLICE, b - cut_b * HALF_SLICE
        a_out, b_out = np.maximum(a - cut_a * HALF_SLICE, 0), np.minimum(b + cut_b * HALF_SLICE, length[seg])
        reached_in, reached_out = _stretches(net, seg, a_in, b_in), _stretches(net, seg, a_out, b_out)
        unreached_in = _stretches(net, *_complement(net, seg, a_out, b_out))
        unreached_out = _stretches(net, *_complement(net, seg, a_in, b_in))
        x0, y0, x1, y1 = shapely.buffer(reached_out, 60).bounds
        p = shapely.points(rng.uniform(x0, x1, 4000), rng.uniform(y0, y1, 4000))
        d_in, d_out = shapely.distance(reached_in, p), shapely.distance(reached_out, p)
        other_in, other_out = shapely.distance(unreached_in, p), shapely.distance(unreached_out, p)
        sure_in = (d_in <= WIDTH - 2) & (np.hypot(d_in, HALF_SLICE) < other_out - 0.5)
        sure_out = (d_out > RADIUS + 0.5) | (np.hypot(other_in, HALF_SLICE) < d_out - 0.5)
        assert not (sure_in & sure_out).any()
        inside = shapely.contains(poly, p)
        assert inside[sure_in].all(), p[sure_in & ~inside][:3]
        assert not inside[sure_out].any(), p[sure_out & inside][:3]
        judged_in += sure_in.sum()
        judged_out += sure_out.sum()
    assert judged_in > 2000
    assert judged_out > 2000


def test_polygons_of_many_networks_are_valid_and_hold_their_streets():
    checked = 0
    for seed in range(5):
        for mode in ("walk", "drive"):
            net = build_network(random_roads(40 + seed, n=100, size=2000.0), mode=mode)
            rng = np.random.default_rng(seed)
            sites = at(*rng.uniform(0, 2000, size=(6, 2)))
            for limit in (150.0, 900.0) if mode == "walk" else (20.0, 90.0):
                areas = service_areas(net, sites, max_cost=limit)
                polys = areas.polygons
                assert shapely.is_valid(polys).all()
                for i, (poly, lines) in enumerate(zip(polys, areas.lines, strict=True)):
                    assert poly.is_empty == (i in areas.unreachable or lines.is_empty)
                    if lines.is_empty:
                        continue
                    # the middle of every line reached longer than a slice is inside, unless a street
                    # not reached passes nearer than a slice (one it crosses, or runs on beside)
                    mine = areas.site == i
                    others = _stretches(
                        net, *_complement(net, areas.segment[mine], areas.start[mine], areas.stop[mine])
                    )
                    long = [g for g in lines.geoms if g.length > 2 * HALF_SLICE + 1]
                    mids = shapely.line_interpolate_point(long, 0.5, normalized=True)
                    clear = shapely.distance(others, mids) > 2 * HALF_SLICE
                    assert shapely.contains(poly, mids[clear]).all()
                    checked += clear.sum()
    assert checked > 200


def test_polygons_from_threads_equal_one_by_one():
    """The division is made once (the first asker makes it, others wait); the outlines share nothing."""
    net = build_network(random_roads(50, n=150, size=2500.0), mode="walk")
    rng = np.random.default_rng(5)
    jobs = [at(*rng.uniform(300, 2200, size=(5, 2))) for _ in range(8)]

    def run(sites):
        return list(shapely.to_wkb(service_areas(net, sites, max_cost=600.0).polygons))

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(run, jobs))
    assert together == [run(job) for job in jobs]


def test_threads_share_one_preparation_of_a_network():
    """Threads asking for a fresh network's areas at once get one set of prepared arrays and one
    division of the ground (two would hold two copies: gigabytes while a city's is made)."""
    net = build_network(random_roads(51, n=120, size=2000.0), mode="walk")
    with ThreadPoolExecutor(6) as pool:
        prepared = list(pool.map(lambda _: reach._prepared(net), range(6)))
        cells = list(pool.map(lambda p: p.cells(40.0), prepared))
    assert all(p is prepared[0] for p in prepared)
    assert all(c is cells[0] for c in cells)


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_the_answer_does_not_depend_on_how_many_threads(mode):
    """Walked and outlined in ranges of the sites at once (``geo_service.parallel``), or all on one
    thread: per site the same stretches, lines and polygons, point for point."""
    net = build_network(random_roads(52, n=150, size=2500.0), mode=mode)
    rng = np.random.default_rng(7)
    # some sites far off the streets (unreachable), and two at one place
    sites = np.concatenate(
        [at(*rng.uniform(0, 2500, size=(9, 2))), at((9000, 9000), (1200, 1200), (1200, 1200))]
    )
    limit = 700.0 if mode == "walk" else 60.0
    one = service_areas(net, sites, max_cost=limit, threads=1)
    for threads in (2, 3, 12):
        many = service_areas(net, sites, max_cost=limit, threads=threads)
        assert many.unreachable == one.unreachable == (9,)
        for i in range(len(sites)):
            a, b = np.flatnonzero(one.site == i), np.flatnonzero(many.site == i)
            assert np.array_equal(one.segment[a], many.segment[b])
            assert np.array_equal(one.start[a], many.start[b])
            assert np.array_equal(one.stop[a], many.stop[b])
        assert list(shapely.to_wkb(many.lines)) == list(shapely.to_wkb(one.lines))
        assert list(shapely.to_wkb(many.polygons)) == list(shapely.to_wkb(one.polygons))
        # outlined by each range as soon as it has walked its sites: the same polygons
        eager = service_areas(net, sites, max_cost=limit, threads=threads, polygons=True)
        assert "polygons" in eager.__dict__
        assert list(shapely.to_wkb(eager.polygons)) == list(shapely.to_wkb(one.polygons))
        assert np.array_equal(eager.reached_m, one.reached_m)
    assert not one.polygons[10].is_empty
    assert one.polygons[10].equals(one.polygons[11])


def _division(net, **kw):
    from geo_service.street_cells import street_cells

    geometry = reach._prepared(net).geometry

    def along(street, metres):
        z = geometry._at(street, metres)
        return np.column_stack([z.real, z.imag])

    length = geometry.along[geometry.start[1:] - 1]
    return street_cells(
        net.node_xy, net.seg_u, net.seg_v, along, length, width=WIDTH, spacing=2 * HALF_SLICE, **kw
    )


def _grid(side, step):
    lines = [[(0, i * step), ((side - 1) * step, i * step)] for i in range(side)]
    lines += [[(i * step, 0), (i * step, (side - 1) * step)] for i in range(side)]
    # streets cut at every junction, as a city's are
    cut = []
    for (x0, y0), (x1, y1) in lines:
        n = round(max(abs(x1 - x0), abs(y1 - y0)) / step)
        cut += [
            [
                (x0 + (x1 - x0) * j / n, y0 + (y1 - y0) * j / n),
                (x0 + (x1 - x0) * (j + 1) / n, y0 + (y1 - y0) * (j + 1) / n),
            ]
            for j in range(n)
        ]
    return roads(*cut)


def _cell_polygons(cells):
    """Every cell as a shapely polygon (its edges' points in order, metres from the origin)."""
    e = cells.edge
    extra = np.diff(e[:, 3])  # per edge, the points after its first
    first = np.r_[0, np.cumsum(1 + extra)][:-1]
    xy = np.empty((len(first) + extra.sum(), 2))
    xy[first] = e[:-1, 1:3]
    rest = np.ones(len(xy), dtype=bool)
    rest[first] = False
    xy[rest] = cells.extra_xy[: rest.sum()]
    # each ring closed with its cell's first point
    cell_first = first[cells.edge_start[:-1]]
    cell_end = np.r_[first, len(xy)][cells.edge_start[1:]]
    closed = np.insert(xy, cell_end, xy[cell_first], axis=0) / 1000.0
    ring_ptr = np.r_[0, cell_end - cell_first + 1].cumsum()
    return shapely.from_ragged_array(
        shapely.GeometryType.POLYGON, closed, (ring_ptr, np.arange(len(cell_first) + 1))
    )


@pytest.mark.parametrize("kind", ["random", "grid"])
def test_the_division_in_tiles_gives_the_same_polygons(kind):
    """The ground is divided tile by tile (each tile's triangulation holding the points within twice
    the disc's radius of it): the polygons equal those of one tile. The grid has many points four on one
    circle, whose two triangles share a centre and are read as one vertex."""
    if kind == "grid":
        net = build_network(_grid(80, 80.0), mode="walk")
        sites = at((300, 300), (1520, 1130), (5900, 900), (60, 5980), (4000, 4500))
    else:
        net = build_network(random_roads(53, n=200, size=3000.0), mode="walk")
        sites = at(*np.random.default_rng(8).uniform(0, 3000, size=(8, 2)))
    areas = service_areas(net, sites, max_cost=500.0, threads=1)
    whole = _division(net, tile_points=10**9)
    tiled = _division(net, tile_points=300)
    assert len(tiled.street) == len(whole.street)
    args = (len(sites), areas.site, areas.segment, areas.start, areas.stop)
    a = outlines(whole, *args)
    b = outlines(tiled, *args)
    assert shapely.is_valid(a).all()
    assert shapely.is_valid(b).all()
    assert (shapely.area(a) > 0).sum() >= len(sites) - 1
    assert np.allclose(shapely.area(shapely.symmetric_difference(a, b)), 0.0, atol=1e-6)
    # every cell a simple polygon of positive area, in both
    for cells in (whole, tiled):
        polys = _cell_polygons(cells)
        assert len(polys) == len(cells.edge_start) - 1
        assert shapely.is_valid(polys).all(), shapely.is_valid_reason(polys[~shapely.is_valid(polys)][:3])
        assert (shapely.area(polys) > 0).all()


def test_eager_polygons_of_sites_that_reach_nothing_are_empty():
    net = build_network(random_roads(54, n=60, size=1500.0), mode="walk")
    far = at((9000, 9000), (-7000, 100), (9000, -9000))
    for threads in (1, 2):
        areas = service_areas(net, far, max_cost=500.0, threads=threads, polygons=True)
        assert areas.unreachable == (0, 1, 2)
        assert len(areas.polygons) == 3
        assert all(p.is_empty for p in areas.polygons)
    none = service_areas(net, far[:0], max_cost=500.0, polygons=True)
    assert len(none.polygons) == 0
    assert len(none.reached_m) == 0


def test_marks_left_by_a_site_255_sites_ago_are_not_taken_for_this_one():
    """Each site marks its cells with a number of its own (1 to 255) instead of clearing flags after
    it; after 255 sites the numbers start again, and every mark is cleared then. Site A is outlined
    with mark 1, a site far away 254 times, then site C, beside A, with mark 1 again: C's polygon is
    the one it has on fresh marks, with nothing of A's in it."""
    import dataclasses

    net = build_network(_grid(16, 80.0), mode="walk")
    cells = reach._prepared(net).cells(WIDTH)
    fresh = dataclasses.replace(cells, _spare=[])  # (the same cells, marks of its own)

    def outline(on, x, y, times=1):
        one = service_areas(net, at((x, y)), max_cost=250.0, threads=1)
        repeat = np.repeat(np.arange(times), len(one.site))
        stretches = (np.tile(one.segment, times), np.tile(one.start, times), np.tile(one.stop, times))
        return outlines(on, times, repeat, *stretches)[0]

    expected = outline(fresh, 520.0, 600.0)
    a = outline(cells, 300.0, 600.0)  # mark 1
    outline(cells, 1150.0, 1150.0, times=254)  # marks 2 to 255
    got = outline(cells, 520.0, 600.0)  # mark 1 again
    assert a.intersects(expected)  # (A's cells border C's)
    assert not a.within(expected)
    assert shapely.to_wkb(got) == shapely.to_wkb(expected)
