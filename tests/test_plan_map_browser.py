"""The planner's map in real headless Chromium, as a planner uses it: festival points with their
season (told again from the API's answer when their dates change), a site's hours, status and dates
seen and changed in its popup, a stale edit refused, a siting refusal overridden with a reason, a site
deleted with a reason and restored; and roles that may not edit (or may not override) not offered it.
Each checks the store, not only the page."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from geo_service import features as feature_ops
from geo_service.errors import InvalidInput, NotFound
from tests import test_maps_browser as shared
from tests.test_maps_browser import Session, _alley_spot, _draw_rectangle, artefact

# the running service over a copy of the demo, and Chromium: this module's own (module-scoped)
live = shared.live
browser = shared.browser

pytestmark = pytest.mark.browser

TZ = dt.timezone(dt.timedelta(hours=8))


def _find(layer: str, fid: int) -> str:
    """A script expression: the Leaflet layer of site ``fid`` of ``layer`` on the map."""
    return (
        "(() => { var found; GEO_MAP.eachLayer(x => { if (x.feature && x.feature.properties && "
        f"x.feature.properties._layer === '{layer}' && x.feature.properties.id === {fid}) found = x; }}); "
        "return found; })()"
    )


def _centre_on(page, expression: str, zoom: int = 18) -> tuple[float, float]:
    """Centre the map on a layer (a script expression) and return its centre on the screen."""
    where = f"(() => {{ var l = {expression}; return l.getBounds ? l.getBounds().getCenter() : l.getLatLng(); }})()"
    # nothing returned: Playwright would copy the whole map, which setView returns (15 s and more)
    page.evaluate(f"(() => {{ GEO_MAP.setView({where}, {zoom}, {{animate: false}}); }})()")
    page.wait_for_timeout(300)
    return page.evaluate(
        f"(() => {{ var p = GEO_MAP.latLngToContainerPoint({where}); "
        "var r = GEO_MAP.getContainer().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; })()"
    )


def _click_site(page, layer: str, fid: int) -> str:
    """Click a site on the map, as a planner would, and return its popup's text."""
    x, y = _centre_on(page, _find(layer, fid))
    page.mouse.click(x, y)
    popup = page.locator(f".site-popup[data-layer='{layer}'][data-id='{fid}']")
    popup.wait_for(timeout=5_000)
    return popup.inner_text()


def _wait_msg(page, text: str, timeout: int = 15_000) -> str:
    page.wait_for_function(
        f"() => document.getElementById('msg').innerText.includes({text!r})", timeout=timeout
    )
    return page.locator("#msg").inner_text()


def _script_errors(s: Session) -> list[str]:
    """Console errors other than the browser's note of a refused request (a 4xx the page shows)."""
    return [e for e in s.errors if "Failed to load resource" not in e]


def _api_error(spec, props) -> InvalidInput:
    """The API's refusal of ``props`` for a layer (its validation), to compare with what the page shows."""
    with pytest.raises(InvalidInput) as caught:
        spec.validate_properties(props, partial=True)
    return caught.value


@pytest.mark.parametrize(
    ("lang", "lunar", "hours", "legend"),
    [
        ("zh", "农历：腊月十五至正月十六", "开放时段：07:00-22:00", "春节销售点"),
        ("en", "Lunar dates: lunar 12/15 to 1/16", "Opening hours: 07:00-22:00", "Spring Festival points"),
    ],
    ids=["zh", "en"],
)
def test_festival_points_show_their_season_beside_the_stall_sites(
    browser, live, tmp_path, lang, lunar, hours, legend
):
    from geo_service.coverage.season import site_season

    app, _ = live
    store = app.state.workspace.store
    s = Session(browser, live, role="planner")
    s.open(f"/maps/plan?lang={lang}")
    assert legend in s.page.locator("#legend").inner_text()
    # their own symbol: the festival layer's red circles, one for each point drawn as a point
    points = [
        f for f in store.list_features("festival_sales_points").features if f.geometry.geom_type == "Point"
    ]
    drawn = s.page.evaluate(
        "(() => { var n = 0; GEO_MAP.eachLayer(x => { if (x.feature && x.feature.properties._layer === "
        "'festival_sales_points' && x.getRadius && x.options.fillColor === '#ef5350') n++; }); return n; })()"
    )
    assert drawn == len(points) > 0
    point = points[0]
    text = _click_site(s.page, "festival_sales_points", point.id)
    assert point.properties["name"] in text
    assert lunar in text
    assert hours in text
    assert ("Status: Open" if lang == "en" else "状态：开放") in text
    valid = f"{point.properties['valid_from']:%Y-%m-%d}"
    assert valid in text
    season = site_season(point.properties, day=dt.datetime.now(TZ).date())
    assert season["season_en" if lang == "en" else "season_zh"] in text
    s.page.screenshot(path=artefact(tmp_path, f"plan-festival-{lang}.png"))
    s.clean()
    s.close()


