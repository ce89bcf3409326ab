"""Bounded shortest-path searches from many points at once, compiled with numba.

A service area needs, per site, the few hundred nodes within its reach of a network of a hundred
thousand or a million: scipy's ``dijkstra`` pays for the whole graph per source (its arrays are the
graph's size), so ``reach`` used to copy the cells around each site into a small graph of its own
first, and the copying cost as much as the search. Here each site's search touches only what it
reaches: the cost array is the network's, set back to "unreached" node by node after each search, and
the reached streets are read off as the search ends, while its nodes are still in the cache.

The answer equals ``scipy.sparse.csgraph.dijkstra(..., limit=max_cost)`` from the same sources
(``tests/test_walks.py``); ``reach.service_areas`` turns it into stretches of street.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["reached_streets", "warm"]


@njit(cache=True, nogil=True)
def _push(heap_cost, heap_node, size, cost, node):  # type: ignore[no-untyped-def]
    """Add ``node`` at ``cost`` to the binary heap of ``size`` entries; the new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap_cost[parent] <= cost:
            break
        heap_cost[i] = heap_cost[parent]
        heap_node[i] = heap_node[parent]
        i = parent
    heap_cost[i] = cost
    heap_node[i] = node
    return size + 1


@njit(cache=True, nogil=True)
def _pop(heap_cost, heap_node, size):  # type: ignore[no-untyped-def]
    """Take the cheapest entry off the heap: (its cost, its node, the new size)."""
    cost, node = heap_cost[0], heap_node[0]
    size -= 1
    last_cost, last_node = heap_cost[size], heap_node[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap_cost[child + 1] < heap_cost[child]:
            child += 1
        if heap_cost[child] >= last_cost:
            break
        heap_cost[i] = heap_cost[child]
        heap_node[i] = heap_node[child]
        i = child
    heap_cost[i] = last_cost
    heap_node[i] = last_node
    return cost, node, size


@njit(cache=True, nogil=True)
def _search(indptr, target, cost, dist, heap_cost, heap_node, settled, starts, start_costs, max_cost):  # type: ignore[no-untyped-def]
    """One search from ``starts`` (at ``start_costs``): ``dist`` of every node within ``max_cost``,
    those nodes listed in ``settled``; their number. ``dist`` is all ``inf`` before."""
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
        for a in range(indptr[u], indptr[u + 1]):
            t = target[a]
            c = d + cost[a]
            if c <= max_cost and c < dist[t]:
                dist[t] = c
                size = _push(heap_cost, heap_node, size, c, t)
    return n_settled


@njit(cache=True, nogil=True)
def reached_streets(indptr, target, cost, street, starts, start_costs, start_ptr, max_cost):  # type: ignore[no-untyped-def]
    """The streets reached from each point within ``max_cost``, once per point.

    The graph is in CSR form (``indptr``, ``target``, ``cost``), one arc per street and direction it
    can be taken in; ``street`` names each arc's street, as ``~street`` (negative) for the arc that
    runs from the street's v end to its u end. Point ``p`` starts at nodes
    ``starts[start_ptr[p]:start_ptr[p + 1]]``, having spent ``start_costs`` to get there.

    Returns (point, street, cost to the end it is entered at, cost to its other end), the latter
    ``inf`` when that end is not reached: a street reached at its u end is given once, as entered
    there; one reached only at its v end is given as ``~street``.
    """
    n_nodes = len(indptr) - 1
    n_points = len(start_ptr) - 1
    dist = np.full(n_nodes, np.inf)
    # every arc is looked at once a search at most, so a search pushes at most this many entries
    heap_cost = np.empty(len(target) + len(starts) + 1)
    heap_node = np.empty(len(target) + len(starts) + 1, dtype=np.int32)
    settled = np.empty(n_nodes, dtype=np.int32)
    parts = []
    total = 0
    for p in range(n_points):
        lo, hi = start_ptr[p], start_ptr[p + 1]
        n_settled = _search(
            indptr,
            target,
            cost,
            dist,
            heap_cost,
            heap_node,
            settled,
            starts[lo:hi],
            start_costs[lo:hi],
            max_cost,
        )
        m = 0
        for q in range(n_settled):
            u = settled[q]
            for a in range(indptr[u], indptr[u + 1]):
                if street[a] >= 0 or dist[target[a]] == np.inf:
                    m += 1
        s, here, there = np.empty(m, dtype=np.int32), np.empty(m), np.empty(m)
        w = 0
        for q in range(n_settled):
            u = settled[q]
            for a in range(indptr[u], indptr[u + 1]):
                far = dist[target[a]]
                if street[a] >= 0 or far == np.inf:
                    s[w], here[w], there[w] = street[a], dist[u], far
                    w += 1
        parts.append((s, here, there))
        total += m
        for q in range(n_settled):
            dist[settled[q]] = np.inf
    point = np.empty(total, dtype=np.int32)
    streets, here_all, there_all = np.empty(total, dtype=np.int32), np.empty(total), np.empty(total)
    w = 0
    for p in range(n_points):
        s, here, there = parts[p]
        m = len(s)
        point[w : w + m] = p
        streets[w : w + m] = s
        here_all[w : w + m] = here
        there_all[w : w + m] = there
        w += m
    return point, streets, here_all, there_all


def warm() -> None:
    """Compile the searches now, into numba's cache beside this file (``scripts/setup.sh`` calls it
    after installing), so that the first service area a user asks for does not wait seconds for it."""
    one = np.array([0, 1, 1], dtype=np.int64)
    reached_streets(
        one,
        np.array([1], dtype=np.int32),
        np.array([1.0]),
        np.array([0], dtype=np.int32),
        np.array([0], dtype=np.int32),
        np.array([0.5]),
        np.array([0, 1], dtype=np.int64),
        10.0,
    )
