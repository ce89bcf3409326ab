"""Reached stretches of street joined into long lines, compiled with numba.

A service area's linework is some thousand stretches per site. GEOS pays for every line it makes, so
a site's stretches are joined end to end where they meet at a junction, into trails that run through
junctions (any two stretches meeting there may be joined: the linework covers the same streets either
way). A grid's service area is then a few dozen lines, not a thousand; a stretch cut where the walk
runs out ends its trail.
"""

from __future__ import annotations

import numpy as np

from geo_service.walks import compiled

__all__ = ["trails"]


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
