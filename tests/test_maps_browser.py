"""The three map pages in real headless Chromium (Debian's, driven by Playwright) against a running
service, with every request outside the service blocked. Screenshots go to $GEO_ARTIFACTS or tmp."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("GEO_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def live(demo_gpkg, tmp_path_factory):
    import uvicorn

    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    path = tmp_path_factory.mktemp("live") / "w.gpkg"
    shutil.copy(demo_gpkg, path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(workspace=path))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def artefact(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("GEO_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


class Session:
    """A signed-in page that records failed requests, console errors and blocked outside requests.

    Conditions to wait for are written as functions (``"() => …"``): Playwright evaluates a bare
    expression with ``eval``, which the pages' Content-Security-Policy (no 'unsafe-eval') refuses."""

    def __init__(
        self, browser, live, role="planner", crew=None, viewport=(1280, 900), locale=None, touch=False
    ):
        app, self.base = live
        accounts = app.state.accounts
        name = f"b-{role}-{crew or ''}"
        with contextlib.suppress(Exception):  # the user exists from an earlier test
            accounts.add_user(name, role, crew=crew)
        token = accounts.issue_token(name, kind="session")
        self.context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            **({"locale": locale} if locale else {}),
            **({"has_touch": True, "is_mobile": True} if touch else {}),
        )
        self.context.add_cookies(
            [{"name": "geo_session", "value": token, "domain": "127.0.0.1", "path": "/"}]
        )
        self.page = self.context.new_page()
        self.failed, self.errors, self.outside = [], [], []
        self.page.route("**/*", self._route)
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on(
            "response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route):
        if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def open(self, path):
        self.page.goto(self.base + path)
        self.page.wait_for_function("() => window.GEO_MAP !== undefined", timeout=15_000)
        self.page.wait_for_timeout(500)

    def clean(self):
        assert (self.failed, self.errors, self.outside) == ([], [], [])

    def close(self):
        self.context.close()


def test_coverage_page_draws_offline(browser, live, tmp_path):
    s = Session(browser, live, role="dispatcher")
    s.open("/maps/coverage?at=2026-12-01T21:00")
    s.clean()
    assert s.page.locator("path.leaflet-interactive").count() > 100
    assert s.page.locator("#figures tr").count() == 5
    s.page.screenshot(path=artefact(tmp_path, "coverage.png"))
    s.page.mouse.click(640, 450)  # who covers this place?
    s.page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
    assert s.page.locator(".leaflet-popup-content").inner_text()
    s.page.click("#lang-switch")
    s.page.wait_for_function("() => window.GEO_MAP !== undefined")
    assert "Legend" in s.page.locator("#legend").inner_text()
    s.close()


def _alley_spot(app):
    """A back street in 山阳区 far from every stall site: where a new zone passes the siting rules."""
    import numpy as np
    import shapely

    from geo_service.crs import to_metric

    ws = app.state.workspace
    roads = ws.frame("roads")
    sites = to_metric(ws.frame("stall_sites").geometry.to_numpy())
    alleys = roads[(roads["road_class"] == "alley") & (roads["district"] == "山阳区") & ~roads["oneway"]]
    for line in alleys.geometry:
        a, b = line.coords[0], line.coords[-1]
        if abs(a[1] - b[1]) > abs(a[0] - b[0]):
            continue  # keep east-west streets: the zone is drawn north of them
        mid = line.interpolate(0.5, normalized=True)
        if shapely.distance(to_metric(np.array([mid], dtype=object))[0], sites).min() > 300:
            return mid
    raise AssertionError("no free alley")


def _draw_rectangle(page, lat, lon, dx0, dy0, dx1, dy1):
    # nothing returned: Playwright would copy the whole map, which setView returns (15 s and more)
    page.evaluate(f"(() => {{ window.GEO_MAP.setView([{lat}, {lon}], 19, {{animate: false}}); }})()")
    page.wait_for_timeout(300)
    p = page.evaluate(
        f"(() => {{ const c = window.GEO_MAP.latLngToContainerPoint([{lat}, {lon}]); "
        "const r = window.GEO_MAP.getContainer().getBoundingClientRect(); return [c.x + r.left, c.y + r.top]; })()"
    )
    page.click(".leaflet-pm-icon-rectangle")
    page.mouse.click(p[0] + dx0, p[1] + dy0)
    page.mouse.click(p[0] + dx1, p[1] + dy1)
    page.wait_for_selector("#form", state="visible")


def test_planner_draws_saves_and_sees_it_after_reload(browser, live, tmp_path):
    app, _ = live
    spot = _alley_spot(app)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    s.clean()
    before = app.state.workspace.store.count("stall_sites")
    # at zoom 19 a pixel is about 0.24 m: a 30 m × 9 m zone 6–15 m north of the street's centreline
    _draw_rectangle(s.page, spot.y, spot.x, -60, -25, 60, -62)
    s.page.fill("#f-name", "浏览器测试摊区")
    s.page.click("#save")
    s.page.wait_for_function(
        "() => document.getElementById('msg').innerText.includes('已保存')", timeout=15_000
    )
    assert app.state.workspace.store.count("stall_sites") == before + 1
    # the zone just saved opens a popup whose edit button names it (helper-25: editSite(undefined))
    newest = max(f.id for f in app.state.workspace.store.list_features("stall_sites").features)
    buttons = s.page.evaluate(
        "(() => { var out = []; GEO_MAP.eachLayer(x => { if (x.getPopup && x.getPopup() && x.feature) "
        "out.push(String(x.getPopup().getContent())); }); return out; })()"
    )
    assert any(f"editSite({newest})" in b for b in buttons)
    assert not any("editSite(undefined)" in b for b in buttons)
    s.page.reload()
    s.page.wait_for_function("() => window.GEO_MAP !== undefined")
    s.page.wait_for_timeout(500)
    assert "浏览器测试摊区" in s.page.content()
    s.page.screenshot(path=artefact(tmp_path, "plan-saved.png"))
    s.close()


def test_planner_edits_a_zones_shape_and_only_its_shape(browser, live, tmp_path):
    """helper-25: a zone saved on the page could not be edited (its popup called editSite(undefined)), a
    shape edit sent the zone without its dates (valid_from was wiped), and every later click on the
    zone saved it again. The edit now sends only the shape and gives the zone its popup back."""
    app, _ = live
    store = app.state.workspace.store
    zones = store.list_features("stall_sites").features
    zone = next(f for f in zones if f.properties.get("valid_from") is not None)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    s.page.evaluate(f"editSite({zone.id})")
    # move the zone 2 m east, as dragging its corners would, then click it to save
    find = (  # the zone's layer on the map
        f"(() => {{ var found; GEO_MAP.eachLayer(x => {{ if (x.feature && x.setLatLngs && "
        f"x.feature.properties.id === {zone.id} && x.feature.properties._layer === 'stall_sites') found = x; }}); "
        "return found; })()"
    )
    s.page.evaluate(
        f"""(() => {{ var l = {find};
        l.setLatLngs(l.getLatLngs().map(r => r.map(ll => L.latLng(ll.lat, ll.lng + 0.00002))));
        l.fire('click'); }})()"""
    )
    s.page.wait_for_function(
        "() => document.getElementById('msg').innerText.includes('已保存')", timeout=15_000
    )
    after = store.get_feature("stall_sites", zone.id)
    assert after.version == zone.version + 1
    assert after.properties == zone.properties  # the dates and everything else as they were
    assert not after.geometry.equals(zone.geometry)
    s.page.evaluate(f"void {find}.fire('click')")  # a click now opens the popup, saves nothing
    s.page.wait_for_selector(".leaflet-popup-content button")
    assert store.get_feature("stall_sites", zone.id).version == after.version
    assert s.errors == []
    s.close()


def test_invalid_zone_shows_its_violations(browser, live, tmp_path):
    app, _ = live
    roads = app.state.workspace.frame("roads")
    main = roads[roads["road_class"] == "main"].geometry.iloc[10].interpolate(0.5, normalized=True)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    before = app.state.workspace.store.count("stall_sites")
    _draw_rectangle(s.page, main.y, main.x, -40, -20, 40, 20)  # straddles a main road
    # the zone is filed under the district it is drawn in (the choices are the workspace's districts)
    districts = app.state.workspace.frame("districts")
    [inside] = districts[districts.contains(main)]["name"]
    assert s.page.input_value("#f-district") == inside
    assert sorted(s.page.locator("#f-district option").all_inner_texts()) == sorted(districts["name"])
    s.page.click("#save")
    s.page.wait_for_selector("#violations li", timeout=15_000)
    text = s.page.locator("#violations").inner_text()
    assert "主干道" in text
    assert s.page.locator("path[stroke='#c62828']").count() >= 1
    assert app.state.workspace.store.count("stall_sites") == before
    s.page.screenshot(path=artefact(tmp_path, "plan-violations.png"))
    s.close()


def test_planner_sees_the_walking_service_areas_and_the_people_left_out(browser, live, tmp_path):
    """Off until asked for; turned on in the layer switch, the page walks 500 m from every open site
    and draws each site's area (its people in the tooltip) and the groups of homes none reaches."""
    app, _ = live
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    count = "(() => { var n = 0; GEO_MAP.eachLayer(x => { if (x.feature && x.feature.properties && "
    count += "x.feature.properties.served_population !== undefined) n++; }); return n; })()"
    assert s.page.evaluate(count) == 0  # nothing walked yet
    s.page.locator(".leaflet-control-layers").get_by_text("步行 500 米服务范围").click()
    s.page.wait_for_function(
        "() => document.getElementById('msg').innerText.includes('步行 500 米内有开放摊区的人口')",
        timeout=60_000,
    )
    sites = app.state.workspace.frame("stall_sites")
    assert s.page.evaluate(count) == int((sites["status"] == "open").sum())
    text = s.page.locator("#msg").inner_text()
    served, total = (int(x) for x in re.search(r"(\d+) / (\d+)", text).groups())
    assert 0 < served < total
    # the figures the service answers
    body = s.page.evaluate(
        "async () => (await fetch('/coverage/service-areas?max_walk_m=500', {credentials: 'same-origin'})).json()"
    )
    assert (served, total) == (body["served_population"], body["total_population"])
    tips = s.page.evaluate(
        "(() => { var out = []; GEO_MAP.eachLayer(x => { if (x.getTooltip && x.getTooltip() && x.feature && "
        "x.feature.properties.served_population !== undefined) out.push(String(x.getTooltip().getContent())); });"
        " return out; })()"
    )
    assert any("人步行 500 米内可达" in t for t in tips)
    s.page.locator(".leaflet-control-layers").get_by_text("500 米内无摊区的人口").click()
    s.page.wait_for_timeout(300)
    people = s.page.evaluate(
        "(() => { var n = 0; GEO_MAP.eachLayer(x => { if (x.options && x.options.people !== undefined) "
        "n += x.options.people; }); return n; })()"
    )
    assert people == total - served  # every unserved home is in one group
    s.page.screenshot(path=artefact(tmp_path, "plan-service-areas.png"))
    s.clean()
    s.close()


def test_crew_page_fits_a_phone(browser, live, tmp_path):
    import datetime as dt

    from geo_service.snow.service import make_plan

    app, _ = live
    doc = make_plan(
        app.state.workspace,
        effort=2,
        start=dt.datetime(2026, 12, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    crew = doc["vehicles"][0]["crew"]
    s = Session(browser, live, role="crew", crew=crew, viewport=(390, 844))
    s.open(f"/maps/route/{doc['id']}/{crew}")
    s.clean()
    assert s.page.evaluate("document.documentElement.scrollWidth") <= 390
    assert s.page.locator("#stops li").count() > 5
    assert s.page.locator("#gpx").get_attribute("href").endswith(".gpx")
    _the_crew_map_shows_its_route(s)
    s.page.screenshot(path=artefact(tmp_path, "crew.png"))
    other = next((v["crew"] for v in doc["vehicles"] if v["crew"] != crew), None)
    if other:
        resp = s.page.goto(f"{s.base}/maps/route/{doc['id']}/{other}")
        assert resp.status == 403
    s.close()


def _the_crew_map_shows_its_route(s) -> None:
    """The crew's map (it had only the route on grey, no legend, and opened on a pile of numbered
    markers): a vector basemap of districts and roads under the route, a legend of the priority
    colours, the view fitted to the route, its stops as dots until zoomed in, then numbered."""
    page = s.page
    legend = page.locator("#legend")
    assert legend.is_visible()
    said = legend.inner_text()
    for name in ("Priority 1", "Priority 2", "Priority 3") if "Legend" in said else ("一级", "二级", "三级"):
        assert name in said, said
    swatches = legend.locator("i").evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)")
    for rgb in ("rgb(198, 40, 40)", "rgb(239, 108, 0)", "rgb(249, 168, 37)"):  # red, orange, yellow
        assert rgb in swatches, swatches
    basemap = page.evaluate(
        """() => { var n = {districts: 0, roads: 0}; GEO_MAP.eachLayer(function(l){
           var f = l.feature; if (f && f.properties.code !== undefined && f.geometry.type.includes('Polygon')) n.districts++;
             if (f && f.properties.road_class) n.roads++; }); return n; }"""
    )
    assert basemap["districts"] >= 4, basemap
    assert basemap["roads"] > 20, basemap
    fit = page.evaluate(
        """() => { var view = GEO_MAP.getBounds(), route = L.latLngBounds([]), outside = 0;
             GEO_MAP.eachLayer(function(l){ if (l instanceof L.Polyline && l.options.vehicle) {
               l.getLatLngs().forEach(function(p){ route.extend(p); if (!view.contains(p)) outside++; }); } });
             return {outside: outside, width: (route.getEast() - route.getWest()) / (view.getEast() - view.getWest()),
                     height: (route.getNorth() - route.getSouth()) / (view.getNorth() - view.getSouth())}; }"""
    )
    assert fit["outside"] == 0, fit  # the whole route on the screen
    assert max(fit["width"], fit["height"]) > 0.75, fit  # and as large as the map allows
    stops = s.page.locator("#stops li").count()
    assert page.locator(".stop-no").count() == 0  # no pile of numbered markers over the whole route
    assert page.locator("path.leaflet-interactive[fill='#c62828']").count() > 0
    page.evaluate("() => { GEO_MAP.setZoom(16, {animate: false}); }")
    page.wait_for_timeout(300)
    assert 0 < page.locator(".stop-no").count() <= stops  # zoomed in: the numbers


# ---- prints: what the page sent to Chromium, opened as Chromium opens it (a local file) ----


def _print_html(live, monkeypatch, path: str, role: str = "dispatcher") -> str:
    """The HTML the service hands to headless Chromium for ``path`` (a .png or .pdf print)."""
    import httpx

    from geo_service.api.routers import maps

    app, base = live
    pages: list[str] = []

    def capture(html, **kwargs):
        pages.append(html)
        return b"%PDF-1.4 captured"

    monkeypatch.setattr(maps, "print_page", capture)
    name = f"p-{role}"
    with contextlib.suppress(Exception):
        app.state.accounts.add_user(name, role)
    token = app.state.accounts.issue_token(name)
    r = httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert len(pages) == 1
    return pages[0]


class PrintView:
    """A print's page in Chromium, as the print makes it: from a file, in a window the size of the A4
    page inside its margins, with an American browser locale (the default of a headless Chromium)."""

    def __init__(self, browser, html: str, tmp_path: Path, *, orientation="landscape", media="print"):
        from geo_service.maps.furniture import page_px
        from geo_service.maps.prints import _confined

        w, h = page_px(orientation)
        self.context = browser.new_context(viewport={"width": w, "height": h}, locale="en-US")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        file = tmp_path / f"print-{len(list(tmp_path.glob('print-*.html')))}.html"
        file.write_text(_confined(html), encoding="utf-8")
        self.page.emulate_media(media=media)
        self.page.goto(file.as_uri())
        self.page.wait_for_function("() => window.GEO_MAP !== undefined", timeout=15_000)
        self.page.wait_for_timeout(300)

    def visible(self, selector: str) -> int:
        return sum(1 for el in self.page.locator(selector).all() if el.is_visible())

    def close(self):
        self.context.close()


KEPT_ON_PAPER = ("#legend", ".leaflet-control-scale", "#north-arrow", ".leaflet-control-attribution")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_print_has_no_controls_but_keeps_its_furniture(browser, live, monkeypatch, tmp_path, lang):
    """Prints showed the zoom buttons, the layer switch (and the planner's drawing tools); they now
    show none, and keep the legend, a metric scale, a north arrow, a title and the attribution."""
    for path, title in [
        (f"/maps/coverage.pdf?at=2026-12-06T15:00&lang={lang}", "#map-title"),
        (f"/maps/plan.png?lang={lang}", "#map-title"),
    ]:
        html = _print_html(live, monkeypatch, path, role="planner")
        for media in ("print", "screen"):  # a PDF is print media, a PNG a screenshot
            v = PrintView(browser, html, tmp_path, media=media)
            assert v.errors == [], v.errors
            for control in (".leaflet-control-zoom", ".leaflet-control-layers", ".leaflet-pm-toolbar"):
                assert v.visible(control) == 0, (path, media, control)
            assert v.visible("#lang-switch") == 0
            for kept in (*KEPT_ON_PAPER, title):
                assert v.visible(kept) == 1, (path, media, kept)
            scale = v.page.locator(".leaflet-control-scale").inner_text()
            assert "mi" not in scale
            assert "km" in scale or " m" in scale
            v.page.screenshot(path=artefact(tmp_path, f"print-{lang}-{media}-{path[6:10]}.png"))
            v.close()


def test_a_crew_route_prints_every_stop_without_links(browser, live, monkeypatch, tmp_path):
    import datetime as dt

    from geo_service.snow.service import make_plan

    app, _ = live
    doc = make_plan(
        app.state.workspace,
        effort=2,
        start=dt.datetime(2026, 12, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    crew = doc["vehicles"][0]["crew"]
    html = _print_html(live, monkeypatch, f"/maps/route/{doc['id']}/{crew}.pdf", role="admin")
    v = PrintView(browser, html, tmp_path, orientation="portrait")
    assert v.errors == []
    assert v.visible(".leaflet-control-zoom") + v.visible(".leaflet-control-layers") == 0
    assert v.visible("#gpx") + v.visible("#sheet") == 0
    assert v.visible("#north-arrow") == 1
    assert "2026-12-05 06:00" in v.page.locator("#route-head").inner_text()
    stops = v.page.locator("#stops")  # the whole list on paper: nothing scrolled away
    assert stops.evaluate("el => el.scrollHeight <= el.clientHeight + 1")
    v.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_crew_route_print_is_its_map_page_then_the_list(browser, live, monkeypatch, tmp_path, lang):
    """The route's print was its stop list with the map after it (split by a page break, no legend, no
    basemap, the PNG the list alone): on A4 the map comes first, the whole first page, with its title,
    start (Beijing time), legend, scale, north arrow and data notice; the list (times past midnight
    marked) starts on the next page. A PNG (screen) and a PDF (print) alike."""
    import datetime as dt

    from geo_service.maps.furniture import MARGIN_MM
    from geo_service.snow.service import make_plan

    app, _ = live
    doc = make_plan(
        app.state.workspace,
        effort=2,
        start=dt.datetime(2026, 12, 5, 22, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    crew = doc["vehicles"][0]["crew"]
    html = _print_html(live, monkeypatch, f"/maps/route/{doc['id']}/{crew}.pdf?lang={lang}", role="admin")
    page_mm = 297 - 2 * MARGIN_MM
    for media in ("print", "screen"):
        v = PrintView(browser, html, tmp_path, orientation="portrait", media=media)
        assert v.errors == [], v.errors
        page = v.page
        v.page.screenshot(path=artefact(tmp_path, f"route-print-{lang}-{media}.png"))
        order = page.evaluate(
            "() => Array.from(document.body.children).map(e => e.classList.contains('folium-map') ? 'map' : e.id)"
        )
        assert order.index("map") < order.index("route-head") < order.index("stops"), order
        box = page.locator(".folium-map").bounding_box()
        mm = page.evaluate(
            "() => { var d = document.createElement('div'); d.style.height = '100mm';"
            " document.body.appendChild(d); var h = d.offsetHeight / 100; d.remove(); return h; }"
        )
        assert box["y"] < 1, box
        # the whole page inside its margins (it was 272 mm of 277: laid out for one height, printed at another)
        assert box["height"] == pytest.approx(page_mm * mm, abs=1), (box, page_mm * mm)
        style = page.locator(".folium-map").evaluate("e => getComputedStyle(e).breakInside")
        head = page.locator("#route-head").evaluate("e => getComputedStyle(e).breakBefore")
        if media == "print":
            assert style == "avoid"
            assert head == "page"
        for kept in (*KEPT_ON_PAPER, "#map-title"):
            assert v.visible(kept) == 1, (media, kept)
            inner = page.locator(kept).bounding_box()
            assert box["y"] <= inner["y"], kept
            assert inner["y"] + inner["height"] <= box["y"] + box["height"], kept
            assert inner["y"] + inner["height"] <= page_mm * mm + 0.5, kept  # on the page
        title = page.locator("#map-title").inner_text()
        assert "2026-12-05 22:30" in title
        assert ("Beijing time" if lang == "en" else "北京时间") in title
        assert ("Illustrative data" if lang == "en" else "示意数据") in title
        assert ("Priority 1" if lang == "en" else "一级") in page.locator("#legend").inner_text()
        assert v.visible("#lang-switch") == 0
        assert page.locator(".leaflet-overlay-pane path").count() > 50  # districts, roads and the route
        listed = page.locator("#stops").inner_text()
        assert ("next day 0" if lang == "en" else "次日 0") in listed
        v.close()


def test_a_crew_route_printed_from_a_window_of_another_size_shows_the_whole_route(
    browser, live, monkeypatch, tmp_path
):
    """helper-50: the route PDF showed only part of a crew's route: the map was fitted to the window it
    was laid out in (headless Chromium's is not the page's size), then printed at the page's size with
    its corner kept. On paper the route is fitted again to the printed map."""
    import datetime as dt

    from geo_service.maps.prints import _confined
    from geo_service.snow.service import make_plan

    app, _ = live
    doc = make_plan(
        app.state.workspace,
        effort=2,
        start=dt.datetime(2026, 12, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    for vehicle in doc["vehicles"][:3]:
        crew = vehicle["crew"]
        html = _print_html(live, monkeypatch, f"/maps/route/{doc['id']}/{crew}.pdf", role="admin")
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        file = tmp_path / f"wide-{crew}.html"
        file.write_text(_confined(html), encoding="utf-8")
        page.goto(file.as_uri())
        page.wait_for_function("() => window.GEO_MAP !== undefined", timeout=15_000)
        page.wait_for_timeout(300)
        page.set_viewport_size({"width": 718, "height": 904})  # the window narrows: the route runs off
        page.wait_for_timeout(300)
        page.emulate_media(media="print")
        page.wait_for_timeout(300)
        fit = page.evaluate(
            """() => { var view = GEO_MAP.getBounds(), outside = 0, size = GEO_MAP.getSize();
                 GEO_MAP.eachLayer(function(l){ if (l instanceof L.Polyline && l.options.vehicle) {
                   l.getLatLngs().forEach(function(p){ if (!view.contains(p)) outside++; }); } });
                 return {outside: outside, width: size.x, height: size.y}; }"""
        )
        assert fit["outside"] == 0, (crew, fit)
        assert fit["height"] > fit["width"], fit  # the portrait page's map
        context.close()


@pytest.mark.parametrize("fmt", ["pdf", "png"])
def test_a_print_link_downloads_the_print(browser, live, tmp_path, fmt):
    """The crew's print links opened the file in the browser; they save it, under the name the service
    gives (its Content-Disposition)."""
    import datetime as dt
    from urllib.parse import unquote

    from geo_service.snow.service import make_plan

    app, _ = live
    doc = make_plan(
        app.state.workspace,
        effort=2,
        start=dt.datetime(2026, 12, 6, 6, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        title="下载路线",
    )
    crew = doc["vehicles"][0]["crew"]
    s = Session(browser, live, role="crew", crew=crew, viewport=(390, 844))
    s.open(f"/maps/route/{doc['id']}/{crew}")
    with s.page.expect_download(timeout=90_000) as caught:
        s.page.click(f"#print-{fmt}")
    download = caught.value
    assert unquote(download.suggested_filename) == f"下载路线-{crew}-2026-12-06.{fmt}"
    saved = artefact(tmp_path, f"downloaded-route.{fmt}")
    download.save_as(saved)
    assert saved.read_bytes()[:4] == (b"%PDF" if fmt == "pdf" else b"\x89PNG")
    assert unquote(s.page.url) == f"{s.base}/maps/route/{doc['id']}/{crew}"  # the page stays
    s.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_print_writes_the_time_the_chinese_way(browser, live, monkeypatch, tmp_path, lang):
    """The coverage print showed its moment as the browser's form field does (12/06/2026, 03:00 PM in
    a headless Chromium); it is 2026-12-06 15:00 in Beijing time, also asked for in UTC."""
    for at in ("2026-12-06T15:00", "2026-12-06T07:00Z"):
        html = _print_html(live, monkeypatch, f"/maps/coverage.pdf?at={at}&lang={lang}")
        v = PrintView(browser, html, tmp_path)
        text = v.page.locator("body").inner_text()
        assert "2026-12-06 15:00" in v.page.locator("#panel").inner_text()
        assert ("Beijing time" if lang == "en" else "北京时间") in v.page.locator("#panel").inner_text()
        assert "2026-12-06 15:00" in v.page.locator("#map-title").inner_text()
        assert v.visible("input") == 0  # no form field on paper, in any locale
        assert not re.search(r"\d{1,2}/\d{1,2}/\d{4}|\b[AP]M\b", text), text[:500]
        v.close()


def test_the_coverage_page_printed_from_the_browser_hides_its_controls(browser, live, tmp_path):
    s = Session(browser, live, role="dispatcher")
    s.open("/maps/coverage?at=2026-12-06T15:00")
    assert s.page.locator(".leaflet-control-zoom").is_visible()
    assert "2026-12-06 15:00" in s.page.locator("#at-text").inner_text()  # beside the picker, on screen
    s.page.emulate_media(media="print")
    assert not s.page.locator(".leaflet-control-zoom").is_visible()
    assert not s.page.locator(".leaflet-control-layers").is_visible()
    assert not s.page.locator("input[type=datetime-local]").is_visible()
    assert s.page.locator("#legend").is_visible()
    assert s.page.locator("#north-arrow").is_visible()
    s.clean()
    s.close()


@pytest.mark.parametrize(
    ("lang", "mine", "other"),
    [("zh", "该点不在任何行政区内", "outside every district"), ("en", "outside every district", "行政区")],
)
def test_the_who_popup_speaks_the_pages_language(browser, live, tmp_path, lang, mine, other):
    """The popup's reasons were '中文 / English' whatever the page's language."""
    s = Session(browser, live, role="dispatcher")
    s.open(f"/maps/coverage?at=2026-12-06T15:00&lang={lang}")
    s.page.evaluate("void GEO_MAP.fire('click', {latlng: L.latLng(35.45, 112.95)})")  # outside the districts
    s.page.wait_for_selector(".leaflet-popup-content .reasons", timeout=10_000)
    reasons = s.page.locator(".leaflet-popup-content .reasons").inner_text()
    assert mine in reasons
    assert other not in reasons
    s.clean()
    s.close()


@pytest.mark.parametrize(
    ("lang", "label", "walk"), [("zh", "最近摊点：", "步行 0 米"), ("en", "Nearest stall site: ", "walk 0 m")]
)
def test_the_who_popup_names_the_nearest_stall_site(browser, live, tmp_path, lang, label, walk):
    """The dispatcher's click on the coverage map said who was on duty but not which stall site (and
    festival point) is nearest on foot, though the answer it reads has them: a click within a site names
    that site, 0 m away, and whether it is open then."""
    app, _ = live
    site = app.state.workspace.frame("stall_sites").iloc[0]
    c = site.geometry.representative_point()
    s = Session(browser, live, role="dispatcher")
    s.open(f"/maps/coverage?at=2026-12-06T15:00&lang={lang}")
    s.page.evaluate(f"void GEO_MAP.fire('click', {{latlng: L.latLng({c.y}, {c.x})}})")
    s.page.wait_for_selector(".leaflet-popup-content .nearest", timeout=10_000)
    stall = s.page.locator(".leaflet-popup-content .nearest.stall_site").inner_text()
    assert stall.startswith(label + site["name"]), stall
    assert walk in stall
    assert ("开放" if lang == "zh" else "open") in stall or ("closed" in stall)
    festival = s.page.locator(".leaflet-popup-content .nearest.festival_point").inner_text()
    assert festival.startswith("最近年货点：" if lang == "zh" else "Nearest festival point: ")
    s.clean()
    s.close()


def test_the_who_popup_says_why_when_the_place_is_refused(browser, live, tmp_path):
    """helper-48: a click the service refuses (far outside its area) showed 'outside the districts,
    nobody on duty' as though it were an answer."""
    s = Session(browser, live, role="dispatcher")
    s.open("/maps/coverage?at=2026-12-06T15:00&lang=en")
    s.page.evaluate("void GEO_MAP.fire('click', {latlng: L.latLng(5.0, 5.0)})")
    s.page.wait_for_selector(".leaflet-popup-content .refused", timeout=10_000)
    text = s.page.locator(".leaflet-popup-content").inner_text()
    assert "Nobody on duty" not in text
    assert len(text) > 10
    s.close()


def test_an_overlap_with_a_stray_point_draws_no_marker_pin(browser, live, tmp_path):
    """An overlap (or gap) from the overlay can be a collection with a point where two beats touch:
    Leaflet drew its default blue marker pin for it (an image missing offline). Only areas are drawn."""
    import datetime as dt

    import geopandas as gpd
    import shapely

    from geo_service.api.paths import STATIC_DIR
    from geo_service.maps.pages import coverage_page

    app, _ = live
    ws = app.state.workspace
    beats = ws.frame("patrol_beats")
    square = shapely.box(113.24, 35.22, 113.245, 35.225)
    overlap = shapely.GeometryCollection([shapely.Point(113.25, 35.23), square])
    gap = shapely.GeometryCollection(
        [shapely.MultiPoint([(113.2, 35.2), (113.21, 35.2)]), square.buffer(-0.001)]
    )
    html = coverage_page(
        ws,
        at=dt.datetime(2026, 12, 6, 15, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        beats=beats,
        on_duty=set(beats["code"]),
        gaps=[{"district": "解放区", "area_m2": 1.0, "geometry": gap}],
        overlaps=[{"beats": ["A", "B"], "area_m2": 2.0, "geometry": overlap}],
        figures=[],
        cases=gpd.GeoDataFrame({"category": [], "reported_at": []}, geometry=[], crs=4326),
        assignments={},
        festival_open=gpd.GeoDataFrame(geometry=[], crs=4326),
        static=STATIC_DIR.as_uri(),
    )
    v = PrintView(browser, html, tmp_path, media="screen")
    assert v.errors == []
    assert v.page.locator(".leaflet-marker-icon").count() == 0
    assert v.page.locator("img[src*='marker-icon']").count() == 0
    assert v.page.locator("path[stroke='#6a1b9a']").count() == 1  # the overlap's square is drawn
    v.close()


def test_the_coverage_map_fits_a_phone(browser, live, tmp_path):
    """On a phone the layer switch stood open over half the map; it folds into its button."""
    s = Session(browser, live, role="dispatcher", viewport=(390, 844))
    s.open("/maps/coverage?at=2026-12-06T15:00")
    assert s.page.locator(".leaflet-control-layers").count() == 1
    assert s.page.locator(".leaflet-control-layers-expanded").count() == 0
    s.clean()
    s.close()


_WATCH_POLICY = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"""


def test_pages_work_within_their_content_security_policy(browser, live, tmp_path):
    """Every HTML page carries a Content-Security-Policy (the live pages had none), and the map pages,
    the route sheet, the sign-in page and the Swagger docs all work within it: no violation, no console
    error. A script from elsewhere is refused, which shows that the policy is in force."""
    import datetime as dt

    from geo_service.snow.service import make_plan

    app, _ = live
    doc = make_plan(
        app.state.workspace,
        effort=2,
        start=dt.datetime(2026, 12, 6, 6, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    crew = doc["vehicles"][0]["crew"]
    s = Session(browser, live, role="admin")
    s.page.add_init_script(_WATCH_POLICY)
    maps = ["/maps/plan", "/maps/coverage?at=2026-12-01T21:00", f"/maps/route/{doc['id']}/{crew}"]
    others = {
        "/docs": ".swagger-ui .opblock",
        f"/plans/snow/{doc['id']}/crews/{crew}/sheet": "table",
        "/auth/login": "form",
    }
    for path in [*maps, *others]:
        resp = s.page.goto(s.base + path)
        policy = resp.headers.get("content-security-policy", "")
        for directive in (
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ):
            assert directive in policy, (path, policy)
        assert "script-src 'self' 'unsafe-inline'" in policy
        if path in maps:
            s.page.wait_for_function("() => window.GEO_MAP !== undefined", timeout=15_000)
            s.page.wait_for_timeout(500)
            assert s.page.locator(".leaflet-container path, .leaflet-marker-icon").count() > 0, path
        else:
            s.page.wait_for_selector(others[path], timeout=15_000)
        assert s.page.evaluate("window.__csp") == [], path
        s.clean()
        s.page.screenshot(path=artefact(tmp_path, f"csp-{path.strip('/').split('/')[0]}-{len(path)}.png"))
    # the policy is in force: a script from another host is refused before it is requested
    s.page.evaluate(
        "(() => { const t = document.createElement('script'); t.src = 'http://203.0.113.5/x.js';"
        " document.head.appendChild(t); })()"
    )
    s.page.wait_for_function("() => window.__csp.length > 0", timeout=5_000)
    assert s.page.evaluate("window.__csp")[0].startswith("script-src")
    assert s.outside == []
    s.close()


_FURNITURE = {
    "attribution": ".leaflet-control-attribution",
    "scale": ".leaflet-control-scale",
    "legend": "#legend",
    "layers": ".leaflet-control-layers",
    "zoom": ".leaflet-control-zoom",
    "panel": "#panel",
}


def _overlaps(page) -> list[tuple[str, str]]:
    """The pairs of map furniture (attribution, scale, legend, layer switch, zoom, panel) whose boxes
    on the screen overlap."""
    boxes = {}
    for name, selector in _FURNITURE.items():
        for i, el in enumerate(page.locator(selector).all()):
            if el.is_visible():
                box = el.bounding_box()
                if box and box["width"] > 0 and box["height"] > 0:
                    boxes[f"{name}{i or ''}"] = box
    names = sorted(boxes)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            p, q = boxes[a], boxes[b]
            if (
                p["x"] < q["x"] + q["width"]
                and q["x"] < p["x"] + p["width"]
                and p["y"] < q["y"] + q["height"]
                and q["y"] < p["y"] + p["height"]
            ):
                out.append((a, b))
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_map_furniture_does_not_overlap_on_a_phone(browser, live, tmp_path, lang):
    """On a 390 px phone the crew's route map had its attribution line (with the 'illustrative data'
    notice) lying over the scale bar; the other pages' legend, attribution, scale and panels must not
    cover each other either."""
    import datetime as dt

    from geo_service.snow.service import make_plan

    app, _ = live
    doc = make_plan(
        app.state.workspace,
        effort=2,
        start=dt.datetime(2026, 12, 6, 6, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    crew = doc["vehicles"][0]["crew"]
    pages = {
        "crew": f"/maps/route/{doc['id']}/{crew}?lang={lang}",
        "dispatcher": f"/maps/coverage?at=2026-12-06T15:00&lang={lang}",
        "planner": f"/maps/plan?lang={lang}",
    }
    for role, path in pages.items():
        s = Session(browser, live, role=role, crew=crew if role == "crew" else None, viewport=(390, 844))
        s.open(path)
        s.page.screenshot(path=artefact(tmp_path, f"phone-{role}-{lang}.png"))
        for foot in (".leaflet-control-attribution", ".leaflet-control-scale"):  # on the screen, not below it
            box = s.page.locator(foot).bounding_box()
            assert box is not None, (path, foot)
            assert box["y"] >= 0, (path, foot, box)
            assert box["y"] + box["height"] <= 844, (path, foot, box)
        assert _overlaps(s.page) == [], path
        # every page has its legend (the crew's had none), stacked above the attribution
        legend = s.page.locator("#legend").bounding_box()
        credit = s.page.locator(".leaflet-control-attribution").bounding_box()
        assert legend is not None, path
        assert credit is not None, path
        assert legend["y"] >= 0, (path, legend)
        assert legend["y"] + legend["height"] <= credit["y"], (path, legend, credit)
        assert s.page.evaluate("document.documentElement.scrollWidth") <= 390, path
        s.clean()
        s.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_time_picker_says_the_form_it_wants(browser, live, tmp_path, lang):
    """The coverage page's time picker had no visible label (an aria-label '时刻') and showed the
    browser's own locale (12/06/2026, 03:00 PM): it asks for Chinese dates, and its label says
    year-month-day and 24-hour time in Beijing time."""
    s = Session(browser, live, role="dispatcher", locale="en-US")  # as a headless Chromium is by default
    s.open(f"/maps/coverage?at=2026-12-06T15:00&lang={lang}")
    assert s.page.evaluate("document.documentElement.lang") == ("en" if lang == "en" else "zh-CN")
    pickers = s.page.locator("input[type=date], input[type=datetime-local]")
    assert pickers.count() == 1
    for picker in pickers.all():
        assert picker.get_attribute("lang") == "zh-CN"
        assert picker.input_value() == "2026-12-06T15:00"
        said = picker.evaluate("el => Array.from(el.labels).map(l => l.innerText).join(' ')")
        assert ("YYYY-MM-DD hh:mm" if lang == "en" else "年-月-日 时:分") in said, said
        shown = picker.evaluate("el => el.labels[0].getBoundingClientRect().width")
        assert shown > 0  # on the page, not only read out
    s.clean()
    s.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_coverage_map_and_its_print_say_the_years_holidays_are_assumed(
    browser, live, monkeypatch, tmp_path, lang
):
    """The user-tester: the map of 2027-02-08 12:30 (the Spring Festival weeks, when dispatchers most
    need it) did not say that the 2027 holiday schedule is not in the calendar and was assumed, though
    /coverage/beats for the same moment does. The page and its print say it, in the page's language."""
    said = (
        "节假日日历未收录 2027 年的调休安排"
        if lang == "zh"
        else "the 2027 holiday schedule is not in the calendar"
    )
    s = Session(browser, live, role="dispatcher")
    s.open(f"/maps/coverage?at=2027-02-08T12:30&lang={lang}")
    notice = s.page.locator(".calendar-notice")
    assert notice.count() == 1
    assert notice.is_visible()
    assert said in notice.inner_text()
    assert ("节假日" if lang == "en" else "holiday") not in notice.inner_text()
    s.page.screenshot(path=artefact(tmp_path, f"coverage-2027-{lang}.png"))
    s.clean()
    s.open(f"/maps/coverage?at=2026-12-06T15:00&lang={lang}")  # a year the calendar knows: no note
    assert s.page.locator(".calendar-notice").count() == 0
    s.close()
    html = _print_html(live, monkeypatch, f"/maps/coverage.pdf?at=2027-02-08T12:30&lang={lang}")
    for media in ("print", "screen"):  # the PDF, the PNG
        v = PrintView(browser, html, tmp_path, media=media)
        assert v.visible(".calendar-notice") == 1, media
        assert said in v.page.locator(".calendar-notice").inner_text()
        v.page.screenshot(path=artefact(tmp_path, f"coverage-2027-print-{lang}-{media}.png"))
        v.close()


def _crew_plan(app, start_hour: int = 6, title: str = "冻雨除雪预案") -> dict:
    import datetime as dt

    from geo_service.snow.service import make_plan

    return make_plan(
        app.state.workspace,
        effort=2,
        title=title,
        start=dt.datetime(2026, 12, 5, start_hour, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )


def test_a_refused_page_is_a_page_with_a_way_on(browser, live, tmp_path):
    """The user-tester: a crew member following a link to another crew's route (its PDF, its sheet) or
    to the coverage map saw raw JSON. They see a page saying why, with the status kept, and a link to
    their own crew's routes that takes them there."""
    app, _ = live
    doc = _crew_plan(app)
    other = next(v["crew"] for v in doc["vehicles"] if v["crew"] != "山阳一组")
    s = Session(browser, live, role="crew", crew="山阳一组", viewport=(390, 844))
    for path, heading in [
        (f"/maps/route/{doc['id']}/{other}", "无法显示地图"),
        (f"/maps/route/{doc['id']}/{other}.pdf", "无法显示地图"),
        (f"/plans/snow/{doc['id']}/crews/{other}/sheet", "无法显示路线单"),
        ("/maps/coverage", "无法显示地图"),
    ]:
        resp = s.page.goto(s.base + path)
        assert resp.status == 403, path
        assert s.page.locator("h1").inner_text() == heading, path
        said = s.page.locator("#error").inner_text()
        assert "作业人员只能查看本班组（山阳一组）的路线" in said or "无权查看图层与地图" in said, said
        assert "{" not in s.page.locator("body").inner_text()
    s.page.screenshot(path=artefact(tmp_path, "refused-page.png"))
    s.page.click("#home")
    s.page.wait_for_selector("#plans li.plan")
    assert s.page.url.endswith("/maps/crews/%E5%B1%B1%E9%98%B3%E4%B8%80%E7%BB%84")
    assert s.outside == []
    # the browser's console notes each refused page it loaded; nothing else went wrong
    assert [e for e in s.errors if "status of 403" not in e] == []
    s.close()


def test_a_crew_member_signs_in_on_a_phone_and_opens_their_route(browser, live, tmp_path):
    """The user-tester: after signing in a crew leader's phone showed a 403 in JSON (the form went to
    /docs), and the crew had no way to its route but a link from the dispatcher. Signed in on the form,
    they land on their crew's routes, newest plan first with its start, and open the route map."""
    app, base = live
    older = _crew_plan(app, 6, "早班预案")
    newer = _crew_plan(app, 22, "夜班预案")
    with contextlib.suppress(Exception):
        app.state.accounts.add_user("sy-leader", "crew", crew="山阳一组", password="secret-pass-1")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/auth/login")
    page.fill("#name", "sy-leader")
    page.fill("#password", "secret-pass-1")
    page.click("button[type=submit]")
    page.wait_for_selector("#plans li.plan")
    assert "/maps/crews/" in page.url
    plans = page.locator("#plans li.plan")
    ids = [plans.nth(i).get_attribute("data-plan") for i in range(plans.count())]
    assert ids.index(newer["id"]) < ids.index(older["id"])  # newest first
    first = plans.nth(ids.index(newer["id"]))
    assert "2026-12-05 22:00（北京时间）" in first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=artefact(tmp_path, "crew-start-page.png"))
    first.locator("a.route").click()
    page.wait_for_function("() => window.GEO_MAP !== undefined", timeout=15_000)
    assert page.locator("#stops li").count() > 5
    assert f"/maps/route/{newer['id']}/" in page.url
    assert errors == []
    context.close()


def _vehicle_drawing(page) -> dict:
    """What the route map draws per vehicle: its paths' colours, its stops' ring colours."""
    return page.evaluate(
        """() => { var out = {}; GEO_MAP.eachLayer(function(l){
             var v = l.options && l.options.vehicle; if (!v) return;
             out[v] = out[v] || {paths: [], rings: []};
             if (l instanceof L.CircleMarker) { out[v].rings.push(l.options.color); }
             else if (l instanceof L.Polyline) { out[v].paths.push(l.options.color); } });
           Object.keys(out).forEach(function(v){ out[v].paths = Array.from(new Set(out[v].paths));
             out[v].rings = Array.from(new Set(out[v].rings)); }); return out; }"""
    )


def test_a_crew_of_several_vehicles_tells_its_vehicles_apart(browser, live, monkeypatch, tmp_path):
    """The user-tester: 山阳一组 has 3 vehicles; its map labelled stops with each vehicle's own numbers
    (three 1s), drew every path in the same blue, and its list ran 1-560 beside '#seq'. Each vehicle has
    its colour (path and the ring of its stops), named in the legend; stops read A1, B1, C1; the page
    shows one vehicle when asked (a control, and ``vehicle``), and so does its print."""
    import re as re_

    app, _ = live
    doc = _crew_plan(app)
    vehicles = [v["vehicle"] for v in doc["vehicles"] if v["crew"] == "山阳一组"]
    assert len(vehicles) == 3
    s = Session(browser, live, role="crew", crew="山阳一组", viewport=(390, 844))
    s.open(f"/maps/route/{doc['id']}/山阳一组")
    s.clean()
    drawn = _vehicle_drawing(s.page)  # over the whole route: dots, ringed in their vehicle's colour
    assert sorted(drawn) == sorted(vehicles)
    colours = [drawn[v]["paths"] for v in vehicles]
    assert all(len(c) == 1 for c in colours), colours  # one colour a vehicle
    assert len({c[0] for c in colours}) == 3  # three colours
    assert all(drawn[v]["rings"] == drawn[v]["paths"] for v in vehicles), drawn  # its stops ringed in it
    legend = s.page.locator("#legend").inner_text()
    for tag, name in zip("ABC", vehicles, strict=True):
        assert f"{tag} {name}" in legend, legend
    swatches = s.page.locator("#legend i").evaluate_all(
        "els => els.map(e => getComputedStyle(e).backgroundColor)"
    )
    for c in colours:
        rgb = tuple(int(c[0][i : i + 2], 16) for i in (1, 3, 5))
        assert f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})" in swatches
    _the_crew_map_shows_its_route(s)  # the whole route (three vehicles) fitted, then zoomed in
    # the list: by vehicle, each stop's label once, no '#seq' beside it and no list numbers 1-560
    heads = s.page.locator("#stops h3").all_inner_texts()
    assert [h.split(" · ")[0] for h in heads] == [f"{t} {v}" for t, v in zip("ABC", vehicles, strict=True)]
    listed = s.page.locator("#stops .stop-label").all_inner_texts()
    assert len(listed) == len(set(listed)) == s.page.locator("#stops li").count()
    assert "#" not in s.page.locator("#stops").inner_text()
    assert s.page.locator("#stops ol").first.evaluate("e => getComputedStyle(e).listStyleType") == "none"
    # zoomed in: the map's labels are the list's, each once
    labels = s.page.locator(".stop-no").all_inner_texts()
    assert sorted(labels) == sorted(listed)
    assert {label[0] for label in labels} == {"A", "B", "C"}
    assert all(re_.fullmatch(r"[ABC]\d+", label) for label in labels)
    s.page.screenshot(path=artefact(tmp_path, "route-three-vehicles-zoomed.png"))

    # one vehicle: chosen on the page
    s.page.select_option("#vehicle-select", vehicles[1])
    s.page.wait_for_url(re_.compile(r".*vehicle=.*"))
    s.page.wait_for_function("() => window.GEO_MAP !== undefined", timeout=15_000)
    s.page.wait_for_timeout(300)
    drawn = _vehicle_drawing(s.page)
    assert list(drawn) == [vehicles[1]]
    assert drawn[vehicles[1]]["paths"] == colours[1]  # its colour kept
    only = s.page.locator("#stops .stop-label").all_inner_texts()
    assert only
    assert all(label.startswith("B") for label in only)
    legend = s.page.locator("#legend").inner_text()
    assert f"B {vehicles[1]}" in legend
    assert vehicles[0] not in legend
    assert vehicles[2] not in legend
    assert "vehicle=" in s.page.locator("#print-pdf").get_attribute("href")
    s.page.screenshot(path=artefact(tmp_path, "route-one-vehicle.png"))
    s.clean()
    s.close()

    # and its print
    html = _print_html(live, monkeypatch, f"/maps/route/{doc['id']}/山阳一组.pdf?vehicle={vehicles[1]}")
    v = PrintView(browser, html, tmp_path, orientation="portrait")
    assert v.errors == []
    assert list(_vehicle_drawing(v.page)) == [vehicles[1]]
    assert vehicles[1] in v.page.locator("#map-title").inner_text()
    assert v.page.locator("#stops .stop-label").count() == len(only)
    v.close()


def _closure_plan(app) -> dict:
    """A plan made while 东环路大沙河桥 (bridge 12) is closed: the bridge and 东环路 across it unserved."""
    import datetime as dt

    from geo_service.snow.service import make_plan

    return make_plan(
        app.state.workspace,
        effort=2,
        title="东环路断桥",
        closed_bridges=[12],
        start=dt.datetime(2026, 12, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )


@pytest.mark.parametrize(
    ("lang", "closed", "unserved"),
    [
        ("zh", "封闭：东环路大沙河桥（桥涵）", ["东环路大沙河桥：桥涵封闭", "东环路：所在桥涵封闭"]),
        (
            "en",
            "Closed: 东环路大沙河桥 (bridge/culvert)",
            ["东环路大沙河桥: closed", "东环路: a closed bridge or culvert is on it"],
        ),
    ],
)
def test_a_plan_made_with_a_closure_shows_it_on_the_crews_page(
    browser, live, tmp_path, lang, closed, unserved
):
    """A plan made while a bridge was closed gave the crew's page no word of it, nor of the bridge and
    the road across it that no vehicle would clear: a crew would drive to it. The page lists the
    closure (封闭：…) and the items the plan could not serve with why, in the page's language, and the
    map draws the closed bridge (a black cross) and the items left unserved, both in the legend; the
    crew's list of routes names the closure and counts the unserved items."""
    app, _ = live
    doc = _closure_plan(app)
    s = Session(browser, live, role="crew", crew="中站一组", viewport=(390, 844))
    s.open(f"/maps/route/{doc['id']}/中站一组?lang={lang}")
    s.clean()
    assert s.page.locator("#closures").inner_text() == closed
    assert s.page.locator("#unserved li").all_inner_texts() == unserved
    assert s.page.locator("#closures").is_visible()  # at the head of the list, not below the stops
    drawn = s.page.evaluate(
        """() => { var out = {}; GEO_MAP.eachLayer(function(l){ var f = l.feature;
             if (f && f.properties.item) { var k = f.properties.item; out[k] = out[k] || [];
               out[k].push(l instanceof L.Marker ? 'cross' : l instanceof L.CircleMarker ? 'ring' : 'line'); } });
           return out; }"""
    )
    assert sorted(drawn["bridge:12"]) == ["cross", "ring"], drawn  # closed, and so not served
    roads = [u["item"] for u in doc["unserved"] if u["item"].startswith("road:")]  # 东环路 across it
    assert roads
    assert all(drawn[r] == ["line"] for r in roads), drawn
    assert s.page.locator(".closed-mark").count() == 1
    legend = s.page.locator("#legend").inner_text()
    for word in ("Closed", "Not served") if lang == "en" else ("封闭", "未作业"):
        assert word in legend, legend
    assert s.page.evaluate("document.documentElement.scrollWidth") <= 390
    s.page.screenshot(path=artefact(tmp_path, f"route-closure-{lang}.png"))
    # the crew's list of routes says it before the map is opened
    s.page.goto(f"{s.base}/maps/crews/中站一组?lang={lang}")
    plan = s.page.locator(f"li.plan[data-plan='{doc['id']}']")
    assert plan.locator(".closures").inner_text() == closed.split(" (")[0].split("（")[0]
    assert plan.locator(".unserved").inner_text() == (
        "2 item(s) not served" if lang == "en" else "2 处未作业"
    )
    s.clean()
    s.close()


def _stop_on_the_map(page, label: str) -> dict:
    """Where the map is against the stop labelled ``label``: metres and pixels from the map's centre to
    the stop, the zoom, whether the stop's popup is open and how many popups are."""
    return page.evaluate(
        """(label) => { var m = null; GEO_MAP.eachLayer(function(l){ if (l.options && l.options.label === label) m = l; });
             if (!m) return null;
             var open = 0; GEO_MAP.eachLayer(function(l){ if (l.isPopupOpen && l.isPopupOpen()) open++; });
             var centre = GEO_MAP.getCenter(), size = GEO_MAP.getSize(), at = GEO_MAP.latLngToContainerPoint(m.getLatLng());
             return {metres: GEO_MAP.distance(centre, m.getLatLng()), dx: at.x - size.x / 2, dy: at.y - size.y / 2,
                     zoom: GEO_MAP.getZoom(), popup: m.isPopupOpen(),
                     popups: open}; }""",
        label,
    )


def test_tapping_a_stop_brings_the_map_to_it_on_a_phone(browser, live, tmp_path):
    """Tapping a stop in the list left the map where it was: a driver could not find stop B31 on it. On
    a phone, the tapped stop is brought to the map's centre, zoomed in to its label, its popup open (its
    label, time and name) and its row marked; tapping another moves on."""
    app, _ = live
    doc = _crew_plan(app)
    s = Session(browser, live, role="crew", crew="中站一组", viewport=(390, 844), touch=True)
    s.open(f"/maps/route/{doc['id']}/中站一组")
    rows = s.page.locator("#stops li[data-stop]")
    last = rows.nth(rows.count() - 1)
    label = last.locator(".stop-label").inner_text()
    assert label.startswith("B")
    before = s.page.evaluate("() => [GEO_MAP.getCenter().lat, GEO_MAP.getCenter().lng, GEO_MAP.getZoom()]")
    assert before[2] < 15  # the whole route: dots, no labels
    last.tap()
    s.page.wait_for_selector(".leaflet-popup-content")
    where = _stop_on_the_map(s.page, label)
    assert where is not None
    assert where["zoom"] >= 16
    assert where["metres"] < 15, where  # the map's centre is the stop
    assert abs(where["dx"]) < 8, where
    assert abs(where["dy"]) < 8, where
    assert where["popup"]
    assert where["popups"] == 1
    popup = s.page.locator(".leaflet-popup-content").inner_text()
    assert label in popup
    assert last.inner_text().split(" · ")[-1] in popup  # its name
    assert "current" in last.get_attribute("class")
    # the popup and the stop's label are on the screen, in the map
    box, shown = s.page.locator(".folium-map").bounding_box(), s.page.locator(".leaflet-popup").bounding_box()
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= 844
    assert box["y"] <= shown["y"]
    assert shown["y"] + shown["height"] <= box["y"] + box["height"]
    assert s.page.locator(".stop-no", has_text=re.compile(f"^{label}$")).is_visible()
    s.page.screenshot(path=artefact(tmp_path, "route-stop-tapped.png"))

    first = rows.nth(0)
    first.tap()
    s.page.wait_for_function(
        "() => (document.querySelector('#stops li.current') || {dataset: {}}).dataset.stop === '0'"
    )
    again = _stop_on_the_map(s.page, "A1")
    assert again["metres"] < 15, again
    assert again["popup"], again
    assert again["popups"] == 1, again
    assert s.page.locator("#stops li.current").count() == 1
    s.clean()
    s.close()
