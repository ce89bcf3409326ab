"""Map pages at the HTTP level: offline assets only, data drawn, readable errors, sign-in redirect."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

ASSET = re.compile(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)["']""")


def _offline(html: str) -> None:
    for url in ASSET.findall(html):
        assert url.startswith("/static/"), url
    assert "cdn.jsdelivr" not in html
    assert "code.jquery" not in html
    assert "cdnjs" not in html


def test_plan_page(demo_client):
    r = demo_client.get("/maps/plan")
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    _offline(r.text)
    assert "leaflet-geoman" in r.text
    assert "果蔬临时摊位" in r.text
    assert "图例" in r.text
    en = demo_client.get("/maps/plan", params={"lang": "en"}).text
    assert "Stall sites" in en
    assert "Legend" in en


def test_plan_page_offers_editing_only_to_roles_that_may_edit(demo_client):
    """The planner's map offers drawing, editing, deleting and restoring (and the override's reason) to
    a role that may edit the site layers; a dispatcher or viewer reads the same map with none of it."""
    from tests.conftest import authed

    planner = demo_client.get("/maps/plan", headers=authed(demo_client, "planner")).text
    assert "leaflet-geoman" in planner
    assert "id='override-reason'" in planner
    assert "window.deleteSite" in planner
    assert '"can_override": true' in planner
    for role in ("dispatcher", "viewer"):
        page = demo_client.get("/maps/plan", headers=authed(demo_client, role))
        assert page.status_code == 200
        assert "leaflet-geoman" not in page.text
        assert "override-reason" not in page.text
        assert "window.deleteSite" not in page.text
        assert "id='read-only'" in page.text
        assert "腊月" in page.text  # the festival points' lunar dates are told to every reader
    crew = demo_client.get(
        "/maps/plan", headers={**authed(demo_client, "crew", crew="中站一组"), "Accept": "text/html"}
    )
    assert crew.status_code == 403
    # paper has no tools for anyone
    from geo_service.maps.plan_page import SITE_LAYERS, plan_page

    printed = plan_page(
        demo_client.app.state.workspace, printing=True, editable=SITE_LAYERS, may_override=True
    )
    assert "leaflet-geoman" not in printed
    assert "override-reason" not in printed


def test_coverage_page(demo_client):
    r = demo_client.get("/maps/coverage", params={"at": "2026-12-01T21:00"})
    assert r.status_code == 200
    _offline(r.text)
    assert "在岗网格" in r.text
    assert "figures" in r.text
    assert "url(#hatch)" in r.text
    bad = demo_client.get("/maps/coverage", params={"at": "tonight"}, headers={"Accept": "text/html"})
    assert bad.status_code == 400
    assert "text/html" in bad.headers["content-type"]
    assert "无法显示地图" in bad.text
    assert "is not understood" in bad.text  # the other language below
    api = demo_client.get("/maps/coverage", params={"at": "tonight"}, headers={"Accept": "application/json"})
    assert api.status_code == 400
    assert api.headers["content-type"].startswith("application/problem+json")


