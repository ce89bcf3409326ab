"""Layers over HTTP: OGC API – Features reads, Part 4 writes, versions, history, bad input."""

from __future__ import annotations

import json
import math

import pytest

SITE = {
    "type": "Feature",
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [
                [113.2600, 35.2100],
                [113.2602, 35.2100],
                [113.2602, 35.2101],
                [113.2600, 35.2101],
                [113.2600, 35.2100],
            ]
        ],
    },
    "properties": {"name": "测试摊区", "district": "山阳区", "capacity": 12, "valid_from": "2026-01-01"},
}
DEPOT = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [113.25, 35.21]},
    "properties": {"name": "山阳场站"},
}


def _problem(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status
    assert body["detail_zh"]
    assert body["detail_en"]
    return body


def test_landing_conformance_collections(client):
    assert client.get("/health").json()["status"] == "ok"
    conf = client.get("/conformance").json()["conformsTo"]
    assert any("ogcapi-features-4" in c for c in conf)
    cols = client.get("/collections").json()["collections"]
    assert {"stall_sites", "roads", "duty_shifts"} <= {c["id"] for c in cols}
    schema = client.get("/collections/stall_sites/schema").json()
    assert schema["properties"]["district"]["enum"] == ["解放区", "中站区", "马村区", "山阳区"]
    assert "capacity" in schema["required"]


def test_create_read_update_delete_restore(client):
    resp = client.post("/collections/depots/items", json=DEPOT)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    fid = created["id"]
    assert created["version"] == 1
    assert resp.headers["location"].endswith(f"/collections/depots/items/{fid}")

    got = client.get(f"/collections/depots/items/{fid}")
    assert got.headers["etag"] == f'"1-{client.app.state.workspace.store.identity[:8]}"'
    assert got.headers["content-type"].startswith("application/geo+json")
    assert got.json()["properties"]["name"] == "山阳场站"
    assert got.json()["properties"]["salt_store"] is True  # declared default

    patched = client.patch(
        f"/collections/depots/items/{fid}",
        json={"properties": {"salt_store": False}},
        headers={"If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2
    assert patched.json()["properties"]["name"] == "山阳场站"  # untouched field kept

    stale = client.put(f"/collections/depots/items/{fid}", json=DEPOT, headers={"If-Match": '"1"'})
    body = _problem(stale, 409)
    assert body["current_version"] == 2
    assert client.get(f"/collections/depots/items/{fid}").json()["properties"]["salt_store"] is False

    assert client.delete(f"/collections/depots/items/{fid}", headers={"If-Match": '"2"'}).status_code == 204
    gone = _problem(client.get(f"/collections/depots/items/{fid}"), 404)
    # said to be deleted, by whom, and how to bring it back (helper-55: a plain 404)
    assert f"POST /collections/depots/items/{fid}/restore" in gone["detail_en"]
    assert "删除" in gone["detail_zh"]
    assert gone["deleted_by"]
    never = _problem(client.get("/collections/depots/items/987654"), 404)
    assert "restore" not in never["detail_en"]
    restored = client.post(f"/collections/depots/items/{fid}/restore")
    assert restored.status_code == 200
    assert restored.json()["properties"]["salt_store"] is False

    history = client.get(f"/collections/depots/items/{fid}/history").json()["changes"]
    assert [c["op"] for c in history] == ["restore", "delete", "update", "create"]
    assert history[2]["before"]["properties"]["salt_store"] is True
    assert history[2]["after"]["properties"]["salt_store"] is False


def test_options_advertise_part4(client):
    fid = client.post("/collections/depots/items", json=DEPOT).json()["id"]
    assert "POST" in client.options("/collections/depots/items").headers["allow"]
    allow = client.options(f"/collections/depots/items/{fid}").headers["allow"]
    assert {"PUT", "PATCH", "DELETE"} <= {a.strip() for a in allow.split(",")}


def test_listing_filters_bbox_time_and_paging(client):
    feats = []
    for i in range(5):
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.20 + i * 0.01, 35.21]},
                "properties": {"name": f"场站{i}", "salt_store": i % 2 == 0},
            }
        )
    resp = client.post("/collections/depots/items", json={"type": "FeatureCollection", "features": feats})
    assert resp.status_code == 201, resp.text
    page = client.get("/collections/depots/items", params={"limit": 2}).json()
    assert page["numberMatched"] == 5
    assert page["numberReturned"] == 2
    nxt = next(link for link in page["links"] if link["rel"] == "next")["href"]
    page2 = client.get(nxt).json()
    assert [f["properties"]["name"] for f in page2["features"]] == ["场站2", "场站3"]
    inside = client.get("/collections/depots/items", params={"bbox": "113.205,35.2,113.225,35.22"}).json()
    assert sorted(f["properties"]["name"] for f in inside["features"]) == ["场站1", "场站2"]
    salted = client.get("/collections/depots/items", params={"salt_store": "true"}).json()
    assert salted["numberMatched"] == 3
    _problem(client.get("/collections/depots/items", params={"colour": "red"}), 400)
    _problem(client.get("/collections/depots/items", params={"bbox": "1,2,3"}), 400)
    # a page start past any row count is refused by name (it overflowed SQLite's integer: a 500)
    body = _problem(client.get("/collections/depots/items", params={"offset": 2**63}), 422)
    assert "offset" in body["detail_en"]
    assert client.get("/collections/depots/items", params={"offset": 2**53}).json()["numberReturned"] == 0


