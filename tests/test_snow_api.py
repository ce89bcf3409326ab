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


GPX = "{http://www.topografix.com/GPX/1/1}"
# the GPX 1.1 schema's sequences (https://www.topografix.com/GPX/1/1/gpx.xsd): each element's children
# in this order, every one at most once but those marked *
_GPX_CHILDREN = {
    "gpx": ("metadata", "wpt*", "rte*", "trk*", "extensions"),
    "metadata": ("name", "desc", "author", "copyright", "link*", "time", "keywords", "bounds", "extensions"),
    "wpt": (
        *("ele", "time", "magvar", "geoidheight", "name", "cmt", "desc", "src", "link*", "sym", "type"),
        *("fix", "sat", "hdop", "vdop", "pdop", "ageofdgpsdata", "dgpsid", "extensions"),
    ),
    "rte": ("name", "cmt", "desc", "src", "link*", "number", "type", "extensions", "rtept*"),
    "trk": ("name", "cmt", "desc", "src", "link*", "number", "type", "extensions", "trkseg*"),
    "trkseg": ("trkpt*", "extensions"),
}
_GPX_CHILDREN["rtept"] = _GPX_CHILDREN["trkpt"] = _GPX_CHILDREN["wpt"]


def _check_gpx_11(el, problems: list[str] | None = None) -> list[str]:
    """What is wrong with ``el`` (an ElementTree element) as GPX 1.1, checked without the XSD (no
    network at test time): namespace, element order and counts, lat/lon ranges, numbers."""
    problems = [] if problems is None else problems
    name = el.tag.removeprefix(GPX)
    if el.tag == name:
        problems.append(f"{el.tag} is not in the GPX 1.1 namespace")
        return problems
    if name in ("wpt", "rtept", "trkpt"):
        lat, lon = float(el.get("lat")), float(el.get("lon"))
        if not (-90 <= lat <= 90 and -180 <= lon < 180):
            problems.append(f"{name} at {lat}, {lon}")
    if name == "number" and not (el.text or "").isdigit():
        problems.append(f"number {el.text!r}")
    order = _GPX_CHILDREN.get(name)
    if order is None:
        return problems
    names = [o.rstrip("*") for o in order]
    last, seen = -1, []
    for child in el:
        tag = child.tag.removeprefix(GPX)
        if tag not in names:
            problems.append(f"<{tag}> in <{name}>")
            continue
        at = names.index(tag)
        if at < last:
            problems.append(f"<{tag}> after <{names[last]}> in <{name}>")
        if tag in seen and not order[at].endswith("*"):
            problems.append(f"<{tag}> twice in <{name}>")
        last, seen = at, [*seen, tag]
        _check_gpx_11(child, problems)
    return problems


