"""``geo_service.parallel``: sites split into ranges of about equal work, computed at the same time;
and ``arrays.grouped``, which gives each range its rows."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

from geo_service.parallel import default_parts, in_ranges, site_ranges


@pytest.mark.parametrize("parts", [1, 2, 3, 4, 7])
def test_ranges_cover_every_site_once_in_order(parts):
    rng = np.random.default_rng(parts)
    for n in (1, 2, 5, 30, 31):
        weights = rng.integers(0, 500, n)
        ranges = site_ranges(weights, parts)
        assert ranges[0][0] == 0
        assert ranges[-1][1] == n
        assert all(hi > lo for lo, hi in ranges)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert len(ranges) <= min(parts, n)


def test_ranges_share_the_work_about_equally():
    weights = np.array([100, 100, 100, 100, 1, 1, 1, 1, 1, 1, 1, 1, 400])  # 808 in all
    ranges = site_ranges(weights, 2)
    totals = [weights[lo:hi].sum() for lo, hi in ranges]
    assert len(ranges) == 2
    # a range ends at the first site that takes it past its half: 404 and 404
    assert totals == [404, 404]
    # equal numbers of sites when the weights say nothing
    assert site_ranges(np.zeros(6), 3) == [(0, 2), (2, 4), (4, 6)]
    assert site_ranges(np.ones(6), 4) == [(0, 2), (2, 3), (3, 5), (5, 6)]
    assert site_ranges(np.ones(0), 3) == []
    assert site_ranges(np.ones(3), 8) == [(0, 1), (1, 2), (2, 3)]


def test_in_ranges_runs_the_ranges_at_once_and_keeps_their_order():
    ranges = [(0, 2), (2, 5), (5, 6)]
    here = threading.get_ident()
    started = {lo: threading.Event() for lo, _ in ranges}

    def work(lo, hi):
        started[lo].set()
        # every range waits until all have started: only possible when they run at the same time
        together = all(e.wait(timeout=10) for e in started.values())
        return lo, hi, together, threading.get_ident() == here

    answers = in_ranges(ranges, work)
    assert [(lo, hi) for lo, hi, _, _ in answers] == ranges
    assert all(together for _, _, together, _ in answers)
    assert [mine for *_, mine in answers] == [True, False, False]  # the first on the caller's thread


def test_an_error_in_a_range_is_raised_after_all_have_finished():
    finished = []

    def work(lo, hi):
        if lo == 1:
            raise ValueError("range 1")
        threading.Event().wait(0.2 if lo == 2 else 0)
        finished.append(lo)
        return lo

    with pytest.raises(ValueError, match="range 1"):
        in_ranges([(0, 1), (1, 2), (2, 3)], work)
    assert sorted(finished) == [0, 2]

    def first_fails(lo, hi):
        if lo == 0:
            raise KeyError("first")
        threading.Event().wait(0.2)
        finished.append(10 + lo)
        return lo

    with pytest.raises(KeyError):
        in_ranges([(0, 1), (1, 2)], first_fails)
    assert 11 in finished  # the other range was waited for, not left running


def test_default_parts_is_the_cores_up_to_four():
    assert 1 <= default_parts() <= 4
    assert in_ranges([], lambda lo, hi: lo) == []
    assert in_ranges([(0, 3)], lambda lo, hi: (lo, hi)) == [(0, 3)]


def test_ranges_asked_for_inside_a_range_are_done_on_its_thread():
    """Nested asks (a range's work splitting its own work) finish even with every pool worker busy."""

    def inner(lo, hi):
        return threading.current_thread().name

    def outer(lo, hi):
        return in_ranges([(0, 1), (1, 2), (2, 3), (3, 4)], inner)

    answers = in_ranges([(0, 1), (1, 2), (2, 3), (3, 4)], outer)
    assert len(answers) == 4
    for names in answers[1:]:  # those on the pool: all four inner ranges on the same pool thread
        assert len(set(names)) == 1
        assert names[0].startswith("geo-sites")


def test_grouped_rows_keep_their_order_within_a_group():
    from geo_service.arrays import grouped

    key = np.array([2, 0, 2, 1, 0])
    value = np.array([10, 11, 12, 13, 14])
    offsets, k, v = grouped(key, 4, value)
    assert offsets.tolist() == [0, 2, 3, 5, 5]  # group 3 empty
    assert k.tolist() == [0, 0, 1, 2, 2]
    assert v.tolist() == [11, 14, 13, 10, 12]  # stable: 11 before 14, 10 before 12
    already = np.array([0, 0, 1])
    offsets, k, v = grouped(already, 2, np.array([5, 6, 7]))
    assert k is already  # in order: the arrays as given, not copied
    assert offsets.tolist() == [0, 2, 3]
