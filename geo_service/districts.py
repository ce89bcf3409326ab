"""Which district a feature lies in, and whether that is the district it names.

A layer with a ``district`` field (stall sites, festival points, patrol beats, roads, bridges …) says
which district a feature belongs to; the ``districts`` layer says where the districts are. The two must
agree: a zone drawn in 山阳区 but filed under 马村区 would be counted, patrolled and reported in the
wrong district.

Where a feature *lies* (the rule the guide documents):

- a zone (polygon) lies in the district holding the largest part of its area, a line in the one
  holding the largest part of its length (measured in the metric CRS); the part outside every district
  competes too, so a zone mostly outside the city lies outside it;
- a point lies in the district that contains it; a point within ``tolerance_m`` (10 m) of a district
  border may be filed under either side (positions copied from a map are rarely better than that);
- a feature straddling a border equally may be filed under either district.

Analysis only: no FastAPI, no SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geo_service.crs import to_metric

__all__ = ["TOLERANCE_M", "DistrictIndex", "Placement"]

#: a point this close to a district may be filed under it (border noise, copied coordinates)
TOLERANCE_M = 10.0
_EPS = 1e-9  # shares equal to this are ties


@dataclass(frozen=True)
class Placement:
    """Where one feature lies: the share of it in each district it meets, and outside them all.

    ``district`` is the district holding the largest part (None: it lies outside every district, or
    mostly so). ``near`` are districts a point lies within the tolerance of.
    """

    shares: tuple[tuple[str, float], ...]
    outside: float
    near: tuple[str, ...] = ()

    @property
    def district(self) -> str | None:
        best = max((s for _, s in self.shares), default=0.0)
        if best <= 0 or self.outside > best + _EPS:
            return None
        return next(n for n, s in self.shares if s >= best - _EPS)

    def accepts(self, name: str) -> bool:
        """Whether the feature may be filed under district ``name``."""
        if name in self.near:
            return True
        best = max((s for _, s in self.shares), default=0.0)
        mine = dict(self.shares).get(name, 0.0)
        return mine > 0 and mine >= best - _EPS and mine >= self.outside - _EPS


@dataclass(frozen=True)
class DistrictIndex:
    """The district outlines in the metric CRS, indexed for placing features."""

    names: np.ndarray
    geoms: np.ndarray
    tree: shapely.STRtree
    crs: str

    @classmethod
    def build(cls, frame: gpd.GeoDataFrame, *, crs: str = "EPSG:4547", name: str = "name") -> DistrictIndex:
        """Index a ``districts`` frame (EPSG:4326); features without a geometry or name are left out."""
        if len(frame):
            keep = frame.geometry.notna().to_numpy() & frame[name].notna().to_numpy()
            frame = frame[keep]
        geoms = to_metric(frame.geometry.to_numpy(), crs) if len(frame) else np.array([], dtype=object)
        names = frame[name].astype(str).to_numpy(dtype=object) if len(frame) else np.array([], dtype=object)
        return cls(names, geoms, shapely.STRtree(geoms), crs)

    def __len__(self) -> int:
        return len(self.geoms)

    @property
    def all_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(n) for n in self.names))

    def place(self, geometries: Sequence[shapely.Geometry]) -> list[Placement]:
        """Where each geometry (EPSG:4326) lies; see the module's rule.

        Examples
        --------
        >>> index.place([zone])[0].district  # doctest: +SKIP
        '山阳区'
        """
        geoms = to_metric(np.asarray(geometries, dtype=object), self.crs)
        dims = shapely.get_dimensions(geoms)
        measure = np.where(dims == 2, shapely.area(geoms), np.where(dims == 1, shapely.length(geoms), 1.0))
        shares: list[dict[str, float]] = [{} for _ in geoms]
        near: list[list[str]] = [[] for _ in geoms]
        if len(self.geoms):
            pts = dims == 0
            left, right = self.tree.query(geoms, predicate="intersects")
            cut = shapely.intersection(geoms[left], self.geoms[right])
            part = np.where(
                dims[left] == 2, shapely.area(cut), np.where(dims[left] == 1, shapely.length(cut), 1.0)
            )
            for i, j, p in zip(left, right, part, strict=True):
                if measure[i] > 0 and p > 0:
                    name = str(self.names[j])
                    share = 1.0 if pts[i] else float(p / measure[i])
                    shares[i][name] = shares[i].get(name, 0.0) + share
            if pts.any():
                idx = np.flatnonzero(pts)
                li, rj = self.tree.query(geoms[idx], predicate="dwithin", distance=TOLERANCE_M)
                for i, j in zip(idx[li], rj, strict=True):
                    near[i].append(str(self.names[j]))
        out = []
        for s, n in zip(shares, near, strict=True):
            if s and max(s.values()) >= 1.0 - _EPS and len(s) > 1:  # a point on a shared border
                s = {k: 1.0 / len(s) for k in s}
            inside = min(sum(s.values()), 1.0)
            out.append(Placement(tuple(sorted(s.items(), key=lambda kv: -kv[1])), 1.0 - inside, tuple(n)))
        return out

    def mismatch(self, placement: Placement, named: str | None) -> tuple[str, str] | None:
        """The zh/en message when a feature filed under ``named`` (None: not filed under any) does not
        lie there, or lies outside every district; None when it is where it says."""
        where = placement.district
        listed_zh = "、".join(self.all_names)
        listed_en = ", ".join(self.all_names)
        if where is None and not placement.near:
            said = f"，所属区却填为「{named}」" if named else ""
            said_en = f", yet its district is given as '{named}'" if named else ""
            return (
                f"位于本市各城区（{listed_zh}）之外{said}",
                f"Lies outside the city's districts ({listed_en}){said_en}",
            )
        if named is None or placement.accepts(named):
            return None
        if where is None:  # a point just outside the city, near a district other than the one named
            where = placement.near[0]
        return (
            f"位于{where}，所属区却填为「{named}」",
            f"Lies in {where}, yet its district is given as '{named}'",
        )
