"""Where each role starts: after signing in on the form, and at the service's address in a browser; and
a crew's own start page, the list of its routes (only its own)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.conftest import authed

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
STARTS = {
    "planner": "/maps/plan",
    "dispatcher": "/maps/coverage",
    "viewer": "/maps/coverage",
    "admin": "/docs",
    "crew": f"/maps/crews/{quote('山阳一组')}",
}


@pytest.mark.parametrize("role", sorted(STARTS))
def test_each_role_lands_on_its_start_page_after_signing_in(own_demo_client, role):
    """The form's hidden ``next`` was /docs, whoever signed in: a crew leader's phone showed a 403 in
    JSON. The form names no page unless one was asked for, and each role lands where its work is."""
    c = own_demo_client
    c.headers.pop("Authorization")
    form = c.get("/auth/login").text
    [kept] = re.findall(r'name="next" value="([^"]*)"', form)
    assert kept == ""
    c.app.state.accounts.add_user(
        f"start-{role}", role, crew="山阳一组" if role == "crew" else None, password="secret-pass-1"
    )
    r = c.post(
        "/auth/login",
        data={"name": f"start-{role}", "password": "secret-pass-1", "next": kept},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == STARTS[role]
    landed = c.get(r.headers["location"], headers={"Accept": BROWSER})  # with the session cookie
    assert landed.status_code == 200, (role, landed.text[:300])
    assert landed.headers["content-type"].startswith("text/html")
    # a page asked for is still where the form goes
    asked = c.get("/auth/login", params={"next": "/maps/coverage?at=2026-12-01T10:00"}).text
    assert 'name="next" value="/maps/coverage?at=2026-12-01T10:00"' in asked


@pytest.mark.parametrize("role", sorted(STARTS))
def test_the_services_address_sends_a_browser_to_its_start_page(anon_client, role):
    """``/`` was a 403 in JSON for a crew account; a browser is sent on to the role's start page, while
    a program keeps the OGC API landing page (and a crew account its 403)."""
    c = anon_client
    headers = authed(c, role, crew="山阳一组" if role == "crew" else None)
    r = c.get("/", headers={**headers, "Accept": BROWSER}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == STARTS[role]
    api = c.get("/", headers={**headers, "Accept": "application/json"})
    if role == "crew":
        assert api.status_code == 403
        assert api.headers["content-type"].startswith("application/problem+json")
    else:
        assert api.status_code == 200
        assert any(link["rel"] == "service-desc" for link in api.json()["links"])


def test_a_crew_start_page_lists_its_own_routes_newest_first(own_demo_client):
    """A crew reached its route only through a link from the dispatcher (GET /plans/snow is not for
    crews). Its start page lists the stored plans that give it a route, newest first, with their starts
    in Beijing time, a link to the crew's route map and to each vehicle's; nothing of another crew."""
    c = own_demo_client
    older = c.post(
        "/plans/snow", json={"title": "早班预案", "start": "2026-12-05T06:00+08:00", "time_limit_s": 1}
    ).json()
    newer = c.post(
        "/plans/snow", json={"title": "夜班预案", "start": "2026-12-05T22:30+08:00", "time_limit_s": 1}
    ).json()
    crew = authed(c, "crew", crew="山阳一组")
    assert c.get("/plans/snow", headers=crew).status_code == 403  # still not theirs to list
    page = c.get(f"/maps/crews/{quote('山阳一组')}", headers={**crew, "Accept": BROWSER})
    assert page.status_code == 200
    plans = re.findall(r"<li class='plan' data-plan='([^']+)'>(.*?)</li>", page.text)
    assert [p for p, _ in plans] == [newer["id"], older["id"]]
    night, morning = (body for _, body in plans)
    assert "夜班预案" in night
    assert "出发 2026-12-05 22:30（北京时间）" in night
    assert "出发 2026-12-05 06:00（北京时间）" in morning
    vehicles = [v["vehicle"] for v in newer["vehicles"] if v["crew"] == "山阳一组"]
    assert f"href='/maps/route/{newer['id']}/{quote('山阳一组')}?lang=zh'" in night
    for name in vehicles:  # one link per vehicle, for its driver
        assert f"?vehicle={quote(name)}&amp;lang=zh'" in night
    hrefs = re.findall(r"href='([^']+)'", page.text)
    routes = [h for h in hrefs if h.startswith(("/maps/route/", "/plans/snow/"))]
    assert routes
    assert all(quote("山阳一组") in h for h in routes)  # no other crew's route
    for other in {v["crew"] for v in newer["vehicles"]} - {"山阳一组"}:
        assert other not in page.text
    english = c.get(f"/maps/crews/{quote('山阳一组')}", params={"lang": "en"}, headers=crew).text
    assert "Starts 2026-12-05 22:30 (Beijing time)" in english
    # crew isolation: another crew's list is refused (as a page, to a browser)
    other = next(v["crew"] for v in newer["vehicles"] if v["crew"] != "山阳一组")
    refused = c.get(f"/maps/crews/{quote(other)}", headers={**crew, "Accept": BROWSER})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    # a dispatcher may open any crew's list (to hand it out); a crew that does not exist is a 404
    assert c.get(f"/maps/crews/{quote(other)}", headers=authed(c, "dispatcher")).status_code == 200
    assert c.get(f"/maps/crews/{quote('不存在组')}").status_code == 404


def test_a_crew_without_plans_is_told_so(own_demo_client):
    c = own_demo_client
    page = c.get(f"/maps/crews/{quote('山阳一组')}", headers=authed(c, "crew", crew="山阳一组"))
    assert page.status_code == 200
    assert "暂无本班组的路线方案" in page.text
