"""Which beat a point belongs to: polygon beats contain it, road beats reach it (``buffer_m``).

Small batches go straight to the STRtree. Large batches (a year of cases, a population grid) use a
two-level cell grid built once per version of the beat layer: a point in a cell lying wholly inside
one beat (and near no other) is answered by a table look-up; only points in cells crossed by a beat
edge are tested exactly, against the few beats of their cell, with prepared geometries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo_service.arrays import ragged_positions
from geo_service.crs import to_metric
from geo_service.lazy import cached_property

__all__ = ["BeatIndex", "assign_points_to_beats"]

_GRID_FROM = 100_000  # points in a batch from which the grid pays for itself
_SUB = 4  # an edge cell is split into _SUB × _SUB sub-cells
_GRID_CELLS = 1e6  # cells over the bounds of the polygon beats (the size is kept within 2–200 m)


@dataclass(frozen=True)
class BeatIndex:
    """Beats in the metric CRS with an STRtree: polygons, and road beats with their reach (buffer_m)."""

    codes: np.ndarray
    squads: np.ndarray
    names: np.ndarray
    districts: np.ndarray
    geoms: np.ndarray
    is_line: np.ndarray
    reach: np.ndarray
    tree: shapely.STRtree
    _grid: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, beats: gpd.GeoDataFrame, *, crs: str = "EPSG:4547") -> BeatIndex:
        """Index a ``patrol_beats`` frame (EPSG:4326)."""
        geoms = to_metric(beats.geometry.to_numpy(), crs)
        is_line = np.isin(shapely.get_type_id(geoms), [1, 5])
        reach = (
            beats["buffer_m"].fillna(30.0).to_numpy(dtype=float)
            if "buffer_m" in beats
            else np.full(len(beats), 30.0)
        )
        shapely.prepare(geoms)
        return cls(
            beats["code"].to_numpy(dtype=object),
            beats["squad"].to_numpy(dtype=object),
            beats["name"].to_numpy(dtype=object),
            beats["district"].to_numpy(dtype=object),
            geoms,
            is_line,
            reach,
            shapely.STRtree(geoms),
        )

    def beats_at(self, x: float, y: float) -> np.ndarray:
        """The beats of one place (metric ``x``, ``y``) in the index's order: the polygons holding it
        (boundary included) and the road beats reaching it, as :func:`assign_points_to_beats` answers
        for a single point, from one query of the tree (who-covers asks for one place at a time)."""
        point = shapely.points(x, y)
        near = np.sort(self.tree.query(point, predicate="dwithin", distance=self._line_reach))
        line = self.is_line[near]
        polygon = ~line
        keep = np.zeros(len(near), dtype=bool)
        keep[polygon] = shapely.intersects_xy(self.geoms[near[polygon]], x, y)
        keep[line] = shapely.distance(self.geoms[near[line]], point) <= self.reach[near[line]]
        return near[keep]

    @cached_property
    def _line_reach(self) -> float:
        """How far the furthest-reaching road beat reaches (0 without road beats)."""
        return max(float(self.reach[self.is_line].max()), 0.0) if self.is_line.any() else 0.0

    def interior_grid(self) -> dict[str, Any]:
        """The cell grid of the polygon beats, built on first use and kept with the index.

        ``cells`` holds per cell a beat index (wholly inside that beat alone), -1 (no beat) or -2 (an
        edge crosses it: see the sub-cells); ``near_line`` marks cells within reach of a road beat.
        """
        if self._grid:
            return self._grid
        polys = np.flatnonzero(~self.is_line)
        if len(polys) == 0:
            self._grid["cells"] = None
            return self._grid
        from geo_service.coverage.cell_grid import classify, edges_of, near  # numba: loaded on first use

        minx, miny, maxx, maxy = shapely.total_bounds(self.geoms[polys])
        size = float(np.clip(np.sqrt((maxx - minx) * (maxy - miny) / _GRID_CELLS), 2.0, 200.0))
        nx, ny = int((maxx - minx) // size) + 1, int((maxy - miny) // size) + 1  # the far edges inside too
        edges, origin = edges_of(self.geoms[polys]), (minx, miny)
        state, _, _ = classify(edges, origin, size, (ny, nx), np.arange(ny * nx), 1)
        state = np.where(state >= 0, polys[np.maximum(state, 0)], state).astype(np.int32)
        edge = np.flatnonzero(state == -2)
        rank = np.full(len(state), -1, dtype=np.int64)
        rank[edge] = np.arange(len(edge))
        # the cells an edge crosses, each split into _SUB × _SUB: most of those are inside or outside too
        sub_state, sub_ptr, sub_cand = classify(edges, origin, size, (ny, nx), rank, _SUB)
        sub_state = np.where(sub_state >= 0, polys[np.maximum(sub_state, 0)], sub_state).astype(np.int32)
        sub_cand = polys[sub_cand]
        near_line = np.zeros(len(state), dtype=bool)
        if self.is_line.any():
            lines = np.flatnonzero(self.is_line)
            near_line = near(
                edges_of(self.geoms[lines]), origin, size, (ny, nx), float(self.reach[lines].max())
            )
        self._grid.update(
            cells=state.reshape(ny, nx),
            origin=(minx, miny),
            size=size,
            shape=(ny, nx),
            rank=rank,
            sub_state=sub_state,
            sub_ptr=sub_ptr,
            sub_cand=sub_cand,
            near_line=near_line,
        )
        return self._grid


def _xy(points: Any) -> np.ndarray:
    arr = np.asarray(points)
    if arr.dtype != object and arr.ndim == 2 and arr.shape[1] == 2:
        return arr.astype(float, copy=False)
    return shapely.get_coordinates(np.asarray(points, dtype=object))


def assign_points_to_beats(points: Any, index: BeatIndex) -> tuple[np.ndarray, np.ndarray]:
    """All (point, beat) memberships: points in polygon beats (boundary included), or within reach of
    road beats.

    Parameters
    ----------
    points : array of shapely Points, or (n, 2) array of x, y
        In the metric CRS of ``index``.
    index : BeatIndex

    Returns
    -------
    (point index, beat index)
        Two aligned arrays sorted by point (and, for fewer than 100,000 points, then by beat); a point
        may be in several beats or none.
    """
    xy = _xy(points)
    n = len(xy)
    if n < _GRID_FROM or index.interior_grid().get("cells") is None:
        return _exact(xy, np.arange(n), index, polygons=True)
    grid = index.interior_grid()
    ny, nx = grid["shape"]
    size = grid["size"]
    fx = (xy[:, 0] - grid["origin"][0]) / size
    fy = (xy[:, 1] - grid["origin"][1]) / size
    ix, iy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    ok = (ix >= 0) & (iy >= 0) & (ix < nx) & (iy < ny)
    cell = np.where(ok, iy * nx + ix, 0)
    state = np.where(ok, grid["cells"].ravel()[cell], -1)
    base = np.where(state >= 0, state, -1)  # the one beat of a point, where a look-up tells it
    extra = [np.zeros((2, 0), dtype=np.int64)]  # memberships found by exact tests
    edge = np.flatnonzero(state == -2)
    if len(edge):
        sx = np.clip(((fx[edge] - ix[edge]) * _SUB).astype(np.int64), 0, _SUB - 1)
        sy = np.clip(((fy[edge] - iy[edge]) * _SUB).astype(np.int64), 0, _SUB - 1)
        sub = grid["rank"][cell[edge]] * _SUB * _SUB + sy * _SUB + sx
        sub_state = grid["sub_state"][sub]
        base[edge] = np.where(sub_state >= 0, sub_state, -1)
        tested = sub_state == -2
        pts, sub = edge[tested], sub[tested]
        ptr, cand = grid["sub_ptr"], grid["sub_cand"]
        k = ptr[sub + 1] - ptr[sub]
        p = np.repeat(pts, k)
        b = cand[ragged_positions(ptr[sub], k)]
        hit = shapely.intersects_xy(index.geoms[b], xy[p, 0], xy[p, 1])
        extra.append(np.stack([p[hit], b[hit]]))
    if index.is_line.any():
        near = np.flatnonzero(~ok | grid["near_line"][cell])  # beyond the grid a road beat may still reach
        extra.append(np.stack(_exact(xy[near], near, index, polygons=False)))
    # merge the few exact answers into the sorted look-up answers, without sorting a million pairs
    bp = np.flatnonzero(base >= 0)
    bb = base[bp].astype(np.int64)
    ep, eb = np.concatenate(extra, axis=1)
    order = np.lexsort((eb, ep))
    ep, eb = ep[order], eb[order]
    at = np.searchsorted(bp, ep, side="right")
    return np.insert(bp, at, ep), np.insert(bb, at, eb)


def _exact(
    xy: np.ndarray, ids: np.ndarray, index: BeatIndex, *, polygons: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Memberships by the STRtree: polygon beats (if ``polygons``) and road beats, point ids ``ids``."""
    pts = shapely.points(xy) if len(xy) else np.zeros(0, dtype=object)
    pairs = [np.zeros((2, 0), dtype=np.int64)]
    if polygons:
        p, b = index.tree.query(pts, predicate="intersects")
        keep = ~index.is_line[b]
        pairs.append(np.stack([ids[p[keep]], b[keep]]))
    if index.is_line.any():
        lp, lb = index.tree.query(pts, predicate="dwithin", distance=float(index.reach.max()))
        on_line = index.is_line[lb]
        lp, lb = lp[on_line], lb[on_line]
        close = shapely.distance(pts[lp], index.geoms[lb]) <= index.reach[lb]
        pairs.append(np.stack([ids[lp[close]], lb[close]]))
    both = np.concatenate(pairs, axis=1)
    order = np.lexsort((both[1], both[0]))
    return both[0][order], both[1][order]
