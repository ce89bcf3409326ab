"""Demo places on the street grid: POIs, restricted areas, stall sites, festival points, bridges and
culverts, depots and demand. All in local metres; the caller converts to lon/lat."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely
from lunardate import LunarDate

from geo_service.demo.city import RIVER_Y, City, district_of, line_class

__all__ = [
    "bridges_culverts",
    "demand",
    "depots",
    "festival_points",
    "festival_window",
    "pois",
    "restricted_areas",
    "stall_sites",
]

#: how far (m) stall sites are kept from point features when they are generated (above the siting rules' setbacks)
_KEEP_CLEAR = {
    "school": 70.0,
    "bus_stop": 40.0,
    "traffic_signal": 40.0,
    "intersection": 35.0,
    "roundabout": 35.0,
    "alley_mouth": 20.0,
    "compound_entrance": 15.0,
    "hydrant": 15.0,
    "hospital": 0.0,
    "market": 0.0,
}


_GOODS = ("果蔬", "果蔬", "果蔬、鲜蛋", "果蔬", "果蔬", "水果、蔬菜")


def _unit(seg: shapely.LineString) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start point, unit direction and unit left normal of a straight segment."""
    (ax, ay), (bx, by) = seg.coords[0], seg.coords[-1]
    a, b = np.array([ax, ay]), np.array([bx, by])
    d = (b - a) / np.linalg.norm(b - a)
    return a, d, np.array([-d[1], d[0]])


def _zone(
    seg: shapely.LineString, *, at: float, length: float, width: float, offset: float, side: int = 1
) -> shapely.Polygon:
    """A rectangle beside a street: from ``offset`` m off the centreline outwards, ``at`` m along it."""
    a, d, n = _unit(seg)
    p0 = a + d * at + n * offset * side
    return shapely.Polygon(
        [p0, p0 + d * length, p0 + d * length + n * width * side, p0 + n * width * side, p0]
    )


def _road(city: City, name: str, *, near_y: float) -> pd.Series:
    sel = city.roads[city.roads["name"] == name]
    return sel.loc[(sel["mid_y"] - near_y).abs().idxmin()]


def pois(city: City, rng: np.random.Generator) -> pd.DataFrame:
    """Intersections, signals and roundabouts on key streets; bus stops, alley mouths, compound entrances,
    hydrants along streets; schools, hospitals and markets (增光北路实验小学, 金欧市场 among them)."""
    roads, node = city.roads, city.node_xy
    rows: list[dict[str, object]] = []
    key_rows = [i for i in range(len(city.ys)) if i % 4 == 1]
    key_cols = [j for j in range(len(city.xs)) if j % 4 == 1]
    roundabouts = {(key_rows[2], key_cols[4]), (key_rows[6], key_cols[12])}
    for i in key_rows:
        for j in key_cols:
            x, y = node[i, j]
            if (i, j) in roundabouts:
                rows.append(
                    {
                        "name": f"环岛{len(rows) % 7 + 1}号",
                        "kind": "roundabout",
                        "geometry": shapely.Point(x, y),
                    }
                )
                continue
            rows.append({"name": None, "kind": "intersection", "geometry": shapely.Point(x, y)})
            if "main" in (line_class(i), line_class(j)):
                rows.append(
                    {"name": None, "kind": "traffic_signal", "geometry": shapely.Point(x + 12, y + 12)}
                )
    for r in roads.itertuples():
        g = r.geometry
        a, d, n = _unit(g)
        if r.road_class in ("main", "secondary") and rng.random() < 0.35:
            rows.append(
                {
                    "name": f"{r.name}站",
                    "kind": "bus_stop",
                    "geometry": shapely.Point(a + d * g.length / 2 + n * 9),
                }
            )
        if r.road_class == "alley" and rng.random() < 0.5:
            # the end of the alley on the bigger street it leaves (one end of every alley segment is one)
            ends = ((r.i0, r.j0), (r.i1, r.j1))
            big = [e for e in ends if line_class(e[1] if r.i0 == r.i1 else e[0]) != "alley"]
            if big:
                rows.append(
                    {"name": f"{r.name}口", "kind": "alley_mouth", "geometry": shapely.Point(node[big[0]])}
                )
        if r.road_class == "branch" and rng.random() < 0.3:
            rows.append(
                {
                    "name": None,
                    "kind": "compound_entrance",
                    "geometry": shapely.Point(a + d * g.length * rng.uniform(0.2, 0.8) + n * 12),
                }
            )
        if rng.random() < 0.04:
            rows.append(
                {"name": None, "kind": "hydrant", "geometry": shapely.Point(a + d * g.length * 0.3 + n * 7)}
            )
    zg = _road(city, "增光北路", near_y=3_300.0)
    a, d, n = _unit(zg.geometry)
    rows.append(
        {
            "name": "增光北路实验小学",
            "kind": "school",
            "geometry": shapely.Point(a + d * zg.geometry.length * 0.45 - n * 70),
        }
    )
    yj = _road(city, "跃进路", near_y=1_500.0)
    a, d, n = _unit(yj.geometry)
    rows.append(
        {
            "name": "金欧市场",
            "kind": "market",
            "geometry": shapely.Point(a + d * yj.geometry.length * 0.4 + n * 45),
        }
    )
    x, y = rng.uniform(-10_500, 10_500, 30), rng.uniform(-5_600, 5_600, 30)
    y = np.where((y > RIVER_Y[0] - 60) & (y < RIVER_Y[1] + 60), y + 400, y)
    district = district_of(x, y)
    for k in range(30):
        kind, label = [
            ("school", "中学"),
            ("school", "小学"),
            ("hospital", "医院"),
            ("market", "农贸市场"),
            ("hospital", "社区卫生服务中心"),
        ][k % 5]
        rows.append(
            {
                "name": f"{district[k]}第{k // 5 + 1}{label}",
                "kind": kind,
                "geometry": shapely.Point(x[k] + 150, y[k] + 150),
            }
        )
    return pd.DataFrame(rows)


