"""12345 dispatch: beat, squad on duty, department, asset owners, escalation, duplicates; over HTTP
and Open311; bad rows answered without sinking the batch."""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_service.assignment.dispatch import Categories, dispatch
from geo_service.coverage import BeatIndex
from geo_service.demo.duty import case_categories
from tests.test_coverage import DISTRICT, SHIFTS, grid_beats, ll

TZ = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 12, 5, 12, tzinfo=TZ)


def cases(rows):
    return gpd.GeoDataFrame(
        [{"category": c, "reported_at": t} for c, _, t in rows],
        geometry=[shapely.Point(*ll(*xy)) for _, xy, t in rows],
        crs=4326,
    )


def run(rows, **kw):
    bridge = gpd.GeoDataFrame(
        {"name": ["甲桥"], "owner": ["市政工程处"]},
        geometry=[shapely.Point(*ll(250, 150))],
        crs=4326,
        index=[9],
    )
    return dispatch(
        cases(rows),
        beats=BeatIndex.build(grid_beats()),
        shifts=SHIFTS,
        categories=Categories.from_frame(case_categories()),
        districts=DISTRICT,
        assets=bridge,
        now=NOW,
        **kw,
    )


def test_beat_squad_department_by_hand():
    t = dt.datetime(2026, 12, 1, 10, tzinfo=TZ)
    [a] = run([("噪声扰民", (150, 50), t)])
    assert (a.beat, a.squad, a.department, a.major) == ("B01", "S1", "城管执法大队", "市容环境")
    assert a.escalation is None
    assert any("S1" in r for r in a.reasons)


def test_escalation_when_nobody_on_duty_or_no_beat():
    night = dt.datetime(2026, 12, 1, 21, tzinfo=TZ)
    [off, nobeat] = run(
        [("噪声扰民", (150, 50), night), ("噪声扰民", (150, 150), dt.datetime(2026, 12, 1, 10, tzinfo=TZ))]
    )
    assert off.squad is None
    assert off.escalation == "甲区值班室"
    assert nobeat.beat is None
    assert nobeat.escalation == "甲区值班室"


def test_asset_owner_wins_for_its_categories():
    t = dt.datetime(2026, 12, 1, 10, tzinfo=TZ)
    [ice, noise] = run([("道路积雪结冰", (255, 150), t), ("噪声扰民", (255, 150), t)])
    assert ice.department == "市政工程处"
    assert any("甲桥" in r for r in ice.reasons)
    assert noise.department == "城管执法大队"


def test_duplicates_and_bad_rows():
    t = dt.datetime(2026, 12, 1, 10, tzinfo=TZ)
    out = run(
        [
            ("油烟污染", (50, 50), t),
            ("油烟污染", (60, 55), t + dt.timedelta(hours=2)),
            ("噪声扰民", (60, 55), t + dt.timedelta(hours=2)),
            ("外星人", (50, 50), t),
            ("噪声扰民", (50, 50), NOW + dt.timedelta(days=2)),
            ("噪声扰民", (50, 50), dt.datetime(2025, 1, 1, tzinfo=TZ)),
        ]
    )
    assert out[1].duplicate_of == "case 1"
    assert out[0].duplicate_of is None
    assert out[2].duplicate_of is None
    assert [a.error["code"] for a in out[3:5]] == ["unknown-category", "future"]
    assert out[5].ok  # this roster has no start date, so an old case is still answered
    assert "噪声扰民" in out[3].error["detail_zh"]


