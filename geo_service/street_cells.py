"""The ground beside the streets divided among them, so that a service area's polygon is read off.

A walk's service area is drawn as the ground within ``width`` of the streets it reaches, each place
belonging to the street nearest to it: a site's area is the ground whose nearest street is reached.
It ends square where the walk runs out, and is never drawn over a street the walk did not reach.

The division is made once per network (:func:`street_cells`):

- points along every street, about ``spacing`` apart, each standing for its slice of the street,
  and one on every node;
- their Voronoi diagram, read off qhull's Delaunay triangulation (scipy), tile by tile on the cores at
  once: a point's cell, cut to its disc, depends only on the points within twice the disc's radius;
- each cell cut to the disc around its point, of a radius a little over ``width`` so that the discs
  of a street's points cover its band without gaps between them.

A site's polygon is then the outline of its cells (:func:`outlines`): each edge of a cell whose
neighbour is not the site's, chained into rings, with no call to a geometry library per site. Slices
are whole: the end of an area stands within half a spacing of where the walk runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely

from geo_service.arrays import grouped
from geo_service.parallel import default_parts, in_ranges, site_ranges
from geo_service.walks import compiled, grown, prefetch

__all__ = ["StreetCells", "outlines", "street_cells", "warm"]

# the discs' arcs drawn in chords of at most 30°: the arc across a slice (28°) is then one chord, at
# ``width`` from the street as the band's edge should be; a round end is six
_ARC_STEP = np.pi / 6
_CIRCLE = 12


@dataclass(frozen=True)
class StreetCells:
    """A network's cells, numbered so that cells near each other on the ground are near in memory.

    A *unit* is a node (one cell) or a street (its slices, in order from its start); units are
    numbered along a Z-order curve over the ground and their cells follow in that order
    (``unit_cells``). ``street`` gives per street (int32): its unit, first cell, number of slices,
    and the unit and cell of its start node and of its end node. Each unit lists the other units
    whose cells border its cells (``unit_neighbour`` from ``unit_neighbour_start``) and whether any
    of its cells reaches the edge of its disc (``unit_open``).

    Each cell's edges run anticlockwise round it (``edge_start`` by cell). An edge is a piece of the
    border with a neighbour cell, or (neighbour ``-1``) an arc of the disc where nothing borders it
    within the band. ``edge`` holds per edge, as int32 so that a cell's edges share a cache line or
    two: the neighbour, the edge's first point (millimetres from ``origin``), and where its further
    points start in ``extra_xy`` (an arc's; the next edge's entry says where they end). Its last row
    closes the table.
    """

    width: float
    spacing: float
    street: np.ndarray
    length: np.ndarray  # per street, metres
    unit_cells: np.ndarray
    unit_neighbour_start: np.ndarray
    unit_neighbour: np.ndarray
    unit_open: np.ndarray
    edge_start: np.ndarray
    edge: np.ndarray
    extra_xy: np.ndarray
    origin: np.ndarray
    # the marks the outlines leave, kept between calls: a fresh array's pages cost a fault each on
    # first touch, more than the outline itself (one set per thread outlining at a time)
    _spare: list[tuple[np.ndarray, ...]] = field(default_factory=list, compare=False, repr=False)
    _spare_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    _most: list[int] = field(default_factory=list, compare=False, repr=False)

    def most_edges(self) -> int:
        """The most edges a cell has (worked out on first asking)."""
        with self._spare_lock:
            if not self._most:
                self._most.append(int(np.diff(self.edge_start).max(initial=1)))
            return self._most[0]

    def _flags(self) -> tuple[np.ndarray, ...]:
        with self._spare_lock:
            if self._spare:
                return self._spare.pop()
        return (
            np.zeros(len(self.edge_start) - 1, dtype=np.uint8),  # per cell: the mark of its last set
            # per unit: twice the mark of the last site that met it, plus one when whole in its set
            np.zeros(len(self.unit_cells) - 1, dtype=np.uint16),
            np.zeros(1, dtype=np.int64),  # the last mark given (1 to 255)
        )

    def _return(self, flags: tuple[np.ndarray, ...]) -> None:
        with self._spare_lock:
            self._spare.append(flags)


def _z_order(xy: np.ndarray) -> np.ndarray:
    """The order of the points ``xy`` along a Z-order (Morton) curve."""
    if len(xy) == 0:
        return np.empty(0, dtype=np.int64)
    lo = xy.min(axis=0)
    step = max(float((xy.max(axis=0) - lo).max()) / (1 << 20), 1e-3)
    q = ((xy - lo) / step).astype(np.uint64)

    def spread(v: np.ndarray) -> np.ndarray:  # the bits of v with a zero between each
        v = (v | (v << np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x3333333333333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x5555555555555555)

    return np.argsort(spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1)), kind="stable")


def street_cells(
    node_xy: np.ndarray,
    seg_u: np.ndarray,
    seg_v: np.ndarray,
    points_along: Callable[[np.ndarray, np.ndarray], np.ndarray],
    length: np.ndarray,
    *,
    width: float,
    spacing: float,
    tile_points: int = 60_000,
) -> StreetCells:
    """The cells of a network whose nodes stand at ``node_xy``, whose streets run from node ``seg_u``
    to ``seg_v`` and are ``length`` metres long; ``points_along(street, metres)`` gives points along
    the streets (an (n, 2) array)."""
    node_xy = np.asarray(node_xy, dtype=float).reshape(-1, 2)
    length = np.asarray(length, dtype=float)
    n_nodes, n_streets = len(node_xy), len(length)
    k = np.maximum(1, np.ceil(length / spacing)).astype(np.int64)
    everything = np.arange(n_streets)
    order = _z_order(np.concatenate([node_xy, points_along(everything, length / 2)]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    count = np.concatenate([np.ones(n_nodes, dtype=np.int64), k])
    unit_cells = np.r_[0, np.cumsum(count[order])]
    first_cell = unit_cells[rank]  # per node, then per street
    street = np.repeat(everything, k)
    nth = np.arange(len(street)) - np.repeat(np.cumsum(k) - k, k)
    n = int(unit_cells[-1])
    points = np.empty((n, 2))
    points[first_cell[:n_nodes]] = node_xy
    points[first_cell[n_nodes + street] + nth] = points_along(
        street, (nth + 0.5) * length[street] / k[street]
    )
    unit_of = np.repeat(np.arange(len(order)), count[order])
    # a street's band is covered when every place within ``width`` of it is within the radius of one
    # of its points: up to half a slice along it. (A thousandth more, so that the middle of a square
    # block twice ``width`` wide is not on the edge of eight discs at once.)
    radius = 1.001 * float(np.hypot(width, spacing / 2))
    origin = points.min(axis=0) if n else np.zeros(2)
    local = points - origin
    # a tenth of a millimetre apart: points on one circle (a grid's) give qhull cells of one shape
    local = local + np.random.default_rng(0).uniform(-1e-4, 1e-4, local.shape)
    # the borders, tile by tile on the cores at once (see ``_tiles``)
    tiles = _tiles(local, radius, tile_points)
    found = in_ranges(
        site_ranges(np.array([len(members) for members, _ in tiles], dtype=float), default_parts()),
        lambda lo, hi: [_tile_pieces(local, members, core, n, radius) for members, core in tiles[lo:hi]],
    )
    per_tile = [piece for group in found for piece in group]
    # the ends' ids, unique over the tiles (a cell's pieces all come from one tile)
    base = np.r_[0, np.cumsum([t[-1] for t in per_tile])][:-1]
    pairs = np.concatenate([t[0] for t in per_tile])
    first = np.concatenate([t[1] for t in per_tile])
    last = np.concatenate([t[2] for t in per_tile])
    first_id = np.concatenate([t[3] + b for t, b in zip(per_tile, base, strict=True)])
    last_id = np.concatenate([t[4] + b for t, b in zip(per_tile, base, strict=True)])
    own = np.concatenate([t[5] for t in per_tile])
    edge_start, edge_neighbour, xy_start, xy = _cells(
        n, local, pairs, first, last, first_id, last_id, own, radius
    )
    if len(xy) and np.abs(xy).max() > 2e6:  # (a network 2,000 km across)
        raise ValueError("the network is too wide for its cells' millimetre coordinates")
    mm = np.round(xy * 1000.0).astype(np.int32)
    n_edges = len(edge_neighbour)
    first_point = np.zeros(len(xy), dtype=bool)
    first_point[xy_start[:-1]] = True
    edge = np.zeros((n_edges + 1, 4), dtype=np.int32)
    edge[:-1, 0] = edge_neighbour
    edge[:-1, 1:3] = mm[xy_start[:-1]]
    edge[:, 3] = xy_start - np.arange(n_edges + 1)  # the points before each edge's, less the first ones
    # which units border which
    owner = np.repeat(np.arange(n), np.diff(edge_start))
    border = edge_neighbour >= 0
    u = unit_of[owner[border]]
    v = unit_of[edge_neighbour[border]]
    n_units = len(order)
    pair = np.unique(u[u != v] * n_units + v[u != v])
    unit_neighbour_start = np.searchsorted(pair // n_units, np.arange(n_units + 1))
    unit_open = np.zeros(n_units, dtype=np.bool_)
    unit_open[unit_of[owner[~border]]] = True
    seg_u, seg_v = np.asarray(seg_u, dtype=np.int64), np.asarray(seg_v, dtype=np.int64)
    table = np.column_stack(
        [
            rank[n_nodes:],
            first_cell[n_nodes:],
            k,
            rank[seg_u],
            first_cell[seg_u],
            rank[seg_v],
            first_cell[seg_v],
        ]
    )
    return StreetCells(
        width,
        spacing,
        table.astype(np.int32),
        length,
        unit_cells.astype(np.int32),
        unit_neighbour_start.astype(np.int32),
        (pair % n_units).astype(np.int32),
        unit_open,
        edge_start.astype(np.int32),
        edge,
        mm[~first_point],
        origin,
    )


def _tiles(local: np.ndarray, radius: float, tile_points: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The points in tiles of about ``tile_points``: per tile the points within twice ``radius`` of it
    and which of them lie in it (each point lies in one tile). A point's cell, cut to its disc, depends
    only on the points within twice the radius, so a tile's triangulation gives its own points' cells
    exactly."""
    n = len(local)
    if n <= tile_points:
        return [(np.arange(n), np.ones(n, dtype=bool))]
    size = np.maximum(local.max(axis=0), radius) + 1e-6
    count = int(np.ceil(n / tile_points))
    nx = min(count, max(1, round(float(np.sqrt(count * size[0] / size[1])))))
    ny = max(1, int(np.ceil(count / nx)))
    step = size / np.array([nx, ny])
    cell = np.clip((local // step).astype(np.int64), 0, [nx - 1, ny - 1])
    margin = 2 * radius + 1.0
    tiles = []
    for i in range(nx):
        for j in range(ny):
            lo, hi = step * [i, j] - margin, step * [i + 1, j + 1] + margin
            members = np.flatnonzero(np.all((local >= lo) & (local < hi), axis=1))
            core = (cell[members, 0] == i) & (cell[members, 1] == j)
            if core.any():
                tiles.append((members, core))
    return tiles


def _tile_pieces(
    local: np.ndarray, members: np.ndarray, core: np.ndarray, n: int, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The borders between the cells of a tile's points, each cut to the disc round either of its
    points (it is as far from both) and kept when it bounds a cell of the tile's own: (pairs of
    points, first and last point of each piece, ids of its ends, which sides are the tile's own cells,
    how many ids the tile used). The Voronoi diagram is the dual of qhull's Delaunay triangulation: a
    border joins the circumcentres of the two triangles beside an edge."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import Delaunay

    if len(members) == 0:
        none = np.empty((0, 2))
        return (
            np.empty((0, 2), dtype=np.int64),
            none,
            none,
            np.empty(0, np.int64),
            np.empty(0, np.int64),
            none > 0,
            0,
        )
    pts = local[members]
    # four far corners close every cell; none of them comes within the band
    lo, hi = pts.min(axis=0) - 4 * radius, pts.max(axis=0) + 4 * radius
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    generators = np.concatenate([pts, corners])
    ids = np.r_[members, np.full(4, n)]  # (the corners: n, no cell)
    tri = Delaunay(generators)
    simplex, beside = tri.simplices, tri.neighbors
    m = len(simplex)
    t = np.repeat(np.arange(m), 3)
    k = np.tile(np.arange(3), m)
    other = beside.ravel()
    edge = np.column_stack([simplex[t, (k + 1) % 3], simplex[t, (k + 2) % 3]])
    once = other > t  # each edge inside once; those on the hull join two corners
    pairs, ends, near = ids[edge[once]], np.column_stack([t[once], other[once]]), edge[once, 0]
    real = (pairs < n).any(axis=1)
    if ((other < 0) & (ids[edge] < n).any(axis=1)).any():  # (cannot happen: the corners enclose every point)
        raise RuntimeError("a street's cell is unbounded")
    pairs, ends, near = pairs[real], ends[real], near[real]
    a, b, c = (generators[simplex[:, i]] for i in range(3))
    ab, ac = b - a, c - a
    d = 2 * (ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0])
    d = np.where(d == 0, 1e-300, d)  # (three points in a line: a vertex far off, cut away by the disc)
    sb, sc = np.einsum("ij,ij->i", ab, ab), np.einsum("ij,ij->i", ac, ac)
    vertices = (
        a + np.column_stack([ac[:, 1] * sb - ab[:, 1] * sc, ab[:, 0] * sc - ac[:, 0] * sb]) / d[:, None]
    )
    # four points on one circle give two triangles with one centre, and a border of no length between
    # them whose direction round a cell cannot be told: such vertices are one (as qhull's Voronoi has them)
    p0, p1 = vertices[ends[:, 0]], vertices[ends[:, 1]]
    short = np.hypot(*(p1 - p0).T) < 1e-6
    if short.any():
        joined = coo_matrix((np.ones(int(short.sum())), (ends[short, 0], ends[short, 1])), shape=(m, m))
        _, label = connected_components(joined, directed=False)
        first_of = np.full(m, m)
        np.minimum.at(first_of, label, np.arange(m))
        ends = first_of[label][ends]  # each vertex named by the first triangle of its group
        pairs, ends, near = pairs[~short], ends[~short], near[~short]
        p0, p1 = vertices[ends[:, 0]], vertices[ends[:, 1]]
    # whether a vertex is within the disc is decided once, for every border meeting there
    inside = np.hypot(*(vertices - a).T) <= radius
    dd = p1 - p0
    f = p0 - generators[near]
    qa = np.einsum("ij,ij->i", dd, dd)
    qb = 2 * np.einsum("ij,ij->i", f, dd)
    qc = np.einsum("ij,ij->i", f, f) - radius**2
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.maximum(qb * qb - 4 * qa * qc, 0.0))
        t0 = np.where(qa > 0, (-qb - root) / (2 * qa), 0.0)
        t1 = np.where(qa > 0, (-qb + root) / (2 * qa), 1.0)
    in0, in1 = inside[ends[:, 0]], inside[ends[:, 1]]
    lo_t = np.where(in0, 0.0, np.clip(t0, 0.0, 1.0))
    hi_t = np.where(in1, 1.0, np.clip(t1, 0.0, 1.0))
    crosses = (qb * qb - 4 * qa * qc > 0) & (qa > 0)
    mine = np.zeros(n + 1, dtype=bool)
    mine[members[core]] = True
    own = mine[pairs]
    keep = np.flatnonzero(((in0 & in1) | ((in0 | in1 | crosses) & (lo_t < hi_t))) & own.any(axis=1))
    pairs, ends, lo_t, hi_t, p0, dd, own = (
        pairs[keep],
        ends[keep],
        lo_t[keep],
        hi_t[keep],
        p0[keep],
        dd[keep],
        own[keep],
    )
    first = p0 + lo_t[:, None] * dd
    last = p0 + hi_t[:, None] * dd
    # the ends of the pieces: a vertex, or where the border leaves the disc (its own point)
    piece = np.arange(len(keep))
    first_id = np.where(inside[ends[:, 0]], ends[:, 0], m + 2 * piece)
    last_id = np.where(inside[ends[:, 1]], ends[:, 1], m + 2 * piece + 1)
    return pairs.astype(np.int64), first, last, first_id, last_id, own, m + 2 * len(keep)