def test_datetime_filter_keeps_features_valid_then(client):
    for name, start, end in (("早", "2026-01-01", "2026-06-30"), ("晚", "2026-07-01", None)):
        site = {
            **SITE,
            "properties": {**SITE["properties"], "name": name, "valid_from": start, "valid_to": end},
        }
        site["geometry"] = {
            "type": "Polygon",
            "coordinates": [
                [[c[0] + (0.01 if name == "晚" else 0), c[1]] for c in SITE["geometry"]["coordinates"][0]]
            ],
        }
        client.post("/collections/stall_sites/items", json=site, params={"override": "*", "reason": "测试"})
    names = lambda at: {  # noqa: E731
        f["properties"]["name"]
        for f in client.get("/collections/stall_sites/items", params={"datetime": at}).json()["features"]
    }
    assert names("2026-03-01T10:00:00") == {"早"}
    assert names("2026-12-01T10:00:00+08:00") == {"晚"}
    assert names("2026-06-01/2026-08-01") == {"早", "晚"}  # an interval: windows that meet it
    assert names("2026-08-01/..") == {"晚"}
    assert names("../2026-02-01") == {"早"}
    _problem(client.get("/collections/stall_sites/items", params={"datetime": "soon"}), 400)
    _problem(client.get("/collections/stall_sites/items", params={"datetime": "2027-01-01/2026-01-01"}), 400)


def test_gcj02_input_is_converted(client):
    # the same place as AMap would give it (about 500 m off)
    wgs = (113.25, 35.21)
    import numpy as np

    from geo_service.crs import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02(np.array([wgs[0]]), np.array([wgs[1]]))
    body = {**DEPOT, "geometry": {"type": "Point", "coordinates": [float(gx[0]), float(gy[0])]}}
    created = client.post("/collections/depots/items", json=body, params={"crs": "gcj02"}).json()
    x, y = created["geometry"]["coordinates"]
    assert abs(x - wgs[0]) < 1e-5
    assert abs(y - wgs[1]) < 1e-5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**DEPOT, "properties": {}}, "name"),
        ({**DEPOT, "properties": {"name": "x", "salt_store": "perhaps"}}, "salt_store"),
        ({**DEPOT, "properties": {"name": "x", "colour": "red"}}, "colour"),
    ],
)
def test_bad_properties_refused_and_store_unchanged(client, body, field):
    before = client.get("/collections/depots/items").json()["numberMatched"]
    problem = _problem(client.post("/collections/depots/items", json=body), 400)
    assert problem["field"] == field
    assert client.get("/collections/depots/items").json()["numberMatched"] == before


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [35.21, 113.25]},  # lon/lat swapped
        {"type": "Point", "coordinates": [213.25, 35.21]},  # out of range
        {"type": "LineString", "coordinates": [[113.25, 35.21], [113.26, 35.21]]},  # wrong type
        {"type": "Point", "coordinates": []},  # empty
        None,
    ],
)
def test_bad_geometry_refused(client, geometry):
    _problem(client.post("/collections/depots/items", json={**DEPOT, "geometry": geometry}), 400)
    assert client.get("/collections/depots/items").json()["numberMatched"] == 0


