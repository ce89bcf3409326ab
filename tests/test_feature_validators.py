"""Validators of feature answers: an answer that tells a festival point's season today has an ETag
that changes with the day, so revalidating after midnight gets the new season; writes still take the
ETag of a read."""

from __future__ import annotations

import datetime as dt

import pytest

from geo_service.coverage.season import site_season

POINTS = "/collections/festival_sales_points/items"
WINDOW = {"lunar_from": "12-15", "lunar_to": "01-16"}  # 腊月十五 to 正月十六
WAIVED = {"override": "*", "reason": "测试"}  # an empty workspace: the siting rules cannot be checked
UTC = dt.UTC


def _season_changes() -> dt.date:
    """The first day of 2027 whose season of the window differs from the day before's."""
    day = dt.date(2027, 1, 1)
    while site_season(WINDOW, day=day) == site_season(WINDOW, day=day - dt.timedelta(days=1)):
        day += dt.timedelta(days=1)
    return day


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _identity(c) -> str:
    """The part of the workspace's identity its items' ETags name."""
    return c.app.state.workspace.store.identity[:8]


@pytest.fixture
def clocked(settings):
    """A signed-in client over an empty workspace, and the clock its service reads."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from tests.conftest import sign_in

    first = _season_changes()
    # 23:50 in Beijing the evening before the season changes, told in UTC: the day is the service's
    clock = Clock(dt.datetime.combine(first, dt.time(15, 50), UTC) - dt.timedelta(days=1))
    with TestClient(create_app(settings, clock=clock)) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        yield c, clock


def test_revalidating_a_festival_point_after_midnight_gets_the_new_season_and_its_etag_still_writes(clocked):
    c, clock = clocked
    first = _season_changes()
    eve = first - dt.timedelta(days=1)
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    point["properties"] = {"name": "年货点", "district": "山阳区", **WINDOW}
    created = c.post(POINTS, json=point, params=WAIVED)
    assert created.status_code == 201, created.text
    fid = created.json()["id"]

    read = c.get(f"{POINTS}/{fid}")
    etag = read.headers["etag"]
    assert read.json()["season_today"] == {"day": eve.isoformat(), **site_season(WINDOW, day=eve)}
    assert etag == created.headers["etag"]

    clock.now += dt.timedelta(minutes=5)  # 23:55, the same day in Beijing
    same = c.get(f"{POINTS}/{fid}", headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.headers["etag"] == etag
    assert same.content == b""

    clock.now += dt.timedelta(minutes=10)  # 00:05 in Beijing (16:05 UTC): the next day there
    after = c.get(f"{POINTS}/{fid}", headers={"If-None-Match": etag})
    assert after.status_code == 200, after.text
    assert after.json()["season_today"] == {"day": first.isoformat(), **site_season(WINDOW, day=first)}
    assert after.json()["season_today"]["season_state"] != read.json()["season_today"]["season_state"]
    assert after.headers["etag"] != etag
    again = c.get(f"{POINTS}/{fid}", headers={"If-None-Match": after.headers["etag"]})
    assert again.status_code == 304

    # the ETag read last night still names the version to write on: the calendar is no conflict
    patched = c.patch(
        f"{POINTS}/{fid}",
        json={"properties": {"name": "年货点（东）"}},
        headers={"If-Match": etag},
        params=WAIVED,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2
    assert patched.headers["etag"] == f'"2-{_identity(c)}@{first.isoformat()}"'
    stale = c.put(f"{POINTS}/{fid}", json=point, headers={"If-Match": etag}, params=WAIVED)
    assert stale.status_code == 409, stale.text  # version 1 is not the current one any more
    fresh = c.put(f"{POINTS}/{fid}", json=point, headers={"If-Match": patched.headers["etag"]}, params=WAIVED)
    assert fresh.status_code == 200, fresh.text


def test_a_layer_without_a_season_keeps_its_version_as_etag_across_days(clocked):
    c, clock = clocked
    depot = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    depot["properties"] = {"name": "山阳场站"}
    fid = c.post("/collections/depots/items", json=depot).json()["id"]
    read = c.get(f"/collections/depots/items/{fid}")
    tag = f"1-{_identity(c)}"
    assert read.headers["etag"] == f'"{tag}"'
    clock.now += dt.timedelta(days=3)
    item = f"/collections/depots/items/{fid}"
    assert c.get(item, headers={"If-None-Match": f'"{tag}"'}).status_code == 304
    assert c.get(item, headers={"If-None-Match": f'W/"{tag}", "7"'}).status_code == 304
    assert c.get(item, headers={"If-None-Match": f'"2-{_identity(c)}"'}).status_code == 200
    assert c.get(item, headers={"If-None-Match": '"1"'}).status_code == 200  # not the tag: no workspace


def test_an_if_match_that_is_no_etag_of_a_read_is_refused_in_both_languages(clocked):
    c, _ = clocked
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    point["properties"] = {"name": "年货点", "district": "山阳区", **WINDOW}
    fid = c.post(POINTS, json=point, params=WAIVED).json()["id"]
    for bad in ('"1@yesterday"', '"one"', '"@2027-01-01"', '"1-xyz"', '"1-3F9A1C2E"', '"-1"', '"1-"'):
        r = c.patch(
            f"{POINTS}/{fid}", json={"properties": {"name": "改"}}, headers={"If-Match": bad}, params=WAIVED
        )
        assert r.status_code == 400, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["field"] == "If-Match"
        assert "ETag" in body["detail_zh"]
        assert "ETag" in body["detail_en"]
    assert c.get(f"{POINTS}/{fid}").json()["version"] == 1  # nothing written


def test_a_page_of_items_is_answered_304_until_its_layer_changes(clocked):
    c, _ = clocked
    depots = "/collections/depots/items"
    for name in ("山阳场站", "解放场站"):
        depot = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
        depot["properties"] = {"name": name}
        assert c.post(depots, json=depot).status_code == 201
    page = c.get(depots)
    etag = page.headers["etag"]
    assert page.json()["numberReturned"] == 2
    same = c.get(depots, headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.headers["etag"] == etag
    assert same.content == b""
    assert c.get(depots, headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304
    # another page of the same layer is another answer
    first = c.get(depots, params={"limit": 1}, headers={"If-None-Match": etag})
    assert first.status_code == 200
    assert first.json()["numberReturned"] == 1
    assert first.headers["etag"] != etag
    # a write to another layer leaves this one's pages as they were
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    point["properties"] = {"name": "年货点", "district": "山阳区", **WINDOW}
    assert c.post(POINTS, json=point, params=WAIVED).status_code == 201
    assert c.get(depots, headers={"If-None-Match": etag}).status_code == 304
    # a change to one of its features: the page again, with the change and a new tag
    fid = page.json()["features"][0]["id"]
    assert c.patch(f"{depots}/{fid}", json={"properties": {"name": "山阳场站（新）"}}).status_code == 200
    changed = c.get(depots, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "山阳场站（新）" in [f["properties"]["name"] for f in changed.json()["features"]]
    assert changed.headers["etag"] != etag
    assert c.get(depots, headers={"If-None-Match": changed.headers["etag"]}).status_code == 304
    # a deletion too
    assert c.delete(f"{depots}/{fid}").status_code == 204
    gone = c.get(depots, headers={"If-None-Match": changed.headers["etag"]})
    assert gone.status_code == 200
    assert gone.json()["numberReturned"] == 1


def test_a_page_tag_of_a_workspace_made_again_is_no_tag_of_the_new_one(settings):
    """A workspace deleted and made again counts its layers' versions from 0 again: the same page at the
    same version is another answer there, not a 304."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from tests.conftest import sign_in

    depots = "/collections/depots/items"

    def one_depot(name: str, tags: tuple[str, str] | None = None):
        """A new depot in the workspace: the tags of its page and of its item, and with ``tags`` the
        answers to them and to a write naming the item's."""
        with TestClient(create_app(settings)) as c:
            c.headers["Authorization"] = f"Bearer {sign_in(c)}"
            depot = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
            depot["properties"] = {"name": name}
            item = c.post(depots, json=depot).headers["location"]
            page_tag, item_tag = c.get(depots).headers["etag"], c.get(item).headers["etag"]
            for url, tag in ((depots, page_tag), (item, item_tag)):
                assert c.get(url, headers={"If-None-Match": tag}).status_code == 304
            if tags is None:
                return (page_tag, item_tag), None
            renamed = {"properties": {"name": "改名"}}
            answers = (
                c.get(depots, headers={"If-None-Match": tags[0]}),
                c.get(item, headers={"If-None-Match": tags[1]}),
                c.patch(item, json=renamed, headers={"If-Match": tags[1]}),
                c.get(item).json(),
            )
            return (page_tag, item_tag), answers

    earlier, _ = one_depot("山阳场站")
    settings.workspace.unlink()
    again, (page, item, write, after) = one_depot("解放场站", earlier)
    assert [t.split("-")[0] for t in again] == [t.split("-")[0] for t in earlier]  # the same versions
    assert again[0] != earlier[0]
    assert again[1] != earlier[1]
    assert page.status_code == 200
    assert page.json()["features"][0]["properties"]["name"] == "解放场站"
    assert item.status_code == 200
    assert item.json()["properties"]["name"] == "解放场站"
    # a write on the old workspace's version 1 is no write on this one's: 409, nothing written
    assert write.status_code == 409
    assert "另一个工作空间" in write.json()["detail_zh"]
    assert "another workspace" in write.json()["detail_en"]
    assert after["properties"]["name"] == "解放场站"
    assert after["version"] == 1


