"""The duty office (值班室) a case goes to when no squad takes it: one rule for dispatch and who-covers."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

from geo_service.crs import to_metric

__all__ = ["CITY_OFFICE", "district_shapes", "duty_offices"]

CITY_OFFICE = "市值班室"

# the districts' names and shapes, per frame asked about and CRS (the workspace's frame of a layer
# version is one object, never changed in place): who-covers asks for one place at a time, and
# projecting the districts' outlines every time cost more than the rest of its answer
_SHAPES: OrderedDict[tuple[int, str | None], tuple[weakref.ref[gpd.GeoDataFrame], list[str], np.ndarray]] = (
    OrderedDict()
)
_SHAPES_LOCK = threading.Lock()
_SHAPES_KEPT = 4


def district_shapes(districts: gpd.GeoDataFrame, crs: str | None = None) -> tuple[list[str], np.ndarray]:
    """The districts' names and shapes (prepared), in ``crs`` or as the frame has them (None), made
    once per frame."""
    key = (id(districts), crs)
    with _SHAPES_LOCK:
        hit = _SHAPES.get(key)
        if hit is not None and hit[0]() is districts:
            _SHAPES.move_to_end(key)
            return hit[1], hit[2]
    names = [str(v) for v in districts["name"]]
    shapes = districts.geometry.to_numpy()
    shapes = np.asarray(shapes if crs is None else to_metric(shapes, crs), dtype=object)
    shapely.prepare(shapes)
    with _SHAPES_LOCK:
        _SHAPES[key] = (weakref.ref(districts), names, shapes)
        _SHAPES.move_to_end(key)
        while len(_SHAPES) > _SHAPES_KEPT:
            _SHAPES.popitem(last=False)
    return names, shapes


def duty_offices(
    xy: np.ndarray, beat_districts: Sequence[object] | np.ndarray, districts: gpd.GeoDataFrame, *, crs: str
) -> np.ndarray:
    """Per place (metric coordinates, n × 2), the office a case there is escalated to: that of the
    district containing the place; for a place on a border between districts (contained by neither)
    or outside every district, that of the district of the beat that takes it (``beat_districts``,
    None or NaN for no beat or a beat without one); else the city's, 市值班室.

    Every caller asks here, so that the map's "who covers this place" and a dispatched case name the
    same office for the same place (a border place once got one district's office from each).

    Examples
    --------
    >>> import geopandas as gpd, numpy as np, shapely
    >>> one = gpd.GeoDataFrame({"name": ["甲区"]}, geometry=[shapely.box(430000, 3900000, 430100, 3900100)],
    ...     crs=4547).to_crs(4326)
    >>> duty_offices(np.array([[430050, 3900050], [430500, 3900050], [430500, 3900050]]),
    ...     [None, "乙区", None], one, crs="EPSG:4547").tolist()
    ['甲区值班室', '乙区值班室', '市值班室']
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    office = np.array(
        [f"{v}值班室" if isinstance(v, str) and v.strip() else CITY_OFFICE for v in beat_districts],
        dtype=object,
    )
    names, shapes = district_shapes(districts, crs)
    if len(xy) == 1:  # one place (who-covers): every district at once
        inside = np.flatnonzero(shapely.contains_xy(shapes, xy[0, 0], xy[0, 1]))
        if len(inside):
            office[0] = f"{names[inside[0]]}值班室"
        return office
    left = np.arange(len(xy))
    for name, shape in zip(names, shapes, strict=True):
        if not len(left):
            break
        inside = shapely.contains_xy(shape, xy[left, 0], xy[left, 1])
        office[left[inside]] = f"{name}值班室"
        left = left[~inside]
    return office
