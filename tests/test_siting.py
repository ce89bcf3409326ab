"""Siting rules: one passing and one failing zone per rule, conflict geometry checked by hand; bad rule
files refused naming the rule; writes through the API refused or overridden with a reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml

from geo_service.catalog import load_catalog
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


FAR = (OX - 9000, OY - 9000)  # one feature of every kind far away: no rule is unchecked for want of context
POI_KINDS = [
    "school",
    "bus_stop",
    "traffic_signal",
    "intersection",
    "roundabout",
    "compound_entrance",
    "alley_mouth",
    "hydrant",
]


def with_far_context(frames):
    fx, fy = FAR
    far_roads = frame(
        [{"name": "远", "road_class": c} for c in ("main", "secondary", "branch", "alley")],
        [shapely.LineString([(fx, fy + 10 * i), (fx + 100, fy + 10 * i)]) for i in range(4)],
    )
    far_pois = frame(
        [{"name": "远", "kind": k} for k in POI_KINDS],
        [shapely.Point(fx + 10 * i, fy - 50) for i in range(len(POI_KINDS))],
    )
    out = dict(frames)
    for name, extra in (("roads", far_roads), ("pois", far_pois)):
        extra.index = extra.index + 1000
        out[name] = pd.concat([frames[name], extra])
    return out


@pytest.fixture(scope="module")
def ctx(catalog):
    """A main road along y=0, a secondary road along y=200, an alley along x=500, context features."""
    roads = frame(
        [
            {"name": "主路", "road_class": "main"},
            {"name": "次路", "road_class": "secondary"},
            {"name": "小巷", "road_class": "alley"},
        ],
        [
            shapely.LineString([(OX - 1000, OY), (OX + 1000, OY)]),
            shapely.LineString([(OX - 1000, OY + 200), (OX + 1000, OY + 200)]),
            shapely.LineString([(OX + 500, OY - 300), (OX + 500, OY + 600)]),
        ],
    )
    pois = frame(
        [
            {"name": "路口", "kind": "intersection"},
            {"name": "公交站", "kind": "bus_stop"},
            {"name": "巷口", "kind": "alley_mouth"},
            {"name": "小学", "kind": "school"},
        ],
        [
            shapely.Point(OX + 500, OY),
            shapely.Point(OX - 300, OY + 210),
            shapely.Point(OX + 500, OY + 600),
            shapely.Point(OX - 600, OY + 400),
        ],
    )
    areas = frame(
        [{"name": "盲道", "kind": "blind_path"}], [shapely.box(OX + 505, OY + 300, OX + 506, OY + 400)]
    )
    sites = frame(
        [{"name": "已有摊区", "district": "山阳区", "capacity": 10}],
        [shapely.box(OX + 505, OY + 100, OX + 515, OY + 130)],
    )
    fest = gpd.GeoDataFrame({"name": []}, geometry=[], crs=4326)
    frames = {
        "roads": roads,
        "pois": pois,
        "restricted_areas": areas,
        "stall_sites": sites,
        "festival_sales_points": fest,
    }
    return SitingContext.build(with_far_context(frames), load_rules(RULES, catalog=catalog))


OK_PROPS = {"name": "新摊区", "district": "山阳区", "capacity": 10, "goods": "果蔬", "hours": "06:00-20:00"}


def rules_hit(ctx, geom, props=OK_PROPS, layer="stall_sites"):
    rep = check_site(ctx, layer, ll(geom), props)
    return {v.rule_id: v for v in rep.violations}, rep


def test_a_good_zone_passes(ctx):
    hit, rep = rules_hit(ctx, shapely.box(OX + 505, OY + 400, OX + 515, OY + 450))
    assert hit == {}
    assert rep.ok


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


@pytest.mark.parametrize(
    ("rule", "zone"),
    [
        ("intersection-setback", shapely.box(OX + 505, OY + 15, OX + 515, OY + 30)),
        ("bus-stop-setback", shapely.box(OX - 290, OY + 215, OX - 280, OY + 225)),
        ("alley-mouth-setback", shapely.box(OX + 505, OY + 585, OX + 515, OY + 595)),
        ("school-setback", shapely.box(OX - 620, OY + 420, OX - 610, OY + 430)),
    ],
)
def test_point_setbacks(ctx, rule, zone):
    hit, _ = rules_hit(ctx, zone)
    assert rule in hit
    if rule == "school-setback":  # which school (helper-55: a planner had to guess)
        assert hit[rule].message_zh.endswith("（小学）")
        assert hit[rule].message_en.endswith(" (小学)")


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
    assert to_metric(np.array([hit["restricted-areas"].geometry], dtype=object))[0].area == pytest.approx(
        20, rel=0.02
    )
    near, _ = rules_hit(ctx, shapely.box(OX + 505, OY + 150, OX + 515, OY + 170))
    assert "site-spacing" in near
    assert "已有摊区" in near["site-spacing"].message_zh
    dense, _ = rules_hit(
        ctx, shapely.box(OX + 505, OY + 400, OX + 515, OY + 410), {**OK_PROPS, "capacity": 20}
    )
    assert "stall-density" in dense


def test_hours_goods_and_lunar_window(ctx):
    zone = shapely.box(OX + 505, OY + 400, OX + 515, OY + 450)
    hit, _ = rules_hit(ctx, zone, {**OK_PROPS, "hours": "05:00-20:00", "goods": "果蔬、烟花"})
    assert {"opening-hours", "allowed-goods"} <= set(hit)
    assert "烟花" in hit["allowed-goods"].message_zh
    fest = {
        "name": "年货",
        "district": "中站区",
        "hours": "07:00-22:00",
        "valid_from": dt.date(2027, 1, 22),
        "valid_to": dt.date(2027, 2, 21),
    }
    ok, _ = rules_hit(ctx, shapely.Point(OX + 520, OY + 420), fest, layer="festival_sales_points")
    assert "festival-window" not in ok
    late, _ = rules_hit(
        ctx,
        shapely.Point(OX + 520, OY + 420),
        {**fest, "valid_to": dt.date(2027, 3, 1)},
        layer="festival_sales_points",
    )
    assert "festival-window" in late


def test_zone_far_from_roads_is_reported_unchecked(ctx):
    _, rep = rules_hit(ctx, shapely.box(OX + 5000, OY + 5000, OX + 5010, OY + 5020))
    assert not rep.ok
    assert {u["rule"] for u in rep.unchecked} >= {"main-road-ban"}


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ({"road_classes": ["motorway"]}, "motorway"),
        ({"distance_m": -5}, "non-negative"),
        ({"kind": "teleport"}, "unknown kind"),
        ({"applies_to": ["kiosks"]}, "kiosks"),
        ({"road_classes": ["main", "expressway"]}, "expressway"),
    ],
)
def test_bad_rules_refused_naming_the_rule(tmp_path: Path, catalog, edit, needle):
    raw = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    raw["rules"][0].update(edit)
    path = tmp_path / "siting.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(BadDeclaration) as info:
        load_rules(path, catalog=catalog)
    assert "main-road-ban" in info.value.en
    assert needle in info.value.en


def test_demo_sites_pass_every_rule(catalog):
    from geo_service.demo import build_demo

    frames = build_demo(today=dt.date(2026, 12, 5))
    rows = check_all(SitingContext.build(frames, load_rules(RULES, catalog=catalog)), frames)
    assert len(rows) == 40
    assert [r["name"] for r in rows if not r["ok"]] == []


SITE = {
    "type": "Feature",
    "properties": {"name": "新摊区", "district": "山阳区", "capacity": 10, "goods": "果蔬"},
}


def test_api_refuses_violating_zone_and_allows_override(demo_client):
    roads = demo_client.get("/collections/roads/items", params={"road_class": "main", "limit": 1}).json()
    a, b = roads["features"][0]["geometry"]["coordinates"]
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    zone = {
        "type": "Polygon",
        "coordinates": [
            [[mx, my], [mx + 0.0002, my], [mx + 0.0002, my + 0.0001], [mx, my + 0.0001], [mx, my]]
        ],
    }
    # filed under the district it lies in (a wrong district is refused before any siting rule)
    box = f"{mx + 0.0001},{my + 0.00005},{mx + 0.0001},{my + 0.00005}"
    where = demo_client.get("/collections/districts/items", params={"bbox": box}).json()["features"]
    site = {**SITE, "properties": {**SITE["properties"], "district": where[0]["properties"]["name"]}}
    before = demo_client.get("/collections/stall_sites/items").json()["numberMatched"]
    r = demo_client.post("/collections/stall_sites/items", json={**site, "geometry": zone})
    assert r.status_code == 400
    body = r.json()
    rules = {v["rule"] for v in body["violations"]}
    assert "main-road-ban" in rules
    assert all(v["geometry"] for v in body["violations"] if v["rule"] == "main-road-ban")
    assert demo_client.get("/collections/stall_sites/items").json()["numberMatched"] == before
    check = demo_client.post(
        "/siting/check", json={"layer": "stall_sites", "feature": {**site, "geometry": zone}}
    )
    assert check.status_code == 200
    assert not check.json()["ok"]
    no_reason = demo_client.post(
        "/collections/stall_sites/items",
        params={"override": ",".join(rules)},
        json={**site, "geometry": zone},
    )
    assert no_reason.status_code == 400
    assert no_reason.json()["field"] == "reason"
    typo = demo_client.post(
        "/collections/stall_sites/items",
        params={"override": ",".join([*rules, "nosuch"]), "reason": "测试"},
        json={**site, "geometry": zone},
    )
    assert typo.status_code == 400  # an unknown rule id is refused, not ignored
    assert typo.json()["field"] == "override"
    assert "nosuch" in typo.json()["detail_en"]
    done = demo_client.post(
        "/collections/stall_sites/items",
        params={"override": ",".join(rules), "reason": "临时交通管制期间经批准"},
        json={**site, "geometry": zone},
    )
    assert done.status_code == 201
    fid = done.json()["id"]
    change = demo_client.get(f"/collections/stall_sites/items/{fid}/history").json()["changes"][0]
    assert (
        change["reason"] == f"临时交通管制期间经批准（越过选址规则 / overrides: {', '.join(sorted(rules))}）"
    )
    report = demo_client.get("/siting/report").json()
    assert any(r["id"] == fid and not r["ok"] for r in report["sites"])


# --- every rule both ways, conflict geometry by hand -------------------------------------------------

SX, SY = OX - 800, OY + 400  # a traffic signal; hydrant 100 m east; roundabout 100 m north; parking south


@pytest.fixture(scope="module")
def ctx2(catalog):
    roads = frame(
        [{"name": "次路", "road_class": "secondary"}],
        [shapely.LineString([(SX - 500, SY - 150), (SX + 500, SY - 150)])],
    )
    pois = frame(
        [
            {"name": "信号灯", "kind": "traffic_signal"},
            {"name": "消防栓", "kind": "hydrant"},
            {"name": "环岛", "kind": "roundabout"},
            {"name": "小区门", "kind": "compound_entrance"},
        ],
        [
            shapely.Point(SX, SY),
            shapely.Point(SX + 100, SY),
            shapely.Point(SX, SY + 100),
            shapely.Point(SX + 300, SY),
        ],
    )
    areas = frame(
        [{"name": "停车位", "kind": "parking"}], [shapely.box(SX + 200, SY - 100, SX + 220, SY - 80)]
    )
    sites = frame([{"name": "甲"}], [shapely.box(SX - 300, SY - 100, SX - 280, SY - 80)])
    fest = gpd.GeoDataFrame({"name": []}, geometry=[], crs=4326)
    frames = {
        "roads": roads,
        "pois": pois,
        "restricted_areas": areas,
        "stall_sites": sites,
        "festival_sales_points": fest,
    }
    return SitingContext.build(with_far_context(frames), load_rules(RULES, catalog=catalog))


def metric(geom):
    return to_metric(np.array([geom], dtype=object))[0]


def test_signal_setback_whole_zone_inside_and_outside(ctx2):
    inside = shapely.box(SX + 5, SY - 5, SX + 15, SY + 5)  # farthest corner 15.8 m < 30 m
    hit, _ = rules_hit(ctx2, inside)
    assert set(hit) == {"signal-setback"}
    assert metric(hit["signal-setback"].geometry).area == pytest.approx(100, rel=1e-3)
    assert hit["signal-setback"].source
    assert "30" in hit["signal-setback"].message_zh
    outside, rep = rules_hit(ctx2, shapely.box(SX + 31, SY - 5, SX + 41, SY + 5))
    assert outside == {}
    assert rep.ok


def test_hydrant_setback_circle_segment(ctx2):
    hx = SX + 100
    hit, _ = rules_hit(ctx2, shapely.box(hx + 6, SY - 2, hx + 16, SY + 2))
    # area of the disk r=8 right of x=6 within |y|<=2: 2 * (F(2) - F(0) - 6*2), F(y) = y/2 sqrt(64-y²) + 32 asin(y/8)
    by_hand = 2 * (1 * np.sqrt(60) + 32 * np.arcsin(0.25) - 12)
    assert metric(hit["entrance-setback"].geometry).area == pytest.approx(by_hand, rel=0.01)
    far, _ = rules_hit(ctx2, shapely.box(hx + 8.5, SY - 2, hx + 16, SY + 2))
    assert "entrance-setback" not in far


def test_grazing_the_setback_is_still_a_violation_drawn_as_a_point(ctx2):
    theta = np.pi / 64  # halfway between two vertices of the buffer polygon: the chord is at 29.96 m
    cx, cy = SX + 29.98 * np.cos(theta), SY + 29.98 * np.sin(theta)
    hit, _ = rules_hit(ctx2, shapely.box(cx, cy, cx + 5, cy + 5))
    g = metric(hit["signal-setback"].geometry)
    assert g.geom_type == "Point"
    assert g.distance(shapely.Point(cx, cy)) < 1e-3
    miss, _ = rules_hit(ctx2, shapely.box(cx + 0.05, cy + 0.05, cx + 5, cy + 5))
    assert "signal-setback" not in miss


def test_roundabout_and_compound_entrance(ctx2):
    hit, _ = rules_hit(ctx2, shapely.box(SX - 5, SY + 110, SX + 5, SY + 120))
    assert "intersection-setback" in hit
    assert metric(hit["intersection-setback"].geometry).area == pytest.approx(100, 1e-3)
    assert "intersection-setback" not in rules_hit(ctx2, shapely.box(SX - 5, SY + 126, SX + 5, SY + 136))[0]
    gate, _ = rules_hit(ctx2, shapely.box(SX + 302, SY - 2, SX + 306, SY + 2), {**OK_PROPS, "capacity": 1})
    assert set(gate) == {"entrance-setback"}


def test_touching_a_parking_area_is_not_overlapping_it(ctx2):
    beside, _ = rules_hit(ctx2, shapely.box(SX + 220, SY - 100, SX + 230, SY - 80))
    assert "restricted-areas" not in beside
    onto, _ = rules_hit(ctx2, shapely.box(SX + 215, SY - 100, SX + 225, SY - 80))
    assert metric(onto["restricted-areas"].geometry).area == pytest.approx(100, rel=1e-3)
    assert "停车位" in onto["restricted-areas"].message_zh
    assert "parking" in onto["restricted-areas"].message_en


def test_spacing_excludes_the_site_itself(ctx2):
    same = shapely.box(SX - 300, SY - 100, SX - 280, SY - 80)
    assert "site-spacing" in rules_hit(ctx2, same)[0]
    rep = check_site(ctx2, "stall_sites", ll(same), OK_PROPS, exclude_id=1)
    assert "site-spacing" not in {v.rule_id for v in rep.violations}
    # 50 m spacing: a zone 40 m east has a 10 m strip in conflict (10 × 20 m)
    hit, _ = rules_hit(ctx2, shapely.box(SX - 240, SY - 100, SX - 220, SY - 80))
    assert metric(hit["site-spacing"].geometry).area == pytest.approx(200, rel=1e-3)


def test_density_both_ways(ctx2):
    zone = shapely.box(SX - 100, SY - 100, SX - 70, SY - 80)  # 600 m²: 99 stalls pass, 101 do not (6 m² each)
    assert "stall-density" not in rules_hit(ctx2, zone, {**OK_PROPS, "capacity": 99})[0]
    hit, _ = rules_hit(ctx2, zone, {**OK_PROPS, "capacity": 101})
    assert "101" in hit["stall-density"].message_zh
    assert "600" in hit["stall-density"].message_en


FEST = {"name": "年货", "district": "中站区", "hours": "07:00-22:00"}


@pytest.mark.parametrize(
    ("props", "expect"),
    [
        ({"lunar_from": "12-15", "lunar_to": "01-16"}, "pass"),
        ({"lunar_from": "12-20", "lunar_to": "01-10"}, "pass"),
        ({"lunar_from": "12-10", "lunar_to": "01-16"}, "fail"),
        ({"lunar_from": "12-15", "lunar_to": "01-20"}, "fail"),
        (
            {"valid_from": dt.date(2027, 1, 22), "valid_to": dt.date(2027, 2, 21)},
            "pass",
        ),  # 腊月十五 – 正月十六 2027
        ({"valid_from": dt.date(2027, 1, 21), "valid_to": dt.date(2027, 2, 21)}, "fail"),
        # the right lunar days, but dates that hold none of them: never open (helper-55)
        (
            {
                "lunar_from": "12-15",
                "lunar_to": "01-16",
                "valid_from": dt.date(2027, 6, 1),
                "valid_to": dt.date(2027, 6, 30),
            },
            "fail",
        ),
        (  # a past point with only an end date: its window is over, not wrong (helper-59)
            {"lunar_from": "12-15", "lunar_to": "01-16", "valid_to": dt.date(2026, 2, 28)},
            "pass",
        ),
        (  # and dates that hold part of the window: open then
            {
                "lunar_from": "12-15",
                "lunar_to": "01-16",
                "valid_from": dt.date(2027, 2, 1),
                "valid_to": dt.date(2027, 6, 30),
            },
            "pass",
        ),
        ({}, "unchecked"),
    ],
)
def test_festival_window_lunar_fields_or_dates(ctx2, props, expect):
    rep = check_site(
        ctx2,
        "festival_sales_points",
        ll(shapely.Point(SX - 100, SY - 60)),
        {**FEST, **props},
        today=dt.date(2026, 12, 5),
    )
    fails = {v.rule_id for v in rep.violations}
    skipped = {u["rule"] for u in rep.unchecked}
    status = "fail" if "festival-window" in fails else "unchecked" if "festival-window" in skipped else "pass"
    assert status == expect
    if status == "fail" and props.get("lunar_from") and props.get("valid_from"):  # says why, not the rule
        [v] = [v for v in rep.violations if v.rule_id == "festival-window"]
        assert v.message_en.endswith("it would never open")


def test_report_table_and_features(ctx2):
    from geo_service.siting import report_features, report_summary, report_table

    sites = gpd.GeoDataFrame(
        [
            {"name": "好", **{k: v for k, v in OK_PROPS.items() if k != "name"}},
            {**OK_PROPS, "name": "坏", "goods": "烟花"},
        ],
        geometry=[
            ll(shapely.box(SX - 100, SY - 100, SX - 90, SY - 80)),
            ll(shapely.box(SX + 5, SY - 5, SX + 15, SY + 5)),
        ],
        crs=4326,
        index=[7, 8],
    )
    rows = check_all(ctx2, {"stall_sites": sites})
    table = report_table(rows)
    assert len(table) == 2 * len(ctx2.rules.for_layer("stall_sites"))
    fails = table[table.status == "fail"]
    assert set(zip(fails.id, fails.rule, strict=True)) == {(8, "signal-setback"), (8, "allowed-goods")}
    summary = report_summary(rows)
    assert summary["checked"] == 2
    assert summary["failing"] == 1
    assert summary["by_rule"] == {"signal-setback": 1, "allowed-goods": 1}
    feats = summary["features"]["features"]
    assert {f["properties"]["rule"] for f in feats if f["geometry"]} == {"signal-setback"}
    rep = check_site(ctx2, "stall_sites", sites.geometry[8], dict(sites.drop(columns="geometry").loc[8]))
    fc = report_features(rep, site={"id": 8})
    assert len(fc["features"]) == 2
    assert all(f["properties"]["id"] == 8 for f in fc["features"])


def test_bad_spacing_layer_and_missing_message_refused(tmp_path: Path, catalog):
    raw = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    spacing = next(r for r in raw["rules"] if r["kind"] == "spacing")
    spacing["layers"] = ["kiosks"]
    path = tmp_path / "siting.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(BadDeclaration) as info:
        load_rules(path, catalog=catalog)
    assert spacing["id"] in info.value.en
    assert "kiosks" in info.value.en
    assert spacing["id"] in info.value.zh


def test_check_endpoint_takes_gcj02_and_returns_features(demo_client):
    from geo_service.crs import wgs84_to_gcj02

    roads = demo_client.get("/collections/roads/items", params={"road_class": "main", "limit": 1}).json()
    a, b = roads["features"][0]["geometry"]["coordinates"][:2]
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    ring = [[mx, my], [mx + 0.0002, my], [mx + 0.0002, my + 0.0001], [mx, my + 0.0001], [mx, my]]
    lon, lat = wgs84_to_gcj02(np.array([p[0] for p in ring]), np.array([p[1] for p in ring]))
    shifted = {
        "type": "Polygon",
        "coordinates": [[[float(x), float(y)] for x, y in zip(lon, lat, strict=True)]],
    }
    body = demo_client.post(
        "/siting/check",
        json={"layer": "stall_sites", "crs": "gcj02", "feature": {**SITE, "geometry": shifted}},
    ).json()
    assert not body["ok"]
    assert body["features"]["type"] == "FeatureCollection"
    main = [f for f in body["features"]["features"] if f["properties"]["rule"] == "main-road-ban"]
    assert main
    assert shapely.geometry.shape(main[0]["geometry"]).intersects(
        shapely.box(mx - 1e-6, my - 1e-6, mx + 0.0002 + 1e-6, my + 0.0001 + 1e-6)
    )
    assert (
        demo_client.post(
            "/siting/check", json={"layer": "roads", "feature": {**SITE, "geometry": shifted}}
        ).status_code
        == 400
    )
    report = demo_client.get("/siting/report", params={"layer": "festival_sales_points"}).json()
    assert report["checked"] == 10
    assert {r["layer"] for r in report["sites"]} == {"festival_sales_points"}


def test_cli_siting_check(demo_gpkg, tmp_path, capsys):
    import shutil

    from geo_service.cli import main

    path = tmp_path / "w.gpkg"
    shutil.copy(demo_gpkg, path)
    table = tmp_path / "report.csv"
    assert (
        main(["siting-check", "--workspace", str(path), "--layer", "stall_sites", "--csv", str(table)]) == 0
    )
    out = capsys.readouterr().out
    assert out.count("✓") == 30
    assert "✗" not in out
    rows = pd.read_csv(table, encoding="utf-8-sig")
    per_site = len(load_rules(RULES, catalog=load_catalog(default_layers_dir())).for_layer("stall_sites"))
    assert len(rows) == 30 * (per_site + 1)  # and the district each site is filed under
    assert set(rows.status) == {"pass"}


def test_a_site_write_reindexes_only_the_sites(demo_ws):
    from geo_service.siting import check_on_write, siting_context
    from geo_service.store.base import NewFeature

    before = siting_context(demo_ws)
    site = demo_ws.frame("stall_sites").iloc[0]
    props = {"name": "新", "district": "山阳区", "capacity": 5, "goods": "果蔬", "hours": "07:00-19:00"}
    clear = check_on_write(demo_ws, "stall_sites", site.geometry, props, exclude_id=None)
    assert "site-spacing" in {v.rule_id for v in clear.violations}  # it sits on an existing site
    demo_ws.store.create_features("stall_sites", [NewFeature(props, site.geometry)], actor="test")
    after = siting_context(demo_ws)
    assert after.roads is before.roads
    assert after.pois is before.pois
    assert len(after.sites["stall_sites"].geoms) == len(before.sites["stall_sites"].geoms) + 1
    again = check_on_write(demo_ws, "stall_sites", site.geometry, props, exclude_id=None)
    assert (
        sum(v.rule_id == "site-spacing" for v in again.violations)
        == sum(v.rule_id == "site-spacing" for v in clear.violations) + 1
    )


def test_rules_without_context_features_are_unchecked(ctx2, catalog):
    frames = {
        "roads": frame(
            [{"name": "路", "road_class": "branch"}],
            [shapely.LineString([(SX - 500, SY - 150), (SX + 500, SY - 150)])],
        ),
        "pois": gpd.GeoDataFrame({"name": [], "kind": []}, geometry=[], crs=4326),
        "restricted_areas": gpd.GeoDataFrame({"name": [], "kind": []}, geometry=[], crs=4326),
    }
    bare = SitingContext.build(frames, load_rules(RULES, catalog=catalog))
    rep = check_site(bare, "stall_sites", ll(shapely.box(SX + 5, SY - 5, SX + 15, SY + 5)), OK_PROPS)
    skipped = {u["rule"] for u in rep.unchecked}
    assert {"main-road-ban", "secondary-road-conditions", "signal-setback", "restricted-areas"} <= skipped
    assert "carriageway" not in skipped
    assert not rep.ok
    assert next(u for u in rep.unchecked if u["rule"] == "signal-setback")["reason_en"].startswith("No pois")


@pytest.mark.parametrize(
    ("kind", "edit", "needle"),
    [
        ("density", {"applies_to": ["pois"]}, "pois.capacity"),
        ("goods", {"field": "wares"}, "stall_sites.wares"),
        ("hours", {"applies_to": ["stall_sites", "depots"]}, "depots.hours"),
        ("spacing", {"layers": ["stall_sites", "schools"]}, "schools"),
        ("spacing", {"layers": ["stall_sites", "roads"]}, "'roads' is not one"),
        ("no_overlap", {"area_kinds": ["lawn"]}, "lawn"),
        ("poi_setback", {"poi_kinds": ["kiosk"]}, "kiosk"),
        ("density", {"min_m2_per_stall": -1}, "non-negative"),
    ],
)
def test_bad_rule_fields_refused(tmp_path: Path, catalog, kind, edit, needle):
    raw = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rule = next(r for r in raw["rules"] if r["kind"] == kind)
    rule.update(edit)
    path = tmp_path / "siting.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(BadDeclaration) as info:
        load_rules(path, catalog=catalog)
    assert rule["id"] in info.value.en
    assert needle in info.value.en


def test_shipped_rules_load_and_say_what_they_read(catalog):
    rules = load_rules(RULES, catalog=catalog)
    assert set(rules.layers_read) == {
        "roads",
        "pois",
        "restricted_areas",
        "districts",
        "stall_sites",
        "festival_sales_points",
    }
    kinds = {r.kind for r in rules.rules}
    assert kinds == {
        "road_setback",
        "road_conditions",
        "poi_setback",
        "no_overlap",
        "spacing",
        "density",
        "hours",
        "lunar_window",
        "goods",
    }
    assert all(r.source and r.message["zh"] and r.message["en"] for r in rules.rules)
    alley = next(r for r in rules.rules if r.id == "alley-mouth-setback")
    assert alley.params["distance_m"] == 10


def test_import_replace_takes_the_layers_own_export_and_rows_are_checked_against_each_other(own_demo_client):
    """A layer's own export imported back with mode=replace passes (its rows are not measured against
    the copies they replace); two rows of one file closer than the spacing rule are refused, and the
    layer is unchanged."""
    import json

    c = own_demo_client
    exported = c.get("/collections/stall_sites/export", params={"f": "geojson"})
    assert exported.status_code == 200
    before = c.get("/collections/stall_sites/items", params={"limit": 1}).json()["numberMatched"]
    files = {"file": ("stall_sites.geojson", exported.content, "application/geo+json")}
    r = c.post("/collections/stall_sites/import", files=files, data={"mode": "replace"})
    assert r.status_code in (200, 201), r.text[:400]
    assert r.json()["imported"] == before
    body = json.loads(exported.content)
    twice = {**body, "features": [body["features"][0], {**body["features"][0], "id": None}]}
    files = {"file": ("two.geojson", json.dumps(twice).encode(), "application/geo+json")}
    r = c.post("/collections/stall_sites/import", files=files, data={"mode": "replace"})
    assert r.status_code == 400, r.text[:400]
    assert r.json()["feature"] == "feature 2"  # a GeoJSON's features by their place in the file
    assert [v["rule"] for v in r.json()["violations"]] == ["site-spacing"]
    assert c.get("/collections/stall_sites/items", params={"limit": 1}).json()["numberMatched"] == before