def test_bow_tie_polygon_refused(client):
    bow = {
        "type": "Polygon",
        "coordinates": [
            [[113.26, 35.21], [113.261, 35.211], [113.261, 35.21], [113.26, 35.211], [113.26, 35.21]]
        ],
    }
    problem = _problem(client.post("/collections/stall_sites/items", json={**SITE, "geometry": bow}), 400)
    assert "intersect" in problem["detail_en"].lower() or "invalid" in problem["detail_en"].lower()


def test_batch_is_all_or_nothing(client):
    good = DEPOT
    bad = {**DEPOT, "properties": {"name": 5, "salt_store": "maybe"}}
    problem = _problem(
        client.post(
            "/collections/depots/items", json={"type": "FeatureCollection", "features": [good, good, bad]}
        ),
        400,
    )
    assert problem["feature"] == 2
    assert client.get("/collections/depots/items").json()["numberMatched"] == 0


def test_unknown_layer_and_feature(client):
    _problem(client.get("/collections/nope/items"), 404)
    _problem(client.get("/collections/depots/items/999"), 404)
    _problem(
        client.post(
            "/collections/depots/items", content=b"{not json", headers={"content-type": "application/json"}
        ),
        400,
    )
    _problem(client.post("/collections/depots/items", content=b""), 400)


