"""File import/export: small hand-made files of every format, GCJ-02 input, every error case, round trips."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from geo_service.crs import wgs84_to_bd09, wgs84_to_gcj02
from geo_service.errors import InvalidInput, PayloadTooLarge, UnsupportedFormat
from geo_service.formats import read_features, write_features, write_workspace

GEOD = pyproj.Geod(ellps="WGS84")
# two stall sites and two depots in Jiaozuo (WGS 84), checkable by eye
SITES = [
    (
        "解放路早市",
        "解放区",
        12,
        [(113.240, 35.215), (113.241, 35.215), (113.241, 35.216), (113.240, 35.216)],
    ),
    (
        "人民路夜市",
        "山阳区",
        30,
        [(113.270, 35.200), (113.272, 35.200), (113.272, 35.201), (113.270, 35.201)],
    ),
]
DEPOTS = [("中站场站", 113.1762, 35.2371), ("山阳场站", 113.2856, 35.2133)]


def _sites_frame(crs=4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": [s[0] for s in SITES], "所属区": [s[1] for s in SITES], "摊位数": [s[2] for s in SITES]},
        geometry=[shapely.Polygon(s[3]) for s in SITES],
        crs=crs,
    )


def _metres(a: shapely.Point, lon: float, lat: float) -> float:
    return GEOD.inv(a.x, a.y, lon, lat)[2]


def _read(catalog, data, filename, layer="stall_sites", **kw):
    return read_features(data, filename=filename, spec=catalog[layer], **kw)


def _file_bytes(tmp_path, frame, name, **kw) -> bytes:
    path = tmp_path / name
    pyogrio.write_dataframe(frame, path, **kw)
    return path.read_bytes()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _shapefile_zip(tmp_path, frame, *, encoding="UTF-8", drop=(), stem="stall_sites") -> bytes:
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    pyogrio.write_dataframe(frame, folder / f"{stem}.shp", encoding=encoding)
    return _zip({p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix.lower() not in drop})


def _assert_sites(frame):
    assert list(frame["name"]) == [s[0] for s in SITES]
    assert list(frame["district"]) == [s[1] for s in SITES]
    assert [int(v) for v in frame["capacity"]] == [s[2] for s in SITES]
    assert frame.crs.to_epsg() == 4326
    for geom, site in zip(frame.geometry, SITES, strict=True):
        assert geom.equals_exact(shapely.Polygon(site[3]), tolerance=1e-9) or geom.normalize().equals_exact(
            shapely.Polygon(site[3]).normalize(), tolerance=1e-9
        )


# --- reading -----------------------------------------------------------------------------------------


def test_geojson_feature_collection_and_single_feature(catalog):
    doc = json.loads(_sites_frame().to_json())
    frame = _read(catalog, json.dumps(doc, ensure_ascii=False).encode(), "sites.geojson")
    _assert_sites(frame)
    one = _read(catalog, json.dumps(doc["features"][0]).encode(), "one.json")
    assert len(one) == 1
    assert one["name"].iloc[0] == "解放路早市"


def test_geojson_bad_feature_is_named(catalog):
    doc = json.loads(_sites_frame().to_json())
    doc["features"][1]["geometry"]["coordinates"][0].pop()  # ring no longer closed
    with pytest.raises(InvalidInput) as err:
        _read(catalog, json.dumps(doc).encode(), "sites.geojson")
    assert err.value.feature == "feature 2"
    assert "not closed" in err.value.en
    assert "第 2 个要素" in err.value.zh
    assert "要素 feature" not in err.value.zh


def test_geojson_points_fast_path_and_a_bad_point_named(catalog):
    feats = [
        {
            "type": "Feature",
            "properties": {"name": d[0]},
            "geometry": {"type": "Point", "coordinates": [d[1], d[2]]},
        }
        for d in DEPOTS
    ]
    frame = _read(
        catalog,
        json.dumps({"type": "FeatureCollection", "features": feats}).encode(),
        "d.json",
        layer="depots",
        source_crs="EPSG:4326",
    )
    assert [(g.x, g.y) for g in frame.geometry] == [(d[1], d[2]) for d in DEPOTS]
    feats[1]["geometry"]["coordinates"] = ["113.2856", "35.2133"]
    with pytest.raises(InvalidInput) as err:
        _read(
            catalog,
            json.dumps({"type": "FeatureCollection", "features": feats}).encode(),
            "d.json",
            layer="depots",
        )
    assert err.value.feature == "feature 2"
    assert "two numbers" in err.value.en


def test_geojson_legacy_crs_member_is_honoured(catalog):
    frame = _sites_frame().to_crs(4547)
    doc = json.loads(frame.to_json())
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}
    _assert_sites(_read(catalog, json.dumps(doc).encode(), "sites.geojson"))


def test_geopackage_by_layer_name_or_only_layer(catalog, tmp_path):
    data = _file_bytes(tmp_path, _sites_frame(), "a.gpkg", layer="whatever")
    _assert_sites(_read(catalog, data, "a.gpkg"))
    path = tmp_path / "two.gpkg"
    pyogrio.write_dataframe(_sites_frame().iloc[:1], path, layer="other")
    pyogrio.write_dataframe(_sites_frame(), path, layer="stall_sites", append=True)
    _assert_sites(_read(catalog, path.read_bytes(), "two.gpkg"))
    with pytest.raises(InvalidInput, match="none named depots"):
        _read(catalog, path.read_bytes(), "two.gpkg", layer="depots")


def test_geopackage_in_gauss_kruger_is_reprojected(catalog, tmp_path):
    data = _file_bytes(tmp_path, _sites_frame().to_crs(4547), "gk.gpkg", layer="stall_sites")
    _assert_sites(_read(catalog, data, "gk.gpkg", source_crs="gcj02"))  # the file's own SRS wins


def test_zipped_shapefile_with_prj_and_cpg(catalog, tmp_path):
    data = _shapefile_zip(tmp_path, _sites_frame().to_crs(4547), encoding="GBK")
    _assert_sites(_read(catalog, data, "sites.zip"))


@pytest.mark.parametrize("encoding", ["GBK", "UTF-8"])
def test_zipped_shapefile_without_cpg_guesses_chinese_encoding(catalog, tmp_path, encoding):
    data = _shapefile_zip(tmp_path, _sites_frame(), encoding=encoding, drop=(".cpg",))
    assert not any(n.endswith(".cpg") for n in zipfile.ZipFile(io.BytesIO(data)).namelist())
    _assert_sites(_read(catalog, data, "sites.zip"))


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_zipped_shapefile_without_prj_takes_the_source_crs(catalog, tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": [d[0] for d in DEPOTS]},
        geometry=shapely.points(*wgs84_to_gcj02([d[1] for d in DEPOTS], [d[2] for d in DEPOTS])),
    )
    data = _shapefile_zip(tmp_path, frame, drop=(".prj",), stem="depots")
    out = _read(catalog, data, "depots.zip", layer="depots", source_crs="gcj02")
    for geom, (_, lon, lat) in zip(out.geometry, DEPOTS, strict=True):
        assert _metres(geom, lon, lat) < 0.01


def test_zip_picks_the_shapefile_named_after_the_layer(catalog, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    pyogrio.write_dataframe(_sites_frame(), folder / "stall_sites.shp")
    pyogrio.write_dataframe(_sites_frame().iloc[:1], folder / "other.shp")
    data = _zip({f"data/{p.name}": p.read_bytes() for p in folder.iterdir()})
    _assert_sites(_read(catalog, data, "many.zip"))
    with pytest.raises(InvalidInput, match="several shapefiles"):
        _read(catalog, data, "many.zip", layer="depots")


def test_csv_encodings_and_header_titles(catalog):
    text = "名称,所属区,摊位数,经度,纬度\n" + "".join(
        f"{s[0]},{s[1]},{s[2]},{s[3][0][0]},{s[3][0][1]}\n" for s in SITES
    )
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("gbk")):
        frame = _read(catalog, data, "sites.csv", layer="festival_sales_points")
        assert list(frame["name"]) == [s[0] for s in SITES]
        assert list(frame["district"]) == [s[1] for s in SITES]
        assert list(frame["capacity"]) == ["12", "30"]  # values are the caller's to validate
        assert [(g.x, g.y) for g in frame.geometry] == [s[3][0] for s in SITES]


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        ("lon", "lat"),
        ("LNG", "Lat"),
        ("longitude", "latitude"),
        ("x", "y"),
        ("东经", "北纬"),
        (" 经度 ", " 纬度 "),
    ],
)
def test_csv_coordinate_headers(catalog, lon, lat):
    data = f"name,{lon},{lat}\n甲,113.25,35.21\n".encode()
    frame = _read(catalog, data, "d.csv", layer="depots")
    assert list(frame.columns) == ["name", "geometry"]
    assert frame.geometry.iloc[0].equals(shapely.Point(113.25, 35.21))


def test_csv_in_gcj02_and_bd09_comes_back_to_wgs84_within_a_metre(catalog):
    lons, lats = np.array([d[1] for d in DEPOTS]), np.array([d[2] for d in DEPOTS])
    for crs, forward in (("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)):
        glon, glat = forward(lons, lats)
        data = "名称,经度,纬度\n" + "".join(
            f"{d[0]},{x:.9f},{y:.9f}\n" for d, x, y in zip(DEPOTS, glon, glat, strict=True)
        )
        frame = _read(catalog, data.encode(), "d.csv", layer="depots", source_crs=crs)
        for geom, (_, lon, lat) in zip(frame.geometry, DEPOTS, strict=True):
            assert _metres(geom, lon, lat) < 1.0
            assert _metres(geom, lon, lat) < 0.01  # in fact millimetres
        # and taken as WGS 84 it would be hundreds of metres off: the CRS matters
        raw = _read(catalog, data.encode(), "d.csv", layer="depots")
        assert _metres(raw.geometry.iloc[0], DEPOTS[0][1], DEPOTS[0][2]) > 300


def test_csv_with_wkt_column_and_tabs(catalog):
    rows = "".join(f"{s[0]}\t{s[1]}\t{s[2]}\t{shapely.Polygon(s[3]).wkt}\n" for s in SITES)
    frame = _read(catalog, ("name\tdistrict\tcapacity\twkt\n" + rows).encode(), "sites.tsv")
    _assert_sites(frame)


def test_xlsx_with_chinese_headers_and_numbers(catalog):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "场站"
    sheet.append(["名称", "储盐", "经度", "纬度", "备注"])
    for name, lon, lat in DEPOTS:
        sheet.append([name, "是", lon, lat, "示例"])
    buf = io.BytesIO()
    book.save(buf)
    frame = _read(catalog, buf.getvalue(), "depots.xlsx", layer="depots")
    assert list(frame.columns) == [
        "name",
        "salt_store",
        "备注",
        "geometry",
    ]  # unknown column kept for the caller
    assert [(g.x, g.y) for g in frame.geometry] == [(d[1], d[2]) for d in DEPOTS]


def test_xlsx_title_row_above_the_header_and_row_numbers(catalog):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["焦作市场站一览（示例）"])
    sheet.append([])
    sheet.append(["名称", "经度", "纬度"])
    sheet.append(["中站场站", 113.1762, 35.2371])
    sheet.append(["山阳场站", "113.2856", "北纬35.2"])
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(InvalidInput) as err:
        _read(catalog, buf.getvalue(), "depots.xlsx", layer="depots")
    assert err.value.en == "Row 5, column '纬度': '北纬35.2' is not a number"  # the row Excel shows
    sheet["C5"] = 35.2133
    buf = io.BytesIO()
    book.save(buf)
    frame = _read(catalog, buf.getvalue(), "depots.xlsx", layer="depots")
    assert list(frame["name"]) == ["中站场站", "山阳场站"]
    assert frame.geometry.iloc[1].equals(shapely.Point(113.2856, 35.2133))


def test_table_layer_csv_has_no_geometry(catalog):
    frame = _read(catalog, "crew,depot,vehicles\n一班,中站场站,2\n".encode(), "crews.csv", layer="crews")
    assert list(frame.columns) == ["crew", "depot", "vehicles"]
    assert len(frame) == 1


# --- reading errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "error", "fragment"),
    [
        (b"", "a.csv", InvalidInput, "empty"),
        (b"\x00\x01binary", "a.dat", UnsupportedFormat, "Unknown format"),
        (b"whatever", "roads.shp", UnsupportedFormat, "zip"),
        ("名称,地址\n甲,解放路\n".encode(), "a.csv", InvalidInput, "no coordinate columns"),
        (
            "名称,经度,纬度\n甲,113.25,35.21\n乙,东经113度,35.2\n".encode(),
            "a.csv",
            InvalidInput,
            "Row 3, column '经度'",
        ),
        (
            "name,lon,lat\n甲,113.25,35.21\n乙,113.26,\n".encode(),
            "a.csv",
            InvalidInput,
            "Row 3, column 'lat': is empty",
        ),
        ("name,wkt\n甲,POINT (113.25 35.21)\n乙,POINT (oops)\n".encode(), "a.csv", InvalidInput, "Row 3"),
        (b"{not json", "a.geojson", InvalidInput, "cannot be parsed"),
        (
            b'{"type": "Point", "coordinates": [113.25, 35.21]}',
            "a.geojson",
            InvalidInput,
            "FeatureCollection",
        ),
        (b'{"type": "FeatureCollection", "features": []}', "a.geojson", InvalidInput, "no features"),
        (b"PK\x03\x04broken", "a.zip", InvalidInput, "damaged"),
        (b"SQLite format 3\x00 but not really", "a.gpkg", InvalidInput, "cannot be read"),
        (b"\xff\xfe\xfa\xfb", "a.csv", InvalidInput, "encoding"),
    ],
)
def test_read_errors(catalog, data, filename, error, fragment):
    with pytest.raises(error) as err:
        _read(catalog, data, filename, layer="depots")
    assert fragment in err.value.en
    assert err.value.zh
    assert err.value.zh != err.value.en


def test_non_numeric_coordinate_names_row_and_column_in_chinese(catalog):
    with pytest.raises(InvalidInput) as err:
        _read(catalog, "名称,经度,纬度\n甲,113.25,35.21\n乙,abc,35.2\n".encode(), "a.csv", layer="depots")
    assert err.value.zh == "第 3 行「经度」列「abc」不是数值"
    assert err.value.feature == "row 3"
    assert err.value.field == "经度"


def test_zip_without_shapefile_lists_what_it_holds(catalog):
    with pytest.raises(InvalidInput) as err:
        _read(catalog, _zip({"readme.txt": b"hi", "sites.csv": b"a,b\n"}), "a.zip")
    assert "no .shp" in err.value.en
    assert "readme.txt" in err.value.en
    assert "没有 .shp" in err.value.zh


def test_zip_with_unsafe_path_is_refused(catalog, tmp_path):
    data = _shapefile_zip(tmp_path, _sites_frame())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    files["../evil.txt"] = b"x"
    with pytest.raises(InvalidInput, match="Unsafe path"):
        _read(catalog, _zip(files), "a.zip")


def test_size_limits(catalog, tmp_path):
    data = "name,lon,lat\n甲,113.25,35.21\n".encode()
    assert len(_read(catalog, data, "a.csv", layer="depots", max_bytes=len(data))) == 1
    with pytest.raises(PayloadTooLarge, match="above the limit"):
        _read(catalog, data, "a.csv", layer="depots", max_bytes=len(data) - 1)
    bomb = _zip({"stall_sites.shp": b"\x00" * 2_000_000, "stall_sites.dbf": b"", "stall_sites.shx": b""})
    with pytest.raises(PayloadTooLarge, match="expands"):
        _read(catalog, bomb, "a.zip", max_bytes=50_000)


# --- writing -----------------------------------------------------------------------------------------


def _stored_like() -> gpd.GeoDataFrame:
    """A frame as the store exports it: fid column, typed values, dates."""
    return gpd.GeoDataFrame(
        {
            "fid": [4, 9],
            "name": [s[0] for s in SITES],
            "district": [s[1] for s in SITES],
            "capacity": [s[2] for s in SITES],
            "valid_from": [dt.date(2026, 2, 1), None],
            "_version": [1, 2],
        },
        geometry=[shapely.Polygon(s[3]) for s in SITES],
        crs=4326,
    )


def test_geojson_export_is_rfc7946(catalog):
    data, media = write_features(_stored_like(), fmt="geojson", layer="stall_sites")
    assert media == "application/geo+json"
    doc = json.loads(data.decode("utf-8"))
    assert "crs" not in doc
    assert [f["id"] for f in doc["features"]] == [4, 9]
    first = doc["features"][0]
    assert first["properties"] == {
        "fid": 4,  # the id (and version) among the properties too: a GIS that saves the file again keeps them
        "name": "解放路早市",
        "district": "解放区",
        "capacity": 12,
        "valid_from": "2026-02-01",
        "_version": 1,
    }
    assert doc["features"][1]["properties"]["valid_from"] is None
    assert first["geometry"]["type"] == "Polygon"
    assert "解放路早市".encode() in data  # not \u-escaped
    back = _read(catalog, data, "x.geojson")
    _assert_sites(back)


def test_csv_export_opens_in_excel_and_reads_back(catalog):
    data, media = write_features(_stored_like(), fmt="csv", layer="stall_sites")
    assert media.startswith("text/csv")
    assert data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8-sig").splitlines()[0]
    assert header == "fid,name,district,capacity,valid_from,_version,wkt"
    _assert_sites(_read(catalog, data, "x.csv"))
    points = gpd.GeoDataFrame(
        {"fid": [1, 2], "name": [d[0] for d in DEPOTS]},
        geometry=shapely.points([d[1] for d in DEPOTS], [d[2] for d in DEPOTS]),
        crs=4326,
    )
    text = write_features(points, fmt="csv", layer="depots")[0].decode("utf-8-sig")
    assert text.splitlines()[:2] == ["fid,name,lon,lat", "1,中站场站,113.1762,35.2371"]


def test_gpkg_export_reads_back_with_ids(catalog, tmp_path):
    data, media = write_features(_stored_like(), fmt="gpkg", layer="stall_sites")
    assert media == "application/geopackage+sqlite3"
    (tmp_path / "x.gpkg").write_bytes(data)
    raw = pyogrio.read_dataframe(tmp_path / "x.gpkg", layer="stall_sites")
    assert list(raw["feature_id"]) == [4, 9]
    assert raw.crs.to_epsg() == 4326
    back = _read(catalog, data, "x.gpkg")
    _assert_sites(back)
    assert list(back["fid"]) == [4, 9]  # the import ignores fid, so re-import works


def test_unknown_export_format(catalog):
    with pytest.raises(InvalidInput, match="kml"):
        write_features(_stored_like(), fmt="kml", layer="stall_sites")
    with pytest.raises(InvalidInput, match="shp"):
        write_workspace({}, fmt="shp")


def test_workspace_exports(catalog, tmp_path):
    crews = pd.DataFrame({"fid": [1], "crew": ["一班"], "depot": ["中站场站"], "vehicles": [2]})
    empty_crews = pd.DataFrame({"fid": pd.Series([], dtype=int), "crew": pd.Series([], dtype=object)})
    frames = {"stall_sites": _stored_like(), "crews": crews}
    path = tmp_path / "w.gpkg"
    path.write_bytes(write_workspace(frames, fmt="gpkg"))
    assert sorted(n for n, _ in pyogrio.list_layers(path)) == ["crews", "stall_sites"]
    assert pyogrio.read_dataframe(path, layer="crews")["crew"].tolist() == ["一班"]
    path.write_bytes(write_workspace({"crews": empty_crews}, fmt="gpkg"))
    assert pyogrio.list_layers(path) is not None
    with zipfile.ZipFile(io.BytesIO(write_workspace(frames, fmt="zip-geojson"))) as zf:
        assert sorted(zf.namelist()) == ["crews.geojson", "stall_sites.geojson"]
        crews_doc = json.loads(zf.read("crews.geojson"))
    assert crews_doc["features"][0] == {
        "type": "Feature",
        "id": 1,
        "geometry": None,
        "properties": {"fid": 1, "crew": "一班", "depot": "中站场站", "vehicles": 2},
    }


# --- through the API: upload, store, export, upload again ----------------------------------------------


def test_import_gcj02_csv_then_export_and_reimport_through_the_api(client):
    lons, lats = np.array([d[1] for d in DEPOTS]), np.array([d[2] for d in DEPOTS])
    glon, glat = wgs84_to_gcj02(lons, lats)
    csv = "名称,储盐,经度,纬度\n" + "".join(
        f"{d[0]},是,{x:.9f},{y:.9f}\n" for d, x, y in zip(DEPOTS, glon, glat, strict=True)
    )
    resp = client.post(
        "/collections/depots/import",
        files={"file": ("场站.csv", csv.encode("gbk"), "text/csv")},
        data={"crs": "gcj02"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["imported"] == 2
    items = client.get("/collections/depots/items").json()["features"]
    got = {f["properties"]["name"]: f["geometry"]["coordinates"] for f in items}
    for name, lon, lat in DEPOTS:
        assert GEOD.inv(*got[name], lon, lat)[2] < 1.0
    for fmt in ("geojson", "gpkg", "csv"):
        exported = client.get("/collections/depots/export", params={"f": fmt})
        assert exported.status_code == 200, exported.text
        again = client.post(
            "/collections/depots/import",
            data={"mode": "replace"},
            files={"file": (f"depots.{fmt}", exported.content, "application/octet-stream")},
        )
        assert again.status_code == 201, (fmt, again.text)
        items = client.get("/collections/depots/items").json()["features"]
        assert sorted(f["properties"]["name"] for f in items) == sorted(d[0] for d in DEPOTS)
        for f in items:
            assert f["geometry"]["coordinates"] == pytest.approx(got[f["properties"]["name"]], abs=1e-8)


def test_bad_upload_is_a_problem_naming_the_row(client):
    resp = client.post(
        "/collections/depots/import",
        files={"file": ("d.csv", "name,lon,lat\n甲,113.25,35.21\n乙,113.26,abc\n".encode(), "text/csv")},
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["detail_en"].endswith("Row 3: column 'lat': 'abc' is not a number")  # the row Excel shows
    assert [(row["row"], row["fields"]) for row in body["rows"]] == [(3, ["geometry"])]
    resp = client.post(
        "/collections/depots/import", files={"file": ("d.zip", _zip({"a.txt": b"x"}), "application/zip")}
    )
    assert resp.status_code == 400
    assert "no .shp" in resp.json()["detail_en"]
    resp = client.post("/collections/depots/import", files={"file": ("d.kml", b"<kml/>", "application/xml")})
    assert resp.status_code == 415
    assert client.get("/collections/depots/items").json()["numberMatched"] == 0


def test_an_export_imported_back_in_replace_mode_keeps_ids_and_history(client):
    """helper-33: a replace import of a layer's own export gave every feature a new id."""
    csv = "名称,储盐,经度,纬度\n甲,是,113.25,35.21\n乙,否,113.26,35.22\n丙,是,113.27,35.23\n"
    files = {"file": ("场站.csv", csv.encode(), "text/csv")}
    assert client.post("/collections/depots/import", files=files).status_code == 201
    ids = {
        f["properties"]["name"]: f["id"] for f in client.get("/collections/depots/items").json()["features"]
    }
    for fmt in ("geojson", "gpkg", "csv"):
        exported = client.get("/collections/depots/export", params={"f": fmt}).content
        again = client.post(
            "/collections/depots/import",
            data={"mode": "replace"},
            files={"file": (f"depots.{fmt}", exported, "application/octet-stream")},
        )
        assert again.status_code == 201, (fmt, again.text)
        items = client.get("/collections/depots/items").json()["features"]
        assert {f["properties"]["name"]: f["id"] for f in items} == ids, fmt
        assert all(f["version"] == 1 for f in items), fmt
    for fid in ids.values():
        assert [
            h["op"] for h in client.get(f"/collections/depots/items/{fid}/history").json()["changes"]
        ] == ["create"]
    # an edited file: 乙 renamed in place, 丙 left out, a new row without an id
    table = pd.read_csv(io.BytesIO(client.get("/collections/depots/export", params={"f": "csv"}).content))
    table.loc[table["name"] == "乙", "name"] = "乙二"
    table = table[table["name"] != "丙"]
    table = pd.concat(
        [table, pd.DataFrame([{"name": "丁", "salt_store": True, "lon": 113.28, "lat": 35.24}])]
    )
    r = client.post(
        "/collections/depots/import",
        data={"mode": "replace", "reason": "年度核对"},
        files={"file": ("depots.csv", table.to_csv(index=False).encode(), "text/csv")},
    )
    assert r.status_code == 201, r.text
    items = {f["properties"]["name"]: f for f in client.get("/collections/depots/items").json()["features"]}
    assert items["乙二"]["id"] == ids["乙"]
    assert items["甲"]["id"] == ids["甲"]
    assert items["丁"]["id"] > max(ids.values())
    changes = client.get(f"/collections/depots/items/{ids['乙']}/history").json()["changes"]
    assert next((h["op"], h["reason"]) for h in changes) == ("update", "年度核对")
    assert client.get(f"/collections/depots/items/{ids['丙']}").status_code == 404
    assert client.post(f"/collections/depots/items/{ids['丙']}/restore").status_code in (200, 201)
    # a bad or repeated fid is its row's problem, and nothing changes
    bad = "fid,name,lon,lat\nx,甲,113.25,35.21\n1.5,乙,113.26,35.22\n" + f"{ids['甲']},丙,113.27,35.23\n"
    bad += f"{ids['甲']},戊,113.29,35.25\n"
    r = client.post(
        "/collections/depots/import",
        data={"mode": "replace"},
        files={"file": ("d.csv", bad.encode(), "text/csv")},
    )
    assert r.status_code == 400, r.text
    rows = {row["row"]: row for row in r.json()["rows"]}  # as a spreadsheet numbers them: header row 1
    assert set(rows) == {2, 3, 5}
    assert rows[5]["fields"] == ["fid"]
    assert "also given in row 4" in rows[5]["errors"][0]["detail_en"]
    assert "whole number" in rows[2]["errors"][0]["detail_en"]
    assert len(client.get("/collections/depots/items").json()["features"]) == 4


