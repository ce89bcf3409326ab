"""The demo city's frame: districts and the street grid (in metres around Jiaozuo's centre).

Illustrative, not surveyed: the layout is a jittered street grid with a river band (few crossings)
so that walking coverage and snow routes have something real to work around.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo_service.crs import transformer

__all__ = ["DISTRICTS", "City", "build_city", "to_lonlat"]

CENTRE = (113.24, 35.22)
SPACING = 300.0
X0, X1 = -11_100.0, 11_100.0
Y0, Y1 = -6_000.0, 6_000.0
RIVER_Y = (-1_650.0, -1_350.0)  # between two E-W streets; only some N-S streets cross it

#: (code, name, x-range in metres)
DISTRICTS = (
    ("410803", "中站区", (-11_400.0, -5_050.0)),
    ("410802", "解放区", (-5_050.0, 550.0)),
    ("410811", "山阳区", (550.0, 6_050.0)),
    ("410804", "马村区", (6_050.0, 11_400.0)),
)

# E-W key streets (every 4th row): (west half, east half); N-S key streets (every 4th column): (north, south)
EW_NAMES = [("迎宾西路", "迎宾东路"), ("新园西路", "新园东路"), ("南环西路", "南环东路"), ("焦作大道西段", "焦作大道东段"),
            ("山阳西路", "山阳东路"), ("丰收西路", "丰收东路"), ("建设西路", "建设东路"), ("民主西路", "民主东路"),
            ("人民西路", "人民东路"), ("解放西路", "解放东路"), ("北环西路", "北环东路")]
NS_NAMES = [("中原北路", "中原南路"), ("跃进路", "跃进南路"), ("增光北路", "增光南路"), ("桃园路", "桃园南路"),
            ("站前北路", "站前南路"), ("太行北路", "太行南路"), ("工业北路", "工业南路"), ("塔北路", "塔南路"),
            ("焦东北路", "焦东南路"), ("化工北路", "化工南路"), ("龙源北路", "龙源南路"), ("文昌北路", "文昌南路"),
            ("东环北路", "东环南路"), ("待王北路", "待王南路"), ("马村北路", "马村南路"), ("九里山北路", "九里山南路"),
            ("冯营北路", "冯营南路"), ("安阳城北路", "安阳城南路"), ("演马北路", "演马南路")]
SPEED = {"main": 50.0, "secondary": 40.0, "branch": 30.0, "alley": 15.0}


def to_lonlat(geoms: object) -> np.ndarray:
    """Local metres (around CENTRE, in EPSG:4547) → WGS 84 geometries."""
    t_fwd = transformer("EPSG:4326", "EPSG:4547")
    cx, cy = t_fwd.transform(*CENTRE)
    t = transformer("EPSG:4547", "EPSG:4326")

    def xy(c: np.ndarray) -> np.ndarray:
        x, y = t.transform(c[:, 0] + cx, c[:, 1] + cy)
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), xy)


def district_of(x: np.ndarray) -> np.ndarray:
    names = np.array([d[1] for d in DISTRICTS], dtype=object)
    edges = np.array([d[2][1] for d in DISTRICTS[:-1]])
    return names[np.searchsorted(edges, np.asarray(x))]


@dataclass(frozen=True)
class City:
    """The street grid in local metres: nodes (jittered), segments with attributes, the classes."""

    xs: np.ndarray  # column x of each grid column
    ys: np.ndarray  # row y of each grid row
    node_xy: np.ndarray  # (rows, cols, 2)
    roads: pd.DataFrame  # one row per segment: i0,j0,i1,j1, name, road_class, oneway, ..., geometry (metres)


def _column_class(j: int) -> str:
    return "main" if j % 8 == 1 else "secondary" if j % 4 == 1 else "branch" if j % 2 == 1 else "alley"


def _row_class(i: int) -> str:
    return "main" if i % 8 == 1 else "secondary" if i % 4 == 1 else "branch" if i % 2 == 1 else "alley"


def build_city(rng: np.random.Generator) -> City:
    xs = np.arange(X0, X1 + 1, SPACING)
    ys = np.arange(Y0, Y1 + 1, SPACING)
    nx, ny = len(xs), len(ys)
    jitter = rng.uniform(-25, 25, size=(ny, nx, 2))
    node = np.stack(np.meshgrid(xs, ys), axis=-1) + jitter
    ew_key = [i for i in range(ny) if i % 4 == 1]
    ns_key = [j for j in range(nx) if j % 4 == 1]
    rows: list[dict[str, object]] = []
    # E-W segments along row i, from column j to j+1
    for i in range(ny):
        cls = _row_class(i)
        k = ew_key.index(i) if i in ew_key else None
        for j in range(nx - 1):
            x_mid = (xs[j] + xs[j + 1]) / 2
            if k is not None:
                name = EW_NAMES[k % len(EW_NAMES)][0 if x_mid < 0 else 1]
            else:
                name = f"{district_of(np.array([x_mid]))[0][:2]}{'街' if cls == 'branch' else '巷'}{i:02d}"
            rows.append({"i0": i, "j0": j, "i1": i, "j1": j + 1, "name": name, "road_class": cls,
                         "key": k is not None})
    # N-S segments along column j, from row i to i+1; the river band is crossed by every 5th column only
    for j in range(nx):
        cls = _column_class(j)
        k = ns_key.index(j) if j in ns_key else None
        for i in range(ny - 1):
            y_lo, y_hi = ys[i], ys[i + 1]
            crosses_river = y_lo < RIVER_Y[1] and y_hi > RIVER_Y[0]
            if crosses_river and j % 5 != 0 and k is None:
                continue
            y_mid = (y_lo + y_hi) / 2
            if k is not None:
                name = NS_NAMES[k % len(NS_NAMES)][0 if y_mid > 0 else 1]
            else:
                name = f"{district_of(np.array([xs[j]]))[0][:2]}{'路' if cls == 'branch' else '里'}{j:02d}"
            rows.append({"i0": i, "j0": j, "i1": i + 1, "j1": j, "name": name, "road_class": cls,
                         "key": k is not None, "river": crosses_river})
    roads = pd.DataFrame(rows)
    roads["river"] = roads["river"].fillna(False).astype(bool)
    a = node[roads["i0"], roads["j0"]]
    b = node[roads["i1"], roads["j1"]]
    roads["oneway"] = False
    one = (roads["road_class"].isin(["branch", "alley"])) & (rng.random(len(roads)) < 0.06)
    # a one-way street runs along its geometry: flip half of them so both directions occur
    flip = one & (rng.random(len(roads)) < 0.5)
    a2 = np.where(flip.to_numpy()[:, None], b, a)
    b2 = np.where(flip.to_numpy()[:, None], a, b)
    roads["oneway"] = one
    roads["geometry"] = shapely.linestrings(np.stack([a2, b2], axis=1))
    mid = (a2 + b2) / 2
    roads["district"] = district_of(mid[:, 0])
    roads["speed_kph"] = roads["road_class"].map(SPEED)
    roads["walkable"] = True
    expressway = (roads["name"] == "焦作大道东段") & (mid[:, 0] > 8_000)
    roads.loc[expressway, "walkable"] = False
    roads.loc[expressway, "speed_kph"] = 70.0
    roads["mid_x"], roads["mid_y"] = mid[:, 0], mid[:, 1]
    return City(xs=xs, ys=ys, node_xy=node, roads=roads)
