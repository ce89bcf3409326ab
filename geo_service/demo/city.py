"""The demo city's frame: district outlines and the street grid, in metres around Jiaozuo's centre.

Illustrative, not surveyed. Four districts tile the urban area: 中站区 in the west, 解放区 centre-west
north of the river, 山阳区 centre-east and the whole south of the centre (south of the river), 马村区 in
the east. Their borders wave so they do not look ruled. The streets are a jittered 300 m grid: every 8th
line a main road, every 4th a secondary one, odd lines branch streets, even lines alleys. An E-W river
band between two rows is crossed by the key streets and every 5th line only, which makes walking
coverage and snow routes have something real to work around.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo_service.crs import transformer
from geo_service.demo.names import StreetNames

__all__ = [
    "DISTRICTS",
    "RIVER_Y",
    "City",
    "build_city",
    "centre_border_line",
    "district_of",
    "district_polygons",
    "line_class",
    "split_at_centre_border",
    "to_lonlat",
]

CENTRE = (113.24, 35.22)
SPACING = 300.0
X0, X1 = -11_100.0, 11_100.0
Y0, Y1 = -6_000.0, 6_000.0
RIVER_Y = (-1_440.0, -1_260.0)  # strictly between grid rows -1,500 and -1,200 (node jitter is ±25 m)
_RIVER_MID = (RIVER_Y[0] + RIVER_Y[1]) / 2

#: (adcode, name)
DISTRICTS = (("410803", "中站区"), ("410802", "解放区"), ("410811", "山阳区"), ("410804", "马村区"))
SPEED = {"main": 50.0, "secondary": 40.0, "branch": 30.0, "alley": 15.0}


def _west_border(y: np.ndarray) -> np.ndarray:  # 中站区 | 解放区, 山阳区
    return -5_050.0 + 160.0 * np.sin(np.asarray(y) / 800.0)


def _centre_border(y: np.ndarray) -> np.ndarray:  # 解放区 | 山阳区, north of the river
    return 550.0 + 140.0 * np.sin(np.asarray(y) / 950.0 + 1.0)


def _east_border(y: np.ndarray) -> np.ndarray:  # 山阳区 | 马村区
    return 6_250.0 + 150.0 * np.sin(np.asarray(y) / 1_000.0)


def district_of(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """District name of each local-metre position (the same borders the outlines are drawn from)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return np.select(
        [x < _west_border(y), x >= _east_border(y), x >= _centre_border(y), y < _RIVER_MID],
        ["中站区", "马村区", "山阳区", "山阳区"],
        "解放区",
    ).astype(object)


def _left_of(border: object) -> shapely.Polygon:
    ys = np.arange(-7_500.0, 7_500.1, 50.0)
    xs = border(ys)  # type: ignore[operator]
    return shapely.Polygon([(-30_000.0, ys[0]), *zip(xs, ys, strict=True), (-30_000.0, ys[-1])])


def centre_border_line() -> shapely.LineString:
    """The 解放区 | 山阳区 border north of the river, as a line (local metres)."""
    ys = np.arange(_RIVER_MID, 7_000.1, 50.0)
    return shapely.LineString(np.column_stack([_centre_border(ys), ys]))


def split_at_centre_border(geom: shapely.Geometry) -> tuple[shapely.Geometry, shapely.Geometry]:
    """``geom`` west and east of the line the 解放区 | 山阳区 border follows (extended south)."""
    west = _left_of(_centre_border)
    return _polygonal(shapely.intersection(geom, west)), _polygonal(shapely.difference(geom, west))


def _outline() -> shapely.Polygon:
    xs = np.arange(-11_400.0, 11_400.1, 100.0)
    top = np.column_stack([xs, 6_300.0 + 250.0 * np.sin(xs / 1_700.0)])
    bottom = np.column_stack([xs[::-1], -6_300.0 + 250.0 * np.cos(xs[::-1] / 2_100.0)])
    return shapely.Polygon(np.vstack([top, bottom]))


def _polygonal(geom: shapely.Geometry) -> shapely.MultiPolygon:
    parts = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > 1.0]
    return shapely.MultiPolygon(parts)


def district_polygons() -> pd.DataFrame:
    """The four district outlines (local metres), tiling the urban area without overlap."""
    outline = _outline()
    west, centre, east = _left_of(_west_border), _left_of(_centre_border), _left_of(_east_border)
    south = shapely.box(-30_000.0, -7_500.0, 30_000.0, _RIVER_MID)
    middle = outline.intersection(centre).difference(west)
    shapes = {
        "中站区": outline.intersection(west),
        "解放区": middle.difference(south),
        "山阳区": shapely.union(outline.intersection(east).difference(centre), middle.intersection(south)),
        "马村区": outline.difference(east),
    }
    return pd.DataFrame(
        [{"code": code, "name": name, "geometry": _polygonal(shapes[name])} for code, name in DISTRICTS]
    )