def test_a_replace_import_does_not_delete_what_was_added_after_the_export(client):
    """A replace import deleted the features someone added after the file was exported (they were
    listed only in the count of deleted ones): the export is stamped with its moment, and a feature added
    (or restored) since is named and the import refused, in every format; one the editor took out of the
    file is deleted as before."""
    csv = "名称,储盐,经度,纬度\n甲,是,113.25,35.21\n乙,否,113.26,35.22\n丙,是,113.27,35.23\n"
    assert (
        client.post("/collections/depots/import", files={"file": ("d.csv", csv.encode())}).status_code == 201
    )
    ids = {
        f["properties"]["name"]: f["id"] for f in client.get("/collections/depots/items").json()["features"]
    }
    gone = client.get(f"/collections/depots/items/{ids['丙']}").json()
    assert (
        client.delete(
            f"/collections/depots/items/{ids['丙']}", headers={"If-Match": f'"{gone["version"]}"'}
        ).status_code
        == 204
    )
    exports = {
        fmt: client.get("/collections/depots/export", params={"f": fmt}).content
        for fmt in ("csv", "geojson", "gpkg")
    }
    table = pd.read_csv(io.BytesIO(exports["csv"]))
    assert table["_exported_at"].nunique() == 1
    # meanwhile a dispatcher adds a depot, and another brings 丙 back
    added = client.post(
        "/collections/depots/items",
        json={
            "type": "Feature",
            "properties": {"name": "丁", "salt_store": True},
            "geometry": {"type": "Point", "coordinates": [113.28, 35.24]},
        },
    )
    assert added.status_code == 201, added.text
    assert client.post(f"/collections/depots/items/{ids['丙']}/restore").status_code in (200, 201)
    for fmt, data in exports.items():
        r = client.post(
            "/collections/depots/import", data={"mode": "replace"}, files={"file": (f"depots.{fmt}", data)}
        )
        assert r.status_code == 409, (fmt, r.text[:300])
        body = r.json()
        assert body["field"] == "_exported_at"
        assert [a["id"] for a in body["added"]] == sorted([ids["丙"], added.json()["id"]]), fmt
        assert "after this file was exported" in body["detail_en"]
        assert "之后图层中又新增或修改了要素" in body["detail_zh"]
    names = {f["properties"]["name"] for f in client.get("/collections/depots/items").json()["features"]}
    assert names == {"甲", "乙", "丙", "丁"}  # nothing deleted
    # a fresh export, with 乙 taken out by the editor: 乙 goes, as it should
    fresh = pd.read_csv(io.BytesIO(client.get("/collections/depots/export", params={"f": "csv"}).content))
    fresh = fresh[fresh["name"] != "乙"]
    r = client.post(
        "/collections/depots/import",
        data={"mode": "replace"},
        files={"file": ("d.csv", fresh.to_csv(index=False).encode())},
    )
    assert r.status_code == 201, r.text[:300]
    assert r.json()["deleted"] == 1
    # helper-48: a feature changed after the export and left out of the file was deleted with the edit
    again = pd.read_csv(io.BytesIO(client.get("/collections/depots/export", params={"f": "csv"}).content))
    jia = next(
        f
        for f in client.get("/collections/depots/items").json()["features"]
        if f["properties"]["name"] == "甲"
    )
    patched = client.patch(
        f"/collections/depots/items/{jia['id']}",
        json={"properties": {"salt_store": False}},
        headers={"If-Match": f'"{jia["version"]}"'},
    )
    assert patched.status_code == 200, patched.text[:300]
    r = client.post(
        "/collections/depots/import",
        data={"mode": "replace"},
        files={"file": ("d.csv", again[again["name"] != "甲"].to_csv(index=False).encode())},
    )
    assert r.status_code == 409, r.text[:300]
    assert [(a["id"], a["op"]) for a in r.json()["added"]] == [(jia["id"], "update")]
    assert "changed by test-admin" in r.json()["detail_en"]
    # a stamp in the future is no export's: its row's problem, as one that is no time
    future = again.assign(_exported_at="2099-01-01T00:00:00+08:00")
    r = client.post(
        "/collections/depots/import",
        data={"mode": "replace"},
        files={"file": ("d.csv", future.to_csv(index=False).encode())},
    )
    assert r.status_code == 400, r.text[:300]
    assert r.json()["field"] == "_exported_at"
    assert "future" in r.json()["detail_en"]
    # a stamp that is no time is its row's problem
    fresh = pd.read_csv(io.BytesIO(client.get("/collections/depots/export", params={"f": "csv"}).content))
    fresh["_exported_at"] = ["昨天", *list(fresh["_exported_at"][1:])]
    r = client.post(
        "/collections/depots/import",
        data={"mode": "replace"},
        files={"file": ("d.csv", fresh.to_csv(index=False).encode())},
    )
    assert r.status_code == 400
    assert r.json()["rows"][0]["fields"] == ["_exported_at"]


