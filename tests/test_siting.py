"""Siting rules: one passing and one failing zone per rule, conflict geometry checked by hand; bad rule
files refused naming the rule; writes through the API refused or overridden with a reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml

from geo_service.crs import from_metric, to_metric
from geo_service.errors import BadDeclaration
from geo_service.settings import default_layers_dir
from geo_service.siting import SitingContext, check_all, check_site, load_rules
from tests.test_network import OX, OY

RULES = default_layers_dir() / "rules" / "siting.yaml"


def ll(geom):
    return from_metric(np.array([geom], dtype=object))[0]


def frame(rows, geoms):
    return gpd.GeoDataFrame(rows, geometry=[ll(g) for g in geoms], crs=4326, index=range(1, len(rows) + 1))


@pytest.fixture(scope="module")
def ctx(catalog):
    """A main road along y=0, a secondary road along y=200, an alley along x=500, context features."""
    roads = frame([{"name": "主路", "road_class": "main"}, {"name": "次路", "road_class": "secondary"},
                   {"name": "小巷", "road_class": "alley"}],
                  [shapely.LineString([(OX - 1000, OY), (OX + 1000, OY)]),
                   shapely.LineString([(OX - 1000, OY + 200), (OX + 1000, OY + 200)]),
                   shapely.LineString([(OX + 500, OY - 300), (OX + 500, OY + 600)])])
    pois = frame([{"name": "路口", "kind": "intersection"}, {"name": "公交站", "kind": "bus_stop"},
                  {"name": "巷口", "kind": "alley_mouth"}, {"name": "小学", "kind": "school"}],
                 [shapely.Point(OX + 500, OY), shapely.Point(OX - 300, OY + 210), shapely.Point(OX + 500, OY + 600),
                  shapely.Point(OX - 600, OY + 400)])
    areas = frame([{"name": "盲道", "kind": "blind_path"}], [shapely.box(OX + 505, OY + 300, OX + 506, OY + 400)])
    sites = frame([{"name": "已有摊区", "district": "山阳区", "capacity": 10}],
                  [shapely.box(OX + 505, OY + 100, OX + 515, OY + 130)])
    fest = gpd.GeoDataFrame({"name": []}, geometry=[], crs=4326)
    frames = {"roads": roads, "pois": pois, "restricted_areas": areas, "stall_sites": sites,
              "festival_sales_points": fest}
    return SitingContext.build(frames, load_rules(RULES, catalog=catalog))


OK_PROPS = {"name": "新摊区", "district": "山阳区", "capacity": 10, "goods": "果蔬", "hours": "06:00-20:00"}


def rules_hit(ctx, geom, props=OK_PROPS, layer="stall_sites"):
    rep = check_site(ctx, layer, ll(geom), props)
    return {v.rule_id: v for v in rep.violations}, rep


def test_a_good_zone_passes(ctx):
    hit, rep = rules_hit(ctx, shapely.box(OX + 505, OY + 400, OX + 515, OY + 450))
    assert hit == {} and rep.ok


def test_main_road_ban_conflict_geometry(ctx):
    zone = shapely.box(OX - 100, OY + 5, OX - 80, OY + 25)  # 20 × 20 m, 5–25 m from the main road
    hit, _ = rules_hit(ctx, zone)
    assert "main-road-ban" in hit
    area = to_metric(np.array([hit["main-road-ban"].geometry], dtype=object))[0].area
    assert area == pytest.approx(20 * 7, rel=0.02)  # the part within 12 m: 5–12 m


def test_secondary_road_conditions(ctx):
    zone = shapely.box(OX - 100, OY + 206, OX - 60, OY + 216)
    ok, _ = rules_hit(ctx, zone, {**OK_PROPS, "capacity": 6, "hours": "07:00-19:00"})
    assert "secondary-road-conditions" not in ok
    big, _ = rules_hit(ctx, zone, {**OK_PROPS, "capacity": 25})
    assert "secondary-road-conditions" in big
    late, _ = rules_hit(ctx, zone, {**OK_PROPS, "capacity": 6, "hours": "07:00-21:00"})
    assert "secondary-road-conditions" in late


def test_carriageway(ctx):
    hit, _ = rules_hit(ctx, shapely.box(OX - 100, OY + 198, OX - 80, OY + 210))
    assert "carriageway" in hit


@pytest.mark.parametrize(("rule", "zone"), [
    ("intersection-setback", shapely.box(OX + 505, OY + 15, OX + 515, OY + 30)),
    ("bus-stop-setback", shapely.box(OX - 290, OY + 215, OX - 280, OY + 225)),
    ("alley-mouth-setback", shapely.box(OX + 505, OY + 585, OX + 515, OY + 595)),
    ("school-setback", shapely.box(OX - 620, OY + 420, OX - 610, OY + 430)),
])
def test_point_setbacks(ctx, rule, zone):
    hit, _ = rules_hit(ctx, zone)
    assert rule in hit


def test_alley_mouth_ten_metres_by_hand(ctx):
    zone = shapely.box(OX + 505, OY + 585, OX + 515, OY + 595)  # nearest corner 5 m across, 5 m down
    hit, _ = rules_hit(ctx, zone)
    conflict = to_metric(np.array([hit["alley-mouth-setback"].geometry], dtype=object))[0]
    expect = shapely.intersection(zone, shapely.Point(OX + 500, OY + 600).buffer(10, quad_segs=64)).area
    assert conflict.area == pytest.approx(expect, rel=0.02)
    far, _ = rules_hit(ctx, shapely.box(OX + 505, OY + 560, OX + 515, OY + 585))
    assert "alley-mouth-setback" not in far


def test_restricted_areas_spacing_density(ctx):
    hit, _ = rules_hit(ctx, shapely.box(OX + 503, OY + 320, OX + 513, OY + 340))
    assert "restricted-areas" in hit
    assert to_metric(np.array([hit["restricted-areas"].geometry], dtype=object))[0].area == pytest.approx(20, rel=0.02)
    near, _ = rules_hit(ctx, shapely.box(OX + 505, OY + 150, OX + 515, OY + 170))
    assert "site-spacing" in near and "已有摊区" in near["site-spacing"].message_zh
    dense, _ = rules_hit(ctx, shapely.box(OX + 505, OY + 400, OX + 515, OY + 410), {**OK_PROPS, "capacity": 20})
    assert "stall-density" in dense


def test_hours_goods_and_lunar_window(ctx):
    zone = shapely.box(OX + 505, OY + 400, OX + 515, OY + 450)
    hit, _ = rules_hit(ctx, zone, {**OK_PROPS, "hours": "05:00-20:00", "goods": "果蔬、烟花"})
    assert {"opening-hours", "allowed-goods"} <= set(hit)
    assert "烟花" in hit["allowed-goods"].message_zh
    fest = {"name": "年货", "district": "中站区", "hours": "07:00-22:00", "valid_from": dt.date(2027, 1, 22),
            "valid_to": dt.date(2027, 2, 21)}
    ok, _ = rules_hit(ctx, shapely.Point(OX + 520, OY + 420), fest, layer="festival_sales_points")
    assert "festival-window" not in ok
    late, _ = rules_hit(ctx, shapely.Point(OX + 520, OY + 420), {**fest, "valid_to": dt.date(2027, 3, 1)},
                        layer="festival_sales_points")
    assert "festival-window" in late


def test_zone_far_from_roads_is_reported_unchecked(ctx):
    _, rep = rules_hit(ctx, shapely.box(OX + 5000, OY + 5000, OX + 5010, OY + 5020))
    assert not rep.ok and {u["rule"] for u in rep.unchecked} >= {"main-road-ban"}


@pytest.mark.parametrize(("edit", "needle"), [
    ({"road_classes": ["motorway"]}, "motorway"),
    ({"distance_m": -5}, "non-negative"),
    ({"kind": "teleport"}, "unknown kind"),
    ({"applies_to": ["kiosks"]}, "kiosks"),
])
def test_bad_rules_refused_naming_the_rule(tmp_path: Path, catalog, edit, needle):
    raw = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    raw["rules"][0].update(edit)
    path = tmp_path / "siting.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(BadDeclaration) as info:
        load_rules(path, catalog=catalog)
    assert "main-road-ban" in info.value.en and needle in info.value.en


def test_demo_sites_pass_every_rule(catalog):
    from geo_service.demo import build_demo

    frames = build_demo(today=dt.date(2026, 12, 5))
    rows = check_all(SitingContext.build(frames, load_rules(RULES, catalog=catalog)), frames)
    assert len(rows) == 40
    assert [r["name"] for r in rows if not r["ok"]] == []


SITE = {"type": "Feature", "properties": {"name": "新摊区", "district": "山阳区", "capacity": 10, "goods": "果蔬"}}


def test_api_refuses_violating_zone_and_allows_override(demo_client):
    roads = demo_client.get("/collections/roads/items", params={"road_class": "main", "limit": 1}).json()
    a, b = roads["features"][0]["geometry"]["coordinates"]
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    zone = {"type": "Polygon", "coordinates": [[[mx, my], [mx + 0.0002, my], [mx + 0.0002, my + 0.0001],
                                                [mx, my + 0.0001], [mx, my]]]}
    before = demo_client.get("/collections/stall_sites/items").json()["numberMatched"]
    r = demo_client.post("/collections/stall_sites/items", json={**SITE, "geometry": zone})
    assert r.status_code == 400
    body = r.json()
    rules = {v["rule"] for v in body["violations"]}
    assert "main-road-ban" in rules and all(v["geometry"] for v in body["violations"] if v["rule"] == "main-road-ban")
    assert demo_client.get("/collections/stall_sites/items").json()["numberMatched"] == before
    check = demo_client.post("/siting/check", json={"layer": "stall_sites", "feature": {**SITE, "geometry": zone}})
    assert check.status_code == 200 and not check.json()["ok"]
    no_reason = demo_client.post("/collections/stall_sites/items", params={"override": ",".join(rules)},
                                 json={**SITE, "geometry": zone})
    assert no_reason.status_code == 400 and no_reason.json()["field"] == "reason"
    done = demo_client.post("/collections/stall_sites/items", params={"override": ",".join(rules),
                                                                      "reason": "临时交通管制期间经批准"},
                            json={**SITE, "geometry": zone})
    assert done.status_code == 201
    fid = done.json()["id"]
    change = demo_client.get(f"/collections/stall_sites/items/{fid}/history").json()["changes"][0]
    assert change["reason"] == "临时交通管制期间经批准"
    report = demo_client.get("/siting/report").json()
    assert any(r["id"] == fid and not r["ok"] for r in report["sites"])
