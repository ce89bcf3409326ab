"""Every way a site gets into a layer is checked alike: a restore like a create, a re-import of a
layer's own export with its approved exceptions, and the district a feature is filed under against
where it lies (GeoPackage and PostGIS, through the real app)."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import mapping

from geo_service.crs import from_metric
from geo_service.districts import DistrictIndex
from geo_service.errors import InvalidInput
from tests.conftest import demo_settings, sign_in
from tests.test_network import OX, OY

BEIJING = {"type": "Point", "coordinates": [116.3, 39.9]}


@pytest.fixture(params=["gpkg", "postgis"])
def site_client(request, demo_gpkg, tmp_path):
    """The app over a private copy of the demo workspace, on the GeoPackage store or on PostGIS."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    settings, _ = demo_settings(request.param, request, demo_gpkg, tmp_path)
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        yield c


def _problem(r, status=400):
    assert r.status_code == status, r.text[:600]
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["detail_zh"]
    assert body["detail_en"]
    return body


def _count(c, layer="stall_sites"):
    return c.get(f"/collections/{layer}/items", params={"limit": 1}).json()["numberMatched"]


def _twin_of_site_1(c):
    """Site 1 deleted and a new site drawn on its very spot (allowed: site 1 is gone)."""
    one = c.get("/collections/stall_sites/items/1").json()
    assert c.delete("/collections/stall_sites/items/1").status_code == 204
    twin = {
        "type": "Feature",
        "geometry": one["geometry"],
        "properties": {**one["properties"], "name": "占位新摊区"},
    }
    r = c.post("/collections/stall_sites/items", json=twin)
    assert r.status_code == 201, r.text[:400]
    return one, r.json()["id"]


# --- 1. a restore is checked like a create --------------------------------------------------------


def test_a_restore_is_checked_against_the_sites_drawn_since_and_takes_an_approved_override(site_client):
    c = site_client
    one, twin = _twin_of_site_1(c)
    history = c.get("/collections/stall_sites/history").json()["changes"]

    body = _problem(c.post("/collections/stall_sites/items/1/restore"))
    assert [v["rule"] for v in body["violations"]] == ["site-spacing"]
    assert "占位新摊区" in body["violations"][0]["message_zh"]
    # refused: nothing written, site 1 still deleted, no history entry
    assert c.get("/collections/stall_sites/items/1").status_code == 404
    assert c.get("/collections/stall_sites/history").json()["changes"] == history
    report = c.get("/siting/report", params={"layer": "stall_sites"}).json()
    assert all(r["ok"] for r in report["sites"])

    # the same override + reason as create and patch; no reason, or an unknown rule, is refused
    assert (
        _problem(c.post("/collections/stall_sites/items/1/restore", params={"override": "site-spacing"}))[
            "field"
        ]
        == "reason"
    )
    typo = c.post("/collections/stall_sites/items/1/restore", params={"override": "nosuch", "reason": "x"})
    assert _problem(typo)["field"] == "override"
    # a parameter restore does not take is refused, not ignored
    assert (
        _problem(c.post("/collections/stall_sites/items/1/restore", params={"version": 1}))["field"]
        == "version"
    )

    done = c.post(
        "/collections/stall_sites/items/1/restore",
        params={"override": "site-spacing", "reason": "两处合并经营，经批准"},
    )
    assert done.status_code == 200, done.text[:400]
    assert done.json()["geometry"] == one["geometry"]
    change = c.get("/collections/stall_sites/items/1/history").json()["changes"][0]
    assert change["op"] == "restore"
    # helper-77: the history kept the reason only, not which rule the exception was approved for
    assert change["reason"] == "两处合并经营，经批准（越过选址规则 / overrides: site-spacing）"
    report = c.get("/siting/report", params={"layer": "stall_sites"}).json()
    assert {r["id"] for r in report["sites"] if not r["ok"]} == {1, twin}  # the approved exception shows