def restricted_areas(city: City, rng: np.random.Generator) -> pd.DataFrame:
    """Green belts and blind paths along main roads, parking bays and fire lanes on branch streets."""
    roads = city.roads
    rows = []
    mains = roads[roads["road_class"] == "main"]
    for r in mains.iloc[rng.permutation(len(mains))[:120]].itertuples():
        g = r.geometry
        rows.append(
            {
                "kind": "green_belt",
                "name": f"{r.name}绿化带",
                "geometry": _zone(g, at=30, length=g.length - 60, width=3, offset=13),
            }
        )
        rows.append(
            {
                "kind": "blind_path",
                "name": f"{r.name}盲道",
                "geometry": _zone(g, at=20, length=g.length - 40, width=0.6, offset=-17),
            }
        )
    branches = roads[roads["road_class"] == "branch"]
    for r in branches.iloc[rng.permutation(len(branches))[:150]].itertuples():
        rows.append(
            {
                "kind": "parking",
                "name": f"{r.name}停车泊位",
                "geometry": _zone(r.geometry, at=60, length=50, width=2.5, offset=5),
            }
        )
    for r in branches.iloc[rng.permutation(len(branches))[:40]].itertuples():
        g = r.geometry
        rows.append(
            {
                "kind": "fire_lane",
                "name": f"{r.name}消防通道",
                "geometry": _zone(g, at=g.length / 2, length=4, width=30, offset=8),
            }
        )
    return pd.DataFrame(rows)


def stall_sites(
    city: City,
    rng: np.random.Generator,
    *,
    district: shapely.Geometry,
    poi_frame: pd.DataFrame,
    restricted: pd.DataFrame,
) -> pd.DataFrame:
    """30 fruit-and-vegetable zones beside two-way alleys of 山阳区, mid-block, clear of each other and of
    the features the siting rules protect."""
    roads = city.roads
    cand = roads[(roads["road_class"] == "alley") & (roads["district"] == "山阳区") & ~roads["oneway"]]
    cand = cand.iloc[rng.permutation(len(cand))]
    clear = poi_frame["kind"].map(_KEEP_CLEAR).to_numpy(dtype=float)
    poi_tree = shapely.STRtree(poi_frame["geometry"].to_numpy())
    areas = shapely.STRtree(restricted["geometry"].to_numpy())
    chosen: list[shapely.Polygon] = []
    rows: list[dict[str, object]] = []
    for r in cand.itertuples():
        name = f"山阳区{r.name}果蔬临时销售点"
        if any(row["name"] == name for row in rows):
            continue
        length, width = float(rng.uniform(20, 55)), float(rng.uniform(8, 15))
        poly = _zone(
            r.geometry,
            at=float(r.geometry.length) / 2 - length / 2,
            length=length,
            width=width,
            offset=5.0,
            side=1 if rng.random() < 0.5 else -1,
        )
        near, dist = poi_tree.query_nearest(poly, max_distance=80.0, return_distance=True, all_matches=True)
        if (
            not district.contains(poly)
            or (dist < clear[near]).any()
            or len(areas.query(poly, "intersects"))
            or any(poly.distance(c) < 120 for c in chosen)
        ):
            continue
        chosen.append(poly)
        rows.append(
            {
                "name": name,
                "district": "山阳区",
                "capacity": int(np.clip(poly.area / 12, 10, 40)),
                "goods": _GOODS[len(rows) % len(_GOODS)],
                "hours": "06:00-20:00",
                "status": "open",
                "valid_from": dt.date(2026, 1, 1),
                "valid_to": None,
                "geometry": poly,
            }
        )
        if len(rows) == 30:
            break
    return pd.DataFrame(rows)


