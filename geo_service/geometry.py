"""Geometry checks on every write: parse GeoJSON, refuse what cannot be stored, say precisely why.

Refused: empty geometries, NaN/∞ coordinates, coordinates out of range or outside China, lon/lat that
look swapped, too many vertices, a type the layer does not declare, invalid shapes (bow-ties, holes
outside their shell, rings with too few points). Normalised silently: Z dropped (the store is 2D),
polygon winding per RFC 7946, single parts promoted to the declared multi-type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo_service.catalog import LayerSpec
from geo_service.errors import InvalidInput, PayloadTooLarge

__all__ = ["CHINA_BOUNDS", "geometry_from_geojson", "validate_geometry"]

#: lon/lat bounds used to catch swapped or foreign coordinates.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)
_TYPES = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon")
_MULTI = {"Point": "MultiPoint", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}
_ZH = {"Point": "点", "LineString": "线", "Polygon": "面", "MultiPoint": "多点", "MultiLineString": "多线",
       "MultiPolygon": "多面"}


def _bad(zh: str, en: str, *, layer: str | None = None, feature: Any = None) -> InvalidInput:
    return InvalidInput(zh, en, layer=layer, feature=feature, field="geometry")


def _check_positions(obj: Any, depth: int, feature: Any) -> None:
    """Walk a GeoJSON coordinates array of the expected nesting depth."""
    if depth == 0:
        if (not isinstance(obj, list | tuple) or len(obj) < 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in obj)):
            raise _bad(f"坐标应为 [经度, 纬度] 数值对，收到 {str(obj)[:40]}",
                       f"A position must be [lon, lat] numbers; got {str(obj)[:40]}", feature=feature)
        return
    if not isinstance(obj, list | tuple):
        raise _bad("坐标嵌套层级不正确", "The coordinates are not nested as the geometry type needs",
                   feature=feature)
    for item in obj:
        _check_positions(item, depth - 1, feature)


_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def geometry_from_geojson(obj: Any, *, feature: Any = None) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry object, with readable errors."""
    if not isinstance(obj, Mapping):
        raise _bad("几何应为 GeoJSON 对象", "The geometry must be a GeoJSON object", feature=feature)
    gtype = obj.get("type")
    if gtype not in _TYPES:
        if gtype == "GeometryCollection":
            raise _bad("不支持 GeometryCollection", "GeometryCollection is not supported", feature=feature)
        raise _bad(f"几何类型「{gtype}」无效", f"Unknown geometry type '{gtype}'", feature=feature)
    coords = obj.get("coordinates")
    if coords is None:
        raise _bad("几何缺少 coordinates", "The geometry has no coordinates", feature=feature)
    if isinstance(coords, list) and len(coords) == 0:
        raise _bad("几何为空", "The geometry is empty", feature=feature)
    _check_positions(coords, _DEPTH[gtype], feature)
    rings: list[Any] = []
    if gtype == "Polygon":
        rings = list(coords)
    elif gtype == "MultiPolygon":
        rings = [r for poly in coords for r in poly]
    for ring in rings:
        if len(ring) < 4:
            raise _bad(f"多边形环至少需要 4 个坐标（首尾相同），收到 {len(ring)} 个",
                       f"A polygon ring needs at least 4 positions (first = last); got {len(ring)}", feature=feature)
        if list(ring[0][:2]) != list(ring[-1][:2]):
            raise _bad("多边形环未闭合（首尾坐标不同）", "A polygon ring is not closed (first and last positions differ)",
                       feature=feature)
    if gtype == "LineString" and len(coords) < 2:
        raise _bad("线至少需要 2 个坐标", "A line needs at least 2 positions", feature=feature)
    try:
        return shape(obj)
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
        raise _bad(f"几何无法解析：{exc}", f"The geometry cannot be read: {exc}", feature=feature) from None