def test_a_restore_is_refused_when_the_site_no_longer_lies_in_its_district(own_demo_client):
    """The districts changed after the site was deleted: it is checked against them as they are now."""
    c = own_demo_client
    assert c.delete("/collections/stall_sites/items/1").status_code == 204
    shanyang = c.get("/collections/districts/items", params={"name": "山阳区"}).json()["features"][0]
    r = c.patch(f"/collections/districts/items/{shanyang['id']}", json={"properties": {"name": "山阳新区"}})
    assert r.status_code == 200, r.text[:300]
    body = _problem(c.post("/collections/stall_sites/items/1/restore"))
    assert body["field"] == "district"
    assert "山阳新区" in body["detail_zh"]
    assert "山阳新区" in body["detail_en"]
    # no override excuses a wrong district
    r = c.post("/collections/stall_sites/items/1/restore", params={"override": "*", "reason": "试试"})
    assert _problem(r)["field"] == "district"
    assert c.get("/collections/stall_sites/items/1").status_code == 404


# --- 2. a layer's own export goes back in ----------------------------------------------------------


def _as_new(feature: dict) -> dict:
    """An exported GeoJSON feature as a new one: no id, no version."""
    props = {k: v for k, v in feature["properties"].items() if k not in ("fid", "_version")}
    return {**feature, "id": None, "properties": props}


def _without_ids(content: bytes, fmt: str) -> bytes:
    """An export with its feature ids (and versions) taken out: every row a new feature."""
    if fmt == "geojson":
        body = json.loads(content)
        body["features"] = [_as_new(feat) for feat in body["features"]]
        return json.dumps(body).encode()
    if fmt == "csv":
        return pd.read_csv(io.BytesIO(content)).drop(columns=["fid", "_version"]).to_csv(index=False).encode()
    frame = pyogrio.read_dataframe(io.BytesIO(content)).drop(columns=["feature_id", "_version"])
    out = io.BytesIO()
    pyogrio.write_dataframe(frame, out, driver="GPKG", layer="stall_sites")
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv"])
def test_an_export_with_an_approved_exception_is_imported_back(site_client, fmt):
    """A layer's own export goes back in as it is: its rows keep their features (ids, versions,
    history), and a site an approved exception let in is not judged again. The same rows as new
    features (no ids) need the exception again."""
    c = site_client
    one = c.get("/collections/stall_sites/items/1").json()
    twin = {
        "type": "Feature",
        "geometry": one["geometry"],
        "properties": {**one["properties"], "name": "合并摊区"},
    }
    r = c.post(
        "/collections/stall_sites/items",
        params={"override": "site-spacing", "reason": "两处合并经营，经批准"},
        json=twin,
    )
    assert r.status_code == 201, r.text[:300]
    n = _count(c)
    exported = c.get("/collections/stall_sites/export", params={"f": fmt})
    assert exported.status_code == 200
    before = c.get("/collections/stall_sites/history", params={"limit": 5}).json()["changes"]
    version = c.get("/collections/stall_sites/items/1").json()["version"]
    again = c.post(
        "/collections/stall_sites/import",
        files={"file": (f"stall_sites.{fmt}", exported.content)},
        data={"mode": "replace"},
    )
    assert again.status_code == 201, again.text[:600]
    assert _count(c) == n
    assert c.get("/collections/stall_sites/items/1").json()["version"] == version
    assert c.get("/collections/stall_sites/history", params={"limit": 5}).json()["changes"] == before

    files = {"file": (f"stall_sites.{fmt}", _without_ids(exported.content, fmt))}
    body = _problem(c.post("/collections/stall_sites/import", files=files, data={"mode": "replace"}))
    assert [row["rules"] for row in body["rows"]] == [["site-spacing"]]
    assert "override=site-spacing" in body["detail_en"]
    # an override given where import does not read it is refused, not dropped
    misplaced = c.post(
        "/collections/stall_sites/import",
        files=files,
        data={"mode": "replace"},
        params={"override": "site-spacing", "reason": "x"},
    )
    assert _problem(misplaced)["field"] in ("override", "reason")
    stray = c.post("/collections/stall_sites/import", files=files, data={"mode": "replace", "overide": "x"})
    assert _problem(stray)["field"] == "overide"
    no_reason = c.post(
        "/collections/stall_sites/import", files=files, data={"mode": "replace", "override": "site-spacing"}
    )
    assert _problem(no_reason)["field"] == "reason"
    assert c.get("/collections/stall_sites/items/1").json()["version"] == version  # nothing written

    done = c.post(
        "/collections/stall_sites/import",
        files=files,
        data={"mode": "replace", "override": "site-spacing", "reason": "重新导入：合并摊区经批准"},
    )
    assert done.status_code == 201, done.text[:600]
    assert done.json()["imported"] == n == _count(c)
    changes = c.get("/collections/stall_sites/history", params={"limit": 2 * n}).json()["changes"]
    assert {ch["reason"] for ch in changes} == {
        "重新导入：合并摊区经批准（越过选址规则 / overrides: site-spacing）"
    }
    assert {ch["op"] for ch in changes} == {"create", "delete"}


