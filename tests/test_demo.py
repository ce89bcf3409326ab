"""The Jiaozuo demo workspace: the city's reported facts, determinism, validity, connectivity."""

from __future__ import annotations

import datetime as dt

import networkx as nx
import numpy as np
import pytest
import shapely
from lunardate import LunarDate

from geo_service.demo import build_demo

TODAY = dt.date(2026, 12, 5)


@pytest.fixture(scope="module")
def demo():
    return build_demo(today=TODAY)


def test_deterministic(demo):
    again = build_demo(today=TODAY)
    for name, frame in demo.items():
        assert frame.equals(again[name]), name
    other = build_demo(seed=7, today=TODAY)
    assert not other["roads"].geometry.equals(demo["roads"].geometry)


def test_every_row_is_valid_for_its_declaration(demo, catalog):
    from geo_service.geometry import validate_geometry

    assert set(demo) == set(catalog)
    for name, frame in demo.items():
        spec = catalog[name]
        cols = [c for c in frame.columns if c != "geometry"]
        assert cols == list(spec.field_names), name
        records = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
        for i, props in enumerate(records):
            spec.validate_properties(props, feature=i)
        if not spec.is_table:
            sample = frame.geometry.iloc[:: max(1, len(frame) // 200)]
            for g in sample:
                validate_geometry(spec, g)


def test_reported_counts(demo):
    assert len(demo["stall_sites"]) == 30
    assert len(demo["festival_sales_points"]) == 10
    assert len(demo["bridges_culverts"]) == 39
    assert len(demo["roads"]) >= 3000
    key = demo["roads"].loc[demo["roads"]["snow_priority"].notna(), "name"].nunique()
    assert 60 <= key <= 69
    names = set(demo["festival_sales_points"]["name"])
    assert {"增光北路实验小学北", "解放西路与桃园路交叉口", "跃进路金欧市场门前"} <= names
    assert {"410802", "410803", "410804", "410811"} == set(demo["districts"]["code"])
    assert set(demo["incidents"]["category"]) >= {"占道经营", "噪声扰民", "油烟污染", "燃气安全", "窨井盖",
                                                  "道路积雪结冰", "道路积水"}


def test_sites_lie_in_their_districts(demo):
    d = demo["districts"].set_index("name").geometry
    assert shapely.within(demo["stall_sites"].geometry.to_numpy(), d["山阳区"]).all()
    assert shapely.within(demo["festival_sales_points"].geometry.to_numpy(), d["中站区"]).all()
    sites = demo["stall_sites"].to_crs(4547).geometry.to_numpy()
    dist = shapely.distance(sites[:, None], sites[None, :])
    np.fill_diagonal(dist, np.inf)
    assert dist.min() >= 50


def test_festival_window_is_the_lunar_one(demo):
    f = demo["festival_sales_points"]
    assert (f["valid_from"] == LunarDate(2026, 12, 15).to_solar_date()).all()
    assert (f["valid_to"] == LunarDate(2027, 1, 16).to_solar_date()).all()
    assert (f["hours"] == "07:00-22:00").all()


def test_streets_named_in_reports_cross(demo):
    roads = demo["roads"]
    jf = shapely.union_all(roads.loc[roads["name"] == "解放西路"].geometry.to_numpy())
    ty = shapely.union_all(roads.loc[roads["name"] == "桃园路"].geometry.to_numpy())
    assert jf.intersects(ty)
    zz = demo["districts"].set_index("name").geometry["中站区"]
    for name in ("增光北路", "跃进路"):
        assert shapely.union_all(roads.loc[roads["name"] == name].geometry.to_numpy()).intersects(zz)


def test_road_network_is_connected(demo):
    g = nx.Graph()
    for line in demo["roads"].geometry:
        a, b = line.coords[0], line.coords[-1]
        g.add_edge((round(a[0], 7), round(a[1], 7)), (round(b[0], 7), round(b[1], 7)))
    assert nx.number_connected_components(g) == 1


def test_districts_do_not_overlap_and_beats_leave_gaps_and_overlaps(demo):
    d = demo["districts"].to_crs(4547).geometry.to_numpy()
    for i in range(4):
        for j in range(i + 1, 4):
            assert d[i].intersection(d[j]).area < 1.0
    beats = demo["patrol_beats"].to_crs(4547)
    polys = beats[beats.geom_type == "Polygon"].geometry.to_numpy()
    covered = shapely.union_all(polys)
    gaps = shapely.union_all(d).difference(covered)
    assert gaps.area > 50_000  # the cut-out block and the sliver, at least
    overlap = sum(polys[i].intersection(polys[j]).area for i in range(len(polys)) for j in range(i + 1, len(polys)))
    assert overlap > 1_000
