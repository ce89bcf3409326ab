"""Coverage over HTTP on the demo workspace, and its bad input."""

from __future__ import annotations


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


def test_bad_input(demo_client):
    r = demo_client.get("/coverage/who", params={"lon": 113.2, "lat": 35.25, "at": "noon"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    r = demo_client.get("/coverage/sites", params={"start": "2026-12-02T00:00", "end": "2026-12-01T00:00"})
    assert r.status_code == 400
    assert "before" in r.json()["detail_en"]
    assert demo_client.get("/coverage/who", params={"lon": 500, "lat": 35}).status_code == 400
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
    assert demo_client.get("/coverage/beats/week", params={"hours": 0}).status_code == 422


def test_site_duty_coverage_in_festival_window(demo_client):
    body = demo_client.get(
        "/coverage/sites", params={"start": "2027-02-05T00:00", "end": "2027-02-06T00:00"}
    ).json()
    assert body["count"] == len(body["uncovered"])
    assert all(r["hour"].startswith("2027-02-05") for r in body["uncovered"])


def test_service_areas_and_what_if(demo_client):
    body = demo_client.get("/coverage/service-areas", params={"max_walk_m": 500}).json()
    sites = demo_client.get("/collections/stall_sites/items", params={"limit": 1}).json()["numberMatched"]
    assert len(body["service_areas"]["features"]) == sites >= 30  # other tests may have added sites
    assert 0 < body["served_share"] < 1
    assert body["unserved_clusters"]["features"]
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
        (
            "post",
            "/dispatch/cases",
            {
                "json": {
                    "cases": [
                        {"lon": 113.2, "lat": 35.2, "category": "0201", "reported_at": "9999-12-31T23:59"}
                    ]
                }
            },
            "reported_at",
        ),
    ]
    for method, url, kwargs, field in far:
        r = getattr(demo_client, method)(url, **kwargs)
        assert r.status_code == 400, (url, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field, (url, r.json())
        assert "1901" in r.json()["detail_en"]
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
        (["who-covers", "113.2", "35.25", "--at", "garbage"], "does not parse"),
        (["who-covers", "nan", "35.25"], "NaN"),
        (["who-covers", "200", "35.25"], "out of the lon/lat range"),
        (["coverage-check", "--week", "9999-12-31"], "1901-2099"),
    ):
        assert main([*argv, *ws]) == 2, argv
        assert said in capsys.readouterr().err, argv