def test_table_layer_takes_no_geometry(client):
    row = {
        "type": "Feature",
        "geometry": None,
        "properties": {"crew": "一组", "depot": "山阳场站", "vehicles": 2},
    }
    # the depot must exist first (crews.depot references depots.name)
    nowhere = _problem(client.post("/collections/crews/items", json=row), 400)
    assert nowhere["field"] == "depot"
    assert "depots.name" in nowhere["detail_en"]
    depot = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    depot["properties"] = {"name": "山阳场站"}
    assert client.post("/collections/depots/items", json=depot).status_code == 201
    assert client.post("/collections/crews/items", json=row).status_code == 201
    with_geom = {**row, "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    _problem(client.post("/collections/crews/items", json=with_geom), 400)
    dup = client.post("/collections/crews/items", json=row)
    _problem(dup, 409)  # crew is unique


def test_a_lunar_day_that_does_not_exist_is_refused_with_an_example(client):
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    point["properties"] = {"name": "年货点", "district": "山阳区", "lunar_from": "13-40", "lunar_to": "01-15"}
    body = _problem(client.post("/collections/festival_sales_points/items", json=point), 400)
    assert body["field"] == "lunar_from"
    assert "12-15 is the 15th of the 12th lunar month" in body["detail_en"]
    assert "腊月十五" in body["detail_zh"]


def test_a_geometry_stored_with_infinite_coordinates_does_not_break_reading(own_demo_client):
    """An incident stored before positions were checked (lat = inf): the layer still reads and exports;
    the feature comes without its geometry and says why."""
    import math

    import shapely

    from geo_service.store.base import NewFeature

    c = own_demo_client
    ws = c.app.state.workspace
    spec = ws.catalog["incidents"]
    props = spec.validate_properties(
        {
            "source": "12345",
            "category": "噪声扰民",
            "reported_at": "2026-12-01T10:00:00+08:00",
            "status": "open",
        }
    )
    [bad] = ws.store.create_features(
        "incidents", [NewFeature(props, shapely.Point(113.2, math.inf))], actor="old"
    )
    one = c.get(f"/collections/incidents/items/{bad.id}")
    assert one.status_code == 200, one.text
    assert one.json()["geometry"] is None
    assert "infinite" in one.json()["geometry_error"]["en"]
    page = c.get("/collections/incidents/items", params={"limit": 10000})
    assert page.status_code == 200
    export = c.get("/collections/incidents/export")
    assert export.status_code == 200, export.text[:300]
    coverage_map = c.get("/maps/coverage", params={"at": "2026-12-01T10:00"}, headers={"Accept": "text/html"})
    assert coverage_map.status_code == 200, coverage_map.text[:300]
    workload = c.get("/dispatch/workload", params={"start": "2026-11-01", "end": "2026-12-02"})
    assert workload.status_code == 200, workload.text[:300]


def test_text_that_is_not_unicode_is_refused_and_nothing_is_stored(client):
    """Half an emoji (a lone UTF-16 surrogate escape, as a broken client may send) in a JSON body is a
    400 naming it, not a 500 from the store or the answer; the layer is unchanged. A pair (a whole
    emoji) is fine."""
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [113.24, 35.22]},
        "properties": {"name": "\ud83d", "kind": "market"},
    }
    import json as _json

    raw = _json.dumps(feature)  # ensure_ascii: the surrogate travels as the escape \\ud83d
    r = client.post("/collections/pois/items", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "\\ud83d" in r.json()["detail_en"]
    assert client.get("/collections/pois/items").json()["numberMatched"] == 0
    whole = _json.dumps(dict(feature, properties={"name": "摊点 \U0001f34e", "kind": "market"}))
    r = client.post("/collections/pois/items", content=whole, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text[:300]
    # nested deeper than a recursive walk (or the JSON parser) follows: still a 400, not a 500
    for depth in (990, 5000):
        deep = "[" * depth + '"\\ud800"' + "]" * depth
        r = client.post("/siting/check", content=deep, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (depth, r.status_code)
    # the same half character read from a file is refused by the layer's field check
    from geo_service.catalog import load_catalog
    from geo_service.errors import InvalidInput
    from geo_service.settings import Settings

    name = next(f for f in load_catalog(Settings().layers_dir)["pois"].fields if f.name == "name")
    with pytest.raises(InvalidInput) as err:
        name.coerce("x\udc00", layer="pois")
    assert "\\udc00" in err.value.en


def test_json_nested_too_deep_is_refused_before_anything_reads_it(client):
    """helper-23: a body of 100,000 '[' was a 500 (RecursionError in the parser), as a body, with no
    content type, and as an imported .geojson file; now a 400 naming the depth, and nothing stored."""
    deep = "[" * 100_000
    for headers in ({"Content-Type": "application/json"}, {"Content-Type": "application/geo+json"}, {}):
        r = client.post("/collections/depots/items", content=deep, headers=headers)
        body = _problem(r, 400)
        assert "64" in body["detail_en"], body
    nested = {"type": "Feature", "geometry": None, "properties": {"name": "x", "note": [[[[[[[[[[]]]]]]]]]]}}
    for _ in range(60):
        nested = {"type": "Feature", "properties": {"wrapped": nested}}
    r = client.post("/collections/depots/items", json=nested)
    _problem(r, 400)
    files = {"file": ("deep.geojson", deep.encode(), "application/geo+json")}
    _problem(client.post("/collections/depots/import", files=files), 400)
    assert client.get("/collections/depots/items").json()["numberMatched"] == 0
    ok = client.post("/collections/depots/items", json=DEPOT)  # GeoJSON itself is a few levels deep
    assert ok.status_code == 201, ok.text


def test_dates_are_read_whole_and_in_beijing(client):
    """helper-23: a date field kept the first ten characters of anything ('2025-01-01 garbage'), and a
    time with another offset gave that zone's day, not Beijing's."""
    made = client.post(
        "/collections/stall_sites/items", json=SITE, params={"override": "*", "reason": "测试"}
    )
    assert made.status_code == 201, made.text
    fid = made.json()["id"]
    r = client.patch(
        f"/collections/stall_sites/items/{fid}", json={"properties": {"valid_from": "2025-01-01 x"}}
    )
    assert _problem(r, 400)["field"] == "valid_from"
    r = client.patch(
        f"/collections/stall_sites/items/{fid}",
        json={"properties": {"valid_from": "2025-01-01T23:30:00-05:00"}},
        params={"override": "*", "reason": "测试"},
    )
    assert r.status_code == 200, r.text
    assert (
        client.get(f"/collections/stall_sites/items/{fid}").json()["properties"]["valid_from"] == "2025-01-02"
    )


def test_imports_keep_big_numbers_and_refuse_two_columns_for_one_field(client):
    """helper-23: a GeoJSON import rounded 2**53 + 1 (a column with a gap went through floats); a CSV
    with both 名称 and name stored one of them without a word."""
    import json as _json

    big = 2**53 + 1
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.24, 35.22]},
                "properties": {"population": 5, "households": big},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.25, 35.22]},
                "properties": {"population": 6, "households": None},
            },
        ],
    }
    files = {"file": ("d.geojson", _json.dumps(doc).encode(), "application/geo+json")}
    r = client.post("/collections/demand/import", files=files)
    assert r.status_code == 201, r.text
    got = client.get("/collections/demand/items").json()["features"]
    assert sorted(f["properties"]["households"] or 0 for f in got)[-1] == big
    csv = "lon,lat,name,名称\n113.24,35.22,Alpha,Beta\n".encode()
    r = client.post("/collections/depots/import", files={"file": ("d.csv", csv, "text/csv")})
    body = _problem(r, 400)
    assert "name" in body["detail_en"]
    assert "名称" in body["detail_en"]
    assert client.get("/collections/depots/items").json()["numberMatched"] == 0


