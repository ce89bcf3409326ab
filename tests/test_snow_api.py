"""Snow plans over HTTP: stored, listed, read per crew as GeoJSON, GPX and sheet; crews see their own."""

from __future__ import annotations

from urllib.parse import quote

from tests.conftest import authed


def test_plan_store_and_exports(demo_client):
    r = demo_client.post("/plans/snow", json={"time_limit_s": 1, "start": "2026-12-05T06:00:00+08:00"})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert set(plan["clear_times"]) == {"1", "2", "3"}
    assert plan["vehicles"]
    pid = plan["id"]
    assert pid in [p["id"] for p in demo_client.get("/plans/snow").json()["plans"]]
    full = demo_client.get(f"/plans/snow/{pid}").json()
    assert any(f["properties"]["kind"] == "path" for f in full["features"])
    crew = plan["vehicles"][0]["crew"]
    gpx = demo_client.get(f"/plans/snow/{pid}/crews/{crew}.gpx")
    assert gpx.status_code == 200
    assert "<trkpt" in gpx.text
    assert gpx.headers["content-type"].startswith("application/gpx")
    assert (
        quote(f"{pid}-{crew}.gpx", safe="") in gpx.headers["content-disposition"]
    )  # each crew's own file name
    sheet = demo_client.get(f"/plans/snow/{pid}/crews/{crew}/sheet")
    assert "路线单" in sheet.text
    assert crew in sheet.text
    assert demo_client.get(f"/plans/snow/{pid}/crews/无此班组.gpx").status_code == 404
    assert demo_client.get("/plans/snow/nope").status_code == 404
    # a crew member reads their own crew's route only
    own = authed(demo_client, "crew", crew=crew)
    assert demo_client.get(f"/plans/snow/{pid}/crews/{crew}", headers=own).status_code == 200
    other = next(v["crew"] for v in plan["vehicles"] if v["crew"] != crew)
    assert demo_client.get(f"/plans/snow/{pid}/crews/{other}", headers=own).status_code == 403
    assert demo_client.post("/plans/snow", json={"time_limit_s": 1}, headers=own).status_code == 403


def test_bad_plan_requests(demo_client):
    before = len(demo_client.get("/plans/snow").json()["plans"])
    r = demo_client.post("/plans/snow", json={"time_limit_s": 0})
    assert r.status_code == 422
    assert r.json()["field"] == "time_limit_s"
    r = demo_client.post("/plans/snow", json={"time_limit_s": 1, "closed_roads": [99999999]})
    assert r.status_code == 400
    r = demo_client.post("/plans/snow", json={"time_limit_s": 1, "locks": {"bridge:1": "无此班组"}})
    assert r.status_code == 400
    # the start as a dispatcher writes it is refused as a time when it is none, in both languages
    r = demo_client.post("/plans/snow", json={"time_limit_s": 1, "start": "明早"})
    assert r.status_code == 400
    assert r.json()["field"] == "start"
    assert r.json()["detail_zh"].startswith("时间「明早」无法识别")
    assert len(demo_client.get("/plans/snow").json()["plans"]) == before
    # and read when it is one (helper-56: only ISO 8601 was taken)
    r = demo_client.post("/plans/snow", json={"time_limit_s": 1, "start": "2026年12月5日 06:00"})
    assert r.status_code in (200, 201), r.text
    assert r.json()["start"].startswith("2026-12-05T06:00")


def test_a_plan_out_of_time_stops_and_stores_nothing(own_demo_client):
    """Past its budget the caller gets 503 problem+json with Retry-After, and the planning itself stops
    at its next check: it neither keeps a worker busy nor stores the plan later (a thread cannot be
    killed, and before this it ran on and saved a plan nobody was waiting for)."""
    import time

    c = own_demo_client
    before = c.get("/plans/snow").json()["plans"]
    c.app.state.workspace.settings.computation_timeout_s = 0.3
    r = c.post("/plans/snow", json={"time_limit_s": 1})
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"
    assert r.json()["code"] == "computation-timeout"
    time.sleep(6)  # this plan takes about 2 s: the old code went on and stored it by now
    assert c.get("/plans/snow").json()["plans"] == before
    c.app.state.workspace.settings.computation_timeout_s = 60.0
    assert c.post("/plans/snow", json={"time_limit_s": 1}).status_code == 201


