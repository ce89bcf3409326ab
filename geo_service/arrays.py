"""Small array idioms shared by the vectorised analysis modules."""

from __future__ import annotations

import numpy as np

__all__ = ["cell_size", "grouped", "ragged_positions"]


def grouped(key: np.ndarray, n_groups: int, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows grouped by ``key`` (0 … ``n_groups`` - 1), in a stable order (left as they are when already
    in key order): ``(offsets, key, *arrays)``, group g's rows being ``offsets[g]:offsets[g + 1]``."""
    if np.any(key[1:] < key[:-1]):
        order = np.argsort(key, kind="stable")
        key, arrays = key[order], tuple(a[order] for a in arrays)
    offsets = np.searchsorted(key, np.arange(n_groups + 1)).astype(np.int64, copy=False)  # (key sorted)
    return (offsets, key, *arrays)


def ragged_positions(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Positions ``starts[i] … starts[i] + counts[i] - 1`` for every i, concatenated (the gather
    indices of a ragged selection, e.g. the rows of a CSR matrix for some of its nodes)."""
    counts = np.asarray(counts)
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(np.asarray(starts) - (ends - counts), counts)


def cell_size(xy: np.ndarray, factor: float, crowded: float, most_cells: int) -> float:
    """Side of square cells to bucket points ``xy`` in: ``factor`` × the mean spacing where they are
    spread evenly, at least 1.

    The spacing comes from the middle 99% of the points when the rest lie far out (one street digitised
    at a wrong place must not blow every cell up), and the cells shrink while the median point shares
    its cell with more than ``crowded`` points (two towns far apart), as long as that thins the crowd
    (points on top of each other stay crowded at any size). They grow again if the whole extent would
    need more than ``most_cells`` cells.
    """
    if len(xy) == 0:
        return 1.0
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    core_lo, core_hi = np.quantile(xy, [0.005, 0.995], axis=0)
    area, core_area = max(float(np.prod(hi - lo)), 1.0), max(float(np.prod(core_hi - core_lo)), 1.0)
    n, span = len(xy), hi - lo
    if area > 4 * core_area:  # a few points far out: the density of the rest
        area, n = core_area, max(int(((xy >= core_lo) & (xy <= core_hi)).all(axis=1).sum()), 1)
        span = core_hi - core_lo
    area = max(area, float(np.max(span)) ** 2 / n)  # points along a line: spaced its length / n apart
    size = max(factor * float(np.sqrt(area / n)), 1.0)
    before = (np.inf, size)  # the crowd at the size before
    for _ in range(6):
        cell = np.floor((xy - lo) / size).astype(np.int64)
        _, count = np.unique(cell[:, 0] * (int(cell[:, 1].max()) + 1) + cell[:, 1], return_counts=True)
        crowd = float(np.median(np.repeat(count, count)))  # points in the cell of the median point
        if crowd > 0.7 * before[0]:  # smaller cells no longer help (points on top of each other)
            size = before[1]
            break
        if crowd <= crowded or size <= 1.0:
            break
        before = (crowd, size)
        size = max(size * float(np.sqrt(crowded / 2 / crowd)), 1.0)
    while np.prod((hi - lo) // size + 1) > most_cells:  # (a line of points, too, is so many cells long)
        size *= 2
    return size
