"""Road network: graphs, snapping and distances checked by hand and against networkx."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from geo_service.crs import from_metric, to_metric
from geo_service.network import build_network, network_distances, service_areas, snap

ORIGIN = to_metric([shapely.Point(113.24, 35.22)])[0]
OX, OY = ORIGIN.x, ORIGIN.y


def grid_roads(n: int = 4, step: float = 100.0, oneway: set[int] = frozenset(), **extra) -> gpd.GeoDataFrame:
    """A small n × n street grid in metres (converted to lon/lat), ids from 1."""
    lines, rows = [], []
    for i in range(n):
        for j in range(n - 1):
            lines.append(shapely.LineString([(OX + j * step, OY + i * step), (OX + (j + 1) * step, OY + i * step)]))
            lines.append(shapely.LineString([(OX + i * step, OY + j * step), (OX + i * step, OY + (j + 1) * step)]))
    for k in range(len(lines)):
        rows.append({"name": f"街{k}", "road_class": "branch", "oneway": (k + 1) in oneway, "speed_kph": 36.0,
                     "walkable": True, "closed": False, **extra})
    frame = gpd.GeoDataFrame(rows, geometry=list(from_metric(np.asarray(lines, dtype=object))), crs=4326)
    frame.index = np.arange(1, len(frame) + 1)
    return frame


def pts(*xy):
    return np.array([shapely.Point(OX + x, OY + y) for x, y in xy], dtype=object)


def test_grid_distances_by_hand():
    net = build_network(grid_roads(), mode="walk")
    assert net.n_nodes == 16 and len(net.seg_u) == 24
    s = snap(net, pts((50, 0)))
    t = snap(net, pts((250, 300), (60, 0), (0, 150)))
    d = network_distances(net, s, t)[0]
    assert d == pytest.approx([150 + 300 + 50, 10, 50 + 150], abs=0.05)


def test_snap_is_to_the_segment_not_the_node():
    net = build_network(grid_roads(), mode="walk")
    s = snap(net, pts((130, 8)))
    assert s.distance[0] == pytest.approx(8, abs=0.05)
    assert s.offset[0] == pytest.approx(30, abs=0.05)


def test_oneway_respected_when_driving_only():
    roads = grid_roads(n=2, step=100.0, oneway={1})  # segment 1 runs east along y=0
    walk = build_network(roads, mode="walk")
    drive = build_network(roads, mode="drive")
    a, b = snap(walk, pts((10, 0))), snap(walk, pts((90, 0)))
    assert network_distances(walk, b, a)[0, 0] == pytest.approx(80, abs=0.05)
    # driving west against the one-way street means going round the block: 10 + 100 + 100 + 100 + 10 m at 10 m/s
    back = network_distances(drive, snap(drive, pts((90, 0))), snap(drive, pts((10, 0))))[0, 0]
    assert back == pytest.approx((10 + 100 + 100 + 100 + 10) / 10, abs=0.01)
    fwd = network_distances(drive, snap(drive, pts((10, 0))), snap(drive, pts((90, 0))))[0, 0]
    assert fwd == pytest.approx(8.0, abs=0.01)


def test_closures_remove_edges():
    roads = grid_roads(n=2)
    net = build_network(roads, mode="walk", closed_road_ids=[1])
    d = network_distances(net, snap(net, pts((0, 50))), snap(net, pts((50, 0))), limit=1e9)[0, 0]
    assert np.isfinite(d)  # the snap goes to another street; 1 is not in the graph
    assert 1 not in set(net.seg_road)


def test_random_networks_match_networkx():
    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 2000, size=(60, 2))
    edges = set()
    for i in range(60):
        nearest = np.argsort(np.hypot(*(xy - xy[i]).T))[1:4]
        edges.update(tuple(sorted((i, int(j)))) for j in nearest)
    lines = [shapely.LineString([(OX + xy[a][0], OY + xy[a][1]), (OX + xy[b][0], OY + xy[b][1])]) for a, b in edges]
    roads = gpd.GeoDataFrame({"walkable": True}, index=range(len(lines)),
                             geometry=list(from_metric(np.asarray(lines, dtype=object))), crs=4326)
    net = build_network(roads, mode="walk")
    g = nx.Graph()
    for (a, b), line in zip(edges, to_metric(roads.geometry.to_numpy()), strict=True):
        w = line.length
        if g.has_edge(a, b):
            w = min(w, g[a][b]["weight"])
        g.add_edge(a, b, weight=w)
    src = [0, 7, 33]
    s = snap(net, pts(*[tuple(xy[i]) for i in src]))
    t = snap(net, pts(*[tuple(p) for p in xy]))
    d = network_distances(net, s, t)
    for r, i in enumerate(src):
        ref = nx.single_source_dijkstra_path_length(g, i, weight="weight")
        for j in range(60):
            expect = ref.get(j, np.inf)
            if np.isfinite(expect):
                assert d[r, j] == pytest.approx(expect, rel=1e-6, abs=1e-6)
            else:
                assert not np.isfinite(d[r, j])


def test_service_area_cuts_partial_segments():
    net = build_network(grid_roads(n=3), mode="walk")
    areas = service_areas(net, pts((0, 0)), max_cost=150)
    # from the corner: 100 m + 50 m along each of the two streets, and 50 m past each next junction
    assert areas.reached_m[0] == pytest.approx(150 + 150 + 50 + 50, abs=0.5)
    assert areas.polygons[0].contains(shapely.Point(OX + 140, OY))
    assert not areas.polygons[0].contains(shapely.Point(OX + 200, OY + 200))
    far = service_areas(net, pts((5000, 5000)), max_cost=150)
    assert far.unreachable == (0,)
