"""Bounded shortest-path searches from each of many points, compiled with numba.

A service area needs, per site, the few hundred nodes within its reach of a network of a hundred
thousand or a million. scipy's ``dijkstra`` pays for the whole graph on every call (its arrays are the
graph's size); the searches here touch only what each site reaches. The cost array is the network's,
set back to "unreached" node by node after each search, and the reached streets are read off as the
search ends, while its nodes are still in the cache. A node's row of arcs is asked for from memory
when it is first reached (:func:`prefetch`), so that it has arrived by the time the node is settled.

The answer equals ``scipy.sparse.csgraph.dijkstra(..., limit=max_cost)`` from the same starts
(``tests/test_walks.py``); ``reach.service_areas`` turns it into stretches of street. The nearest site
from a point on a street, given each node's nearest (:func:`nearest_from_ends`, for
``reach.NearestSites``), is compiled here too: who-covers asks it for one point at a time.

Compiled code is cached where numba can write (beside this file, or ``NUMBA_CACHE_DIR``: the systemd
unit points it at the service's state directory); where it can write nowhere, each process compiles
its own, a few seconds on the first search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["compiled", "cut_streets", "grown", "nearest_from_ends", "prefetch", "reached_streets", "warm"]


def compiled(function: Callable[..., Any] | None = None, *, inline: bool = False) -> Any:
    """``function`` compiled (releasing the GIL), cached if numba finds a writable place for it. With
    ``inline`` (``@compiled(inline=True)``) its body is put into the compiled functions that call it:
    for a small function called in a hot loop, whose arrays would otherwise be handed over field by
    field at each call."""

    def compile_it(f: Callable[..., Any]) -> Any:
        options: dict[str, Any] = {"nogil": True, "inline": "always" if inline else "never"}
        try:
            return njit(cache=True, **options)(f)
        except RuntimeError:  # "cannot cache function …: no locator available": compile in each process
            return njit(**options)(f)

    return compile_it if function is None else compile_it(function)


@intrinsic
def prefetch(typingctx, array, index):  # type: ignore[no-untyped-def]
    """In compiled code: ask for the cache line of ``array[index]`` (its first element along the further
    axes) ahead of its use, without waiting for it (LLVM's ``llvm.prefetch``, for reading, kept in all
    caches). It changes no value and cannot fault, so a row a loop will need some steps on can be asked
    for now. The index is not checked: give one inside the array."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        array_type, index_type = signature.args
        data = context.make_array(array_type)(context, builder, args[0])
        where = [context.cast(builder, args[1], index_type, types.intp)]
        where += [context.get_constant(types.intp, 0)] * (array_type.ndim - 1)
        pointer = cgutils.get_item_pointer2(
            context,
            builder,
            data.data,
            cgutils.unpack_tuple(builder, data.shape),
            cgutils.unpack_tuple(builder, data.strides),
            array_type.layout,
            where,
            wraparound=False,
            boundscheck=False,
        )
        opaque = getattr(pointer.type, "is_opaque", False)  # (LLVM 15 and later; llvmlite 0.44)
        if not opaque:
            pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32]),
            "llvm.prefetch.p0" if opaque else "llvm.prefetch.p0i8",
        )
        # read (0), keep in all levels of cache (3), data (1)
        builder.call(function, [pointer, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@compiled(inline=True)
def _push(heap_cost, heap_node, size, cost, node):  # type: ignore[no-untyped-def]
    """Add ``node`` at ``cost`` to the heap of ``size`` entries; the new size. The heap is 4-ary: entry
    ``i``'s children are ``4i + 1`` to ``4i + 4``, so that a search's heap is half as deep as a binary
    one and a node's children share a cache line or two (about a tenth off the walks)."""
    i = size
    while i > 0:
        parent = (i - 1) >> 2
        if heap_cost[parent] <= cost:
            break
        heap_cost[i] = heap_cost[parent]
        heap_node[i] = heap_node[parent]
        i = parent
    heap_cost[i] = cost
    heap_node[i] = node
    return size + 1


@compiled(inline=True)
def _pop(heap_cost, heap_node, size):  # type: ignore[no-untyped-def]
    """Take the cheapest entry off the heap: (its cost, its node, the new size)."""
    cost, node = heap_cost[0], heap_node[0]
    size -= 1
    last_cost, last_node = heap_cost[size], heap_node[size]
    i = 0
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        child, least = first, heap_cost[first]
        for k in range(first + 1, min(first + 4, size)):
            if heap_cost[k] < least:
                child, least = k, heap_cost[k]
        if least >= last_cost:
            break
        heap_cost[i] = heap_cost[child]
        heap_node[i] = heap_node[child]
        i = child
    heap_cost[i] = last_cost
    heap_node[i] = last_node
    return cost, node, size


@compiled
def _search(indptr, target, cost, street, dist, heap_cost, heap_node, settled, starts, start_costs, max_cost):  # type: ignore[no-untyped-def]
    """One search from ``starts`` (at ``start_costs``): ``dist`` of every node within ``max_cost``,
    those nodes listed in ``settled``; their number. ``dist`` is all ``inf`` before. (``street``, the
    arcs' streets, is only asked for from memory here: the reached streets are read off it next.)"""
    size = 0
    for j in range(len(starts)):
        c = start_costs[j]
        if c <= max_cost and c < dist[starts[j]]:
            dist[starts[j]] = c
            size = _push(heap_cost, heap_node, size, c, starts[j])
    n_settled = 0
    while size > 0:
        d, u, size = _pop(heap_cost, heap_node, size)
        if d > dist[u]:  # an older, dearer entry of a node settled already
            continue
        settled[n_settled] = u
        n_settled += 1
        if size > 0:  # the arcs of the node settled next, most likely (its row was asked for when pushed)
            following = indptr[heap_node[0]]
            prefetch(target, following)
            prefetch(cost, following)
            prefetch(street, following)
        for a in range(indptr[u], indptr[u + 1]):
            t = target[a]
            c = d + cost[a]
            if c <= max_cost and c < dist[t]:
                dist[t] = c
                prefetch(indptr, t)
                size = _push(heap_cost, heap_node, size, c, t)
    return n_settled


@compiled
def _reached_streets(indptr, target, cost, street, starts, start_costs, start_ptr, max_cost):  # type: ignore[no-untyped-def]
    """``reached_streets`` on arrays of the exact types it names."""
    n_nodes = len(indptr) - 1
    n_points = len(start_ptr) - 1
    dist = np.full(n_nodes, np.inf)
    # every arc is looked at once a search at most, so a search pushes at most this many entries
    heap_cost = np.empty(len(target) + len(starts) + 1)
    heap_node = np.empty(len(target) + len(starts) + 1, dtype=np.int32)
    settled = np.empty(n_nodes, dtype=np.int32)
    point = np.empty(1024, dtype=np.int32)
    streets, here, there = np.empty(1024, dtype=np.int32), np.empty(1024), np.empty(1024)
    w = 0
    for p in range(n_points):
        lo, hi = start_ptr[p], start_ptr[p + 1]
        n_settled = _search(
            indptr,
            target,
            cost,
            street,
            dist,
            heap_cost,
            heap_node,
            settled,
            starts[lo:hi],
            start_costs[lo:hi],
            max_cost,
        )
        most = w  # the rows so far and the arcs out of the nodes settled: room enough for its rows
        for q in range(n_settled):
            most += indptr[settled[q] + 1] - indptr[settled[q]]
        if most > len(point):  # as many rows again for each point to come as so far (8 times at most)
            most = max(most, min(most * n_points // (p + 1), 8 * most))
        # (grown here, between the walks: an array given anew inside a loop has its count of
        # references kept by numba at every turn of the loop)
        point, streets, here, there = (
            grown(point, most),
            grown(streets, most),
            grown(here, most),
            grown(there, most),
        )
        for q in range(n_settled):
            u = settled[q]
            for a in range(indptr[u], indptr[u + 1]):
                far = dist[target[a]]
                if street[a] >= 0 or far == np.inf:
                    point[w], streets[w], here[w], there[w] = p, street[a], dist[u], far
                    w += 1
        for q in range(n_settled):
            dist[settled[q]] = np.inf
    return point[:w], streets[:w], here[:w], there[:w]


@compiled
def grown(values, need):  # type: ignore[no-untyped-def]
    """``values`` itself when it holds ``need`` items, else copied into an array of at least that many
    (twice as many as before, so that growing item by item costs little)."""
    if need <= len(values):
        return values
    bigger = np.empty(max(need, 2 * len(values)), dtype=values.dtype)
    bigger[: len(values)] = values
    return bigger


def reached_streets(
    indptr: np.ndarray,
    target: np.ndarray,
    cost: np.ndarray,
    street: np.ndarray,
    starts: np.ndarray,
    start_costs: np.ndarray,
    start_ptr: np.ndarray,
    max_cost: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The streets reached from each point within ``max_cost``, once per point.

    Parameters
    ----------
    indptr, target, cost
        The graph in CSR form: node ``u``'s arcs are ``indptr[u]:indptr[u + 1]``, each leading to
        ``target`` at ``cost`` (not negative). One arc per street and direction it can be taken in.
    street
        Per arc its street, as ``~street`` (negative) for the arc that runs from the street's v end to
        its u end.
    starts, start_costs, start_ptr
        Point ``p`` starts at nodes ``starts[start_ptr[p]:start_ptr[p + 1]]``, having spent
        ``start_costs`` to get there (a point with no start reaches nothing).
    max_cost
        How far a walk goes; a node exactly this far is reached, as with scipy's ``limit``.

    Returns
    -------
    point, street, here, there
        Per street reached from a point: the point, the street, the cost to the end it is entered at
        and to its other end (``inf`` when that end is not reached). A street reached at its u end is
        given once, as entered there; one reached only at its v end is given as ``~street``.
    """
    n_nodes = len(indptr) - 1
    starts = np.ascontiguousarray(starts, dtype=np.int32)
    if len(starts) and (starts.min() < 0 or starts.max() >= n_nodes):
        raise ValueError(f"start nodes must lie in 0..{n_nodes - 1}")
    return _reached_streets(  # type: ignore[no-any-return]
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(target, dtype=np.int32),
        np.ascontiguousarray(cost, dtype=np.float64),
        np.ascontiguousarray(street, dtype=np.int32),
        starts,
        np.ascontiguousarray(start_costs, dtype=np.float64),
        np.ascontiguousarray(start_ptr, dtype=np.int64),
        float(max_cost),
    )


@compiled
def _cut_streets(
    row, street, here, there, seg_len, seg_cost, seg_twoway, own, offset, lead, max_cost, walking
):  # type: ignore[no-untyped-def]
    n, k = len(row), len(own)
    out_row = np.empty(2 * n + 3 * k, dtype=np.int64)
    out_seg = np.empty(2 * n + 3 * k, dtype=np.int64)
    out_start = np.empty(2 * n + 3 * k)
    out_stop = np.empty(2 * n + 3 * k)
    came_u = np.zeros(k)
    came_v = np.zeros(k)
    a_of = np.empty(n)
    b_of = np.empty(n)
    length_of = np.empty(n)  # (read again below in order, not from seg_len at random)
    for i in range(n):
        if i + 16 < n:  # (the streets are far apart in memory: their lengths asked for early)
            ahead = street[i + 16] if street[i + 16] >= 0 else ~street[i + 16]
            prefetch(seg_len, ahead)
            if not walking:
                prefetch(seg_cost, ahead)
                prefetch(seg_twoway, ahead)
        forwards = street[i] >= 0
        g = street[i] if forwards else ~street[i]
        length = seg_len[g]
        # inf - inf and 0 × inf are NaN: read as "all of it" (a) or "nowhere" (b)
        a, b = max_cost - here[i], max_cost - there[i]
        if not walking:  # walking costs are metres already
            to_m = length / max(seg_cost[g], 1e-9)
            a = a * to_m
            b = b * to_m if seg_twoway[g] else -np.inf
        a = length if np.isnan(a) else min(a, length)
        b = 0.0 if np.isnan(b) else min(max(b, 0.0), length)
        a_of[i], b_of[i], length_of[i] = a, b, length
        if g == own[row[i]]:  # the point's own street: what comes back round to it from its ends
            came_u[row[i]] = a if forwards else 0.0
            came_v[row[i]] = b if forwards else a
    m = 0
    run = 0  # the rows of one point at a time (the walk gives each point's rows together)
    span_lo = np.empty(3)
    span_hi = np.empty(3)
    for p in range(k):
        run_end = run
        while run_end < n and row[run_end] == p:
            run_end += 1
        m = _cut_run(
            row, street, length_of, own, a_of, b_of, run, run_end, out_row, out_seg, out_start, out_stop, m
        )
        run = run_end
        # the point's own street after its others: the stretch either side of the point, merged with
        # what comes back round from its ends
        g = own[p]
        total = seg_len[g]
        either = max(max_cost - lead[p], 0.0) * total / max(seg_cost[g], 1e-9)
        off = offset[p]
        span_lo[0] = max(0.0, off - either) if seg_twoway[g] else off  # one-way: ahead only
        span_hi[0] = min(total, off + either)
        span_lo[1], span_hi[1] = 0.0, came_u[p]
        span_lo[2], span_hi[2] = total - came_v[p], total
        m = _union_of_spans(span_lo, span_hi, p, g, out_row, out_seg, out_start, out_stop, m)
    return out_row[:m], out_seg[:m], out_start[:m], out_stop[:m]


@compiled
def _union_of_spans(lo, hi, p, g, out_row, out_seg, out_start, out_stop, m):  # type: ignore[no-untyped-def]
    """The union of the spans ``lo[i]:hi[i]`` of street ``g`` (empty ones left out, touching ones
    merged), written from ``m`` on in order along the street; the new ``m``."""
    order = np.argsort(lo, kind="mergesort")
    have = False
    first, furthest = 0.0, 0.0
    for i in order:
        if hi[i] <= lo[i]:
            continue
        if have and lo[i] <= furthest:
            furthest = max(furthest, hi[i])
            continue
        if have:
            out_row[m], out_seg[m], out_start[m], out_stop[m] = p, g, first, furthest
            m += 1
        have, first, furthest = True, lo[i], hi[i]
    if have:
        out_row[m], out_seg[m], out_start[m], out_stop[m] = p, g, first, furthest
        m += 1
    return m


@compiled
def _cut_run(row, street, length_of, own, a_of, b_of, lo, hi, out_row, out_seg, out_start, out_stop, m):  # type: ignore[no-untyped-def]
    """The stretches of rows ``lo:hi`` (one point's) written from ``m`` on; the new ``m``."""
    for second in range(2):  # first each street from the end it is entered at, then from its v end
        for i in range(lo, hi):
            forwards = street[i] >= 0
            g = street[i] if forwards else ~street[i]
            if g == own[row[i]]:
                continue
            length, a, b = length_of[i], a_of[i], b_of[i]
            full = a + b >= length
            if second == 0 and (full or a > 0):
                out_start[m] = 0.0 if forwards or full else length - a
                out_stop[m] = a if forwards and not full else length
            elif second == 1 and not full and b > 0:  # (only for streets entered at u)
                out_start[m] = length - b
                out_stop[m] = length
            else:
                continue
            out_row[m] = row[i]
            out_seg[m] = g
            m += 1
    return m


def cut_streets(
    row: np.ndarray,
    street: np.ndarray,
    here: np.ndarray,
    there: np.ndarray,
    seg_len: np.ndarray,
    seg_cost: np.ndarray,
    seg_twoway: np.ndarray,
    own: np.ndarray,
    offset: np.ndarray,
    lead: np.ndarray,
    max_cost: float,
    walking: bool,
) -> tuple[np.ndarray, ...]:
    """The stretches of the streets :func:`reached_streets` found from points ``offset`` metres along
    their streets ``own``, having spent ``lead`` to get there: per street the part reached from the end
    it is entered at (metres from its start), and for a street entered at u and not reached whole, the
    part reached from its v end. A point's own street is given last, as the union of the stretch either
    side of the point (ahead only on a one-way street) and what the walk brings back to it from its
    ends.

    Returns point, street, start, stop: point by point (each point's rows given together, as
    :func:`reached_streets` gives them), first the stretches from the end entered, then those from the v
    end, each in the order given, then the point's own street along it.
    """
    return _cut_streets(  # type: ignore[no-any-return]
        np.ascontiguousarray(row, dtype=np.int32),  # (as the walk gives them)
        np.ascontiguousarray(street, dtype=np.int32),
        np.ascontiguousarray(here, dtype=np.float64),
        np.ascontiguousarray(there, dtype=np.float64),
        np.ascontiguousarray(seg_len, dtype=np.float64),
        np.ascontiguousarray(seg_cost, dtype=np.float64),
        np.ascontiguousarray(seg_twoway, dtype=np.bool_),
        np.ascontiguousarray(own, dtype=np.int64),
        np.ascontiguousarray(offset, dtype=np.float64),
        np.ascontiguousarray(lead, dtype=np.float64),
        float(max_cost),
        bool(walking),
    )


@compiled
def _nearest_from_ends(  # type: ignore[no-untyped-def]
    seg,
    offset,
    seg_u,
    seg_v,
    seg_len,
    seg_cost,
    seg_twoway,
    cost,
    site,
    keys,
    order,
    site_offset,
    extra,
    from_sites,
):
    n = len(seg)
    out_cost = np.full(n, np.inf)
    out_site = np.full(n, -1, dtype=np.int64)
    for j in range(n):
        s = seg[j]
        if s < 0:
            continue
        length = seg_len[s]
        scale = seg_cost[s] / max(length, 1e-9)
        off = min(max(offset[j], 0.0), length)
        u, v, twoway = seg_u[s], seg_v[s], seg_twoway[s]
        if from_sites:  # arrive at u and go on along the street; arrive at v only on a two-way one
            via_u = cost[u] + off * scale
            via_v = cost[v] + (length - off) * scale if twoway else np.inf
        else:  # leave for v along the street; for u only on a two-way one
            via_v = (length - off) * scale + cost[v]
            via_u = off * scale + cost[u] if twoway else np.inf
        best = min(via_u, via_v)
        who = site[u] if via_u <= via_v else site[v]
        # a site on the same street, reached along it without passing an end
        for i in range(np.searchsorted(keys, s), np.searchsorted(keys, s, side="right")):
            t = order[i]
            along = site_offset[t] - off  # forwards from the point to the site
            if from_sites:
                along = -along
            if along < 0 and not twoway:
                continue
            c = abs(along) * scale + extra[t]
            if c < best:
                best, who = c, t
        if np.isfinite(best):
            out_cost[j], out_site[j] = best, who
    return out_cost, out_site


def nearest_from_ends(
    seg: np.ndarray,
    offset: np.ndarray,
    network: tuple[np.ndarray, ...],
    cost: np.ndarray,
    site: np.ndarray,
    on_street: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    from_sites: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest site from points ``offset`` along streets ``seg`` (-1: none), given per node the
    ``cost`` to its nearest ``site`` (from it, or ``from_sites`` to it): (cost, site) per point, inf and
    -1 when none. ``network`` is (seg_u, seg_v, seg_len, seg_cost, seg_twoway); ``on_street`` the sites
    on streets, (street per site sorted, the sites in that order, each site's offset along its street,
    and the cost of its own way to the street), so that a site on the point's own street is reached
    along it without passing an end."""
    seg_u, seg_v, seg_len, seg_cost, seg_twoway = network
    keys, order, site_offset, extra = on_street
    return _nearest_from_ends(  # type: ignore[no-any-return]
        np.ascontiguousarray(seg, dtype=np.int64),
        np.ascontiguousarray(offset, dtype=np.float64),
        np.ascontiguousarray(seg_u, dtype=np.int64),
        np.ascontiguousarray(seg_v, dtype=np.int64),
        np.ascontiguousarray(seg_len, dtype=np.float64),
        np.ascontiguousarray(seg_cost, dtype=np.float64),
        np.ascontiguousarray(seg_twoway, dtype=np.bool_),
        np.ascontiguousarray(cost, dtype=np.float64),
        np.ascontiguousarray(site, dtype=np.int64),
        np.ascontiguousarray(keys, dtype=np.int64),
        np.ascontiguousarray(order, dtype=np.int64),
        np.ascontiguousarray(site_offset, dtype=np.float64),
        np.ascontiguousarray(extra, dtype=np.float64),
        bool(from_sites),
    )


def warm() -> None:
    """Compile the searches, the joining of their streets into lines (:mod:`geo_service.trails`), the
    outlines of their areas (:mod:`geo_service.street_cells`) and the beats' cell grid
    (:mod:`geo_service.coverage.cell_grid`) now, into numba's cache where it can
    write: ``scripts/setup.sh`` calls this after installing and the service as it starts, so that no
    user's first service area waits for the compiler."""
    from geo_service.coverage.cell_grid import warm as warm_beat_grid
    from geo_service.street_cells import warm as warm_outlines  # (they import this module)
    from geo_service.trails import trails

    one = np.array([0, 1], dtype=np.int64)
    trails(one, one[:1], one[1:], 2, np.array([0, 2]), np.array([[0.0, 0.0], [1.0, 0.0]]))
    two_nodes = np.array([0, 1, 1], dtype=np.int64)
    reached_streets(
        two_nodes,
        np.array([1], dtype=np.int32),
        np.array([1.0]),
        np.array([0], dtype=np.int32),
        np.array([0], dtype=np.int32),
        np.array([0.5]),
        np.array([0, 1], dtype=np.int64),
        10.0,
    )
    one_street = np.array([0])
    cut_streets(
        one_street,
        one_street,
        np.array([0.0]),
        np.array([1.0]),
        np.array([1.0]),
        np.array([1.0]),
        np.array([True]),
        one_street,
        np.array([0.5]),
        np.array([0.0]),
        10.0,
        True,
    )
    ends = (one_street, one_street + 1, np.array([1.0]), np.array([1.0]), np.array([True]))
    nearest_from_ends(
        one_street,
        np.array([0.5]),
        ends,
        np.zeros(2),
        np.zeros(2, np.int64),
        (one_street,) * 2 + (np.array([0.2]),) * 2,
        from_sites=False,
    )
    warm_outlines()
    warm_beat_grid()
