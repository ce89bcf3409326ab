"""The road network: walking and driving graphs from the roads layer, snapping and shortest paths,
on scipy sparse graphs (service areas and nearest sites: ``geo_service.reach``).

Points (sites, demand, cases) are snapped to the nearest street *segment* at the projected point,
and the graph is split there, so distances between two points on the same street are exact, not
rounded to the nearest junction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo_service.crs import to_metric
from geo_service.errors import InvalidInput
from geo_service.snapping import PieceGrid

__all__ = ["RoadNetwork", "Snap", "build_network", "network_distances", "snap", "snap_xy"]


@dataclass(frozen=True)
class RoadNetwork:
    """A directed street graph in a metric CRS.

    Segments (one per road feature) carry their end nodes; arcs are the directions a segment may be
    travelled (both for walking and two-way streets, one for one-way streets when driving). Weights
    are metres (``walk``) or seconds (``drive``).
    """

    mode: str
    crs: str
    node_xy: np.ndarray
    seg_road: np.ndarray  # road feature id per segment
    seg_geom: np.ndarray  # metric LineStrings, oriented u → v
    seg_u: np.ndarray
    seg_v: np.ndarray
    seg_len: np.ndarray  # metres
    seg_cost: np.ndarray  # weight of the whole segment (m or s)
    seg_twoway: np.ndarray
    graph: csr_matrix
    tree: shapely.STRtree

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)


@dataclass(frozen=True)
class Snap:
    """Where points meet the network: segment index, offset from the segment's start (m), distance (m)."""

    segment: np.ndarray
    offset: np.ndarray
    distance: np.ndarray


def build_network(
    roads: gpd.GeoDataFrame,
    *,
    mode: str = "walk",
    closed_road_ids: Iterable[int] = (),
    closed_points: gpd.GeoSeries | None = None,
    closure_radius_m: float = 15.0,
    crs: str = "EPSG:4547",
    weight: str | None = None,
) -> RoadNetwork:
    """Build the walking or driving graph of a roads layer (EPSG:4326, index = road id).

    Closed roads (their ``closed`` flag, ``closed_road_ids``, or within ``closure_radius_m`` of a
    closed bridge or flooded underpass in ``closed_points``) lose their arcs; non-walkable roads are
    left out of the walking graph; one-way streets keep one arc in the driving graph. Weights are metres
    for walking and seconds for driving, unless ``weight="length"`` asks for metres when driving too.
    """
    if mode not in ("walk", "drive"):
        raise InvalidInput(
            f"出行方式「{mode}」无效，应为 walk 或 drive",
            f"mode '{mode}' must be walk or drive",
            field="mode",
        )
    keep = np.ones(len(roads), dtype=bool)
    if "closed" in roads:
        keep &= ~roads["closed"].fillna(False).astype(bool).to_numpy()
    if mode == "walk" and "walkable" in roads:
        keep &= roads["walkable"].fillna(True).astype(bool).to_numpy()
    if mode == "drive" and "drivable" in roads:  # footways and steps from an OSM import
        keep &= roads["drivable"].fillna(True).astype(bool).to_numpy()
    closed = {int(i) for i in closed_road_ids}
    if closed:
        keep &= ~np.isin(roads.index.to_numpy(), list(closed))
    geoms = to_metric(roads.geometry.to_numpy(), crs)
    if closed_points is not None and len(closed_points):
        pts = to_metric(closed_points.to_numpy(), crs)
        near = shapely.STRtree(geoms).query(pts, predicate="dwithin", distance=closure_radius_m)[1]
        keep[np.unique(near)] = False
    geoms = geoms[keep]
    sub = roads.loc[keep]
    coords = shapely.get_coordinates(geoms)
    counts = shapely.get_num_coordinates(geoms)
    last = np.cumsum(counts) - 1
    first = last - counts + 1
    ends = np.vstack([coords[first], coords[last]])
    key = np.round(ends, 2)
    _, first_end, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    uniq = ends[first_end]  # ends within a centimetre are one node, placed where a street really ends
    inverse = inverse.ravel()
    n = len(geoms)
    seg_u, seg_v = inverse[:n], inverse[n:]
    # every street is made to end exactly on its nodes (it may have ended up to 1.4 cm off), so walking
    # on is continuous there: lengths, cut points and drawn lines agree, and no node lies further from
    # a site in a straight line than the walk to it
    coords[first], coords[last] = uniq[seg_u], uniq[seg_v]
    geoms = shapely.set_coordinates(np.array(geoms, dtype=object, copy=True), coords)
    length = shapely.length(geoms)
    if mode == "walk":
        cost = length
        twoway = np.ones(n, dtype=bool)
    else:
        speed = (
            sub["speed_kph"].fillna(30.0).to_numpy(dtype=float) if "speed_kph" in sub else np.full(n, 30.0)
        )
        cost = length if weight == "length" else length / (speed / 3.6)
        twoway = ~sub["oneway"].fillna(False).astype(bool).to_numpy() if "oneway" in sub else np.ones(n, bool)
    graph = _graph(len(uniq), seg_u, seg_v, cost, twoway)
    return RoadNetwork(
        mode=mode,
        crs=crs,
        node_xy=uniq,
        seg_road=sub.index.to_numpy(),
        seg_geom=geoms,
        seg_u=seg_u,
        seg_v=seg_v,
        seg_len=length,
        seg_cost=cost,
        seg_twoway=twoway,
        graph=graph,
        tree=shapely.STRtree(geoms),
    )


