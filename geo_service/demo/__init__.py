"""The Jiaozuo demo workspace: generated, deterministic, illustrative — not surveyed.

``build_demo(seed=…)`` returns one frame per declared layer, in EPSG:4326, reflecting the facts the
city reports (30 stall sites in 山阳区, 10 Spring Festival points in 中站区, 39 bridges and culverts,
60-odd key roads, patrol beats with shifts, a year of 12345 cases).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.demo import places
from geo_service.demo.city import build_city, to_lonlat
from geo_service.demo.duty import DEMO_GAPS, DEMO_OVERLAPS, beats, case_categories, crews, incidents, shifts
from geo_service.demo.places import festival_window

__all__ = ["DEMO_GAPS", "DEMO_METADATA", "DEMO_OVERLAPS", "build_demo", "festival_window"]

DEMO_METADATA = {
    "city": "焦作市 Jiaozuo",
    "illustrative": True,
    "notice_zh": "示例工作空间：程序生成的示意数据，并非测绘成果，不可用于实际管理决策。",
    "notice_en": "Demo workspace: generated, illustrative data — not surveyed, not for real decisions.",
    "generator": "geo_service.demo.build_demo",
}

#: names of branch streets that are snow priority 3 (key roads beyond the main and secondary ones)
_PRIORITY3 = 5


def _frame(rows: pd.DataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    geoms = to_lonlat(rows["geometry"].to_numpy())
    return gpd.GeoDataFrame(rows[columns].reset_index(drop=True), geometry=list(geoms), crs="EPSG:4326")


def build_demo(*, seed: int = 2027, today: dt.date | None = None) -> dict[str, pd.DataFrame]:
    """Every layer of the demo workspace, keyed by layer name.

    Parameters
    ----------
    seed
        Same seed, same workspace.
    today
        The day the workspace is built for (festival window of the coming Spring Festival; a year of
        cases before it). Defaults to today in Asia/Shanghai.
    """
    today = today or dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    rng = np.random.default_rng(seed)
    city = build_city(rng)
    roads = city.roads.copy()
    prio = {"main": 1, "secondary": 2}
    roads["snow_priority"] = np.where(roads["key"], roads["road_class"].map(prio).fillna(3), np.nan)
    branch_names = sorted(set(roads.loc[(roads["road_class"] == "branch") & (roads["district"] == "山阳区"), "name"]))
    extra = [branch_names[k] for k in np.linspace(0, len(branch_names) - 1, _PRIORITY3).astype(int)]
    roads.loc[roads["name"].isin(extra), "snow_priority"] = 3
    roads["snow_priority"] = roads["snow_priority"].astype("Int64").astype(object).where(roads["snow_priority"].notna(),
                                                                                         None)
    roads["closed"] = False

    districts_m = places.district_polygons()
    beat_frame, _ = beats(city)
    out: dict[str, pd.DataFrame] = {
        "districts": _frame(districts_m, ["code", "name"]),
        "roads": _frame(roads, ["name", "road_class", "oneway", "speed_kph", "walkable", "snow_priority", "closed",
                                "district"]),
        "stall_sites": _frame(places.stall_sites(city, rng), ["name", "district", "capacity", "goods", "hours",
                                                              "status", "valid_from", "valid_to"]),
        "festival_sales_points": _frame(places.festival_points(city, rng, today),
                                        ["name", "address", "district", "capacity", "goods", "hours", "lunar_from",
                                         "lunar_to", "valid_from", "valid_to", "status"]),
        "bridges_culverts": _frame(places.bridges_culverts(city, rng),
                                   ["name", "kind", "road", "district", "snow_priority", "flood_risk", "service_min",
                                    "salt_t", "owner", "closed"]),
        "patrol_beats": _frame(beat_frame, ["code", "name", "squad", "brigade", "district", "buffer_m"]),
        "duty_shifts": shifts(beat_frame),
        "incidents": _frame(incidents(districts_m, rng, today), ["source", "category", "description", "reported_at",
                                                                  "status", "beat", "squad", "department"]),
        "depots": _frame(places.depots(), ["name", "salt_store", "district"]),
        "crews": crews(),
        "demand": _frame(places.demand(city, rng), ["population", "households", "district"]),
        "pois": _frame(places.pois(city, rng), ["name", "kind"]),
        "restricted_areas": _frame(places.restricted_areas(city, rng), ["kind", "name"]),
        "case_categories": case_categories(),
    }
    return out
