"""Service areas and nearest sites on random networks, checked against networkx and brute force."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
import shapely.ops

from geo_service import reach
from geo_service.crs import from_metric
from geo_service.network import build_network, network_distances, snap
from geo_service.reach import nearest_sites, service_areas

OX, OY = 500_000.0, 3_900_000.0


def random_roads(seed: int, n: int = 120, size: float = 2000.0, stray: bool = False) -> gpd.GeoDataFrame:
    """Streets between near neighbours, each with a bend, a third of them one-way; ``stray``: and one
    street 300 km away (digitised at a wrong place)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, size, size=(n, 2))
    edges = set()
    for i in range(n):
        for j in np.argsort(np.hypot(*(xy - xy[i]).T))[1:4]:
            edges.add((min(i, int(j)), max(i, int(j))))
    lines = []
    for a, b in sorted(edges):
        mid = (xy[a] + xy[b]) / 2 + rng.normal(0, 20, 2)
        lines.append(shapely.LineString([(OX + x, OY + y) for x, y in (xy[a], mid, xy[b])]))
    if stray:
        lines.append(shapely.LineString([(OX + 300_000, OY), (OX + 300_050, OY)]))
    return gpd.GeoDataFrame(
        {
            "oneway": rng.random(len(lines)) < 0.3,
            "speed_kph": rng.choice([20.0, 40.0], len(lines)),
            "walkable": True,
        },
        index=np.arange(1, len(lines) + 1),
        geometry=list(from_metric(np.asarray(lines, dtype=object))),
        crs=4326,
    )


def nx_graph(net) -> nx.DiGraph:
    g = nx.DiGraph()
    for s in range(len(net.seg_u)):
        u, v, w = int(net.seg_u[s]), int(net.seg_v[s]), float(net.seg_cost[s])
        for a, b in ((u, v), (v, u)) if net.seg_twoway[s] else ((u, v),):
            if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > w):
                g.add_edge(a, b, weight=w)
    return g


def reach_oracle(net, g: nx.DiGraph, site_snap, i: int, seg: int, at: float) -> float:
    """Cost from site ``i`` to the point ``at`` metres along segment ``seg``, by networkx; a walk
    counts the way from the site to its street."""
    s, off = int(site_snap.segment[i]), float(site_snap.offset[i])
    scale = net.seg_cost[s] / net.seg_len[s]
    start = {int(net.seg_v[s]): (net.seg_len[s] - off) * scale}
    if net.seg_twoway[s]:
        start[int(net.seg_u[s])] = min(start.get(int(net.seg_u[s]), np.inf), off * scale)
    g2 = g.copy()
    for node, w in start.items():
        g2.add_edge("site", node, weight=w)
    d = nx.single_source_dijkstra_path_length(g2, "site")
    k = net.seg_cost[seg] / net.seg_len[seg]
    best = d.get(int(net.seg_u[seg]), np.inf) + at * k
    if net.seg_twoway[seg]:
        best = min(best, d.get(int(net.seg_v[seg]), np.inf) + (net.seg_len[seg] - at) * k)
    if seg == s and (at >= off or net.seg_twoway[s]):
        best = min(best, abs(at - off) * k)
    return best + (float(site_snap.distance[i]) if net.mode == "walk" else 0.0)


@pytest.mark.parametrize(
    ("mode", "max_cost", "n", "size", "stray"),
    [
        ("walk", 600.0, 120, 2000.0, False),
        ("drive", 50.0, 120, 2000.0, False),
        ("walk", 450.0, 500, 3000.0, False),
        ("walk", 450.0, 500, 3000.0, True),  # and one street far off
    ],
)
def test_service_area_linework_equals_networkx_reach(mode, max_cost, n, size, stray):
    net = build_network(random_roads(7, n, size, stray), mode=mode)
    g = nx_graph(net)
    rng = np.random.default_rng(8)
    sites = shapely.points(OX + rng.uniform(200, size - 200, 5), OY + rng.uniform(200, size - 200, 5))
    areas = service_areas(net, sites, max_cost=max_cost)
    s_snap = snap(net, sites, max_distance=300)
    checked = 0
    for i in range(len(sites)):
        line = areas.lines[i]
        for seg in rng.choice(len(net.seg_u), 60, replace=False):
            for frac in (0.1, 0.37, 0.5, 0.81):
                at = frac * net.seg_len[seg]
                cost = reach_oracle(net, g, s_snap, i, int(seg), at)
                if abs(cost - max_cost) < 1e-3:
                    continue  # on the edge of the reach: either answer is right
                p = shapely.line_interpolate_point(net.seg_geom[seg], at)
                assert (line.distance(p) < 1e-6) == (cost < max_cost), (i, seg, frac, cost)
                checked += 1
    assert checked > 500
    # the length reached equals the linework's length (no stretch counted twice)
    assert np.allclose(areas.reached_m, shapely.length(areas.lines), rtol=1e-9, atol=1e-6)
    # (what the polygons hold is checked against GEOS's distances in test_street_cells)
    assert all(
        p.is_valid and not p.is_empty
        for p, line in zip(areas.polygons, areas.lines, strict=True)
        if not line.is_empty
    )


