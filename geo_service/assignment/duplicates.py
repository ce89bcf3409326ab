"""Probable duplicates among 12345 cases: an earlier case of the same category close by in space and
time, in the same batch or still open."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.crs import to_metric
from geo_service.duty import local_times

__all__ = ["cell_text", "probable_duplicates", "recent_near", "same_ticket"]


def probable_duplicates(
    xy: np.ndarray,
    kind: np.ndarray,
    first_row: Mapping[str, int],
    stamp: np.ndarray,
    open_cases: gpd.GeoDataFrame | None,
    crs: str,
    dist_m: float,
    hours: float,
    asked: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """For each case, the label of an earlier case of the same category within ``dist_m`` and ``hours``
    (in the batch, ``case N``, counted from 1, or as ``names`` names it, or open, ``incident ID``); the
    most recent such case when there are several, or, when that one is itself a duplicate of another
    of the batch, the first report it leads back to. A case reported at the same time as another counts
    it if that one is stored or comes before it in the batch (see :func:`recent_near`).
    ``asked``: the cases to look at (the others, refused, are neither asked about nor duplicated)."""
    out = np.full(len(xy), None, dtype=object)
    row = np.arange(len(xy))
    if asked is not None and not asked.all():
        row = np.flatnonzero(asked)
        xy, kind, stamp = xy[row], kind[row], stamp[row]
    n = len(xy)  # kind: the same category is the same row of the table (or, unknown, the same text)
    labels_n = n
    t = stamp
    if open_cases is not None and len(open_cases):
        # open cases at a usable point only (one stored before positions were checked may have none)
        geoms = open_cases.geometry.to_numpy()
        usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        usable[usable] = np.isfinite(shapely.get_coordinates(geoms[usable]).reshape(-1, 2)).all(axis=1)
        open_cases = open_cases[usable]
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
    if len(t) == 0:
        return out
    best = recent_near(xy, pd.factorize(kind)[0], t, n, dist_m, hours * 3600)
    # a report linked to one that is itself a duplicate of the batch's is linked to the first report
    # instead (row 4 → row 3 → row 2: row 4 → row 2), so each names the case a clerk keeps
    while True:
        onward = np.where((best >= 0) & (best < n), best, -1)
        further = np.where(onward >= 0, best[np.maximum(onward, 0)], -1)
        moved = further >= 0
        if not moved.any():
            break
        best = np.where(moved, further, best)
    hit = np.flatnonzero(best >= 0)
    src = best[hit]
    out[row[hit]] = [
        _batch_name(names, row[j]) if j < labels_n else f"incident {int(open_ids[j - labels_n])}" for j in src
    ]
    return out


def recent_near(
    xy: np.ndarray, group: np.ndarray, t: np.ndarray, n: int, dist_m: float, window_s: float
) -> np.ndarray:
    """For each of the first ``n`` points, the index of the most recent earlier point of the same group
    (non-negative integers) within ``dist_m`` and ``window_s`` (at most ``window_s`` before), -1 when
    there is none.

    "Earlier" is an order, not only a time: points of equal time are in the order the points after
    the first ``n`` (stored cases) first, then the first ``n`` (the batch), each by index. So two
    reports of the same minute are linked, the later row of a batch to the earlier one (or either to
    a stored case of that minute), never a point to itself nor two points to each other; among
    equally recent candidates the latest in that order is taken.

    Points are bucketed in square cells of twice the distance, so that a point's candidates lie in the
    2 x 2 cells around the corner of its cell it is nearest (a "quad"). Every point is listed once in
    each of the four quads that hold its cell, under one integer key (group and quad, then its place in
    time order, then a bit for "the quad this point asks about"), and the keys are sorted: a point's
    candidates are then the entries just before its own, walked back until the window or the quad ends
    (one sort of 4 m integers, no binary searches).
    """
    best = np.full(n, -1, dtype=np.int64)
    m = len(t)
    if n == 0:
        return best
    bits = max(1, (m - 1).bit_length())
    mask = (1 << bits) - 1
    # the points in time order, equal times the stored ones (from n) first, then by index: ordered
    # with the stored ones rotated to the front; r: each point's place in that order
    by_time = (_time_order(np.roll(t, m - n), bits) + n) % m if n < m else _time_order(t, bits)
    ts = t[by_time]
    r = np.empty(m, dtype=np.int64)
    r[by_time] = np.arange(m)
    # cells (with a margin of one: a quad's corner never wraps to another row), larger than twice the
    # distance only when the keys would not fit in 63 bits (any size from twice the distance will do)
    x, y = xy[:, 0], xy[:, 1]
    lo_x, lo_y = x.min(), y.min()
    groups = int(group.max()) + 1
    room = 2.0 ** ((62 - bits - groups.bit_length()) // 2) - 3  # cells per axis that fit
    size = max(2.0 * dist_m, (x.max() - lo_x) / room, (y.max() - lo_y) / room)
    size = size if size > 0 else 1.0
    fx, fy = (x - lo_x) / size, (y - lo_y) / size
    cx, cy = fx.astype(np.int64), fy.astype(np.int64)
    nx, ny = int(cx.max()) + 2, int(cy.max()) + 2
    cell = (group * ny + cy + 1) * nx + cx + 1
    # the quad asked about: the cell and its neighbours on the side of the half the point is in
    copy = (fx[:n] - cx[:n] < 0.5) + 2 * (fy[:n] - cy[:n] < 0.5)
    shift = bits + 1
    entry = (cell << shift) | (r << 1)
    copies = np.empty((4, m), dtype=np.int64)
    for k, offset in enumerate((0, 1, nx, nx + 1)):  # copy k: in the quad from the cell offset down-left
        np.subtract(entry, offset << shift, out=copies[k])
        copies[k, :n] |= copy == k  # the bit of the copy asked about
    keys = copies.ravel()
    keys.sort()
    ask = np.flatnonzero(keys.view(np.uint8)[:: keys.itemsize] & 1)  # low bytes: little-endian
    if len(ask) != n:  # a big-endian machine
        ask = np.flatnonzero(keys & 1)
    # walk back from each point over the earlier entries of its quad, until one is near enough (the
    # most recent, in the order above: the order of the entries) or the window ends; points and
    # times looked up by place in time order, and the points themselves only inside the window.
    # Every entry walked is earlier in that order (an equal time too), and never the point itself:
    # a quad lists each point once
    own = keys[ask] >> 1
    at = ask - 1
    ok = (at >= 0) & (keys[np.maximum(at, 0)] >> shift == own >> bits)
    r_i, at = own[ok] & mask, at[ok]
    t_i = ts[r_i]
    while len(r_i):
        r_j = (keys[at] >> 1) & mask
        t_j = ts[r_j]
        inside = t_j >= t_i - window_s
        r_i, r_j, at, t_i, t_j = r_i[inside], r_j[inside], at[inside], t_i[inside], t_j[inside]
        i, j = by_time[r_i], by_time[r_j]
        take = np.hypot(xy[j, 0] - xy[i, 0], xy[j, 1] - xy[i, 1]) <= dist_m
        best[i[take]] = j[take]
        go = ~take
        r_i, at, t_i = r_i[go], at[go] - 1, t_i[go]
        ok = (at >= 0) & (keys[np.maximum(at, 0)] >> shift == keys[at + 1] >> shift)  # the same quad
        r_i, at, t_i = r_i[ok], at[ok], t_i[ok]
    return best


def _time_order(t: np.ndarray, bits: int) -> np.ndarray:
    """Indices (< 2 ** bits) of the times in order, equal times by index. Times in whole seconds (as
    cases are reported) are packed with their index into one integer each and sorted once; others are
    argsorted, and ties put in index order by a second sort."""
    m = len(t)
    mask = (1 << bits) - 1
    lo = t.min()
    if np.isfinite(lo) and t.max() - lo < 2.0 ** (62 - bits) and np.array_equal(t, np.floor(t)):
        return np.sort(((t - lo).astype(np.int64) << bits) | np.arange(m)) & mask
    by_time = np.argsort(t)
    ts = t[by_time]
    tied = ts[1:] == ts[:-1]
    if tied.any():
        rank = np.zeros(m, dtype=np.int64)
        np.cumsum(~tied, out=rank[1:])
        by_time = np.sort((rank << bits) | by_time) & mask
    return by_time


def cell_text(value: object) -> str | None:
    """A spreadsheet cell as text (None for an empty one; a number, such as a ticket number, as written)."""
    if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def same_ticket(
    tickets: np.ndarray,
    stored: Mapping[str, tuple[int, int]],
    kinds: np.ndarray,
    asked: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """For each case, the label of a case with the same 12345 ticket number and the same category
    (``kinds``, as :func:`probable_duplicates` compares them): a stored incident (``incident ID``, from
    ``stored``: ticket → (id, kind)) or an earlier case of the batch (``case N``, from 1, or as
    ``names`` names it); None when its ticket is new or it has none. A ticket number given again to a
    case of another category is no duplicate (a mistyped number must not close a gas leak as a
    repeat of a manhole cover): that case goes its usual way. ``asked``: the cases to look at."""
    n = len(tickets)
    out = np.full(n, None, dtype=object)
    first: dict[str, int] = {}
    for i in range(n):
        no = cell_text(tickets[i])
        if no is None or (asked is not None and not asked[i]):
            continue
        if no in stored and stored[no][1] == kinds[i]:
            out[i] = f"incident {stored[no][0]}"
        elif no in first and kinds[first[no]] == kinds[i]:
            out[i] = _batch_name(names, first[no])
        elif no not in first:
            first[no] = i
    return out


def _batch_name(names: Sequence[str] | None, i: int) -> str:
    """How a duplicate names case ``i`` of the batch: ``case N`` (from 1), unless the caller names them
    (``row N`` for the rows of an uploaded table)."""
    return f"case {i + 1}" if names is None else names[i]