def _graph(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, twoway: np.ndarray) -> csr_matrix:
    """A csr graph keeping the cheapest of parallel arcs (a plain csr would add them up)."""
    src = np.concatenate([u, v[twoway]])
    dst = np.concatenate([v, u[twoway]])
    wt = np.concatenate([w, w[twoway]])
    ok = src != dst
    frame = pd.DataFrame({"s": src[ok], "d": dst[ok], "w": wt[ok]}).groupby(["s", "d"], sort=False)["w"].min()
    s, d = frame.index.get_level_values(0).to_numpy(), frame.index.get_level_values(1).to_numpy()
    # a zero-length street would vanish from a sparse matrix: keep it as a tiny positive weight
    return coo_matrix((np.maximum(frame.to_numpy(), 1e-9), (s, d)), shape=(n, n)).tocsr()


_GRID_FROM = 2_000  # points; fewer are answered sooner by GEOS's tree than by reading the grid


def snap(network: RoadNetwork, points_metric: np.ndarray, *, max_distance: float | None = None) -> Snap:
    """Snap metric points to the nearest segment (at the projected point). Unsnappable → segment -1.
    Of two streets equally near (to the last bits of a float), either may be taken."""
    pts = np.asarray(points_metric, dtype=object)
    if len(pts) >= _GRID_FROM:  # many points: the network's pieces in a grid, measured with numpy
        xy = np.full((len(pts), 2), np.nan)
        good = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
        xy[good] = np.column_stack([shapely.get_x(pts[good]), shapely.get_y(pts[good])])
        return snap_xy(network, xy, max_distance=max_distance)
    # the nearest street, then the ones too far dropped: GEOS's search bounded by a distance is slower
    idx, dist = network.tree.query_nearest(pts, return_distance=True, all_matches=False)
    if max_distance is not None:
        near = dist <= max_distance
        idx, dist = idx[:, near], dist[near]
    segment = np.full(len(pts), -1, dtype=np.int64)
    distance = np.full(len(pts), np.inf)
    segment[idx[0]] = idx[1]
    distance[idx[0]] = dist
    offset = np.zeros(len(pts))
    offset[idx[0]] = shapely.line_locate_point(network.seg_geom[idx[1]], pts[idx[0]])
    return Snap(segment, offset, distance)


