"""Demo places on the street grid: stall sites, festival points, bridges and culverts, POIs,
restricted areas, depots and demand. All in local metres; the caller converts to lon/lat."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely
from lunardate import LunarDate

from geo_service.demo.city import DISTRICTS, RIVER_Y, City, district_of

__all__ = ["bridges_culverts", "demand", "depots", "festival_points", "pois", "restricted_areas", "stall_sites",
           "festival_window"]


def _unit(seg: shapely.LineString) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    (ax, ay), (bx, by) = seg.coords[0], seg.coords[-1]
    a, b = np.array([ax, ay]), np.array([bx, by])
    d = (b - a) / np.linalg.norm(b - a)
    return a, d, np.array([-d[1], d[0]])


def _zone(seg: shapely.LineString, *, at: float, length: float, width: float, offset: float, side: int = 1
          ) -> shapely.Polygon:
    """A rectangle beside a street: ``offset`` m from the centreline, ``at`` m along it."""
    a, d, n = _unit(seg)
    p0 = a + d * at + n * offset * side
    corners = [p0, p0 + d * length, p0 + d * length + n * width * side, p0 + n * width * side, p0]
    return shapely.Polygon(corners)


def stall_sites(city: City, rng: np.random.Generator) -> pd.DataFrame:
    roads = city.roads
    cand = roads[(roads["road_class"] == "alley") & (roads["district"] == "山阳区") & ~roads["oneway"]
                 & (roads["mid_x"] > 1_000) & (roads["mid_x"] < 5_700) & (roads["mid_y"].abs() < 5_500)]
    cand = cand.iloc[rng.permutation(len(cand))]
    chosen: list[shapely.Polygon] = []
    rows = []
    for _, r in cand.iterrows():
        length = float(rng.uniform(20, 45))
        at = float(r.geometry.length) / 2 - length / 2
        poly = _zone(r.geometry, at=at, length=length, width=float(rng.uniform(8, 12)), offset=5.0,
                     side=1 if rng.random() < 0.5 else -1)
        if any(poly.distance(c) < 120 for c in chosen):
            continue
        chosen.append(poly)
        n = len(chosen)
        rows.append({"name": f"山阳区{r['name']}果蔬临时销售点", "district": "山阳区",
                     "capacity": int(max(8, min(40, poly.area / 12))), "goods": ["果蔬", "水果、蔬菜", "蔬菜"][n % 3],
                     "hours": "06:00-20:00", "status": "open", "valid_from": dt.date(2026, 1, 1), "valid_to": None,
                     "geometry": poly})
        if n == 30:
            break
    return pd.DataFrame(rows)


def festival_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """腊月十五 to 正月十六 of the coming Spring Festival (solar dates)."""
    year = today.year
    for lunar_year in (year - 1, year):
        end = LunarDate(lunar_year + 1, 1, 16).to_solar_date()
        if end >= today:
            return LunarDate(lunar_year, 12, 15).to_solar_date(), end
    return LunarDate(year, 12, 15).to_solar_date(), LunarDate(year + 1, 1, 16).to_solar_date()


def _road(city: City, name: str, *, near_y: float | None = None, near_x: float | None = None) -> pd.Series:
    sel = city.roads[city.roads["name"] == name]
    key = (sel["mid_y"] - near_y).abs() if near_y is not None else (sel["mid_x"] - (near_x or 0)).abs()
    return sel.loc[key.idxmin()]


def festival_points(city: City, rng: np.random.Generator, today: dt.date) -> pd.DataFrame:
    start, end = festival_window(today)
    jiefang = city.roads[city.roads["name"] == "解放西路"]
    taoyuan_x = float(city.roads[city.roads["name"] == "桃园路"]["mid_x"].mean())
    cross = jiefang.loc[(jiefang["mid_x"] - taoyuan_x).abs().idxmin()]
    specs = [
        ("增光北路实验小学北", "增光北路", 3_300.0, "point"),
        ("解放西路与桃园路交叉口", None, None, "point"),
        ("跃进路金欧市场门前", "跃进路", 1_500.0, "polygon"),
        ("桃园路年货大集", "桃园路", 2_400.0, "polygon"),
        ("站前北路春节临时销售点", "站前北路", 900.0, "point"),
        ("中原北路年货市场", "中原北路", 2_100.0, "polygon"),
        ("增光北路春联销售点", "增光北路", 1_200.0, "point"),
        ("跃进路北段年货点", "跃进路", 3_900.0, "point"),
        ("中原南路花卉年货点", "中原南路", -3_000.0, "polygon"),
        ("桃园南路年货点", "桃园南路", -2_700.0, "point"),
    ]
    rows = []
    for name, road, y, shape in specs:
        seg = cross if road is None else _road(city, road, near_y=y)
        a, d, n = _unit(seg.geometry)
        if road is None:  # on 解放西路, 45 m from the crossing with 桃园路, off the carriageway
            start_pt = a if abs(a[0] - taoyuan_x) < abs(seg.geometry.coords[-1][0] - taoyuan_x) else a + d * seg.geometry.length
            direction = d if np.allclose(start_pt, a) else -d
            p = start_pt + direction * 45 + n * 18
            geom: shapely.Geometry = shapely.Point(p)
        elif shape == "point":
            geom = shapely.Point(a + d * seg.geometry.length * 0.3 + n * 18)
        else:
            geom = _zone(seg.geometry, at=seg.geometry.length * 0.3, length=40, width=10, offset=18)
        rows.append({"name": name, "address": f"中站区{road or '解放西路'}", "district": "中站区",
                     "capacity": int(rng.integers(10, 40)), "goods": "年货", "hours": "07:00-22:00",
                     "lunar_from": "12-15", "lunar_to": "01-16", "valid_from": start, "valid_to": end,
                     "status": "open", "geometry": geom})
    return pd.DataFrame(rows)


def bridges_culverts(city: City, rng: np.random.Generator) -> pd.DataFrame:
    roads = city.roads
    rows = []
    river = roads[roads["river"]].sort_values("mid_x")
    for k, (_, r) in enumerate(river.iterrows()):
        if len(rows) == 15:
            break
        y = (RIVER_Y[0] + RIVER_Y[1]) / 2
        p = r.geometry.interpolate(abs(y - r.geometry.coords[0][1]))
        rows.append({"name": f"{r['name']}大沙河桥", "kind": "bridge", "road": r["name"], "district": r["district"],
                     "snow_priority": 1 if r["road_class"] in ("main", "secondary") else 2, "flood_risk": "low",
                     "service_min": float(rng.uniform(10, 20)), "salt_t": round(float(rng.uniform(0.5, 1.0)), 2),
                     "owner": "市政工程处", "closed": False, "geometry": p})
    others = roads[roads["road_class"].isin(["main", "secondary"]) & ~roads["river"]]
    others = others.iloc[rng.permutation(len(others))]
    used: set[str] = set()
    for _, r in others.iterrows():
        if len(rows) == 39:
            break
        if r["name"] in used:
            continue
        used.add(r["name"])
        kind = "underpass" if len(rows) % 2 else "culvert"
        rows.append({"name": f"{r['name']}{'下穿' if kind == 'underpass' else '涵洞'}", "kind": kind, "road": r["name"],
                     "district": r["district"], "snow_priority": int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2])),
                     "flood_risk": "high" if kind == "underpass" else str(rng.choice(["medium", "high"])),
                     "service_min": float(rng.uniform(5, 15)), "salt_t": round(float(rng.uniform(0.2, 0.6)), 2),
                     "owner": "市政工程处" if kind == "culvert" else "市城市管理局", "closed": False,
                     "geometry": r.geometry.interpolate(0.5, normalized=True)})
    return pd.DataFrame(rows)


def pois(city: City, rng: np.random.Generator) -> pd.DataFrame:
    roads = city.roads
    rows: list[dict[str, object]] = []
    node = city.node_xy
    big = {"main", "secondary"}
    key_rows = [i for i in range(len(city.ys)) if i % 4 == 1]
    key_cols = [j for j in range(len(city.xs)) if j % 4 == 1]
    roundabouts = {(key_rows[2], key_cols[4]), (key_rows[6], key_cols[12])}
    for i in key_rows:
        for j in key_cols:
            x, y = node[i, j]
            if (i, j) in roundabouts:
                rows.append({"name": f"环岛{len(roundabouts)}", "kind": "roundabout", "geometry": shapely.Point(x, y)})
                continue
            rows.append({"name": None, "kind": "intersection", "geometry": shapely.Point(x, y)})
            if i % 8 == 1 or j % 8 == 1:
                rows.append({"name": None, "kind": "traffic_signal", "geometry": shapely.Point(x + 12, y + 12)})
    # bus stops along key streets, alley mouths, compound entrances, hydrants
    for _, r in roads.iterrows():
        g = r.geometry
        a, d, n = _unit(g)
        if r["road_class"] in big and rng.random() < 0.35:
            rows.append({"name": f"{r['name']}站", "kind": "bus_stop", "geometry": shapely.Point(a + d * g.length / 2 + n * 9)})
        if r["road_class"] == "alley":
            for end in (a, np.array(g.coords[-1])):
                if rng.random() < 0.25:
                    rows.append({"name": None, "kind": "alley_mouth", "geometry": shapely.Point(end)})
        if r["road_class"] == "branch" and rng.random() < 0.3:
            rows.append({"name": None, "kind": "compound_entrance",
                         "geometry": shapely.Point(a + d * g.length * rng.uniform(0.2, 0.8) + n * 12)})
        if rng.random() < 0.04:
            rows.append({"name": None, "kind": "hydrant", "geometry": shapely.Point(a + d * g.length * 0.3 + n * 7)})
    # named places from the city's reports, and schools, hospitals and markets
    zg = _road(city, "增光北路", near_y=3_300.0)
    a, d, n = _unit(zg.geometry)
    rows.append({"name": "增光北路实验小学", "kind": "school", "geometry": shapely.Point(a + d * zg.geometry.length * 0.5 - n * 120)})
    yj = _road(city, "跃进路", near_y=1_500.0)
    a, d, n = _unit(yj.geometry)
    rows.append({"name": "金欧市场", "kind": "market", "geometry": shapely.Point(a + d * yj.geometry.length * 0.4 + n * 60)})
    for k in range(24):
        x, y = rng.uniform(-10_500, 10_500), rng.uniform(-5_500, 5_500)
        kind = ["school", "hospital", "market"][k % 3]
        rows.append({"name": f"{district_of(np.array([x]))[0]}{['第', '', ''][k % 3]}{k + 1}{['中学', '医院', '农贸市场'][k % 3]}",
                     "kind": kind, "geometry": shapely.Point(x + 150, y + 150)})
    return pd.DataFrame(rows)


def restricted_areas(city: City, rng: np.random.Generator) -> pd.DataFrame:
    roads = city.roads
    rows = []
    mains = roads[roads["road_class"] == "main"]
    for _, r in mains.iloc[rng.permutation(len(mains))[:120]].iterrows():
        g = r.geometry
        rows.append({"kind": "green_belt", "name": f"{r['name']}绿化带", "geometry": _zone(g, at=30, length=g.length - 60,
                                                                                     width=3, offset=13)})
        rows.append({"kind": "blind_path", "name": f"{r['name']}盲道", "geometry": _zone(g, at=20, length=g.length - 40,
                                                                                   width=0.6, offset=-17, side=1)})
    branches = roads[roads["road_class"] == "branch"]
    for _, r in branches.iloc[rng.permutation(len(branches))[:150]].iterrows():
        g = r.geometry
        rows.append({"kind": "parking", "name": f"{r['name']}停车泊位", "geometry": _zone(g, at=60, length=50, width=2.5,
                                                                                    offset=5)})
    for _, r in branches.iloc[rng.permutation(len(branches))[:40]].iterrows():
        g = r.geometry
        rows.append({"kind": "fire_lane", "name": f"{r['name']}消防通道",
                     "geometry": _zone(g, at=g.length / 2, length=4, width=30, offset=8)})
    return pd.DataFrame(rows)


def depots() -> pd.DataFrame:
    places = [("中站区环卫场站", -8_100.0, 600.0), ("解放区市政场站", -2_100.0, 2_400.0),
              ("山阳区城管场站", 3_300.0, -600.0), ("马村区市政场站", 8_700.0, 1_200.0), ("山阳区南部储盐点", 2_700.0, -4_500.0)]
    return pd.DataFrame([{"name": n, "salt_store": True, "district": district_of(np.array([x]))[0],
                          "geometry": shapely.Point(x + 40, y + 40)} for n, x, y in places])


def demand(city: City, rng: np.random.Generator) -> pd.DataFrame:
    xs, ys = city.xs, city.ys
    cx = (xs[:-1] + xs[1:]) / 2
    cy = (ys[:-1] + ys[1:]) / 2
    gx, gy = np.meshgrid(cx, cy)
    gx, gy = gx.ravel(), gy.ravel()
    # denser towards the centre of the built-up area, sparse at the edges; none in the river band
    weight = np.exp(-((gx / 9_000.0) ** 2 + (gy / 6_000.0) ** 2))
    keep = (rng.random(gx.size) < weight * 1.15) & ~((gy > RIVER_Y[0]) & (gy < RIVER_Y[1]))
    gx, gy = gx[keep], gy[keep]
    pop = np.clip(rng.lognormal(mean=5.3, sigma=0.6, size=gx.size), 20, 800).astype(int)
    return pd.DataFrame({"population": pop, "households": (pop / 2.8).astype(int),
                         "district": district_of(gx), "geometry": shapely.points(gx + rng.uniform(-60, 60, gx.size),
                                                                                gy + rng.uniform(-60, 60, gx.size))})


def district_polygons() -> pd.DataFrame:
    rows = []
    for code, name, (x0, x1) in DISTRICTS:
        # the outer edges follow a gentle wave so the outlines do not look like a ruler's
        top = [(x, 6_300 + 250 * np.sin(x / 1_700)) for x in np.linspace(x0, x1, 12)]
        bottom = [(x, -6_300 + 250 * np.cos(x / 2_100)) for x in np.linspace(x1, x0, 12)]
        poly = shapely.Polygon([*top, *bottom])
        rows.append({"code": code, "name": name, "geometry": shapely.MultiPolygon([poly])})
    return pd.DataFrame(rows)