def test_planner_changes_a_sites_hours_status_and_dates_and_bad_input_is_refused(browser, live, tmp_path):
    app, _ = live
    ws = app.state.workspace
    spec = ws.catalog["stall_sites"]
    site = ws.store.get_feature("stall_sites", 3)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    text = _click_site(s.page, "stall_sites", 3)
    assert "开放时段：06:00-20:00" in text
    assert "状态：开放" in text
    assert f"有效期：{site.properties['valid_from']:%Y-%m-%d} 至 …" in text
    s.page.locator(".site-popup button.edit-fields").click()
    s.page.wait_for_selector("#attr-form", state="visible")
    assert s.page.input_value("#a-hours") == "06:00-20:00"
    assert not s.page.locator("#a-lunar").is_visible()  # a stall site has no lunar dates
    s.page.fill("#a-hours", "07:00-19:00")
    s.page.select_option("#a-status", "suspended")
    s.page.fill("#a-valid_to", "2027/3/1")  # as people write it: the API reads it
    s.page.click("#attr-save")
    _wait_msg(s.page, "已保存")
    after = ws.store.get_feature("stall_sites", 3)
    assert after.version == site.version + 1
    assert after.properties["hours"] == "07:00-19:00"
    assert after.properties["status"] == "suspended"
    assert after.properties["valid_to"] == dt.date(2027, 3, 1)
    assert after.geometry.equals(site.geometry)
    text = _click_site(s.page, "stall_sites", 3)
    assert "开放时段：07:00-19:00" in text
    assert "状态：暂停" in text
    assert "至 2027-03-01" in text
    # bad input: the API's own words, and nothing written
    for field, bad in (("hours", "全天"), ("valid_to", "2025-12-31"), ("valid_from", "3/1/2027")):
        s.page.locator(".site-popup button.edit-fields").click()
        s.page.fill(f"#a-{field}", bad)
        s.page.click("#attr-save")
        props = {field: bad}
        if field == "valid_to":  # before its start: refused as the whole feature is checked
            props = {"valid_from": after.properties["valid_from"], "valid_to": bad}
        said = _wait_msg(s.page, _api_error(spec, props).zh)
        assert "geo-msg" in s.page.locator("#msg").get_attribute("class")
        assert ws.store.get_feature("stall_sites", 3).version == after.version, said
        assert s.page.locator("#attr-form").is_visible()  # still there to correct
        s.page.click("#attr-cancel")
        s.page.evaluate("document.getElementById('msg').innerHTML = ''")
        _click_site(s.page, "stall_sites", 3)
    assert _script_errors(s) == []
    s.close()


def test_a_stale_edit_is_refused_with_the_apis_message(browser, live, tmp_path):
    """Someone else changes a festival point after the page was opened: the page's edit names the
    version it read, the API refuses it (409) and its message is shown; the other change stays."""
    app, _ = live
    ws = app.state.workspace
    before = ws.store.get_feature("festival_sales_points", 4)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    feature_ops.patch_feature(
        ws, "festival_sales_points", 4, {"properties": {"hours": "08:00-21:00"}}, actor="another-planner"
    )
    _click_site(s.page, "festival_sales_points", 4)
    s.page.locator(".site-popup button.edit-fields").click()
    assert s.page.locator("#a-lunar").is_visible()
    assert s.page.input_value("#a-lunar_from") == "12-15"
    s.page.select_option("#a-status", "suspended")
    s.page.click("#attr-save")
    said = _wait_msg(s.page, "已被他人修改")
    assert f"当前版本 {before.version + 1}，请求基于版本 {before.version}" in said
    assert "请刷新页面" in said
    now = ws.store.get_feature("festival_sales_points", 4)
    assert now.version == before.version + 1
    assert now.properties["hours"] == "08:00-21:00"
    assert now.properties["status"] == "open"
    assert _script_errors(s) == []
    s.close()