def test_a_feature_is_not_restored_while_what_it_names_is_gone(client):
    """helper-23: a crew restored after its depot was deleted pointed at nothing."""
    depot = client.post("/collections/depots/items", json=DEPOT).json()
    crew = client.post(
        "/collections/crews/items",
        json={
            "type": "Feature",
            "geometry": None,
            "properties": {"crew": "一组", "depot": "山阳场站", "vehicles": 1},
        },
    )
    assert crew.status_code == 201, crew.text
    cid = crew.json()["id"]
    assert client.delete(f"/collections/crews/items/{cid}").status_code == 204
    assert client.delete(f"/collections/depots/items/{depot['id']}").status_code == 204
    body = _problem(client.post(f"/collections/crews/items/{cid}/restore"), 400)
    assert body["field"] == "depot"
    assert client.get(f"/collections/crews/items/{cid}").status_code == 404
    assert client.post(f"/collections/depots/items/{depot['id']}/restore").status_code == 200
    assert client.post(f"/collections/crews/items/{cid}/restore").status_code == 200


VRT = """<OGRVRTDataSource><OGRVRTLayer name="depots">
 <SrcDataSource>CSV:/etc/passwd</SrcDataSource><OpenOptions><OOI key="HEADERS">NO</OOI></OpenOptions>
 <SrcSQL dialect="SQLite">SELECT field_1 AS name, 113.24 AS x, 35.22 AS y FROM "passwd" LIMIT 1</SrcSQL>
 <GeometryType>wkbPoint</GeometryType><GeometryField encoding="PointFromColumns" x="x" y="y"/>
 <Field name="name" src="name"/></OGRVRTLayer></OGRVRTDataSource>"""


