"""Coverage over HTTP on the demo workspace, and its bad input."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
import shapely
import shapely.geometry
import shapely.ops


def test_who_covers(demo_client):
    body = demo_client.get(
        "/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": "2026-12-01T10:00"}
    ).json()
    assert body["district"] in ("中站区", "解放区")
    assert body["beats"]
    assert body["on_duty"]
    assert body["nearest"]["festival_point"]["walk_m"] > 0
    night = demo_client.get(
        "/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": "2026-12-01T03:00"}
    ).json()
    assert night["on_duty"] == []
    assert night["next_shift"]["starts"][:13] in ("2026-12-01T07", "2026-12-01T08")
    assert not any("holiday schedule" in r for r in body["reasons"])
    later = demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": "2027-01-01T10:00"})
    assert any("2027 holiday schedule is not in the calendar" in r for r in later.json()["reasons"])
    # a clock alone is that time today in Beijing (helper-53: "12:30" was refused)
    import datetime as dt
    from zoneinfo import ZoneInfo

    for clock in ("12:30", "12：30", " 9:05 ", "１２：３０", "下午3:05"):
        before = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
        r = demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": clock})
        after = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()  # (a run across midnight: either day)
        assert r.status_code == 200, r.text
        hhmm = {"下午3:05": "15:05", "１２：３０": "12:30"}.get(
            clock, clock.strip().replace("：", ":").zfill(5)
        )
        assert r.json()["at"] in {f"{day}T{hhmm}:00+08:00" for day in (before, after)}
    assert (
        demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": "25:00"}).status_code
        == 400
    )
    # and the forms a dispatcher writes, as in the case intake (it took ISO 8601 only)
    for written in ("2026年12月1日 10:00", "2026/12/1 上午10:00", "2026-12-01 10:00"):
        r = demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": written})
        assert r.json()["at"] == "2026-12-01T10:00:00+08:00", written
    ambiguous = demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": "12/01/2026"})
    assert ambiguous.status_code == 400
    assert "put the four-digit year first" in ambiguous.json()["detail_en"]
    tonight = demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": "tonight"})
    assert "or a time of day alone, such as 12:30 (today)" in tonight.json()["detail_en"]
    assert tonight.json()["detail_en"].endswith("12月1日 15:00 (the nearest such day)")


def test_who_covers_gcj02_and_outside(demo_client):
    from geo_service.crs import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02([113.2], [35.25])
    a = demo_client.get(
        "/coverage/who",
        params={"lon": float(gx[0]), "lat": float(gy[0]), "crs": "gcj02", "at": "2026-12-01T10:00"},
    ).json()
    b = demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": "2026-12-01T10:00"}).json()
    assert a["beats"] == b["beats"]
    out = demo_client.get(
        "/coverage/who", params={"lon": 116.4, "lat": 39.9, "at": "2026-12-01T10:00"}
    ).json()
    assert out["district"] is None
    assert out["beats"] == []
    assert out["reasons"]
    # outside the service's bounds (New York; lon/lat sent as Web Mercator metres): refused, as the CLI does
    for params, field in (
        ({"lon": -74, "lat": 40.7}, "lon"),
        ({"lon": 113.2, "lat": 35.2, "crs": "EPSG:3857"}, "crs"),  # lon/lat read as metres: the crs is wrong
    ):
        r = demo_client.get("/coverage/who", params=params)
        assert r.status_code == 400, (params, r.text[:200])
        assert r.json()["field"] == field


def test_what_if_refuses_a_site_that_crosses_itself(demo_client):
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[113.2, 35.2], [113.21, 35.21], [113.21, 35.2], [113.2, 35.21], [113.2, 35.2]]],
    }
    r = demo_client.post("/coverage/what-if", json={"add": [bowtie]})
    assert r.status_code == 400
    assert r.json()["feature"] == "add[0]"
    assert "Self-intersection" in r.json()["detail_en"]


def test_answers_for_a_year_the_holiday_calendar_does_not_know_say_so(demo_client):
    notices = {
        url: demo_client.get(url, params=params).json()["notices"]
        for url, params in (
            ("/coverage/beats/week", {"start": "2027-03-01", "hours": 24}),
            ("/coverage/beats", {"at": "2027-03-01T10:00"}),
            ("/coverage/sites", {"start": "2027-03-01T00:00", "end": "2027-03-02T00:00"}),
        )
    }
    assert all(len(n) == 1 and "2027" in n[0] for n in notices.values()), notices
    assert (
        demo_client.get("/coverage/beats/week", params={"start": "2026-03-02", "hours": 24}).json()["notices"]
        == []
    )


def test_who_names_the_nearest_festival_point_with_its_season(demo_client):
    """The nearest festival point in December is named with the dates it opens (in January), and
    ``in_season`` false; during the festival it is in season."""
    december = demo_client.get(
        "/coverage/who", params={"lon": 113.24, "lat": 35.22, "at": "2026-12-05T10:00"}
    )
    festival = demo_client.get(
        "/coverage/who", params={"lon": 113.24, "lat": 35.22, "at": "2027-02-01T10:00"}
    )
    before, during = (
        december.json()["nearest"]["festival_point"],
        festival.json()["nearest"]["festival_point"],
    )
    assert before["in_season"] is False
    assert before["season"] == ["2027-01-22", "2027-02-21"]
    assert during["in_season"] is True
    assert during["id"] == before["id"]


def test_who_says_a_festival_point_whose_dates_are_over_is_out_of_season(own_demo_client):
    """A festival point whose solar dates ended with last year's festival (腊月十五 2025 is 2026-02-02,
    its valid_to 2026-03-01 falls before 正月十六) had no ``season`` at all in December: it now says it
    is out of season, with the window it had, in both languages, as an upcoming one says when it opens."""
    c = own_demo_client
    where = {"lon": 113.24, "lat": 35.22, "at": "2026-12-05T10:00"}
    before = c.get("/coverage/who", params=where).json()["nearest"]["festival_point"]
    assert before["season_state"] == "upcoming"
    assert before["season"] == ["2027-01-22", "2027-02-21"]
    assert before["season_zh"] == "未到开放期：2027-01-22 开放，至 2027-02-21"
    assert before["season_en"] == "Out of season: opens 2027-01-22, until 2027-02-21"
    item = c.get(f"/collections/festival_sales_points/items/{before['id']}").json()
    assert (item["properties"]["lunar_from"], item["properties"]["lunar_to"]) == ("12-15", "01-16")
    patched = c.patch(
        f"/collections/festival_sales_points/items/{before['id']}",
        json={"properties": {"valid_from": "2025-12-01", "valid_to": "2026-03-01"}},
        headers={"If-Match": f'"{item["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    over = c.get("/coverage/who", params=where).json()["nearest"]["festival_point"]
    assert over["id"] == before["id"]
    assert over["in_season"] is False
    assert over["season_state"] == "ended"
    assert over["season"] == ["2026-02-02", "2026-03-01"]
    assert over["season_zh"] == "已过开放期：2026-02-02 至 2026-03-01，此后未再安排"
    assert over["season_en"] == "Out of season: its window was 2026-02-02 to 2026-03-01; no later one is set"
    during = c.get("/coverage/who", params={**where, "at": "2026-02-20T10:00"}).json()
    assert during["nearest"]["festival_point"]["season_state"] == "in_season"
    assert during["nearest"]["festival_point"]["season"] == ["2026-02-02", "2026-03-01"]


def test_a_site_season_by_hand():
    import datetime as dt

    from geo_service.coverage.season import site_season

    solar = {"valid_from": "2026-01-20", "valid_to": "2026-03-01"}
    assert site_season(solar, day=dt.date(2026, 12, 5))["season_state"] == "ended"
    assert site_season(solar, day=dt.date(2026, 2, 1))["in_season"] is True
    # valid dates the festival never falls in: no window at all, said so rather than left out
    nowhere = {
        "lunar_from": "12-15",
        "lunar_to": "01-16",
        "valid_from": "2026-06-01",
        "valid_to": "2026-07-01",
    }
    out = site_season(nowhere, day=dt.date(2026, 12, 5))
    assert (out["season_state"], out["season"], out["in_season"]) == ("none", None, False)
    assert out["season_en"] == "Out of season: no window within its dates"


def test_bad_input(demo_client):
    r = demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": "noon"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    r = demo_client.get("/coverage/sites", params={"start": "2026-12-02T00:00", "end": "2026-12-01T00:00"})
    assert r.status_code == 400
    assert r.json()["detail_en"] == "The time window must end after it starts"
    same = demo_client.get("/coverage/sites", params={"start": "2026-12-01T10:00", "end": "2026-12-01T10:00"})
    assert same.json()["detail_zh"] == "时间窗的结束须晚于开始"
    assert demo_client.get("/coverage/who", params={"lon": 500, "lat": 35}).status_code == 400
    # lon/lat sent with a projected crs: the values sent, where they land, and the likely mistake
    r = demo_client.get("/coverage/who", params={"lon": 113.24, "lat": 35.22, "crs": "EPSG:4547"})
    assert r.status_code == 400
    body = r.json()
    assert body["field"] == "crs"
    assert body["detail_zh"].startswith("坐标 (113.24, 35.22) 按 EPSG:4547 换算为经纬度")
    assert body["detail_zh"].endswith("如为经纬度，请去掉 crs")
    assert "leave out crs" in body["detail_en"]
    assert "point[0]" not in body["detail_zh"]
    r = demo_client.get("/coverage/service-areas", params={"layer": "roads"})
    assert r.status_code == 400


def test_beats_report_gaps_and_overlaps(demo_client):
    body = demo_client.get("/coverage/beats").json()
    assert {f["district"] for f in body["figures"]} == {"解放区", "中站区", "马村区", "山阳区"}
    assert body["gaps"]["features"]
    assert body["overlaps"]["features"]
    night = demo_client.get("/coverage/beats", params={"at": "2026-12-01T21:00"}).json()
    assert sum(f["uncovered_m2"] for f in night["figures"]) > sum(f["uncovered_m2"] for f in body["figures"])


def test_beats_hour_by_hour_through_a_week(demo_client):
    body = demo_client.get("/coverage/beats/week", params={"start": "2027-02-08", "hours": 48}).json()
    assert len(body["hours"]) == 48
    assert body["start"].startswith("2027-02-08T00:00")
    assert len(body["figures"]) == 48 * 4
    configs = body["configurations"]
    assert {h["configuration"] for h in body["hours"]} == set(range(len(configs)))
    # the same hour through /coverage/beats?at= gives the same figures
    at_noon = demo_client.get("/coverage/beats", params={"at": "2027-02-08T12:00"}).json()["figures"]
    noon = [f for f in body["figures"] if f["hour"].startswith("2027-02-08T12")]
    assert sorted(noon, key=lambda f: f["district"]) == sorted(
        [{"hour": noon[0]["hour"], **f} for f in at_noon], key=lambda f: f["district"]
    )
    # nights have fewer beats on duty and more ground uncovered than the day
    night = next(h for h in body["hours"] if h["hour"].startswith("2027-02-08T03"))
    day = next(h for h in body["hours"] if h["hour"].startswith("2027-02-08T10"))
    assert len(night["on_duty"]) < len(day["on_duty"])
    r = demo_client.get("/coverage/beats/week", params={"start": "next monday"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "'next monday'" in r.json()["detail_en"]
    assert r.json()["field"] == "start"
    at_time = demo_client.get("/coverage/beats/week", params={"start": "2027-02-08T06:00", "hours": 2}).json()
    assert at_time["start"].startswith("2027-02-08T06:00")
    assert not any("整点" in n for n in at_time["notices"])
    # helper-62: 08:30 started silently at 08:00; the answer says so
    half = demo_client.get("/coverage/beats/week", params={"start": "2027-02-08T08:30", "hours": 2}).json()
    assert half["start"].startswith("2027-02-08T08:00")
    assert any("2027-02-08 08:00" in n and "08:30 was given" in n for n in half["notices"])
    assert demo_client.get("/coverage/beats/week", params={"hours": 0}).status_code == 422


def test_site_duty_coverage_in_festival_window(demo_client):
    body = demo_client.get(
        "/coverage/sites", params={"start": "2027-02-05T00:00", "end": "2027-02-06T00:00"}
    ).json()
    assert body["count"] == len(body["uncovered"])
    assert all(r["hour"].startswith("2027-02-05") for r in body["uncovered"])


def test_a_window_written_as_clocks_crosses_midnight(demo_client):
    """helper-54: 22:00 to 02:00 is a night, not a window that ends before it starts; 24:00 ends the day."""
    night = demo_client.get("/coverage/sites", params={"start": "22:00", "end": "02:00"})
    assert night.status_code == 200, night.text
    start, end = (dt.datetime.fromisoformat(night.json()[k]) for k in ("start", "end"))
    assert end - start == dt.timedelta(hours=4)
    day = demo_client.get("/coverage/sites", params={"start": "08:00", "end": "24:00"})
    assert day.status_code == 200, day.text
    start, end = (dt.datetime.fromisoformat(day.json()[k]) for k in ("start", "end"))
    assert end - start == dt.timedelta(hours=16)
    # helper-76: after a start on another day, a clock alone was today's (a six-day window)
    past = demo_client.get("/coverage/sites", params={"start": "2026-11-01 23:00", "end": "01:00"})
    assert past.status_code == 200, past.text
    assert past.json()["end"].startswith("2026-11-02T01:00")
    same_day = demo_client.get("/coverage/sites", params={"start": "2026-11-01 08:00", "end": "下午3点"})
    assert same_day.json()["end"].startswith("2026-11-01T15:00")
    # a clock alone is Beijing's, as everywhere, though the start was given in UTC (02:00Z is 10:00)
    zoned = demo_client.get("/coverage/sites", params={"start": "2026-11-01T02:00Z", "end": "12:00"})
    end = dt.datetime.fromisoformat(zoned.json()["end"])
    assert end == dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_the_datetime_filter_reads_dates_with_slashes(demo_client):
    """helper-54: 2026/12/1 was split as the interval 2026 to 12/1."""
    ids = lambda r: sorted(f["id"] for f in r.json()["features"])  # noqa: E731
    iso = demo_client.get("/collections/festival_sales_points/items", params={"datetime": "2027-01-25T10:00"})
    slashed = demo_client.get(
        "/collections/festival_sales_points/items", params={"datetime": "2027/1/25 10:00"}
    )
    assert slashed.status_code == 200, slashed.text
    assert ids(slashed) == ids(iso)
    between = demo_client.get(
        "/collections/festival_sales_points/items", params={"datetime": "2027/1/20/2027/2/20"}
    )
    assert between.status_code == 200, between.text
    assert ids(between) == ids(
        demo_client.get(
            "/collections/festival_sales_points/items", params={"datetime": "2027-01-20/2027-02-20"}
        )
    )


def test_service_areas_and_what_if(demo_client):
    body = demo_client.get("/coverage/service-areas", params={"max_walk_m": 500}).json()
    sites = demo_client.get("/collections/stall_sites/items", params={"limit": 1}).json()["numberMatched"]
    assert len(body["service_areas"]["features"]) == sites >= 30  # other tests may have added sites
    assert 0 < body["served_share"] < 1
    assert body["unserved_clusters"]["features"]
    # each site with the people it is nearest for; together, everyone served
    per_site = [f["properties"]["served_population"] for f in body["service_areas"]["features"]]
    assert sum(per_site) == body["served_population"]
    assert sum(p > 0 for p in per_site) > 10
    # no group of unserved homes reaches further than the walk from its centre (plus the hull's margin)
    from geo_service.crs import to_metric

    for f in body["unserved_clusters"]["features"]:
        hull = to_metric(np.array([shapely.geometry.shape(f["geometry"])], dtype=object), "EPSG:4547")[0]
        centre = to_metric(np.array([shapely.Point(f["properties"]["centre"])], dtype=object), "EPSG:4547")[0]
        assert shapely.hausdorff_distance(hull, centre) <= 500 + 175 + 1
    # in the map's own coordinates (under GCJ-02 tiles), the same areas and groups, shifted
    from geo_service.crs import wgs84_to_gcj02

    shifted = demo_client.get("/coverage/service-areas", params={"max_walk_m": 500, "crs": "gcj02"}).json()
    assert shifted["crs"] == "gcj02"
    area, moved = (
        shapely.geometry.shape(b["service_areas"]["features"][0]["geometry"]) for b in (body, shifted)
    )
    x, y = wgs84_to_gcj02(*np.asarray(area.exterior.coords).T)
    assert np.allclose(np.asarray(moved.exterior.coords), np.column_stack([x, y]), atol=2e-6)
    lon, lat = body["unserved_clusters"]["features"][0]["properties"]["centre"]
    gx, gy = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    assert shifted["unserved_clusters"]["features"][0]["properties"]["centre"] == pytest.approx(
        [gx[0], gy[0]], abs=2e-6
    )
    bad = demo_client.get("/coverage/service-areas", params={"crs": "EPSG:99999"})
    assert bad.status_code == 400
    assert bad.json()["field"] == "crs"
    nothing = demo_client.post("/coverage/what-if", json={"add": [], "remove": [], "move": {}})
    assert nothing.status_code == 400
    assert nothing.json()["detail_en"].startswith("Nothing to add, move or remove")
    before = demo_client.get("/collections/stall_sites/items", params={"limit": 1}).json()["numberMatched"]
    far = body["unserved_clusters"]["features"][0]["properties"]["centre"]
    change = demo_client.post(
        "/coverage/what-if", json={"add": [{"type": "Point", "coordinates": far}]}
    ).json()
    assert change["change"] > 0
    assert change["after"] == change["before"] + change["change"]
    assert (
        demo_client.get("/collections/stall_sites/items", params={"limit": 1}).json()["numberMatched"]
        == before
    )


def test_what_if_names_what_it_cannot_use(demo_client):
    """helper-21: a misspelt body field gave the 500 m answer; a place with no street near it and a site
    both moved and removed answered as if nothing was wrong; a repeated query parameter took the last."""
    r = demo_client.post("/coverage/what-if", json={"remove": [1], "max_walkm": 3000})
    assert r.status_code == 422
    assert "max_walkm" in r.text
    # helper-76: JSON sent as text was refused as "not a valid dictionary"
    r = demo_client.post(
        "/coverage/what-if", content=b'{"remove": [1]}', headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 422
    assert "Content-Type: application/json" in r.json()["detail_en"]
    assert "text/plain" in r.json()["detail_zh"]
    # helper-76: true was site 1, and "1" site 1 too
    for wrong in (True, "1", 1.5):
        r = demo_client.post("/coverage/what-if", json={"remove": [wrong]})
        assert r.status_code == 422, wrong
        assert r.headers["content-type"] == "application/problem+json"
        assert "remove" in r.json()["detail"]
    r = demo_client.post(
        "/coverage/what-if",
        json={"move": {"1": {"type": "Point", "coordinates": [113.25, 35.21]}}, "remove": [1]},
    )
    assert r.status_code == 400
    assert r.json()["field"] == "move"
    far = {"type": "Point", "coordinates": [116.4, 39.9]}  # Beijing: inside the bounds, no street near
    body = demo_client.post("/coverage/what-if", json={"add": [far]}).json()
    assert body["change"] == 0
    assert body["unreachable_sites"] == [{"add": 0}]
    assert "add 0" in body["notices"][0]
    # helper-62: and it is said to lie outside every district (not only that no street is near)
    assert any("outside every district: add 0" in n for n in body["notices"])
    # a site of more vertices than a stored one may have is refused (helper-64: 300,000 were taken)
    most = demo_client.app.state.workspace.settings.max_vertices
    step = 2 * math.pi / (most + 1)
    ring = [
        [113.22 + 0.001 * math.cos(k * step), 35.22 + 0.001 * math.sin(k * step)] for k in range(most + 1)
    ]
    big = demo_client.post(
        "/coverage/what-if", json={"add": [{"type": "Polygon", "coordinates": [[*ring, ring[0]]]}]}
    )
    # 413, in the words a write of it to the layer gets (it was 400, in words of its own)
    assert (big.status_code, big.json()["field"], big.json()["feature"]) == (413, "add", "add[0]")
    assert big.json()["detail_en"] == (
        f"Feature add[0]: The geometry has {most + 2} vertices, above the limit of {most}; simplify it"
    )
    # a site removed twice is refused, naming it (it was taken without comment)
    twice = demo_client.post("/coverage/what-if", json={"remove": [1, 2, 1]})
    assert (twice.status_code, twice.json()["field"]) == (400, "remove")
    assert "site(s) 1 more than once" in twice.json()["detail_en"]
    near = demo_client.post("/coverage/what-if", json={"remove": [1]}).json()
    assert near["unreachable_sites"] == []
    assert near["notices"] == []
    r = demo_client.get("/coverage/who", params=[("lon", "113.24"), ("lat", "35.22"), ("lon", "113.25")])
    assert r.status_code == 400
    assert r.json()["field"] == "lon"


def test_service_areas_in_minutes_on_foot(demo_client):
    """Ten minutes on foot at the 75 m/min the settings give is the same answer as 750 m; both at once,
    too many minutes, or NaN are refused naming the field."""
    metres = demo_client.get("/coverage/service-areas", params={"max_walk_m": 750}).json()
    minutes = demo_client.get("/coverage/service-areas", params={"max_walk_min": 10}).json()
    assert minutes["max_walk_m"] == 750
    assert minutes["max_walk_min"] == 10
    assert minutes["served_population"] == metres["served_population"]
    assert minutes["served_share"] > demo_client.get("/coverage/service-areas").json()["served_share"]
    too_long = demo_client.get("/coverage/service-areas", params={"max_walk_min": 120}).json()
    assert "At most 66.6 minutes" in too_long["detail_en"]  # rounded down: the figure named is allowed
    assert demo_client.get("/coverage/service-areas", params={"max_walk_min": 66.6}).status_code == 200
    change = demo_client.post("/coverage/what-if", json={"remove": [1], "max_walk_min": 10}).json()
    assert change["before"] == metres["served_population"]
    for params, field in (
        ({"max_walk_m": 750, "max_walk_min": 10}, "max_walk_min"),
        ({"max_walk_min": 100}, "max_walk_min"),
        ({"max_walk_min": "NaN"}, "max_walk_min"),
        ({"max_walk_m": "NaN"}, "max_walk_m"),
        ({"min_gap_m2": "inf"}, "min_gap_m2"),
    ):
        url = "/coverage/beats" if "min_gap_m2" in params else "/coverage/service-areas"
        r = demo_client.get(url, params=params)
        assert 400 <= r.status_code < 500, (params, r.status_code)
        body = r.json()
        assert field in json.dumps(body), (params, body)
        if "NaN" in params.values() or "inf" in params.values():
            assert "NaN" in body["detail_en"] or "finite" in body["detail_en"], body


def test_times_outside_the_calendars_years_and_huge_numbers_are_refused(demo_client):
    """Years the lunar and holiday calendars cannot answer for, a non-finite or huge planning effort,
    a negative seed, a feature id beyond any integer the stores hold: 4xx problem+json, never a 500."""
    far = [
        ("get", "/coverage/who", {"params": {"lon": 113.2, "lat": 35.22, "at": "9999-12-31T23:59"}}, "at"),
        ("get", "/coverage/beats/week", {"params": {"start": "9999-12-31", "hours": 48}}, "start"),
        ("get", "/coverage/sites", {"params": {"start": "1900-01-01", "end": "1900-01-02"}}, "start"),
        ("get", "/maps/coverage", {"params": {"at": "1800-01-01T00:00"}}, "at"),
        (
            "get",
            "/collections/stall_sites/items",
            {"params": {"datetime": "9999-12-31T23:59:59Z"}},
            "datetime",
        ),
        ("post", "/plans/snow", {"json": {"start": "9999-12-31T23:00"}}, "start"),
    ]
    for method, url, kwargs, field in far:
        r = getattr(demo_client, method)(url, **kwargs)
        assert r.status_code == 400, (url, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field, (url, r.json())
        assert "1901" in r.json()["detail_en"]
    # in a batch of cases such a time is that case's error (the others are dispatched), named by its index
    case = {"lon": 113.2, "lat": 35.2, "category": "0201", "reported_at": "9999-12-31T23:59"}
    r = demo_client.post("/dispatch/cases", json={"cases": [case]})
    assert r.status_code == 200, r.text[:200]
    [far_case] = r.json()["assignments"]
    assert far_case["error"]["code"] == "bad-time"
    assert far_case["error"]["detail_en"].startswith("Case 1: ")
    assert "1901" in far_case["error"]["detail_en"]
    for body in ({"time_limit_s": 1e308}, {"time_limit_s": "NaN"}, {"seed": -1}):
        r = demo_client.post("/plans/snow", json=body)
        assert r.status_code == 422, (body, r.text[:200])
    r = demo_client.get("/collections/stall_sites/items/99999999999999999999")
    assert r.status_code == 422


def test_cli_answers_and_refuses_like_the_api(demo_gpkg, capsys):
    """``geo-service who-covers`` / ``coverage-check``: a good question answered; a time that does not
    parse, a NaN or out-of-range position, a week in the year 9999: a message in both languages and exit
    code 2, never a traceback."""
    from geo_service.cli import main

    ws = ["--workspace", str(demo_gpkg)]
    assert main(["who-covers", "113.2", "35.25", "--at", "2026-12-01T10:00", *ws]) == 0
    assert '"on_duty"' in capsys.readouterr().out
    for argv, said in (
        (["who-covers", "113.2", "35.25", "--at", "garbage"], "is not understood"),
        (["who-covers", "nan", "35.25"], "NaN"),
        (["who-covers", "200", "35.25"], "out of the lon/lat range"),
        (["coverage-check", "--week", "9999-12-31"], "1901-2099"),
        (["coverage-check", "--week", "next monday"], "'next monday' is not understood"),
        (["coverage-check", "--week", "2099-12-30"], "run past the years supported"),
        (["coverage-check", "--week", ""], "A start is needed"),  # helper-76: was the one-off check
    ):
        assert main([*argv, *ws]) == 2, argv
        assert said in capsys.readouterr().err, argv
    # helper-62: a place outside the city is "the place", as the API says, not "feature point[0]"
    assert main(["who-covers", "0", "0", *ws]) == 2
    err = capsys.readouterr().err
    assert "point[0]" not in err
    assert "该位置" in err
    # the week takes the days the API takes (it said "use YYYY-MM-DD" to 2026年2月14日)
    assert main(["coverage-check", "--week", "2026年2月14日", *ws]) == 0
    out = capsys.readouterr().out
    assert "2026-02-14T00:00" in out
    assert main(["coverage-check", "--week", "2026/2/14 08:30", *ws]) == 0
    assert "08:30 was given" in capsys.readouterr().out


def test_cli_coverage_check_figures(demo_gpkg, capsys):
    """helper-37: 马村区's 300 m² overlap printed as 0.000 km²; the week's beats column repeated the city's
    count on every district's row; an estimated holiday year went unsaid."""
    from geo_service.cli import main

    ws = ["--workspace", str(demo_gpkg)]
    assert main(["coverage-check", "--at", "2027-02-06T10:00", *ws]) == 0
    out = capsys.readouterr().out
    assert "马村区: 覆盖 covered" in out
    assert "重叠 double 300 m²" in out
    assert "the 2027 holiday schedule is not in the calendar yet" in out
    assert main(["coverage-check", "--week", "2026-10-05", *ws]) == 0
    rows = [
        line.split() for line in capsys.readouterr().out.splitlines()[1:] if line.startswith("2026-10-05T10")
    ]
    assert len(rows) == 4
    by_district = {r[1]: int(r[2]) for r in rows}
    assert 0 < max(by_district.values()) <= 20  # each district's own beats (the city has 54)
    assert len(set(by_district.values())) > 1