@pytest.mark.parametrize(("mode", "from_sites"), [("walk", False), ("drive", False), ("drive", True)])
def test_nearest_sites_equal_brute_force(mode, from_sites):
    net = build_network(random_roads(11), mode=mode)
    rng = np.random.default_rng(12)
    sites = shapely.points(OX + rng.uniform(0, 2000, 12), OY + rng.uniform(0, 2000, 12))
    field = nearest_sites(net, sites, from_sites=from_sites)
    pts = snap(
        net, shapely.points(OX + rng.uniform(0, 2000, 300), OY + rng.uniform(0, 2000, 300)), max_distance=500
    )
    cost, site = field.query(pts)
    s_snap = snap(net, sites, max_distance=500)
    # every point to every site (or, from_sites, every site to every point)
    brute = network_distances(net, s_snap, pts).T if from_sites else network_distances(net, pts, s_snap)
    if mode == "walk":
        brute = brute + s_snap.distance[None, :] + pts.distance[:, None]
    best = brute.min(axis=1)
    assert np.array_equal(np.isfinite(cost), np.isfinite(best))
    ok = np.isfinite(best)
    assert np.allclose(cost[ok], best[ok], rtol=1e-9, atol=1e-6)
    # the site named is one at that cost (ties may name either)
    assert np.allclose(brute[np.flatnonzero(ok), site[ok]], best[ok], rtol=1e-9, atol=1e-6)
    assert (site[~ok] == -1).all()


def test_parallel_streets_and_a_loop_are_each_walked_on_their_own():
    """Two streets between the same corners (a straight 100 m one and a bent 160 m one) and a 90 m loop
    at the far corner: the graph keeps only the cheaper of parallel arcs, but each street is reached
    as far as the walk gets along it. From A with 120 m: the straight street whole, the bent one 120 m
    from A and 20 m from B, the loop 20 m from each end."""
    a, b = (OX, OY), (OX + 100, OY)
    lines = [
        shapely.LineString([a, b]),
        shapely.LineString([a, (OX + 50, OY + 60), b]),  # 2 × 78.1 m
        shapely.LineString([b, (OX + 130, OY), (OX + 115, OY + 30), b]),  # the loop
    ]
    roads = gpd.GeoDataFrame(
        {"walkable": [True] * 3}, geometry=list(from_metric(np.asarray(lines, dtype=object))), crs=4326
    )
    net = build_network(roads, mode="walk")
    bent, loop = net.seg_len[1], net.seg_len[2]
    areas = service_areas(net, shapely.points([a]), max_cost=120.0)
    assert areas.reached_m[0] == pytest.approx(100 + 120 + 20 + 2 * 20, abs=1e-6)
    by_street = np.bincount(areas.segment, weights=areas.stop - areas.start, minlength=3)
    assert by_street == pytest.approx([100, 140, 40], abs=1e-6)
    assert bent > 140  # neither is reached whole
    assert loop > 40
    cut = areas.lines[0]
    gap = shapely.line_interpolate_point(net.seg_geom[1], 128.0)  # between 120 from A and 20 from B
    assert cut.distance(gap) > 5
    assert cut.length == pytest.approx(280, abs=1e-6)


def test_sites_off_the_network_are_unreachable_not_errors():
    net = build_network(random_roads(3), mode="walk")
    far = shapely.points([OX + 50_000, OX + 500], [OY, OY + 500])
    areas = service_areas(net, far, max_cost=300)
    assert areas.unreachable == (0,)
    assert areas.lines[0].is_empty
    assert areas.polygons[0].is_empty
    assert areas.reached_m[0] == 0
    assert areas.reached_m[1] > 0
    field = nearest_sites(net, far[:1])
    cost, site = field.query(snap(net, far[1:], max_distance=500))
    assert site[0] == -1
    assert np.isinf(cost[0])


def test_the_walk_to_the_street_counts():
    """A site 100 m off a straight 1 km street: within 100 m it reaches no street; within 150 m it reaches
    50 m either side of the foot of its path (helper-21: 200 m of street was drawn for a site a 100 m walk
    could not get out of). A drive starts on the street."""
    street = shapely.LineString([(OX, OY), (OX + 1000, OY)])
    roads = gpd.GeoDataFrame(
        {"walkable": [True], "drivable": [True]}, geometry=list(from_metric(np.array([street]))), crs=4326
    )
    site = shapely.points([(OX + 500, OY + 100)])
    walk = build_network(roads, mode="walk")
    assert service_areas(walk, site, max_cost=100.0).reached_m[0] == 0.0
    assert service_areas(walk, site, max_cost=99.0).lines[0].is_empty
    assert service_areas(walk, site, max_cost=150.0).reached_m[0] == pytest.approx(100.0, abs=1e-6)
    assert service_areas(walk, site, max_cost=700.0).reached_m[0] == pytest.approx(1000.0, abs=1e-6)
    drive = build_network(roads, mode="drive")  # 30 km/h: 12 s is 100 m along the street either way
    assert service_areas(drive, site, max_cost=12.0).reached_m[0] == pytest.approx(200.0, abs=1e-6)