def test_a_replace_import_refuses_what_would_undo_or_lose_others_work(own_demo_client):
    """helper-38: a replace import from an older export put back rows others had changed since (no 409);
    a row naming a deleted feature, or an append of the layer's own export, quietly made new copies;
    string ids and a GDAL re-save lost the ids; an 'id' column was ignored."""
    c = own_demo_client
    layer = "/collections/bridges_culverts"

    def export(fmt="csv"):
        return c.get(f"{layer}/export", params={"f": fmt}).content

    def put(data, name="b.csv", **form):
        return c.post(f"{layer}/import", files={"file": (name, data)}, data={"mode": "replace", **form})

    old = export()
    # someone changes bridge 7 after the export: the old file's row 8 (header row 1) is stale, and only that: 409
    item = c.get(f"{layer}/items/7").json()
    r = c.patch(
        f"{layer}/items/7",
        json={"properties": {"snow_priority": 3}},
        headers={"If-Match": f'"{item["version"]}"'},
    )
    assert r.status_code == 200, r.text[:300]
    stale = put(old)
    assert stale.status_code == 409, stale.text[:300]
    body = stale.json()
    assert [row["row"] for row in body["rows"]] == [8]
    assert "after the export" in body["rows"][0]["errors"][0]["detail_en"]
    assert c.get(f"{layer}/items/7").json()["properties"]["snow_priority"] == 3  # nothing written
    # a fresh export goes back as it is: nothing created, changed or deleted
    again = put(export())
    assert again.status_code == 201, again.text[:300]
    assert {k: again.json()[k] for k in ("created", "updated", "unchanged", "deleted")} == {
        "created": 0,
        "updated": 0,
        "unchanged": 39,
        "deleted": 0,
    }
    # a row naming a deleted bridge is refused (restore it first, or leave fid blank)
    item = c.get(f"{layer}/items/5").json()
    assert c.delete(f"{layer}/items/5", headers={"If-Match": f'"{item["version"]}"'}).status_code == 204
    gone = put(old)
    assert gone.status_code == 400
    rows = {row["row"]: row for row in gone.json()["rows"]}
    assert "no feature of the layer now" in rows[6]["errors"][0]["detail_en"]
    # an append of the layer's own rows would copy them
    appended = c.post(f"{layer}/import", files={"file": ("b.csv", export())}, data={"mode": "append"})
    assert appended.status_code == 400
    assert "second copy" in appended.json()["rows"][0]["errors"][0]["detail_en"]
    # GeoJSON ids as strings, and a file a desktop GIS saved again (feature ids dropped, properties kept)
    doc = json.loads(export("geojson"))
    for feat in doc["features"]:
        feat["id"] = str(feat["id"])
    assert put(json.dumps(doc).encode(), "b.geojson").json()["unchanged"] == 38
    for feat in doc["features"]:
        del feat["id"]
    assert put(json.dumps(doc).encode(), "b.geojson").json()["unchanged"] == 38
    # an 'id' column is not taken for fid, nor ignored
    table = pd.read_csv(io.BytesIO(export())).rename(columns={"fid": "id"})
    named = put(table.to_csv(index=False).encode())
    assert named.status_code == 400
    assert named.json()["field"] == "id"
    # a whole number written as 1.0 (a column with gaps, read by a spreadsheet) is a whole number
    table = pd.read_csv(io.BytesIO(export()))
    table["snow_priority"] = table["snow_priority"].astype(float)
    assert put(table.to_csv(index=False).encode()).status_code == 201