def test_the_last_supported_days_are_answered(demo_client):
    """31 December 2099 is a supported day: questions whose hours or lookahead run into 2100 (a shift
    after midnight, a week, a festival window the lunar calendar cannot place) are answered, not 500s."""
    for url, params in (
        ("/coverage/who", {"lon": 113.2, "lat": 35.22, "at": "2099-12-31T12:30"}),
        ("/coverage/who", {"lon": 113.2, "lat": 35.22, "at": "2099-12-31T15:30Z"}),  # 23:30 in Beijing
        ("/coverage/beats/week", {"start": "2099-12-31", "hours": 24}),
        ("/coverage/sites", {"start": "2099-03-10T00:00", "end": "2099-03-10T12:00"}),
        ("/maps/coverage", {"at": "2099-12-31T12:00"}),
    ):
        r = demo_client.get(url, params=params)
        assert r.status_code == 200, (url, params, r.status_code, r.text[:300])
    r = demo_client.get("/coverage/beats/week", params={"start": ""})
    assert r.status_code in (200, 400), r.text[:300]
    # helper-37: a window ending at the first moment of 2100 lies within 2099, and is answered; hours
    # that run into 2100 are refused naming them (they were answered, with a note about 2100's holidays)
    within = {"start": "2099-12-31T00:00", "end": "2100-01-01T00:00"}
    assert demo_client.get("/coverage/sites", params=within).status_code == 200
    past = demo_client.get("/coverage/sites", params={**within, "end": "2100-01-01T01:00"})
    assert past.status_code == 400
    assert past.json()["field"] == "end"
    r = demo_client.get("/coverage/beats/week", params={"start": "2099-12-31", "hours": 48})
    assert r.status_code == 400
    assert r.json()["field"] == "hours"
    assert "2100-01-01 23:00" in r.json()["detail_zh"]
    early = demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.22, "at": "1900-12-31T23:59"})
    assert early.json()["detail_zh"] == "时间 1900-12-31 23:59 超出支持范围（1901–2099 年）"