def test_searches_in_several_threads_at_once_agree_with_one_at_a_time():
    """Searches share only the network's prepared arrays, which none of them writes: eight searches
    running at once on two networks, many times over, give what each gives alone."""
    from concurrent.futures import ThreadPoolExecutor

    nets = [
        build_network(random_roads(5, 300, 2500.0), mode="walk"),
        build_network(random_roads(6), mode="drive"),
    ]
    rng = np.random.default_rng(4)
    jobs = [
        (i % 2, shapely.points(OX + rng.uniform(0, 2000, 12), OY + rng.uniform(0, 2000, 12)), 200.0 + 50 * i)
        for i in range(16)
    ]

    def run(job: tuple) -> np.ndarray:
        which, sites, limit = job
        areas = service_areas(nets[which], sites, max_cost=limit / (10 if which else 1))
        return np.round(areas.reached_m, 6)

    alone = [run(job) for job in jobs]
    assert sum(float(r.sum()) for r in alone) > 0
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            assert all(np.array_equal(a, b) for a, b in zip(alone, pool.map(run, jobs), strict=True))


def test_pieces_equal_shapely_substrings():
    """Cutting many bent streets at once gives what GEOS's substring gives street by street, and the
    nodes the parts start and end on."""
    net = build_network(random_roads(3, 200, 2500.0), mode="walk")
    geometry = reach._prepared(net).geometry
    rng = np.random.default_rng(5)
    seg = rng.integers(0, len(net.seg_u), 400)
    length = net.seg_len[seg]
    a = np.where(rng.random(400) < 0.3, 0.0, rng.uniform(0, 0.6, 400) * length)
    b = np.where(rng.random(400) < 0.3, length, np.maximum(a, rng.uniform(0.4, 1.0, 400) * length))
    xy, offsets, start_node, end_node = geometry.pieces(seg, a, b)
    # a part from a street's start (end) starts (ends) on its node, one cut short of it on none
    assert np.array_equal(start_node, np.where(a == 0.0, net.seg_u[seg], -1))
    assert np.array_equal(end_node, np.where(b == length, net.seg_v[seg], -1))
    lines = shapely.linestrings(xy, indices=np.repeat(np.arange(len(seg)), np.diff(offsets)))
    for line, s, lo, hi in zip(lines, seg, a, b, strict=True):
        expected = shapely.ops.substring(net.seg_geom[s], lo, hi)
        assert line.length == pytest.approx(hi - lo, abs=1e-6)
        assert shapely.hausdorff_distance(line, expected) < 1e-6


def test_streets_merged_at_a_node_end_on_it_and_any_limit_is_answered():
    """Street ends within a centimetre are one node; each street is made to end on it, so a chain of
    10 m streets each ending 4.9 mm off the next one's start is walked as one line: the length reached,
    and the drawn linework agree (helper-18 found 2 m missing and the
    linework 0.5 m short). A huge or infinite limit reaches the whole network; NaN or below 0 is refused."""
    from geo_service.errors import InvalidInput

    lines = [shapely.LineString([(OX + 10 * i, OY), (OX + 10 * (i + 1) - 0.0049, OY)]) for i in range(600)]
    lines.append(
        shapely.LineString([(OX - 17, OY + 50), (OX - 17, OY + 60)])
    )  # a second piece of network, elsewhere
    roads = gpd.GeoDataFrame(
        {"walkable": [True] * len(lines)},
        geometry=list(from_metric(np.asarray(lines, dtype=object))),
        crs=4326,
    )
    net = build_network(roads, mode="walk")
    assert net.n_nodes == 603
    assert net.seg_len[:599] == pytest.approx(10.0, abs=1e-6)  # the last one ends on its own
    chain = float(net.seg_len[:600].sum())
    for max_cost in (4219.966, 1234.5, 2999.999, 6000.0, 1e22, np.inf):  # 2999.999: just short of a node
        areas = service_areas(net, shapely.points([(OX, OY)]), max_cost=max_cost)
        expected = min(max_cost, chain)  # a straight chain walked from its start
        assert areas.reached_m[0] == pytest.approx(expected, abs=1e-6), max_cost
        assert areas.lines[0].length == pytest.approx(expected, abs=1e-6), max_cost
    for bad in (np.nan, -1.0):
        with pytest.raises(InvalidInput):
            service_areas(net, shapely.points([(OX, OY)]), max_cost=bad)


def test_a_network_without_streets_reaches_nothing():
    """helper-51: a workspace whose roads are all filtered out made ``lines`` raise a shape mismatch."""
    roads = gpd.GeoDataFrame({"walkable": []}, geometry=[], crs=4326)
    net = build_network(roads, mode="walk")
    areas = service_areas(net, shapely.points([(OX, OY)]), max_cost=100.0)
    assert areas.unreachable == (0,)
    assert areas.reached_m.tolist() == [0.0]
    assert areas.lines[0].is_empty
    assert areas.polygons[0].is_empty
