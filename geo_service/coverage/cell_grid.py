"""Beats laid on a grid of square cells, for the batch membership look-up (:mod:`.membership`).

Each cell is told apart as lying wholly inside one beat, outside every beat, or needing an exact test
(an edge crosses it, or beats overlap there: its candidate beats are listed). The edges are laid on
the grid in pieces no longer than a cell, each marking the cells its bounds meet, widened by a
micrometre (or a road beat's reach), so that no cell an edge comes near is missed; a cell no edge
meets is inside the beats that hold its centre, found by counting the edges a row of centres crosses
(even–odd, holes and parts included). No geometry library is called per cell.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo_service.walks import compiled, grown

__all__ = ["Edges", "classify", "edges_of", "near", "warm"]

_EPS = 1e-6  # metres: how far past its bounds an edge piece marks cells (rounding of a coordinate)

Edges = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def edges_of(geoms: np.ndarray) -> Edges:
    """The straight edges of ``geoms`` (polygons: their rings; lines: their parts) as (x0, y0, x1, y1,
    start), each geometry's edges in a run from ``start[i]`` to ``start[i + 1]``."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    polygonal = np.isin(shapely.get_type_id(parts), [3])
    lines = np.empty(len(parts), dtype=object)
    lines[~polygonal] = parts[~polygonal]
    owners = [owner[~polygonal]]
    if polygonal.any():
        rings, ring_part = shapely.get_rings(parts[polygonal], return_index=True)
        lines = np.concatenate([lines[~polygonal], rings])
        owners.append(owner[polygonal][ring_part])
    else:
        lines = lines[~polygonal]
    line_owner = np.concatenate(owners)
    order = np.argsort(line_owner, kind="stable")
    xy, which = shapely.get_coordinates(lines[order], return_index=True)
    same = which[1:] == which[:-1]  # consecutive points of one line or ring: an edge
    x0, y0, x1, y1 = xy[:-1, 0][same], xy[:-1, 1][same], xy[1:, 0][same], xy[1:, 1][same]
    edge_owner = line_owner[order][which[:-1][same]]
    start = np.searchsorted(edge_owner, np.arange(len(geoms) + 1))
    return x0, y0, x1, y1, start