def validate_geometry(spec: LayerSpec, geom: BaseGeometry | None, *, max_vertices: int = 100_000,
                      feature: Any = None, repair: bool = False) -> BaseGeometry:
    """Check a WGS 84 geometry for ``spec`` and return it normalised (2D, RFC 7946 winding, declared type).

    Raises
    ------
    InvalidInput
        With a zh/en message naming the layer, the feature and what is wrong.
    PayloadTooLarge
        For more than ``max_vertices`` vertices.
    """
    layer = spec.name
    if spec.is_table:
        raise _bad(f"图层 {layer} 为属性表，不接受几何", f"Layer {layer} is a table and takes no geometry",
                   layer=layer, feature=feature)
    if geom is None or geom.is_empty:
        raise _bad("几何为空", "The geometry is empty", layer=layer, feature=feature)
    n = shapely.get_num_coordinates(geom)
    if n > max_vertices:
        raise PayloadTooLarge(f"几何有 {n} 个顶点，超过上限 {max_vertices}",
                              f"The geometry has {n} vertices, above the limit of {max_vertices}",
                              layer=layer, feature=feature, field="geometry")
    geom = shapely.force_2d(geom)
    xy = shapely.get_coordinates(geom)
    if not np.isfinite(xy).all():
        raise _bad("坐标含 NaN 或无穷大", "Coordinates contain NaN or infinity", layer=layer, feature=feature)
    lon, lat = xy[:, 0], xy[:, 1]
    if (np.abs(lon) > 180).any() or (np.abs(lat) > 90).any():
        i = int(np.argmax((np.abs(lon) > 180) | (np.abs(lat) > 90)))
        raise _bad(f"坐标超出经纬度范围：({lon[i]:g}, {lat[i]:g})；坐标应为 WGS 84 经度、纬度，其他坐标系请指定 crs",
                   f"Coordinate out of lon/lat range: ({lon[i]:g}, {lat[i]:g}); give WGS 84 lon, lat or name the crs",
                   layer=layer, feature=feature)
    minx, miny, maxx, maxy = CHINA_BOUNDS
    outside = (lon < minx) | (lon > maxx) | (lat < miny) | (lat > maxy)
    if outside.any():
        i = int(np.argmax(outside))
        if miny <= lon[i] <= maxy and minx <= lat[i] <= maxx:
            raise _bad(f"经纬度可能颠倒：({lon[i]:g}, {lat[i]:g})，应为（经度, 纬度）",
                       f"Longitude and latitude look swapped: ({lon[i]:g}, {lat[i]:g}); expected (lon, lat)",
                       layer=layer, feature=feature)
        raise _bad(f"坐标 ({lon[i]:g}, {lat[i]:g}) 不在中国境内", f"Coordinate ({lon[i]:g}, {lat[i]:g}) is outside China",
                   layer=layer, feature=feature)
    gtype = geom.geom_type
    accepted = spec.geometry_types
    if gtype not in accepted:
        if _MULTI.get(gtype) in accepted:
            geom = getattr(shapely.geometry, _MULTI[gtype])([geom])
        elif gtype.startswith("Multi") and len(geom.geoms) == 1 and gtype.removeprefix("Multi") in accepted:
            geom = geom.geoms[0]
        else:
            names_zh = "、".join(_ZH[t] for t in accepted)
            raise _bad(f"图层 {layer} 只接受{names_zh}几何，收到{_ZH.get(gtype, gtype)}",
                       f"Layer {layer} takes {', '.join(accepted)} geometries, not {gtype}", layer=layer, feature=feature)
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        if repair:
            fixed = shapely.make_valid(geom)
            if fixed.geom_type == geom.geom_type and not fixed.is_empty:
                geom = fixed
            else:
                raise _bad(f"几何无效且无法按原类型修复：{reason}", f"Invalid geometry that cannot be repaired as "
                           f"{geom.geom_type}: {reason}", layer=layer, feature=feature)
        else:
            zh = "自相交" if "Self-intersection" in reason else ("环的点数不足" if "Too few" in reason else "无效")
            raise _bad(f"几何无效（{zh}）：{reason}", f"Invalid geometry: {reason}", layer=layer, feature=feature)
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        geom = shapely.orient_polygons(geom, exterior_cw=False) if hasattr(shapely, "orient_polygons") else (
            shapely.geometry.polygon.orient(geom, 1.0) if geom.geom_type == "Polygon" else geom)
    return geom