def test_geojson_ids_that_are_other_digits_and_appends_of_other_files(client, catalog):
    """helper-41: a feature id of '²' (a digit to str.isdigit) was a 500; a GeoJSON from elsewhere
    numbered 1, 2, … was refused in append mode when its numbers were the layer's ids."""
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "²",
                "geometry": {"type": "Point", "coordinates": [113.25, 35.21]},
                "properties": {"name": "甲", "salt_store": True},
            }
        ],
    }
    frame = _read(catalog, json.dumps(doc).encode(), "d.geojson", layer="depots")
    assert "fid" not in frame.columns
    csv = "名称,储盐,经度,纬度\n甲,是,113.25,35.21\n"
    assert (
        client.post("/collections/depots/import", files={"file": ("d.csv", csv.encode())}).status_code == 201
    )
    # another program's file numbered from 1, its depot elsewhere: a new feature (one with the id of a
    # depot of the layer, standing at that depot's very place, is that depot again: an export whose own
    # columns were deleted, refused as a copy; see test_import_rows)
    elsewhere = {"type": "Point", "coordinates": [113.26, 35.22]}
    other = {
        **doc,
        "features": [
            {
                **doc["features"][0],
                "id": 1,
                "geometry": elsewhere,
                "properties": {"name": "乙", "salt_store": False},
            }
        ],
    }
    r = client.post("/collections/depots/import", files={"file": ("o.geojson", json.dumps(other).encode())})
    assert r.status_code == 201, r.text[:300]
    assert r.json()["created"] == 1
    here = {**other, "features": [{**other["features"][0], "geometry": doc["features"][0]["geometry"]}]}
    r = client.post("/collections/depots/import", files={"file": ("o.geojson", json.dumps(here).encode())})
    assert (r.status_code, r.json()["rows"][0]["fields"]) == (400, ["fid"])