@pytest.mark.parametrize(("lang", "fid"), [("zh", 9), ("en", 6)], ids=["zh", "en"])
def test_a_festival_points_season_follows_its_new_dates_without_a_reload(browser, live, tmp_path, lang, fid):
    """Its dates changed in the popup, a festival point's season is told again as the API's answer
    gives it (its season today), on the same page: not left as it was, nor 'reload to see it'."""
    from geo_service.coverage.season import site_season

    app, _ = live
    ws = app.state.workspace
    point = ws.store.get_feature("festival_sales_points", fid)
    today = dt.datetime.now(TZ).date()
    key, saved = ("season_en", "Saved") if lang == "en" else ("season_zh", "已保存")
    s = Session(browser, live, role="planner")
    s.open(f"/maps/plan?lang={lang}")
    s.page.evaluate("window.notReloaded = true")
    told = site_season(point.properties, day=today)[key]
    assert told in _click_site(s.page, "festival_sales_points", fid)
    ends = point.properties["valid_from"] + dt.timedelta(days=10)
    for field, value in (("valid_to", ends.isoformat()), ("lunar_from", "12-23")):
        s.page.locator(".site-popup button.edit-fields").click()
        s.page.fill(f"#a-{field}", value)
        s.page.click("#attr-save")
        _wait_msg(s.page, saved)
        s.page.evaluate("document.getElementById('msg').innerHTML = ''")
        after = ws.store.get_feature("festival_sales_points", fid)
        assert str(after.properties[field]) == value
        now = site_season(after.properties, day=today)[key]
        assert now != told, field
        text = _click_site(s.page, "festival_sales_points", fid)
        assert now in text, field
        assert told not in text, field
        assert ("reload" if lang == "en" else "刷新") not in text
        told = now
    assert s.page.evaluate("window.notReloaded === true")
    assert _script_errors(s) == []
    s.page.screenshot(path=artefact(tmp_path, f"plan-festival-season-{lang}.png"))
    s.close()


def _place_festival_point(page, lat: float, lon: float, dy: int = -40) -> None:
    """Pick the 'new festival point' tool and place a point ``dy`` pixels north (negative: up) of a
    place, at zoom 19 (a pixel is about 0.24 m); its form then opens."""
    page.evaluate(f"(() => {{ GEO_MAP.setView([{lat}, {lon}], 19, {{animate: false}}); }})()")
    page.wait_for_timeout(300)
    x, y = page.evaluate(
        f"(() => {{ var c = GEO_MAP.latLngToContainerPoint([{lat}, {lon}]); "
        "var r = GEO_MAP.getContainer().getBoundingClientRect(); return [c.x + r.left, c.y + r.top]; })()"
    )
    page.click(".leaflet-pm-icon-circle-marker.geo-festival-point")
    page.mouse.click(x, y + dy)
    page.wait_for_selector("#fest-form", state="visible")


