"""Demo duty shifts, crews, the case category table and a year of 12345 cases."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely

__all__ = ["CATEGORIES", "case_categories", "crews", "incidents", "shifts"]

_TZ = ZoneInfo("Asia/Shanghai")

#: GB/T 30428-style 大类/小类 with the responsible department (权责清单), as the city's editable table. A case
#: within ``asset_within_m`` of a feature of ``asset_layer`` goes to that asset's owner; ``sends_crew``: the
#: depots' crews (snow, sanitation, repairs) are suggested for the case, not for a noise or fumes complaint.
CATEGORIES = (
    ("0101", "街面秩序", "无照经营游商", "城管执法大队", None, None, False),
    ("0102", "街面秩序", "店外经营", "城管执法大队", None, None, False),
    ("0103", "街面秩序", "占道经营", "城管执法大队", None, None, False),
    ("0201", "市容环境", "噪声扰民", "城管执法大队", None, None, False),
    ("0202", "市容环境", "油烟污染", "生态环境局", None, None, False),
    ("0203", "市容环境", "暴露垃圾", "环境卫生管理处", None, None, True),
    ("0301", "设施管理", "窨井盖", "市政工程处", None, None, True),
    ("0302", "设施管理", "路灯", "市政工程处", None, None, False),
    ("0401", "安全隐患", "燃气安全", "住建局燃气办", None, None, False),
    ("0402", "安全隐患", "燃气泄漏", "燃气公司", None, None, False),
    ("0501", "突发事件", "道路积水", "市政工程处", "bridges_culverts", 30.0, True),
    ("0502", "突发事件", "道路积雪结冰", "市政工程处", "bridges_culverts", 30.0, True),
    ("0503", "突发事件", "路面塌陷", "应急管理局", None, None, True),
)
#: share of each category in a year of cases (snow only in winter, waterlogging only in summer)
_WEIGHTS = {
    "无照经营游商": 0.15,
    "店外经营": 0.09,
    "占道经营": 0.17,
    "噪声扰民": 0.15,
    "油烟污染": 0.11,
    "暴露垃圾": 0.05,
    "窨井盖": 0.07,
    "路灯": 0.03,
    "燃气安全": 0.07,
    "燃气泄漏": 0.005,
    "道路积水": 0.05,
    "道路积雪结冰": 0.05,
    "路面塌陷": 0.005,
}
_TEXTS = {
    "无照经营游商": "游商沿街叫卖",
    "店外经营": "商铺店外摆放商品",
    "占道经营": "流动摊贩占道经营",
    "噪声扰民": "商户使用高音喇叭招揽顾客",
    "油烟污染": "餐馆油烟直排",
    "暴露垃圾": "路边垃圾未清运",
    "窨井盖": "窨井盖破损",
    "路灯": "路灯不亮",
    "燃气安全": "商户燃气报警器缺失",
    "燃气泄漏": "闻到燃气味",
    "道路积水": "道路积水严重",
    "道路积雪结冰": "路面结冰",
    "路面塌陷": "路面塌陷",
}
#: hours of the day at which 12345 calls come in (relative weights, 0–23 h): morning and evening peaks
_HOURLY = np.array(
    [1, 0.5, 0.3, 0.3, 0.3, 0.6, 1.5, 3, 5, 6, 6.5, 6, 5, 4.5, 5, 5.5, 5.5, 5, 5.5, 6.5, 7, 6, 4, 2]
)


def shifts(beat_frame: pd.DataFrame) -> pd.DataFrame:
    """Weekly shifts per beat: 07:00–12:00, 14:30–18:00 and 19:00–24:00 on most beats; some beats have no
    evening shift, every sixth works office hours on workdays with a holiday day shift; road beats 07–22."""
    rows = []
    for n, b in enumerate(beat_frame.itertuples()):
        if b.code.startswith("LD-"):
            rows.append((b.code, b.squad, "1-7", "07:00", "22:00", "any"))
            continue
        if n % 6 == 3:  # office-hours beats: weekday day shifts, a holiday shift, no evening
            rows += [
                (b.code, b.squad, "1-5", "08:00", "12:00", "workday"),
                (b.code, b.squad, "1-5", "14:30", "18:00", "workday"),
                (b.code, b.squad, "1-7", "09:00", "17:00", "holiday"),
            ]
            continue
        rows += [
            (b.code, b.squad, "1-7", "07:00", "12:00", "any"),
            (b.code, b.squad, "1-7", "14:30", "18:00", "any"),
        ]
        if n % 7 != 5:
            rows.append((b.code, b.squad, "1-7", "19:00", "24:00", "any"))
    return pd.DataFrame(rows, columns=["beat", "squad", "weekdays", "start", "end", "day_kind"]).assign(
        valid_from=dt.date(2026, 1, 1), valid_to=None
    )


def case_categories() -> pd.DataFrame:
    return pd.DataFrame(
        CATEGORIES,
        columns=["code", "major", "minor", "department", "asset_layer", "asset_within_m", "sends_crew"],
    )


def crews() -> pd.DataFrame:
    """Six snow crews at the five depots with salt stores."""
    rows = [
        ("中站一组", "中站区环卫场站", 2, 15.0, 30.0, 8.0),
        ("解放一组", "解放区市政场站", 2, 15.0, 30.0, 8.0),
        ("解放二组", "解放区市政场站", 1, 18.0, 35.0, 5.0),
        ("山阳一组", "山阳区城管场站", 3, 15.0, 30.0, 10.0),
        ("马村一组", "马村区市政场站", 2, 14.0, 30.0, 8.0),
        ("山阳南组", "山阳区南部储盐点", 2, 15.0, 32.0, 6.0),
    ]
    frame = pd.DataFrame(
        rows, columns=["crew", "depot", "vehicles", "work_speed_kph", "empty_speed_kph", "salt_capacity_t"]
    )
    return frame.assign(status="available", busy_until=None)


def incidents(
    districts: pd.DataFrame,
    beat_frame: pd.DataFrame,
    rng: np.random.Generator,
    today: dt.date,
    *,
    hotspots: np.ndarray,
    n: int = 20_000,
) -> pd.DataFrame:
    """A year of synthetic 12345 cases before ``today`` (local metres).

    Denser towards the centre, street vending clustered around the ``hotspots`` (markets), snow and ice
    only in winter, waterlogging only in summer, calls by a day-and-evening hourly profile. Cases older
    than two days are closed and carry the beat, squad and department they went to; the last two days'
    cases are open or assigned.
    """
    area = shapely.union_all(districts["geometry"].to_numpy())
    minx, miny, maxx, maxy = area.bounds
    xs = rng.normal(0, (maxx - minx) / 5, n * 2).clip(minx, maxx)
    ys = rng.normal(0, (maxy - miny) / 4, n * 2).clip(miny, maxy)
    inside = shapely.contains_xy(area, xs, ys)
    xs, ys = xs[inside][:n], ys[inside][:n]
    n = len(xs)
    start = pd.Timestamp(today, tz=_TZ)
    seconds = (
        rng.integers(1, 366, n) * -86_400
        + rng.choice(24, n, p=_HOURLY / _HOURLY.sum()) * 3_600
        + rng.integers(0, 3_600, n)
    )
    when = start + pd.to_timedelta(seconds, unit="s")
    names = np.array(list(_WEIGHTS), dtype=object)
    weights = np.array(list(_WEIGHTS.values()))
    cats = rng.choice(names, n, p=weights / weights.sum())
    cats[(cats == "道路积雪结冰") & ~np.isin(when.month, [12, 1, 2])] = "占道经营"
    cats[(cats == "道路积水") & ~np.isin(when.month, [6, 7, 8])] = "噪声扰民"
    pick = rng.integers(0, len(hotspots), n)
    hx, hy = hotspots[pick, 0] + rng.normal(0, 150, n), hotspots[pick, 1] + rng.normal(0, 150, n)
    near = (
        np.isin(cats, ["无照经营游商", "占道经营", "店外经营"])
        & (rng.random(n) < 0.4)
        & shapely.contains_xy(area, hx, hy)
    )
    pts = shapely.points(np.where(near, hx, xs), np.where(near, hy, ys))
    age_days = (start - when).days.to_numpy()
    status = np.where(age_days >= 2, "closed", np.where(rng.random(n) < 0.5, "open", "assigned")).astype(
        object
    )
    # the beat a case went to: the first area beat holding it (cases nobody covers stay without one)
    area_beats = beat_frame[[g.geom_type == "Polygon" for g in beat_frame["geometry"]]].reset_index(drop=True)
    p_idx, b_idx = shapely.STRtree(area_beats["geometry"].to_numpy()).query(pts, predicate="within")
    first = pd.Series(b_idx, index=p_idx).groupby(level=0).min()
    beat = pd.Series([None] * n, dtype=object)
    beat.iloc[first.index] = area_beats["code"].to_numpy()[first.to_numpy()]
    squad = beat.map(dict(zip(area_beats["code"], area_beats["squad"], strict=True)))
    department = pd.Series(cats).map({c[2]: c[3] for c in CATEGORIES})
    sent = status != "open"
    source = rng.choice(["12345", "patrol", "video"], n, p=[0.8, 0.15, 0.05])
    # a 12345 ticket carries its number (工单编号): the day it came in and its place that day
    day = pd.Series(pd.to_datetime(when)).dt.strftime("%Y%m%d")
    seq = day.groupby(day).cumcount() + 1
    case_no = [f"JZ{d}{k:04d}" if s == "12345" else None for d, k, s in zip(day, seq, source, strict=True)]
    return pd.DataFrame(
        {
            "source": source,
            "category": cats,
            "description": [_TEXTS[c] for c in cats],
            "reported_at": when,
            "case_no": case_no,
            "address": None,
            "status": status,
            "beat": beat.where(sent, None),
            "squad": squad.where(sent & squad.notna(), None),
            "department": department.where(sent, None),
            "escalated_to": None,
            "geometry": pts,
        }
    )