def test_batch_over_http_with_gcj02_and_save(demo_client):
    from geo_service.crs import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02(np.array([113.2, 113.3]), np.array([35.25, 35.2]))
    body = {
        "crs": "gcj02",
        "save": True,
        "cases": [
            {
                "lon": float(gx[0]),
                "lat": float(gy[0]),
                "category": "占道经营",
                "reported_at": "2026-12-01T10:00:00+08:00",
            },
            {
                "lon": float(gx[1]),
                "lat": float(gy[1]),
                "category": "0201",
                "reported_at": "2026-12-01T03:00:00+08:00",
            },
            {"lon": 113.3, "lat": 35.2, "category": "不存在", "reported_at": "2026-12-01T10:00:00+08:00"},
        ],
    }
    r = demo_client.post("/dispatch/cases", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    first, night, bad = out["assignments"]
    assert first["ok"]
    assert first["squad"]
    assert first["department"] == "城管执法大队"
    assert first["crew"] is None  # street vending goes to the squad: no depot crew is suggested
    assert night["ok"]
    assert night["escalation"]
    assert night["category"] == "噪声扰民"
    assert not bad["ok"]
    assert out["failed"] == 1
    saved = demo_client.get(f"/collections/incidents/items/{first['incident_id']}").json()
    assert saved["properties"]["squad"] == first["squad"]


def test_upload_csv_and_workload(demo_client):
    csv = "经度,纬度,category,reported_at\n113.2,35.25,噪声扰民,2026-12-01 10:00\n113.21,35.25,油烟污染,2026-12-01 20:00\n"
    r = demo_client.post("/dispatch/cases/upload", files={"file": ("cases.csv", csv.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 2
    # a misspelt field is named, not dropped (helper-56: sav=true saved nothing; crss=gcj02 read WGS 84)
    for field in ("sav", "crss"):
        r = demo_client.post(
            "/dispatch/cases/upload",
            files={"file": ("cases.csv", csv.encode(), "text/csv")},
            data={field: "true" if field == "sav" else "gcj02"},
        )
        assert r.status_code == 400, r.text
        assert r.json()["field"] == field
        assert "crs, save" in r.json()["detail_en"]
    w = demo_client.get(
        "/dispatch/workload", params={"start": "2026-11-01T00:00", "end": "2026-12-01T00:00"}
    ).json()
    assert w["cases"] > 500
    assert sum(w["by_squad"].values()) == w["cases"]
    assert len(w["by_hour"]) == 24
    assert w["by_hour"][3]["cases"] < w["by_hour"][20]["cases"]
    r = demo_client.get("/dispatch/workload", params={"start": "2026-11-30T08:00", "end": "2026-11-30T12:00"})
    assert r.status_code == 200, r.text
    assert [h["hour"] for h in r.json()["by_hour"]] == [8, 9, 10, 11]  # the hours asked for, not 24
    # helper-77: a case stored as a duplicate of another counted as a second case's work
    case = {"lon": 113.239, "lat": 35.2269, "category": "噪声扰民", "reported_at": "2026-11-30T09:00"}
    cases = [{**case, "case_no": "W-1"}] * 2  # (the same ticket twice: the second stored as a duplicate)
    saved = demo_client.post("/dispatch/cases", json={"cases": cases, "save": True})
    assert saved.status_code == 200, saved.text
    again = demo_client.get(
        "/dispatch/workload", params={"start": "2026-11-30T08:00", "end": "2026-11-30T12:00"}
    ).json()
    assert again["cases"] == r.json()["cases"] + 1
    assert again["duplicates_left_out"] == r.json()["duplicates_left_out"] + 1


def test_open311(demo_client):
    services = demo_client.get("/services.json").json()
    assert any(s["service_code"] == "0201" and s["service_name"] == "噪声扰民" for s in services)
    r = demo_client.post(
        "/requests.json",
        data={
            "service_code": "0201",
            "lat": "35.25",
            "long": "113.2",
            "description": "塔北路商户使用高音喇叭",
            "requested_datetime": "2026-12-01T15:00:00+08:00",
        },
    )
    assert r.status_code == 201, r.text
    fid = int(r.json()[0]["service_request_id"])
    got = demo_client.get(f"/collections/incidents/items/{fid}").json()["properties"]
    assert got["category"] == "噪声扰民"
    assert got["department"] == "城管执法大队"
    # the hotline operator reads where it went; a noise complaint sends no crew, an open manhole does
    notice = r.json()[0]["service_notice"]
    assert notice.startswith("已分派至城管执法大队，")
    assert "建议派" not in notice
    assert " / assigned to 城管执法大队, " in notice
    # helper-77: a 3,000-character description and a 600-character address were stored whole, where a
    # dispatched case is held to 2,000 and 500; refused, nothing stored
    before = demo_client.get("/collections/incidents/items", params={"limit": 1}).json()["numberMatched"]
    for name, n in (("description", 2001), ("address_string", 501)):
        long = demo_client.post(
            "/requests.json", data={"service_code": "0201", "lat": "35.25", "long": "113.2", name: "长" * n}
        )
        assert (long.status_code, long.json()["field"]) == (400, name)
        assert f"at most {n - 1} characters" in long.json()["detail_en"]
    assert (
        demo_client.get("/collections/incidents/items", params={"limit": 1}).json()["numberMatched"] == before
    )
    at = "2026-12-01T15:00:00+08:00"
    r = demo_client.post(
        "/requests.json",
        data={"service_code": "0301", "lat": "35.25", "long": "113.2", "requested_datetime": at},
    )
    assert r.status_code == 201, r.text
    # the crew the dispatch answer suggests for the same case
    same = demo_client.post(
        "/dispatch/cases",
        json={"cases": [{"lon": 113.2, "lat": 35.25, "category": "0301", "reported_at": at}]},
    )
    crew = same.json()["assignments"][0]["crew"]["crew"]
    notice = r.json()[0]["service_notice"]
    assert f"建议派{crew}（约 " in notice
    assert f"; crew {crew} suggested (about " in notice
    # a hotline system that sends raw UTF-8 (or GBK, saying so) in a urlencoded body, with the caller's
    # address (helper-56: the text came back as Latin-1 mojibake and the address was dropped)
    posted = []
    for charset, header in (("utf-8", ""), ("gbk", "; charset=GBK")):
        raw = (  # at 15:00, when the squad is on duty (a case of now, at night, goes to the duty office)
            "service_code=0302&lat=35.23&long=113.22&description=塔北路路灯不亮&address_string=塔北路12号"
            "&requested_datetime=2026-12-01T15:00:00%2B08:00"
        )
        r = demo_client.post(
            "/requests.json",
            content=raw.encode(charset),
            headers={"Content-Type": "application/x-www-form-urlencoded" + header},
        )
        assert r.status_code == 201, r.text
        got = demo_client.get(f"/collections/incidents/items/{r.json()[0]['service_request_id']}").json()
        assert (got["properties"]["description"], got["properties"]["address"]) == (
            "塔北路路灯不亮",
            "塔北路12号",
        )
        posted.append(int(r.json()[0]["service_request_id"]))
    # the hotline system polls what became of its cases (helper-56: there was no way to ask)
    one = demo_client.get(f"/requests/{posted[0]}.json")
    assert one.status_code == 200, one.text
    [case] = one.json()
    assert (case["service_request_id"], case["status"], case["service_code"]) == (
        str(posted[0]),
        "open",
        "0302",
    )
    assert case["address"] == "塔北路12号"
    assert case["agency_responsible"] == "市政工程处"
    assert (case["lat"], case["long"]) == (35.23, 113.22)
    assert case["status_notes"].startswith("已分派至市政工程处")
    both = demo_client.get("/requests.json", params={"service_request_id": ",".join(map(str, posted))})
    assert [c["service_request_id"] for c in both.json()] == [str(i) for i in posted]
    assert demo_client.get("/requests/99999999.json").status_code == 404
    assert demo_client.get("/requests/99999999999999999999999.json").status_code == 400  # was a 500
    # a case entered as a feature, never dispatched, is said to be so (it said "已分派至None，None")
    entered = demo_client.post(
        "/collections/incidents/items",
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [113.22, 35.23]},
            "properties": {"category": "占道经营", "reported_at": "2026-12-01T10:00", "source": "12345"},
        },
    )
    note = demo_client.get(f"/requests/{entered.json()['id']}.json").json()[0]["status_notes"]
    assert note == "已受理，尚未分派 / received, not yet dispatched"
    # a patrol's case is not the hotline's to read: not found, by either way of asking
    patrol = demo_client.post(
        "/collections/incidents/items",
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [113.22, 35.23]},
            "properties": {"category": "占道经营", "reported_at": "2026-12-01T10:00", "source": "patrol"},
        },
    ).json()["id"]
    hidden = demo_client.get(f"/requests/{patrol}.json")
    assert hidden.status_code == 404
    assert hidden.json()["detail_zh"] == f"没有编号为 {patrol} 的 12345 热线案件"
    none = demo_client.get("/requests/99999999.json")  # said alike: no telling which ids are others' cases
    assert none.json()["detail_zh"] == "没有编号为 99999999 的 12345 热线案件"
    assert "layer" not in none.json()
    hidden = demo_client.get("/requests.json", params={"service_request_id": f"{posted[0]},{patrol}"})
    assert (hidden.status_code, hidden.json()["field"]) == (404, "service_request_id")
    # a JSON field given twice is refused, as a form's is (json.loads kept the last one)
    twice = demo_client.post(
        "/requests.json",
        content=b'{"service_code": "0302", "lat": 35.23, "long": 113.22, "lat": 36.0}',
        headers={"Content-Type": "application/json"},
    )
    assert twice.status_code == 400
    assert twice.json()["field"] == "lat"
    assert "lat" in twice.json()["detail_zh"]
    many = demo_client.post(
        "/requests.json",
        content="&".join(f"f{i}=1" for i in range(500)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert many.status_code == 400
    assert "more than 100 fields" in many.json()["detail_en"]
    # a media type in capitals is still urlencoded, read in UTF-8 (helper-59: it fell back to Latin-1)
    r = demo_client.post(
        "/requests.json",
        content="service_code=0302&lat=35.23&long=113.22&description=塔北路".encode(),
        headers={"Content-Type": "Application/X-WWW-Form-Urlencoded"},
    )
    assert r.status_code == 201, r.text
    got = demo_client.get(f"/collections/incidents/items/{r.json()[0]['service_request_id']}").json()
    assert got["properties"]["description"] == "塔北路"
    listed = demo_client.post(
        "/requests.json", json={"service_code": "0302", "lat": 35.23, "long": 113.22, "description": ["x"]}
    )
    assert listed.status_code == 400
    assert listed.json()["field"] == "description"
    assert demo_client.get("/requests/abc.json").status_code == 400
    assert demo_client.get("/requests.json", params={"service_request_id": ""}).status_code == 400
    unknown = demo_client.get("/requests.json", params={"service_request_id": "1", "status": "open"})
    assert unknown.status_code == 400
    assert unknown.json()["field"] == "status"
    r = demo_client.post(
        "/requests.json",
        content="description=塔北路".encode("gbk"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400
    assert "charset" in r.json()["detail_en"]
    twice = demo_client.post(
        "/requests.json",
        content=b"service_code=0302&lat=35.23&lat=36&long=113.22",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400
    assert twice.json()["field"] == "lat"
    bad = demo_client.post("/requests.json", data={"service_code": "9999", "lat": "35.25", "long": "113.2"})
    assert bad.status_code == 400
    assert "0201 噪声扰民" in bad.json()["detail_en"]  # the codes an Open311 client sends (helper-50)
    assert bad.json()["detail_en"].startswith("service_code '9999' is not in the service list")
    bad = demo_client.post("/requests.json", data={"service_code": "0201", "lat": "north"})
    assert bad.status_code == 400


def test_batch_of_thousands_is_vectorised(demo_ws):
    from geo_service.api.routers.dispatch import run_dispatch

    inc = demo_ws.frame("incidents")
    inc = inc[
        pd.to_datetime(inc["reported_at"], utc=True) >= pd.Timestamp("2026-01-01", tz="Asia/Shanghai")
    ].iloc[:3000]
    frame = gpd.GeoDataFrame(
        {"category": inc["category"].to_numpy(), "reported_at": list(inc["reported_at"])},
        geometry=inc.geometry.to_numpy(),
        crs=4326,
    )
    out = run_dispatch(demo_ws, frame, with_crews=False)
    assert len(out) == 3000
    assert all(a.ok and (a.squad or a.escalation) for a in out)
    assert pd.Series([a.beat for a in out]).notna().mean() > 0.9


def test_roster_start_is_enforced(demo_client):
    r = demo_client.post(
        "/dispatch/cases",
        json={
            "cases": [
                {
                    "lon": 113.2,
                    "lat": 35.25,
                    "category": "噪声扰民",
                    "reported_at": "2025-06-01T10:00:00+08:00",
                }
            ]
        },
    )
    assert r.json()["assignments"][0]["error"]["code"] == "before-roster"


def test_nearest_crew_for_a_large_batch_equals_network_distances(demo_ws):
    """Crews are found for batches of any size (they were left out above 5,000 cases): one search out
    of the depots, checked against pairwise network distances from every depot to every case."""
    from geo_service.assignment.service import dispatch_cases
    from geo_service.contexts import drive_network
    from geo_service.crs import to_metric
    from geo_service.network import network_distances, snap

    rng = np.random.default_rng(21)
    districts = demo_ws.frame("districts")
    x0, y0, x1, y1 = districts.total_bounds
    n = 6000
    frame = gpd.GeoDataFrame(
        {"category": ["0301"] * n, "reported_at": ["2026-12-01T10:00:00+08:00"] * n},
        geometry=shapely.points(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)),
        crs=4326,
    )
    out = dispatch_cases(demo_ws, frame)
    net = drive_network(demo_ws)
    crs = demo_ws.settings.metric_crs
    depots = demo_ws.frame("depots")
    crews = demo_ws.frame("crews")
    staffed = depots[depots["name"].isin(crews["depot"])]
    d_snap = snap(net, to_metric(staffed.geometry.to_numpy(), crs), max_distance=500)
    c_snap = snap(net, to_metric(frame.geometry.to_numpy(), crs), max_distance=500)
    cost = network_distances(net, d_snap, c_snap)  # depot → case, one-way streets and all
    best = cost.min(axis=0)
    got = np.array([a.crew["minutes"] if a.crew else np.nan for a in out])
    assert np.isfinite(best).sum() > 0.9 * n
    assert np.array_equal(np.isfinite(got), np.isfinite(best))
    ok = np.isfinite(best)
    assert np.allclose(got[ok], np.round(best[ok] / 60, 1), atol=0.051)
    names = staffed["name"].to_numpy()
    depot = np.array([a.crew["depot"] if a.crew else None for a in out], dtype=object)
    chosen = np.array([np.flatnonzero(names == d)[0] if d else -1 for d in depot])
    assert np.allclose(
        cost[chosen[ok], np.flatnonzero(ok)], best[ok], rtol=1e-9
    )  # a nearest depot (ties: either)
    first = crews.drop_duplicates("depot").set_index("depot")["crew"]
    assert all(a.crew["crew"] == first[a.crew["depot"]] for a in out if a.crew)


def test_workload_by_hand():
    """Cases per beat and per squad on duty when reported; beats on duty per hour averaged over the
    period's days (a half hour counts half, two squads on one beat count once, a night shift's
    morning falls on the next day)."""
    from geo_service.assignment.workload import workload
    from geo_service.duty import shifts_from_frame

    grid = [
        {"beat": f"B{i}{j}", "squad": f"S{j}", "weekdays": "1-7", "start": "08:00", "end": "18:00"}
        for i in range(3)
        for j in range(3)
    ]
    shifts = shifts_from_frame(
        pd.DataFrame(
            [
                *grid,
                {"beat": "B00", "squad": "S0", "weekdays": "1-7", "start": "19:00", "end": "23:00"},
                {"beat": "R1", "squad": "SR", "weekdays": "1-7", "start": "06:30", "end": "22:00"},
                {"beat": "B00", "squad": "S0b", "weekdays": "1-7", "start": "12:00", "end": "14:00"},
                {"beat": "B11", "squad": "N", "weekdays": "1", "start": "22:00", "end": "02:00"},
            ]
        )
    )
    mon = dt.datetime(2026, 12, 7, tzinfo=TZ)  # a plain working Monday
    rows = [
        ("噪声扰民", (50, 50), mon + dt.timedelta(hours=12, minutes=30)),  # B00: S0 (first in the roster)
        ("噪声扰民", (250, 250), mon + dt.timedelta(hours=20)),  # B22: nobody
        ("噪声扰民", (150, 150), mon + dt.timedelta(hours=10)),  # the hole in B11: no beat
        ("噪声扰民", (150, 305), mon + dt.timedelta(hours=21)),  # the road beat R1
        ("噪声扰民", (150, 120), mon + dt.timedelta(days=1, hours=1, minutes=30)),  # Monday's night shift
        ("噪声扰民", (150, 120), mon + dt.timedelta(hours=1, minutes=30)),  # Sunday had none
    ]
    w = workload(
        cases(rows),
        beats=BeatIndex.build(grid_beats()),
        shifts=shifts,
        start=mon,
        end=mon + dt.timedelta(days=2),
    )
    assert w["cases"] == 6
    assert w["days"] == 2
    assert w["by_beat"] == {"B00": 1, "B22": 1, "（无网格）": 1, "R1": 1, "B11": 2}
    assert w["by_squad"] == {"S0": 1, "（无人值班）": 2, "（无网格）": 1, "SR": 1, "N": 1}
    cases_per_hour = [h["cases"] for h in w["by_hour"]]
    assert cases_per_hour == [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0]
    expected = [0.5, 0.5, 0, 0, 0, 0, 0.5, 1, *[10] * 10, 1, 2, 2, 2, 1.5, 0.5]
    assert [h["beats_on_duty"] for h in w["by_hour"]] == expected
    monday_only = workload(
        cases(rows[:1]),
        beats=BeatIndex.build(grid_beats()),
        shifts=shifts,
        start=mon,
        end=mon + dt.timedelta(days=1),
    )
    night = [monday_only["by_hour"][h]["beats_on_duty"] for h in (0, 1, 22, 23)]
    assert night == [0, 0, 2, 1]  # Monday's night runs into Tuesday morning; Sunday had none


def test_workload_over_part_of_a_day_reports_the_hours_of_the_window():
    """A window of a few hours was answered with all 24 hours of the day, those outside it with no
    cases and the beats on duty then (a dispatcher asking for Monday evening saw Monday morning's
    beats). Only the hours the window touches are listed, in the window's order (across midnight
    too), each hour's beats on duty averaged over the days on which that hour is in the window;
    a window of a whole day or more lists every hour, 0 to 23."""
    from geo_service.assignment.workload import workload
    from geo_service.duty import shifts_from_frame

    shifts = shifts_from_frame(
        pd.DataFrame(
            [
                {"beat": "B00", "squad": "S0", "weekdays": "1-7", "start": "19:00", "end": "23:00"},
                {"beat": "R1", "squad": "SR", "weekdays": "1-7", "start": "06:30", "end": "22:00"},
                {"beat": "B11", "squad": "N", "weekdays": "1", "start": "22:00", "end": "02:00"},
            ]
        )
    )
    mon = dt.datetime(2026, 12, 7, tzinfo=TZ)
    rows = [
        ("噪声扰民", (250, 250), mon + dt.timedelta(hours=20)),
        ("噪声扰民", (150, 305), mon + dt.timedelta(hours=21)),
        ("噪声扰民", (150, 120), mon + dt.timedelta(days=1, hours=1, minutes=30)),
    ]

    def by_hour(start, end, picked=rows):
        w = workload(cases(picked), beats=BeatIndex.build(grid_beats()), shifts=shifts, start=start, end=end)
        return [(h["hour"], h["cases"], h["beats_on_duty"]) for h in w["by_hour"]]

    evening = by_hour(mon + dt.timedelta(hours=20), mon + dt.timedelta(days=1, hours=2))
    assert evening == [(20, 1, 2), (21, 1, 2), (22, 0, 2), (23, 0, 1), (0, 0, 1), (1, 1, 1)]
    # a window from 08:30 touches the 8 o'clock hour
    morning = by_hour(mon + dt.timedelta(hours=8, minutes=30), mon + dt.timedelta(hours=12), picked=[])
    assert morning == [(8, 0, 1), (9, 0, 1), (10, 0, 1), (11, 0, 1)]
    # Monday 20:00 to Wednesday 02:00: every hour, 22 on two days (Monday, Tuesday), 7 on one
    span = by_hour(mon + dt.timedelta(hours=20), mon + dt.timedelta(days=2, hours=2))
    assert [h for h, _, _ in span] == [*range(24)]
    on_duty = {h: on for h, _, on in span}
    assert on_duty[22] == 1.5  # Monday: B00 and the night squad; Tuesday: B00
    assert on_duty[0] == 0.5  # Tuesday morning: Monday's night shift; Wednesday: none
    assert on_duty[7] == 1  # Tuesday only: R1
    whole = by_hour(mon, mon + dt.timedelta(days=1))
    assert [h for h, _, _ in whole] == [*range(24)]


def _free_at(row, t: pd.Timestamp) -> bool:
    """Whether a crew may be sent to a case reported at ``t``, read from its row as a dispatcher would."""
    if row["status"] in ("off_duty", "out_of_service"):
        return False
    until = row["busy_until"]
    if until is not None and not pd.isna(until):
        return t >= pd.Timestamp(until)
    return row["status"] != "busy"


def test_nearest_available_crew_equals_network_distances_over_the_free_crews(demo_ws):
    """Busy, off-duty and out-of-service crews are not sent; a crew busy until a time is sent to cases
    reported from then on. Checked case by case against pairwise network distances from every depot,
    with the crews free at each case's time read one by one."""
    from geo_service.assignment.crews import nearest_available_crews
    from geo_service.contexts import drive_network
    from geo_service.crs import to_metric
    from geo_service.network import network_distances, snap

    net = drive_network(demo_ws)
    crs = demo_ws.settings.metric_crs
    depots = demo_ws.frame("depots")
    crews = demo_ws.frame("crews").reset_index(drop=True)
    assert list(crews["status"]) == ["available"] * len(crews)  # the demo's crews, as declared
    crews["busy_until"] = crews["busy_until"].astype(object)
    ten = pd.Timestamp("2026-12-01T10:00", tz="Asia/Shanghai")
    plan = {  # crew → (status, busy until)
        "中站一组": ("busy", ten + pd.Timedelta(hours=2)),
        "解放一组": ("out_of_service", None),
        "解放二组": ("available", ten + pd.Timedelta(hours=1)),
        "山阳一组": ("off_duty", None),
        "马村一组": ("busy", None),
    }
    for name, (status, until) in plan.items():
        k = crews.index[crews["crew"] == name][0]
        crews.at[k, "status"], crews.at[k, "busy_until"] = status, until
    rng = np.random.default_rng(5)
    districts = demo_ws.frame("districts")
    x0, y0, x1, y1 = districts.total_bounds
    n = 3000
    pts = to_metric(shapely.points(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)), crs)
    times = ten + pd.to_timedelta(rng.choice([-30, 0, 59, 60, 90, 120, 180], n), unit="min")
    stamp = times.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    got = nearest_available_crews(shapely.get_coordinates(pts), stamp, net, depots, crews, crs)

    names = depots["name"].to_numpy()
    cost = network_distances(
        net,
        snap(net, to_metric(depots.geometry.to_numpy(), crs), max_distance=500),
        snap(net, pts, max_distance=500),
    )  # depot → case
    crewed = set(crews["depot"])  # passed over when nearest and none of its crews may go
    checked = passed = 0
    for i in range(n):
        t = times[i]
        free = [r for _, r in crews.iterrows() if _free_at(r, t)]
        free_depots = [d for d in names if any(r["depot"] == d for r in free)]
        column = {d: cost[list(names).index(d), i] for d in free_depots}
        best = min(column.values(), default=np.inf)
        if not np.isfinite(best):
            assert got.crew[i] is None
            continue
        assert got.minutes[i] == pytest.approx(round(best / 60, 1), abs=0.051)
        assert column[got.depot[i]] == pytest.approx(best, rel=1e-9)
        first_free = next(r["crew"] for r in free if r["depot"] == got.depot[i])
        assert got.crew[i] == first_free  # the first free crew listed at the depot
        everywhere = {d: cost[list(names).index(d), i] for d in crewed}
        nearest = min(everywhere, key=everywhere.get)
        expected = nearest if everywhere[nearest] < best - 1e-6 else None  # strictly nearer, none free
        assert got.passed_over[i] == expected
        passed += expected is not None
        checked += 1
    assert checked > 0.9 * n
    assert passed > 100
    crew_at = dict(zip(range(n), got.crew, strict=True))
    assert {"中站一组", "解放二组"} <= set(crew_at.values())  # freed in the window
    assert not {"解放一组", "山阳一组", "马村一组"} & set(crew_at.values())


def test_a_depot_as_near_as_the_chosen_one_was_not_passed_over(demo_ws):
    """Two depots at one place: 甲 has a free crew, 乙 only an off-duty one. 甲's crew
    goes, and 乙 was not passed over: it is no nearer."""
    from geo_service.assignment.crews import nearest_available_crews
    from geo_service.contexts import drive_network
    from geo_service.crs import to_metric

    net, crs = drive_network(demo_ws), demo_ws.settings.metric_crs
    one = demo_ws.frame("depots").iloc[[0]]
    depots = pd.concat([one.assign(name="甲"), one.assign(name="乙")], ignore_index=True)
    crews = pd.DataFrame(
        {
            "crew": ["乙一组", "甲一组"],
            "depot": ["乙", "甲"],
            "status": ["off_duty", "available"],
            "busy_until": None,
        }
    )
    xy = shapely.get_coordinates(to_metric(one.geometry.to_numpy(), crs)) + np.array([300.0, 200.0])
    got = nearest_available_crews(xy, np.array([1.7e9]), net, depots, crews, crs)
    assert (got.crew[0], got.depot[0], got.passed_over[0]) == ("甲一组", "甲", None)
    crews.loc[1, "status"] = "busy"  # now nobody can go: no crew, and nothing to pass over
    got = nearest_available_crews(xy, np.array([1.7e9]), net, depots, crews, crs)
    assert (got.crew[0], bool(got.none_free[0])) == (None, True)


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        ("9999-12-31", "9999-12-31T00:00:00+08:00"),  # "until further notice": busy, not wrapped to 1816
        ("1600-01-01T00:00:00+08:00", "1600-01-01T00:00:00+08:00"),  # long past: free, not 2184
        ("2026-12-01T02:00:00Z", "2026-12-01T10:00:00+08:00"),
        (dt.datetime(2026, 12, 1, 10), "2026-12-01T10:00:00+08:00"),  # no zone: Beijing time
        ("", None),
    ],
)
def test_busy_until_any_year(until, expected):
    from geo_service.assignment.crews import free_from

    crews = pd.DataFrame({"crew": ["c"], "depot": ["d"], "status": ["available"], "busy_until": [until]})
    want = -np.inf if expected is None else dt.datetime.fromisoformat(expected).timestamp()
    assert free_from(crews)[0] == want
    assert free_from(crews.assign(status="busy"))[0] == (np.inf if expected is None else want)


def test_dispatcher_marks_crews_busy_and_the_next_nearest_goes(own_demo_client):
    """As a dispatcher would: mark crews busy or off duty in the crews layer, and the case goes to the
    next crew, the reasons naming the depot passed over; a bad status is refused and nothing changes."""
    c = own_demo_client
    crews = {
        f["properties"]["crew"]: f for f in c.get("/collections/crews/items?limit=100").json()["features"]
    }
    depot = next(
        f
        for f in c.get("/collections/depots/items?limit=100").json()["features"]
        if f["properties"]["name"] == "解放区市政场站"
    )
    lon, lat = depot["geometry"]["coordinates"]

    def send(at: str) -> dict:
        body = {"cases": [{"lon": lon, "lat": lat + 0.001, "category": "0301", "reported_at": at}]}
        r = c.post("/dispatch/cases", json=body)
        assert r.status_code == 200, r.text
        return r.json()["assignments"][0]

    def mark(crew: str, **properties) -> None:
        f = crews[crew]
        r = c.patch(f"/collections/crews/items/{f['id']}", json={"properties": properties})
        assert r.status_code == 200, r.text

    first = send("2026-12-01T10:00:00+08:00")
    assert first["crew"]["crew"] == "解放一组"
    assert first["crew"]["passed_over"] is None

    mark("解放一组", status="busy", busy_until="2026-12-01T11:00:00+08:00")
    second = send("2026-12-01T10:00:00+08:00")
    assert second["crew"]["crew"] == "解放二组"  # the depot's next crew
    assert second["crew"]["minutes"] == first["crew"]["minutes"]
    assert send("2026-12-01T11:00:00+08:00")["crew"]["crew"] == "解放一组"  # free again from 11:00

    mark("解放二组", status="off_duty")
    third = send("2026-12-01T10:30:00+08:00")
    assert third["crew"]["depot"] != "解放区市政场站"
    assert third["crew"]["minutes"] > first["crew"]["minutes"]
    assert third["crew"]["passed_over"] == "解放区市政场站"
    assert any("解放区市政场站" in r and "busy, off duty or out of service" in r for r in third["reasons"])

    for name in crews:
        mark(name, status="out_of_service")
    none = send("2026-12-01T10:30:00+08:00")
    assert none["crew"] is None
    assert none["squad"]  # the rest of the answer stands
    assert any("no crew is available" in r for r in none["reasons"])

    before = c.get(f"/collections/crews/items/{crews['解放一组']['id']}").json()
    bad = c.patch(
        f"/collections/crews/items/{crews['解放一组']['id']}", json={"properties": {"status": "broken"}}
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    problem = bad.json()
    assert "status" in problem["detail_zh"]
    assert "status" in problem["detail_en"]
    assert c.get(f"/collections/crews/items/{crews['解放一组']['id']}").json() == before
    # a depot that does not exist, a field outside "properties", an empty patch: refused, nothing changed
    url = f"/collections/crews/items/{crews['解放一组']['id']}"
    for body, field in (
        ({"properties": {"depot": "不存在的场站"}}, "depot"),
        ({"status": "available"}, "status"),
        ({}, None),
    ):
        refused = c.patch(url, json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json().get("field") == field
        assert c.get(url).json() == before


def _count(client, layer: str) -> int:
    return client.get(f"/collections/{layer}/items", params={"limit": 1}).json()["numberMatched"]


def test_cases_at_impossible_places_are_refused_and_never_saved(own_demo_client):
    """Open311 and JSON cases at NaN, infinite, out-of-range or foreign coordinates, and uploaded rows
    with no point or a line: each refused naming why, none stored; the good ones beside them stand.
    A case refused is nobody's duplicate."""
    c = own_demo_client
    stored = _count(c, "incidents")
    good = {"service_code": "0201", "requested_datetime": "2026-12-01T15:00:00+08:00"}
    for lat, lon in (("inf", "113.2"), ("nan", "113.2"), ("999", "113.2"), ("52.5", "13.4")):
        r = c.post("/requests.json", data={**good, "lat": lat, "long": lon})
        assert r.status_code == 400, (lat, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "lat"
    r = c.post("/requests.json", json={**good, "lat": 35.25, "long": 113.2, "requested_datetime": 12345})
    assert r.status_code == 400
    assert r.json()["field"] == "requested_datetime"
    r = c.post(
        "/requests.json", data={**good, "lat": "35.25", "long": "113.2", "requested_datetime": "2099-01-01"}
    )
    assert r.json()["field"] == "requested_datetime"
    assert _count(c, "incidents") == stored

    at = "2026-12-01T10:00:00+08:00"
    body = {
        "save": True,
        "cases": [
            {"lon": 13.4, "lat": 52.5, "category": "0201", "reported_at": at},  # Berlin
            {
                "lon": 113.236,
                "lat": 35.217,
                "category": "燃气安全",
                "reported_at": "2025-12-31T20:00:00+08:00",
            },
            {
                "lon": 113.236,
                "lat": 35.217,
                "category": "燃气安全",
                "reported_at": "2026-01-01T10:00:00+08:00",
            },
        ],
    }
    out = c.post("/dispatch/cases", json=body).json()
    berlin, early, later = out["assignments"]
    assert berlin["error"]["code"] == "bad-location"
    assert "outside China" in berlin["error"]["detail_en"]
    assert berlin["incident_id"] is None
    assert early["error"]["code"] == "before-roster"
    assert later["ok"]
    assert later["duplicate_of"] is None  # the refused case was never saved: nothing to duplicate
    assert _count(c, "incidents") == stored + 1

    csv = (
        "category,reported_at,geometry\n"
        "0201,2026-12-01 10:00,POINT (113.2 35.25)\n"
        ",2026-12-01 10:00,POINT (113.2 35.25)\n"
    )
    r = c.post("/dispatch/cases/upload", files={"file": ("cases.csv", csv.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    point, blank = r.json()["assignments"]
    assert point["ok"]
    assert blank["error"]["detail_en"] == "Row 3: no category"  # named as the spreadsheet shows it
    assert blank["row"] == 3
    props = {"category": "0201", "reported_at": "2026-12-01T10:00:00+08:00"}
    features = [
        {
            "type": "Feature",
            "properties": props,
            "geometry": {"type": "Point", "coordinates": [113.2, 35.25]},
        },
        {
            "type": "Feature",
            "properties": props,
            "geometry": {"type": "LineString", "coordinates": [[113.2, 35.25], [113.21, 35.26]]},
        },
        {"type": "Feature", "properties": props, "geometry": None},
    ]
    geojson = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    r = c.post("/dispatch/cases/upload", files={"file": ("cases.geojson", geojson, "application/geo+json")})
    assert r.status_code == 200, r.text
    point, line, nowhere = r.json()["assignments"]
    assert point["ok"]
    assert line["error"]["code"] == "bad-location"
    assert "LineString" in line["error"]["detail_en"]
    assert nowhere["error"]["code"] == "bad-location"
    no_time = "category,reported_at,geometry\n0201,2026-12-01 10:00,POINT (113.2 35.25)\n0201,,POINT (113.2 35.25)\n"
    r = c.post("/dispatch/cases/upload", files={"file": ("cases.csv", no_time.encode(), "text/csv")})
    assert r.status_code == 200, r.text  # an empty time cell is the time the file came in, as in JSON
    timed, untimed = r.json()["assignments"]
    assert timed["ok"]
    assert untimed["ok"]
    assert untimed["reasons"][0].startswith("未填上报时间，按收到时间")


def test_metric_coordinates_and_workload_windows(own_demo_client):
    """A batch in the city's projected CRS is answered as the same points in lon/lat; workload windows
    with no end, or from the year 1, are refused; the English reasons name the office and the squad."""
    from geo_service.crs import to_metric

    c = own_demo_client
    lon, lat = 113.2, 35.25
    x, y = shapely.get_coordinates(to_metric(np.array([shapely.Point(lon, lat)]), "EPSG:4547"))[0]
    at = "2026-12-01T10:00:00+08:00"
    plain = c.post(
        "/dispatch/cases", json={"cases": [{"lon": lon, "lat": lat, "category": "0201", "reported_at": at}]}
    )
    metric = c.post(
        "/dispatch/cases",
        json={"crs": "EPSG:4547", "cases": [{"lon": x, "lat": y, "category": "0201", "reported_at": at}]},
    )
    assert metric.status_code == 200, metric.text
    a, b = plain.json()["assignments"][0], metric.json()["assignments"][0]
    assert (a["beat"], a["squad"], a["crew"]) == (b["beat"], b["squad"], b["crew"])
    assert any(f"squad on duty {a['squad']}" in r for r in a["reasons"])
    night = c.post(
        "/dispatch/cases",
        json={
            "cases": [
                {"lon": lon, "lat": lat, "category": "0201", "reported_at": "2026-12-01T03:00:00+08:00"}
            ]
        },
    ).json()["assignments"][0]
    assert any(r.endswith(f"escalated to {night['escalation']}") for r in night["reasons"])
    for params, field in (
        ({"start": "2026-12-01", "end": ""}, "end"),
        ({"start": "0001-01-01", "end": "0001-02-01"}, "start"),
    ):
        r = c.get("/dispatch/workload", params=params)
        assert r.status_code == 400, r.text
        assert r.json()["field"] == field


def test_request_validation_speaks_chinese(demo_client):
    """FastAPI's own checks (pydantic) come back with a Chinese detail too, not pydantic's English."""
    case = {"lon": 113.2, "lat": 35.25, "category": "", "reported_at": "2026-12-01T10:00:00+08:00"}
    r = demo_client.post("/dispatch/cases", json={"cases": [case]})
    assert r.status_code == 422
    body = r.json()
    assert body["detail_zh"] == "参数「cases.0.category」无效：至少 1 个字符"
    assert "at least 1 character" in body["detail_en"]
    r = demo_client.post(
        "/dispatch/cases", json={"cases": [{**case, "category": "0201", "reported_at": "soon"}]}
    )
    [soon] = r.json()["assignments"]  # a time that cannot be read is the case's error, not the batch's
    assert soon["error"]["code"] == "bad-time"
    assert "2026年12月1日 21:00" in soon["error"]["detail_zh"]


def test_a_body_that_is_no_json_is_named_as_the_body(demo_client):
    for body in ("{", ""):
        r = demo_client.post("/dispatch/cases", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422
        assert r.json()["field"] == "body"
        assert "body" in r.json()["detail_en"]


def test_a_depot_with_crews_cannot_be_deleted_or_renamed(own_demo_client):
    """Crews name their depot: while they do, deleting or renaming it is a 409 that names them, and
    nothing changes; a depot nobody names is deleted as before."""
    c = own_demo_client
    depots = {
        f["properties"]["name"]: f for f in c.get("/collections/depots/items?limit=100").json()["features"]
    }
    used = depots["解放区市政场站"]
    url = f"/collections/depots/items/{used['id']}"
    for r in (c.delete(url), c.patch(url, json={"properties": {"name": "新场站"}})):
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "crews" in r.json()["detail_en"]
    assert c.get(url).json()["properties"] == used["properties"]
    assert c.patch(url, json={"properties": {"salt_store": False}}).status_code == 200  # other fields: fine
    spare = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    spare["properties"] = {"name": "备用场站"}
    made = c.post("/collections/depots/items", json=spare).json()
    assert c.delete(f"/collections/depots/items/{made['id']}").status_code == 204


def test_replacing_the_depots_keeps_the_ones_crews_name(own_demo_client):
    """An import that replaces the depots layer without a depot the crews name is a 409; with it, fine."""
    import json

    c = own_demo_client
    exported = json.loads(c.get("/collections/depots/export", params={"f": "geojson"}).content)
    without = {
        **exported,
        "features": [f for f in exported["features"] if f["properties"]["name"] != "解放区市政场站"],
    }
    files = {"file": ("depots.geojson", json.dumps(without).encode(), "application/geo+json")}
    r = c.post("/collections/depots/import", files=files, data={"mode": "replace"})
    assert r.status_code == 409, r.text[:300]
    assert "crews" in r.json()["detail_en"]
    files = {"file": ("depots.geojson", json.dumps(exported).encode(), "application/geo+json")}
    assert c.post("/collections/depots/import", files=files, data={"mode": "replace"}).status_code in (
        200,
        201,
    )


def test_a_crew_is_suggested_only_for_the_kinds_of_case_crews_handle(demo_ws):
    """helper-44: a noise complaint and a gas leak were given the nearest snow crew. The categories table
    says which kinds of case send a crew (``sends_crew``): manhole covers and waterlogging do, noise and
    gas leaks do not; a category whose cell is blank is given one, as before the column was."""
    from geo_service.assignment.service import dispatch_cases

    kinds = ["窨井盖", "道路积水", "噪声扰民", "燃气泄漏", "路灯"]
    frame = gpd.GeoDataFrame(
        {"category": kinds, "reported_at": ["2026-12-01T10:00:00+08:00"] * len(kinds)},
        geometry=[shapely.Point(113.24, 35.22)] * len(kinds),
        crs=4326,
    )
    out = dispatch_cases(demo_ws, frame)
    assert [a.crew is not None for a in out] == [True, True, False, False, False]
    for a in out[2:]:  # and says why (helper-50: a dispatcher who changed the table could not tell)
        assert "the category table sends no crew for this kind of case" in " ".join(a.reasons)


def test_a_category_whose_crew_cell_is_blank_is_given_a_crew(own_demo_client):
    """A workspace made before ``sends_crew`` existed has the column blank: crews are suggested as they were."""
    c = own_demo_client
    found = c.get("/collections/case_categories/items", params={"minor": "路灯"}).json()["features"]
    [row] = found
    assert row["properties"]["sends_crew"] is False
    r = c.patch(
        f"/collections/case_categories/items/{row['id']}",
        json={"properties": {"sends_crew": None}},
        headers={"If-Match": f'"{row["version"]}"'},
    )
    assert r.status_code == 200, r.text[:300]
    case = {"lon": 113.24, "lat": 35.22, "category": "路灯", "reported_at": "2026-12-01T10:00:00+08:00"}
    [answer] = c.post("/dispatch/cases", json={"cases": [case]}).json()["assignments"]
    assert answer["crew"] is not None
    assert answer["crew"]["minutes"] > 0


def test_workload_counts_a_case_for_the_beat_whose_squad_took_it():
    """A case in an area beat nobody is on duty in, within reach of a road beat whose squad is on duty,
    is taken by the road beat's squad: dispatch answers (and stores) beat R1, squad SR. Workload
    counted it for squad SR but for beat B21, so the beats' figures disagreed with the squads' and
    with the stored cases; it now counts for R1 too. A case no squad takes stays with the area beat."""
    from geo_service.assignment.workload import workload

    evening = dt.datetime(2026, 12, 1, 19, tzinfo=TZ)  # B21's squad went off at 18:00; R1 runs to 22:00
    rows = [("噪声扰民", (150, 295), evening), ("噪声扰民", (150, 250), evening)]
    [sent, alone] = run(rows)
    assert (sent.beat, sent.squad) == ("R1", "SR")
    assert (alone.beat, alone.squad) == ("B21", None)
    w = workload(cases(rows), beats=BeatIndex.build(grid_beats()), shifts=SHIFTS)
    assert w["by_squad"] == {"SR": 1, "（无人值班）": 1}
    assert w["by_beat"] == {"R1": 1, "B21": 1}


def test_a_category_written_with_its_major_class_is_read(demo_client):
    """helper-69: 街面秩序/占道经营, as the answers' reasons name a category, was refused as input."""
    cats = demo_client.get("/collections/case_categories/items", params={"limit": 1000}).json()["features"]
    row = next(c["properties"] for c in cats if c["properties"]["minor"] == "占道经营")
    at = "2026-12-01T15:00:00+08:00"
    cases = [
        {"lon": 113.2, "lat": 35.25, "category": name, "reported_at": at}
        for name in ("占道经营", f"{row['major']}/占道经营", f" {row['major']} / 占道经营 ")
    ]
    got = demo_client.post("/dispatch/cases", json={"cases": cases}).json()["assignments"]
    assert [a.get("error") for a in got] == [None, None, None]
    assert len({a["department"] for a in got}) == 1
    wrong = demo_client.post(
        "/dispatch/cases", json={"cases": [{**cases[0], "category": "市容环境/占道经营X"}]}
    ).json()["assignments"][0]
    assert wrong["error"]["code"] == "unknown-category"


def test_a_json_body_not_in_utf8_is_said_to_be(demo_client):
    """helper-69: a GBK JSON body was answered 'There was an error parsing the body'."""
    case = {"lon": 113.2, "lat": 35.25, "category": "占道经营", "reported_at": "2026-12-01T15:00"}
    body = json.dumps({"cases": [case]}, ensure_ascii=False).encode("gbk")
    r = demo_client.post("/dispatch/cases", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "UTF-8" in r.json()["detail_en"]
    assert "UTF-8" in r.json()["detail_zh"]


def test_a_batch_of_more_cases_than_a_request_may_hold_is_refused_as_json_and_as_a_table(demo_client):
    """helper-77: a table of 50,001 rows was dispatched (18 s) where the same cases as JSON were refused;
    and the refusal did not say how many a batch may hold."""
    most = demo_client.app.state.workspace.settings.max_features_per_request
    row = "113.2,35.25,噪声扰民,2026-12-01 10:00\n"
    table = ("经度,纬度,category,reported_at\n" + row * (most + 1)).encode()
    up = demo_client.post("/dispatch/cases/upload", files={"file": ("cases.csv", table, "text/csv")})
    case = {"lon": 113.2, "lat": 35.25, "category": "噪声扰民", "reported_at": "2026-12-01T10:00"}
    batch = demo_client.post("/dispatch/cases", json={"cases": [case] * (most + 1)})
    for r in (up, batch):
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        assert f"at most {most}" in r.json()["detail_en"]
        assert f"一次最多 {most} 个" in r.json()["detail_zh"]
