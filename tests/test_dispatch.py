"""12345 dispatch: beat, squad on duty, department, asset owners, escalation, duplicates; over HTTP
and Open311; bad rows answered without sinking the batch."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
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
    assert out[1].duplicate_of == "row 1"
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
    assert first["crew"]["minutes"] > 0
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
    w = demo_client.get(
        "/dispatch/workload", params={"start": "2026-11-01T00:00", "end": "2026-12-01T00:00"}
    ).json()
    assert w["cases"] > 500
    assert sum(w["by_squad"].values()) == w["cases"]
    assert len(w["by_hour"]) == 24
    assert w["by_hour"][3]["cases"] < w["by_hour"][20]["cases"]


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
    bad = demo_client.post("/requests.json", data={"service_code": "9999", "lat": "35.25", "long": "113.2"})
    assert bad.status_code == 400
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
        {"category": ["0201"] * n, "reported_at": ["2026-12-01T10:00:00+08:00"] * n},
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