def test_festival_points_count_only_within_their_dates(demo_client):
    """A festival point's lunar window repeats each year, but only inside its valid_from/valid_to: the
    demo's points (valid 2027-01-22 to 2027-02-21) are not open, checked or drawn in February 2026."""

    def layers(start: str, end: str) -> set[str]:
        r = demo_client.get("/coverage/sites", params={"start": start, "end": end})
        assert r.status_code == 200, r.text[:300]
        return {row["layer"] for row in r.json()["uncovered"]}

    # the festival of 2026 (lunar 12-15 to 01-16: 2 February to 4 March 2026) lies before the points' dates
    assert "festival_sales_points" not in layers("2026-02-20T00:00", "2026-02-23T00:00")
    assert "festival_sales_points" in layers("2027-02-01T00:00", "2027-02-04T00:00")
    names = demo_client.get("/collections/festival_sales_points/items", params={"limit": 1}).json()
    name = names["features"][0]["properties"]["name"]
    off = demo_client.get(
        "/maps/coverage", params={"at": "2026-02-20T10:00"}, headers={"Accept": "text/html"}
    )
    on = demo_client.get("/maps/coverage", params={"at": "2027-02-01T10:00"}, headers={"Accept": "text/html"})
    assert off.status_code == on.status_code == 200
    assert name in on.text
    assert name not in off.text