def test_planner_places_a_new_festival_point_and_sees_its_season(browser, live, tmp_path):
    """The 'new festival point' tool: a point placed, its fields filled, saved through the features API;
    it is on the map with its season as the API's answer tells it."""
    from geo_service.coverage.season import site_season

    app, _ = live
    ws = app.state.workspace
    spot = _alley_spot(app)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    tool = s.page.locator(".geo-festival-point")
    assert tool.count() == 1
    assert (
        s.page.locator(".button-container:has(.geo-festival-point)").get_attribute("title")
        == "新增春节销售点"
    )
    before = ws.store.count("festival_sales_points")
    _place_festival_point(s.page, spot.y, spot.x)
    assert s.page.input_value("#fp-district") == "山阳区"  # the district it is placed in
    s.page.fill("#fp-name", "浏览器测试年货点")
    s.page.fill("#fp-address", "测试街 1 号")
    s.page.fill("#fp-capacity", "12")
    s.page.fill("#fp-hours", "08:00-21:00")
    s.page.fill("#fp-lunar_from", "12-20")
    s.page.fill("#fp-lunar_to", "01-10")
    s.page.select_option("#fp-status", "planned")
    s.page.click("#fest-save")
    said = _wait_msg(s.page, "已保存")
    assert ws.store.count("festival_sales_points") == before + 1, said
    newest = max(f.id for f in ws.store.list_features("festival_sales_points").features)
    stored = ws.store.get_feature("festival_sales_points", newest)
    assert stored.geometry.geom_type == "Point"
    assert _metres(stored.geometry, spot) < 15
    props = stored.properties
    assert (props["name"], props["district"], props["address"]) == (
        "浏览器测试年货点",
        "山阳区",
        "测试街 1 号",
    )
    assert (props["capacity"], props["goods"], props["hours"]) == (12, "年货", "08:00-21:00")
    assert (props["lunar_from"], props["lunar_to"], props["status"]) == ("12-20", "01-10", "planned")
    [created] = ws.store.history("festival_sales_points", newest)
    assert (created.op, created.actor) == ("create", "b-planner-")
    assert not s.page.locator("#fest-form").is_visible()
    season = site_season(props, day=dt.datetime.now(TZ).date())["season_zh"]
    assert season in said
    text = _click_site(s.page, "festival_sales_points", newest)
    assert "浏览器测试年货点" in text
    assert "农历：腊月二十至正月初十" in text
    assert "状态：规划中" in text
    assert season in text
    assert "刷新" not in text
    s.page.screenshot(path=artefact(tmp_path, "plan-new-festival-point.png"))
    assert _script_errors(s) == []
    s.close()


def test_a_new_festival_point_refused_shows_the_apis_message(browser, live, tmp_path):
    """Its name (required) left blank: the API's refusal is shown in the page's language, nothing is
    written, and the form stays to correct it; corrected, it is saved."""
    app, _ = live
    ws = app.state.workspace
    spec = ws.catalog["festival_sales_points"]
    spot = _alley_spot(app)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan?lang=en")
    before = ws.store.count("festival_sales_points")
    _place_festival_point(s.page, spot.y, spot.x, dy=40)
    s.page.fill("#fp-name", "")
    s.page.click("#fest-save")
    expected = _api_error(spec, {"name": ""}).en
    said = _wait_msg(s.page, expected)
    assert "missing required field 'name'" in said
    assert "geo-msg" in s.page.locator("#msg").get_attribute("class")
    assert ws.store.count("festival_sales_points") == before
    assert s.page.locator("#fest-form").is_visible()
    s.page.fill("#fp-name", "Festival point, named")
    s.page.click("#fest-save")
    _wait_msg(s.page, "Saved as festival point")
    assert ws.store.count("festival_sales_points") == before + 1
    assert _script_errors(s) == []
    s.close()


def _main_road_point(ws, index: int = 10):
    roads = ws.frame("roads")
    return roads[roads["road_class"] == "main"].geometry.iloc[index].interpolate(0.5, normalized=True)


