"""The Jiaozuo demo workspace: the city's reported facts, determinism, validity, a noded connected street
network, districts that tile, beats with the documented gaps and overlaps, a plausible year of cases."""

from __future__ import annotations

import datetime as dt
from itertools import combinations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from lunardate import LunarDate

from geo_service.demo import DEMO_GAPS, DEMO_METADATA, DEMO_OVERLAPS, build_demo, festival_window

TODAY = dt.date(2026, 12, 5)
REPORTED_STREETS = (
    "塔北路",
    "解放西路",
    "解放中路",
    "桃园路",
    "增光北路",
    "跃进路",
    "人民路",
    "民主路",
    "丰收路",
    "山阳路",
    "建设路",
    "塔南路",
    "焦东路",
    "焦作大道",
)


@pytest.fixture(scope="module")
def demo():
    return build_demo(today=TODAY)


@pytest.fixture(scope="module")
def metric(demo):
    """The spatial layers in CGCS2000 / GK CM 114E (metres)."""
    return {k: v.to_crs(4547) for k, v in demo.items() if isinstance(v, gpd.GeoDataFrame)}


def test_deterministic(demo):
    again = build_demo(today=TODAY)
    assert set(again) == set(demo)
    for name, frame in demo.items():
        pd.testing.assert_frame_equal(frame, again[name], check_exact=True, obj=name)
    other = build_demo(seed=7, today=TODAY)
    assert not other["roads"].geometry.equals(demo["roads"].geometry)
    assert not other["incidents"]["reported_at"].equals(demo["incidents"]["reported_at"])