def test_a_shift_ending_after_midnight_is_refused_and_a_bad_stored_row_is_named(own_demo_client, tmp_path):
    """End times run to 24:00: a shift ending 24:30 is refused when written (the roster is unchanged).
    A row that cannot be read (stored before the layer checked it) makes coverage answers a 409 that
    names the layer and the row, not a 400 that reads as the request's own fault."""
    c = own_demo_client
    before = c.get("/collections/duty_shifts/items", params={"limit": 1}).json()["numberMatched"]
    bad = {
        "type": "Feature",
        "geometry": None,
        "properties": {"beat": "JF-01", "squad": "t", "start": "23:00", "end": "24:30"},
    }
    r = c.post("/collections/duty_shifts/items", json=bad)
    assert r.status_code == 400, r.text[:300]
    assert r.json()["field"] == "end"
    assert c.get("/collections/duty_shifts/items", params={"limit": 1}).json()["numberMatched"] == before
    # helper-62: a shift ending when it starts (a typo for 08:00-18:00) became round-the-clock cover
    same = dict(bad, properties=dict(bad["properties"], start="08:00", end="08:00"))
    r = c.post("/collections/duty_shifts/items", json=same)
    assert r.status_code == 400, r.text[:300]
    assert (r.json()["field"], r.json()["layer"]) == ("end", "duty_shifts")
    assert "不能与开始相同" in r.json()["detail_zh"]
    assert "00:00 至 24:00" in r.json()["detail_zh"]
    assert "all day is 00:00 to 24:00" in r.json()["detail_en"]
    assert c.get("/collections/duty_shifts/items", params={"limit": 1}).json()["numberMatched"] == before
    ok = dict(bad, properties=dict(bad["properties"], end="24:00"))
    assert c.post("/collections/duty_shifts/items", json=ok).status_code == 201
    # a row written straight into the GeoPackage, as an old release might have left it
    import sqlite3

    path = c.app.state.workspace.settings.workspace
    with sqlite3.connect(path) as db:
        db.execute("UPDATE duty_shifts SET \"end\" = '24:30' WHERE \"end\" = '24:00' AND squad = 't'")
        fid = db.execute("SELECT fid FROM duty_shifts WHERE squad = 't'").fetchone()[0]
    c.app.state.workspace.clear()
    r = c.get("/coverage/who", params={"lon": 113.2, "lat": 35.22, "at": "2026-12-01T10:00"})
    assert r.status_code == 409, r.text[:300]
    body = r.json()
    assert body["layer"] == "duty_shifts"
    assert body["feature"] == fid
    assert "24:30" in body["detail_en"]
    assert "duty_shifts" in body["detail_zh"]
    # one stored as 23:00-23:00 before the layer refused it (helper-63: it still counted as all day)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE duty_shifts SET \"end\" = '23:00' WHERE squad = 't'")
    c.app.state.workspace.clear()
    r = c.get("/coverage/who", params={"lon": 113.2, "lat": 35.22, "at": "2026-12-01T10:00"})
    assert (r.status_code, r.json()["feature"], r.json()["field"]) == (409, fid, "end")
    assert "ends when it starts" in r.json()["detail_en"]