def test_planner_overrides_a_refused_new_zone_with_a_reason(browser, live, tmp_path):
    app, _ = live
    ws = app.state.workspace
    main = _main_road_point(ws)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    before = ws.store.count("stall_sites")
    _draw_rectangle(s.page, main.y, main.x, -40, -20, 40, 20)  # straddles a main road
    s.page.fill("#f-name", "经批准的主干道摊区")
    s.page.click("#save")
    s.page.wait_for_selector("#violations li", timeout=15_000)
    said = s.page.locator("#msg").inner_text()
    assert said.startswith("不符合选址规则或无法检查")  # the API's refusal as it words it
    assert "主干道" in s.page.locator("#violations").inner_text()
    s.page.wait_for_selector("#override", state="visible")
    assert "主干道严控" in s.page.locator("#override-rules").inner_text()
    s.page.screenshot(path=artefact(tmp_path, "plan-override-offered.png"))
    # no reason typed: the API says one is needed, nothing is written, the box stays to type it
    s.page.click("#override-send")
    _wait_msg(s.page, "越过选址规则必须填写理由")
    assert ws.store.count("stall_sites") == before
    assert s.page.locator("#override").is_visible()
    reason = "市政府春节保供临时批准（焦城管〔2026〕12号）"
    s.page.fill("#override-reason", reason)
    s.page.click("#override-send")
    _wait_msg(s.page, "已保存")
    assert ws.store.count("stall_sites") == before + 1
    newest = max(f.id for f in ws.store.list_features("stall_sites").features)
    assert ws.store.get_feature("stall_sites", newest).properties["name"] == "经批准的主干道摊区"
    [created] = ws.store.history("stall_sites", newest)
    assert (created.op, created.actor) == ("create", "b-planner-")
    assert created.reason.startswith(f"{reason}（越过选址规则 / overrides: ")  # the rules approved kept too
    assert not s.page.locator("#override").is_visible()
    assert s.page.evaluate(f"!!{_find('stall_sites', newest)}")
    s.page.screenshot(path=artefact(tmp_path, "plan-override.png"))
    assert _script_errors(s) == []
    s.close()