def test_an_import_names_every_failing_row_in_one_answer(own_demo_client):
    c = own_demo_client
    body = json.loads(c.get("/collections/stall_sites/export", params={"f": "geojson"}).content)
    feats = body["features"]
    feats[2]["properties"]["capacity"] = -1  # row 3: not a number of stalls
    feats[4]["properties"]["district"] = "马村区"  # row 5: lies in 山阳区
    feats[6]["properties"]["goods"] = "烟花爆竹"  # row 7: goods not allowed
    feats.append(_as_new(feats[0]))  # row 31: on row 1's spot
    version = c.get("/collections/stall_sites/items/1").json()["version"]
    files = {"file": ("sites.geojson", json.dumps(body).encode())}
    answer = _problem(c.post("/collections/stall_sites/import", files=files, data={"mode": "replace"}))
    rows = {row["row"]: row for row in answer["rows"]}
    assert sorted(rows) == [3, 5, 7, 31]
    assert answer["failed_rows"] == 4
    assert rows[3]["fields"] == ["capacity"]
    assert rows[3]["rules"] == []
    assert rows[5]["fields"] == ["district"]
    assert "山阳区" in rows[5]["errors"][0]["detail_zh"]
    assert "山阳区" in rows[5]["errors"][0]["detail_en"]
    assert rows[7]["rules"] == ["allowed-goods"]
    assert rows[31]["rules"] == ["site-spacing"]
    for row in rows.values():
        assert all(e["detail_zh"] and e["detail_en"] for e in row["errors"])
    assert "3、5、7、31" in answer["detail_zh"]
    assert "3, 5, 7, 31" in answer["detail_en"]
    assert {v["row"] for v in answer["violations"]} == {7, 31}
    assert c.get("/collections/stall_sites/items/1").json()["version"] == version  # all or nothing
    assert _count(c) == 30


# --- 3 and 4. the district a feature is filed under is where it lies --------------------------------


def _shanyang_site(c):
    one = c.get("/collections/stall_sites/items/1").json()
    assert one["properties"]["district"] == "山阳区"
    return one


def test_siting_check_names_the_district_a_site_actually_lies_in(demo_client):
    one = _shanyang_site(demo_client)
    feature = {
        "type": "Feature",
        "geometry": one["geometry"],
        "properties": {**one["properties"], "district": "马村区"},
    }
    r = demo_client.post("/siting/check", json={"feature": feature, "exclude_id": 1})
    assert r.status_code == 200
    assert not r.json()["ok"]
    district = [v for v in r.json()["violations"] if v["rule"] == "district"]
    assert len(district) == 1
    assert "山阳区" in district[0]["message_zh"]
    assert "马村区" in district[0]["message_zh"]
    assert "山阳区" in district[0]["message_en"]
    feature["properties"]["district"] = "山阳区"
    r = demo_client.post("/siting/check", json={"feature": feature, "exclude_id": 1})
    assert r.json()["ok"], r.json()["violations"]


def test_a_site_far_outside_the_city_is_told_so(own_demo_client):
    c = own_demo_client
    zone = mapping(shapely.Point(116.3, 39.9).buffer(0.0002))
    props = {"name": "北京测试", "district": "山阳区", "capacity": 5, "goods": "果蔬"}
    feature = {"type": "Feature", "geometry": zone, "properties": props}
    r = c.post("/siting/check", json={"feature": feature})
    assert r.status_code == 200
    assert not r.json()["ok"]
    first = r.json()["violations"][0]
    assert first["rule"] == "district"
    assert "城区" in first["message_zh"]
    assert "outside" in first["message_en"]
    body = _problem(c.post("/collections/stall_sites/items", json=feature))
    assert body["field"] == "district"
    assert "之外" in body["detail_zh"]
    assert "outside the city's districts" in body["detail_en"]
    assert "道路" not in body["detail_zh"]
    point = {"type": "Feature", "geometry": BEIJING, "properties": {**props, "name": "北京点"}}
    body = _problem(c.post("/collections/festival_sales_points/items", json=point))
    assert body["field"] == "district"
    assert _count(c) == 30


