"""Geometry checks on every write: parse GeoJSON, refuse what cannot be stored, say precisely why.

Refused: empty geometries, NaN/∞ coordinates, lon/lat that look swapped, coordinates out of range or
outside China, too many vertices, a type the layer does not declare, invalid shapes (bow-ties, holes
outside their shell, rings with too few points or not closed). Normalised silently: Z dropped (the
store is 2D), polygon winding per RFC 7946 (exterior counter-clockwise, holes clockwise), a single
part promoted to the declared multi-type (or a one-part multi to the declared single type).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo_service.catalog import LayerSpec
from geo_service.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "CHINA_BOUNDS",
    "check_kinds",
    "check_place",
    "check_positions",
    "check_vertices",
    "geometry_from_geojson",
    "polygonal",
    "site_kinds",
    "validate_geometry",
]

#: lon/lat box (min lon, min lat, max lon, max lat) used to catch swapped or foreign coordinates.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)
_MULTI = {"Point": "MultiPoint", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}
_ZH = {
    "Point": "点",
    "LineString": "线",
    "Polygon": "面",
    "MultiPoint": "多点",
    "MultiLineString": "多线",
    "MultiPolygon": "多面",
    "GeometryCollection": "几何集合",
    "LinearRing": "环",
}
#: nesting depth of ``coordinates`` (0 = one position) and how to say it.
_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}
_SHAPE = {
    "Point": ("[经度, 纬度]", "[lon, lat]"),
    "MultiPoint": ("点的列表 [[经度, 纬度], …]", "a list of positions [[lon, lat], …]"),
    "LineString": ("点的列表 [[经度, 纬度], …]", "a list of positions [[lon, lat], …]"),
    "MultiLineString": ("线的列表，每条线是点的列表", "a list of lines, each a list of positions"),
    "Polygon": (
        "环的列表，每个环是点的列表 [[[经度, 纬度], …]]",
        "a list of rings, each a list of positions [[[lon, lat], …]]",
    ),
    "MultiPolygon": ("面的列表，每个面是环的列表", "a list of polygons, each a list of rings of positions"),
}
#: GEOS validity reasons in Chinese (the English reason is GEOS's own, with its location).
_REASON_ZH = {
    "Ring Self-intersection": "环自相交",
    "Self-intersection": "自相交（如“8”字形）",
    "Hole lies outside shell": "内环（洞）在外环之外",
    "Holes are nested": "内环相互嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "多面的外环相互嵌套",
    "Duplicate Rings": "环重复",
    "Too few points": "点数不足",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}


def _feature_words(feature: Any) -> tuple[str, str]:
    """A feature as the messages name it: a file's ``feature 3`` and ``row 3`` (the labels the readers
    give) are 第 3 个要素 and 第 3 行, as the guide says; ``add[1]`` or an id as given (要素 12, feature 12)."""
    words = str(feature).split(" ")
    if len(words) == 2 and words[1].isdigit() and words[0] in ("feature", "row"):
        zh = f"第 {words[1]} 个要素" if words[0] == "feature" else f"第 {words[1]} 行"
        return zh, str(feature)
    return f"要素 {feature}", f"feature {feature}"


def _where(layer: str | None, feature: Any) -> tuple[str, str]:
    named = _feature_words(feature) if feature is not None else None
    zh = "".join([f"图层 {layer} " if layer else "", f"{named[0]} " if named else ""])
    en = ", ".join([*([f"layer {layer}"] if layer else []), *([named[1]] if named else [])])
    return (f"{zh.strip()}：" if zh else "", f"{en[0].upper()}{en[1:]}: " if en else "")


def _bad(zh: str, en: str, *, layer: str | None = None, feature: Any = None) -> InvalidInput:
    wzh, wen = _where(layer, feature)
    return InvalidInput(wzh + zh, wen + en, layer=layer, feature=feature, field="geometry")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _positions(obj: Any, gtype: str, feature: Any, within: tuple[str, str] = ("", "")) -> np.ndarray:
    """A list of positions as an (n, 2) float array, or a precise error (``within``: the ring, said
    in Chinese and English, when the list is one)."""
    if isinstance(obj, list | tuple) and obj:
        try:  # the fast path: a regular list of numeric positions (a million vertices in ~0.1 s)
            arr = np.array(obj)
        except ValueError:  # ragged
            arr = None
        if arr is not None and arr.ndim == 2 and 2 <= arr.shape[1] <= 4 and arr.dtype.kind in "iuf":
            return _finite(arr[:, :2].astype(float), None, feature, within)
    if not isinstance(obj, list | tuple):
        raise _nesting(gtype, feature)
    xy = np.array([_position(p, gtype, feature) for p in obj], dtype=float).reshape(-1, 2)
    return _finite(xy, None, feature, within)


def _finite(
    xy: np.ndarray, layer: str | None, feature: Any, within: tuple[str, str] = ("", "")
) -> np.ndarray:
    """``xy`` when every coordinate is a number; else the refusal naming the first position that is
    not (JSON's NaN or Infinity: checked before anything else, so a ring that holds one is not said to
    be unclosed)."""
    bad = ~np.isfinite(xy).all(axis=1)
    if not bad.any():
        return xy
    i = int(np.argmax(bad))
    raise _bad(
        f"{within[0]}第 {i + 1} 个坐标不是数值（NaN 或无穷大）：{xy[i].tolist()}",
        f"Position {i + 1}{within[1]} is not a number (NaN or infinity): {xy[i].tolist()}",
        layer=layer,
        feature=feature,
    )


def _position(p: Any, gtype: str, feature: Any) -> np.ndarray:
    if not isinstance(p, list | tuple):
        raise _nesting(gtype, feature)
    if p and all(isinstance(v, list | tuple) for v in p):
        raise _nesting(gtype, feature)
    if not 2 <= len(p) <= 4 or not all(_is_number(v) for v in p):
        shown = str(list(p))[:60]
        raise _bad(
            f"坐标应为 [经度, 纬度] 两个数值（可带高程），收到 {shown}",
            f"A position must be two numbers [lon, lat] (optionally a height); got {shown}",
            feature=feature,
        )
    return _finite(np.asarray(p[:2], dtype=float).reshape(1, 2), None, feature)[0]


def _nesting(gtype: str, feature: Any) -> InvalidInput:
    zh, en = _SHAPE[gtype]
    return _bad(
        f"{gtype} 的 coordinates 嵌套层级不正确，应为{zh}",
        f"The coordinates of a {gtype} are not nested correctly: expected {en}",
        feature=feature,
    )


def _line(obj: Any, gtype: str, feature: Any) -> shapely.LineString:
    xy = _positions(obj, gtype, feature)
    if len(xy) < 2:
        raise _bad(
            f"线至少需要 2 个坐标，收到 {len(xy)} 个",
            f"A line needs at least 2 positions; got {len(xy)}",
            feature=feature,
        )
    return shapely.LineString(xy)


def _polygon(obj: Any, gtype: str, feature: Any) -> shapely.Polygon:
    if not isinstance(obj, list | tuple):
        raise _nesting(gtype, feature)
    if not obj:
        raise _bad("面至少需要一个外环", "A polygon needs an exterior ring", feature=feature)
    rings = []
    for k, ring in enumerate(obj):
        which_zh, which_en = ("外环", "exterior ring") if k == 0 else (f"第 {k} 个内环", f"hole {k}")
        xy = _positions(ring, gtype, feature, (which_zh, f" of {'the ' if k == 0 else ''}{which_en}"))
        if len(xy) < 4:
            raise _bad(
                f"{which_zh}至少需要 4 个坐标（首尾相同），收到 {len(xy)} 个",
                f"The {which_en} needs at least 4 positions (first = last); got {len(xy)}",
                feature=feature,
            )
        if not np.array_equal(xy[0], xy[-1]):
            raise _bad(
                f"{which_zh}未闭合：首点 {xy[0].tolist()} 与末点 {xy[-1].tolist()} 不同",
                f"The {which_en} is not closed: first position {xy[0].tolist()} differs from the last "
                f"{xy[-1].tolist()}",
                feature=feature,
            )
        rings.append(xy)
    return shapely.Polygon(rings[0], rings[1:])


def geometry_from_geojson(obj: Any, *, feature: Any = None) -> BaseGeometry:
    """A 2D shapely geometry from a GeoJSON geometry object, with readable errors.

    Parameters
    ----------
    obj
        A GeoJSON geometry (``{"type": "Polygon", "coordinates": [...]}``).
    feature
        How to name the feature in messages (an index, an id, ``"row 3"``).

    Raises
    ------
    InvalidInput
        Naming the fault: not an object, unknown type, missing or badly nested coordinates,
        non-numeric positions, NaN or infinite coordinates (JSON's NaN, Infinity), a line with one
        position, a ring with fewer than 4 positions or not closed. Out-of-range or swapped
        coordinates are left to :func:`validate_geometry`.
    """
    if not isinstance(obj, Mapping):
        raise _bad(
            "几何应为 GeoJSON 几何对象（含 type 与 coordinates）",
            "The geometry must be a GeoJSON geometry object (with type and coordinates)",
            feature=feature,
        )
    gtype = obj.get("type")
    if gtype in ("Feature", "FeatureCollection"):
        raise _bad(
            f"此处应为几何对象，收到 {gtype}（请给出其 geometry）",
            f"Expected a geometry object, got a {gtype} (give its geometry)",
            feature=feature,
        )
    if gtype not in _DEPTH:
        if gtype == "GeometryCollection":
            raise _bad(
                "不支持 GeometryCollection，请按图层类型拆分",
                "GeometryCollection is not supported: split it by the layer's geometry type",
                feature=feature,
            )
        raise _bad(
            f"几何类型「{gtype}」无效，应为 {'、'.join(_DEPTH)} 之一",
            f"Unknown geometry type '{gtype}': expected one of {', '.join(_DEPTH)}",
            feature=feature,
        )
    coords = obj.get("coordinates")
    if coords is None:
        raise _bad("几何缺少 coordinates", "The geometry has no coordinates", feature=feature)
    if isinstance(coords, list | tuple) and len(coords) == 0:
        raise _bad(
            "几何为空（coordinates 为空列表）", "The geometry is empty (no coordinates)", feature=feature
        )
    if not isinstance(coords, list | tuple):
        raise _nesting(gtype, feature)
    if gtype == "Point":
        return shapely.Point(_position(coords, gtype, feature))
    if gtype == "MultiPoint":
        return shapely.MultiPoint(_positions(coords, gtype, feature))
    if gtype == "LineString":
        return _line(coords, gtype, feature)
    if gtype == "MultiLineString":
        return shapely.MultiLineString([_line(part, gtype, feature) for part in coords])
    if gtype == "Polygon":
        return _polygon(coords, gtype, feature)
    if not all(isinstance(part, list | tuple) for part in coords):
        raise _nesting(gtype, feature)
    return shapely.MultiPolygon([_polygon(part, gtype, feature) for part in coords])


def _check_coordinates(
    xy: np.ndarray, layer: str | None, feature: Any, bounds: tuple[float, float, float, float]
) -> None:
    _finite(xy, layer, feature)
    lon, lat = xy[:, 0], xy[:, 1]
    minx, miny, maxx, maxy = bounds
    outside = (lon < minx) | (lon > maxx) | (lat < miny) | (lat > maxy)
    if not outside.any():
        return
    i = int(np.argmax(outside))
    shown = f"({lon[i]:.7g}, {lat[i]:.7g})"
    if miny <= lon[i] <= maxy and minx <= lat[i] <= maxx:
        raise _bad(
            f"经纬度可能颠倒 {shown}，请按先经度、后纬度的顺序填写",
            f"Longitude and latitude look swapped: {shown}; positions are (lon, lat)",
            layer=layer,
            feature=feature,
        )
    if abs(lon[i]) > 180 or abs(lat[i]) > 90:
        raise _bad(
            f"坐标 {shown} 超出经纬度范围；应为 WGS 84 经度、纬度，平面坐标请指定 crs（如 EPSG:4547）",
            f"Position {shown} is out of the lon/lat range; give WGS 84 lon, lat, or name the crs of "
            "projected coordinates (e.g. EPSG:4547)",
            layer=layer,
            feature=feature,
        )
    if tuple(bounds) == CHINA_BOUNDS:
        raise _bad(
            f"坐标 {shown} 不在中国境内", f"Position {shown} is outside China", layer=layer, feature=feature
        )
    raise _bad(
        f"坐标 {shown} 不在服务范围内（经度 {minx:g}～{maxx:g}，纬度 {miny:g}～{maxy:g}）",
        f"Position {shown} is outside the service area {list(bounds)}",
        layer=layer,
        feature=feature,
    )


def check_positions(
    geoms: Sequence[BaseGeometry | None],
    *,
    bounds: tuple[float, float, float, float],
    what: str,
    labels: Sequence[Any] | None = None,
) -> None:
    """Refuse the first WGS 84 geometry that is missing, empty, invalid (a bow-tie), or has a position
    that is NaN, infinite or outside ``bounds``; ``what`` names the list in messages (``vendors``, ``add``, …)
    and ``labels`` each geometry's key in it (by default its position: ``add[0]``)."""
    for i, geom in enumerate(geoms):
        label = f"{what}[{i if labels is None else labels[i]}]"
        if geom is None or geom.is_empty:
            raise InvalidInput(f"{label} 缺少几何", f"{label} has no geometry", feature=label, field=what)
        try:
            _check_coordinates(shapely.get_coordinates(geom), None, label, bounds)
        except InvalidInput as e:
            raise InvalidInput(e.zh, e.en, feature=label, field=what) from None
        if not geom.is_valid:  # a bow-tie or a ring that crosses itself has no area to speak of
            why = shapely.is_valid_reason(geom)
            raise InvalidInput(
                f"{label} 几何无效（自相交等）：{why}",
                f"{label} is not a valid geometry (it crosses itself or the like): {why}",
                feature=label,
                field=what,
            )


def check_kinds(
    geoms: Sequence[BaseGeometry],
    accepted: Sequence[str],
    *,
    what: str,
    thing: tuple[str, str],
    labels: Sequence[Any] | None = None,
) -> None:
    """Refuse the first geometry whose type is not one of ``accepted`` (a site given as a line): after
    :func:`check_positions`, for a list ``what`` of ``thing`` (said in Chinese and English: ``("站点",
    "a site")``), its items keyed as there.

    >>> check_kinds([shapely.LineString([(0, 0), (1, 1)])], ("Point",), what="add", thing=("站点", "a site"))
    Traceback (most recent call last):
    ...
    geo_service.errors.InvalidInput: add[0] is a LineString: a site is a Point here
    """
    for i, geom in enumerate(geoms):
        gtype = geom.geom_type
        if gtype in accepted:
            continue
        label = f"{what}[{i if labels is None else labels[i]}]"
        names_zh = "或".join(f"{_ZH[t]}（{t}）" for t in accepted)
        raise InvalidInput(
            f"{label} 是{_ZH.get(gtype, gtype)}（{gtype}），{thing[0]}只能是{names_zh}",
            f"{label} is a {gtype}: {thing[1]} is a {' or a '.join(accepted)} here",
            feature=label,
            field=what,
        )


def site_kinds(declared: tuple[str, ...]) -> tuple[str, ...]:
    """The geometry types a site of a layer that declares ``declared`` may be given as in a planning
    question: a point (a place), or a shape the layer holds (the zone drawn on the plan map); never a
    line or a multi-part shape, which are no one place a walk starts from."""
    return ("Point", *(t for t in declared if t != "Point" and not t.startswith(("Multi", "Line"))))


def _declared_type(geom: BaseGeometry, accepted: tuple[str, ...], layer: str, feature: Any) -> BaseGeometry:
    gtype = geom.geom_type
    if gtype in accepted:
        return geom
    if _MULTI.get(gtype) in accepted:
        return getattr(shapely, _MULTI[gtype])([geom])
    single = gtype.removeprefix("Multi")
    if gtype.startswith("Multi") and single in accepted and len(geom.geoms) == 1:
        return geom.geoms[0]
    names_zh = "、".join(_ZH[t] for t in accepted)
    extra_zh, extra_en = "", ""
    if gtype.startswith("Multi") and single in accepted:
        extra_zh, extra_en = (
            "（多部件几何请拆成多个要素）",
            " (split a multi-part geometry into several features)",
        )
    raise _bad(
        f"只接受{names_zh}（{', '.join(accepted)}）几何，收到{_ZH.get(gtype, gtype)}（{gtype}）{extra_zh}",
        f"Accepts {', '.join(accepted)} geometries only, not {gtype}{extra_en}",
        layer=layer,
        feature=feature,
    )


def _reason_zh(reason: str) -> str:
    return next((zh for en, zh in _REASON_ZH.items() if reason.startswith(en)), "无效")


def check_vertices(
    geom: BaseGeometry,
    most: int,
    *,
    layer: str | None = None,
    feature: Any = None,
    field: str = "geometry",
) -> None:
    """Refuse ``geom`` with more than ``most`` vertices (``GEO_MAX_VERTICES``): :class:`PayloadTooLarge`
    (413), said alike for a feature written to a layer and a site a question puts forward (what-if's
    ``add[0]``), naming the layer and feature when given and ``field``.

    >>> check_vertices(shapely.LineString([(0, 0), (1, 1), (2, 0)]), 2, feature="add[0]", field="add")
    Traceback (most recent call last):
    ...
    geo_service.errors.PayloadTooLarge: Feature add[0]: The geometry has 3 vertices, above the limit of 2; simplify it
    """
    n = int(shapely.get_num_coordinates(geom))
    if n > most:
        wzh, wen = _where(layer, feature)
        raise PayloadTooLarge(
            f"{wzh}几何有 {n} 个顶点，超过上限 {most}，请先简化",
            f"{wen}The geometry has {n} vertices, above the limit of {most}; simplify it",
            layer=layer,
            feature=feature,
            field=field,
        )


def validate_geometry(
    spec: LayerSpec,
    geom: BaseGeometry | Mapping[str, Any] | None,
    *,
    max_vertices: int = 100_000,
    feature: Any = None,
    repair: bool = False,
    bounds: tuple[float, float, float, float] = CHINA_BOUNDS,
) -> BaseGeometry:
    """Check a WGS 84 geometry for the layer ``spec``; return it normalised.

    Parameters
    ----------
    spec
        The layer's declaration (its geometry types; a table layer takes no geometry).
    geom
        A shapely geometry in WGS 84 lon/lat (a GeoJSON mapping is parsed first).
    max_vertices
        More vertices than this raise :class:`PayloadTooLarge`.
    feature
        How to name the feature in messages.
    repair
        Repair an invalid geometry with ``shapely.make_valid`` when the result keeps the type;
        otherwise an invalid geometry is refused with GEOS's reason.

    Returns
    -------
    BaseGeometry
        2D, of a declared type, polygons with counter-clockwise exteriors (RFC 7946).

    Raises
    ------
    InvalidInput
        Naming the layer, the feature and the fault (in Chinese and English).
    PayloadTooLarge
        For more than ``max_vertices`` vertices.

    Examples
    --------
    >>> import shapely
    >>> from geo_service.catalog import load_catalog
    >>> from geo_service.settings import default_layers_dir
    >>> depots = load_catalog(default_layers_dir())["depots"]
    >>> validate_geometry(depots, shapely.Point(113.25, 35.21, 80.0)).wkt
    'POINT (113.25 35.21)'
    """
    layer = spec.name
    if spec.is_table:
        raise _bad(
            f"图层 {layer} 为属性表，不接受几何",
            f"Layer {layer} is a table and takes no geometry",
            layer=layer,
            feature=feature,
        )
    if isinstance(geom, Mapping):
        geom = geometry_from_geojson(geom, feature=feature)
    if geom is None:
        raise _bad("缺少几何", "The geometry is missing", layer=layer, feature=feature)
    if not isinstance(geom, BaseGeometry):
        raise _bad("几何对象无法识别", f"Not a geometry: {type(geom).__name__}", layer=layer, feature=feature)
    check_vertices(geom, max_vertices, layer=layer, feature=feature)
    if geom.is_empty:
        raise _bad("几何为空", "The geometry is empty", layer=layer, feature=feature)
    geom = shapely.force_2d(geom)
    _check_coordinates(shapely.get_coordinates(geom), layer, feature, bounds)
    geom = checked = _declared_type(geom, spec.geometry_types, layer, feature)
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        if not repair:
            raise _bad(
                f"几何无效（{_reason_zh(reason)}）：{reason}",
                f"Invalid geometry: {reason}",
                layer=layer,
                feature=feature,
            )
        fixed = shapely.make_valid(geom)
        if fixed.geom_type != checked.geom_type or fixed.is_empty:
            made = _ZH.get(fixed.geom_type, fixed.geom_type)
            raise _bad(
                f"几何无效（{_reason_zh(reason)}：{reason}），修复后会变为{made}，未修复",
                f"Invalid geometry ({reason}); repairing it would make a {fixed.geom_type}, not a "
                f"{checked.geom_type}",
                layer=layer,
                feature=feature,
            )
        checked = fixed
    if checked.geom_type in ("Polygon", "MultiPolygon"):
        checked = shapely.orient_polygons(checked, exterior_cw=False)
    return checked


def polygonal(geom: shapely.Geometry | None, *, min_area: float = 0.0) -> shapely.Geometry | None:
    """Only the polygons of a shape (an overlay can leave points and lines in a collection where two
    areas touch), each of more than ``min_area``: a Polygon or MultiPolygon, or None when nothing of
    area is left."""
    if geom is None or geom.is_empty:
        return None
    if shapely.get_type_id(geom) in (3, 6) and min_area <= 0:  # Polygon, MultiPolygon
        return geom
    parts = shapely.get_parts(shapely.get_parts(geom))  # a collection's multi-parts too, flattened
    polys = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    polys = polys[shapely.area(polys) > min_area]
    if len(polys) == 0:
        return None
    return polys[0] if len(polys) == 1 else shapely.multipolygons(polys)


def check_place(lon: float, lat: float, *, bounds: tuple[float, float, float, float]) -> None:
    """:func:`check_positions` of one place asked about (who covers it): refused as the place (该位置),
    not as "feature point[0]"."""
    minx, miny, maxx, maxy = bounds
    if minx <= lon <= maxx and miny <= lat <= maxy:  # (NaN is never within)
        return
    try:
        check_positions([shapely.points(lon, lat)], bounds=bounds, what="point")
    except InvalidInput as e:
        field = "lat" if minx <= lon <= maxx else "lon"  # (the latitude alone at fault: it is named)
        raise InvalidInput(
            e.zh.replace("要素 point[0]：", "该位置"), e.en.replace("Feature point[0]: ", ""), field=field
        ) from None
