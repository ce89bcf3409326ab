"""Coordinate reference systems: EPSG input, GCJ-02 / BD-09 conversion, the metric CRS.

Coordinates copied from AMap or Tencent are GCJ-02, from Baidu BD-09: both are 500+ m off WGS 84 in
Jiaozuo. The forward transforms are the published formulas; the inverses are solved iteratively (fixed
point on the forward transform) so that a round trip is within millimetres, not the ~1–2 m of the
usual one-step approximation.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError

from geo_service.errors import InvalidInput

__all__ = [
    "SourceCRS",
    "bd09_to_wgs84",
    "from_metric",
    "gcj02_to_wgs84",
    "metric_crs",
    "parse_crs",
    "to_metric",
    "to_wgs84",
    "transformer",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_ALIASES = {"wgs84": "EPSG:4326", "wgs-84": "EPSG:4326", "crs84": "EPSG:4326", "cgcs2000": "EPSG:4490",
            "epsg:4326": "EPSG:4326"}


@dataclass(frozen=True)
class SourceCRS:
    """Where input coordinates come from: an EPSG CRS, or one of the Chinese offset systems."""

    kind: str  # "epsg" | "gcj02" | "bd09"
    epsg: int = 4326

    @property
    def name(self) -> str:
        return f"EPSG:{self.epsg}" if self.kind == "epsg" else self.kind


@functools.lru_cache(maxsize=64)
def parse_crs(value: str | int | SourceCRS) -> SourceCRS:
    """Read a CRS name: ``EPSG:4326``, ``4490``, ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``."""
    if isinstance(value, SourceCRS):
        return value
    text = str(value).strip().lower().replace("_", "").replace(" ", "")
    if text in ("gcj02", "gcj-02", "amap", "tencent"):
        return SourceCRS("gcj02")
    if text in ("bd09", "bd-09", "baidu", "bd09ll"):
        return SourceCRS("bd09")
    text = _ALIASES.get(text, text)
    code = text.upper().removeprefix("EPSG:")
    if code.isdigit():
        try:
            pyproj.CRS.from_epsg(int(code))
        except CRSError:
            pass
        else:
            return SourceCRS("epsg", int(code))
    raise InvalidInput(f"坐标系「{value}」无法识别，可用 EPSG 代码（如 EPSG:4326、EPSG:4490）、gcj02 或 bd09",
                       f"Unknown coordinate system '{value}': use an EPSG code (EPSG:4326, EPSG:4490…), gcj02 or bd09",
                       field="crs")


@functools.lru_cache(maxsize=64)
def transformer(source: str, target: str) -> pyproj.Transformer:
    """A cached, always-xy transformer (building one costs milliseconds)."""
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 → GCJ-02 (vectorised; points outside China are left as they are)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    outside = _out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def gcj02_to_wgs84(lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS 84 by fixed-point iteration on the forward transform (round trip < 1 mm)."""
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return wlon, wlat


def _gcj_to_bd(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 → BD-09 (through GCJ-02)."""
    return _gcj_to_bd(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → WGS 84 by iterating on the forward transform."""
    blon, blat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = gcj02_to_wgs84(blon - 0.0065, blat - 0.006)
    for _ in range(max_iter):
        flon, flat = wgs84_to_bd09(wlon, wlat)
        elon, elat = flon - blon, flat - blat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return wlon, wlat


def _apply(geoms: Any, fn: Any) -> Any:
    def xy(coords: np.ndarray) -> np.ndarray:
        if len(coords) == 0:
            return coords
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, xy)


def to_wgs84(geoms: Any, source: str | int | SourceCRS) -> Any:
    """Geometries (array, list, GeoSeries or GeoDataFrame) in ``source`` → WGS 84 lon/lat.

    A GeoDataFrame or GeoSeries comes back as the same kind, with ``crs`` EPSG:4326.
    """
    crs = parse_crs(source)
    frame = hasattr(geoms, "set_crs")
    values = np.asarray(geoms.geometry.values if frame else geoms, dtype=object)
    values = shapely.force_2d(values) if len(values) else values
    if crs.kind == "gcj02":
        out = _apply(values, gcj02_to_wgs84)
    elif crs.kind == "bd09":
        out = _apply(values, bd09_to_wgs84)
    elif crs.epsg in (4326, 4490):
        out = values  # CGCS2000 and WGS 84 agree to centimetres at city scale
    else:
        t = transformer(f"EPSG:{crs.epsg}", "EPSG:4326")
        out = _apply(values, lambda x, y: t.transform(x, y))
    if not frame:
        return list(out) if isinstance(geoms, list) else out
    import geopandas as gpd

    series = gpd.GeoSeries(out, index=geoms.index, crs="EPSG:4326")
    if isinstance(geoms, gpd.GeoDataFrame):
        result = geoms.copy()
        result[geoms.geometry.name] = series
        return result.set_crs("EPSG:4326", allow_override=True)
    return series


def metric_crs(name: str | None = None) -> pyproj.CRS:
    """The projected CRS for distances and areas (default CGCS2000 / 3-degree GK CM 114E)."""
    return _crs(name or "EPSG:4547")


@functools.lru_cache(maxsize=16)
def _crs(name: str) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(name)


def to_metric(geoms: Any, crs: str = "EPSG:4547") -> Any:
    """WGS 84 geometries (array-like) → metric CRS."""
    t = transformer("EPSG:4326", crs)
    return _apply(np.asarray(geoms, dtype=object), lambda x, y: t.transform(x, y))


def from_metric(geoms: Any, crs: str = "EPSG:4547") -> Any:
    """Metric CRS geometries (array-like) → WGS 84."""
    t = transformer(crs, "EPSG:4326")
    return _apply(np.asarray(geoms, dtype=object), lambda x, y: t.transform(x, y))