def to_lonlat(geoms: object) -> np.ndarray:
    """Local metres (around CENTRE, in EPSG:4547) → WGS 84 geometries."""
    cx, cy = transformer("EPSG:4326", "EPSG:4547").transform(*CENTRE)
    t = transformer("EPSG:4547", "EPSG:4326")

    def xy(c: np.ndarray) -> np.ndarray:
        x, y = t.transform(c[:, 0] + cx, c[:, 1] + cy)
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), xy)


@dataclass(frozen=True)
class City:
    """The street grid in local metres: nominal lines, jittered nodes and one row per segment."""

    xs: np.ndarray  # nominal x of each grid column
    ys: np.ndarray  # nominal y of each grid row
    node_xy: np.ndarray  # (rows, cols, 2) jittered intersections
    roads: pd.DataFrame  # i0, j0, i1, j1, name, road_class, key, river, oneway, …, geometry (metres)


def line_class(index: int) -> str:
    """Class of grid line ``index`` (row or column)."""
    return "main" if index % 8 == 1 else "secondary" if index % 4 == 1 else "branch" if index % 2 else "alley"


def _street(names: StreetNames, orientation: str, index: int, x: float, y: float, *, lines: int) -> str:
    """The name of grid line ``index`` (of ``lines``) at (x, y): key, branch, or an alley named after its
    neighbour."""
    cls = line_class(index)
    district = str(district_of(np.array([x]), np.array([y]))[0])
    if cls in ("main", "secondary"):
        return names.key_ew(index // 4, district) if orientation == "ew" else names.key_ns(index // 4, y)
    if cls == "branch":
        return names.branch(orientation, index, district)
    # the neighbouring branch line is at index-1, else at index+1 (a key line at the grid's edges)
    below = (index % 4 == 0 and index > 0) or index == lines - 1
    nb = index - 1 if below else index + 1
    if orientation == "ew":
        return _street(names, "ew", nb, x, y + (nb - index) * SPACING, lines=lines) + (
            "北巷" if below else "南巷"
        )
    return _street(names, "ns", nb, x + (nb - index) * SPACING, y, lines=lines) + (
        "东巷" if below else "西巷"
    )


def build_city(rng: np.random.Generator) -> City:
    """The street grid: every segment runs between two consecutive intersections (a noded network)."""
    xs = np.arange(X0, X1 + 1, SPACING)
    ys = np.arange(Y0, Y1 + 1, SPACING)
    nx, ny = len(xs), len(ys)
    node = np.stack(np.meshgrid(xs, ys), axis=-1) + rng.uniform(-25, 25, size=(ny, nx, 2))
    names = StreetNames()
    rows: list[dict[str, object]] = []
    for i in range(ny):  # E-W segments along row i
        for j in range(nx - 1):
            rows.append(
                {
                    "i0": i,
                    "j0": j,
                    "i1": i,
                    "j1": j + 1,
                    "road_class": line_class(i),
                    "key": i % 4 == 1,
                    "river": False,
                    "name": _street(names, "ew", i, (xs[j] + xs[j + 1]) / 2, ys[i], lines=ny),
                }
            )
    for j in range(nx):  # N-S segments along column j; the river is crossed by key streets and every 5th line
        for i in range(ny - 1):
            river = ys[i] < RIVER_Y[0] and ys[i + 1] > RIVER_Y[1]
            if river and j % 5 != 0 and j % 4 != 1:
                continue
            rows.append(
                {
                    "i0": i,
                    "j0": j,
                    "i1": i + 1,
                    "j1": j,
                    "road_class": line_class(j),
                    "key": j % 4 == 1,
                    "river": river,
                    "name": _street(names, "ns", j, xs[j], (ys[i] + ys[i + 1]) / 2, lines=nx),
                }
            )
    roads = pd.DataFrame(rows)
    a = node[roads["i0"], roads["j0"]]
    b = node[roads["i1"], roads["j1"]]
    minor = roads["road_class"].isin(["branch", "alley"]).to_numpy()
    one = minor & (rng.random(len(roads)) < 0.06)
    flip = one & (rng.random(len(roads)) < 0.5)  # a one-way segment is drawn in its allowed direction
    a, b = np.where(flip[:, None], b, a), np.where(flip[:, None], a, b)
    roads["oneway"] = one
    roads["geometry"] = shapely.linestrings(np.stack([a, b], axis=1))
    mid = (a + b) / 2
    roads["mid_x"], roads["mid_y"] = mid[:, 0], mid[:, 1]
    roads["district"] = district_of(mid[:, 0], mid[:, 1])
    roads["speed_kph"] = roads["road_class"].map(SPEED)
    roads["walkable"] = True
    roads["drivable"] = True
    roads["osm_id"] = pd.array(
        [pd.NA] * len(roads), dtype="Int64"
    )  # drawn for the demo, not from OpenStreetMap
    # the eastern stretch of 焦作大道 is built like an expressway: no pavement, faster
    expressway = (
        (roads["name"] == "焦作大道") & (roads["i0"] == roads["i1"]) & (mid[:, 0] > 8_000)
    ).to_numpy()
    roads.loc[expressway, "walkable"] = False
    roads.loc[expressway, "speed_kph"] = 70.0
    return City(xs=xs, ys=ys, node_xy=node, roads=roads)
