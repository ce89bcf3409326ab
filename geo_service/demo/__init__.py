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
import shapely

from geo_service.demo import places
from geo_service.demo.beats import DEMO_GAPS, DEMO_OVERLAPS, BeatDefect, beats
from geo_service.demo.city import build_city, district_polygons, to_lonlat
from geo_service.demo.duty import case_categories, crews, incidents, shifts
from geo_service.demo.names import OUTER_SECONDARY
from geo_service.demo.places import festival_window
from geo_service.settings import DEFAULT_GOODS_GROUPS

__all__ = [
    "DEMO_GAPS",
    "DEMO_METADATA",
    "DEMO_OVERLAPS",
    "DEMO_SEED",
    "BeatDefect",
    "build_demo",
    "demo_metadata",
    "festival_window",
]

DEMO_SEED = 2027
#: branch streets that are also key roads for snow (priority 3), beyond the main and secondary ones
_PRIORITY3_BRANCHES = 30


def demo_metadata(seed: int = DEMO_SEED) -> dict[str, object]:
    """What the demo workspace is: generated, illustrative, not surveyed (zh/en), and from which seed."""
    return {
        "city": "焦作市 Jiaozuo",
        "illustrative": True,
        "surveyed": False,
        "seed": seed,
        "notice_zh": f"示例工作空间：程序生成的示意数据（随机种子 {seed}），并非测绘成果，街道布局、站点与案件均为虚构，"
        "不可用于实际管理决策。",
        "notice_en": f"Demo workspace: generated, illustrative data (seed {seed}) — not surveyed; the street layout, "
        "sites and cases are made up and not for real decisions.",
        "generator": "geo_service.demo.build_demo",
    }


DEMO_METADATA = demo_metadata()

_COLUMNS = {
    "districts": ["code", "name"],
    "roads": [
        "name",
        "road_class",
        "oneway",
        "speed_kph",
        "walkable",
        "drivable",
        "snow_priority",
        "closed",
        "district",
        "osm_id",
    ],
    "stall_sites": ["name", "district", "capacity", "goods", "hours", "status", "valid_from", "valid_to"],
    "festival_sales_points": [
        "name",
        "address",
        "district",
        "capacity",
        "goods",
        "hours",
        "lunar_from",
        "lunar_to",
        "valid_from",
        "valid_to",
        "status",
    ],
    "bridges_culverts": [
        "name",
        "kind",
        "road",
        "district",
        "snow_priority",
        "flood_risk",
        "service_min",
        "salt_t",
        "owner",
        "closed",
    ],
    "patrol_beats": ["code", "name", "squad", "brigade", "district", "buffer_m"],
    "incidents": [
        "source",
        "category",
        "description",
        "reported_at",
        "case_no",
        "address",
        "status",
        "beat",
        "squad",
        "department",
        "escalated_to",
    ],
    "depots": ["name", "salt_store", "district"],
    "demand": ["population", "households", "district"],
    "pois": ["name", "kind"],
    "restricted_areas": ["kind", "name"],
}


def _frame(rows: pd.DataFrame, layer: str) -> gpd.GeoDataFrame:
    geoms = to_lonlat(rows["geometry"].to_numpy())
    return gpd.GeoDataFrame(
        rows[_COLUMNS[layer]].reset_index(drop=True), geometry=list(geoms), crs="EPSG:4326"
    )


def _snow_priority(roads: pd.DataFrame) -> pd.Series:
    """1 on main roads, 2 on secondary ones (3 on the outer ring), 3 on every other branch street's name."""
    prio = roads["road_class"].map({"main": 1.0, "secondary": 2.0})
    prio[roads["name"].isin(OUTER_SECONDARY) & (roads["road_class"] == "secondary")] = 3.0
    branch = roads.loc[roads["road_class"] == "branch", "name"].unique()
    prio[roads["name"].isin(branch[::2][:_PRIORITY3_BRANCHES])] = 3.0
    return prio.astype(object).where(prio.notna(), None).map(lambda v: None if v is None else int(v))


def build_demo(*, seed: int = DEMO_SEED, today: dt.date | None = None) -> dict[str, pd.DataFrame]:
    """Every layer of the demo workspace, keyed by layer name, in EPSG:4326.

    Spatial layers are GeoDataFrames, table layers (``duty_shifts``, ``crews``, ``case_categories``) plain
    DataFrames; the columns are the declared fields (plus ``geometry``).

    Parameters
    ----------
    seed
        Same seed, same workspace.
    today
        The day the workspace is built for (festival window of the coming Spring Festival; a year of
        cases before it). Defaults to today in Asia/Shanghai.

    Examples
    --------
    >>> frames = build_demo(today=dt.date(2026, 12, 5))
    >>> len(frames["stall_sites"]), len(frames["festival_sales_points"]), len(frames["bridges_culverts"])
    (30, 10, 39)
    """
    today = today or dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    rng = np.random.default_rng(seed)
    city = build_city(rng)
    roads = city.roads.assign(snow_priority=_snow_priority(city.roads), closed=False)
    districts = district_polygons()
    beat_frame = beats(city, districts)
    poi_frame = places.pois(city, rng)
    restricted = places.restricted_areas(city, rng)
    markets = shapely.get_coordinates(poi_frame.loc[poi_frame["kind"] == "market", "geometry"].to_numpy())
    shanyang = districts.loc[districts["name"] == "山阳区", "geometry"].iloc[0]
    return {
        "districts": _frame(districts, "districts"),
        "roads": _frame(roads, "roads"),
        "stall_sites": _frame(
            places.stall_sites(city, rng, district=shanyang, poi_frame=poi_frame, restricted=restricted),
            "stall_sites",
        ),
        "festival_sales_points": _frame(places.festival_points(city, rng, today), "festival_sales_points"),
        "bridges_culverts": _frame(places.bridges_culverts(city, rng), "bridges_culverts"),
        "patrol_beats": _frame(beat_frame, "patrol_beats"),
        "duty_shifts": shifts(beat_frame),
        "incidents": _frame(incidents(districts, beat_frame, rng, today, hotspots=markets), "incidents"),
        "depots": _frame(places.depots(), "depots"),
        "crews": crews(),
        "demand": _frame(places.demand(city, rng), "demand"),
        "pois": _frame(poi_frame, "pois"),
        "restricted_areas": _frame(restricted, "restricted_areas"),
        "case_categories": case_categories(),
        # the groups the settings know, listed where planners can see and change them
        "goods_groups": pd.DataFrame(
            {
                "name": list(DEFAULT_GOODS_GROUPS),
                "kinds": ["、".join(v) for v in DEFAULT_GOODS_GROUPS.values()],
            }
        ),
    }
