"""The catalogue of shapes every geometry-taking path is tested with, as data.

Each :class:`ShapeCase` is a GeoJSON geometry sent to a layer and what must come of it: accepted
(status 200) and normalised to ``expect`` (WKT), or refused with 400 (InvalidInput) or 413
(PayloadTooLarge) and an English message containing ``expect``.

``BAD_SHAPES`` (name, layer, geometry, statuses) are the refused ones on ``depots`` (points) and
``stall_sites`` (polygons), the two layers the API tests post to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["BAD_SHAPES", "GOOD_SHAPES", "SHAPES", "ShapeCase"]


@dataclass(frozen=True)
class ShapeCase:
    """One shape, the layer it is sent to and the outcome expected."""

    name: str
    layer: str
    geometry: Any
    status: int
    expect: str


# A 10 m square in Jiaozuo, counter-clockwise (RFC 7946), and the same ring clockwise.
_SQUARE = [[113.26, 35.21], [113.2602, 35.21], [113.2602, 35.2101], [113.26, 35.2101], [113.26, 35.21]]
_SQUARE_CW = _SQUARE[::-1]
_SQUARE_WKT = "POLYGON ((113.26 35.21, 113.2602 35.21, 113.2602 35.2101, 113.26 35.2101, 113.26 35.21))"
_HOLE = [
    [113.2605, 35.2105],
    [113.2606, 35.2105],
    [113.2606, 35.2106],
    [113.2605, 35.2106],
    [113.2605, 35.2105],
]
_BIG = [[113.26, 35.21], [113.261, 35.21], [113.261, 35.211], [113.26, 35.211], [113.26, 35.21]]
_MID = [
    [113.2603, 35.2103],
    [113.2608, 35.2103],
    [113.2608, 35.2108],
    [113.2603, 35.2108],
    [113.2603, 35.2103],
]
_FAR = [[113.27, 35.22], [113.2702, 35.22], [113.2702, 35.2201], [113.27, 35.22]]
# a million positions sharing two list objects: 8 MB, not 120 MB (only the vertex count matters)
_P0, _P1 = [113.26, 35.21], [113.2601, 35.2101]
_MILLION = [_P0, _P1] * 500_000 + [_P0]


def _poly(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


SHAPES = [
    # refused: values
    ShapeCase("empty-point", "depots", {"type": "Point", "coordinates": []}, 400, "empty"),
    ShapeCase("empty-polygon", "stall_sites", {"type": "Polygon", "coordinates": []}, 400, "empty"),
    ShapeCase("null-geometry", "depots", None, 400, "geometry"),
    ShapeCase("nan", "depots", {"type": "Point", "coordinates": [math.nan, 35.21]}, 400, "NaN"),
    ShapeCase("infinity", "depots", {"type": "Point", "coordinates": [math.inf, 35.21]}, 400, "infinity"),
    # a NaN first and last position once read as a ring not closed (NaN equals nothing)
    ShapeCase(
        "nan-in-ring",
        "stall_sites",
        _poly([[math.nan, 35.21], *_SQUARE[1:-1], [math.nan, 35.21]]),
        400,
        "Position 1 of the exterior ring is not a number",
    ),
    ShapeCase(
        "infinity-in-hole",
        "stall_sites",
        _poly(_BIG, [*_HOLE[:2], [113.2606, math.inf], *_HOLE[3:]]),
        400,
        "Position 3 of hole 1 is not a number",
    ),
    ShapeCase("swapped-lonlat", "depots", {"type": "Point", "coordinates": [35.21, 113.25]}, 400, "swapped"),
    ShapeCase("out-of-range", "depots", {"type": "Point", "coordinates": [213.25, 35.21]}, 400, "range"),
    ShapeCase(
        "projected-metres", "depots", {"type": "Point", "coordinates": [477000.0, 3897000.0]}, 400, "crs"
    ),
    ShapeCase(
        "outside-china", "depots", {"type": "Point", "coordinates": [2.35, 48.85]}, 400, "outside China"
    ),
    ShapeCase(
        "text-coordinates", "depots", {"type": "Point", "coordinates": ["113.25", "35.21"]}, 400, "numbers"
    ),
    ShapeCase("one-number", "depots", {"type": "Point", "coordinates": [113.25]}, 400, "two numbers"),
    # refused: structure
    ShapeCase("unknown-type", "depots", {"type": "Circle", "coordinates": [113.25, 35.21]}, 400, "Circle"),
    ShapeCase("feature-not-geometry", "depots", {"type": "Feature", "geometry": None}, 400, "Feature"),
    ShapeCase(
        "collection", "depots", {"type": "GeometryCollection", "geometries": []}, 400, "GeometryCollection"
    ),
    ShapeCase("unclosed-ring", "stall_sites", _poly(_SQUARE[:-1]), 400, "not closed"),
    ShapeCase(
        "too-few-points", "stall_sites", _poly([_SQUARE[0], _SQUARE[1], _SQUARE[0]]), 400, "at least 4"
    ),
    ShapeCase("wrong-nesting", "stall_sites", {"type": "Polygon", "coordinates": _SQUARE}, 400, "nested"),
    ShapeCase(
        "nested-too-deep", "depots", {"type": "Point", "coordinates": [[113.25, 35.21]]}, 400, "nested"
    ),
    ShapeCase("million-vertices", "stall_sites", _poly(_MILLION), 413, "vertices"),
    # refused: type
    ShapeCase(
        "line-for-point-layer",
        "depots",
        {"type": "LineString", "coordinates": [[113.25, 35.21], [113.26, 35.21]]},
        400,
        "Point",
    ),
    ShapeCase(
        "point-for-polygon-layer",
        "stall_sites",
        {"type": "Point", "coordinates": [113.26, 35.21]},
        400,
        "Polygon",
    ),
    ShapeCase(
        "multi-part-for-single-layer",
        "stall_sites",
        {"type": "MultiPolygon", "coordinates": [[_SQUARE], [_FAR]]},
        400,
        "split",
    ),
    # refused: invalid shapes (GEOS reason in the message)
    ShapeCase(
        "bow-tie",
        "stall_sites",
        _poly([[113.26, 35.21], [113.261, 35.211], [113.261, 35.21], [113.26, 35.211], [113.26, 35.21]]),
        400,
        "Self-intersection",
    ),
    ShapeCase("hole-outside-shell", "stall_sites", _poly(_SQUARE, _FAR), 400, "Hole lies outside shell"),
    ShapeCase("nested-holes", "stall_sites", _poly(_BIG, _MID, _HOLE), 400, "Holes are nested"),
    ShapeCase(
        "zero-area-ring",
        "stall_sites",
        _poly([[113.26, 35.21], [113.261, 35.21], [113.262, 35.21], [113.26, 35.21]]),
        400,
        "Invalid",
    ),
    # accepted and normalised
    ShapeCase(
        "z-dropped",
        "depots",
        {"type": "Point", "coordinates": [113.25, 35.21, 96.5]},
        200,
        "POINT (113.25 35.21)",
    ),
    ShapeCase("wrong-winding", "stall_sites", _poly(_SQUARE_CW), 200, _SQUARE_WKT),
    ShapeCase("right-winding", "stall_sites", _poly(_SQUARE), 200, _SQUARE_WKT),
    ShapeCase(
        "hole-wrong-winding",
        "stall_sites",
        _poly(_BIG[::-1], _HOLE),
        200,
        "POLYGON ((113.26 35.21, 113.261 35.21, 113.261 35.211, 113.26 35.211, 113.26 35.21), "
        "(113.2605 35.2105, 113.2605 35.2106, 113.2606 35.2106, 113.2606 35.2105, 113.2605 35.2105))",
    ),
    ShapeCase(
        "one-part-multi-for-single-layer",
        "stall_sites",
        {"type": "MultiPolygon", "coordinates": [[_SQUARE]]},
        200,
        _SQUARE_WKT,
    ),
    ShapeCase(
        "polygon-promoted-to-multi",
        "districts",
        _poly(_SQUARE_CW),
        200,
        "MULTI" + _SQUARE_WKT.replace("((", "(((") + ")",
    ),
    ShapeCase(
        "multi-part",
        "districts",
        {"type": "MultiPolygon", "coordinates": [[_SQUARE], [_FAR]]},
        200,
        "MULTI"
        + _SQUARE_WKT.replace("((", "(((")
        + ", ((113.27 35.22, 113.2702 35.22, 113.2702 35.2201, 113.27 35.22)))",
    ),
    ShapeCase("z-polygon", "stall_sites", _poly([[*p, 100.0] for p in _SQUARE]), 200, _SQUARE_WKT),
]

GOOD_SHAPES = [c for c in SHAPES if c.status == 200]
BAD_SHAPES = [
    (c.name, c.layer, c.geometry, (c.status,))
    for c in SHAPES
    if c.status != 200 and c.layer in ("depots", "stall_sites")
]
