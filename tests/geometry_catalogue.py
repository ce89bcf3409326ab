"""The catalogue of bad shapes every geometry-taking path is tested with: (name, layer, GeoJSON
geometry, acceptable statuses). Layers: depots (points), stall_sites (polygons)."""

from __future__ import annotations

import math

_SQUARE = [[113.26, 35.21], [113.2602, 35.21], [113.2602, 35.2101], [113.26, 35.2101], [113.26, 35.21]]

BAD_SHAPES = [
    ("empty-point", "depots", {"type": "Point", "coordinates": []}, (400,)),
    ("null-geometry", "depots", None, (400,)),
    ("nan", "depots", {"type": "Point", "coordinates": [math.nan, 35.21]}, (400,)),
    ("infinity", "depots", {"type": "Point", "coordinates": [math.inf, 35.21]}, (400,)),
    ("swapped-lonlat", "depots", {"type": "Point", "coordinates": [35.21, 113.25]}, (400,)),
    ("out-of-range", "depots", {"type": "Point", "coordinates": [213.25, 35.21]}, (400,)),
    ("outside-china", "depots", {"type": "Point", "coordinates": [2.35, 48.85]}, (400,)),
    ("text-coordinates", "depots", {"type": "Point", "coordinates": ["113.25", "35.21"]}, (400,)),
    ("wrong-type", "depots", {"type": "LineString", "coordinates": [[113.25, 35.21], [113.26, 35.21]]}, (400,)),
    ("unknown-type", "depots", {"type": "Circle", "coordinates": [113.25, 35.21]}, (400,)),
    ("bow-tie", "stall_sites", {"type": "Polygon", "coordinates": [[[113.26, 35.21], [113.261, 35.211], [113.261, 35.21],
                                                                  [113.26, 35.211], [113.26, 35.21]]]}, (400,)),
    ("unclosed-ring", "stall_sites", {"type": "Polygon", "coordinates": [_SQUARE[:-1]]}, (400,)),
    ("too-few-points", "stall_sites", {"type": "Polygon", "coordinates": [[_SQUARE[0], _SQUARE[1], _SQUARE[0]]]}, (400,)),
    ("wrong-nesting", "stall_sites", {"type": "Polygon", "coordinates": _SQUARE}, (400,)),
    ("hole-outside-shell", "stall_sites", {"type": "Polygon", "coordinates": [
        _SQUARE, [[113.27, 35.22], [113.2701, 35.22], [113.2701, 35.2201], [113.27, 35.22]]]}, (400,)),
    ("million-vertices", "stall_sites", {"type": "Polygon", "coordinates": [
        [[113.26 + 1e-7 * i, 35.21 + 1e-7 * (i % 2)] for i in range(1_000_000)] + [[113.26, 35.21]]]}, (413,)),
]
