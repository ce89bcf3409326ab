"""Demo patrol beats, duty shifts, crews, case categories and a year of 12345 cases."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely

from geo_service.demo.city import DISTRICTS, City

__all__ = ["CATEGORIES", "DEMO_GAPS", "DEMO_OVERLAPS", "beats", "case_categories", "crews", "incidents", "shifts"]

_TZ = ZoneInfo("Asia/Shanghai")
_CN = "一二三四"

#: What the demo leaves for the coverage checks to find (described, not hard-coded in any check).
DEMO_GAPS = ("山阳区 beat SY-05 has a 300 m × 300 m block cut out (a courtyard nobody patrols)",
             "解放区 beat JF-12 stops 80 m short of the district's eastern edge (a sliver)")
DEMO_OVERLAPS = ("中站区 beat ZZ-02 reaches 40 m into ZZ-03",)
_PREFIX = {"中站区": "ZZ", "解放区": "JF", "山阳区": "SY", "马村区": "MC"}

#: GB/T 30428-style 大类/小类 with the responsible department (权责清单), as the city's editable table.
CATEGORIES = (
    ("0101", "街面秩序", "无照经营游商", "城管执法大队", None, None),
    ("0102", "街面秩序", "店外经营", "城管执法大队", None, None),
    ("0103", "街面秩序", "占道经营", "城管执法大队", None, None),
    ("0201", "市容环境", "噪声扰民", "城管执法大队", None, None),
    ("0202", "市容环境", "油烟污染", "生态环境局", None, None),
    ("0301", "设施管理", "窨井盖", "市政工程处", None, None),
    ("0401", "安全隐患", "燃气安全", "住建局燃气办", None, None),
    ("0501", "突发事件", "道路积水", "市政工程处", "bridges_culverts", 30.0),
    ("0502", "突发事件", "道路积雪结冰", "市政工程处", "bridges_culverts", 30.0),
)
_WEIGHTS = {"无照经营游商": 0.16, "店外经营": 0.10, "占道经营": 0.18, "噪声扰民": 0.16, "油烟污染": 0.12,
            "窨井盖": 0.08, "燃气安全": 0.08, "道路积水": 0.06, "道路积雪结冰": 0.06}
# hours of the day at which 12345 calls come in (relative weights, 0–23 h)
_HOURLY = np.array([1, 0.5, 0.3, 0.3, 0.3, 0.6, 1.5, 3, 5, 6, 6.5, 6, 5, 4.5, 5, 5.5, 5.5, 5, 5.5, 6.5, 7, 6, 4, 2])


def beats(city: City) -> tuple[pd.DataFrame, list[str]]:
    """~48 polygon beats (3 columns × 4 rows per district) and 3 road beats; returns (frame, codes)."""
    rows = []
    y_edges = np.linspace(-6_700, 6_700, 5)
    for _code, name, (x0, x1) in DISTRICTS:
        x_edges = np.linspace(x0, x1, 4)
        k = 0
        for col in range(3):
            for row in range(4):
                k += 1
                code = f"{_PREFIX[name]}-{k:02d}"
                poly = shapely.box(x_edges[col], y_edges[row], x_edges[col + 1], y_edges[row + 1])
                if code == "SY-05":
                    cx, cy = poly.centroid.x, poly.centroid.y
                    poly = poly.difference(shapely.box(cx - 150, cy - 150, cx + 150, cy + 150))
                if code == "JF-12":
                    poly = shapely.box(x_edges[col], y_edges[row], x_edges[col + 1] - 80, y_edges[row + 1])
                if code == "ZZ-02":
                    poly = shapely.box(x_edges[col], y_edges[row] - 40, x_edges[col + 1], y_edges[row + 1])
                rows.append({"code": code, "name": f"{name}{k}号网格", "squad": f"{name}第{_CN[col]}中队",
                             "brigade": f"{name[:2]}大队", "district": name, "buffer_m": 30.0, "geometry": poly})
    # road beats along key streets: a point within 30 m of the street belongs to them
    for k, road in enumerate(("焦作大道东段", "解放东路", "人民西路"), start=1):
        segs = city.roads[city.roads["name"] == road].sort_values("mid_x")
        line = shapely.line_merge(shapely.union_all(segs.geometry.to_numpy()[: 12]))
        if line.geom_type != "LineString":
            line = max(line.geoms, key=lambda g: g.length)
        district = str(segs["district"].iloc[0])
        rows.append({"code": f"LD-{k:02d}", "name": f"{road}路段网格", "squad": f"{district}路面巡查中队",
                     "brigade": f"{district[:2]}大队", "district": district, "buffer_m": 30.0, "geometry": line})
    frame = pd.DataFrame(rows)
    return frame, list(frame["code"])


def shifts(beat_frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for n, b in enumerate(beat_frame.itertuples()):
        if b.code.startswith("LD-"):
            rows.append((b.code, b.squad, "1-7", "07:00", "22:00", "any"))
            continue
        if n % 6 == 3:  # office-hours beats: weekday day shifts, a holiday shift, no evening
            rows += [(b.code, b.squad, "1-5", "08:00", "12:00", "workday"),
                     (b.code, b.squad, "1-5", "14:30", "18:00", "workday"),
                     (b.code, b.squad, "1-7", "09:00", "17:00", "holiday")]
            continue
        rows += [(b.code, b.squad, "1-7", "07:00", "12:00", "any"), (b.code, b.squad, "1-7", "14:30", "18:00", "any")]
        if n % 7 != 5:
            rows.append((b.code, b.squad, "1-7", "19:00", "24:00", "any"))
    return pd.DataFrame(rows, columns=["beat", "squad", "weekdays", "start", "end", "day_kind"]).assign(
        valid_from=dt.date(2026, 1, 1), valid_to=None)


def case_categories() -> pd.DataFrame:
    return pd.DataFrame(CATEGORIES, columns=["code", "major", "minor", "department", "asset_layer", "asset_within_m"])


def crews() -> pd.DataFrame:
    rows = [("中站一组", "中站区环卫场站", 2), ("解放一组", "解放区市政场站", 2), ("解放二组", "解放区市政场站", 1),
            ("山阳一组", "山阳区城管场站", 3), ("马村一组", "马村区市政场站", 2), ("山阳南组", "山阳区南部储盐点", 2)]
    return pd.DataFrame([{"crew": c, "depot": d, "vehicles": v, "work_speed_kph": 15.0, "empty_speed_kph": 30.0,
                          "salt_capacity_t": 8.0} for c, d, v in rows])


def incidents(districts: pd.DataFrame, rng: np.random.Generator, today: dt.date, n: int = 20_000) -> pd.DataFrame:
    """A year of synthetic 12345 cases before ``today``, with winter snow and summer waterlogging."""
    area = shapely.union_all(districts.geometry.to_numpy())
    minx, miny, maxx, maxy = area.bounds
    xs = rng.normal(0, (maxx - minx) / 5, n * 2).clip(minx, maxx)
    ys = rng.normal(0, (maxy - miny) / 4, n * 2).clip(miny, maxy)
    pts = shapely.points(xs, ys)
    pts = pts[shapely.contains_xy(area, xs, ys)][:n]
    n = len(pts)
    day = rng.integers(1, 366, n)
    hour = rng.choice(24, n, p=_HOURLY / _HOURLY.sum())
    minute = rng.integers(0, 60, n)
    start = dt.datetime.combine(today, dt.time(0), tzinfo=_TZ)
    when = [start - dt.timedelta(days=int(d)) + dt.timedelta(hours=int(h), minutes=int(m))
            for d, h, m in zip(day, hour, minute, strict=True)]
    names = list(_WEIGHTS)
    cats = rng.choice(names, n, p=np.array(list(_WEIGHTS.values())) / sum(_WEIGHTS.values()))
    months = np.array([w.month for w in when])
    snow = cats == "道路积雪结冰"
    cats[snow & ~np.isin(months, [12, 1, 2])] = "占道经营"
    rain = cats == "道路积水"
    cats[rain & ~np.isin(months, [6, 7, 8])] = "噪声扰民"
    age = np.array([(start - w).days for w in when])
    status = np.where(age > 3, "closed", np.where(rng.random(n) < 0.5, "open", "assigned"))
    source = rng.choice(["12345", "patrol", "video"], n, p=[0.8, 0.15, 0.05])
    texts = {"噪声扰民": "商户使用高音喇叭招揽顾客", "占道经营": "流动摊贩占道经营", "油烟污染": "餐馆油烟直排",
             "燃气安全": "商户燃气报警器缺失", "窨井盖": "窨井盖破损", "道路积雪结冰": "路面结冰", "道路积水": "道路积水严重",
             "无照经营游商": "游商沿街叫卖", "店外经营": "商铺店外摆放商品"}
    return pd.DataFrame({"source": source, "category": cats, "description": [texts[c] for c in cats],
                         "reported_at": when, "status": status, "beat": None, "squad": None, "department": None,
                         "geometry": pts})