def classify(
    edges: Edges, origin: tuple[float, float], size: float, shape: tuple[int, int], rank: np.ndarray, sub: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: the one polygon it lies in wholly (its index in ``edges``), -1 (none) or -2 (an edge
    crosses it, or polygons overlap there), and for the -2 cells their candidate polygons (CSR:
    pointer, polygon indices).

    The cells are those of the grid at ``origin`` with ``shape`` (rows, columns) of side ``size``
    each split into ``sub`` × ``sub`` (``sub`` = 1: the grid's own cells): of the grid cell ``c`` those
    with ``rank[c]`` ≥ 0, numbered ``rank[c] * sub² + row * sub + column`` within it."""
    x0, y0, x1, y1, start = edges
    n = int(rank.max(initial=-1) + 1) * sub * sub
    return _classify(x0, y0, x1, y1, start, origin[0], origin[1], size, shape[0], shape[1], rank, sub, n)


def near(
    edges: Edges, origin: tuple[float, float], size: float, shape: tuple[int, int], reach: float
) -> np.ndarray:
    """Per cell of the grid, whether a line (``edges``) comes within ``reach`` of it (a few cells a
    little further may be marked too, never one nearer)."""
    x0, y0, x1, y1, _ = edges
    ny, nx = shape
    marks = np.zeros(ny * nx, dtype=np.bool_)
    _near(x0, y0, x1, y1, origin[0], origin[1], size, ny, nx, reach + _EPS, marks)
    return marks


@compiled
def _near(x0, y0, x1, y1, ox, oy, size, ny, nx, grow, marks):  # type: ignore[no-untyped-def]
    for e in range(len(x0)):
        pieces = _pieces(x0[e], y0[e], x1[e], y1[e], size)
        for i in range(pieces):
            r0, r1, c0, c1 = _piece(x0[e], y0[e], x1[e], y1[e], i, pieces, grow, ox, oy, size, ny, nx)
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    marks[r * nx + c] = True


@compiled(inline=True)
def _pieces(x0, y0, x1, y1, size):  # type: ignore[no-untyped-def]
    """Into how many pieces of at most ``size`` the edge is cut."""
    return max(1, int(np.ceil(np.hypot(x1 - x0, y1 - y0) / size)))


@compiled(inline=True)
def _piece(x0, y0, x1, y1, i, pieces, grow, ox, oy, size, ny, nx):  # type: ignore[no-untyped-def]
    """The rows and columns of cells (first, last of each) that piece ``i`` of an edge cut into
    ``pieces`` meets, its bounds widened by ``grow``."""
    ax, ay = x0 + (x1 - x0) * (i / pieces), y0 + (y1 - y0) * (i / pieces)
    bx, by = x0 + (x1 - x0) * ((i + 1) / pieces), y0 + (y1 - y0) * ((i + 1) / pieces)
    c0, c1 = _span(min(ax, bx) - grow, max(ax, bx) + grow, ox, size, nx)
    r0, r1 = _span(min(ay, by) - grow, max(ay, by) + grow, oy, size, ny)
    return r0, r1, c0, c1


@compiled(inline=True)
def _span(lo, hi, o, size, n):  # type: ignore[no-untyped-def]
    """The cells (first, last; first > last when none) of a row of ``n`` from ``o`` meeting [lo, hi]."""
    a = max(0, int(np.floor((lo - o) / size)))
    b = min(n - 1, int(np.floor((hi - o) / size)))
    return a, b


@compiled
def _classify(x0, y0, x1, y1, start, ox, oy, size, ny, nx, rank, sub, n):  # type: ignore[no-untyped-def]
    fine = size / sub
    fnx, fny = nx * sub, ny * sub
    last = np.full(n, -1, dtype=np.int64)  # per cell: the last polygon that met it
    touched = np.zeros(n, dtype=np.bool_)
    inside = np.zeros(n, dtype=np.int32)  # polygons holding the cell's centre (and meeting no edge)
    held = np.full(n, -1, dtype=np.int32)
    pair_cell = np.empty(1024, dtype=np.int64)
    pair_poly = np.empty(1024, dtype=np.int64)
    n_pairs = 0
    cross_x = np.empty(64)
    cross_row = np.empty(64, dtype=np.int64)
    row_x = np.empty(64)
    for p in range(len(start) - 1):
        e0, e1 = start[p], start[p + 1]
        if e0 == e1:
            continue
        # the cells each edge meets: candidates, never wholly inside or outside
        for e in range(e0, e1):
            pieces = _pieces(x0[e], y0[e], x1[e], y1[e], fine)
            for i in range(pieces):
                r0, r1, c0, c1 = _piece(x0[e], y0[e], x1[e], y1[e], i, pieces, _EPS, ox, oy, fine, fny, fnx)
                for r in range(r0, r1 + 1):
                    for c in range(c0, c1 + 1):
                        k = _cell(rank, nx, sub, r, c)
                        if k < 0 or last[k] == p:
                            continue
                        last[k] = p
                        touched[k] = True
                        pair_cell, pair_poly, n_pairs = _pair(pair_cell, pair_poly, n_pairs, k, p)
        # the rows of centres each edge crosses (a centre row at an edge's lower end counts, at its
        # upper end not: a vertex is crossed once, or twice at a turn)
        n_cross = 0
        for e in range(e0, e1):
            lo, hi = min(y0[e], y1[e]), max(y0[e], y1[e])
            first = max(0, int(np.ceil((lo - oy) / fine - 0.5)))
            stop = min(fny, int(np.ceil((hi - oy) / fine - 0.5)))
            if stop > first and n_cross + stop - first > len(cross_x):
                cross_x = grown(cross_x, 2 * (n_cross + stop - first))
                cross_row = grown(cross_row, 2 * (n_cross + stop - first))
            for r in range(first, stop):
                yc = oy + (r + 0.5) * fine
                cross_x[n_cross] = x0[e] + (yc - y0[e]) * (x1[e] - x0[e]) / (y1[e] - y0[e])
                cross_row[n_cross] = r
                n_cross += 1
        # by row (rows counted, then placed), and along each row by x (a handful: inserted in order)
        row_lo, row_hi = fny, -1
        for i in range(n_cross):
            row_lo, row_hi = min(row_lo, cross_row[i]), max(row_hi, cross_row[i])
        if n_cross == 0:
            continue
        per_row = np.zeros(row_hi - row_lo + 2, dtype=np.int64)
        for i in range(n_cross):
            per_row[cross_row[i] - row_lo + 1] += 1
        for i in range(len(per_row) - 1):
            per_row[i + 1] += per_row[i]
        if len(row_x) < n_cross:
            row_x = np.empty(2 * n_cross)
        put = per_row[:-1].copy()
        for i in range(n_cross):
            r = cross_row[i] - row_lo
            k = put[r]
            while k > per_row[r] and row_x[k - 1] > cross_x[i]:
                row_x[k] = row_x[k - 1]
                k -= 1
            row_x[k] = cross_x[i]
            put[r] += 1
        # between the first and second crossing of a row, the third and fourth, …: centres inside
        for r in range(row_hi - row_lo + 1):
            for j in range(per_row[r], per_row[r + 1] - 1, 2):
                c0 = max(0, int(np.ceil((row_x[j] - ox) / fine - 0.5)))
                c1 = min(fnx, int(np.ceil((row_x[j + 1] - ox) / fine - 0.5)))
                for c in range(c0, c1):
                    k = _cell(rank, nx, sub, r + row_lo, c)
                    if k < 0 or last[k] == p:  # (met by the polygon's edge: listed already)
                        continue
                    inside[k] += 1
                    held[k] = p
                    pair_cell, pair_poly, n_pairs = _pair(pair_cell, pair_poly, n_pairs, k, p)
    state = np.full(n, -1, dtype=np.int32)
    count = np.zeros(n + 1, dtype=np.int64)
    for k in range(n):
        if touched[k] or inside[k] > 1:
            state[k] = -2
        elif inside[k] == 1:
            state[k] = held[k]
    for i in range(n_pairs):
        if state[pair_cell[i]] == -2:
            count[pair_cell[i] + 1] += 1
    for k in range(n):
        count[k + 1] += count[k]
    cand = np.empty(count[n], dtype=np.int64)
    fill = count[:n].copy()
    for i in range(n_pairs):
        k = pair_cell[i]
        if state[k] == -2:
            cand[fill[k]] = pair_poly[i]
            fill[k] += 1
    return state, count, cand


@compiled(inline=True)
def _pair(pair_cell, pair_poly, n_pairs, k, p):  # type: ignore[no-untyped-def]
    """Cell ``k`` and polygon ``p`` listed (the lists made longer when full), and their new count."""
    if n_pairs == len(pair_cell):
        pair_cell, pair_poly = grown(pair_cell, 2 * n_pairs), grown(pair_poly, 2 * n_pairs)
    pair_cell[n_pairs] = k
    pair_poly[n_pairs] = p
    return pair_cell, pair_poly, n_pairs + 1


@compiled(inline=True)
def _cell(rank, nx, sub, r, c):  # type: ignore[no-untyped-def]
    """The number of the fine cell at row ``r``, column ``c`` (-1 when its grid cell is not ranked)."""
    g = rank[(r // sub) * nx + c // sub]
    if g < 0:
        return -1
    return g * sub * sub + (r % sub) * sub + c % sub


def warm() -> None:
    """Compile the grid's laying-out now (see :func:`geo_service.walks.warm`)."""
    square = np.array([shapely.box(0.0, 0.0, 3.0, 3.0)], dtype=object)
    edges = edges_of(square)
    classify(edges, (0.0, 0.0), 1.0, (4, 4), np.arange(16), 1)
    near(edges, (0.0, 0.0), 1.0, (4, 4), 1.0)
