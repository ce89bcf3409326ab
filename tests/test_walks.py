"""The compiled bounded searches (``geo_service/walks.py``) against scipy's dijkstra on random graphs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo_service.walks import _pop, _push, cut_streets, reached_streets


def random_arcs(seed: int, n: int, n_streets: int):
    """A random street graph: each street u→v, two-way or not, parallel streets and loops allowed; its
    arcs in CSR order, with ``street`` (``~street`` for the arc from v to u)."""
    rng = np.random.default_rng(seed)
    u, v = rng.integers(0, n, n_streets), rng.integers(0, n, n_streets)
    cost = rng.uniform(0.5, 10.0, n_streets)
    two = rng.random(n_streets) < 0.7
    src = np.concatenate([u, v[two]])
    dst = np.concatenate([v, u[two]])
    street = np.concatenate([np.arange(n_streets), ~np.flatnonzero(two)]).astype(np.int32)
    arc_cost = np.concatenate([cost, cost[two]])
    order = np.argsort(src, kind="stable")
    indptr = np.searchsorted(src[order], np.arange(n + 1)).astype(np.int64)
    return indptr, dst[order].astype(np.int32), arc_cost[order], street[order], src[order]


def oracle(indptr, target, cost, street, src, starts, start_costs, start_ptr, max_cost):
    """The same answer from scipy: the cheapest of the parallel arcs, a search from every start."""
    n = len(indptr) - 1
    best = {}
    for a, b, c in zip(src.tolist(), target.tolist(), cost.tolist(), strict=True):
        best[a, b] = min(best.get((a, b), np.inf), c)
    keys = np.array(list(best), dtype=np.int64).reshape(-1, 2)
    graph = csr_matrix((np.array(list(best.values())), (keys[:, 0], keys[:, 1])), shape=(n, n))
    rows = []
    for p in range(len(start_ptr) - 1):
        lo, hi = start_ptr[p], start_ptr[p + 1]
        dist = np.full(n, np.inf)
        if hi > lo:
            from_start = dijkstra(graph, directed=True, indices=starts[lo:hi])
            dist = np.min(from_start + start_costs[lo:hi, None], axis=0)
        dist[dist > max_cost] = np.inf
        for a in range(len(target)):
            if np.isfinite(dist[src[a]]) and (street[a] >= 0 or not np.isfinite(dist[target[a]])):
                rows.append((p, int(street[a]), dist[src[a]], dist[target[a]]))
    return sorted(rows, key=lambda r: (r[0], r[1], r[2]))


@pytest.mark.parametrize("seed", range(6))
def test_the_heap_gives_its_entries_back_cheapest_first(seed):
    """The searches' 4-ary heap, on its own: entries pushed and popped in a random mix (ties among
    them, and sizes that leave a node with one to three children) come off in order of cost."""
    rng = np.random.default_rng(seed)
    costs = rng.integers(0, 40, 500).astype(float)  # few values: many ties
    heap_cost, heap_node = np.empty(500), np.empty(500, dtype=np.int32)
    size, pushed, popped = 0, [], []
    for i, c in enumerate(costs):
        size = _push(heap_cost, heap_node, size, c, i)
        pushed.append(c)
        while size and rng.random() < 0.4:
            c_out, node, size = _pop(heap_cost, heap_node, size)
            assert c_out == costs[node] == min(pushed)
            pushed.remove(c_out)
            popped.append(node)
    while size:
        c_out, node, size = _pop(heap_cost, heap_node, size)
        assert c_out == costs[node] == min(pushed)
        pushed.remove(c_out)
        popped.append(node)
    assert sorted(popped) == list(range(500))


@pytest.mark.parametrize(("seed", "max_cost"), [(1, 12.0), (2, 30.0), (3, np.inf), (4, 0.0)])
def test_reached_streets_equal_scipy_dijkstra(seed, max_cost):
    indptr, target, cost, street, src = random_arcs(seed, 200, 420)
    rng = np.random.default_rng(seed + 100)
    per_point = rng.integers(0, 3, 25)  # a point may have no start at all (an unreachable site)
    starts = rng.integers(0, 200, per_point.sum()).astype(np.int32)
    start_costs = rng.uniform(0.0, 15.0, per_point.sum())
    start_ptr = np.r_[0, np.cumsum(per_point)].astype(np.int64)
    got = reached_streets(indptr, target, cost, street, starts, start_costs, start_ptr, max_cost)
    rows = sorted(
        zip(*(x.tolist() for x in got), strict=True),
        key=lambda r: (r[0], r[1], r[2]),
    )
    want = oracle(indptr, target, cost, street, src, starts, start_costs, start_ptr, max_cost)
    assert len(rows) == len(want)
    assert max_cost == 0.0 or len(rows) > 100
    for (p, s, here, there), (wp, ws, whe, wth) in zip(rows, want, strict=True):
        assert (p, s) == (wp, ws)
        assert here == pytest.approx(whe, abs=1e-9)
        assert there == pytest.approx(wth, abs=1e-9) if np.isfinite(wth) else there == np.inf


def test_each_point_is_searched_on_its_own():
    """What one point reached is not left over for the next (the costs are set back between searches)."""
    indptr, target, cost, street, _ = random_arcs(5, 50, 120)
    starts = np.array([3, 3, 7], dtype=np.int32)
    start_costs = np.array([0.0, 0.0, 40.0])
    start_ptr = np.array([0, 1, 2, 3], dtype=np.int64)
    point, s, here, _ = reached_streets(indptr, target, cost, street, starts, start_costs, start_ptr, 20.0)
    first, second = (np.flatnonzero(point == p) for p in (0, 1))
    assert len(first) > 0
    assert np.array_equal(s[first], s[second])
    assert np.array_equal(here[first], here[second])
    assert not np.any(point == 2)  # its start lies beyond the limit


def test_start_nodes_outside_the_graph_are_refused():
    indptr, target, cost, street, _ = random_arcs(6, 10, 20)
    for bad in (-1, 10):
        with pytest.raises(ValueError, match="start nodes"):
            reached_streets(
                indptr, target, cost, street, np.array([bad]), np.array([0.0]), np.array([0, 1]), 5.0
            )


def test_searches_run_where_numba_can_cache_nowhere():
    """helper-51: a service user with a read-only home and install made every service area fail
    ("cannot cache function: no locator available"); the searches are then compiled in the process."""
    script = (
        "import numba.core.caching as caching\n"
        "caching.CacheImpl._locator_classes = []\n"  # no place numba may write its cache to
        "from geo_service.walks import warm\n"
        "warm()\n"
        "print('searched')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "searched"


def test_prefetch_compiles_for_the_arrays_the_outlines_use_and_changes_nothing():
    from geo_service.walks import compiled, prefetch

    @compiled
    def gather_ahead(values, index):  # type: ignore[no-untyped-def]
        total = values[0] * 0
        for i in range(len(index)):
            if i + 4 < len(index):
                prefetch(values, index[i + 4])
            total += values[index[i]]
        return total

    @compiled
    def rows_ahead(rows, index):  # type: ignore[no-untyped-def]
        total = 0
        for i in range(len(index)):
            prefetch(rows, index[i])  # (a row's first element; the index of one dtype or another)
            total += rows[index[i], 1]
        return total

    rng = np.random.default_rng(0)
    index = rng.integers(0, 1000, 200)
    for values in (rng.random(1000), np.arange(1000, dtype=np.int32), rng.random(1000) < 0.5):
        before = values.copy()
        assert gather_ahead(values, index) == sum(values[index].tolist())  # (added in the same order)
        assert np.array_equal(values, before)
    rows = rng.integers(-9, 9, (1000, 4)).astype(np.int32)
    assert rows_ahead(rows, index.astype(np.int32)) == rows[index, 1].sum()
    assert rows_ahead(rows, index) == rows[index, 1].sum()


def _cut(rows, own, offset, max_cost, walking=True, twoway=True, lead=None):
    """cut_streets on hand-made walk rows (point, street, here, there) over streets 0 (100 m, the
    points' own) and 1 (60 m), one-way or not; each answer row as (point, street, start, stop)."""
    row, street, here, there = (np.array(c) for c in zip(*rows, strict=True)) if rows else [np.empty(0)] * 4
    out = cut_streets(
        row.astype(np.int64),
        street.astype(np.int64),
        here.astype(float),
        there.astype(float),
        np.array([100.0, 60.0]),
        np.array([100.0, 60.0]),
        np.array([twoway, True]),
        np.array(own),
        np.array(offset, dtype=float),
        np.zeros(len(own)) if lead is None else np.array(lead, dtype=float),
        max_cost,
        walking,
    )
    return [(int(p), int(g), round(float(a), 9), round(float(b), 9)) for p, g, a, b in zip(*out, strict=True)]


def test_a_points_own_street_is_the_union_of_what_reaches_it_given_after_its_others():
    """The stretch either side of the point, and what the walk brings back to the street's ends,
    merged where they touch or overlap, in order along the street, after the point's other streets; a
    point whose walk found no other street still gets its own."""
    # 50 m along, 20 m to walk; the walk is back at u with 5 m left over (a short cut, made up), at v with 10
    assert _cut([(0, 1, 0.0, 60.0), (0, 0, 15.0, 10.0)], [0], [50.0], 20.0) == [
        (0, 1, 0.0, 20.0),
        (0, 0, 0.0, 5.0),
        (0, 0, 30.0, 70.0),
        (0, 0, 90.0, 100.0),
    ]
    # 40 m to walk from 50 m along (10 to 90 m); back at u with exactly 10 m left: they touch, one stretch
    assert _cut([(0, 0, 30.0, 40.0)], [0], [50.0], 40.0) == [(0, 0, 0.0, 90.0)]
    # overlapping by a few centimetres: still one stretch, not two counting the overlap twice
    assert _cut([(0, 0, 29.97, 40.0)], [0], [50.0], 40.0) == [(0, 0, 0.0, 90.0)]
    # the second point has no rows of its own: its own street only; the way to the street counts
    assert _cut([(0, 1, 0.0, 60.0)], [0, 0], [50.0, 20.0], 100.0, lead=[0.0, 90.0]) == [
        (0, 1, 0.0, 60.0),
        (0, 0, 0.0, 100.0),
        (1, 0, 10.0, 30.0),
    ]


def test_a_drive_on_a_one_way_street_goes_ahead_and_comes_back_round_to_its_start():
    """Driving, 100 s along a one-way street 30 m in: ahead to its end, and round a loop back to u."""
    # back at u after 150 s with 50 s left: 0 to 50 m, merged with 30 to 100 m
    assert _cut([(0, 0, 150.0, 70.0)], [0], [30.0], 200.0, walking=False, twoway=False) == [
        (0, 0, 0.0, 100.0)
    ]
    # 100 s only: ahead from 30 m to the end, nothing behind it
    assert _cut([(0, 0, 150.0, 70.0)], [0], [30.0], 100.0, walking=False, twoway=False) == [
        (0, 0, 30.0, 100.0)
    ]
    # 40 s only, the loop not closed: 30 to 70 m
    assert _cut([], [0], [30.0], 40.0, walking=False, twoway=False) == [(0, 0, 30.0, 70.0)]