def test_the_plan_list_tells_plans_apart(demo_client):
    """helper-29: the list gave ids alone, so two plans for different closures looked alike."""
    bridges = demo_client.get("/collections/bridges_culverts/items", params={"limit": 1}).json()["features"]
    shut = bridges[0]["id"]
    body = {
        "time_limit_s": 1,
        "start": "2026-12-05T06:00:00+08:00",
        "title": "东区断桥",
        "closed_bridges": [shut],
    }
    pid = demo_client.post("/plans/snow", json=body).json()["id"]
    listed = demo_client.get("/plans/snow", params={"limit": 500}).json()
    [mine] = [p for p in listed["plans"] if p["id"] == pid]
    assert mine["title"] == "东区断桥"
    assert mine["closures"]["bridges"] == [f"bridge:{shut}"]
    assert mine["start"].startswith("2026-12-05T06:00")
    assert set(mine["clear_times"]) == {"1", "2", "3"}
    assert listed["total"] >= 1
    first = demo_client.get("/plans/snow", params={"limit": 1}).json()
    assert len(first["plans"]) == 1
    assert demo_client.get("/plans/snow", params={"limit": 0}).status_code in {400, 422}
    r = demo_client.get("/plans/snow/nonexistent")
    assert r.status_code == 404
    assert (r.json()["detail_zh"], r.json()["detail_en"]) == (
        "没有除雪方案「nonexistent」",
        "No snow plan 'nonexistent'",
    )
    r = demo_client.post("/users", json={"name": "test-admin", "role": "viewer", "password": "pw123456789"})
    assert r.status_code == 409
    assert r.json()["title"] == "冲突 / Conflict"  # not a version conflict


def test_a_blank_title_is_refused(demo_client):
    """helper-33: a title of spaces was stored as given."""
    r = demo_client.post("/plans/snow", json={"time_limit_s": 1, "title": "   "})
    assert r.status_code == 400
    assert r.json()["field"] == "title"


def test_order_locks_that_cannot_be_met(demo_client):
    """User-tester: `山阳一组-1@999` put the bridge last with no notice, and bridge:3 and bridge:1 both at
    `山阳一组-1@1` came out 1st and 2nd with no notice. Now: one stop, two items is a 400 naming both; a
    stop beyond the vehicle's stops goes last, and a notice says where."""
    before = len(demo_client.get("/plans/snow").json()["plans"])
    body = {"time_limit_s": 1, "start": "2026-12-05T06:00:00+08:00"}
    r = demo_client.post(
        "/plans/snow", json=body | {"locks": {"bridge:3": "山阳一组-1@1", "bridge:1": "山阳一组-1@1"}}
    )
    assert r.status_code == 400, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["field"] == "locks"
    assert problem["items"] == ["bridge:1", "bridge:3"]
    assert "bridge:1 与 bridge:3" in problem["detail_zh"]
    assert "bridge:1 and bridge:3 are both locked to stop 1" in problem["detail_en"]
    assert len(demo_client.get("/plans/snow").json()["plans"]) == before
    r = demo_client.post("/plans/snow", json=body | {"locks": {"bridge:3": "山阳一组-1@999"}})
    assert r.status_code == 201, r.text[:300]
    [note] = [n for n in r.json()["notices"] if "bridge:3" in n]
    assert "第 999 站" in note
    assert "即最后一站" in note
    assert "is locked to stop 999 of priority 2 of vehicle 山阳一组-1" in note
    assert ", the last" in note
    full = demo_client.get(f"/plans/snow/{r.json()['id']}").json()
    stops = [f["properties"] for f in full["features"] if f["properties"]["kind"] == "stop"]
    own = [s for s in stops if s["vehicle"] == "山阳一组-1" and s["priority"] == 2]
    assert own[-1]["item"] == "bridge:3"
    assert f"(stop {own[-1]['seq']} of the route)" in note
    # helper-50: a vehicle the crew does not have was refused as a malformed lock
    r = demo_client.post("/plans/snow", json=body | {"locks": {"bridge:3": "山阳一组-9@1"}})
    assert r.status_code == 400
    assert "vehicle 山阳一组-9 is not in the plan" in r.json()["detail_en"]
    assert "山阳一组-1" in r.json()["detail_en"]  # the crew's vehicles, to choose from


def test_a_bridge_closed_twice_is_listed_once(demo_client):
    r = demo_client.post(
        "/plans/snow",
        json={"time_limit_s": 1, "closed_bridges": [12, 12], "start": "2026-12-05T06:00:00+08:00"},
    )
    assert r.status_code == 201, r.text[:300]
    assert r.json()["closures"]["bridges"] == ["bridge:12"]