def test_route_page_errors_are_readable(demo_client):
    r = demo_client.get("/maps/route/nope/一组", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert "无法显示地图" in r.text


def test_browser_without_session_is_sent_to_sign_in(anon_client):
    r = anon_client.get("/maps/coverage", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/auth/login?next=/maps/coverage")
    assert anon_client.get("/maps/coverage").status_code == 401  # an API client still gets problem+json


def test_amap_basemap_shifts_overlays(demo_gpkg, tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings
    from tests.conftest import sign_in

    path = tmp_path / "w.gpkg"
    shutil.copy(demo_gpkg, path)
    with TestClient(create_app(Settings(workspace=path, basemap="amap"))) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        html = c.get("/maps/plan").text
        assert "autonavi" in html
        assert '"crs": "gcj02"' in html


@pytest.mark.browser
def test_png_and_pdf_prints(demo_client):
    png = demo_client.get("/maps/coverage.png", params={"at": "2026-12-01T10:00"})
    assert png.status_code == 200
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = demo_client.get("/maps/plan.pdf")
    assert pdf.status_code == 200
    assert pdf.content[:5] == b"%PDF-"
    assert demo_client.get("/maps/plan.gif").status_code == 400


HOSTILE = "<img src=x onerror=alert(1)>"


def test_names_and_links_in_map_pages_are_text_not_markup(own_demo_client):
    """helper-25: a plan title, crew, vehicle or stop name ran as script on the crew's route page (and, in
    a print, an iframe in a title showed a file of the server); the language link carried the query
    into the page as it came; a district's name ran in the coverage figures."""
    c = own_demo_client
    assert (
        c.patch("/collections/districts/items/1", json={"properties": {"name": HOSTILE}}).status_code == 200
    )
    bridge = c.get("/collections/bridges_culverts/items", params={"limit": 1}).json()["features"][0]
    c.patch(
        f"/collections/bridges_culverts/items/{bridge['id']}", json={"properties": {"name": HOSTILE + "桥"}}
    )
    plan = c.post(
        "/plans/snow", json={"title": HOSTILE + "<iframe src=/etc/hostname></iframe>预案", "time_limit_s": 1}
    )
    assert plan.status_code in (200, 201), plan.text[:300]
    body = plan.json()
    crew = body["vehicles"][0]["crew"] if "vehicles" in body else next(iter(body["crews"]))
    pages = [
        c.get(f"/maps/route/{body['id']}/{crew}").text,
        c.get("/maps/coverage", params={"at": "2026-12-01T10:00"}).text,
        c.get("/maps/plan", params={"y": '"><img src=x onerror=alert(2)>'}).text,
        c.get(f"/maps/route/{body['id']}/{crew}", params={"a": "'><img src=x onerror=alert(3)>"}).text,
    ]
    for page in pages:
        # outside the scripts (inside them names are JSON strings, which the pages escape when they show them)
        markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.DOTALL)
        assert "<img src=x" not in markup
        assert "<iframe src=/etc" not in markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0]  # shown, as text
    assert '<html lang="zh-CN">' in pages[0]  # pages say their language and title (helper-25)
    assert "<title>&lt;img src=x" in pages[0]
    assert "<title>值守覆盖</title>" in pages[1]


def test_a_print_shows_no_file_of_the_server(tmp_path):
    """Prints run from a local file: whatever text got into the page, it may not frame another file of
    the server (before, a plan title with an iframe printed /etc/hostname into the crew's PNG)."""
    import io
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from geo_service.maps.prints import print_page
    from geo_service.settings import Settings

    chromium = Path(Settings().chromium)

    def _red(png: bytes) -> int:
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        return int(((rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)).sum())

    secret = tmp_path / "secret.html"
    secret.write_text("<body style='margin:0;background:#ff0000'></body>", encoding="utf-8")
    page = f"<html><head></head><body><iframe src='{secret.as_uri()}' width=600 height=300></iframe></body></html>"
    png = print_page(page, fmt="png", chromium=chromium, width=700, height=400, wait_ms=1500)
    red = _red(png)
    assert red == 0, red
    # the same file shown where it may be (an image of the page itself): the check can tell
    shown = print_page(
        "<html><head></head><body style='margin:0;background:#ff0000'></body></html>",
        fmt="png",
        chromium=chromium,
        width=700,
        height=400,
        wait_ms=500,
    )
    assert _red(shown) > 1000


def test_a_festival_point_without_lunar_dates_does_not_break_the_coverage_map(own_demo_client):
    """helper-25: a festival point saved without lunar_from/lunar_to (both optional) made /maps/coverage
    a 500 until someone edited it: the empty fields read as NaN."""
    c = own_demo_client
    point = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [113.24, 35.22]},
        "properties": {"name": "无农历日期的销售点", "district": "解放区"},
    }
    made = c.post(
        "/collections/festival_sales_points/items", json=point, params={"override": "*", "reason": "测试"}
    )
    assert made.status_code == 201, made.text[:300]
    assert c.get("/maps/coverage", params={"at": "2026-12-01T10:00"}).status_code == 200
    assert (
        c.get("/coverage/sites", params={"start": "2026-12-01T00:00", "end": "2026-12-02T00:00"}).status_code
        == 200
    )