def test_the_cli_refuses_a_workspace_file_that_does_not_exist(tmp_path, capsys):
    from geo_service.cli import main

    missing = tmp_path / "typo.gpkg"
    assert main(["who-covers", "113.2", "35.25", "--workspace", str(missing)]) == 2
    assert "typo.gpkg" in capsys.readouterr().err
    assert main(["coverage-check", "--workspace", str(missing)]) == 2
    assert not missing.exists()


def test_a_query_parameter_the_endpoint_does_not_take_is_refused(demo_client):
    """A mistyped parameter (max_walk_minutes for max_walk_min) must not quietly give the default
    answer: 400 naming it and the parameters the endpoint takes."""
    r = demo_client.get("/coverage/service-areas", params={"max_walk_minutes": 10})
    assert r.status_code == 400
    body = r.json()
    assert body["field"] == "max_walk_minutes"
    assert "max_walk_min" in body["detail_en"]
    assert "max_walk_minutes" in body["detail_zh"]
    assert (
        demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.22, "when": "x"}).status_code == 400
    )
    # feature lists take free-form property filters, so they are not checked this way
    assert demo_client.get("/collections/stall_sites/items", params={"district": "解放区"}).status_code == 200


def test_swapped_coordinates_and_years_are_read_as_a_user_means_them(demo_client):
    """helper-21: lon/lat given the wrong way round were refused as 'not in EPSG:4326' (the command line
    said they look swapped); the supported years were checked in the offset given, not in Beijing."""
    r = demo_client.get("/coverage/who", params={"lon": 35.22, "lat": 113.24})
    assert r.status_code == 400
    assert "swapped" in r.json()["detail_en"]
    # helper-76: with a crs named, in degrees or in metres, they were said to lie outside the area
    for crs, lon, lat in (("gcj02", 35.22, 113.24), ("EPSG:4547", 3_899_000.0, 421_000.0)):
        r = demo_client.get("/coverage/who", params={"lon": lon, "lat": lat, "crs": crs})
        assert r.status_code == 400
        assert "look swapped" in r.json()["detail_en"], crs
        assert "似乎前后颠倒" in r.json()["detail_zh"]
    # a projected crs already named is not asked for again
    r = demo_client.get("/coverage/who", params={"lon": 1e308, "lat": 1e308, "crs": "EPSG:4547"})
    assert r.status_code == 400
    assert "name the crs" not in r.json()["detail_en"]
    ok = demo_client.get(
        "/coverage/who", params={"lon": 113.24, "lat": 35.22, "at": "2100-01-01T00:00+14:00"}
    )
    assert ok.status_code == 200, ok.text  # 2099-12-31 18:00 in Beijing
    late = demo_client.get(
        "/coverage/who", params={"lon": 113.24, "lat": 35.22, "at": "2099-12-31T23:00-08:00"}
    )
    assert late.status_code == 400  # 2100 in Beijing
    assert late.json()["field"] == "at"


