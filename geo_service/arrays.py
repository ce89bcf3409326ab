"""Small array idioms shared by the vectorised analysis modules."""

from __future__ import annotations

import numpy as np

__all__ = ["ragged_positions"]


def ragged_positions(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Positions ``starts[i] … starts[i] + counts[i] - 1`` for every i, concatenated (the gather
    indices of a ragged selection, e.g. the rows of a CSR matrix for some of its nodes)."""
    counts = np.asarray(counts)
    return np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(starts, counts)
