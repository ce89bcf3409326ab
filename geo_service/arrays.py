"""Small array idioms shared by the vectorised analysis modules."""

from __future__ import annotations

import numpy as np

__all__ = ["ragged_positions"]


def ragged_positions(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Positions ``starts[i] … starts[i] + counts[i] - 1`` for every i, concatenated (the gather
    indices of a ragged selection, e.g. the rows of a CSR matrix for some of its nodes)."""
    counts = np.asarray(counts)
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(np.asarray(starts) - (ends - counts), counts)
