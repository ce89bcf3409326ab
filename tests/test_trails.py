"""Linework joined into trails: the same streets, in fewer lines (oracle: the unjoined stretches, edge
by edge)."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import shapely

from geo_service import reach
from geo_service.network import build_network
from geo_service.reach import service_areas
from geo_service.trails import trails
from tests.test_reach import random_roads


def _edges(geoms) -> Counter:
    """Each straight piece between consecutive vertices, either way round, counted."""
    out: Counter = Counter()
    for g in geoms:
        for part in shapely.get_parts(g):
            xy = [tuple(p) for p in shapely.get_coordinates(part)]
            out.update(tuple(sorted(pair)) for pair in itertools.pairwise(xy))
    return out


def test_trails_cover_exactly_the_reached_stretches_in_fewer_lines():
    """On random streets (bent ones, one-way ones, dead ends), each site's linework is the unjoined
    stretches' edges, each as often, and no more lines than stretches; on a grid far fewer."""
    from benchmarks.coverage_bench import grid_roads

    for seed, roads in ((31, random_roads(31, n=220, size=3000.0, stray=True)), (32, grid_roads(40, 80.0))):
        net = build_network(roads, mode="walk")
        rng = np.random.default_rng(seed)
        lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
        pts = shapely.points(rng.uniform(lo[0], hi[0], 6), rng.uniform(lo[1], hi[1], 6))
        areas = service_areas(net, pts, max_cost=900.0)
        lines = areas.lines
        geometry = reach._prepared(net).geometry
        for s in range(areas.n_sites):
            mine = areas.site == s
            xy, offsets, _, _ = geometry.pieces(areas.segment[mine], areas.start[mine], areas.stop[mine])
            stretches = [shapely.LineString(xy[a:b]) for a, b in itertools.pairwise(offsets)]
            assert _edges([lines[s]]) == _edges(stretches)
            assert shapely.get_num_geometries(lines[s]) <= max(len(stretches), 0)
            assert abs(lines[s].length - areas.reached_m[s]) < 1e-6 * max(areas.reached_m[s], 1.0)
        if seed == 32:  # a grid: whole streets through the junctions, not one line per block
            n_lines = shapely.get_num_geometries(lines).sum()
            assert n_lines * 5 < len(areas.segment)


def test_trails_by_hand():
    """Three stretches in a row and a branch: joined through the nodes, reversed where they run the
    other way; a stretch cut short (no node at its end) ends its trail; two sites kept apart."""
    # nodes 0—1—2 with stretch 1→2 given backwards (2→1), a branch 1→3, and a cut piece from node 2
    xy = np.array(
        [[0, 0], [1, 0], [2, 0], [1, 0], [1, 0], [1, 1], [2, 0], [2.5, 0], [0, 0], [0, 1]], dtype=float
    )
    offsets = np.array([0, 2, 4, 6, 8, 10])
    starts = np.array([0, 2, 1, 2, 0])
    ends = np.array([1, 1, 3, -1, 4])
    out, trail_offsets, site_offsets = trails(np.array([0, 4, 5]), starts, ends, 5, offsets, xy)
    assert site_offsets.tolist() == [0, 2, 3]
    lines = shapely.from_ragged_array(
        shapely.GeometryType.MULTILINESTRING, out, (trail_offsets, site_offsets)
    )
    assert _edges([lines[0]]) == _edges(
        [shapely.LineString(xy[a:b]) for a, b in itertools.pairwise(offsets[:5])]
    )
    assert shapely.get_num_geometries(lines[0]) == 2  # a junction of three: one line through, one branch
    assert lines[1].equals(shapely.MultiLineString([[(0, 0), (0, 1)]]))
    # an empty site: an empty MultiLineString
    out, trail_offsets, site_offsets = trails(np.array([0, 0]), starts[:0], ends[:0], 5, offsets[:1], xy[:0])
    assert site_offsets.tolist() == [0, 0]
