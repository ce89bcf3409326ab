"""Per-site work split over the machine's cores: the sites in consecutive ranges, one range on the
calling thread and the others on a small shared pool at the same time.

Meant for compiled loops that release the GIL (the walks and the outlines of service areas): each range
is computed on its own and the answers are put together in site order, so the result does not depend on
how many ranges there were. A pool task never submits another, so a busy pool only delays a range and
cannot deadlock; the calling thread always does its own range, and a range that asks for ranges of
its own does them on its thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from itertools import pairwise
from typing import TypeVar

import numpy as np

__all__ = ["default_parts", "in_ranges", "site_ranges"]

T = TypeVar("T")

_MOST_PARTS = 4  # beyond this the ranges' memory traffic, not the cores, sets the pace
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_PREFIX = "geo-sites"


def default_parts() -> int:
    """How many ranges to split into: the cores this process may use, at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # (not on Linux)
        cores = os.cpu_count() or 1
    return max(1, min(_MOST_PARTS, cores))


def site_ranges(weights: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Consecutive ranges ``[lo, hi)`` of the sites, ``parts`` of them at most, of about equal total
    ``weights`` (per site; all zero or empty: equal numbers of sites). No range is empty."""
    n = len(weights)
    parts = max(1, min(parts, n))
    if parts == 1:
        return [(0, n)] if n else []
    w = np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    if not total > 0:
        w, total = np.ones(n), float(n)
    # a range ends at the first site whose running total passes each equal share
    cuts = np.searchsorted(np.cumsum(w), total * np.arange(1, parts) / parts, side="left") + 1
    bounds = np.unique(np.clip(np.r_[0, cuts, n], 0, n))
    return [(int(lo), int(hi)) for lo, hi in pairwise(bounds) if hi > lo]


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_MOST_PARTS - 1, thread_name_prefix=_PREFIX)
        return _POOL


def in_ranges(ranges: list[tuple[int, int]], work: Callable[[int, int], T]) -> list[T]:
    """``work(lo, hi)`` for each range, the first on this thread and the rest on the pool at the same
    time; the answers in the order of the ranges. An error in any range is raised here."""
    if len(ranges) <= 1 or threading.current_thread().name.startswith(_PREFIX):
        # (a range asking for ranges of its own does them itself: a pool whose workers all wait for
        # tasks queued behind them would wait for ever)
        return [work(lo, hi) for lo, hi in ranges]
    others = [_pool().submit(work, lo, hi) for lo, hi in ranges[1:]]
    try:
        first = work(*ranges[0])
    finally:
        wait(others)  # (none left running on its own when this range fails)
    return [first, *(f.result() for f in others)]