def test_who_covers_names_the_office_dispatch_escalates_to(demo_client):
    """Outside every district (and every beat) both /coverage/who and dispatch send the case to the city
    duty office 市值班室, never to a "district duty office" there is none of; inside a district with
    nobody on duty both name that district's office."""
    far = {"lon": 113.6, "lat": 35.6}  # in the service area, north-east of the four districts
    who = demo_client.get("/coverage/who", params={**far, "at": "2026-12-01T10:00"}).json()
    assert who["district"] is None
    assert who["beats"] == []
    assert who["escalation"] == "市值班室"
    assert any("请转市值班室" in r for r in who["reasons_zh"])
    assert not any("区值班室" in r for r in who["reasons_zh"])
    case = {**far, "category": "0201", "reported_at": "2026-12-01T10:00:00+08:00"}
    [sent] = demo_client.post("/dispatch/cases", json={"cases": [case]}).json()["assignments"]
    assert sent["escalation"] == who["escalation"]
    night = {"lon": 113.2, "lat": 35.25, "at": "2026-12-01T03:00"}
    who = demo_client.get("/coverage/who", params=night).json()
    assert who["district"]
    assert who["on_duty"] == []
    assert who["escalation"] == f"{who['district']}值班室"
    assert any(f"请转{who['district']}值班室" in r for r in who["reasons_zh"])
    case = {"lon": 113.2, "lat": 35.25, "category": "0201", "reported_at": "2026-12-01T03:00:00+08:00"}
    [sent] = demo_client.post("/dispatch/cases", json={"cases": [case]}).json()["assignments"]
    assert sent["escalation"] == who["escalation"]
    day = demo_client.get("/coverage/who", params={**night, "at": "2026-12-01T10:00"}).json()
    assert day["on_duty"]
    assert day["escalation"] is None


