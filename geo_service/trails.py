"""Reached stretches of street joined into long lines, compiled with numba.

A service area's linework is some thousand stretches per site. GEOS pays for every line it makes, so
a site's stretches are joined end to end where they meet at a junction, into trails that run through
junctions (any two stretches meeting there may be joined: the linework covers the same streets either
way). A grid's service area is then a few dozen lines, not a thousand; a stretch cut where the walk
runs out ends its trail.
"""

from __future__ import annotations

import numpy as np

from geo_service.walks import compiled, prefetch

__all__ = ["stretch_vertices", "trails"]


@compiled
def _point_at(first, last, along, coords, at, out, w):  # type: ignore[no-untyped-def]
    """``out[w]``: the point ``at`` metres along the street whose vertices are ``first..last``."""
    k = first  # the last vertex at or before it, on the street's last edge at the latest
    while k + 1 < last and along[k + 1] <= at:
        k += 1
    t = min(max((at - along[k]) / max(along[k + 1] - along[k], 1e-12), 0.0), 1.0)
    out[w, 0] = coords[k, 0] + t * (coords[k + 1, 0] - coords[k, 0])
    out[w, 1] = coords[k, 1] + t * (coords[k + 1, 1] - coords[k, 1])


@compiled
def _stretch_vertices(seg, a, b, vertex_start, along, coords, seg_u, seg_v):  # type: ignore[no-untyped-def]
    """``stretch_vertices`` on arrays of the exact types it names."""
    n = len(seg)
    offsets = np.empty(n + 1, dtype=np.int64)
    start_node = np.empty(n, dtype=np.int64)
    end_node = np.empty(n, dtype=np.int64)
    offsets[0] = 0
    for p in range(n):  # how many vertices each has: its ends and the street's vertices between them
        if p + 16 < n:  # (the streets are far apart in memory: asked for early)
            prefetch(vertex_start, seg[p + 16])
            prefetch(seg_u, seg[p + 16])
            prefetch(seg_v, seg[p + 16])
        if p + 8 < n:
            ahead = vertex_start[seg[p + 8]]
            prefetch(along, ahead)
            prefetch(coords, ahead)
        g = seg[p]
        first, last = vertex_start[g], vertex_start[g + 1] - 1
        count = 2
        for v in range(first + 1, last):
            if a[p] < along[v] < b[p]:
                count += 1
        offsets[p + 1] = offsets[p] + count
        # a micrometre short of an end is the end (the node itself)
        start_node[p] = seg_u[g] if a[p] <= 1e-6 else -1
        end_node[p] = seg_v[g] if b[p] >= along[last] - 1e-6 else -1
    xy = np.empty((offsets[n], 2))
    for p in range(n):
        if p + 16 < n:  # (out of the nearer caches again by now)
            prefetch(vertex_start, seg[p + 16])
        if p + 8 < n:
            ahead = vertex_start[seg[p + 8]]
            prefetch(along, ahead)
            prefetch(coords, ahead)
        g = seg[p]
        first, last = vertex_start[g], vertex_start[g + 1] - 1
        w = offsets[p]
        if start_node[p] >= 0:
            xy[w, 0], xy[w, 1] = coords[first, 0], coords[first, 1]
        else:
            _point_at(first, last, along, coords, a[p], xy, w)
        w += 1
        for v in range(first + 1, last):
            if a[p] < along[v] < b[p]:
                xy[w, 0], xy[w, 1] = coords[v, 0], coords[v, 1]
                w += 1
        if end_node[p] >= 0:
            xy[w, 0], xy[w, 1] = coords[last, 0], coords[last, 1]
        else:
            _point_at(first, last, along, coords, b[p], xy, w)
    return xy, offsets, start_node, end_node