def test_an_import_names_the_rows_that_repeat_a_unique_value(client):
    """A replace import of crews with one crew's name twice answered 409 'occurs twice in the batch'
    without the rows; it names them now (409 still: nothing else is wrong), as other refusals do.
    Appended, a name a crew of the layer has is its row's problem too. Nothing is written."""
    depot = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    depot["properties"] = {"name": "山阳场站"}
    assert client.post("/collections/depots/items", json=depot).status_code == 201

    def put(csv: str, mode: str):
        files = {"file": ("crews.csv", csv.encode(), "text/csv")}
        return client.post("/collections/crews/import", data={"mode": mode}, files=files)

    assert put("班组,所属场站,车辆数\n一组,山阳场站,2\n", "append").status_code == 201
    before = client.get("/collections/crews/items").json()["features"]
    twice = "班组,所属场站,车辆数\n二组,山阳场站,2\n三组,山阳场站,1\n二组,山阳场站,3\n四组,山阳场站,1\n三组,山阳场站,2\n"
    r = put(twice, "replace")
    assert r.status_code == 409, r.text[:400]
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert [(row["row"], row["fields"]) for row in body["rows"]] == [(4, ["crew"]), (6, ["crew"])]
    assert "rows 4, 6" in body["detail_en"]
    assert "第 4、6 行" in body["detail_zh"]
    assert "crew' = 二组 is also given in row 2" in body["detail_en"]
    assert "与第 3 行重复" in body["rows"][1]["errors"][0]["detail_zh"]
    assert body["field"] == "crew"
    # with another problem in the file: a 400 naming every row
    r = put(twice + "五组,山阳场站,0\n", "replace")
    assert r.status_code == 400, r.text[:400]
    assert [row["row"] for row in r.json()["rows"]] == [4, 6, 7]
    # appended: the name of a crew the layer has
    r = put("班组,所属场站,车辆数\n五组,山阳场站,2\n一组,山阳场站,2\n", "append")
    assert r.status_code == 409, r.text[:400]
    (row,) = r.json()["rows"]
    assert row["row"] == 3
    assert f"is already used by feature {before[0]['id']}" in row["errors"][0]["detail_en"]
    assert client.get("/collections/crews/items").json()["features"] == before