def test_planner_overrides_a_refused_move_on_the_english_page(browser, live, tmp_path):
    """A zone moved onto a main road is refused in English as the API words it; the override's reason
    goes into the zone's history with the move."""
    app, _ = live
    ws = app.state.workspace
    zone = ws.store.get_feature("stall_sites", 5)
    roads = ws.frame("roads")
    mains = roads[(roads["road_class"] == "main") & (roads["district"] == zone.properties["district"])]
    target = mains.geometry.iloc[len(mains) // 2].interpolate(0.5, normalized=True)
    centre = zone.geometry.centroid
    dx, dy = target.x - centre.x, target.y - centre.y
    s = Session(browser, live, role="planner")
    s.open("/maps/plan?lang=en")
    _click_site(s.page, "stall_sites", 5)
    s.page.locator(".site-popup button.edit-shape").click()
    _wait_msg(s.page, "Drag the corners")
    s.page.evaluate(  # the zone dragged onto the main road, then clicked to save
        f"""(() => {{ var l = {_find("stall_sites", 5)};
        l.setLatLngs(l.getLatLngs().map(r => r.map(ll => L.latLng(ll.lat + {dy}, ll.lng + {dx}))));
        l.fire('click'); }})()"""
    )
    said = _wait_msg(s.page, "Breaks or cannot be checked against")
    assert "main road" in said
    assert ws.store.get_feature("stall_sites", 5).version == zone.version  # nothing written
    s.page.wait_for_selector("#override", state="visible")
    assert "Main roads banned" in s.page.locator("#override-rules").inner_text()
    reason = "Temporary market approved for the Spring Festival"
    s.page.fill("#override-reason", reason)
    s.page.click("#override-send")
    _wait_msg(s.page, "Saved")
    moved = ws.store.get_feature("stall_sites", 5)
    assert moved.version == zone.version + 1
    assert moved.geometry.centroid.distance(target) < 0.0001
    assert moved.properties == zone.properties
    last = ws.store.history("stall_sites", 5, limit=1)[0]
    assert last.op == "update"
    assert last.reason.startswith(f"{reason}（越过选址规则 / overrides: ")
    assert _script_errors(s) == []
    s.close()


def test_planner_moves_a_festival_point_by_dragging_it(browser, live, tmp_path):
    app, _ = live
    store = app.state.workspace.store
    point = next(
        f
        for f in store.list_features("festival_sales_points").features
        if f.geometry.geom_type == "Point" and f.id not in (2, 4, 6, 7)  # not those other tests change
    )
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    _click_site(s.page, "festival_sales_points", point.id)
    s.page.locator(".site-popup button.edit-shape").click()
    _wait_msg(s.page, "拖动该点")
    x, y = _centre_on(s.page, _find("festival_sales_points", point.id), zoom=19)
    s.page.mouse.move(x, y)
    s.page.mouse.down()
    s.page.mouse.move(x + 6, y + 3, steps=5)
    s.page.mouse.move(x + 12, y + 6, steps=5)
    s.page.mouse.up()
    s.page.wait_for_timeout(300)
    s.page.mouse.click(x + 12, y + 6)  # clicked again: saved
    said = _wait_msg(s.page, "已保存")
    moved = store.get_feature("festival_sales_points", point.id)
    assert moved.version == point.version + 1, said
    assert 1 < _metres(moved.geometry, point.geometry) < 10
    assert moved.properties == point.properties
    assert s.page.locator(".leaflet-popup-content").count() == 0
    assert _script_errors(s) == []
    s.close()


def _metres(a, b) -> float:
    import numpy as np
    import shapely

    from geo_service.crs import to_metric

    pa, pb = to_metric(np.array([a, b], dtype=object))
    return float(shapely.distance(pa, pb))


def test_planner_deletes_a_site_with_a_reason_and_restores_it(browser, live, tmp_path):
    """Delete asks why (required): cancelled, nothing happens; left blank, the API's refusal is shown and
    nothing is deleted; typed, the reason is in the site's history and in the deleted sites' popup."""
    app, _ = live
    store = app.state.workspace.store
    site = store.get_feature("stall_sites", 8)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    _click_site(s.page, "stall_sites", 8)
    asked = []
    s.page.once("dialog", lambda d: (asked.append((d.type, d.message)), d.dismiss()))
    s.page.locator(".site-popup button.delete-site").click()
    s.page.wait_for_timeout(300)
    kind, message = asked[0]
    assert kind == "prompt"
    assert site.properties["name"] in message
    assert "理由（必填" in message
    assert store.get_feature("stall_sites", 8).version == site.version  # cancelled: not deleted
    _click_site(s.page, "stall_sites", 8)
    s.page.once("dialog", lambda d: d.accept("  "))
    s.page.locator(".site-popup button.delete-site").click()
    _wait_msg(s.page, "删除理由不能为空")  # the API's words
    assert store.get_feature("stall_sites", 8).version == site.version
    assert s.page.evaluate(f"!!{_find('stall_sites', 8)}")
    reason = "路口改造施工，摊区暂撤（街道办通知）"
    _click_site(s.page, "stall_sites", 8)
    s.page.once("dialog", lambda d: d.accept(reason))
    s.page.locator(".site-popup button.delete-site").click()
    _wait_msg(s.page, "已删除")
    with pytest.raises(NotFound):
        store.get_feature("stall_sites", 8)
    [deleted] = store.history("stall_sites", 8, limit=1)
    assert (deleted.op, deleted.reason, deleted.actor) == ("delete", reason, "b-planner-")
    assert not s.page.evaluate(f"!!{_find('stall_sites', 8)}")
    popup = _open_deleted(s.page, "stall_sites", 8)
    assert f"理由：{reason}" in popup.inner_text()
    s.page.evaluate("GEO_MAP.closePopup()")
    s.page.click("#undo-delete")
    said = _wait_msg(s.page, "已恢复")
    back = store.get_feature("stall_sites", 8)
    assert back.properties == site.properties
    assert back.geometry.equals(site.geometry)
    assert f"版本 {back.version}" in said
    assert [c.op for c in store.history("stall_sites", 8, limit=2)] == ["restore", "delete"]
    text = _click_site(s.page, "stall_sites", 8)  # on the map again, and editable
    assert "修改时段、状态、日期" in text
    assert _script_errors(s) == []
    assert [f.split("?")[1] for f in s.failed] == ["reason=%20%20"]  # the refused blank one only
    assert s.outside == []
    s.close()


def _deleted(layer: str, fid: int) -> str:
    """A script expression: the Leaflet layer of deleted site ``fid`` of ``layer`` on the map."""
    return (
        f"(() => {{ var found; GEO_MAP.eachLayer(x => {{ if (x.feature && x.feature.properties.site === {fid} && "
        f"x.feature.properties.layer === '{layer}') found = x; }}); return found; }})()"
    )


def _open_deleted(page, layer: str, fid: int):
    """Turn the deleted sites' layer on (if off), click the deleted site and return its popup."""
    if not page.evaluate(f"!!{_deleted(layer, fid)}"):
        page.locator(".leaflet-control-layers").get_by_text("已删除的摊区与销售点").click()
    x, y = _centre_on(page, _deleted(layer, fid))
    page.mouse.click(x, y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    return popup


def test_a_site_deleted_earlier_is_found_on_the_map_and_restored(browser, live, tmp_path):
    """A site someone deleted before the page was opened is listed in the deleted sites' layer (off until
    turned on), with who deleted it; its restore button brings it back in the store and on the map."""
    from geo_service.coverage.season import site_season

    app, _ = live
    ws = app.state.workspace
    point = ws.store.get_feature("festival_sales_points", 7)
    reason = "春节后不再设点"
    feature_ops.delete_feature(ws, "festival_sales_points", 7, actor="another-planner", reason=reason)
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    gone = _deleted("festival_sales_points", 7)
    assert not s.page.evaluate(f"!!{gone}")  # off until asked for
    popup = _open_deleted(s.page, "festival_sales_points", 7)
    assert point.properties["name"] in popup.inner_text()
    assert "another-planner" in popup.inner_text()
    assert f"理由：{reason}" in popup.inner_text()  # why, as its history keeps it
    popup.locator("button.restore-site").click()
    _wait_msg(s.page, "已恢复")
    back = ws.store.get_feature("festival_sales_points", 7)
    assert back.properties == point.properties
    assert not s.page.evaluate(f"!!{gone}")
    text = _click_site(s.page, "festival_sales_points", 7)
    assert "腊月十五至正月十六" in text
    season = site_season(back.properties, day=dt.datetime.now(TZ).date())
    assert season["season_zh"] in text  # as the restore's answer tells it: no reload needed
    s.clean()
    s.close()


def test_a_restore_refused_by_a_newer_neighbour_is_overridden_with_a_reason(browser, live, tmp_path):
    """A zone drawn on a deleted zone's spot since makes its restore break the spacing rule: the page
    shows the API's refusal and, with a reason, restores it anyway; the reason is in its history."""
    from shapely.geometry import mapping

    app, _ = live
    ws = app.state.workspace
    old = ws.store.get_feature("stall_sites", 14)
    feature_ops.delete_feature(ws, "stall_sites", 14, actor="another-planner")
    [newer] = feature_ops.create_features(
        ws,
        "stall_sites",
        [
            {
                "type": "Feature",
                "geometry": mapping(old.geometry),
                "properties": {**old.properties, "name": "新摊区"},
            }
        ],
        actor="another-planner",
        single=True,
    )
    s = Session(browser, live, role="planner")
    s.open("/maps/plan")
    s.page.evaluate("restoreSite(14)")  # the restore button of its popup in the deleted sites' layer
    said = _wait_msg(s.page, "不符合选址规则")
    assert "新摊区" in said
    with pytest.raises(NotFound):
        ws.store.get_feature("stall_sites", 14)
    s.page.wait_for_selector("#override", state="visible")
    assert "站点最小间距" in s.page.locator("#override-rules").inner_text()
    s.page.fill("#override-reason", "两处合并经营，已批准")
    s.page.click("#override-send")
    _wait_msg(s.page, "已恢复")
    assert ws.store.get_feature("stall_sites", 14).properties == old.properties
    last = ws.store.history("stall_sites", 14, limit=1)[0]
    assert last.op == "restore"
    assert last.reason.startswith("两处合并经营，已批准（越过选址规则 / overrides: ")
    assert s.page.evaluate(f"!!{_find('stall_sites', 14)}")
    feature_ops.delete_feature(ws, "stall_sites", newer.id, actor="another-planner")  # as it was
    assert _script_errors(s) == []
    s.close()


def test_editing_fits_a_phone(browser, live, tmp_path):
    app, _ = live
    s = Session(browser, live, role="planner", viewport=(390, 844))
    s.open("/maps/plan")
    _click_site(s.page, "stall_sites", 11)
    s.page.locator(".site-popup button.edit-fields").click()
    form = s.page.locator("#attr-form")
    form.wait_for(state="visible")
    box = form.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    assert s.page.evaluate("document.documentElement.scrollWidth") <= 390
    s.page.screenshot(path=artefact(tmp_path, "plan-phone-form.png"))
    s.page.fill("#a-hours", "06:30-19:30")
    s.page.click("#attr-save")
    _wait_msg(s.page, "已保存")
    assert app.state.workspace.store.get_feature("stall_sites", 11).properties["hours"] == "06:30-19:30"
    s.page.screenshot(path=artefact(tmp_path, "plan-phone-edit.png"))
    s.clean()
    s.close()


@pytest.mark.parametrize("role", ["dispatcher", "viewer"])
def test_a_role_that_may_not_edit_is_offered_no_editing(browser, live, tmp_path, role):
    s = Session(browser, live, role=role)
    s.open("/maps/plan")
    assert s.page.locator("#read-only").is_visible()
    assert s.page.locator(".leaflet-pm-toolbar").count() == 0  # no drawing tools
    assert s.page.locator(".geo-festival-point").count() == 0  # nor a new festival point
    assert s.page.locator("#override, #attr-form, #form, #fest-form").count() == 0
    assert s.page.evaluate(
        "typeof window.editSite === 'undefined' && typeof window.deleteSite === 'undefined'"
    )
    text = _click_site(s.page, "stall_sites", 2)  # the popup tells all, offers nothing
    assert "开放时段" in text
    assert s.page.locator(".site-popup button").count() == 0
    text = _click_site(s.page, "festival_sales_points", 2)
    assert "腊月十五至正月十六" in text
    assert s.page.locator(".site-popup button").count() == 0
    assert "已删除的摊区与销售点" not in s.page.locator(".leaflet-control-layers").inner_text()
    s.clean()
    s.close()


def test_a_crew_member_gets_no_planners_map(browser, live, tmp_path):
    s = Session(browser, live, role="crew", crew="中站一组")
    resp = s.page.goto(s.base + "/maps/plan")
    assert resp.status == 403
    assert s.page.evaluate("typeof window.GEO_MAP") == "undefined"
    assert "editSite" not in s.page.content()
    s.close()


def test_an_editor_who_may_not_override_is_not_offered_it(browser, live, tmp_path, monkeypatch):
    """A city may let another role edit stall sites (the layer's ``editors``) without letting it
    override siting rules: its refusal is shown, with no override to offer, and nothing is written."""
    from geo_service.catalog import Catalog

    app, _ = live
    ws = app.state.workspace
    catalog = app.state.catalog
    wider = dataclasses.replace(catalog["stall_sites"], editors=("planner", "dispatcher"))
    monkeypatch.setattr(app.state, "catalog", Catalog({**dict(catalog), "stall_sites": wider}))
    site = ws.store.get_feature("stall_sites", 12)
    s = Session(browser, live, role="dispatcher")
    s.open("/maps/plan")
    _click_site(s.page, "stall_sites", 12)
    s.page.locator(".site-popup button.edit-fields").click()
    s.page.fill("#a-hours", "05:00-21:00")  # earlier than the opening-hours rule allows
    s.page.click("#attr-save")
    said = _wait_msg(s.page, "不符合选址规则")
    assert "06:00" in said
    s.page.wait_for_selector("#override-note", state="visible")
    assert not s.page.locator("#override").is_visible()
    assert ws.store.get_feature("stall_sites", 12).version == site.version
    # the festival points' editors are unchanged: no new point, no editing offered there
    assert s.page.locator(".geo-festival-point, #fest-form").count() == 0
    assert s.page.locator(".leaflet-pm-icon-rectangle").count() == 1
    _click_site(s.page, "festival_sales_points", 3)
    assert s.page.locator(".site-popup button").count() == 0
    assert _script_errors(s) == []
    s.close()
