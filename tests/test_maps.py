"""Map pages at the HTTP level: offline assets only, data drawn, readable errors, sign-in redirect."""

from __future__ import annotations

import re

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
    assert "does not parse" in bad.text  # the other language below
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
