"""Array helpers against plain numpy written the long way."""

from __future__ import annotations

import numpy as np

from geo_service.arrays import grouped


def test_grouped_offsets_and_rows_equal_counting_and_a_stable_sort():
    """Sorted or not, empty groups and no rows at all: each group's rows are the rows with its key, in
    the order given (the oracle: a stable argsort and counts per key)."""
    rng = np.random.default_rng(1)
    for trial in range(300):
        n, groups = int(rng.integers(0, 60)), int(rng.integers(1, 9))
        key = rng.integers(0, groups, n)
        if trial % 2:
            key = np.sort(key)
        rows = np.arange(n) * 10
        offsets, key_out, rows_out = grouped(key, groups, rows)
        order = np.argsort(key, kind="stable")
        assert offsets.dtype == np.int64
        assert np.array_equal(offsets, np.concatenate([[0], np.cumsum(np.bincount(key, minlength=groups))]))
        assert np.array_equal(key_out, key[order])
        assert np.array_equal(rows_out, rows[order])
