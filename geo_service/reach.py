"""What a walk (or drive) from a set of sites reaches on the road network.

- ``service_areas``: per site, the street linework reachable within a cost, partial streets cut
  where the walk runs out, and a polygon of the ground beside them (:mod:`geo_service.street_cells`).
- ``NearestSites``: for every street node, the cost to the nearest site and which site it is (or,
  ``from_sites``, the cost from it: a crew driving out of its depot); built once per version of the
  roads and the site layer, then any point's nearest site is a few array lookups (``who_covers`` asks
  it per request; dispatch asks it for a million cases' nearest crews).

Neither rebuilds the million arcs of a city network: ``nearest_sites`` appends the sites as extra rows
of the sparse matrix for one scipy ``dijkstra``; ``service_areas`` searches from each site with
``walks.reached_streets``, which touches only the part of the network the site reaches.
Its walks, linework and outlines run for ranges of the sites on the machine's cores at once
(:mod:`geo_service.parallel`), with the same answer as on one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo_service.arrays import cell_size, grouped
from geo_service.errors import InvalidInput
from geo_service.lazy import cached_property
from geo_service.network import RoadNetwork, Snap, snap
from geo_service.parallel import default_parts, in_ranges, site_ranges

if TYPE_CHECKING:
    from geo_service.street_cells import StreetCells

__all__ = [
    "DivisionKeeper",
    "NearestSites",
    "ServiceAreas",
    "keep_divisions",
    "nearest_sites",
    "service_areas",
]


def _with_sources(
    graph: csr_matrix,
    network: RoadNetwork,
    snaps: Snap,
    ok: np.ndarray,
    *,
    reverse: bool = False,
) -> csr_matrix:
    """``graph`` with one extra node per snapped point ``ok`` (numbered on from the graph's nodes, in
    order) whose only arcs lead to the ends of its street: to ``v`` always, to ``u`` on two-way
    streets.

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
    wts = np.column_stack([w1, w2]).ravel()
    keep = np.column_stack([np.ones(k, bool), two]).ravel()
    counts = keep.reshape(k, 2).sum(axis=1)
    n = graph.shape[0]
    indptr = np.concatenate([graph.indptr, graph.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([graph.indices, cols[keep]]).astype(graph.indices.dtype)
    data = np.concatenate([graph.data, np.maximum(wts[keep], 1e-9)])
    return csr_matrix((data, indices, indptr), shape=(n + k, n + k))


@dataclass(frozen=True)
class ServiceAreas:
    """What the walk from each site reaches, as stretches of street (metres from each segment's start).

    The linework and the polygons (the ground within ``buffer_m`` of the streets reached) are built
    when first asked for: many questions (served population, street length reached) need neither.
    """

    network: RoadNetwork
    n_sites: int
    site: np.ndarray  # per stretch: index of the site
    segment: np.ndarray  # per stretch: segment index
    start: np.ndarray
    stop: np.ndarray
    unreachable: tuple[int, ...]  # sites with no street within reach
    buffer_m: float = 40.0
    threads: int = 1  # the walks, linework and outlines of ranges of the sites at once

    @cached_property
    def reached_m(self) -> np.ndarray:
        """Street length reached per site (m)."""
        return np.bincount(self.site, weights=self.stop - self.start, minlength=self.n_sites)

    @cached_property
    def lines(self) -> np.ndarray:
        """One MultiLineString per site (metric CRS), partial streets cut where the walk runs out. The
        stretches are joined where they meet at junctions (see :mod:`geo_service.trails`)."""
        from geo_service.trails import trails  # numba, as the walk

        geometry = _prepared(self.network).geometry
        net = self.network

        def linework(
            n_sites: int, site: np.ndarray, seg: np.ndarray, start: np.ndarray, stop: np.ndarray
        ) -> np.ndarray:
            # a stretch's end on a node (not cut short there) can be joined to the others at that node
            xy, part_offsets, on_u, on_v = geometry.pieces(seg, start, stop)
            xy, trail_offsets, site_offsets = trails(
                grouped(site, n_sites)[0], on_u, on_v, net.n_nodes, part_offsets, xy
            )
            return shapely.from_ragged_array(  # type: ignore[no-any-return]
                shapely.GeometryType.MULTILINESTRING, xy, (trail_offsets, site_offsets)
            )

        return self._by_sites(linework)

    @cached_property
    def polygons(self) -> np.ndarray:
        """One (Multi)Polygon per site (empty when unreachable): the ground within ``buffer_m`` of the
        streets whose nearest street is one the walk reaches. It ends square within half a slice (10 m for a
        band of 40 m) of where the walk runs out; see :mod:`geo_service.street_cells`, whose division of the ground is
        made for the network on first use."""
        from geo_service.street_cells import outlines  # numba, as the walk

        cells = _prepared(self.network).cells(self.buffer_m)

        def outline(
            n_sites: int, site: np.ndarray, seg: np.ndarray, start: np.ndarray, stop: np.ndarray
        ) -> np.ndarray:
            return outlines(cells, n_sites, site, seg, start, stop)  # type: ignore[no-any-return]

        return self._by_sites(outline)

    def _by_sites(
        self, work: Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """``work(n_sites, site, segment, start, stop)``, one answer per site, for ranges of the sites at
        once (up to ``threads``; the stretches in site order, sites numbered from 0 in each range), the
        answers put together."""
        # (service_areas gives them in site order already)
        ptr, site, seg, start, stop = grouped(self.site, self.n_sites, self.segment, self.start, self.stop)

        def part(lo: int, hi: int) -> np.ndarray:
            a, b = ptr[lo], ptr[hi]
            return work(hi - lo, site[a:b] - lo, seg[a:b], start[a:b], stop[a:b])

        if self.n_sites == 0:
            return part(0, 0)
        return np.concatenate(in_ranges(site_ranges(np.diff(ptr), self.threads), part))


class _Geometry:
    """Vertex arrays of a network's segments, for cutting many streets at once."""

    def __init__(self, network: RoadNetwork) -> None:
        self.network = network
        coords, owner = shapely.get_coordinates(network.seg_geom, return_index=True)
        first = np.r_[True, owner[1:] != owner[:-1]][: len(owner)]  # (no vertex at all: no segment either)
        start = np.flatnonzero(first)
        self.start = np.r_[start, len(owner)]
        # streets meeting at a node end on exactly the same point (their own ends may differ by a
        # rounding error), so that linework built from them is noded and closes into blocks
        coords[start] = network.node_xy[network.seg_u]
        coords[self.start[1:] - 1] = network.node_xy[network.seg_v]
        step = np.r_[0.0, np.hypot(*np.diff(coords, axis=0).T)]
        step[first] = 0.0
        cum = np.cumsum(step)
        self.coords = coords
        self.z = coords[:, 0] + 1j * coords[:, 1]  # the vertices as complex numbers: one-item gathers
        self.along = cum - np.repeat(cum[start], np.diff(self.start))  # metres from the segment start
        self.span = float(self.along.max(initial=0.0)) + 1.0
        self.key = owner * self.span + self.along  # sorted: segment by segment, then along each
        self.inner = np.diff(self.start) - 2  # vertices between a segment's ends

    def _at(self, seg: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The points ``at`` metres from the start of segments ``seg``, as complex numbers."""
        k = self.start[seg]  # the edge the point is on: the first one of a straight segment
        bent = np.flatnonzero(self.inner[seg] > 0)
        if len(bent):
            s = seg[bent]
            found = np.searchsorted(self.key, s * self.span + at[bent], side="right") - 1
            k[bent] = np.clip(found, self.start[s], self.start[s + 1] - 2)
        edge = np.maximum(self.along[k + 1] - self.along[k], 1e-12)
        t = np.clip((at - self.along[k]) / edge, 0.0, 1.0)
        return self.z[k] + t * (self.z[k + 1] - self.z[k])

    def pieces(
        self, seg: np.ndarray, a: np.ndarray, b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The parts [a, b] (metres from the start) of segments ``seg``: their vertices in order, the
        offset of each part's first vertex (ragged-array layout, ``len(seg) + 1`` offsets), and the
        node each starts and ends on (-1: cut between nodes); see :func:`geo_service.trails.stretch_vertices`."""
        from geo_service.trails import stretch_vertices  # numba, as the walk

        net = self.network
        return stretch_vertices(seg, a, b, self.start, self.along, self.coords, net.seg_u, net.seg_v)


class _Arcs:
    """The network as the searches walk it: one arc per street and direction it can be walked (driven)
    in, not the graph's merged ones, so that each arc names its street and the search's answer is read
    off the arcs. Nodes are numbered cell by cell (squares of about nine nodes), so the part of the
    network around a site lies in a few hundred short runs of memory."""

    def __init__(self, network: RoadNetwork) -> None:
        xy = network.node_xy
        n = len(xy)
        lo = xy.min(axis=0) if n else np.zeros(2)
        size = cell_size(xy, 3.0, crowded=18.0, most_cells=max(_MAX_CELLS, 8 * n))
        cell = np.floor((xy - lo) / size)
        row_length = float(cell[:, 0].max(initial=0.0)) + 1.0
        order = np.argsort(cell[:, 1] * row_length + cell[:, 0], kind="stable")
        self.number = np.empty(n, dtype=np.int32)  # per node: its number here
        self.number[order] = np.arange(n, dtype=np.int32)
        two = np.flatnonzero(network.seg_twoway)
        n_seg = len(network.seg_u)
        src = self.number[np.concatenate([network.seg_u, network.seg_v[two]])]
        dst = self.number[np.concatenate([network.seg_v, network.seg_u[two]])]
        by_source = np.argsort(src, kind="stable")
        self.indptr = np.searchsorted(src[by_source], np.arange(n + 1)).astype(np.int64)
        self.target = dst[by_source]
        segment = np.concatenate([np.arange(n_seg), two])[by_source].astype(np.int32)
        # per arc its street, as ~street (negative) for the arc that runs from the street's v end to its u
        self.street = np.where(by_source < n_seg, segment, ~segment).astype(np.int32)
        self.cost = np.maximum(network.seg_cost[segment], 1e-9)


class _Prepared:
    """Per-network arrays the area computation reuses; cached on the network object."""

    def __init__(self, network: RoadNetwork) -> None:
        self.network = network
        self.geometry = _Geometry(network)
        self.arcs = _Arcs(network)
        self._cells: dict[float, StreetCells] = {}
        self._cells_lock = threading.Lock()
        self.divisions: DivisionKeeper | None = None

    def cells(self, width: float) -> StreetCells:
        """The ground within ``width`` of the streets divided among them (built once per width: some
        seconds for a hundred thousand nodes; one request builds it while the others wait; read from
        ``divisions`` when kept there)."""
        from geo_service.street_cells import street_cells

        with self._cells_lock:
            if width not in self._cells:
                net, geometry = self.network, self.geometry
                spacing = min(20.0, width / 2)

                def along(street: np.ndarray, metres: np.ndarray) -> np.ndarray:
                    z = geometry._at(street, metres)
                    return np.column_stack([z.real, z.imag])

                def divide() -> StreetCells:
                    length = geometry.along[geometry.start[1:] - 1]
                    return street_cells(
                        net.node_xy, net.seg_u, net.seg_v, along, length, width=width, spacing=spacing
                    )

                if self.divisions is None:
                    self._cells[width] = divide()
                else:  # (everything the division is made from)
                    made_from = (
                        net.node_xy,
                        net.seg_u,
                        net.seg_v,
                        geometry.coords,
                        geometry.start,
                        width,
                        spacing,
                    )
                    self._cells[width] = self.divisions.get(made_from, divide)
            return self._cells[width]


class DivisionKeeper(Protocol):
    """Where divisions of the ground are kept between processes (:class:`geo_service.division_store.DivisionStore`)."""

    def get(self, parts: tuple[np.ndarray | float, ...], make: Callable[[], StreetCells]) -> StreetCells:
        """The division made from ``parts``, kept or made by ``make``."""


def keep_divisions(network: RoadNetwork, keeper: DivisionKeeper | None) -> RoadNetwork:
    """Have ``network``'s divisions of the ground (for service-area polygons) read from and kept in
    ``keeper``, made only when it has none; the network, for chaining."""
    _prepared(network).divisions = keeper
    return network


def _prepared(network: RoadNetwork) -> _Prepared:
    """The network's prepared arrays, made once: requests on other threads wait for the first (two
    would each keep a copy, and each divide the ground beside the streets)."""
    cache = network.__dict__.get("_reach")
    if cache is None:
        with _PREPARING:
            cache = network.__dict__.get("_reach")
            if cache is None:
                cache = _Prepared(network)
                object.__setattr__(network, "_reach", cache)
    return cache


_PREPARING = threading.Lock()


_MAX_CELLS = 1 << 22  # node cells, at least this many allowed (or eight per node)


def _walk(
    network: RoadNetwork,
    prep: _Prepared,
    seg: np.ndarray,
    offset: np.ndarray,
    lead: np.ndarray,
    max_cost: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every street reached from the points ``offset`` along segments ``seg``, having spent ``lead``
    to get there (a walk from a site off the street), once per point: (point,
    street, cost to the end it is entered at, cost to its other end). The street is ``~segment`` when
    entered at its v end only; its other end (u) is then not reached (``inf``), while a street reached at
    both ends is given as entered at u."""
    from geo_service.walks import reached_streets  # numba: loaded when the first walk is asked for

    arcs = prep.arcs
    k = len(seg)
    scale = network.seg_cost[seg] / np.maximum(network.seg_len[seg], 1e-9)
    off = np.minimum(np.maximum(offset, 0.0), network.seg_len[seg])
    # each point starts at the ends of its street: v always, u when the street is two-way
    starts = arcs.number[np.column_stack([network.seg_v[seg], network.seg_u[seg]])].ravel()
    costs = np.column_stack([(network.seg_len[seg] - off) * scale + lead, off * scale + lead]).ravel()
    usable = np.column_stack([np.ones(k, dtype=bool), network.seg_twoway[seg]]).ravel()
    start_ptr = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(usable.reshape(k, 2).sum(axis=1), out=start_ptr[1:])
    return reached_streets(  # type: ignore[no-any-return]
        arcs.indptr,
        arcs.target,
        arcs.cost,
        arcs.street,
        starts[usable],
        np.maximum(costs[usable], 1e-9),
        start_ptr,
        float(max_cost),
    )


def service_areas(
    network: RoadNetwork,
    sites_metric: np.ndarray,
    *,
    max_cost: float,
    buffer_m: float = 40.0,
    max_snap_m: float = 300.0,
    threads: int | None = None,
    polygons: bool = False,
) -> ServiceAreas:
    """Streets reachable from each site within ``max_cost`` (metres walking, seconds driving), partial
    streets cut where the walk runs out; the polygon is the ground within ``buffer_m`` whose nearest
    street the walk reaches, so it never spans places the walk does not reach. A walk counts the way
    from the site to its street.

    The sites are walked (and later outlined) in up to ``threads`` ranges at once (default: the cores,
    at most four; see :mod:`geo_service.parallel`); the answer is the same for any number. With
    ``polygons`` each range outlines its sites as soon as it has walked them (their stretches still in
    cache, no second hand-over), for a caller that will ask for the polygons."""
    if not max_cost >= 0:  # NaN too
        raise InvalidInput(
            f"步行（行驶）上限应为不小于 0 的数，而不是 {max_cost}",
            f"The walk (drive) limit must be a number of at least 0, not {max_cost}",
            field="max_cost",
        )
    sites = np.asarray(sites_metric, dtype=object)
    threads = default_parts() if threads is None else max(1, int(threads))
    prep = _prepared(network)
    # each range of sites walked on its own, on the cores at once; sites numbered from 0 in each
    cells = prep.cells(buffer_m) if polygons else None  # (divided here, once, before the ranges start)
    ranges = site_ranges(np.ones(len(sites)), threads) or [(0, 0)]
    parts = in_ranges(
        ranges, lambda lo, hi: _reached(network, prep, sites[lo:hi], max_cost, max_snap_m, cells)
    )
    first = [lo for lo, _ in ranges]

    def joined(i: int) -> np.ndarray:
        """The ranges' arrays ``i`` end to end (one range's as it is), their sites (0) numbered on."""
        if len(parts) == 1:
            return parts[0][i]
        return np.concatenate(
            [part[i] + lo if i == 0 else part[i] for lo, part in zip(first, parts, strict=True)]
        )

    site, segment, start, stop = joined(0), joined(1), joined(2), joined(3)
    unreachable = tuple(int(i) + lo for lo, part in zip(first, parts, strict=True) for i in part[4])
    areas = ServiceAreas(network, len(sites), site, segment, start, stop, unreachable, buffer_m, threads)
    if cells is not None:  # (kept where the cached property keeps it)
        areas.__dict__["polygons"] = joined(5)
    return areas


def _reached(
    network: RoadNetwork,
    prep: _Prepared,
    sites: np.ndarray,
    max_cost: float,
    max_snap_m: float,
    cells: StreetCells | None = None,
) -> tuple[np.ndarray, ...]:
    """:func:`service_areas`' stretches for ``sites``: (site, street, start, stop) in site order, the
    sites with no street within reach, and with ``cells`` their polygons."""
    from geo_service.walks import cut_streets  # numba, as the walk

    snaps = snap(network, sites, max_distance=max_snap_m)
    ok = np.flatnonzero(snaps.segment >= 0)
    unreachable = np.flatnonzero(snaps.segment < 0)
    if len(ok) == 0:
        none = np.empty(0, dtype=np.int64)
        return _with_outlines((none, none, np.empty(0), np.empty(0), unreachable), len(sites), cells)
    # a walk starts at the site: the way to the street counts (as in ``nearest_sites``); a drive starts
    # on the street (a depot's yard is not timed)
    lead = snaps.distance[ok] if network.mode == "walk" else np.zeros(len(ok))
    s, off = snaps.segment[ok], snaps.offset[ok]
    row, street, here, there = _walk(network, prep, s, off, lead, max_cost)
    # how far into each street the walk gets from the end it enters at, and from the other end; each
    # site's own street after its others
    rows, segs, starts, stops = cut_streets(
        row,
        street,
        here,
        there,
        network.seg_len,
        network.seg_cost,
        network.seg_twoway,
        s,
        off,
        lead,
        float(max_cost),
        network.mode == "walk",
    )
    found = (rows if len(ok) == len(sites) else ok[rows], segs, starts, stops, unreachable)
    return _with_outlines(found, len(sites), cells)


def _with_outlines(
    found: tuple[np.ndarray, ...], n_sites: int, cells: StreetCells | None
) -> tuple[np.ndarray, ...]:
    """``found`` (site, street, start, stop, …), and with ``cells`` the sites' polygons after it."""
    if cells is None:
        return found
    from geo_service.street_cells import outlines  # numba, as the walk

    return (*found, outlines(cells, n_sites, *found[:4]))


@dataclass(frozen=True)
class NearestSites:
    """For every node of a network: the cost from it to the nearest site, and which site that is
    (or, ``from_sites``, the cost from the nearest site to it: a crew driving out of its depot).

    Costs are in the network's unit; for a walking network the site's own distance off the street is
    included. Build once with :func:`nearest_sites`, then :meth:`query` answers many points at once.
    """

    network: RoadNetwork
    cost: np.ndarray  # per node (inf when no site is reachable)
    site: np.ndarray  # per node: index of the nearest site, -1 when none
    snaps: Snap  # where the sites meet the network
    from_sites: bool = False

    @cached_property
    def _by_segment(self) -> tuple[np.ndarray, np.ndarray]:
        ok = np.flatnonzero(self.snaps.segment >= 0)
        order = ok[np.argsort(self.snaps.segment[ok], kind="stable")]
        return self.snaps.segment[order], order

    def query(self, points: Snap) -> tuple[np.ndarray, np.ndarray]:
        """(cost, site index) of the nearest site from each snapped point (inf, -1 when none)."""
        from geo_service.walks import nearest_from_ends  # numba, as the walk

        net = self.network
        keys, order = self._by_segment
        extra = self.snaps.distance if net.mode == "walk" else np.zeros(len(self.snaps.segment))
        cost, site = nearest_from_ends(
            points.segment,
            points.offset,
            (net.seg_u, net.seg_v, net.seg_len, net.seg_cost, net.seg_twoway),
            self.cost,
            self.site,
            (keys, order, self.snaps.offset, extra),
            from_sites=self.from_sites,
        )
        if net.mode == "walk":  # the point's own way to its street (inf where unsnapped: so is the cost)
            cost += points.distance
        return cost, site


def nearest_sites(
    network: RoadNetwork,
    sites_metric: np.ndarray,
    *,
    max_snap_m: float = 500.0,
    limit: float = np.inf,
    from_sites: bool = False,
) -> NearestSites:
    """Cost from every node to its nearest site (``inf`` beyond ``limit``): one dijkstra on the
    reversed graph from a root tied to every site (by its distance off the street, when walking),
    sites labelled by following the shortest-path tree back to them. With ``from_sites`` the costs
    run the other way, from the sites out (the graph as it is: one-way streets matter when driving)."""
    sites = np.asarray(sites_metric, dtype=object)
    snaps = snap(network, sites, max_distance=max_snap_m)
    ok = snaps.segment >= 0
    n, k = network.n_nodes, int(ok.sum())
    cost = np.full(n, np.inf)
    label = np.full(n, -1, dtype=np.int64)
    if k == 0:
        return NearestSites(network, cost, label, snaps, from_sites)
    forwards = network.graph if from_sites else network.graph.T.tocsr()
    g = _with_sources(forwards, network, snaps, ok, reverse=not from_sites)
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
    return NearestSites(network, cost, label, snaps, from_sites)
