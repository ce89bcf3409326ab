"""A refusal of a page a browser opens (the maps, their prints, a crew's route sheet) is a page in the
page's language, with the same status; a program that asks for JSON, or names no HTML, still gets
problem+json (RFC 9457)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.conftest import authed

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.fixture
def refused(own_demo_client):
    """The user-tester's refusals: (path, headers of the account asking, status) for a crew account of
    山阳一组 asking for another crew's route, its print and sheet, and for the coverage map; an admin
    asking for the sheet of a crew the plan does not have."""
    c = own_demo_client
    plan = c.post("/plans/snow", json={"title": "拒绝页", "time_limit_s": 1}).json()
    other = next(v["crew"] for v in plan["vehicles"] if v["crew"] != "山阳一组")
    crew = authed(c, "crew", crew="山阳一组")
    admin = authed(c, "admin")
    base = f"/plans/snow/{plan['id']}/crews"
    return c, [
        (f"/maps/route/{plan['id']}/{quote(other)}", crew, 403),
        (f"/maps/route/{plan['id']}/{quote(other)}.pdf", crew, 403),
        (f"{base}/{quote(other)}/sheet", crew, 403),
        ("/maps/coverage", crew, 403),
        (f"{base}/{quote('不存在')}/sheet", admin, 404),
    ]


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_refused_page_is_a_page_for_a_browser(refused):
    """They showed raw JSON in a browser, even one that asked for HTML."""
    c, cases = refused
    for path, headers, status in cases:
        r = c.get(path, headers={**headers, "Accept": BROWSER})
        assert r.status_code == status, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert "content-security-policy" in r.headers  # a page of the service like the others
        text = _text(r.text)
        heading = re.search(r"<h1>(.*?)</h1>", r.text).group(1)
        assert heading == ("无法显示路线单" if path.endswith("/sheet") else "无法显示地图"), path
        said = re.search(r"<p id='error'>(.*?)</p>", r.text).group(1)
        if status == 403:
            assert (
                "作业人员只能查看本班组（山阳一组）的路线" in said
                or "作业班组（crew）无权查看图层与地图" in said
            )
            assert "id='sign-in'" in r.text  # the phone may be a colleague's: sign in as yourself
            # the way on is the crew's own routes, not a map it may not open
            assert re.search(r"<a id='home' href='/maps/crews/[^']+'>本班组路线</a>", r.text), path
        else:
            assert "没有班组「不存在」" in said
        assert "A crew member" in text or "may not" in text or "has no crew" in text  # English below
        assert "{" not in text  # no JSON


@pytest.mark.parametrize("accept", ["application/json", None, "application/json, text/html"])
def test_a_program_still_gets_problem_json(refused, accept):
    c, cases = refused
    for path, headers, status in cases:
        extra = {"Accept": accept} if accept else {}
        r = c.get(path, headers={**headers, **extra})
        assert r.status_code == status, path
        assert r.headers["content-type"].startswith("application/problem+json"), (path, accept)
        assert r.json()["status"] == status


def test_a_refused_page_speaks_the_pages_language(refused):
    c, cases = refused
    path, headers, _ = cases[0]
    r = c.get(path, params={"lang": "en"}, headers={**headers, "Accept": BROWSER})
    assert r.status_code == 403
    assert "<html lang='en'>" in r.text
    assert "<h1>The map cannot be shown</h1>" in r.text
    first, second = re.findall(r"<p[^>]*>(.*?)</p>", r.text)[1:3]
    assert first.startswith("A crew member may read only the routes of their own crew")
    assert second.startswith("作业人员只能查看本班组")  # the other language after it
    assert ">My crew's routes</a>" in r.text


def test_a_page_that_does_not_exist_is_a_page_too(own_demo_client):
    """A mistyped map address, or a plan that is not there, in a browser."""
    c = own_demo_client
    for path in (
        "/maps/nowhere",
        "/maps/route/no-such-plan/山阳一组",
        "/plans/snow/no-such-plan/crews/一组/sheet",
    ):
        r = c.get(path, headers={"Accept": BROWSER})
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html"), path
        api = c.get(path, headers={"Accept": "application/json"})
        assert api.status_code == 404
        assert api.headers["content-type"].startswith("application/problem+json")
    # the API's own answers stay problem+json, whatever a browser asks for
    layer = c.get("/collections/no-such-layer", headers={"Accept": BROWSER})
    assert layer.status_code == 404
    assert layer.headers["content-type"].startswith("application/problem+json")
