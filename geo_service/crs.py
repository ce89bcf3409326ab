"""Coordinate reference systems: EPSG input, GCJ-02 / BD-09 conversion, the metric CRS.

Coordinates copied from AMap or Tencent are GCJ-02, from Baidu BD-09: both are 500+ m off WGS 84 in
Jiaozuo. The forward transforms are the published formulas; the inverses are solved iteratively (fixed
point on the forward transform) so that a round trip is within millimetres, not the ~1–2 m of the
usual one-step approximation.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from geo_service.errors import InvalidInput

__all__ = [
    "SourceCRS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_metric",
    "from_wgs84",
    "gcj02_to_bd09",
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
_ALIASES = {"wgs84": "EPSG:4326", "wgs-84": "EPSG:4326", "cgcs2000": "EPSG:4490", "cgcs-2000": "EPSG:4490"}


@dataclass(frozen=True)
class SourceCRS:
    """Where input coordinates come from: an EPSG CRS, or one of the Chinese offset systems."""

    kind: str  # "epsg" | "gcj02" | "bd09"
    epsg: int = 4326

    @property
    def name(self) -> str:
        return f"EPSG:{self.epsg}" if self.kind == "epsg" else self.kind

    @property
    def is_geographic(self) -> bool:
        """Whether coordinates in it are longitude and latitude in degrees (GCJ-02 and BD-09 are)."""
        return self.kind != "epsg" or _geographic(self.epsg)


_URN = re.compile(
    r"^(?:urn:ogc:def:crs:epsg:[0-9.]*:|https?://www\.opengis\.net/def/crs/epsg/[0-9.]+/)(\d+)$"
)
_CRS84 = (
    "crs84",
    "ogc:crs84",
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:ogc::crs84",
    "http://www.opengis.net/def/crs/ogc/1.3/crs84",
    "https://www.opengis.net/def/crs/ogc/1.3/crs84",
)


def parse_crs(value: str | int | SourceCRS) -> SourceCRS:
    """Read a CRS name.

    Parameters
    ----------
    value
        ``EPSG:4326``, ``4490``, ``epsg:4547``, ``wgs84``, ``cgcs2000``, ``gcj02`` (AMap, Tencent),
        ``bd09`` (Baidu), or an OGC URI (``http://www.opengis.net/def/crs/EPSG/0/4547``,
        ``urn:ogc:def:crs:EPSG::4326``, ``OGC:CRS84``), case-insensitive.

    Raises
    ------
    InvalidInput
        For anything else, or an EPSG CRS that is neither geographic nor projected.

    Examples
    --------
    >>> parse_crs("epsg:4547").name, parse_crs("GCJ02").kind
    ('EPSG:4547', 'gcj02')
    """
    if isinstance(value, SourceCRS):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _unknown(value)
    parsed = _parse_crs(str(value).strip().lower())
    if parsed == "unknown":
        raise _unknown(value)
    if parsed == "not-2d":
        raise _unknown(value, "不是经纬度或平面坐标系", "Not a geographic or projected coordinate system")
    assert isinstance(parsed, SourceCRS)
    return parsed


def _unknown(value: Any, why_zh: str = "无法识别", why_en: str = "Unknown coordinate system") -> InvalidInput:
    shown = str(value)[:80]
    return InvalidInput(
        f"坐标系「{shown}」{why_zh}，可用 EPSG 代码（如 EPSG:4326、EPSG:4490、EPSG:4547）、gcj02 或 bd09",
        f"{why_en} '{shown}': use an EPSG code (EPSG:4326, EPSG:4490, EPSG:4547…), gcj02 or bd09",
        field="crs",
    )


@functools.lru_cache(maxsize=64)
def _parse_crs(text: str) -> SourceCRS | str:
    compact = text.replace("_", "").replace(" ", "")
    if compact in ("gcj02", "gcj-02", "amap", "tencent", "gaode"):
        return SourceCRS("gcj02")
    if compact in ("bd09", "bd-09", "baidu", "bd09ll"):
        return SourceCRS("bd09")
    if compact in _CRS84:
        return SourceCRS("epsg", 4326)
    compact = _ALIASES.get(compact, compact)
    match = _URN.match(compact)
    code = match.group(1) if match else compact.upper().removeprefix("EPSG:")
    if not code.isdigit():
        return "unknown"
    try:
        crs = pyproj.CRS.from_epsg(int(code))
    except CRSError:
        return "unknown"
    if not (crs.is_geographic or crs.is_projected) or crs.is_geocentric:
        return "not-2d"
    return SourceCRS("epsg", int(code))


@functools.lru_cache(maxsize=64)
def _geographic(epsg: int) -> bool:
    return bool(pyproj.CRS.from_epsg(epsg).is_geographic)


@functools.lru_cache(maxsize=64)
def transformer(source: str, target: str) -> pyproj.Transformer:
    """A cached, always-xy transformer (building one costs milliseconds)."""
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
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


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09 (Baidu's published formula, vectorised)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(
    forward: Any, lon: Any, lat: Any, first: tuple[np.ndarray, np.ndarray], tol_deg: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(w) = target`` by fixed-point iteration ``w -= forward(w) - target``.

    The offsets vary slowly (their derivatives are ~1e-3), so each step gains about three digits.
    """
    tlon, tlat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = first
    for _ in range(max_iter):
        flon, flat = forward(wlon, wlat)
        elon, elat = flon - tlon, flat - tlat
        wlon, wlat = wlon - elon, wlat - elat
        if not (np.abs(elon) >= tol_deg).any() and not (np.abs(elat) >= tol_deg).any():
            break
    return wlon, wlat


