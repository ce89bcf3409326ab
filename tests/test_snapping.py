"""Snapping many points at once (the street pieces in a grid) against GEOS's nearest-line search and
``line_locate_point``, point by point."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo_service.network import _GRID_FROM, build_network, snap
from geo_service.snapping import PieceGrid
from tests.test_network import grid_roads


def _streets(rng: np.random.Generator) -> np.ndarray:
    """Bent streets of 2–12 vertices in clusters, a few long straight diagonals across everything (cut
    in parts by the grid), a very short one, and one far from the rest."""
    lines = []
    for cx, cy in rng.uniform(0, 5000, (6, 2)):
        for _ in range(60):
            k = int(rng.integers(2, 13))
            start = np.array([cx, cy]) + rng.normal(0, 400, 2)
            lines.append(shapely.LineString(start + np.cumsum(rng.normal(0, 60, (k, 2)), axis=0)))
    for _ in range(5):
        lines.append(shapely.LineString(rng.uniform(0, 5000, (2, 2))))
    lines.append(shapely.LineString([(2500, 2500), (2500.001, 2500.002)]))
    lines.append(shapely.LineString([(20_000, 20_000), (20_050, 20_010), (20_060, 20_090)]))
    return np.asarray(lines, dtype=object)


def _geos(lines: np.ndarray, pts: np.ndarray, max_distance: float | None):
    (i, k), d = shapely.STRtree(lines).query_nearest(
        pts, return_distance=True, all_matches=False, max_distance=max_distance
    )
    line, dist = np.full(len(pts), -1), np.full(len(pts), np.inf)
    line[i], dist[i] = k, d
    return line, dist


@pytest.mark.parametrize("max_distance", [None, 150.0])
def test_nearest_pieces_equal_geos(max_distance):
    rng = np.random.default_rng(8)
    lines = _streets(rng)
    grid = PieceGrid(lines)
    xy = np.vstack(
        [
            rng.uniform(-500, 5500, (20_000, 2)),  # near and far from the clusters
            rng.uniform(19_000, 21_000, (500, 2)),  # around the lone street
            shapely.get_coordinates(lines[:50])[::3],  # on vertices
        ]
    )
    pts = shapely.points(xy)
    line, along, dist = grid.nearest(xy, max_distance)
    ref_line, ref_dist = _geos(lines, pts, max_distance)
    assert np.array_equal(line >= 0, ref_line >= 0)
    ok = line >= 0
    assert (~ok).sum() > 100 if max_distance else ok.all()
    assert np.allclose(dist[ok], ref_dist[ok], rtol=0, atol=1e-9)
    # the distance to the line found, measured by GEOS, is the nearest distance (ties may pick either)
    assert np.allclose(shapely.distance(lines[line[ok]], pts[ok]), ref_dist[ok], rtol=0, atol=1e-9)
    # and the offset is where that line passes nearest the point
    assert np.allclose(along[ok], shapely.line_locate_point(lines[line[ok]], pts[ok]), rtol=0, atol=1e-5)
    assert np.all(along[~ok] == 0)
    assert np.all(np.isinf(dist[~ok]))


def test_snap_of_a_large_batch_equals_a_small_one():
    """``snap`` answers large batches from the grid and small ones from GEOS: the same answers, empty
    and missing points unsnapped in both."""
    net = build_network(grid_roads(n=12, step=90.0), mode="walk")
    rng = np.random.default_rng(3)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    xy = rng.uniform(lo - 300, hi + 300, (_GRID_FROM + 500, 2))
    pts = shapely.points(xy)
    pts[7], pts[11] = None, shapely.Point()
    big = snap(net, pts, max_distance=200)
    small = [snap(net, pts[i : i + 400], max_distance=200) for i in range(0, len(pts), 400)]
    seg = np.concatenate([s.segment for s in small])
    off = np.concatenate([s.offset for s in small])
    dist = np.concatenate([s.distance for s in small])
    assert big.segment[7] == big.segment[11] == -1
    assert np.array_equal(big.segment >= 0, seg >= 0)
    ok = seg >= 0
    assert np.allclose(big.distance[ok], dist[ok], rtol=0, atol=1e-9)
    # the same place on the network, whichever of the streets meeting there is named
    at_big = shapely.line_interpolate_point(net.seg_geom[big.segment[ok]], big.offset[ok])
    at_small = shapely.line_interpolate_point(net.seg_geom[seg[ok]], off[ok])
    assert np.allclose(shapely.get_coordinates(at_big), shapely.get_coordinates(at_small), rtol=0, atol=1e-5)
    same = ok & (big.segment == seg)
    assert same.sum() > 0.9 * ok.sum()
    assert np.allclose(big.offset[same], off[same], rtol=0, atol=1e-5)


def _street_grid(k: int, step: float, at: tuple[float, float] = (0.0, 0.0)) -> list[shapely.LineString]:
    x0, y0 = at
    east = [
        shapely.LineString([(x0 + i * step, y0 + j * step), (x0 + i * step + step, y0 + j * step)])
        for i in range(k)
        for j in range(k)
    ]
    north = [
        shapely.LineString([(x0 + i * step, y0 + j * step), (x0 + i * step, y0 + j * step + step)])
        for i in range(k)
        for j in range(k)
    ]
    return east + north


def _assert_exact(grid: PieceGrid, lines: np.ndarray, xy: np.ndarray) -> None:
    pts = shapely.points(xy)
    line, along, dist = grid.nearest(xy)
    _, ref_dist = _geos(lines, pts, None)
    assert np.allclose(dist, ref_dist, rtol=0, atol=1e-9)
    assert np.allclose(shapely.distance(lines[line], pts), ref_dist, rtol=0, atol=1e-9)
    assert np.allclose(along, shapely.line_locate_point(lines[line], pts), rtol=0, atol=1e-5)


@pytest.mark.parametrize("far", [30_000.0, 5_000_000.0])
def test_one_street_far_from_the_rest_keeps_the_cells_small(far):
    """A street digitised far from the city (a wrong coordinate) must not make the cells as large as
    the whole extent: the cells stay as without it, and points near either are still answered exactly."""
    city = _street_grid(60, 50.0)
    lines = np.asarray([*city, shapely.LineString([(far, far), (far + 10, far)])], dtype=object)
    grid = PieceGrid(lines)
    assert grid.size == pytest.approx(PieceGrid(np.asarray(city, dtype=object)).size, rel=0.05)
    assert np.diff(grid.ptr).max() <= 6  # pieces listed in the fullest cell
    rng = np.random.default_rng(4)
    xy = np.vstack([rng.uniform(-100, 3100, (6000, 2)), rng.uniform(far - 500, far + 500, (200, 2))])
    _assert_exact(grid, lines, xy)


def test_two_towns_far_apart_and_a_crowded_spot(monkeypatch):
    """Two street grids 80 km apart (the cells shrink to the towns' density) and 3,000 streets through
    one spot (measured a few points at a time): the same answers as GEOS."""
    import geo_service.snapping as snapping

    star = [
        shapely.LineString([(1500 + 40 * np.cos(t), 1500 + 40 * np.sin(t)), (1500, 1500)])
        for t in np.linspace(0, 2 * np.pi, 3000, endpoint=False)
    ]
    lines = np.asarray(
        [*_street_grid(40, 60.0), *_street_grid(40, 60.0, at=(80_000.0, 10_000.0)), *star], dtype=object
    )
    monkeypatch.setattr(snapping, "_MAX_PAIRS", 50_000)
    grid = PieceGrid(lines)
    assert 10 < grid.size < 80  # the towns' streets are 60 m apart (30 m for one town alone)
    crowded = np.flatnonzero(np.diff(grid.ptr) > 8)  # cells listing more than eight pieces: at the spot
    centres = grid.lo + (np.column_stack([crowded % grid.nx, crowded // grid.nx]) + 0.5) * grid.size
    assert len(crowded) > 0
    assert np.hypot(*(centres - 1500).T).max() < 100
    rng = np.random.default_rng(6)
    xy = np.vstack(
        [
            rng.uniform(-100, 2500, (4000, 2)),
            rng.uniform([79_900, 9_900], [82_500, 12_500], (4000, 2)),
            rng.normal(1500, 30, (500, 2)),  # at the crowded spot
        ]
    )
    _assert_exact(grid, lines, xy)


def test_multilines_have_no_piece_across_their_gaps():
    """A multi-line's parts are pieces; the gap between two parts is not (GEOS measures the same)."""
    lines = np.asarray(
        [
            shapely.MultiLineString([[(0, 0), (100, 0)], [(300, 0), (400, 0), (400, 50)]]),
            shapely.LineString([(0, 80), (400, 80)]),
        ],
        dtype=object,
    )
    grid = PieceGrid(lines)
    xy = np.array([[200.0, 5.0], [200.0, 60.0], [50.0, -3.0], [410.0, 40.0], [350.0, 1.0]])
    line = grid.nearest(xy)[0]
    assert line.tolist() == [1, 1, 0, 0, 0]  # (200, 5) lies 5 m from the gap, but 75 m from line 1
    _assert_exact(grid, lines, xy)


def test_streets_through_a_far_point_are_clipped_not_cut_into_thousands_of_parts():
    """Forty streets with a vertex digitised at (0, 0), 3,900 km from a city at EPSG:4547-like
    coordinates: only their stretch inside the grid is cut into parts, so the parts stay about as
    many as without them, and points in the city and along the long streets are answered exactly."""
    rng = np.random.default_rng(12)
    e, n = 500_000.0, 3_900_000.0
    start = rng.uniform([e, n], [e + 5000, n + 5000], (4000, 2))
    ends = start + rng.normal(0, 80, (4000, 2))
    coords = np.stack([start, (start + ends) / 2, ends], axis=1)
    coords[:40, 1] = 0.0  # the middle vertex at the origin
    lines = shapely.linestrings(coords)
    grid = PieceGrid(lines)
    assert not grid.whole
    assert len(grid.line) < 3 * 2 * len(lines)  # parts (two pieces a street)
    xy = np.vstack(
        [
            rng.uniform([e, n], [e + 5000, n + 5000], (5000, 2)),
            rng.uniform(0.2, 0.98, (300, 1)) * [[e, n]] + rng.normal(0, 50, (300, 2)),  # along a far stretch
        ]
    )
    _assert_exact(grid, lines, xy)


def test_a_campus_in_a_prefecture_and_streets_drawn_twice():
    """Many streets in one square kilometre and a few spread over 40 km: the grid covers the campus
    finely (the spread streets are the tree's); every street drawn eight times over: the cells do not
    shrink in vain. Both answered exactly."""
    rng = np.random.default_rng(13)

    def streets(count: int, side: float, at: float) -> np.ndarray:
        s = rng.uniform(at, at + side, (count, 2))
        return shapely.linestrings(
            np.stack([s, s + rng.normal(0, side / np.sqrt(count), (count, 2))], axis=1)
        )

    lines = np.concatenate([streets(20_000, 1000.0, 0.0), streets(2000, 40_000.0, -20_000.0)])
    grid = PieceGrid(lines)
    assert grid.size < 10
    xy = np.vstack([rng.uniform(0, 1000, (5000, 2)), rng.uniform(-20_000, 20_000, (1000, 2))])
    _assert_exact(grid, lines, xy)
    once = streets(3000, 5000.0, 0.0)
    lines = np.repeat(once, 8)
    grid = PieceGrid(lines)
    assert grid.size > 0.3 * PieceGrid(once).size  # √8 smaller for eight times the pieces, no less
    _assert_exact(grid, lines, rng.uniform(0, 5000, (3000, 2)))


def test_cell_size_for_points_along_a_line_and_on_one_spot():
    """Nodes along one 5,000 km road: cells as long as the nodes are apart (times the factor), not 1 m
    (five million cells); all points on one spot: 1 m; and never more cells than allowed."""
    from geo_service.arrays import cell_size

    x = np.linspace(0, 5e6, 5000)
    line = np.column_stack([x, np.full_like(x, 3.9e6)])
    assert cell_size(line, 3.0, crowded=18.0, most_cells=1 << 22) == pytest.approx(3000.0)
    assert cell_size(np.zeros((10, 2)), 3.0, crowded=18.0, most_cells=1 << 22) == 1.0
    far = np.array([[0.0, 0.0], [1e7, 1e7]])
    size = cell_size(far, 0.7, crowded=3.0, most_cells=1000)
    assert np.prod(1e7 // size + 1) <= 1000