def festival_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """腊月十五 to 正月十六 (solar dates) of the coming Spring Festival, or of the current one while it runs."""
    for lunar_year in (today.year - 1, today.year):
        end = LunarDate(lunar_year + 1, 1, 16).to_solar_date()
        if end >= today:
            return LunarDate(lunar_year, 12, 15).to_solar_date(), end
    raise AssertionError("unreachable: 正月十六 of next year is always after today")  # pragma: no cover


def festival_points(city: City, rng: np.random.Generator, today: dt.date) -> pd.DataFrame:
    """The 10 Spring Festival sales points of 中站区, three of them named in the city's notice."""
    start, end = festival_window(today)
    roads = city.roads
    jiefang = roads[roads["name"] == "解放西路"]
    taoyuan_x = float(roads.loc[roads["name"] == "桃园路", "mid_x"].mean())
    cross = jiefang.loc[(jiefang["mid_x"] - taoyuan_x).abs().idxmin()]
    # (name, street, near y, shape, fraction along the segment for points, offset from the centreline)
    specs = [
        ("增光北路实验小学北", "增光北路", 3_300.0, "point", 0.8, -18.0),
        ("解放西路与桃园路交叉口", "解放西路", None, "point", None, 18.0),
        ("跃进路金欧市场门前", "跃进路", 1_500.0, "polygon", 0.3, 18.0),
        ("桃园路年货大集", "桃园路", 2_400.0, "polygon", 0.3, 18.0),
        ("站前路春节临时销售点", "站前路", 900.0, "point", 0.3, 18.0),
        ("中原路年货市场", "中原路", 2_100.0, "polygon", 0.3, 18.0),
        ("增光北路春联销售点", "增光北路", 1_200.0, "point", 0.3, 18.0),
        ("跃进路北段年货点", "跃进路", 3_900.0, "point", 0.3, 18.0),
        ("中原路南段花卉年货点", "中原路", -3_000.0, "polygon", 0.3, 18.0),
        ("桃园路南段年货点", "桃园路", -2_700.0, "point", 0.3, 18.0),
    ]
    rows = []
    for name, street, near_y, shape, along, offset in specs:
        seg = cross if near_y is None else _road(city, street, near_y=near_y)
        g = seg.geometry
        a, d, n = _unit(g)
        if near_y is None:  # on 解放西路, 45 m from its crossing with 桃园路, off the carriageway
            b = np.array(g.coords[-1])
            at = a if abs(a[0] - taoyuan_x) < abs(b[0] - taoyuan_x) else b
            geom: shapely.Geometry = shapely.Point(at + (d if at is a else -d) * 45 + n * offset)
        elif shape == "point":
            geom = shapely.Point(a + d * g.length * along + n * offset)
        else:
            geom = _zone(
                g, at=50.0, length=40, width=10, offset=offset
            )  # clear of the crossing and mid-block stops
        rows.append(
            {
                "name": name,
                "address": f"中站区{street}",
                "district": "中站区",
                "capacity": int(rng.integers(10, 40)),
                "goods": "年货",
                "hours": "07:00-22:00",
                "lunar_from": "12-15",
                "lunar_to": "01-16",
                "valid_from": start,
                "valid_to": end,
                "status": "open",
                "geometry": geom,
            }
        )
    return pd.DataFrame(rows)