def test_create_patch_and_other_layers_refuse_a_wrong_district(own_demo_client):
    c = own_demo_client
    one = _shanyang_site(c)
    moved = {
        "type": "Feature",
        "geometry": one["geometry"],
        "properties": {**one["properties"], "district": "马村区"},
    }
    assert c.delete("/collections/stall_sites/items/1").status_code == 204
    body = _problem(c.post("/collections/stall_sites/items", json=moved))
    assert body["field"] == "district"
    assert "山阳区" in body["detail_zh"]
    # no override excuses it
    r = c.post("/collections/stall_sites/items", params={"override": "*", "reason": "试试"}, json=moved)
    assert _problem(r)["field"] == "district"
    assert _count(c) == 29
    two = c.get("/collections/stall_sites/items/2").json()
    r = c.patch("/collections/stall_sites/items/2", json={"properties": {"district": "解放区"}})
    assert _problem(r)["field"] == "district"
    assert c.get("/collections/stall_sites/items/2").json()["version"] == two["version"]
    # a patrol beat too: any layer with a district field
    beat = c.get("/collections/patrol_beats/items", params={"district": "中站区", "limit": 1}).json()[
        "features"
    ][0]
    r = c.patch(f"/collections/patrol_beats/items/{beat['id']}", json={"properties": {"district": "马村区"}})
    body = _problem(r)
    assert body["field"] == "district"
    assert "中站区" in body["detail_zh"]
    # a layer whose district is optional: a road without one is not asked where it is
    road = c.get("/collections/roads/items", params={"limit": 1}).json()["features"][0]
    r = c.patch(f"/collections/roads/items/{road['id']}", json={"properties": {"district": None}})
    assert r.status_code == 200, r.text[:300]


# --- the rule near borders, by hand ---------------------------------------------------------------


def _ll(g):
    return from_metric(np.array([g], dtype=object))[0]


@pytest.fixture(scope="module")
def two_districts():
    """A (x 0–1000 m) and B (x 1000–2000 m), 1000 m tall, around the test origin."""
    import geopandas as gpd

    boxes = [shapely.box(OX, OY, OX + 1000, OY + 1000), shapely.box(OX + 1000, OY, OX + 2000, OY + 1000)]
    frame = gpd.GeoDataFrame({"name": ["A", "B"]}, geometry=[_ll(b) for b in boxes], crs=4326)
    return DistrictIndex.build(frame)


@pytest.mark.parametrize(
    ("geom", "accepted", "where"),
    [
        (shapely.box(OX + 100, OY + 100, OX + 200, OY + 200), {"A"}, "A"),
        (shapely.box(OX + 800, OY + 100, OX + 1100, OY + 200), {"A"}, "A"),  # two thirds in A
        (shapely.box(OX + 900, OY + 100, OX + 1100, OY + 200), {"A", "B"}, "A|B"),  # half and half
        (shapely.box(OX - 300, OY + 100, OX + 100, OY + 200), set(), None),  # three quarters outside
        (shapely.LineString([(OX + 500, OY + 10), (OX + 1800, OY + 10)]), {"B"}, "B"),
        (shapely.Point(OX + 1005, OY + 500), {"A", "B"}, "B"),  # 5 m over the border
        (shapely.Point(OX + 1020, OY + 500), {"B"}, "B"),
        (shapely.Point(OX - 5, OY + 500), {"A"}, None),  # just outside the city, near A
        (shapely.Point(OX - 50, OY + 500), set(), None),
    ],
)
def test_where_a_feature_lies_near_borders(two_districts, geom, accepted, where):
    placement = two_districts.place([_ll(geom)])[0]
    assert {n for n in ("A", "B") if placement.accepts(n)} == accepted
    assert placement.district == where or placement.district in (where or "").split("|")
    for name in ("A", "B"):
        assert (two_districts.mismatch(placement, name) is None) == (name in accepted)