def test_an_upload_cannot_make_gdal_read_other_files(client):
    """helper-26: a '.gpkg' (or a zipped '.shp') holding GDAL VRT XML was opened as a VRT, so any editor
    could read files of the server (/etc/passwd, the accounts' password hashes) through the error
    messages, or make it fetch URLs. Only a real GeoPackage or shapefile reaches GDAL now."""
    import io
    import zipfile

    r = client.post(
        "/collections/depots/import", files={"file": ("x.gpkg", VRT.encode(), "application/octet-stream")}
    )
    body = _problem(r, 400)
    assert "root:" not in r.text
    assert "not a GeoPackage" in body["detail_en"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("depots.shp", VRT)
        zf.writestr("depots.shx", b"x")
        zf.writestr("depots.dbf", b"x")
    r = client.post(
        "/collections/depots/import", files={"file": ("x.zip", buf.getvalue(), "application/zip")}
    )
    body = _problem(r, 400)
    assert "root:" not in r.text
    assert "not a shapefile" in body["detail_en"]
    r = client.post(
        "/dispatch/cases/upload", files={"file": ("cases.gpkg", VRT.encode(), "application/octet-stream")}
    )
    assert r.status_code == 400
    assert "root:" not in r.text
    assert client.get("/collections/depots/items").json()["numberMatched"] == 0


def test_a_file_without_geometry_for_a_layer_that_needs_one_is_refused(client, tmp_path):
    """helper-26: a GeoPackage table with no geometry gave a 500 ('active geometry column not set')."""
    import geopandas as gpd
    import pandas as pd

    path = tmp_path / "depots.gpkg"
    gpd.GeoDataFrame(pd.DataFrame({"name": ["甲"]})).to_file(path, driver="GPKG")
    r = client.post(
        "/collections/depots/import",
        files={"file": ("depots.gpkg", path.read_bytes(), "application/geopackage+sqlite3")},
    )
    assert "no geometry" in _problem(r, 400)["detail_en"]


def test_refusals_name_layers_and_fields_in_chinese(own_demo_client):
    """helper-38: '… duty_shifts 中仍有 3 个要素的 beat 为「ZZ-01」', '角色 dispatcher 不能编辑图层 stall_sites'."""
    from tests.conftest import authed

    c = own_demo_client
    depot = c.get("/collections/depots/items", params={"limit": 1}).json()["features"][0]
    r = c.delete(f"/collections/depots/items/{depot['id']}")
    assert r.status_code == 409
    zh = r.json()["detail_zh"]
    assert "（crews）中仍有" in zh
    assert "crews 中仍有" not in zh
    r = c.post("/collections/stall_sites/items", json={}, headers=authed(c, "dispatcher"))
    assert r.status_code == 403
    assert r.json()["detail_zh"].startswith("调度员（dispatcher）不能编辑图层「")


def test_a_single_feature_refused_is_not_given_a_row_number(client):
    """A single Feature (not a collection) refused by a field or geometry check was named 'feature 0'
    / '要素 0', the wording of a batch's rows; a collection's features are still named by position."""
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    unclosed = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[113.26, 35.21], [113.261, 35.21], [113.261, 35.211]]],
        },
        "properties": {"name": "摊区", "district": "山阳区", "capacity": 5},
    }
    for layer, feature, field in (
        ("festival_sales_points", {**point, "properties": {"name": "年货点"}}, "district"),
        (
            "festival_sales_points",
            {**point, "properties": {"name": "年货点", "district": "山阳区", "capacity": 0}},
            "capacity",
        ),
        ("depots", {**point, "properties": {"name": "场站", "salt": 3}}, "salt"),
        ("stall_sites", unclosed, "geometry"),
    ):
        body = _problem(client.post(f"/collections/{layer}/items", json=feature), 400)
        assert body["field"] == field
        assert "feature" not in body, body
        assert "要素 0" not in body["detail_zh"]
        assert "feature 0" not in body["detail_en"].lower()
        assert client.get(f"/collections/{layer}/items").json()["numberMatched"] == 0
    good = {**point, "properties": {"name": "年货点", "district": "山阳区"}}
    bad = {**point, "properties": {"name": "年货点二"}}
    body = _problem(
        client.post(
            "/collections/festival_sales_points/items",
            json={"type": "FeatureCollection", "features": [good, bad]},
        ),
        400,
    )
    assert (body["feature"], body["field"]) == (1, "district")
    assert client.get("/collections/festival_sales_points/items").json()["numberMatched"] == 0