def test_who_at_a_site_is_0_m_from_it_and_a_site_no_walk_reaches_is_not_named(own_demo_client):
    """helper-37: standing inside stall site 1 gave a walk of twice its distance to the street; and a
    site ~480 m from every street was named by who-covers (snapped within 500 m) while the service
    areas (300 m) called it unreachable."""
    c = own_demo_client
    one = c.get("/collections/stall_sites/items/1").json()
    inside = shapely.geometry.shape(one["geometry"]).representative_point()
    here = {"lon": inside.x, "lat": inside.y, "at": "2026-12-05T10:00"}
    site = c.get("/coverage/who", params=here).json()["nearest"]["stall_site"]
    assert (site["id"], site["walk_m"]) == (1, 0.0)
    # a new site in a district, as far from every walkable street as the district allows (over 300 m)
    import geopandas as gpd
    import numpy as np

    def frame(layer):
        items = c.get(f"/collections/{layer}/items", params={"limit": 100_000}).json()["features"]
        return gpd.GeoDataFrame.from_features(items, crs=4326).to_crs(4547)

    roads, districts = frame("roads"), frame("districts")
    walkable = roads[roads["walkable"].astype(bool)].geometry.union_all()
    shanyang = districts[districts["name"] == one["properties"]["district"]].geometry.iloc[0]
    x0, y0, x1, y1 = shanyang.bounds
    grid = shapely.points(*np.meshgrid(np.arange(x0, x1, 100.0), np.arange(y0, y1, 100.0))).ravel()
    grid = grid[shapely.within(grid, shapely.buffer(shanyang, -50))]
    spot = grid[np.argmax(shapely.distance(grid, walkable))]
    assert shapely.distance(spot, walkable) > 350
    far = gpd.GeoSeries([spot.buffer(8.0)], crs=4547).to_crs(4326).iloc[0]
    new = {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(far),
        "properties": {**one["properties"], "name": "田间摊区"},
    }
    r = c.post("/collections/stall_sites/items", json=new, params={"override": "*", "reason": "测试"})
    assert r.status_code == 201, r.text[:400]
    fid = r.json()["id"]
    areas = c.get("/coverage/service-areas", params={"layer": "stall_sites", "max_walk_m": 500}).json()
    assert fid in areas["unreachable_sites"]
    # on the street nearest to it: who-covers names a site a walk reaches, not this one
    _, on_street = shapely.ops.nearest_points(spot, walkable)
    lon, lat = gpd.GeoSeries([on_street], crs=4547).to_crs(4326).iloc[0].coords[0]
    named = c.get("/coverage/who", params={"lon": lon, "lat": lat, "at": here["at"]}).json()
    assert named["nearest"]["stall_site"]["id"] != fid
    assert named["nearest"]["stall_site"]["walk_m"] > 0
    at_it = {"lon": far.centroid.x, "lat": far.centroid.y, "at": here["at"]}
    there = c.get("/coverage/who", params=at_it).json()["nearest"]["stall_site"]
    assert (there["id"], there["walk_m"]) == (fid, 0.0)


def test_who_says_when_a_beat_has_no_shift_ahead(own_demo_client):
    c = own_demo_client
    where = {"lon": 113.2, "lat": 35.25, "at": "2026-12-01T10:00"}
    codes = [b["code"] for b in c.get("/coverage/who", params=where).json()["beats"]]
    for code in codes:
        for shift in c.get("/collections/duty_shifts/items", params={"beat": code, "limit": 100}).json()[
            "features"
        ]:
            r = c.patch(
                f"/collections/duty_shifts/items/{shift['id']}",
                json={"properties": {"valid_to": "2026-11-30"}},
            )
            assert r.status_code == 200, r.text[:300]
    body = c.get("/coverage/who", params=where).json()
    assert body["on_duty"] == []
    assert body["next_shift"] is None
    assert any("no shift in the next 92 days" in r for r in body["reasons"])
    assert any("此后 92 天内网格没有排班" in r for r in body["reasons"])


def test_refusals_say_what_is_missing_and_who_may(demo_client):
    """helper-37: '参数「start」无效：缺少此参数', '应不大于 5000.0', '（此接口可用：-）' and
    '角色 viewer 无权进行此操作（需要：plan）' read as a program's internals."""
    from tests.conftest import authed

    r = demo_client.get("/coverage/sites", params={"end": "2026-12-01T10:00"})
    assert r.status_code == 422
    assert (r.json()["detail_zh"], r.json()["detail_en"]) == (
        "缺少参数「start」",
        "Parameter 'start' is missing",
    )
    r = demo_client.get("/coverage/service-areas", params={"layer": "stall_sites", "max_walk_m": 9000})
    assert r.status_code in (400, 422)
    assert "5000" in r.json()["detail_zh"]
    assert "5000.0" not in r.json()["detail_zh"]
    viewer = authed(demo_client, "viewer")
    r = demo_client.post("/coverage/what-if", json={"layer": "stall_sites", "remove": [1]}, headers=viewer)
    assert r.status_code == 403
    assert r.json()["detail_zh"] == (
        "查看人员（viewer）无权进行规划计算（选址、摊贩分配、假设分析）；可由管理员（admin）、规划人员（planner）进行"
    )
    assert "is for admin, planner" in r.json()["detail_en"]


def test_who_says_whether_the_nearest_site_is_open_then(demo_client):
    """helper-37: at 21:00 the nearest stall site (open 06:00-20:00) was named 'in_season' with nothing
    to say it had closed."""
    where = {"lon": 113.24, "lat": 35.22}
    noon = demo_client.get("/coverage/who", params={**where, "at": "2026-12-05T12:00"}).json()["nearest"]
    night = demo_client.get("/coverage/who", params={**where, "at": "2026-12-05T21:00"}).json()["nearest"]
    site = noon["stall_site"]
    assert site["hours"]
    assert site["open_now"] is True
    assert night["stall_site"]["open_now"] is False
    # a festival point out of season is not open at any hour
    assert noon["festival_point"]["open_now"] is False


def test_no_gap_of_no_area(demo_client):
    """helper-37: min_gap_m2=0 listed 15 'gaps' of 0.0 m² (films of rounding between beats)."""
    gaps = demo_client.get("/coverage/beats", params={"min_gap_m2": 0}).json()["gaps"]["features"]
    assert gaps
    assert min(g["properties"]["area_m2"] for g in gaps) >= 0.01


