"""What a walk (or drive) from a set of sites reaches on the road network.

- ``service_areas``: per site, the street linework reachable within a cost, partial streets cut
  where the walk runs out, and optionally a polygon a little around it.
- ``NearestSites``: for every street node, the cost to the nearest site and which site it is; built
  once per version of the roads and the site layer, then any point's nearest site is a few array
  lookups (``who_covers`` asks it per request).

Both add the sites to the graph as extra nodes with arcs to the two ends of their street, appended
as new rows of the sparse matrix, so the million arcs of a city network are never rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo_service.arrays import ragged_positions
from geo_service.network import RoadNetwork, Snap, snap

__all__ = ["NearestSites", "ServiceAreas", "band", "nearest_sites", "service_areas"]


def _subgraph(graph: csr_matrix, nodes: np.ndarray) -> tuple[csr_matrix, np.ndarray]:
    """The graph induced by ``nodes`` (sorted), and each node's number in it (-1 when left out)."""
    local = np.full(graph.shape[0], -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    counts = graph.indptr[nodes + 1] - graph.indptr[nodes]
    at = ragged_positions(graph.indptr[nodes], counts)
    cols = local[graph.indices[at]]
    inside = cols >= 0
    kept = np.r_[0, np.cumsum(inside)]
    indptr = kept[np.r_[0, np.cumsum(counts)]]
    sub = csr_matrix((graph.data[at[inside]], cols[inside], indptr), shape=(len(nodes), len(nodes)))
    return sub, local


def _with_sources(
    graph: csr_matrix,
    network: RoadNetwork,
    snaps: Snap,
    ok: np.ndarray,
    *,
    reverse: bool = False,
    local: np.ndarray | None = None,
) -> csr_matrix:
    """``graph`` with one extra node per snapped point ``ok`` (numbered on from the graph's nodes, in
    order) whose only arcs lead to the ends of its street: to ``v`` always, to ``u`` on two-way
    streets. ``local`` numbers the network's nodes in ``graph`` when it is a subgraph (-1: left out).

    With ``reverse`` the graph is the transposed one (costs *to* the points): a point is left for
    ``u`` (coming from it forwards) always and for ``v`` only on two-way streets.
    """
    seg = snaps.segment[ok]
    scale = network.seg_cost[seg] / np.maximum(network.seg_len[seg], 1e-9)
    off = np.clip(snaps.offset[ok], 0, network.seg_len[seg])
    back = off * scale  # to u
    ahead = (network.seg_len[seg] - off) * scale  # to v
    two = network.seg_twoway[seg]
    if reverse:
        first, second, w1, w2 = network.seg_u[seg], network.seg_v[seg], back, ahead
    else:
        first, second, w1, w2 = network.seg_v[seg], network.seg_u[seg], ahead, back
    k = len(seg)
    cols = np.column_stack([first, second]).ravel()
    if local is not None:
        cols = local[cols]
    wts = np.column_stack([w1, w2]).ravel()
    keep = np.column_stack([np.ones(k, bool), two]).ravel() & (cols >= 0)
    counts = keep.reshape(k, 2).sum(axis=1)
    n = graph.shape[0]
    indptr = np.concatenate([graph.indptr, graph.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([graph.indices, cols[keep]]).astype(graph.indices.dtype)
    data = np.concatenate([graph.data, np.maximum(wts[keep], 1e-9)])
    return csr_matrix((data, indices, indptr), shape=(n + k, n + k))


@dataclass(frozen=True)
class ServiceAreas:
    """What the walk from each site reaches, as stretches of street (metres from each segment's start).

    The linework and the polygons (a ``buffer_m`` band around it) are built when first asked for:
    the GEOS buffer costs far more than the walk itself, and many questions (served population, street
    length reached) need neither.
    """

    network: RoadNetwork
    n_sites: int
    site: np.ndarray  # per stretch: index of the site
    segment: np.ndarray  # per stretch: segment index
    start: np.ndarray
    stop: np.ndarray
    unreachable: tuple[int, ...]  # sites with no street within reach
    buffer_m: float = 40.0

    @cached_property
    def reached_m(self) -> np.ndarray:
        """Street length reached per site (m)."""
        return np.bincount(self.site, weights=self.stop - self.start, minlength=self.n_sites)

    @cached_property
    def lines(self) -> np.ndarray:
        """One MultiLineString per site (metric CRS), partial streets cut where the walk runs out."""
        order = np.argsort(self.site, kind="stable")
        xy, part_offsets = _prepared(self.network).geometry.pieces(
            self.segment[order], self.start[order], self.stop[order]
        )
        site_offsets = np.r_[0, np.cumsum(np.bincount(self.site, minlength=self.n_sites))]
        return shapely.from_ragged_array(
            shapely.GeometryType.MULTILINESTRING, xy, (part_offsets, site_offsets)
        )

    @cached_property
    def polygons(self) -> np.ndarray:
        """One polygon per site: the band ``buffer_m`` around its linework (empty when unreachable)."""
        return np.array([band(lines, self.buffer_m) for lines in self.lines], dtype=object)


def band(lines: shapely.Geometry, width: float) -> shapely.Geometry:
    """The ``width`` band around noded linework: the same polygon as GEOS's buffer of it, built an
    order of magnitude faster. The blocks the linework encloses that are narrow enough for the band to
    cover whole are merged as a coverage first, so only their outline, the loose ends and the rings of
    wide blocks (a park, a river between two bridges) are buffered."""
    if lines.is_empty:
        return shapely.Polygon()
    # streets may cross without a junction (a bridge over a road): node them so blocks close properly
    faces, cuts, dangles, rings = shapely.polygonize_full(shapely.get_parts(shapely.node(lines)))
    faces = shapely.get_parts(faces)
    narrow = shapely.is_empty(shapely.buffer(faces, -width, quad_segs=2))
    core = shapely.buffer(shapely.coverage_union_all(faces[narrow]), width, quad_segs=2)
    # the loose lines merged into runs, each buffered alone, then one cascaded union with the blocks
    loose = shapely.line_merge(shapely.union_all([cuts, dangles, rings, *shapely.boundary(faces[~narrow])]))
    runs = shapely.buffer(shapely.get_parts(loose), width, quad_segs=2)
    return shapely.union_all(np.concatenate([np.array([core], dtype=object), runs]))


class _Geometry:
    """Vertex arrays of a network's segments, for cutting many streets at once."""

    def __init__(self, network: RoadNetwork) -> None:
        coords, owner = shapely.get_coordinates(network.seg_geom, return_index=True)
        first = np.r_[True, owner[1:] != owner[:-1]]
        start = np.flatnonzero(first)
        self.start = np.r_[start, len(owner)]
        # streets meeting at a node end on exactly the same point (their own ends may differ by a
        # rounding error), so that linework built from them is noded and closes into blocks
        coords[start] = network.node_xy[network.seg_u]
        coords[self.start[1:] - 1] = network.node_xy[network.seg_v]
        step = np.r_[0.0, np.hypot(*np.diff(coords, axis=0).T)]
        step[first] = 0.0
        cum = np.cumsum(step)
        self.coords, self.owner = coords, owner
        self.along = cum - np.repeat(cum[start], np.diff(self.start))  # metres from the segment start
        self.span = float(self.along.max(initial=0.0)) + 1.0
        self.key = owner * self.span + self.along  # sorted: segment by segment, then along each

    def point_at(self, seg: np.ndarray, at: np.ndarray) -> np.ndarray:
        """xy of the points ``at`` metres from the start of segments ``seg``."""
        lo, hi = self.start[seg], self.start[seg + 1] - 2  # index of the vertex that starts the last edge
        k = np.clip(np.searchsorted(self.key, seg * self.span + at, side="right") - 1, lo, hi)
        edge = np.maximum(self.along[k + 1] - self.along[k], 1e-12)
        t = np.clip((at - self.along[k]) / edge, 0.0, 1.0)[:, None]
        return self.coords[k] + t * (self.coords[k + 1] - self.coords[k])

    def pieces(self, seg: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The parts [a, b] (metres from the start) of segments ``seg``: their vertices in order, and the
        offset of each part's first vertex (ragged-array layout, ``len(seg) + 1`` offsets)."""
        n_vert = self.start[seg + 1] - self.start[seg]
        piece = np.repeat(np.arange(len(seg)), n_vert)
        vert = ragged_positions(self.start[seg], n_vert)
        ends = (vert == self.start[seg][piece]) | (vert == self.start[seg + 1][piece] - 1)
        inner = ~ends & (self.along[vert] > a[piece]) & (self.along[vert] < b[piece])
        count = np.bincount(piece[inner], minlength=len(seg))
        offsets = np.r_[0, np.cumsum(count + 2)]
        xy = np.empty((offsets[-1], 2))
        first, last = self.start[seg], self.start[seg + 1] - 1
        xy[offsets[:-1]] = self.coords[first]
        xy[offsets[1:] - 1] = self.coords[last]
        cut_a = np.flatnonzero(a > 1e-6)  # a micrometre short of an end is the end (the node itself)
        cut_b = np.flatnonzero(b < self.along[last] - 1e-6)
        xy[offsets[cut_a]] = self.point_at(seg[cut_a], a[cut_a])
        xy[offsets[cut_b + 1] - 1] = self.point_at(seg[cut_b], b[cut_b])
        kept = piece[inner]  # inner vertices come piece by piece, in order along each
        within = ragged_positions(np.zeros(len(count), dtype=np.int64), count)
        xy[offsets[kept] + 1 + within] = self.coords[vert[inner]]
        return xy, offsets


class _Incidence:
    """Segments meeting at each node (CSR)."""

    def __init__(self, network: RoadNetwork) -> None:
        ends = np.concatenate([network.seg_u, network.seg_v])
        segs = np.concatenate([np.arange(len(network.seg_u))] * 2)
        order = np.argsort(ends, kind="stable")
        self.segments = segs[order]
        self.indptr = np.searchsorted(ends[order], np.arange(network.n_nodes + 1))

    def of(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``nodes``, segment) for every segment meeting one of ``nodes``."""
        counts = self.indptr[nodes + 1] - self.indptr[nodes]
        pos = np.repeat(np.arange(len(nodes)), counts)
        return pos, self.segments[ragged_positions(self.indptr[nodes], counts)]


class _Prepared:
    """Per-network arrays the area computation reuses; cached on the network object."""

    def __init__(self, network: RoadNetwork) -> None:
        self.geometry = _Geometry(network)
        self.incidence = _Incidence(network)
        self.nodes = cKDTree(network.node_xy)
        # no walk covers more ground than its cost at the fastest street's speed (metres per cost unit)
        self.reach_per_cost = float(np.max(network.seg_len / np.maximum(network.seg_cost, 1e-9), initial=1.0))


def _prepared(network: RoadNetwork) -> _Prepared:
    cache = network.__dict__.get("_reach")
    if cache is None:
        cache = _Prepared(network)
        object.__setattr__(network, "_reach", cache)
    return cache


def service_areas(
    network: RoadNetwork,
    sites_metric: np.ndarray,
    *,
    max_cost: float,
    buffer_m: float = 40.0,
    max_snap_m: float = 300.0,
) -> ServiceAreas:
    """Streets reachable from each site within ``max_cost`` (metres walking, seconds driving), partial
    streets cut where the walk runs out; the polygon is a ``buffer_m`` band around them, so it never
    spans places the walk does not reach."""
    sites = np.asarray(sites_metric, dtype=object)
    k = len(sites)
    snaps = snap(network, sites, max_distance=max_snap_m)
    ok = np.flatnonzero(snaps.segment >= 0)
    unreachable = tuple(int(i) for i in np.flatnonzero(snaps.segment < 0))
    none = np.empty(0, dtype=np.int64)
    if len(ok) == 0:
        return ServiceAreas(network, k, none, none, np.empty(0), np.empty(0), unreachable, buffer_m)
    # only the streets within the straight-line reach of the sites can be walked to: search those
    prep = _prepared(network)
    start_xy = prep.geometry.point_at(snaps.segment[ok], snaps.offset[ok])
    near = prep.nodes.query_ball_point(start_xy, max_cost * prep.reach_per_cost * (1 + 1e-9) + 1e-6)
    mask = np.zeros(network.n_nodes, dtype=bool)
    mask[np.concatenate([np.asarray(x, dtype=np.int64) for x in near])] = True
    nodes = np.flatnonzero(mask)
    sub, local = _subgraph(network.graph, nodes)
    m = len(nodes)
    graph = _with_sources(sub, network, snaps, snaps.segment >= 0, local=local)
    dist = np.atleast_2d(dijkstra(graph, directed=True, indices=m + np.arange(len(ok)), limit=max_cost))
    row, node = np.divmod(np.flatnonzero(dist <= max_cost), dist.shape[1])
    row, node = row[node < m], nodes[node[node < m]]  # the sites' own nodes are not street ends
    pos, seg = prep.incidence.of(node)
    row, node = row[pos], node[pos]
    lu, lv = local[network.seg_u[seg]], local[network.seg_v[seg]]
    du = np.where(lu >= 0, dist[row, lu], np.inf)
    dv = np.where(lv >= 0, dist[row, lv], np.inf)
    once = (node == network.seg_u[seg]) | ~np.isfinite(
        du
    )  # each street once per site, from u if u is reached
    row, seg, du, dv = row[once], seg[once], du[once], dv[once]
    length = network.seg_len[seg]
    to_m = length / np.maximum(network.seg_cost[seg], 1e-9)
    # how far into the street the walk gets from each end (a one-way street is entered at u only)
    from_u = np.where(np.isfinite(du), np.clip((max_cost - du) * to_m, 0, length), 0.0)
    from_v = np.where(
        np.isfinite(dv) & network.seg_twoway[seg], np.clip((max_cost - dv) * to_m, 0, length), 0.0
    )
    own = seg == snaps.segment[ok][row]
    full = ~own & (from_u + from_v >= length)
    head = ~own & ~full & (from_u > 0)
    tail = ~own & ~full & (from_v > 0)
    rows, segs = [row[full], row[head], row[tail]], [seg[full], seg[head], seg[tail]]
    starts = [np.zeros(full.sum()), np.zeros(head.sum()), (length - from_v)[tail]]
    stops = [length[full], from_u[head], length[tail]]
    # the site's own street: the stretch either side of it, merged with what comes back round from its ends
    own_ends = {
        int(r): (float(u), float(v)) for r, u, v in zip(row[own], from_u[own], from_v[own], strict=True)
    }
    for r, i in enumerate(ok):
        s = int(snaps.segment[i])
        total = float(network.seg_len[s])
        reach = max_cost * total / max(float(network.seg_cost[s]), 1e-9)
        off = float(snaps.offset[i])
        fu, fv = own_ends.get(r, (0.0, 0.0))
        spans = [
            (max(0.0, off - reach) if network.seg_twoway[s] else off, min(total, off + reach)),
            (0.0, fu),
            (total - fv, total),
        ]
        for a, b in _merge(spans):
            rows.append(np.array([r]))
            segs.append(np.array([s]))
            starts.append(np.array([a]))
            stops.append(np.array([b]))
    return ServiceAreas(
        network,
        k,
        ok[np.concatenate(rows)],
        np.concatenate(segs),
        np.concatenate(starts),
        np.concatenate(stops),
        unreachable,
        buffer_m,
    )


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


@dataclass(frozen=True)
class NearestSites:
    """For every node of a network: the cost from it to the nearest site, and which site that is.

    Costs are in the network's unit; for a walking network the site's own distance off the street is
    included. Build once with :func:`nearest_sites`, then :meth:`query` answers many points at once.
    """

    network: RoadNetwork
    cost: np.ndarray  # per node (inf when no site is reachable)
    site: np.ndarray  # per node: index of the nearest site, -1 when none
    snaps: Snap  # where the sites meet the network

    @cached_property
    def _by_segment(self) -> tuple[np.ndarray, np.ndarray]:
        ok = np.flatnonzero(self.snaps.segment >= 0)
        order = ok[np.argsort(self.snaps.segment[ok], kind="stable")]
        return self.snaps.segment[order], order

    def query(self, points: Snap) -> tuple[np.ndarray, np.ndarray]:
        """(cost, site index) of the nearest site from each snapped point (inf, -1 when none)."""
        net = self.network
        seg = points.segment
        good = seg >= 0
        cost = np.full(len(seg), np.inf)
        site = np.full(len(seg), -1, dtype=np.int64)
        if not good.any():
            return cost, site
        s = seg[good]
        scale = net.seg_cost[s] / np.maximum(net.seg_len[s], 1e-9)
        off = np.clip(points.offset[good], 0, net.seg_len[s])
        via_v = (net.seg_len[s] - off) * scale + self.cost[net.seg_v[s]]
        via_u = np.where(net.seg_twoway[s], off * scale + self.cost[net.seg_u[s]], np.inf)
        best = np.minimum(via_u, via_v)
        who = np.where(via_u <= via_v, self.site[net.seg_u[s]], self.site[net.seg_v[s]])
        # a site on the same street, reached along it without passing an end
        keys, order = self._by_segment
        lo, hi = np.searchsorted(keys, s, "left"), np.searchsorted(keys, s, "right")
        extra = self.snaps.distance if net.mode == "walk" else np.zeros(len(self.snaps.segment))
        for j in np.flatnonzero(hi > lo):
            for t in order[lo[j] : hi[j]]:
                along = self.snaps.offset[t] - off[j]
                if along < 0 and not net.seg_twoway[s[j]]:
                    continue
                c = abs(along) * scale[j] + extra[t]
                if c < best[j]:
                    best[j], who[j] = c, t
        cost[good], site[good] = best, np.where(np.isfinite(best), who, -1)
        if net.mode == "walk":
            cost[good] += points.distance[good]
        return cost, site


def nearest_sites(
    network: RoadNetwork, sites_metric: np.ndarray, *, max_snap_m: float = 500.0, limit: float = np.inf
) -> NearestSites:
    """Cost from every node to its nearest site (``inf`` beyond ``limit``): one dijkstra on the
    reversed graph from a root tied to every site (by its distance off the street, when walking),
    sites labelled by following the shortest-path tree back to them."""
    sites = np.asarray(sites_metric, dtype=object)
    snaps = snap(network, sites, max_distance=max_snap_m)
    ok = snaps.segment >= 0
    n, k = network.n_nodes, int(ok.sum())
    cost = np.full(n, np.inf)
    label = np.full(n, -1, dtype=np.int64)
    if k == 0:
        return NearestSites(network, cost, label, snaps)
    g = _with_sources(network.graph.T.tocsr(), network, snaps, ok, reverse=True)
    lead = snaps.distance[ok] if network.mode == "walk" else np.zeros(k)
    root = n + k  # one more row: arcs from the root to every site node
    indptr = np.concatenate([g.indptr, [g.indptr[-1] + k]])
    graph = csr_matrix(
        (
            np.concatenate([g.data, np.maximum(lead, 1e-9)]),
            np.concatenate([g.indices, n + np.arange(k)]).astype(g.indices.dtype),
            indptr,
        ),
        shape=(n + k + 1, n + k + 1),
    )
    dist, pred = dijkstra(graph, directed=True, indices=root, return_predecessors=True, limit=limit)
    # every reached node's tree path leads back through exactly one site node: find it by pointer jumping
    up = np.where(pred >= 0, pred, np.arange(len(pred)))
    up[n : n + k] = np.arange(n, n + k)
    while True:
        nxt = up[up]
        if np.array_equal(nxt, up):
            break
        up = nxt
    reached = np.isfinite(dist[:n])
    sites_ok = np.flatnonzero(ok)
    cost[reached] = dist[:n][reached]
    inside = (up[:n] >= n) & (up[:n] < n + k) & reached
    label[inside] = sites_ok[up[:n][inside] - n]
    return NearestSites(network, cost, label, snaps)