@compiled
def _cells(n, centre, pairs, first, last, first_id, last_id, own, radius):  # type: ignore[no-untyped-def]
    """Each cell's edges in order round it: the border pieces given (to the cells whose side is
    ``own``), anticlockwise, and the disc's arcs between pieces that do not meet."""
    k = len(pairs)
    # each piece twice, once per cell it bounds (not for the far corners')
    owner = np.empty(2 * k, dtype=np.int64)
    other = np.empty(2 * k, dtype=np.int64)
    forwards = np.empty(2 * k, dtype=np.bool_)
    angle = np.empty(2 * k, dtype=np.float64)
    m = 0
    for i in range(k):
        for side in range(2):
            a, b = pairs[i, side], pairs[i, 1 - side]
            if a >= n or not own[i, side]:
                continue
            cx, cy = centre[a, 0], centre[a, 1]
            ux, uy = first[i, 0] - cx, first[i, 1] - cy
            vx, vy = last[i, 0] - cx, last[i, 1] - cy
            owner[m] = a
            other[m] = b if b < n else -1
            forwards[m] = ux * vy - uy * vx >= 0
            angle[m] = np.arctan2(uy + vy, ux + vx)
            m += 1
    owner, other, forwards, angle = owner[:m], other[:m], forwards[:m], angle[:m]
    piece_of = np.empty(m, dtype=np.int64)
    j = 0
    for i in range(k):
        for side in range(2):
            if pairs[i, side] < n and own[i, side]:
                piece_of[j] = i
                j += 1
    order = np.argsort(owner * 8.0 + angle)  # angle in (-π, π]: cells apart by 8
    start = np.zeros(n + 1, dtype=np.int64)
    for i in range(m):
        start[owner[i] + 1] += 1
    for a in range(n):
        start[a + 1] += start[a]
    # first pass: how many edges and points each cell has once its arcs are in
    n_edges = 0
    n_xy = 0
    for a in range(n):
        s, e = start[a], start[a + 1]
        if s == e:
            n_edges += 1
            n_xy += _CIRCLE
            continue
        for q in range(s, e):
            x, y = order[q], order[s + (q - s + 1) % (e - s)]
            n_edges += 1
            n_xy += 1
            gap, _ = _gap(x, y, piece_of, forwards, first, last, first_id, last_id, centre[a])
            if gap > 0:
                n_edges += 1
                n_xy += _arc_steps(gap)
    edge_start = np.zeros(n + 1, dtype=np.int64)
    neighbour = np.empty(n_edges, dtype=np.int64)
    xy_start = np.zeros(n_edges + 1, dtype=np.int64)
    xy = np.empty((n_xy, 2), dtype=np.float64)
    t = 0
    p = 0
    for a in range(n):
        s, e = start[a], start[a + 1]
        edge_start[a] = t
        cx, cy = centre[a, 0], centre[a, 1]
        if s == e:  # nothing near: the whole disc
            neighbour[t] = -1
            xy_start[t] = p
            for j in range(_CIRCLE):
                xy[p, 0] = cx + radius * np.cos(j * 2 * np.pi / _CIRCLE)
                xy[p, 1] = cy + radius * np.sin(j * 2 * np.pi / _CIRCLE)
                p += 1
            t += 1
            continue
        for q in range(s, e):
            x, y = order[q], order[s + (q - s + 1) % (e - s)]
            i = piece_of[x]
            neighbour[t] = other[x]
            xy_start[t] = p
            if forwards[x]:
                xy[p, 0], xy[p, 1] = first[i, 0], first[i, 1]
            else:
                xy[p, 0], xy[p, 1] = last[i, 0], last[i, 1]
            p += 1
            t += 1
            gap, from_angle = _gap(x, y, piece_of, forwards, first, last, first_id, last_id, centre[a])
            if gap > 0:
                steps = _arc_steps(gap)
                neighbour[t] = -1
                xy_start[t] = p
                for j in range(steps):
                    w = from_angle + gap * j / steps
                    xy[p, 0] = cx + radius * np.cos(w)
                    xy[p, 1] = cy + radius * np.sin(w)
                    p += 1
                t += 1
    edge_start[n] = t
    xy_start[t] = p
    return edge_start, neighbour, xy_start, xy