def test_what_if_takes_only_a_point_or_a_zone_as_a_site(demo_client):
    """A line (or several points) given as a new or moved site was taken as a site, its walk starting
    from some point on it: refused by name, after the geometry checks. A point, and the zone the plan map
    sends when one is drawn, are sites."""
    line = {"type": "LineString", "coordinates": [[113.2, 35.25], [113.21, 35.25]]}
    several = {"type": "MultiPoint", "coordinates": [[113.2, 35.25], [113.21, 35.25]]}
    for body, field, feature, sent in (
        ({"add": [{"type": "Point", "coordinates": [113.2, 35.25]}, line]}, "add", "add[1]", "LineString"),
        ({"add": [several]}, "add", "add[0]", "MultiPoint"),
        ({"move": {"1": line}}, "move", "move[1]", "LineString"),
        ({"layer": "festival_sales_points", "add": [line]}, "add", "add[0]", "LineString"),
    ):
        r = demo_client.post("/coverage/what-if", json=body)
        assert r.status_code == 400, r.text[:300]
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert (problem["field"], problem["feature"]) == (field, feature)
        assert f"{feature} is a {sent}: a site is a Point or a Polygon here" in problem["detail_en"]
        assert "站点只能是点（Point）或面（Polygon）" in problem["detail_zh"]
    # the geometry checks come first: a line outside the city is told it is outside
    far = {"type": "LineString", "coordinates": [[2.35, 48.85], [2.36, 48.85]]}
    assert "outside" in demo_client.post("/coverage/what-if", json={"add": [far]}).json()["detail_en"]
    zone = shapely.geometry.mapping(shapely.Point(113.2, 35.25).buffer(0.0003))
    for site in ({"type": "Point", "coordinates": [113.2, 35.25]}, zone):
        assert demo_client.post("/coverage/what-if", json={"add": [site]}).status_code == 200


def test_planning_takes_vendors_at_points_and_candidates_at_points_or_zones(demo_client):
    """The other geometry inputs of the coverage questions: a vendor's spot is a point, a candidate site
    a point or a zone; a line is refused naming the feature."""

    def fc(*geoms):
        return {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": g, "properties": {"goods": "水果"}} for g in geoms],
        }

    point = {"type": "Point", "coordinates": [113.2, 35.25]}
    line = {"type": "LineString", "coordinates": [[113.2, 35.25], [113.21, 35.25]]}
    zone = shapely.geometry.mapping(shapely.Point(113.2, 35.25).buffer(0.0003))
    r = demo_client.post("/planning/vendors", json={"vendors": fc(point, zone)})
    assert r.status_code == 400, r.text[:300]
    assert (r.json()["field"], r.json()["feature"]) == ("vendors", "vendors[1]")
    assert "a vendor's spot is a Point here" in r.json()["detail_en"]
    r = demo_client.post("/planning/sites", json={"method": "mclp", "p": 1, "candidates": fc(point, line)})
    assert r.status_code == 400, r.text[:300]
    assert (r.json()["field"], r.json()["feature"]) == ("candidates", "candidates[1]")
    assert "a candidate site is a Point or a Polygon here" in r.json()["detail_en"]
    r = demo_client.post(
        "/planning/vendors", json={"vendors": {"type": "FeatureCollection", "features": [1]}}
    )
    assert r.status_code == 400, r.text[:300]
    assert r.json()["field"] == "vendors"
    ok = demo_client.post("/planning/sites", json={"method": "mclp", "p": 1, "candidates": fc(point, zone)})
    assert ok.status_code == 200, ok.text[:300]


def test_a_place_outside_china_is_named_as_a_place(demo_client):
    """helper-50: who-covers refused (0, 0) as 'Feature point[0]: Position … is outside China', the
    wording of a list of features; it is one place."""
    r = demo_client.get("/coverage/who", params={"lon": 0, "lat": 0})
    assert r.status_code == 400
    body = r.json()
    assert "point[0]" not in body["detail_en"] + body["detail_zh"]
    assert body["detail_en"].startswith("Position (0, 0) is outside China")
    assert body["field"] == "lon"


def test_who_covers_names_the_office_dispatch_escalates_to_on_a_district_border(demo_client):
    """A place on the border of two districts, at an hour nobody is on duty there: /coverage/who named
    the first district of the layer touching it (解放区值班室) while dispatch, where no district holds
    the place, sends the case to the office of the district of the beat that takes it (中站区值班室).
    A dispatcher told one office on the map and another by the dispatch answer does not know where the
    case went; both now name the same office."""
    shapes = list(demo_client.app.state.workspace.frame("districts").geometry)
    places = []
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            shared = shapes[i].boundary.intersection(shapes[j].boundary)
            if shared.length > 0:
                places += [shared.interpolate(k / 7, normalized=True) for k in range(1, 7)]
    assert len(places) >= 12
    at = "2026-12-01T13:00:00+08:00"  # between the morning and the afternoon shifts
    cases = [{"lon": p.x, "lat": p.y, "category": "0201", "reported_at": at} for p in places]
    sent = demo_client.post("/dispatch/cases", json={"cases": cases}).json()["assignments"]
    differ = []
    for p, case in zip(places, sent, strict=True):
        who = demo_client.get("/coverage/who", params={"lon": p.x, "lat": p.y, "at": at}).json()
        if who["escalation"] != case["escalation"]:
            differ.append((p.x, p.y, who["escalation"], case["escalation"]))
    assert differ == []


@pytest.mark.parametrize(
    ("argv", "zh", "en"),
    [
        (["who-covers", "abc", "35.22"], "参数 lon 的值 'abc' 无效（应为数）", "invalid float value: 'abc'"),
        (["who-covers", "113.24"], "缺少参数：lat", "the following arguments are required: lat"),
        (
            ["who-covers", "113.24", "35.22", "--foo", "1"],
            "无法识别的参数：--foo 1",
            "unrecognized arguments",
        ),
        (["who-covers", "113.24", "35.22", "--at"], "参数 --at 需要一个值", "expected one argument"),
        (["who-is"], "参数 command 的值 'who-is' 无效（可选：", "invalid choice: 'who-is'"),
    ],
)
def test_a_command_line_argparse_refuses_is_said_in_both_languages(capsys, argv, zh, en):
    """helper-76: argparse's refusals were English only."""
    from geo_service.cli import main

    with pytest.raises(SystemExit) as out:
        main(argv)
    assert out.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"错误 / error: {zh}")
    assert en in last.split(" / ", 2)[-1]