def test_a_crew_of_two_vehicles_reads_their_letters_on_the_sheet_and_in_the_gpx(demo_client):
    """A crew of two vehicles got a sheet and a GPX of one run of stops 1, 2, … twice over: which were
    vehicle A's and which B's could not be told. Each vehicle is under its letter, as on the route page,
    its stops labelled A1 … (the GPX: one route and one track per vehicle, waypoints named A1 …, still
    GPX 1.1); ``vehicle`` gives that vehicle alone. The sheet also says what was closed and what the
    plan left unserved, and why."""
    import re
    import xml.etree.ElementTree as ET

    body = {"time_limit_s": 1, "start": "2026-12-05T06:00:00+08:00", "closed_bridges": [12]}
    plan = demo_client.post("/plans/snow", json=body).json()
    crew = "中站一组"
    mine = [v["vehicle"] for v in plan["vehicles"] if v["crew"] == crew]
    assert mine == ["中站一组-1", "中站一组-2"]
    routes = demo_client.get(f"/plans/snow/{plan['id']}/crews/{quote(crew)}").json()
    items = {v["vehicle"]: [s.get("name") or "" for s in v["stops"]] for v in routes["vehicles"]}
    labels = {
        tag: [f"{tag}{k}" for k in range(1, len(items[v]) + 1)] for tag, v in zip("AB", mine, strict=True)
    }

    gpx = demo_client.get(f"/plans/snow/{plan['id']}/crews/{quote(crew)}.gpx")
    assert gpx.status_code == 200
    root = ET.fromstring(gpx.content)
    assert (root.tag, root.get("version"), root.get("creator")) == (f"{GPX}gpx", "1.1", "geo-service")
    assert _check_gpx_11(root) == []
    rtes, trks = root.findall(f"{GPX}rte"), root.findall(f"{GPX}trk")
    assert [r.findtext(f"{GPX}name") for r in rtes] == [f"{t} {v}" for t, v in zip("AB", mine, strict=True)]
    assert [t.findtext(f"{GPX}name") for t in trks] == [r.findtext(f"{GPX}name") for r in rtes]
    for rte, tag, vehicle in zip(rtes, "AB", mine, strict=True):
        points = [p.findtext(f"{GPX}name") for p in rte.findall(f"{GPX}rtept")]
        assert points == [
            f"{lab} {name}".strip() for lab, name in zip(labels[tag], items[vehicle], strict=True)
        ]
    wpts = [w.findtext(f"{GPX}name").split(" ")[0] for w in root.findall(f"{GPX}wpt")]
    assert wpts == labels["A"] + labels["B"]
    assert all(len(t.findall(f"{GPX}trkseg/{GPX}trkpt")) >= 2 for t in trks)

    one = demo_client.get(f"/plans/snow/{plan['id']}/crews/{quote(crew)}.gpx", params={"vehicle": mine[1]})
    root = ET.fromstring(one.content)
    assert _check_gpx_11(root) == []
    assert [r.findtext(f"{GPX}name") for r in root.findall(f"{GPX}rte")] == [f"B {mine[1]}"]
    assert [w.findtext(f"{GPX}name").split(" ")[0] for w in root.findall(f"{GPX}wpt")] == labels["B"]
    assert quote(f"{plan['id']}-{mine[1]}.gpx", safe="") in one.headers["content-disposition"]

    sheet = demo_client.get(f"/plans/snow/{plan['id']}/crews/{quote(crew)}/sheet").text
    sections = re.findall(
        r"<section class='vehicle' data-vehicle='([^']+)' data-tag='([A-Z]+)'>(.*?)</section>", sheet
    )
    assert [(v, t) for v, t, _ in sections] == [(mine[0], "A"), (mine[1], "B")]
    for vehicle, tag, html in sections:
        assert f"<span class='tag'>{tag}</span> 车辆 {vehicle}" in html
        assert re.findall(r"<td class='stop-label'>([^<]+)</td>", html) == labels[tag]
    assert "<p id='closures'><b>封闭：</b>东环路大沙河桥（桥涵）</p>" in sheet
    unserved = re.search(r"<div id='unserved'>(.*?)</div>", sheet).group(1)
    assert "<li>东环路大沙河桥：桥涵封闭</li>" in unserved
    assert "<li>东环路：所在桥涵封闭</li>" in unserved

    only = demo_client.get(
        f"/plans/snow/{plan['id']}/crews/{quote(crew)}/sheet", params={"vehicle": mine[1]}
    ).text
    assert re.findall(r"data-vehicle='([^']+)' data-tag='([A-Z]+)'", only) == [(mine[1], "B")]
    assert re.findall(r"<td class='stop-label'>([^<]+)</td>", only) == labels["B"]
    assert f"· B {mine[1]} 路线单" in only
    assert mine[0] not in only

    missing = demo_client.get(
        f"/plans/snow/{plan['id']}/crews/{quote(crew)}/sheet", params={"vehicle": "中站一组-9"}
    )
    assert missing.status_code == 404
    assert missing.json()["field"] == "vehicle"
    assert "中站一组-1、中站一组-2" in missing.json()["detail_zh"]
    typo = demo_client.get(f"/plans/snow/{plan['id']}/crews/{quote(crew)}.gpx", params={"vehicles": mine[1]})
    assert typo.status_code == 400  # a misspelt parameter is not quietly the whole crew
    # the GeoJSON labels its stops alike
    stops = [f["properties"] for f in routes["features"] if f["properties"]["kind"] == "stop"]
    assert [s["label"] for s in stops] == labels["A"] + labels["B"]