def gcj02_to_wgs84(
    lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS 84 by iterating on the forward transform (round trip well under 1 mm).

    The usual one-step inverse (subtract the offset computed at the GCJ-02 point) is 1–2 m off;
    this one repeats the correction until the forward transform reproduces the input.
    """
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return _invert(wgs84_to_gcj02, glon, glat, (glon.copy(), glat.copy()), tol_deg, max_iter)


def bd09_to_gcj02(
    lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02 by iterating on :func:`gcj02_to_bd09`."""
    blon, blat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return _invert(gcj02_to_bd09, blon, blat, (blon - 0.0065, blat - 0.006), tol_deg, max_iter)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(
    lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → WGS 84 by iterating on the whole forward transform :func:`wgs84_to_bd09`."""
    blon, blat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return _invert(wgs84_to_bd09, blon, blat, gcj02_to_wgs84(*bd09_to_gcj02(blon, blat)), tol_deg, max_iter)


def _apply(geoms: Any, fn: Any) -> Any:
    def xy(coords: np.ndarray) -> np.ndarray:
        if len(coords) == 0:
            return coords
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, xy)


def to_wgs84(geoms: Any, source: str | int | SourceCRS) -> Any:
    """Geometries in ``source`` → WGS 84 lon/lat, 2D.

    Parameters
    ----------
    geoms
        A shapely geometry, a list or array of them, a GeoSeries or a GeoDataFrame. Its own ``crs``
        attribute is not consulted: ``source`` says where the coordinates come from.
    source
        Anything :func:`parse_crs` reads.

    Returns
    -------
    The same kind of object (a list stays a list; a GeoSeries or GeoDataFrame comes back with
    ``crs`` EPSG:4326 and the same index).
    """
    crs = parse_crs(source)
    if isinstance(geoms, BaseGeometry):
        return to_wgs84(np.array([geoms], dtype=object), crs)[0]
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
        out = _apply(values, t.transform)
    if not frame:
        return list(out) if isinstance(geoms, list) else out
    import geopandas as gpd

    series = gpd.GeoSeries(out, index=geoms.index, crs="EPSG:4326")
    if isinstance(geoms, gpd.GeoDataFrame):
        result = geoms.copy()
        result[geoms.geometry.name] = series
        return result.set_crs("EPSG:4326", allow_override=True)
    return series


def from_wgs84(geoms: np.ndarray, target: str | int | SourceCRS) -> np.ndarray:
    """Geometries in WGS 84 lon/lat → ``target`` (anything :func:`parse_crs` reads), for answers a
    client asked for in its own coordinates (a map page under GCJ-02 tiles)."""
    crs = parse_crs(target)
    values = np.asarray(geoms, dtype=object)
    if crs.kind == "gcj02":
        return _apply(values, wgs84_to_gcj02)  # type: ignore[no-any-return]
    if crs.kind == "bd09":
        return _apply(values, wgs84_to_bd09)  # type: ignore[no-any-return]
    if crs.epsg in (4326, 4490):
        return values
    return _apply(values, transformer("EPSG:4326", f"EPSG:{crs.epsg}").transform)  # type: ignore[no-any-return]


def metric_crs(settings: Any = None) -> pyproj.CRS:
    """The projected CRS for distances and areas.

    Parameters
    ----------
    settings
        ``None`` (CGCS2000 / 3-degree Gauss–Krüger CM 114E, EPSG:4547, right for Jiaozuo), a
        :class:`~geo_service.settings.Settings` (its ``metric_crs``) or a CRS name.

    Raises
    ------
    InvalidInput
        If the CRS is not projected in metres.
    """
    name = getattr(settings, "metric_crs", settings) or "EPSG:4547"
    return _metric(str(name))


@functools.lru_cache(maxsize=16)
def _metric(name: str) -> pyproj.CRS:
    try:
        crs = pyproj.CRS.from_user_input(name)
    except CRSError:
        raise _unknown(name) from None
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if not crs.is_projected or unit not in ("metre", "meter"):
        raise _unknown(name, "不是以米为单位的平面坐标系", "Not a projected coordinate system in metres")
    return crs


def to_metric(geoms: Any, crs: str = "EPSG:4547") -> Any:
    """WGS 84 geometries (array-like) → the metric CRS ``crs`` (cached transformer)."""
    t = transformer("EPSG:4326", crs)
    return _apply(np.asarray(geoms, dtype=object), t.transform)


def from_metric(geoms: Any, crs: str = "EPSG:4547") -> Any:
    """Geometries (array-like) in the metric CRS ``crs`` → WGS 84."""
    t = transformer(crs, "EPSG:4326")
    return _apply(np.asarray(geoms, dtype=object), t.transform)