def test_a_page_of_festival_points_gets_a_new_tag_after_midnight_with_the_new_season(clocked):
    c, clock = clocked
    first = _season_changes()
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    point["properties"] = {"name": "年货点", "district": "山阳区", **WINDOW}
    assert c.post(POINTS, json=point, params=WAIVED).status_code == 201
    page = c.get(POINTS)
    etag = page.headers["etag"]
    clock.now += dt.timedelta(minutes=5)  # 23:55 in Beijing
    assert c.get(POINTS, headers={"If-None-Match": etag}).status_code == 304
    clock.now += dt.timedelta(minutes=10)  # 00:05: the next day, and the point's next season
    after = c.get(POINTS, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.json()["features"][0]["season_today"]["day"] == first.isoformat()
    assert after.headers["etag"] != etag


def test_a_page_tag_names_the_moment_a_datetime_stands_for():
    """``datetime=10:00`` is today's ten o'clock: the same address the next day is another answer."""
    from geo_service.api.routers.features import _page_etag

    url = "http://testserver/collections/depots/items?datetime=10:00"
    today = dt.datetime(2027, 1, 5, 10, tzinfo=UTC)
    tags = {
        _page_etag("a1", 3, url, 100, today, None, None),
        _page_etag("a1", 3, url, 100, today + dt.timedelta(days=1), None, None),
        _page_etag("a1", 3, url, 100, None, (today, None), None),
        _page_etag("a1", 3, url, 50, today, None, None),  # the page size the settings allow changed
        _page_etag("a1", 4, url, 100, today, None, None),
        _page_etag("b2", 3, url, 100, today, None, None),  # another workspace
    }
    assert len(tags) == 6
    assert _page_etag("a1", 3, url, 100, today, None, None) == _page_etag(
        "a1", 3, url, 100, today, None, None
    )


def test_histories_are_answered_304_until_their_layer_changes(clocked):
    c, _ = clocked
    depots = "/collections/depots/items"
    depot = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    depot["properties"] = {"name": "山阳场站"}
    fid = c.post(depots, json=depot).json()["id"]
    for url in (f"{depots}/{fid}/history", "/collections/depots/history"):
        read = c.get(url)
        etag = read.headers["etag"]
        assert len(read.json()["changes"]) >= 1
        assert c.get(url, headers={"If-None-Match": etag}).status_code == 304
    urls = (f"{depots}/{fid}/history", "/collections/depots/history")
    tags = {url: c.get(url).headers["etag"] for url in urls}
    counts = {url: len(c.get(url).json()["changes"]) for url in urls}
    assert c.patch(f"{depots}/{fid}", json={"properties": {"name": "山阳场站（新）"}}).status_code == 200
    for url, etag in tags.items():
        after = c.get(url, headers={"If-None-Match": etag})
        assert after.status_code == 200, url
        assert len(after.json()["changes"]) == counts[url] + 1, url  # the edit is in it
        assert after.headers["etag"] != etag
    # an id that never was is still not found, whatever tag is sent
    missing = c.get(f"{depots}/999/history", headers={"If-None-Match": tags[f"{depots}/{fid}/history"]})
    assert missing.status_code == 404