def test_cli_import_names_failing_rows_and_takes_override_and_reason(demo_gpkg, tmp_path, capsys):
    from geo_service.catalog import load_catalog
    from geo_service.cli import main
    from geo_service.settings import default_layers_dir
    from geo_service.store.gpkg import GeoPackageStore

    path = tmp_path / "ws.gpkg"
    shutil.copy(demo_gpkg, path)
    out = tmp_path / "sites.geojson"
    assert (
        main(
            [
                "export",
                "--workspace",
                str(path),
                "--layer",
                "stall_sites",
                "--format",
                "geojson",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    body = json.loads(out.read_text(encoding="utf-8"))
    body["features"].append(_as_new(body["features"][0]))
    body["features"][1]["properties"]["district"] = "马村区"
    out.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    capsys.readouterr()
    args = ["import", "--workspace", str(path), "stall_sites", str(out), "--mode", "replace"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "第 2 个要素 / feature 2" in err  # a GeoJSON's features by their place in the file
    assert "第 31 个要素 / feature 31" in err
    body["features"][1]["properties"]["district"] = "山阳区"
    out.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    assert main([*args, "--override", "site-spacing", "--reason", "合并摊区经批准"]) == 0
    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    try:
        assert store.count("stall_sites") == 31
        # the exported rows keep their features as they were; only the added row is written
        [last] = store.history("stall_sites", limit=1)
        noted = "合并摊区经批准（越过选址规则 / overrides: site-spacing）"
        assert (last.op, last.reason, last.feature_id) == ("create", noted, 31)
    finally:
        store.close()


def test_the_district_check_is_not_an_override_rule(site_client):
    """helper-33: /siting/check reports a rule 'district', but override=district was answered 'No siting
    rule'; it now says the district check cannot be overridden."""
    one = site_client.get("/collections/stall_sites/items/1").json()
    r = site_client.patch(
        "/collections/stall_sites/items/1?override=district&reason=test",
        json={"properties": {"name": one["properties"]["name"]}},
    )
    assert r.status_code == 400
    assert r.json()["detail_en"].startswith("The district check cannot be overridden")


def test_two_sites_saved_at_the_same_moment_cannot_both_pass_the_spacing_rule(site_client, monkeypatch):
    """Before, the siting check and the write were not under one lock: two planners saving neighbouring
    sites at the same moment both passed ``site-spacing`` (each check ran before the other's write).
    Here each check waits after it is made, long enough for the other request to check as well."""
    import threading
    import time

    from geo_service import features as feature_ops
    from geo_service import write_checks

    ws = site_client.app.state.workspace
    checking = write_checks.siting_refusal

    def slow_check(*args, **kwargs):
        refusal = checking(*args, **kwargs)
        time.sleep(0.5)
        return refusal

    monkeypatch.setattr(write_checks, "siting_refusal", slow_check)
    one = ws.store.get_feature("stall_sites", 1)
    assert site_client.delete("/collections/stall_sites/items/1").status_code == 204
    shifted = [shapely.affinity.translate(one.geometry, xoff=dx) for dx in (0.0, 0.00005)]  # ~5 m apart
    results: list[object] = []

    def save(k: int) -> None:
        feature = {"type": "Feature", "geometry": mapping(shifted[k]), "properties": {**one.properties}}
        feature["properties"]["name"] = f"新摊区{k}"
        try:
            results.append(feature_ops.create_features(ws, "stall_sites", [feature], actor=f"planner{k}"))
        except Exception as exc:  # the refusal of the later one
            results.append(exc)

    threads = [threading.Thread(target=save, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    saved = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if not isinstance(r, list)]
    assert len(saved) == 1, results
    assert len(refused) == 1
    assert isinstance(refused[0], InvalidInput)
    assert [v["rule"] for v in refused[0].details["violations"]] == ["site-spacing"]


def test_an_import_suggests_overriding_only_the_rules_an_override_would_excuse(own_demo_client):
    """helper-33: the hint after a refused import named the rules of a row outside the city too, though
    no override lets that row in (the district check is not excused)."""
    c = own_demo_client
    body = json.loads(c.get("/collections/stall_sites/export", params={"f": "geojson"}).content)
    far = {
        "type": "Feature",
        "geometry": mapping(shapely.Point(116.3, 39.9).buffer(0.0002)),
        "properties": {"name": "北京测试", "district": "山阳区", "capacity": 5, "goods": "果蔬"},
    }
    body["features"].append(far)
    files = {"file": ("sites.geojson", json.dumps(body).encode())}
    answer = _problem(c.post("/collections/stall_sites/import", files=files, data={"mode": "replace"}))
    assert [row["row"] for row in answer["rows"]] == [31]
    assert "override=" not in answer["detail_en"]
    assert "override=" not in answer["detail_zh"]
    body["features"].append(_as_new(body["features"][0]))  # row 32: on row 1's spot
    files = {"file": ("sites.geojson", json.dumps(body).encode())}
    answer = _problem(c.post("/collections/stall_sites/import", files=files, data={"mode": "replace"}))
    assert [row["row"] for row in answer["rows"]] == [31, 32]
    assert answer["detail_en"].endswith("import again with override=site-spacing and a reason")


def test_closing_a_site_let_in_as_an_exception_needs_no_override(own_demo_client):
    """helper-38: a site saved with override=site-spacing could not be closed without the override again;
    reopening it is judged."""
    c = own_demo_client
    one = c.get("/collections/stall_sites/items/1").json()
    twin = {
        "type": "Feature",
        "geometry": one["geometry"],
        "properties": {**one["properties"], "name": "合并摊区"},
    }
    r = c.post(
        "/collections/stall_sites/items", params={"override": "site-spacing", "reason": "经批准"}, json=twin
    )
    assert r.status_code == 201, r.text[:300]
    fid = r.json()["id"]
    closed = c.patch(f"/collections/stall_sites/items/{fid}", json={"properties": {"status": "closed"}})
    assert closed.status_code == 200, closed.text[:300]
    reopened = c.patch(f"/collections/stall_sites/items/{fid}", json={"properties": {"status": "open"}})
    assert "site-spacing" in json.dumps(_problem(reopened))


def test_a_festival_point_may_not_crowd_a_stall_site_either(own_demo_client):
    """helper-38: a stall site was refused within 50 m of a festival point, but a festival point within
    50 m of a stall site was let in (and the stall site then broke site-spacing in the report)."""
    c = own_demo_client
    one = c.get("/collections/stall_sites/items/1").json()
    near = shapely.geometry.shape(one["geometry"]).centroid
    props = {"name": "挤占年货点", "district": one["properties"]["district"]}
    point = {
        "type": "Feature",
        "geometry": mapping(shapely.Point(near.x + 0.0001, near.y)),
        "properties": props,
    }
    body = _problem(c.post("/collections/festival_sales_points/items", json=point))
    assert "festival-spacing" in json.dumps(body)
    assert "挤占年货点" not in json.dumps(c.get("/collections/festival_sales_points/items").json())


@pytest.mark.parametrize("status", ["closed", "suspended"])
def test_an_import_does_not_judge_a_closed_or_suspended_row_by_the_spacing_of_the_file(
    own_demo_client, status
):
    """A site written closed or suspended is not judged by the siting rules (until reopened), but an
    import's spacing check among its own rows still judged it: a closed row on another row's spot was
    refused. Judged alike now, both ways: a closed row neither breaks the spacing nor is broken by it."""
    c = own_demo_client
    body = json.loads(c.get("/collections/stall_sites/export", params={"f": "geojson"}).content)
    twin = _as_new(body["features"][0])  # row 31: on row 1's spot
    twin["properties"] = {**twin["properties"], "name": "停用的旧摊区", "status": status}
    body["features"].append(twin)
    files = {"file": ("sites.geojson", json.dumps(body).encode())}
    r = c.post("/collections/stall_sites/import", files=files, data={"mode": "replace"})
    assert r.status_code == 201, r.text[:600]
    assert _count(c) == 31
    # the same row open is judged (and refused), and nothing is written
    body["features"][-1]["properties"]["status"] = "open"
    body["features"][-1]["properties"]["name"] = "重开的旧摊区"
    exported = json.loads(c.get("/collections/stall_sites/export", params={"f": "geojson"}).content)
    exported["features"].append(_as_new(body["features"][-1]))
    files = {"file": ("sites.geojson", json.dumps(exported).encode())}
    answer = _problem(c.post("/collections/stall_sites/import", files=files, data={"mode": "replace"}))
    assert [(row["row"], row["rules"]) for row in answer["rows"]] == [(32, ["site-spacing"])]
    assert _count(c) == 31