def bridges_culverts(city: City, rng: np.random.Generator) -> pd.DataFrame:
    """39 structures: 15 bridges over the river spread along it, then culverts and underpasses on key streets."""
    roads = city.roads
    rows = []
    river = roads[roads["river"]].sort_values("mid_x")
    picks = np.unique(np.linspace(0, len(river) - 1, 15).round().astype(int))
    for r in river.iloc[picks].itertuples():
        p = r.geometry.interpolate(abs((RIVER_Y[0] + RIVER_Y[1]) / 2 - r.geometry.coords[0][1]))
        rows.append(
            {
                "name": f"{r.name}大沙河桥",
                "kind": "bridge",
                "road": r.name,
                "district": str(district_of(np.array([p.x]), np.array([p.y]))[0]),
                "snow_priority": 2 if r.road_class == "alley" else 1,
                "flood_risk": "low",
                "service_min": round(float(rng.uniform(10, 20)), 1),
                "salt_t": round(float(rng.uniform(0.5, 1.0)), 2),
                "owner": "市政工程处",
                "closed": False,
                "geometry": p,
            }
        )
    others = roads[roads["road_class"].isin(["main", "secondary"]) & ~roads["river"]]
    used: set[str] = set()
    for r in others.iloc[rng.permutation(len(others))].itertuples():
        if len(rows) == 39:
            break
        if r.name in used:
            continue
        used.add(r.name)
        kind = "underpass" if len(rows) % 2 else "culvert"
        rows.append(
            {
                "name": f"{r.name}{'下穿通道' if kind == 'underpass' else '涵洞'}",
                "kind": kind,
                "road": r.name,
                "district": r.district,
                "snow_priority": int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2])),
                "flood_risk": "high" if kind == "underpass" else str(rng.choice(["medium", "high"])),
                "service_min": round(float(rng.uniform(5, 15)), 1),
                "salt_t": round(float(rng.uniform(0.2, 0.6)), 2),
                "owner": "市政工程处" if kind == "culvert" else "市城市管理局",
                "closed": False,
                "geometry": r.geometry.interpolate(0.5, normalized=True),
            }
        )
    return pd.DataFrame(rows)


def depots() -> pd.DataFrame:
    """Five depots with salt stores (at least one per district) and a car park without one."""
    places = [
        ("中站区环卫场站", -8_100.0, 600.0, True),
        ("解放区市政场站", -2_100.0, 2_400.0, True),
        ("山阳区城管场站", 3_300.0, -600.0, True),
        ("马村区市政场站", 8_700.0, 1_200.0, True),
        ("山阳区南部储盐点", 2_700.0, -4_500.0, True),
        ("解放区执法车辆停放点", -600.0, 4_200.0, False),
    ]
    x = np.array([p[1] for p in places]) + 40
    y = np.array([p[2] for p in places]) + 40
    return pd.DataFrame(
        {
            "name": [p[0] for p in places],
            "salt_store": [p[3] for p in places],
            "district": district_of(x, y),
            "geometry": shapely.points(x, y),
        }
    )


def demand(city: City, rng: np.random.Generator) -> pd.DataFrame:
    """Residents as points: two candidates per block, denser towards the centre, none in the river."""
    cx = np.repeat((city.xs[:-1] + city.xs[1:]) / 2, 2) + np.tile([-75.0, 75.0], len(city.xs) - 1)
    cy = (city.ys[:-1] + city.ys[1:]) / 2
    gx, gy = (g.ravel() for g in np.meshgrid(cx, cy))
    weight = np.exp(-((gx / 9_000.0) ** 2 + (gy / 6_500.0) ** 2))
    keep = (rng.random(gx.size) < weight * 0.95) & ~((gy > RIVER_Y[0] - 60) & (gy < RIVER_Y[1] + 60))
    gx, gy = gx[keep] + rng.uniform(-50, 50, keep.sum()), gy[keep] + rng.uniform(-60, 60, keep.sum())
    pop = np.clip(rng.lognormal(mean=5.3, sigma=0.6, size=gx.size), 20, 800).astype(int)
    return pd.DataFrame(
        {
            "population": pop,
            "households": (pop / 2.8).astype(int),
            "district": district_of(gx, gy),
            "geometry": shapely.points(gx, gy),
        }
    )