@compiled
def _gap(x, y, piece_of, forwards, first, last, first_id, last_id, centre):  # type: ignore[no-untyped-def]
    """The arc (radians, 0: none) from the end of edge ``x`` to the start of ``y`` round their cell,
    and the angle it starts at."""
    i, j = piece_of[x], piece_of[y]
    end_id = last_id[i] if forwards[x] else first_id[i]
    start_id = first_id[j] if forwards[y] else last_id[j]
    if end_id == start_id:
        return 0.0, 0.0
    ex, ey = (last[i, 0], last[i, 1]) if forwards[x] else (first[i, 0], first[i, 1])
    sx, sy = (first[j, 0], first[j, 1]) if forwards[y] else (last[j, 0], last[j, 1])
    a0 = np.arctan2(ey - centre[1], ex - centre[0])
    a1 = np.arctan2(sy - centre[1], sx - centre[0])
    gap = (a1 - a0) % (2 * np.pi)
    if gap == 0.0:
        gap = 2 * np.pi
    return gap, a0


@compiled
def _arc_steps(gap):  # type: ignore[no-untyped-def]
    return max(1, int(np.ceil(gap / _ARC_STEP - 1e-9)))


def outlines(
    cells: StreetCells,
    n_sites: int,
    site: np.ndarray,
    street: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
) -> np.ndarray:
    """One (Multi)Polygon per site: its cells' outline. ``site``, ``street``, ``start``, ``stop``: the
    stretches reached (metres from each street's start)."""
    site_ptr, _, street, start, stop = grouped(site, n_sites, street, start, stop)
    flags = cells._flags()
    xy, ring_ptr, polygon_ptr, site_polygon_ptr = _outlines(
        *flags,
        cells.most_edges(),
        site_ptr,
        street.astype(np.int64, copy=False),
        start.astype(np.float64, copy=False),
        stop.astype(np.float64, copy=False),
        cells.street,
        cells.length,
        cells.unit_neighbour_start,
        cells.unit_neighbour,
        cells.unit_open,
        cells.edge_start,
        cells.edge,
        cells.extra_xy,
        cells.origin,
    )
    cells._return(flags)  # (not returned when the outline failed half way)
    return shapely.from_ragged_array(  # type: ignore[no-any-return]
        shapely.GeometryType.MULTIPOLYGON, xy, (ring_ptr, polygon_ptr, site_polygon_ptr)
    )


