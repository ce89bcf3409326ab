"""Planning answers a user-tester found wrong (ut44): features that are no objects, stall sites out of
their dates, candidates the siting rules forbid or in another district or off every street, vendors'
refusal reasons, goods matched as parts of names, ids not echoed."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo_service.assignment.planning import candidate_points, place_vendors
from geo_service.crs import from_metric, to_metric
from geo_service.errors import InvalidInput


def _fc(points, props=None, ids=None):
    props = props or [{} for _ in points]
    feats = []
    for k, (pt, pr) in enumerate(zip(points, props, strict=True)):
        f = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(pt)}, "properties": pr}
        if ids is not None:
            f["id"] = ids[k]
        feats.append(f)
    return {"type": "FeatureCollection", "features": feats}


def _site_corner(site):
    x, y = site["geometry"]["coordinates"][0][0]
    return (x, y)


def _sites(c):
    return c.get("/collections/stall_sites/items", params={"limit": 200}).json()["features"]


def _main_road_point(ws):
    roads = ws.frame("roads")
    main = roads[roads["road_class"] == "main"].geometry.iloc[5]
    p = main.interpolate(0.5, normalized=True)
    return (p.x, p.y)


def _off_street_point(ws):
    """A place inside the districts about 400-500 m from any road (no street within 300 m)."""
    crs = ws.settings.metric_crs
    roads = shapely.union_all(to_metric(ws.frame("roads").geometry.to_numpy(), crs))
    area = shapely.union_all(to_metric(ws.frame("districts").geometry.to_numpy(), crs))
    minx, miny, maxx, maxy = area.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx, 100), np.arange(miny, maxy, 100))
    pts = shapely.points(xs.ravel(), ys.ravel())
    pts = pts[shapely.within(pts, area)]
    d = shapely.distance(pts, roads)
    far = pts[(d > 350) & (d < 600)]
    assert len(far), "the demo has no place 350-600 m from every road"
    p = from_metric(far[:1], crs)[0]
    return (p.x, p.y)


def test_features_that_are_not_objects_are_refused_by_name(demo_client):
    r = demo_client.post(
        "/planning/vendors", json={"vendors": {"type": "FeatureCollection", "features": [1, 2]}}
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert (r.json()["field"], r.json()["feature"]) == ("vendors", "vendors[0]")
    assert "vendors[0]" in r.json()["detail_zh"]
    assert "vendors[0]" in r.json()["detail_en"]
    r = demo_client.post(
        "/planning/sites",
        json={"method": "mclp", "p": 1, "candidates": {"type": "FeatureCollection", "features": ["x"]}},
    )
    assert r.status_code == 400, r.text
    assert (r.json()["field"], r.json()["feature"]) == ("candidates", "candidates[0]")
    bad_props = _fc([(113.24, 35.22)])
    bad_props["features"][0]["properties"] = [1]
    r = demo_client.post("/planning/vendors", json={"vendors": bad_props})
    assert r.status_code == 400, r.text
    assert r.json()["feature"] == "vendors[0]"


def test_sites_out_of_their_dates_take_no_vendors_and_are_not_kept(own_demo_client):
    """A stall site with status open whose valid_to is past serves nobody today: no vendor is sent there,
    choosing new sites does not keep it, and both answers name it."""
    c = own_demo_client
    site = _sites(c)[0]
    here = _site_corner(site)
    vendor = _fc([here], [{"name": "老王"}])
    before = c.post("/planning/vendors", json={"vendors": vendor}).json()
    assert before["assignments"][0]["site"] == site["id"]
    assert before["sites_out_of_season"] == []
    kept_before = c.post("/planning/sites", json={"method": "mclp", "p": 1}).json()
    assert site["id"] in {f["properties"]["id"] for f in kept_before["sites"]["features"]}
    r = c.patch(
        f"/collections/stall_sites/items/{site['id']}",
        json={"properties": {"valid_from": "2020-01-01", "valid_to": "2020-12-31"}},
        headers={"If-Match": f'"{site["version"]}"'},
    )
    assert r.status_code == 200, r.text
    after = c.post("/planning/vendors", json={"vendors": vendor}).json()
    assert after["assignments"][0]["site"] != site["id"]
    assert [s["id"] for s in after["sites_out_of_season"]] == [site["id"]]
    assert after["sites_out_of_season"][0]["season"] == ["2020-01-01", "2020-12-31"]
    assert any("sites_out_of_season" in n for n in after["notes"])
    kept_after = c.post("/planning/sites", json={"method": "mclp", "p": 1}).json()
    assert len(kept_after["fixed"]) == len(kept_before["fixed"]) - 1
    assert site["id"] not in {f["properties"]["id"] for f in kept_after["sites"]["features"]}
    assert [s["id"] for s in kept_after["sites_out_of_season"]] == [site["id"]]
    # planned for a day within its dates, it takes vendors and is kept again (helper-55: placement
    # could be planned only for today, so festival-season placement could not be planned in December)
    back_then = c.post("/planning/vendors", json={"vendors": vendor, "on": "2020年6月1日"}).json()
    assert back_then["assignments"][0]["site"] == site["id"]
    assert site["id"] not in [s["id"] for s in back_then["sites_out_of_season"]]
    kept_then = c.post("/planning/sites", json={"method": "mclp", "p": 1, "on": "2020-06-01"}).json()
    assert site["id"] in {f["properties"]["id"] for f in kept_then["sites"]["features"]}
    named = c.post("/planning/vendors", json={"vendors": vendor, "on": "2030-01-01"}).json()
    assert any("on 2030-01-01" in n for n in named["notes"])
    for no_day in ("下个月", 0):  # 0 is no day either (helper-59: read as 1970-01-01)
        bad = c.post("/planning/vendors", json={"vendors": vendor, "on": no_day})
        assert bad.status_code == 400, bad.text
        assert bad.json()["field"] == "on"


def _good_candidate(c):
    """A place the siting rules allow: a new site of the default answer (the rules judged it)."""
    body = c.post("/planning/sites", json={"method": "mclp", "p": 1, "keep_existing": False}).json()
    new = [f for f in body["sites"]["features"] if not f["properties"]["fixed"]]
    return tuple(new[0]["geometry"]["coordinates"])


def test_candidates_breaking_siting_rules_are_left_out_with_the_rule(demo_client):
    ws = demo_client.app.state.workspace
    main, good = _main_road_point(ws), _good_candidate(demo_client)
    r = demo_client.post(
        "/planning/sites",
        json={
            "method": "mclp",
            "p": 1,
            "keep_existing": False,
            # helper-48: an id given as a property was not echoed in left_out
            "candidates": _fc([main, good], [{"name": "主干道", "id": "P-main"}, {"name": "背街"}]),
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["chosen"] == [1]
    (out,) = body["left_out"]
    assert (out["candidate"], out["name"], out["id"]) == (0, "主干道", "P-main")
    rule = next(x for x in out["rules"] if x["rule"] == "main-road-ban")
    assert rule["reason_zh"]
    assert rule["reason_en"].startswith("Within 12 m of a main road")
    assert any("left_out" in n for n in body["notices"])
    # nothing left: refused, saying why
    r = demo_client.post(
        "/planning/sites",
        json={"method": "mclp", "p": 1, "keep_existing": False, "candidates": _fc([main])},
    )
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "candidates"
    assert r.json()["left_out"][0]["rules"][0]["rule"] == "main-road-ban"
    # one candidate is spoken of as one (it said "None of the 1 candidates")
    assert r.json()["detail_en"].startswith("The candidate may not hold a site: it breaks a siting rule")
    assert r.json()["detail_zh"].startswith("候选点违反选址规则")
    r = demo_client.post(
        "/planning/sites",
        json={"method": "mclp", "p": 1, "keep_existing": False, "candidates": _fc([main, main])},
    )
    assert r.json()["detail_en"].startswith("None of the 2 candidates may hold a site: each breaks")


def test_district_leaves_out_candidates_in_other_districts(demo_client):
    ws = demo_client.app.state.workspace
    good = _good_candidate(demo_client)
    districts = ws.frame("districts")
    home = districts[districts.contains(shapely.Point(good))]["name"].iloc[0]
    other = next(n for n in districts["name"] if n != home)
    r = demo_client.post(
        "/planning/sites",
        json={"method": "mclp", "p": 1, "keep_existing": False, "district": other, "candidates": _fc([good])},
    )
    assert r.status_code == 400, r.text
    (out,) = r.json()["left_out"]
    assert [x["rule"] for x in out["rules"]] == ["district"]
    assert other in r.json()["detail_zh"]
    r = demo_client.post(
        "/planning/sites",
        json={"method": "mclp", "p": 1, "keep_existing": False, "district": home, "candidates": _fc([good])},
    )
    assert r.status_code == 200, r.text
    assert r.json()["chosen"] == [0]
    assert r.json()["left_out"] == []
    assert r.json()["served_population"] > 0


def test_candidates_off_every_street_are_listed_not_chosen(demo_client):
    ws = demo_client.app.state.workspace
    far, good = _off_street_point(ws), _good_candidate(demo_client)
    for method in ("mclp", "pmedian"):
        r = demo_client.post(
            "/planning/sites",
            json={
                "method": method,
                "p": 1,
                "keep_existing": False,
                "candidates": _fc([far, good], ids=["F", "G"]),
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert [(u["candidate"], u["id"]) for u in body["unreachable_candidates"]] == [(0, "F")]
        assert body["chosen"] == [1]
        assert body["sites"]["features"][0]["properties"]["id"] == "G"  # the input's id, echoed
        assert any("unreachable_candidates" in n for n in body["notices"])
        r = demo_client.post(
            "/planning/sites",
            json={"method": method, "p": 1, "keep_existing": False, "candidates": _fc([far])},
        )
        assert r.status_code == 400, r.text
        assert r.json()["detail_en"].startswith("The candidate cannot serve anyone: no people ")
        assert "(it has no walkable street within" in r.json()["detail_en"]
        assert r.json()["detail_zh"].startswith("候选点无法服务到任何人")
        assert r.json()["unreachable_candidates"][0]["candidate"] == 0


def test_lscp_says_it_does_not_use_p(demo_client):
    good = _good_candidate(demo_client)
    body = demo_client.post(
        "/planning/sites", json={"method": "lscp", "p": 1, "keep_existing": False, "candidates": _fc([good])}
    ).json()
    assert any("p does not apply" in n for n in body["notices"])


def test_vendor_refusal_reasons_say_what_stood_in_the_way(own_demo_client):
    c = own_demo_client
    ws = c.app.state.workspace
    sites = [s for s in _sites(c) if s["properties"]["status"] == "open"]
    site = min(sites, key=lambda s: s["properties"]["capacity"])
    cap = site["properties"]["capacity"]
    here = _site_corner(site)
    # outside the city: refused, naming the vendor
    r = c.post(
        "/planning/vendors", json={"vendors": _fc([here, (116.4, 39.9)], [{"name": "甲"}, {"name": "北京"}])}
    )
    assert r.status_code == 400, r.text
    assert r.json()["feature"] == "vendors[1]"
    assert "北京" in r.json()["detail_zh"]
    assert r.json()["detail_en"].startswith(
        "vendors[1]「北京」 lies outside"
    )  # not "Vendors vendors[1]… lie"
    far = _off_street_point(ws)
    crowd = [here] * (cap + 1)
    body = c.post(
        "/planning/vendors",
        json={
            "vendors": _fc([far, *crowd], [{"name": "远"}] + [{"name": f"v{k}"} for k in range(cap + 1)]),
            "max_walk_m": 30,
        },
    ).json()
    codes = [a["reason_code"] for a in body["assignments"]]
    assert codes[0] == "no_street"
    assert "no walkable street" in body["assignments"][0]["reason"]
    full = [a for a in body["assignments"][1:] if a["site"] is None]
    assert len(full) == 1
    assert full[0]["reason_code"] == "sites_full"
    assert full[0]["full_sites"] == [site["id"]]
    assert site["properties"]["name"] in full[0]["reason"]
    # a street within reach but no site within 30 m of walk
    mid = _good_candidate(c)
    body = c.post("/planning/vendors", json={"vendors": _fc([mid]), "max_walk_m": 30}).json()
    assert body["assignments"][0]["reason_code"] == "no_site_within_reach"


def test_missing_goods_mean_any_goods_in_a_mixed_batch(own_demo_client):
    c = own_demo_client
    site = next(s for s in _sites(c) if s["properties"]["goods"] == "果蔬")
    here = _site_corner(site)
    body = c.post(
        "/planning/vendors", json={"vendors": _fc([here, here], [{"goods": "水果"}, {"name": "没写品类"}])}
    ).json()
    assert [a["site"] is not None for a in body["assignments"]] == [True, True], body


def test_goods_match_whole_names_or_groups_not_parts(own_demo_client):
    c = own_demo_client
    sites = [s for s in _sites(c) if s["properties"]["status"] == "open"]
    site = next(s for s in sites if s["properties"]["goods"] == "果蔬")
    here = _site_corner(site)
    # helper-48: a vendor of vegetables and clothes went to a produce site: every good named must be sold
    goods = ["水果刀", "蔬菜种子", "果", "菜", "水果", ["蔬菜"], "鲜蛋/水果", "蔬菜、服装", "果蔬"]
    body = c.post(
        "/planning/vendors",
        json={"vendors": _fc([here] * len(goods), [{"goods": g} for g in goods]), "max_walk_m": 10_000},
    ).json()
    placed = [a["site"] is not None for a in body["assignments"]]
    assert placed == [False, False, False, False, True, True, True, False, True], body["assignments"]
    for g in ({"a": 1}, True, 5):
        r = c.post("/planning/vendors", json={"vendors": _fc([here, here], [{}, {"name": "怪", "goods": g}])})
        assert r.status_code == 400, r.text
        assert r.json()["feature"] == "vendors[1]"
        assert "怪" in r.json()["detail_zh"]


def test_vendor_ids_are_echoed(demo_client):
    site = _sites(demo_client)[0]
    body = demo_client.post(
        "/planning/vendors",
        json={"vendors": _fc([_site_corner(site)] * 2, [{}, {"id": 7}], ids=["V1", None])},
    ).json()
    assert [a["id"] for a in body["assignments"]] == ["V1", 7]


def test_no_open_sites_is_said_so():
    vendors = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(113.2, 35.2)], crs=4326)
    none = gpd.GeoDataFrame({"name": [], "capacity": []}, geometry=[], crs=4326)
    with pytest.raises(InvalidInput, match="no open stall sites"):
        place_vendors(None, vendors, none)  # type: ignore[arg-type]


def test_generated_candidates_are_named_by_their_number_and_stand_off_the_street():
    roads = gpd.GeoDataFrame(
        {"road_class": ["alley", "branch"]},
        geometry=[
            shapely.LineString([(113.2, 35.2), (113.21, 35.2)]),
            shapely.LineString([(113.2, 35.21), (113.2, 35.22)]),
        ],
        crs=4326,
    )
    districts = gpd.GeoDataFrame(
        {"name": ["甲区"]}, geometry=[shapely.box(113.1, 35.1, 113.3, 35.3)], crs=4326
    )
    got = candidate_points(roads, districts, kerb_m=6)
    assert list(got["name"]) == ["候选点0", "候选点1"]
    lines = to_metric(roads.geometry.to_numpy(), "EPSG:4547")
    pts = to_metric(got.geometry.to_numpy(), "EPSG:4547")
    assert shapely.distance(pts, lines) == pytest.approx([6, 6], abs=0.01)


def test_two_new_sites_closer_than_the_spacing_rule_are_said_so(demo_client):
    """helper-45/47: each candidate is judged against the stored sites only, so two chosen new sites could
    stand closer together than site-spacing (50 m) allows; the answer now names such pairs."""
    x, y = _good_candidate(demo_client)
    twin = (x + 0.0002, y)  # about 18 m east
    far = (x, y + 0.01)  # about 1.1 km north
    body = demo_client.post(
        "/planning/sites",
        json={"method": "mclp", "p": 2, "keep_existing": False, "candidates": _fc([(x, y), twin])},
    ).json()
    assert body["left_out"] == []  # both spots pass the rules on their own
    [pair] = body["too_close"]
    assert (pair["a"], pair["b"], pair["rule"], pair["limit_m"]) == (0, 1, "site-spacing", 50.0)
    assert 10 < pair["distance_m"] < 30
    assert any("closer than 50 m" in n for n in body["notices"])
    # named in English as in Chinese (helper-68: "0 and 1" beside 候选点0 与 候选点1)
    assert any("候选点0 与 候选点1" in n and "candidate 0 and candidate 1" in n for n in body["notices"])
    apart = demo_client.post(
        "/planning/sites",
        json={"method": "mclp", "p": 2, "keep_existing": False, "candidates": _fc([(x, y), far])},
    ).json()
    assert apart.get("too_close") == []
