"""Probable duplicates among 12345 cases: an earlier case of the same category close by in space and
time, in the same batch or still open."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import shapely

from geo_service.crs import to_metric
from geo_service.duty import local_times

__all__ = ["probable_duplicates", "recent_near"]


def probable_duplicates(
    xy: np.ndarray,
    kind: np.ndarray,
    first_row: Mapping[str, int],
    stamp: np.ndarray,
    open_cases: gpd.GeoDataFrame | None,
    crs: str,
    dist_m: float,
    hours: float,
) -> np.ndarray:
    """For each case, the label of an earlier case of the same category within ``dist_m`` and ``hours``
    (in the batch, ``row N``, or open, ``incident ID``); the most recent such case when there are several."""
    n = len(xy)  # kind: the same category is the same row of the table (or, unknown, the same text)
    labels_n = n
    t = stamp
    if open_cases is not None and len(open_cases):
        oxy = shapely.get_coordinates(to_metric(open_cases.geometry.to_numpy(), crs))
        xy = np.vstack([xy, oxy])
        kind = np.concatenate(
            [
                kind,
                open_cases["category"].astype(str).map(first_row).fillna(-(10**9)).to_numpy(dtype=np.int64),
            ]
        )
        t = np.concatenate(
            [
                t,
                local_times(open_cases["reported_at"]).to_numpy(dtype="datetime64[ns]").astype(np.int64)
                / 1e9,
            ]
        )
        open_ids = open_cases.index.to_numpy()
    out = np.full(n, None, dtype=object)
    best = recent_near(xy, np.unique(kind, return_inverse=True)[1], t, n, dist_m, hours * 3600)
    hit = np.flatnonzero(best >= 0)
    src = best[hit]
    out[hit] = [f"row {j + 1}" if j < labels_n else f"incident {int(open_ids[j - labels_n])}" for j in src]
    return out


def recent_near(
    xy: np.ndarray, group: np.ndarray, t: np.ndarray, n: int, dist_m: float, window_s: float
) -> np.ndarray:
    """For each of the first ``n`` points, the index of the most recent earlier point of the same group
    within ``dist_m`` and ``window_s`` (strictly earlier, at most ``window_s`` before; the higher
    index among equally recent ones), -1 when there is none.

    Points are bucketed in square cells of twice the distance, by group, and sorted by cell and then
    time, so that a point's candidates lie in four cells (its own, and the neighbours on the side of
    the half it is in) and, within each, just before its own time: four binary searches per point,
    then a step back over the few in the window that are too far away.
    """
    best = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return best
    size = 2.0 * dist_m
    lo = xy.min(axis=0)
    c = np.floor((xy - lo) / size).astype(np.int64) + 1  # a margin: neighbours never wrap to another row
    nx, ny = int(c[:, 0].max()) + 2, int(c[:, 1].max()) + 2
    cell = (group * ny + c[:, 1]) * nx + c[:, 0]
    times, rank = np.unique(t, return_inverse=True)  # the exact order of the times, as integers
    # per time: the rank of the earliest time within the window before it (sorted needles: fast)
    oldest = np.searchsorted(times, times - window_s, side="left")
    span = len(times) + 1
    key = cell * span + rank
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    # the points asked about, in key order, so that each search below runs over increasing keys (fast);
    # how far back in time order each one's window reaches; the side of its cell its neighbours lie on
    mine = order < n
    asked, asked_key = order[mine], sorted_key[mine]
    reach = asked_key % span - oldest[asked_key % span]
    upper = (xy[:n] - lo) / size - (c[:n] - 1) >= 0.5
    sx = np.where(upper[:, 0], 1, -1)[asked]
    sy = np.where(upper[:, 1], nx, -nx)[asked]
    best_t = np.full(n, -np.inf)
    for shift, values in (
        (None, (0,)),
        (sx, (-1, 1)),
        (sy, (-nx, nx)),
        (sx + sy, (-nx - 1, -nx + 1, nx - 1, nx + 1)),
    ):
        for value in values:
            sel = slice(None) if shift is None else shift == value
            needle = asked_key[sel] + value * span
            at = np.searchsorted(sorted_key, needle, side="left") - 1  # the last strictly earlier
            floor = needle - reach[sel]  # keys from here on are in the cell and the window
            ok = at >= 0
            ok[ok] = sorted_key[at[ok]] >= floor[ok]
            i, at, floor = asked[sel][ok], at[ok], floor[ok]
            while len(i):
                j = order[at]
                near = np.hypot(xy[j, 0] - xy[i, 0], xy[j, 1] - xy[i, 1]) <= dist_m
                take = near & ((t[j] > best_t[i]) | ((t[j] == best_t[i]) & (j > best[i])))
                best[i[take]], best_t[i[take]] = j[take], t[j[take]]
                # the most recent one here is too far away: step back to the one before, if in the window
                i, at, floor = i[~near], at[~near] - 1, floor[~near]
                ok = at >= 0
                ok[ok] = sorted_key[at[ok]] >= floor[ok]
                i, at, floor = i[ok], at[ok], floor[ok]
    return best