def test_a_crew_member_signs_in_to_their_route(own_demo_client):
    """helper-25: a crew member signing in without a page in mind landed on the API docs, which they may
    not read (a 403 in JSON); they now land on their crew's list of routes, which links the newest. A
    failed sign-in keeps the whole page asked for, query and all."""
    c = own_demo_client
    plan = c.post("/plans/snow", json={"title": "登录测试", "time_limit_s": 1}).json()
    crew = plan["vehicles"][0]["crew"]
    c.app.state.accounts.add_user("crew-login", "crew", crew=crew, password="secret-pass-1")
    r = c.post(
        "/auth/login", data={"name": "crew-login", "password": "secret-pass-1"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/maps/crews/{quote(crew)}"
    c.headers.pop("Authorization")  # the session cookie alone, as the phone has it
    listed = c.get(r.headers["location"])
    assert listed.status_code == 200
    assert f"href='/maps/route/{plan['id']}/{quote(crew)}?lang=zh'" in listed.text
    wrong = c.post(
        "/auth/login",
        data={"name": "crew-login", "password": "nope", "next": "/maps/coverage?at=2026-12-01T10:00&lang=en"},
        follow_redirects=False,
    )
    assert "lang%3Den" in wrong.headers["location"]


def test_names_in_map_pages_are_not_templates(own_demo_client):
    """The pages are folium (Jinja) templates: a plan title, stop or site name holding ``{{ … }}`` was
    run on the server (a name could read the service's files or run code), and one holding ``{#``
    made the page a 500. Names are text, written as they were typed."""
    c = own_demo_client
    site = c.get("/collections/stall_sites/items", params={"limit": 1}).json()["features"][0]
    c.patch(f"/collections/stall_sites/items/{site['id']}", json={"properties": {"name": "{{ 6*7 }}摊区"}})
    plan = c.post("/plans/snow", json={"title": "{{ 7*7 }}号预案{#", "time_limit_s": 1})
    assert plan.status_code in (200, 201), plan.text[:300]
    body = plan.json()
    crew = body["vehicles"][0]["crew"]
    route = c.get(f"/maps/route/{body['id']}/{crew}")
    assert route.status_code == 200
    assert "{{ 7*7 }}号预案{#" in route.text
    assert "49号预案" not in route.text
    planner = c.get("/maps/plan")
    assert planner.status_code == 200
    assert "{{ 6*7 }}摊区" in planner.text
    assert "42摊区" not in planner.text


def test_polygonal_keeps_the_areas_of_an_overlay():
    import shapely

    from geo_service.maps.base import polygonal

    square = shapely.box(0, 0, 1, 1)
    other = shapely.box(2, 0, 3, 1)
    mixed = shapely.GeometryCollection([shapely.Point(5, 5), square, shapely.LineString([(0, 2), (1, 2)])])
    assert polygonal(mixed).equals(square)
    nested = shapely.GeometryCollection(
        [shapely.MultiPoint([(5, 5), (6, 6)]), shapely.MultiPolygon([square, other])]
    )
    assert polygonal(nested).geom_type == "MultiPolygon"
    assert polygonal(nested).area == 2
    assert polygonal(shapely.MultiPoint([(5, 5), (6, 6)])) is None
    assert polygonal(shapely.Polygon()) is None
    assert polygonal(square) is square


def test_beijing_time_as_written_here():
    import datetime as dt

    import pandas as pd

    from geo_service.maps.furniture import beijing, beijing_label

    utc = dt.datetime(2026, 12, 6, 7, 0, tzinfo=dt.UTC)
    assert beijing(utc) == "2026-12-06 15:00"
    assert beijing("2026-12-06T07:00:00Z") == "2026-12-06 15:00"
    assert beijing(pd.Timestamp("2026-12-06T15:00:00+08:00")) == "2026-12-06 15:00"
    assert beijing(pd.NaT) == ""
    assert beijing(None) == ""
    assert beijing_label(utc, "zh") == "2026-12-06 15:00（北京时间）"
    assert beijing_label(utc, "en") == "2026-12-06 15:00 (Beijing time)"


def _media_boxes(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert boxes, "no page size in the PDF"
    return [(float(w), float(h)) for w, h in boxes]


@pytest.mark.browser
def test_pdf_prints_are_a4(own_demo_client):
    """Prints were US Letter (612 × 792 pt); offices here print A4 (595 × 842 pt): the city's maps
    across the sheet, a crew's route down it."""
    c = own_demo_client
    for path in ("/maps/coverage.pdf?at=2026-12-06T15:00", "/maps/plan.pdf?lang=en"):
        pdf = c.get(path)
        assert pdf.status_code == 200, pdf.text[:300]
        for w, h in _media_boxes(pdf.content):
            assert (w, h) == (pytest.approx(841.9, abs=1), pytest.approx(595.3, abs=1)), path
        assert len(_media_boxes(pdf.content)) == 1  # the map fits its sheet
    plan = c.post("/plans/snow", json={"title": "A4 测试", "time_limit_s": 1}).json()
    crew = plan["vehicles"][0]["crew"]
    pdf = c.get(f"/maps/route/{plan['id']}/{crew}.pdf")
    assert pdf.status_code == 200
    for w, h in _media_boxes(pdf.content):
        assert (w, h) == (pytest.approx(595.3, abs=1), pytest.approx(841.9, abs=1))


def test_who_answers_its_reasons_in_each_language(demo_client):
    r = demo_client.get("/coverage/who", params={"lon": 112.9, "lat": 35.4, "at": "2026-12-06T15:00"})
    assert r.status_code == 200
    body = r.json()
    assert "该点不在任何行政区内" in body["reasons_zh"]
    assert "the place is outside every district" in body["reasons_en"]
    assert not any(re.search(r"[A-Za-z]{3}", x) for x in body["reasons_zh"])
    assert not any(re.search(r"[\u4e00-\u9fff]", x) for x in body["reasons_en"])
    assert "该点不在任何行政区内 / the place is outside every district" in body["reasons"]  # as before


def test_a_print_without_chromium_is_a_problem_document(demo_gpkg, tmp_path):
    """Without Chromium a print answered 503 in plain text; it is a refusal like the others: a
    problem+json in both languages for a client, the map's error page for a browser."""
    import shutil

    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings
    from tests.conftest import sign_in

    path = tmp_path / "w.gpkg"
    shutil.copy(demo_gpkg, path)
    with TestClient(create_app(Settings(workspace=path, chromium=tmp_path / "no-chromium"))) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        api = c.get("/maps/plan.pdf", headers={"Accept": "application/json"})
        assert api.status_code == 503
        assert api.headers["content-type"].startswith("application/problem+json")
        body = api.json()
        assert body["code"] == "print-unavailable"
        assert "Chromium" in body["detail_zh"]
        assert "Chromium not found" in body["detail_en"]
        page = c.get("/maps/coverage.png", headers={"Accept": "text/html"})
        assert page.status_code == 503
        assert "无法显示地图" in page.text


@pytest.mark.browser
def test_a_map_page_links_to_its_print(demo_client):
    """A dispatcher had no way to the PDF but typing its address: the page links to it, for the
    moment shown and in the page's language."""
    import html as html_lib

    page = demo_client.get("/maps/coverage", params={"at": "2026-12-06T15:00", "lang": "en"}).text
    href = html_lib.unescape(re.search(r"id='print-pdf' href='([^']+)'", page).group(1))
    assert href.startswith("/maps/coverage.pdf?")
    assert "at=2026-12-06T15%3A00" in href
    assert "lang=en" in href
    pdf = demo_client.get(href)
    assert pdf.status_code == 200
    assert pdf.content[:5] == b"%PDF-"
    planner = demo_client.get("/maps/plan").text
    assert "id='print-png' href='/maps/plan.png?lang=zh'" in planner


def _saved_as(disposition: str) -> tuple[str, str]:
    """(plain filename, UTF-8 filename*) of a Content-Disposition, decoded as a browser does."""
    from urllib.parse import unquote

    plain = re.search(r'filename="([^"]*)"', disposition)
    utf8 = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    assert plain is not None, disposition
    return plain.group(1), unquote(utf8.group(1)) if utf8 else plain.group(1)


def test_prints_are_saved_under_a_name_that_says_what_they_show(own_demo_client, monkeypatch):
    """A print had no Content-Disposition: a browser saved the crew's route as '中站一组.pdf' (the URL's
    last piece) and the city's maps as 'plan.pdf' / 'coverage.png'. Each now carries its title and day,
    in UTF-8 (RFC 5987) with a plain ASCII name beside it."""
    import datetime as dt

    from geo_service.api.routers import maps

    monkeypatch.setattr(maps, "print_page", lambda html, **kw: b"%PDF-1.4 stub")
    c = own_demo_client
    plan = c.post(
        "/plans/snow",
        json={"title": "雪天路线", "start": "2026-12-06T06:00+08:00", "time_limit_s": 1},
    ).json()
    crew = plan["vehicles"][0]["crew"]
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    expected = {
        f"/maps/route/{plan['id']}/{quote(crew)}.pdf": (
            f"雪天路线-{crew}-2026-12-06.pdf",
            f"snow-route-{plan['id']}-2026-12-06.pdf",
        ),
        "/maps/coverage.png?at=2026-12-06T15:00": (
            "值守覆盖图-2026-12-06-1500.png",
            "duty-coverage-2026-12-06-1500.png",
        ),
        "/maps/coverage.pdf?at=2026-12-06T07:00Z&lang=en": (
            "duty-coverage-2026-12-06-1500.pdf",
            "duty-coverage-2026-12-06-1500.pdf",
        ),
        "/maps/plan.pdf": (f"摊区规划图-{today}.pdf", f"stall-zones-{today}.pdf"),
    }
    for path, (name, plain) in expected.items():
        r = c.get(path)
        assert r.status_code == 200, r.text[:300]
        disposition = r.headers["content-disposition"]
        assert disposition.startswith("inline;"), disposition  # still opens in the browser's viewer
        assert _saved_as(disposition) == (plain, name), path
        disposition.encode("ascii")  # a header is ASCII: the Chinese name only percent-encoded


def test_a_download_name_is_plain_where_it_must_be():
    from geo_service.api.downloads import content_disposition, file_stem

    assert file_stem(' 雪天/路线:"一" ', "中站 一组", "", "2026-12-06") == "雪天-路线-一-中站-一组-2026-12-06"
    header = content_disposition("雪天路线-2026-12-06.pdf", fallback="route 2026/12/06.pdf")
    assert _saved_as(header) == ("route-2026-12-06.pdf", "雪天路线-2026-12-06.pdf")
    assert header.startswith("attachment;")
    assert content_disposition("audit.csv", fallback="audit.csv") == 'attachment; filename="audit.csv"'
    injected = content_disposition('a"\r\nX-Evil: 1.pdf', fallback='a"\r\nX-Evil: 1.pdf')
    assert "\r" not in injected
    assert "\n" not in injected
    assert _saved_as(injected)[0] == "a-X-Evil-1.pdf"


def test_the_coverage_map_shows_the_cases_reported_by_its_moment(demo_client, monkeypatch):
    """helper-37: the map of 2026-01-01 10:00 showed every case open now, reported eleven months later."""
    import pandas as pd

    from geo_service.api.routers import maps as maps_router

    shown: list[pd.DataFrame] = []
    drawing = maps_router.coverage_page

    def spy(ws, **kwargs):
        shown.append(kwargs["cases"])
        return drawing(ws, **kwargs)

    monkeypatch.setattr(maps_router, "coverage_page", spy)
    # moments among the demo's open cases (the demo's cases follow the day it is built: fixed dates
    # here would find none some day)
    incidents = demo_client.app.state.workspace.frame("incidents")
    live = incidents[incidents["status"].isin(["open", "assigned", "escalated"])]
    times = pd.to_datetime(live["reported_at"], utc=True).sort_values()
    moments = [
        times.iloc[0] - pd.Timedelta(days=1),
        times.iloc[len(times) // 2].floor("min"),
        times.iloc[-1] + pd.Timedelta(hours=1),
    ]
    for at in moments:
        assert demo_client.get("/maps/coverage", params={"at": at.isoformat()}).status_code == 200
    early, middle, late = shown
    assert len(early) == 0
    assert 0 < len(middle) < len(late) == len(live)
    assert (pd.to_datetime(middle["reported_at"], utc=True) <= moments[1]).all()
    assert set(middle["status"]) <= {"open", "assigned", "escalated"}


def _night_plan(c) -> tuple[dict, str]:
    """A freezing-rain plan that starts at 22:30 and runs past midnight, and its first crew."""
    plan = c.post(
        "/plans/snow",
        json={"title": "夜间除雪", "start": "2026-12-05T22:30+08:00", "time_limit_s": 1},
    ).json()
    return plan, plan["vehicles"][0]["crew"]


def test_route_times_after_midnight_say_the_next_day(own_demo_client):
    """A plan starting 22:30 listed its stops at 00:00…05:16 with nothing to say they were the next
    morning; they read 次日 05:16 (next day 05:16 in English), the evening's stops stay as they were."""
    import datetime as dt

    from geo_service.maps.furniture import TZ, clock

    start = dt.datetime(2026, 12, 5, 22, 30, tzinfo=TZ)
    assert clock(start + dt.timedelta(minutes=3), start, "zh") == "22:33"
    assert clock(start + dt.timedelta(hours=6, minutes=46), start, "zh") == "次日 05:16"
    assert clock(start + dt.timedelta(hours=6, minutes=46), start, "en") == "next day 05:16"
    assert clock(start + dt.timedelta(days=2), start, "zh") == "2026-12-07 22:30"
    assert clock(start.astimezone(dt.UTC) + dt.timedelta(hours=2), start, "zh") == "次日 00:30"

    c = own_demo_client
    plan, crew = _night_plan(c)
    for lang, word in (("zh", "次日"), ("en", "next day")):
        page = c.get(f"/maps/route/{plan['id']}/{quote(crew)}", params={"lang": lang}).text
        rows = re.findall(
            r"<li [^>]*style='color:[^']+'[^>]*><span class='stop-label'[^>]*>([A-Z]+)\d+</span> (.*?) · ",
            page,
        )
        assert len(rows) > 50
        by_vehicle: dict[str, list[str]] = {}
        for vehicle, time in rows:
            by_vehicle.setdefault(vehicle, []).append(time)
        for times in by_vehicle.values():
            assert re.fullmatch(r"2[23]:\d\d", times[0]), times[0]  # the first stop, the same evening
            late = [t for t in times if word in t]
            assert late, times[-5:]
            # every stop after a vehicle's first one past midnight is marked, none before it
            first = times.index(late[0])
            assert all(word in t for t in times[first:]), times[first:]
            assert not any(word in t for t in times[:first])
            assert re.fullmatch(rf"<span class='next-day'>{word} \d\d:\d\d</span>", times[-1]), times[-1]


def test_print_links_download_the_file(demo_client):
    """The print links opened the PDF/PNG in the browser's viewer; they download it (the file name is
    the service's Content-Disposition one), while the address opened directly still shows it inline."""
    pages = [
        demo_client.get("/maps/plan").text,
        demo_client.get("/maps/coverage", params={"at": "2026-12-06T15:00"}).text,
    ]
    plan = demo_client.post("/plans/snow", json={"title": "下载", "time_limit_s": 1}).json()
    crew = plan["vehicles"][0]["crew"]
    pages.append(demo_client.get(f"/maps/route/{plan['id']}/{quote(crew)}").text)
    for page in pages:
        for fmt in ("pdf", "png"):
            link = re.search(rf"<a id='print-{fmt}' [^>]*>", page)
            assert link is not None
            assert re.search(r"\sdownload[\s>]", link.group(0)), link.group(0)


def _pdf_page_drawings(pdf: bytes) -> list[bytes]:
    """The drawing instructions of each page of a (Chromium-made) PDF, in page order."""
    import zlib

    objs = {int(m.group(1)): m.group(2) for m in re.finditer(rb"(\d+) 0 obj(.*?)endobj", pdf, re.S)}

    def stream(num: int) -> bytes:
        body = objs[num]
        raw = re.search(rb"stream\r?\n(.*)endstream", body, re.S)
        assert raw is not None
        return zlib.decompress(raw.group(1)) if b"/FlateDecode" in body else raw.group(1)

    def walk(num: int) -> list[bytes]:
        body = objs[num]
        if re.search(rb"/Type\s*/Pages", body):
            kids = re.search(rb"/Kids\s*\[(.*?)\]", body, re.S)
            assert kids is not None
            return [page for kid in re.findall(rb"(\d+) 0 R", kids.group(1)) for page in walk(int(kid))]
        contents = re.search(rb"/Contents\s*(\[.*?\]|\d+ 0 R)", body, re.S)
        assert contents is not None
        return [b"".join(stream(int(n)) for n in re.findall(rb"(\d+) 0 R", contents.group(1)))]

    roots = [n for n, body in objs.items() if re.search(rb"/Type\s*/Pages", body) and b"/Parent" not in body]
    assert len(roots) == 1
    return walk(roots[0])


_NUM = rb"(-?[\d.]+)"


def _map_on_first_page(pdf: bytes) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where a (Chromium-made) PDF's first page prints and where the map's paper-white ground (#f5f5f2)
    lies on it: ((top, bottom) of the printable area, (top, bottom) of the map), in millimetres from
    the top of the sheet. Skia draws the page in device units under one flipping ``cm``; the printable
    area is the page's first clip rectangle; the map's ground is a rectangle filled in that colour under
    its own scale and offset."""
    page = _pdf_page_drawings(pdf)[0]
    flip = re.match(rb"\s*" + _NUM + rb" 0 0 -" + _NUM + rb" 0 " + _NUM + rb" cm", page)
    assert flip is not None, page[:200]
    mm = float(flip.group(1)) / 72 * 25.4  # a device unit in millimetres
    clip = re.search(rb" ".join([_NUM] * 4) + rb" re\s+W\*? n", page)
    assert clip is not None, page[:400]
    area_top, area_height = float(clip.group(2)), float(clip.group(4))
    ground = re.search(
        rb"q\s+" + _NUM + rb" 0 0 \1 " + _NUM + rb" " + _NUM + rb" cm\s+"
        rb"\.96\d* \.96\d* \.94\d* RG \.96\d* \.96\d* \.94\d* rg\s[^Q]*?"
        + rb" ".join([_NUM] * 4)
        + rb" re\s+f",
        page,
    )
    assert ground is not None, "no map on the first page"
    scale, offset = float(ground.group(1)), float(ground.group(3))
    top, height = offset + scale * float(ground.group(5)), scale * float(ground.group(7))
    return (area_top * mm, (area_top + area_height) * mm), (top * mm, (top + height) * mm)


@pytest.mark.browser
def test_a_crew_route_print_opens_on_its_whole_map(own_demo_client):
    """The crew's PNG was the head and stops 1–62 of the list (no map); its PDF was the list on pages
    1–8 and the map split across pages 8 and 9. The PDF's first page is the map, whole, and the list
    follows; the PNG is that map page, the route (blue) and the legend's priority colours on it."""
    import io

    import numpy as np
    from PIL import Image

    c = own_demo_client
    plan, crew = _night_plan(c)
    pdf = c.get(f"/maps/route/{plan['id']}/{quote(crew)}.pdf")
    assert pdf.status_code == 200, pdf.text[:300]
    pages = _pdf_page_drawings(pdf.content)
    assert len(pages) == len(_media_boxes(pdf.content)) >= 2
    lines = [len(re.findall(rb"[\d.]+ [\d.]+ l\b", page)) for page in pages]
    assert lines[0] > 500, lines  # the districts, roads and the route, drawn on the first page
    assert all(n < 20 for n in lines[1:]), lines  # the stop list: text, no piece of the map
    png = c.get(f"/maps/route/{plan['id']}/{quote(crew)}.png")
    assert png.status_code == 200
    rgb = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGB")).astype(int)
    assert rgb.shape[:2] == (1280, 900)

    def pixels(colour: str) -> int:
        want = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(rgb - want).sum(axis=2) < 90).sum())  # drawn half see-through

    assert pixels("#1565c0") > 2000  # the route's lines (blue)
    for colour in ("#c62828", "#ef6c00", "#f9a825"):  # priorities 1, 2, 3: red, orange, yellow
        assert pixels(colour) > 20, colour  # at least the legend's swatch


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_crew_route_map_fills_its_printed_page_exactly(own_demo_client, lang):
    """The route's map was 272 mm tall on paper but laid out (and fitted to the route by Leaflet) in a
    window the height of the A4 page inside its margins, 277 mm: the sheet and the map drawn for it
    disagreed by 5 mm. The map on the PDF's first page is now the printable area, top to bottom (the
    scale bar, notice and legend sit in its corners, so on the page), and nothing of it runs on to the
    second page; the PNG is the same map page, its foot (scale, attribution) on the picture's last rows."""
    import io

    import numpy as np
    from PIL import Image

    from geo_service.maps.furniture import MARGIN_MM

    c = own_demo_client
    plan, crew = _night_plan(c)
    pdf = c.get(f"/maps/route/{plan['id']}/{quote(crew)}.pdf", params={"lang": lang})
    assert pdf.status_code == 200, pdf.text[:300]
    (area_top, area_bottom), (map_top, map_bottom) = _map_on_first_page(pdf.content)
    assert (area_top, area_bottom) == (
        pytest.approx(MARGIN_MM, abs=0.2),
        pytest.approx(297 - MARGIN_MM, abs=0.2),
    )
    assert map_top == pytest.approx(area_top, abs=0.2)
    # the whole printable height (within a pixel, 0.26 mm: the painter rounds to whole pixels)
    assert map_bottom == pytest.approx(area_bottom, abs=0.27), (map_bottom, area_bottom)
    lines = [len(re.findall(rb"[\d.]+ [\d.]+ l\b", page)) for page in _pdf_page_drawings(pdf.content)]
    assert all(n < 20 for n in lines[1:]), lines  # no strip of the map on the second page

    png = c.get(f"/maps/route/{plan['id']}/{quote(crew)}.png", params={"lang": lang})
    assert png.status_code == 200
    rgb = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGB")).astype(int)
    ground = np.abs(rgb - np.array([0xF5, 0xF5, 0xF2])).sum(axis=2) < 4
    ink = rgb.sum(axis=2) < 300  # text and the scale bar's frame
    assert ground[-1].mean() > 0.3  # the map runs to the picture's last row, no stop list below it
    foot = ink[-40:]
    assert foot[:, :200].sum() > 50  # the scale bar, bottom left
    assert foot[:, -300:].sum() > 50  # the attribution and data notice, bottom right


@pytest.mark.parametrize(
    ("lang", "said", "other"),
    [
        ("zh", "节假日日历未收录 2027 年的调休安排", "holiday schedule"),
        ("en", "the 2027 holiday schedule is not in the calendar yet", "节假日"),
    ],
)
def test_the_coverage_map_says_when_the_years_holidays_are_assumed(demo_client, lang, said, other):
    """The user-tester: /coverage/beats?at=2027-02-08T12:30 notes that the 2027 holiday schedule is not
    in the calendar and was assumed; the map of that moment (the Spring Festival weeks) said nothing.
    It says it, in the page's language; a moment in a year the calendar knows has no such note."""
    api = demo_client.get("/coverage/beats", params={"at": "2027-02-08T12:30"}).json()
    assert any(said in n for n in api["notices"]), api["notices"]
    page = demo_client.get("/maps/coverage", params={"at": "2027-02-08T12:30", "lang": lang}).text
    notes = re.findall(r"<div class='calendar-notice[^>]*>(.*?)</div>", page)
    assert len(notes) == 1, notes
    assert said in notes[0]
    assert other not in notes[0]
    known = demo_client.get("/maps/coverage", params={"at": "2026-12-06T15:00", "lang": lang}).text
    assert "calendar-notice" not in known


def _shanyang_plan(c) -> dict:
    """A plan with 山阳一组, a crew of three vehicles (the user-tester's: three stops numbered 1)."""
    plan = c.post(
        "/plans/snow", json={"title": "多车路线", "start": "2026-12-06T06:00+08:00", "time_limit_s": 1}
    ).json()
    vehicles = [v["vehicle"] for v in plan["vehicles"] if v["crew"] == "山阳一组"]
    assert len(vehicles) == 3, plan["vehicles"]
    return plan


def test_a_route_of_several_vehicles_labels_each_stop_with_its_vehicle(own_demo_client, monkeypatch):
    """The user-tester: 山阳一组's page numbered its list 1-560 and showed each vehicle's own numbers
    beside them (#1 three times), so a driver could not tell their stops. The list is by vehicle, each
    stop labelled with its vehicle's letter and its number on that vehicle (A1, B1, C1), every label
    once; ``vehicle`` shows one vehicle (its letter kept), its print is named for it, and a vehicle
    the crew has not is a 404."""
    from geo_service.api.routers import maps

    c = own_demo_client
    plan = _shanyang_plan(c)
    mine = [v for v in plan["vehicles"] if v["crew"] == "山阳一组"]
    page = c.get(f"/maps/route/{plan['id']}/{quote('山阳一组')}").text
    sections = re.findall(r"<section class='vehicle-stops' data-vehicle='([^']+)'>(.*?)</section>", page)
    assert [name for name, _ in sections] == [v["vehicle"] for v in mine]
    labels = re.findall(r"<span class='stop-label'[^>]*>([^<]+)</span>", page)
    assert len(labels) == sum(v["stops"] for v in mine)
    assert len(set(labels)) == len(labels)  # no two stops of the crew share a label
    for (name, body), tag, v in zip(sections, "ABC", mine, strict=True):
        own = re.findall(r"<span class='stop-label'[^>]*>([^<]+)</span>", body)
        assert own == [f"{tag}{k}" for k in range(1, v["stops"] + 1)], name
    listed = re.search(r"<div id='stops'>(.*?)</div>", page).group(1)
    assert not re.search(r" #\d+ ", listed)  # no second number beside the label

    second = mine[1]["vehicle"]
    one = c.get(f"/maps/route/{plan['id']}/{quote('山阳一组')}", params={"vehicle": second}).text
    assert re.findall(r"data-vehicle='([^']+)'>", one) == [second]
    shown = re.findall(r"<span class='stop-label'[^>]*>([^<]+)</span>", one)
    assert shown == [f"B{k}" for k in range(1, mine[1]["stops"] + 1)]
    assert f"<option value='{second}' selected>" in one
    assert f"vehicle={quote(second)}" in re.search(r"id='print-pdf' href='([^']+)'", one).group(1)

    monkeypatch.setattr(maps, "print_page", lambda html, **kw: b"%PDF-1.4 stub")
    pdf = c.get(f"/maps/route/{plan['id']}/{quote('山阳一组')}.pdf", params={"vehicle": second})
    assert pdf.status_code == 200
    assert _saved_as(pdf.headers["content-disposition"]) == (
        f"snow-route-{plan['id']}-B-2026-12-06.pdf",
        f"多车路线-{second}-2026-12-06.pdf",
    )
    missing = c.get(
        f"/maps/route/{plan['id']}/{quote('山阳一组')}",
        params={"vehicle": "山阳一组-9"},
        headers={"Accept": "text/html"},
    )
    assert missing.status_code == 404
    assert "山阳一组-1、山阳一组-2、山阳一组-3" in missing.text
    api = c.get(f"/maps/route/{plan['id']}/{quote('山阳一组')}.pdf", params={"vehicle": "山阳一组-9"})
    assert api.status_code == 404
    assert api.json()["field"] == "vehicle"