def test_a_feature_restored_after_the_export_is_not_deleted_whatever_the_file_leaves_out(client):
    """helper-47: with more than 200 features left out of the file, only new ids were looked up, so a
    feature restored after the export (an old id) was deleted without a word."""
    rows = "\n".join(f"点{i},true,{113.2 + i * 1e-4:.4f},35.21" for i in range(260))
    assert (
        client.post(
            "/collections/depots/import",
            files={"file": ("d.csv", f"name,salt_store,lon,lat\n{rows}\n".encode())},
        ).status_code
        == 201
    )
    items = client.get("/collections/depots/items", params={"limit": 1000}).json()["features"]
    first = min(items, key=lambda f: f["id"])
    assert (
        client.delete(
            f"/collections/depots/items/{first['id']}", headers={"If-Match": f'"{first["version"]}"'}
        ).status_code
        == 204
    )
    table = pd.read_csv(io.BytesIO(client.get("/collections/depots/export", params={"f": "csv"}).content))
    assert client.post(f"/collections/depots/items/{first['id']}/restore").status_code in (200, 201)
    kept = table.iloc[-30:]  # the editor keeps 30 rows: 229 left out, and the restored one
    r = client.post(
        "/collections/depots/import",
        data={"mode": "replace"},
        files={"file": ("d.csv", kept.to_csv(index=False).encode())},
    )
    assert r.status_code == 409, r.text[:300]
    assert [a["id"] for a in r.json()["added"]] == [first["id"]]
    assert client.get(f"/collections/depots/items/{first['id']}").status_code == 200