def snap_xy(network: RoadNetwork, xy: np.ndarray, *, max_distance: float | None = None) -> Snap:
    """:func:`snap` for metric coordinates (n × 2; a row with NaN is not snapped), without making a
    shapely point of each."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) < _GRID_FROM:
        pts = shapely.points(xy)
        pts[~np.isfinite(xy).all(axis=1)] = None
        return snap(network, pts, max_distance=max_distance)
    good = np.flatnonzero(np.isfinite(xy).all(axis=1))
    segment = np.full(len(xy), -1, dtype=np.int64)
    offset, distance = np.zeros(len(xy)), np.full(len(xy), np.inf)
    segment[good], offset[good], distance[good] = _pieces(network).nearest(xy[good], max_distance)
    return Snap(segment, offset, distance)


def _pieces(network: RoadNetwork) -> PieceGrid:
    """The network's street pieces in a grid, built on first use and kept with the network."""
    grid = network.__dict__.get("_pieces")
    if grid is None:
        grid = PieceGrid(network.seg_geom, network.tree)
        object.__setattr__(network, "_pieces", grid)
    return grid


def _augment(network: RoadNetwork, snaps: Snap) -> tuple[csr_matrix, np.ndarray]:
    """The graph with a node inserted at every snapped point; returns (graph, node id per point)."""
    ok = snaps.segment >= 0
    pts = np.flatnonzero(ok)
    node_of = np.full(len(snaps.segment), -1, dtype=np.int64)
    if len(pts) == 0:
        return network.graph, node_of
    n0 = network.n_nodes
    node_of[pts] = n0 + np.arange(len(pts))
    seg = snaps.segment[pts]
    off = np.clip(snaps.offset[pts], 0, network.seg_len[seg])
    order = np.lexsort((off, seg))
    seg, off, ids = seg[order], off[order], node_of[pts][order]
    # chains u → p1 → … → pk → v along each segment that has points
    starts = np.r_[True, seg[1:] != seg[:-1]]
    ends = np.r_[seg[1:] != seg[:-1], True]
    prev_node = np.where(starts, network.seg_u[seg], np.r_[0, ids[:-1]])
    prev_off = np.where(starts, 0.0, np.r_[0.0, off[:-1]])
    scale = network.seg_cost[seg] / np.maximum(network.seg_len[seg], 1e-9)
    src = [prev_node, ids[ends]]
    dst = [ids, network.seg_v[seg[ends]]]
    w = [(off - prev_off) * scale, (network.seg_len[seg[ends]] - off[ends]) * scale[ends]]
    two = [network.seg_twoway[seg], network.seg_twoway[seg[ends]]]
    u = np.concatenate(src)
    v = np.concatenate(dst)
    wt = np.concatenate(w)
    tw = np.concatenate(two)
    g = network.graph.tocoo()
    n = n0 + len(pts)
    # every new arc touches an inserted node, so none duplicates an arc of the street graph or another new one
    all_u = np.concatenate([g.row, u, v[tw]])
    all_v = np.concatenate([g.col, v, u[tw]])
    all_w = np.concatenate([g.data, np.maximum(wt, 1e-9), np.maximum(wt[tw], 1e-9)])
    graph = coo_matrix((all_w, (all_u, all_v)), shape=(n, n)).tocsr()
    return graph, node_of


def network_distances(
    network: RoadNetwork, sources: Snap, targets: Snap, *, limit: float = np.inf, min_only: bool = False
) -> np.ndarray:
    """Network costs from each source point to each target point (``inf`` where unreachable).

    With ``min_only`` the result is one row: the cost from the nearest source to each target.
    """
    both = Snap(
        np.concatenate([sources.segment, targets.segment]),
        np.concatenate([sources.offset, targets.offset]),
        np.concatenate([sources.distance, targets.distance]),
    )
    graph, node_of = _augment(network, both)
    src_nodes = node_of[: len(sources.segment)]
    tgt_nodes = node_of[len(sources.segment) :]
    ok_src = src_nodes >= 0
    rows = 1 if min_only else len(src_nodes)
    out = np.full((rows, len(tgt_nodes)), np.inf)
    if not ok_src.any():
        return out
    dist = dijkstra(graph, directed=True, indices=src_nodes[ok_src], limit=limit, min_only=min_only)
    dist = np.atleast_2d(dist)
    ok_t = tgt_nodes >= 0
    if min_only:
        out[0, ok_t] = dist[0, tgt_nodes[ok_t]]
    else:
        out[np.ix_(np.flatnonzero(ok_src), np.flatnonzero(ok_t))] = dist[:, tgt_nodes[ok_t]]
    return out
