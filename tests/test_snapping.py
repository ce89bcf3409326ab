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