@compiled
def _grow_xy(xy, need):  # type: ignore[no-untyped-def]
    if need <= len(xy):
        return xy
    bigger = np.empty((max(need, 2 * len(xy)), 2), dtype=np.float64)
    bigger[: len(xy)] = xy
    return bigger


@compiled
def _slot(slot_edge, mask, x):  # type: ignore[no-untyped-def]
    """The slot of edge ``x`` in the hash table ``slot_edge`` (``mask`` + 1 slots, a power of two, not
    all full): where it is, or the empty one (-1) where it would go."""
    k = (x * 2654435761 >> 12) & mask  # (x < 2**31: no overflow)
    while slot_edge[k] >= 0 and slot_edge[k] != x:
        k = (k + 1) & mask
    return k


@compiled
def _area(xy, s, e):  # type: ignore[no-untyped-def]
    """Twice the signed area of the ring ``xy[s:e]`` (closed: its last point is its first)."""
    total = 0.0
    x0, y0 = xy[s, 0], xy[s, 1]
    for i in range(s + 1, e - 1):
        total += (xy[i, 0] - x0) * (xy[i + 1, 1] - y0) - (xy[i + 1, 0] - x0) * (xy[i, 1] - y0)
    return total


@compiled
def _inside(xy, s, e, px, py):  # type: ignore[no-untyped-def]
    """Whether (px, py) is inside the closed ring ``xy[s:e]`` (even-odd)."""
    inside = False
    for i in range(s, e - 1):
        x0, y0, x1, y1 = xy[i, 0], xy[i, 1], xy[i + 1, 0], xy[i + 1, 1]
        if (y0 > py) != (y1 > py) and px < x0 + (py - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


@compiled
def _outlines(  # type: ignore[no-untyped-def]
    in_set,
    unit_mark,
    last_mark,
    most_edges,
    site_ptr,
    street,
    start,
    stop,
    table,
    length,
    unit_neighbour_start,
    unit_neighbour,
    unit_open,
    edge_start,
    edge,
    extra_xy,
    origin,
):
    """Per site the outline of its cells, as ragged arrays of a MultiPolygon per site: points, ring
    offsets, polygon offsets, site offsets."""
    n_sites = len(site_ptr) - 1
    # each site gives its cells and units a mark of its own, so that no flag needs clearing after it:
    # ``in_set[c] == mark``, the cell is in the site's set; ``unit_mark[u] >= 2 * mark``, the unit is
    # met, ``== 2 * mark + 1``, it is whole in the set
    ox, oy = origin[0], origin[1]
    most = 0  # the most stretches of a site
    for s in range(n_sites):
        most = max(most, site_ptr[s + 1] - site_ptr[s])
    units = np.empty(3 * most, dtype=np.int64)  # the site's streets and nodes, in the order met
    unit_span = np.empty((3 * most, 2), dtype=np.int64)  # each one's cells (first, last + 1)
    tested = np.empty(3 * most, dtype=np.int64)  # those on the outline (their place in ``units``)
    border_edge = np.empty(1024, dtype=np.int64)  # the site's edges on its outline
    border_next = np.empty(1024, dtype=np.int64)  # the one after each (an edge, then its place here)
    done = np.zeros(1024, dtype=np.bool_)
    slot_edge = np.empty(2048, dtype=np.int64)  # the hash table: a border edge's number, or -1
    slot_place = np.empty(2048, dtype=np.int64)  # its place in ``border_edge``
    ring_xy = np.empty((4096, 2), dtype=np.float64)  # the site's rings as traced
    ring_end = np.empty(64, dtype=np.int64)
    out_xy = np.empty((4096, 2), dtype=np.float64)
    out_ring = np.zeros(1024, dtype=np.int64)
    out_polygon = np.zeros(256, dtype=np.int64)
    out_site = np.zeros(n_sites + 1, dtype=np.int64)
    n_out_xy = 0
    n_out_ring = 0
    n_out_polygon = 0
    for s in range(n_sites):
        # the site's cells: the nodes reached, the streets reached whole, slices of the others
        # (the rows a few steps ahead are asked for early, in stages, so that they arrive while this
        # one is worked on: the cells are far too many to stay in the cache between sites; the same
        # in the loops below)
        last_mark[0] += 1
        if last_mark[0] > 255:  # the marks start again: every array cleared once in 255 sites
            in_set[:] = 0
            unit_mark[:] = 0
            last_mark[0] = 1
        mark = np.uint8(last_mark[0])
        met, whole_mark = np.uint16(2 * last_mark[0]), np.uint16(2 * last_mark[0] + 1)
        n_listed = 0
        q_end = site_ptr[s + 1]
        for q in range(site_ptr[s], q_end):
            if q + 12 < q_end:
                prefetch(table, street[q + 12])
                prefetch(length, street[q + 12])
            if q + 6 < q_end:
                ahead = street[q + 6]
                prefetch(unit_mark, table[ahead, 0])
                prefetch(in_set, table[ahead, 1])
                for end in range(2):
                    prefetch(unit_mark, table[ahead, 3 + 2 * end])
                    prefetch(in_set, table[ahead, 4 + 2 * end])
            g = street[q]
            whole = length[g]
            u, c0, k = table[g, 0], table[g, 1], table[g, 2]
            lo, hi = start[q], stop[q]
            if unit_mark[u] < met:
                unit_mark[u] = met
                units[n_listed] = u
                unit_span[n_listed, 0], unit_span[n_listed, 1] = c0, c0 + k
                n_listed += 1
            touches = False
            for end in range(2):
                if (lo <= 1e-6) if end == 0 else (hi >= whole - 1e-6):
                    touches = True
                    node, c = table[g, 3 + 2 * end], table[g, 4 + 2 * end]
                    if unit_mark[node] < met:
                        units[n_listed] = node
                        unit_span[n_listed, 0], unit_span[n_listed, 1] = c, c + 1
                        n_listed += 1
                    unit_mark[node] = whole_mark
                    in_set[c] = mark
            if lo <= 1e-6 and hi >= whole - 1e-6:
                unit_mark[u] = whole_mark
                for c in range(c0, c0 + k):
                    in_set[c] = mark
                continue
            # the slices whose middle the stretch reaches (a stretch within one slice: that slice)
            i0 = max(0, int(np.ceil(lo * k / whole - 0.5))) if whole > 0 else 0
            i1 = min(k - 1, int(np.floor(hi * k / whole - 0.5))) if whole > 0 else k - 1
            if i1 < i0 and not touches:
                i0 = min(k - 1, int(0.5 * (lo + hi) * k / whole)) if whole > 0 else 0
                i1 = i0
            for i in range(i0, i1 + 1):
                in_set[c0 + i] = mark
        # the units on the outline: all but those whole in the set with all their neighbours
        n_tested = 0
        n_tested_cells = 0
        for j in range(n_listed):
            if j + 12 < n_listed:
                prefetch(unit_neighbour_start, units[j + 12])
                prefetch(unit_open, units[j + 12])
            if j + 6 < n_listed:
                prefetch(unit_neighbour, unit_neighbour_start[units[j + 6]])
            u = units[j]
            if unit_mark[u] == whole_mark and not unit_open[u]:
                inner = True
                for i in range(unit_neighbour_start[u], unit_neighbour_start[u + 1]):
                    if unit_mark[unit_neighbour[i]] != whole_mark:
                        inner = False
                        break
                if inner:
                    continue
            tested[n_tested] = j
            n_tested += 1
            n_tested_cells += unit_span[j, 1] - unit_span[j, 0]
        # (every array a site's loops write is made big enough before them: an array given anew inside
        # a loop has its count of references kept at every turn of it)
        if n_tested_cells * most_edges > len(border_edge):
            border_edge = grown(border_edge, n_tested_cells * most_edges)
            border_next = grown(border_next, n_tested_cells * most_edges)
        n_ring_points = 0  # what the rings will hold but their closing points
        # their edges with a neighbour outside the set, each with the one after it round the outline
        # (found while the cell is at hand; the neighbours' marks are not asked for ahead: a pass over
        # every edge of the next unit for them cost more than it saved)
        n_border = 0
        for j in range(n_tested):
            if j + 6 < n_tested:
                ahead = unit_span[tested[j + 6], 0]
                prefetch(edge_start, ahead)
                prefetch(in_set, ahead)
            if j + 3 < n_tested:
                c0, c1 = unit_span[tested[j + 3], 0], unit_span[tested[j + 3], 1]
                e0, e1 = edge_start[c0], edge_start[c1]
                for x in range(e0, e1, 4):  # (four edges to a cache line)
                    prefetch(edge, x)
                prefetch(edge, e1 - 1)
            c0, c1 = unit_span[tested[j], 0], unit_span[tested[j], 1]
            for c in range(c0, c1):
                if in_set[c] != mark:
                    continue
                e0, e1 = edge_start[c], edge_start[c + 1]
                for x in range(e0, e1):
                    b = edge[x, 0]
                    if b >= 0 and in_set[b] == mark:
                        continue
                    # the next edge round the cell, or round the site's cells met at its end
                    here = c
                    y = x + 1 if x + 1 < e1 else e0
                    while True:
                        b = edge[y, 0]
                        if b < 0 or in_set[b] != mark:
                            break
                        t = edge_start[b]
                        while edge[t, 0] != here:  # the same border seen from b
                            t += 1
                        y = t + 1 if t + 1 < edge_start[b + 1] else edge_start[b]
                        here = b
                    border_edge[n_border] = x
                    border_next[n_border] = y
                    n_border += 1
                    n_ring_points += 1 + edge[x + 1, 3] - edge[x, 3]
        # the rings: each border edge followed by the next until the first comes round again (the
        # next found by its number in a small hash table of the site's border edges)
        size = 16
        while size < 2 * n_border:
            size *= 2
        if size > len(slot_edge):
            slot_edge = np.empty(size, dtype=np.int64)
            slot_place = np.empty(size, dtype=np.int64)
        slot_edge[:size] = -1
        for i in range(n_border):
            k = _slot(slot_edge, size - 1, border_edge[i])
            slot_edge[k] = border_edge[i]
            slot_place[k] = i
        for i in range(n_border):
            k = _slot(slot_edge, size - 1, border_next[i])
            border_next[i] = slot_place[k] if slot_edge[k] >= 0 else -1  # (-1: none, which cannot happen)
        if len(done) < n_border:
            done = np.zeros(max(n_border, 2 * len(done)), dtype=np.bool_)
        ring_xy = _grow_xy(ring_xy, n_ring_points + n_border)  # (a ring per border edge at most)
        ring_end = grown(ring_end, n_border)
        n_ring_xy = 0
        n_rings = 0
        for i in range(n_border):
            if done[i]:
                continue
            ring_first = n_ring_xy
            j = i
            while j >= 0 and not done[j]:
                done[j] = True
                x = border_edge[j]
                p0, p1 = edge[x, 3], edge[x + 1, 3]
                ring_xy[n_ring_xy, 0] = ox + edge[x, 1] / 1000.0
                ring_xy[n_ring_xy, 1] = oy + edge[x, 2] / 1000.0
                n_ring_xy += 1
                for p in range(p0, p1):
                    ring_xy[n_ring_xy, 0] = ox + extra_xy[p, 0] / 1000.0
                    ring_xy[n_ring_xy, 1] = oy + extra_xy[p, 1] / 1000.0
                    n_ring_xy += 1
                j = border_next[j]
            ring_xy[n_ring_xy, 0] = ring_xy[ring_first, 0]
            ring_xy[n_ring_xy, 1] = ring_xy[ring_first, 1]
            n_ring_xy += 1
            if n_ring_xy - ring_first < 4:  # (a sliver of two points: no ring)
                n_ring_xy = ring_first
                continue
            ring_end[n_rings] = n_ring_xy
            n_rings += 1
        for i in range(n_border):
            done[i] = False
        # shells (anticlockwise) each followed by the holes inside it
        area = np.empty(n_rings)
        for r in range(n_rings):
            area[r] = _area(ring_xy, ring_end[r - 1] if r else 0, ring_end[r])
        shell_of = np.full(n_rings, -1, dtype=np.int64)
        for r in range(n_rings):
            if area[r] >= 0:
                continue
            s0 = ring_end[r - 1] if r else 0
            px, py = ring_xy[s0, 0], ring_xy[s0, 1]
            best = -1
            for h in range(n_rings):
                smaller = area[h] > 0 and (best < 0 or area[h] < area[best])  # the innermost shell round it
                if smaller and _inside(ring_xy, ring_end[h - 1] if h else 0, ring_end[h], px, py):
                    best = h
            shell_of[r] = best
        need = n_out_xy + n_ring_xy
        if need > len(out_xy):  # as many points again for each site to come as so far (8 times at most)
            need = max(need, min(need * n_sites // (s + 1), 8 * need))
        out_xy = _grow_xy(out_xy, need)
        out_ring = grown(out_ring, n_out_ring + n_rings + 1)
        out_polygon = grown(out_polygon, n_out_polygon + n_rings + 1)
        for h in range(n_rings):
            if area[h] <= 0:
                continue
            for j in range(-1, n_rings):
                r = h if j < 0 else j
                if j >= 0 and shell_of[r] != h:
                    continue
                s0, e0 = (ring_end[r - 1] if r else 0), ring_end[r]
                for p in range(s0, e0):
                    out_xy[n_out_xy, 0] = ring_xy[p, 0]
                    out_xy[n_out_xy, 1] = ring_xy[p, 1]
                    n_out_xy += 1
                n_out_ring += 1
                out_ring[n_out_ring] = n_out_xy
            n_out_polygon += 1
            out_polygon[n_out_polygon] = n_out_ring
        out_site[s + 1] = n_out_polygon
    return out_xy[:n_out_xy], out_ring[: n_out_ring + 1], out_polygon[: n_out_polygon + 1], out_site


def warm() -> None:
    """Compile the division and the outlines now (see :func:`geo_service.walks.warm`)."""
    nodes = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 100.0]])
    u, v = np.array([0, 1]), np.array([1, 2])

    def along(street: np.ndarray, metres: np.ndarray) -> np.ndarray:
        return np.where(
            street[:, None] == 0,
            np.column_stack([metres, 0 * metres]),
            np.column_stack([100 + 0 * metres, metres]),
        )

    cells = street_cells(nodes, u, v, along, np.array([100.0, 100.0]), width=40.0, spacing=20.0)
    outlines(cells, 1, np.array([0, 0]), np.array([0, 1]), np.array([0.0, 0.0]), np.array([100.0, 50.0]))