def test_a_coordinate_sent_as_nan_is_said_to_be_no_number(client):
    """JSON's NaN in a ring's first and last position answered 'the exterior ring is not closed'."""
    ring = [[math.nan, 35.21], [113.261, 35.21], [113.261, 35.211], [113.26, 35.211], [math.nan, 35.21]]
    site = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"name": "摊区", "district": "山阳区", "capacity": 5},
    }
    r = client.post(
        "/collections/stall_sites/items",
        content=json.dumps(site),
        headers={"content-type": "application/json"},
    )
    body = _problem(r, 400)
    assert body["field"] == "geometry"
    assert "not closed" not in body["detail_en"]
    assert "Position 1 of the exterior ring is not a number (NaN or infinity)" in body["detail_en"]
    assert "外环第 1 个坐标不是数值" in body["detail_zh"]
    assert client.get("/collections/stall_sites/items").json()["numberMatched"] == 0


def test_a_date_written_as_eight_digits_is_read_as_text_and_as_a_number(client):
    """The text '20270102' was taken as 2 January 2027 while the number 20270102 (what a spreadsheet
    makes of the same cell) was refused: both are read now, when they are a real day; neither when not."""
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    # closed: this empty workspace has no roads to judge an open point by the siting rules
    place = {"name": "年货点", "district": "山阳区", "status": "closed"}
    for k, value in enumerate(("20270102", 20270102, "２０２７０１０２", 20270102.0)):
        feature = {**point, "properties": {**place, "name": f"年货点{k}", "valid_from": value}}
        r = client.post("/collections/festival_sales_points/items", json=feature)
        assert r.status_code == 201, r.text[:300]
        assert r.json()["properties"]["valid_from"] == "2027-01-02"
    for value in ("20270230", 20270230, 20271301, 46357):
        feature = {**point, "properties": {**place, "valid_from": value}}
        body = _problem(client.post("/collections/festival_sales_points/items", json=feature), 400)
        assert body["field"] == "valid_from"
        said = "is a number, not a date" if value == 46357 else "is not a valid date"
        assert said in body["detail_en"], body["detail_en"]
    assert client.get("/collections/festival_sales_points/items").json()["numberMatched"] == 4


def test_an_edit_that_changes_nothing_makes_no_new_version(client):
    """helper-48: a PATCH setting a value to what it was made a new version and a history entry, which
    made everyone's export of the feature stale."""
    made = client.post(
        "/collections/depots/items",
        json={
            "type": "Feature",
            "properties": {"name": "甲", "salt_store": True},
            "geometry": {"type": "Point", "coordinates": [113.25, 35.21]},
        },
    ).json()
    same = client.patch(
        f"/collections/depots/items/{made['id']}",
        json={"properties": {"salt_store": True}},
        headers={"If-Match": f'"{made["version"]}"'},
    )
    assert same.status_code == 200, same.text[:300]
    assert same.json()["version"] == made["version"] == 1
    assert len(client.get(f"/collections/depots/items/{made['id']}/history").json()["changes"]) == 1
    # a stale version is refused still, change or not
    moved = client.patch(
        f"/collections/depots/items/{made['id']}",
        json={"properties": {"salt_store": False}},
        headers={"If-Match": '"1"'},
    )
    assert moved.json()["version"] == 2
    stale = client.patch(
        f"/collections/depots/items/{made['id']}",
        json={"properties": {"salt_store": False}},
        headers={"If-Match": '"1"'},
    )
    assert stale.status_code == 409