def test_every_row_is_valid_for_its_declaration(demo, catalog):
    from geo_service.geometry import validate_geometry

    assert set(demo) == set(catalog)
    for name, frame in demo.items():
        spec = catalog[name]
        cols = [c for c in frame.columns if c != "geometry"]
        assert cols == list(spec.field_names), name
        if spec.is_table:
            assert type(frame) is pd.DataFrame, name
            assert "geometry" not in frame.columns, name
        else:
            assert isinstance(frame, gpd.GeoDataFrame), name
            assert frame.crs.to_epsg() == 4326, name
            assert set(frame.geom_type) <= set(spec.geometry_types), name
            sample = frame.geometry.iloc[:: max(1, len(frame) // 300)]
            for g in sample:
                validate_geometry(spec, g)
        records = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
        for i, props in enumerate(records):
            spec.validate_properties(props, feature=i)
        for f in spec.fields:
            if f.unique:
                assert frame[f.name].is_unique, (name, f.name)
            if f.references:
                layer, field = f.references.split(".")
                assert set(frame[f.name].dropna()) <= set(demo[layer][field]), (name, f.name)


def test_reported_counts_and_names(demo):
    assert len(demo["stall_sites"]) == 30
    assert len(demo["festival_sales_points"]) == 10
    assert len(demo["bridges_culverts"]) == 39
    assert len(demo["roads"]) >= 3000
    key = demo["roads"].loc[demo["roads"]["snow_priority"].notna(), "name"].nunique()
    assert 60 <= key <= 69
    assert {"增光北路实验小学北", "解放西路与桃园路交叉口", "跃进路金欧市场门前"} <= set(
        demo["festival_sales_points"]["name"]
    )
    assert dict(zip(demo["districts"]["code"], demo["districts"]["name"], strict=True)) == {
        "410802": "解放区",
        "410803": "中站区",
        "410804": "马村区",
        "410811": "山阳区",
    }
    assert set(REPORTED_STREETS) <= set(demo["roads"]["name"])
    assert 40 <= (demo["patrol_beats"].geom_type == "Polygon").sum() <= 60
    assert 2 <= (demo["patrol_beats"].geom_type == "LineString").sum() <= 3
    assert 2_000 <= len(demo["demand"]) <= 4_000
    assert demo["demand"]["population"].between(20, 800).all()
    assert 4 <= len(demo["depots"]) <= 6
    assert set(demo["depots"]["district"]) == set(demo["districts"]["name"])
    assert demo["depots"]["salt_store"].mean() > 0.5
    assert len(demo["crews"]) == 6
    assert demo["crews"]["vehicles"].between(1, 3).all()
    assert set(demo["crews"]["depot"]) <= set(demo["depots"].loc[demo["depots"]["salt_store"], "name"])
    pois = demo["pois"]
    assert {"增光北路实验小学", "金欧市场"} <= set(pois["name"])
    assert set(pois["kind"]) == {
        "school",
        "hospital",
        "market",
        "bus_stop",
        "traffic_signal",
        "intersection",
        "roundabout",
        "compound_entrance",
        "alley_mouth",
        "hydrant",
    }
    assert 1 <= (pois["kind"] == "roundabout").sum() <= 2
    assert set(demo["restricted_areas"]["kind"]) >= {"green_belt", "parking", "fire_lane", "blind_path"}


def test_metadata_says_illustrative_with_the_seed():
    assert DEMO_METADATA["illustrative"] is True
    assert DEMO_METADATA["surveyed"] is False
    assert DEMO_METADATA["seed"] == 2027
    assert "示意" in DEMO_METADATA["notice_zh"]
    assert "并非测绘" in DEMO_METADATA["notice_zh"]
    assert "illustrative" in DEMO_METADATA["notice_en"]
    assert "not surveyed" in DEMO_METADATA["notice_en"]


def test_road_network_is_noded_and_connected(demo):
    roads = demo["roads"]
    ends = shapely.get_coordinates(shapely.boundary(roads.geometry.to_numpy())).reshape(-1, 2, 2)
    assert (shapely.get_num_coordinates(roads.geometry.to_numpy()) == 2).all()
    g = nx.Graph()
    g.add_edges_from((tuple(a), tuple(b)) for a, b in ends)  # exact coordinates: segments share end points
    assert nx.number_connected_components(g) == 1
    assert g.number_of_edges() == len(roads)  # no two segments join the same pair of intersections
    geoms = roads.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    for predicate in ("crosses", "overlaps", "contains"):
        left, right = tree.query(geoms, predicate=predicate)
        assert (left == right).all(), predicate  # segments meet only at their end points


def test_road_attributes(demo, metric):
    roads = demo["roads"]
    assert roads["oneway"].sum() > 50
    assert not roads.loc[roads["oneway"], "road_class"].isin(["main"]).any()
    blocked = roads[~roads["walkable"]]
    assert 0 < len(blocked) < 20
    assert set(blocked["road_class"]) == {"main"}
    assert roads.loc[roads["road_class"] == "main", "walkable"].mean() > 0.95
    assert (
        roads.groupby("road_class")["speed_kph"].median()
        == pd.Series({"alley": 15.0, "branch": 30.0, "main": 50.0, "secondary": 40.0})
    ).all()
    prio = roads["snow_priority"]
    assert (prio[roads["road_class"] == "main"] == 1).all()
    assert set(prio[roads["road_class"] == "secondary"]) == {2, 3}
    assert prio[roads["road_class"] == "alley"].isna().all()
    assert not roads["closed"].any()
    # each named key road has one priority
    assert (roads.dropna(subset=["snow_priority"]).groupby("name")["snow_priority"].nunique() == 1).all()

    # 解放西路 and 桃园路 cross (share an intersection); 增光北路 and 跃进路 lie in 中站区
    def nodes(name):
        return {tuple(c) for g in roads.loc[roads["name"] == name].geometry for c in g.coords}

    assert nodes("解放西路") & nodes("桃园路")
    zz = metric["districts"].set_index("name").geometry["中站区"]
    for name in ("增光北路", "跃进路", "桃园路", "解放西路"):
        mids = metric["roads"].loc[roads["name"] == name].geometry.interpolate(0.5, normalized=True)
        assert mids.within(zz).all(), name


def test_districts_tile_the_city(metric, demo):
    d = metric["districts"].set_index("name").geometry
    for a, b in combinations(d.index, 2):
        assert d[a].intersection(d[b]).area < 1.0, (a, b)
        neighbours = {a, b} not in ({"中站区", "马村区"}, {"解放区", "马村区"})
        assert (d[a].intersection(d[b]).length > 1_000) == neighbours, (a, b)
    total = shapely.union_all(d.to_numpy())
    assert total.area == pytest.approx(d.area.sum(), rel=1e-6)
    assert shapely.get_num_interior_rings(shapely.get_parts(total)).sum() == 0  # no holes between districts
    x = d.centroid.x
    assert x["中站区"] < x["解放区"] < x["山阳区"] < x["马村区"]
    assert d["山阳区"].bounds[1] < d["解放区"].bounds[1] - 3_000  # 山阳区 also takes the south of the centre
    lon0, lat0, lon1, lat1 = demo["districts"].total_bounds
    assert 113.08 < lon0 < 113.15
    assert 113.33 < lon1 < 113.42
    assert 35.15 < lat0 < 35.19
    assert 35.27 < lat1 < 35.31


def test_sites_lie_in_their_districts_beside_back_streets(demo, metric):
    d = demo["districts"].set_index("name").geometry
    assert demo["stall_sites"].geometry.within(d["山阳区"]).all()
    assert demo["festival_sales_points"].geometry.within(d["中站区"]).all()
    sites = metric["stall_sites"].geometry.to_numpy()
    roads = metric["roads"]
    minor = shapely.union_all(roads.loc[roads["road_class"].isin(["alley", "branch"])].geometry.to_numpy())
    main = shapely.union_all(roads.loc[roads["road_class"] == "main"].geometry.to_numpy())
    assert (shapely.distance(sites, minor) < 15).all()
    assert (shapely.distance(sites, main) > 50).all()
    ends = shapely.get_coordinates(shapely.boundary(roads.geometry.to_numpy()))
    pts, counts = np.unique(ends, axis=0, return_counts=True)
    crossings = shapely.multipoints(pts[counts >= 3])
    assert (shapely.distance(sites, crossings) >= 25).all()
    dist = shapely.distance(sites[:, None], sites[None, :])
    np.fill_diagonal(dist, np.inf)
    assert dist.min() >= 50
    assert shapely.area(sites).min() >= 8 * 20
    assert shapely.area(sites).max() <= 20 * 60
    restricted = shapely.union_all(metric["restricted_areas"].geometry.to_numpy())
    assert not shapely.intersects(sites, restricted).any()
    s = demo["stall_sites"]
    assert s["name"].is_unique
    assert s["name"].str.match(r"^山阳区.+果蔬临时销售点$").all()
    assert s["capacity"].between(10, 40).all()
    assert (s["status"] == "open").all()
    assert (s["valid_from"] == dt.date(2026, 1, 1)).all()
    assert s["valid_to"].isna().all()


def test_festival_window_is_the_lunar_one(demo):
    f = demo["festival_sales_points"]
    assert (f["valid_from"] == LunarDate(2026, 12, 15).to_solar_date()).all()
    assert (f["valid_to"] == LunarDate(2027, 1, 16).to_solar_date()).all()
    assert (f["hours"] == "07:00-22:00").all()
    assert (f["lunar_from"] == "12-15").all()
    assert (f["lunar_to"] == "01-16").all()
    assert set(f.geom_type) == {"Point", "Polygon"}
    # during the festival the running window; after it, next year's
    assert festival_window(dt.date(2027, 2, 1)) == (
        LunarDate(2026, 12, 15).to_solar_date(),
        LunarDate(2027, 1, 16).to_solar_date(),
    )
    assert festival_window(dt.date(2027, 3, 1))[0] == LunarDate(2027, 12, 15).to_solar_date()
    assert festival_window(dt.date(2026, 1, 1)) == (
        LunarDate(2025, 12, 15).to_solar_date(),
        LunarDate(2026, 1, 16).to_solar_date(),
    )


def test_named_points_stand_where_their_names_say(metric):
    roads, pois = metric["roads"], metric["pois"].set_index("name", drop=False)
    fest = metric["festival_sales_points"].set_index("name").geometry

    def street(name):
        return shapely.union_all(roads.loc[roads["name"] == name].geometry.to_numpy())

    cross = fest["解放西路与桃园路交叉口"]
    assert cross.distance(street("解放西路")) < 30
    assert cross.distance(street("桃园路")) < 60
    school = pois.geometry["增光北路实验小学"]
    north = fest["增光北路实验小学北"]
    assert north.distance(street("增光北路")) < 30
    assert north.y > school.y
    assert north.distance(school) < 150
    market = pois.geometry["金欧市场"]
    assert market.distance(street("跃进路")) < 60
    gate = fest["跃进路金欧市场门前"]
    assert gate.distance(street("跃进路")) < 30
    assert gate.distance(market) < 60


def test_bridges_and_culverts_sit_on_their_roads(demo, metric):
    b, roads = metric["bridges_culverts"], metric["roads"]
    for row in b.itertuples():
        on = roads.loc[roads["name"] == row.road].geometry
        assert on.distance(row.geometry).min() < 0.5, row.name
    assert set(b["kind"]) == {"bridge", "culvert", "underpass"}
    assert b["name"].is_unique
    assert (b.loc[b["kind"] == "bridge", "snow_priority"] == 1).mean() > 0.6
    assert b.loc[b["kind"] != "bridge", "flood_risk"].isin(["medium", "high"]).all()
    assert b["service_min"].between(5, 20).all()
    assert b["salt_t"].between(0.2, 1.0).all()
    assert b["owner"].notna().all()
    assert not b["closed"].any()
    bridges = b.loc[b["kind"] == "bridge"].geometry
    assert bridges.x.max() - bridges.x.min() > 15_000  # spread along the river, not bunched at one end


def test_beats_cover_the_districts_with_the_documented_gaps_and_overlaps(demo, metric):
    beats = metric["patrol_beats"].set_index("code")
    d = metric["districts"].set_index("name").geometry
    area = beats[beats.geom_type == "Polygon"]
    assert all(g.within(d[k].buffer(1.0)) for g, k in zip(area.geometry, area["district"], strict=True))
    gaps = shapely.union_all(d.to_numpy()).difference(shapely.union_all(area.geometry.to_numpy()))
    assert gaps.area == pytest.approx(sum(g.area_m2 for g in DEMO_GAPS), rel=0.25)
    for gap in DEMO_GAPS:
        assert shapely.intersection(gaps, beats.geometry[gap.beats[0]].envelope).area > 0.5 * gap.area_m2
    overlaps = {}
    tree = shapely.STRtree(area.geometry.to_numpy())
    for i, j in zip(*tree.query(area.geometry.to_numpy(), predicate="intersects"), strict=True):
        if i < j:
            a = area.geometry.iloc[i].intersection(area.geometry.iloc[j]).area
            if a > 1.0:
                overlaps[(area.index[i], area.index[j])] = a
    assert overlaps.keys() == {o.beats for o in DEMO_OVERLAPS}
    for o in DEMO_OVERLAPS:
        assert overlaps[o.beats] == pytest.approx(o.area_m2, rel=0.05)
    roads = metric["roads"]
    for code, beat in beats[beats.geom_type == "LineString"].iterrows():
        assert beat.geometry.within(d[beat["district"]]), code
        main = shapely.union_all(roads.loc[roads["road_class"] == "main"].geometry.to_numpy())
        assert beat.geometry.difference(main.buffer(0.01)).length < 1.0, code
    squads = demo["patrol_beats"].groupby("squad").size()
    assert squads.median() >= 3


def test_shifts_leave_some_evenings_uncovered(demo):
    shifts, beats = demo["duty_shifts"], demo["patrol_beats"]
    assert set(shifts["beat"]) == set(beats["code"])
    squad_of = dict(zip(beats["code"], beats["squad"], strict=True))
    assert (shifts["squad"] == shifts["beat"].map(squad_of)).all()
    evening = shifts.loc[(shifts["start"] <= "21:00") & (shifts["end"] > "21:00"), "beat"]
    without = set(beats["code"]) - set(evening)
    assert 3 <= len(without) < len(beats) / 2


def test_a_year_of_cases(demo, metric, catalog):
    inc = demo["incidents"]
    assert 19_000 <= len(inc) <= 20_000
    d = shapely.union_all(metric["districts"].geometry.to_numpy())
    assert shapely.contains(d, metric["incidents"].geometry.to_numpy()).all()
    when = pd.DatetimeIndex(inc["reported_at"])
    assert str(when.tz) == "Asia/Shanghai"
    today = pd.Timestamp(TODAY, tz="Asia/Shanghai")
    assert when.min() >= today - pd.Timedelta(days=365)
    assert when.max() < today
    assert set(when[inc["category"] == "道路积雪结冰"].month) <= {12, 1, 2}
    assert set(when[inc["category"] == "道路积水"].month) <= {6, 7, 8}
    assert set(inc["category"]) <= set(demo["case_categories"]["minor"])
    hours = when.hour.value_counts()
    assert hours[3] * 5 < hours[20]
    assert hours[3] * 5 < hours[10]
    assert (inc["source"] == "12345").mean() > 0.7
    open_ = inc[inc["status"] == "open"]
    assert 20 <= len(open_) <= 100
    assert (pd.DatetimeIndex(open_["reported_at"]) >= today - pd.Timedelta(days=2)).all()
    old = inc[when < today - pd.Timedelta(days=7)]
    assert (old["status"] == "closed").all()
    assert old["department"].notna().all()
    assert old["beat"].notna().mean() > 0.9
    cats = demo["case_categories"].set_index("minor")
    for minor in ("道路积水", "道路积雪结冰"):
        assert (cats.loc[minor, "asset_layer"], cats.loc[minor, "asset_within_m"]) == (
            "bridges_culverts",
            30.0,
        )
    assert cats.loc["无照经营游商", "major"] == "街面秩序"
    assert cats.loc["窨井盖", "major"] == "设施管理"
