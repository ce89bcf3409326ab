"""The duty office (值班室) a case goes to when no squad takes it: one rule for dispatch and who-covers."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.crs import to_metric

__all__ = ["CITY_OFFICE", "duty_offices"]

CITY_OFFICE = "市值班室"


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
    named = pd.Series(list(beat_districts), dtype=object)
    named = named.where(named.map(lambda v: isinstance(v, str) and bool(v.strip())), None)
    office = np.array([CITY_OFFICE if v is None else f"{v}值班室" for v in named], dtype=object).reshape(-1)
    left = np.arange(len(xy))
    names = [str(v) for v in districts["name"]]
    for name, shape in zip(names, to_metric(districts.geometry.to_numpy(), crs), strict=True):
        if not len(left):
            break
        shapely.prepare(shape)
        inside = shapely.contains_xy(shape, xy[left, 0], xy[left, 1])
        office[left[inside]] = f"{name}值班室"
        left = left[~inside]
    return office