def test_a_delete_keeps_its_reason_in_the_history_and_a_blank_one_is_refused(client):
    """DELETE takes a reason as the overrides do (``reason=``), kept in the history; an API client (QGIS)
    may leave it out, but one given blank, or too long, is refused and nothing is deleted."""
    depots = [{**DEPOT, "properties": {"name": name}} for name in ("旧场站", "备用场站")]
    ids = [client.post("/collections/depots/items", json=d).json()["id"] for d in depots]
    for blank in ("", "  "):
        body = _problem(client.delete(f"/collections/depots/items/{ids[0]}", params={"reason": blank}), 400)
        assert body["field"] == "reason"
        assert "删除理由不能为空" in body["detail_zh"]
        assert "reason for deleting is blank" in body["detail_en"]
    body = _problem(client.delete(f"/collections/depots/items/{ids[0]}", params={"reason": "长" * 501}), 422)
    assert body["field"] == "reason"
    assert "最多 500 个字符" in body["detail_zh"]
    assert client.get(f"/collections/depots/items/{ids[0]}").status_code == 200  # still there
    reason = " 场站搬迁至新址（焦城管〔2026〕7号） "
    assert client.delete(f"/collections/depots/items/{ids[0]}", params={"reason": reason}).status_code == 204
    assert client.delete(f"/collections/depots/items/{ids[1]}").status_code == 204  # as QGIS deletes
    kept = [client.get(f"/collections/depots/items/{i}/history").json()["changes"][0] for i in ids]
    assert [(c["op"], c["reason"]) for c in kept] == [("delete", reason.strip()), ("delete", None)]


def test_a_festival_point_tells_its_season_today_and_an_edit_answers_the_new_one(client):
    """A feature of a layer with lunar dates carries its season as of today (Beijing); a write's answer
    tells the season its new dates give, so that a page showing it needs no reload."""
    import datetime as dt

    from geo_service.coverage.season import site_season

    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    point["properties"] = {"name": "年货点", "district": "山阳区", "lunar_from": "12-15", "lunar_to": "01-16"}
    waived = {"override": "*", "reason": "测试"}  # an empty workspace: the siting rules cannot be checked
    created = client.post("/collections/festival_sales_points/items", json=point, params=waived)
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    first = site_season({"lunar_from": "12-15", "lunar_to": "01-16"}, day=today)
    assert created.json()["season_today"] == {"day": today.isoformat(), **first}
    listed = client.get("/collections/festival_sales_points/items").json()["features"]
    assert [f["season_today"]["season_zh"] for f in listed] == [first["season_zh"]]
    # dates all past: never the yearly lunar window's in_season or upcoming it had
    dates = {
        "valid_from": (today - dt.timedelta(days=40)).isoformat(),
        "valid_to": (today - dt.timedelta(days=30)).isoformat(),
    }
    patched = client.patch(
        f"/collections/festival_sales_points/items/{fid}",
        json={"properties": dates},
        headers={"If-Match": '"1"'},
        params=waived,
    )
    assert patched.status_code == 200, patched.text
    now = site_season(patched.json()["properties"], day=today)
    assert patched.json()["season_today"] == {"day": today.isoformat(), **now}
    assert first["season_state"] in ("in_season", "upcoming")
    assert now["season_state"] in ("ended", "none")
    got = client.get(f"/collections/festival_sales_points/items/{fid}").json()
    assert got["season_today"]["season_zh"] == now["season_zh"]
    site = client.post("/collections/stall_sites/items", json=SITE, params=waived).json()
    assert site["properties"]["name"] == SITE["properties"]["name"]
    assert "season_today" not in site  # no lunar dates: no season told