def test_a_feature_added_while_a_replace_import_runs_is_not_deleted_by_it(client, monkeypatch):
    """helper-49: a feature another user created after a replace import had read the layer (and before
    it wrote) was deleted by it, and the answer said deleted 0. The import reads the layer's version
    first; the store refuses the write when the layer moved (409), and nothing is written."""
    import shapely

    from geo_service import imports
    from geo_service.store.base import NewFeature

    csv = "name,salt_store,lon,lat\n甲,true,113.25,35.21\n乙,false,113.26,35.22\n"
    assert (
        client.post("/collections/depots/import", files={"file": ("d.csv", csv.encode())}).status_code == 201
    )
    exported = client.get("/collections/depots/export", params={"f": "csv"}).content
    store = client.app.state.workspace.store
    settled = imports._settled

    def meanwhile(*args, **kwargs):
        store.create_features(
            "depots",
            [NewFeature({"name": "丙", "salt_store": True}, shapely.Point(113.27, 35.23))],
            actor="other",
        )
        monkeypatch.setattr(imports, "_settled", settled)
        return settled(*args, **kwargs)

    monkeypatch.setattr(imports, "_settled", meanwhile)
    r = client.post(
        "/collections/depots/import", data={"mode": "replace"}, files={"file": ("d.csv", exported)}
    )
    assert r.status_code == 409, r.text[:300]
    assert "meanwhile" in r.json()["detail_en"]
    names = {f["properties"]["name"] for f in client.get("/collections/depots/items").json()["features"]}
    assert names == {"甲", "乙", "丙"}
    again = client.post(
        "/collections/depots/import", data={"mode": "replace"}, files={"file": ("d.csv", exported)}
    )
    assert again.status_code == 409  # now 丙 was added after the export: named, not deleted
    assert [a["op"] for a in again.json()["added"]] == ["create"]