def stretch_vertices(
    seg: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    vertex_start: np.ndarray,
    along: np.ndarray,
    coords: np.ndarray,
    seg_u: np.ndarray,
    seg_v: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The parts ``a[p]..b[p]`` (metres from the start) of streets ``seg[p]``, cut out of the streets'
    vertices.

    Street ``g``'s vertices are ``coords[vertex_start[g]:vertex_start[g + 1]]``, at ``along`` metres from
    its start; it runs from node ``seg_u[g]`` to ``seg_v[g]``.

    Returns
    -------
    xy, offsets, start_node, end_node
        Each part's vertices in order, ragged (part ``p``'s are ``xy[offsets[p]:offsets[p + 1]]``): its
        ends, where the walk is cut at them, and the street's vertices strictly between. Per part the
        node it starts and ends on, or -1 where it is cut between nodes (a micrometre short of a node is
        on it).
    """
    return _stretch_vertices(  # type: ignore[no-any-return]
        np.ascontiguousarray(seg, dtype=np.int64),
        np.ascontiguousarray(a, dtype=np.float64),
        np.ascontiguousarray(b, dtype=np.float64),
        np.ascontiguousarray(vertex_start, dtype=np.int64),
        np.ascontiguousarray(along, dtype=np.float64),
        np.ascontiguousarray(coords, dtype=np.float64),
        np.ascontiguousarray(seg_u, dtype=np.int64),
        np.ascontiguousarray(seg_v, dtype=np.int64),
    )


@compiled
def _next_free(head, follow, used, node):  # type: ignore[no-untyped-def]
    """The first end at ``node`` of a stretch not yet in a trail (-1: none); used ones are dropped."""
    e = head[node]
    while e >= 0 and used[e >> 1]:
        e = follow[e]
    head[node] = e
    return e


@compiled
def _extend(head, follow, used, starts, ends, node, forwards, chain, flips):  # type: ignore[no-untyped-def]
    """Follow unused stretches from ``node`` for as long as there are any: ``chain`` and ``flips``
    filled with them in the order met (``forwards``: each leaves the node it is met at; else each
    arrives there); their number."""
    n = 0
    while node >= 0:
        e = _next_free(head, follow, used, node)
        if e < 0:
            break
        q, at_end = e >> 1, (e & 1) == 1
        used[q] = True
        # going forwards a stretch whose end is at the node runs backwards, and going backwards one whose
        # start is
        flip = at_end if forwards else not at_end
        chain[n] = q
        flips[n] = flip
        n += 1
        node = starts[q] if at_end else ends[q]
    return n


@compiled
def _trails(site_ptr, starts, ends, n_nodes, offsets, xy):  # type: ignore[no-untyped-def]
    """``trails`` on arrays of the exact types it names."""
    n = len(starts)
    head = np.full(n_nodes, -1, dtype=np.int64)
    follow = np.empty(
        2 * n, dtype=np.int64
    )  # per stretch end (2 × stretch + 0 start, 1 end): the next at its node
    used = np.zeros(n, dtype=np.bool_)
    order = np.empty(n, dtype=np.int64)
    flipped = np.empty(n, dtype=np.bool_)
    trail_ptr = np.zeros(n + 1, dtype=np.int64)  # in stretches
    site_trails = np.zeros(len(site_ptr), dtype=np.int64)
    back, back_flips = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.bool_)
    w, t = 0, 0
    for s in range(len(site_ptr) - 1):
        lo, hi = site_ptr[s], site_ptr[s + 1]
        for p in range(lo, hi):
            for side in range(2):
                node = starts[p] if side == 0 else ends[p]
                if node >= 0:
                    follow[2 * p + side] = head[node]
                    head[node] = 2 * p + side
        for p in range(lo, hi):
            if used[p]:
                continue
            used[p] = True
            nb = _extend(head, follow, used, starts, ends, starts[p], False, back, back_flips)
            for k in range(nb):  # met going backwards: written last first
                order[w] = back[nb - 1 - k]
                flipped[w] = back_flips[nb - 1 - k]
                w += 1
            order[w] = p
            flipped[w] = False
            w += 1
            w += _extend(head, follow, used, starts, ends, ends[p], True, order[w:], flipped[w:])
            t += 1
            trail_ptr[t] = w
        for p in range(lo, hi):
            if starts[p] >= 0:
                head[starts[p]] = -1
            if ends[p] >= 0:
                head[ends[p]] = -1
        site_trails[s + 1] = t
    # the trails' vertices: each stretch's, reversed where it runs backwards, a junction once
    n_xy = 0
    for k in range(t):
        for j in range(trail_ptr[k], trail_ptr[k + 1]):
            q = order[j]
            n_xy += offsets[q + 1] - offsets[q] - (0 if j == trail_ptr[k] else 1)
    out = np.empty((n_xy, 2))
    out_offsets = np.zeros(t + 1, dtype=np.int64)
    v = 0
    for k in range(t):
        for j in range(trail_ptr[k], trail_ptr[k + 1]):
            q = order[j]
            a, b = offsets[q], offsets[q + 1]
            skip = 0 if j == trail_ptr[k] else 1
            for i in range(skip, b - a):
                src = b - 1 - i if flipped[j] else a + i
                out[v, 0] = xy[src, 0]
                out[v, 1] = xy[src, 1]
                v += 1
        out_offsets[k + 1] = v
    return out, out_offsets, site_trails


def trails(
    site_ptr: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    n_nodes: int,
    offsets: np.ndarray,
    xy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stretches joined into trails where they meet at nodes, site by site.

    Parameters
    ----------
    site_ptr
        Site ``s`` has stretches ``site_ptr[s]:site_ptr[s + 1]``.
    starts, ends
        Per stretch the node its first and last vertex lie on, or -1 where it ends between nodes (a
        stretch cut where the walk runs out); nodes lie in ``0..n_nodes - 1``.
    offsets, xy
        The stretches' vertices, ragged: stretch ``p``'s are ``xy[offsets[p]:offsets[p + 1]]``, its
        ends on exactly its nodes' coordinates where it has them.

    Returns
    -------
    xy, offsets, site_offsets
        The trails' vertices and, ragged, each trail's and each site's trails (as
        ``shapely.from_ragged_array`` takes a MultiLineString's).
    """
    return _trails(  # type: ignore[no-any-return]
        np.ascontiguousarray(site_ptr, dtype=np.int64),
        np.ascontiguousarray(starts, dtype=np.int64),
        np.ascontiguousarray(ends, dtype=np.int64),
        int(n_nodes),
        np.ascontiguousarray(offsets, dtype=np.int64),
        np.ascontiguousarray(xy, dtype=np.float64),
    )
