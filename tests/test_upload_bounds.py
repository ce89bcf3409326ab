"""How far an upload may expand: an XLSX (a zip of XML read into memory) and a zipped shapefile (written
to disk) are refused, 413 in Chinese and English naming the limit, before they are inflated; and a sheet
whose grid pandas would pad to millions of cells is refused while it is read. Every file is built here
and stays small on disk."""

from __future__ import annotations

import io
import pathlib
import zipfile

import openpyxl
import pytest

from geo_service.errors import PayloadTooLarge
from geo_service.formats import read_features
from geo_service.formats.archives import MEMBER_RATIO, SHAPEFILE_RATIO, XLSX_EXPANSION
from geo_service.formats.workbooks import MOST_CELLS
from geo_service.settings import Settings

MB = 1024 * 1024


@pytest.fixture
def small_client(tmp_path):
    """An admin's client of a service whose upload limit is 1 MB."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from tests.conftest import sign_in

    with TestClient(create_app(Settings(workspace=tmp_path / "ws.gpkg", max_upload_bytes=MB))) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        yield c


def _book(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _with_sheet(xlsx: bytes, sheet_xml: bytes) -> bytes:
    """``xlsx`` with its first sheet's XML replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for m in src.infolist():
            data = sheet_xml if m.filename == "xl/worksheets/sheet1.xml" else src.read(m)
            dst.writestr(m.filename, data)
    return out.getvalue()


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text[:300]
    assert resp.headers["content-type"].startswith("application/problem+json")
    return resp.json()


def test_an_xlsx_whose_sheet_inflates_hundreds_of_times_is_refused_unread(client):
    """The tester's file: 530 KB of XLSX whose sheet was 200 MB of XML raised the server's memory by
    700 MB. Here the same shape, smaller: 9 MB of XML in a file of some 20 KB."""
    head = b'<row><c t="inlineStr"><is><t>lon</t></is></c><c t="inlineStr"><is><t>lat</t></is></c></row>'
    body = b"<row><c><v>113.25</v></c><c><v>35.21</v></c></row>" * 180_000
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
        b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + head
        + body
        + b"</sheetData></worksheet>"
    )
    data = _with_sheet(_book([["lon", "lat"]]), sheet)
    assert len(data) < 100_000
    assert len(sheet) > 9_000_000
    for url in ("/dispatch/cases/upload", "/collections/incidents/import"):
        body_json = _problem(client.post(url, files={"file": ("cases.xlsx", data)}), 413)
        assert f"{MEMBER_RATIO} 倍" in body_json["detail_zh"], body_json
        assert f"limit of {MEMBER_RATIO} times" in body_json["detail_en"]
        assert body_json["field"] == "file"


def test_an_xlsx_expanding_beyond_twice_the_upload_limit_is_refused(small_client):
    """A sheet of many repeated rows (its XML 16 times its file, as real ones are) under a 1 MB upload
    limit: its 4 MB of XML is more than the 2 MB it may expand to."""
    rows = [["名称", "所属区", "摊位数", "经度", "纬度"]] + [
        ["解放路早市", "解放区", 12, 113.24, 35.215]
    ] * 12_000
    data = _book(rows)
    assert len(data) < MB
    body = _problem(
        small_client.post("/collections/stall_sites/import", files={"file": ("sites.xlsx", data)}), 413
    )
    limit = XLSX_EXPANSION * MB
    assert f"上限 {limit} 字节（2.0 MB）" in body["detail_zh"]
    assert f"above the limit of {limit} bytes (2.0 MB)" in body["detail_en"]
    # the same rows, fewer: read as before
    small = _book(rows[:100])
    resp = small_client.post("/collections/stall_sites/import", files={"file": ("sites.xlsx", small)})
    assert resp.status_code != 413, resp.text[:300]


def test_a_sheet_padded_to_millions_of_cells_is_refused_while_read(catalog):
    """One far-away cell makes pandas pad every row to its column and keep every empty row above it:
    a 5 KB file with a cell at row 200,000 and column 2,000 took more than 3 GB. Here a grid just over
    the limit (6,000 rows × 1,000 columns), and a file under 10 KB."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["名称", "经度", "纬度"])
    sheet.append(["中站场站", 113.1762, 35.2371])
    sheet.cell(row=6000, column=1000, value="备注")
    out = io.BytesIO()
    book.save(out)
    assert len(out.getvalue()) < 10_000
    assert MOST_CELLS < 6000 * 1000
    with pytest.raises(PayloadTooLarge) as err:
        read_features(out.getvalue(), filename="depots.xlsx", spec=catalog["depots"])
    assert f"above the limit of {MOST_CELLS} cells" in err.value.en
    assert f"超过上限 {MOST_CELLS} 个单元格" in err.value.zh
    near = _book([["名称", "经度", "纬度"], ["中站场站", 113.1762, 35.2371]])  # without it, read as before
    frame = read_features(near, filename="depots.xlsx", spec=catalog["depots"])
    assert list(frame["name"]) == ["中站场站"]


def _shapefile_bomb(size: int) -> bytes:
    """A zip of a 'shapefile' whose .shp is ``size`` bytes, nearly all zeros (a few KB zipped)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("stall_sites.shp", b"\x00\x00\x27\x0a" + b"\x00" * (size - 4))
        zf.writestr("stall_sites.shx", b"\x00\x00\x27\x0a" + b"\x00" * 96)
        zf.writestr("stall_sites.dbf", b"\x03" + b"\x00" * 31)
    return out.getvalue()


def test_a_small_zip_cannot_expand_far_beyond_its_size(small_client, tmp_path):
    """A 3 MB .shp of zeros zips to a few KB: under a 1 MB upload limit it may expand to 1 MB (the limit,
    being more than 200 times the zip), not to 20 MB (20 times the limit, all a zip was held to before)."""
    data = _shapefile_bomb(3 * MB)
    assert SHAPEFILE_RATIO * len(data) < MB
    body = _problem(
        small_client.post("/collections/stall_sites/import", files={"file": ("sites.zip", data)}), 413
    )
    assert f"上限 {MB} 字节（1.0 MB）" in body["detail_zh"]
    assert f"above the limit of {MB} bytes (1.0 MB)" in body["detail_en"]
    assert f"{SHAPEFILE_RATIO} times the zip's size" in body["detail_en"]


def test_a_zip_may_expand_to_200_times_its_size_within_20_times_the_limit(catalog):
    """The same bomb under a 10 KB limit: 200 times the zip (a few KB) is more than the limit, so that
    is its bound."""
    data = _shapefile_bomb(3 * MB)
    bound = min(20 * 10_000, SHAPEFILE_RATIO * len(data))
    with pytest.raises(PayloadTooLarge) as err:
        read_features(data, filename="a.zip", spec=catalog["stall_sites"], max_bytes=10_000)
    assert f"above the limit of {bound} bytes" in err.value.en


def test_a_zipped_shapefile_is_not_read_whole_to_check_it(catalog, tmp_path, monkeypatch):
    """Its file code is 4 bytes, and its .dbf's encoding is read a piece at a time: neither whole."""
    import geopandas as gpd
    import pyogrio
    import shapely

    folder = tmp_path / "shp"
    folder.mkdir()
    frame = gpd.GeoDataFrame({"名称": ["解放路早市"]}, geometry=[shapely.Point(113.24, 35.215)], crs=4326)
    pyogrio.write_dataframe(frame, folder / "stall_sites.shp", encoding="UTF-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in folder.iterdir():
            if p.suffix != ".cpg":  # its encoding guessed from the .dbf
                zf.writestr(p.name, p.read_bytes())

    def whole(self):
        raise AssertionError(f"{self.name} read whole")

    monkeypatch.setattr(pathlib.Path, "read_bytes", whole)
    got = read_features(out.getvalue(), filename="sites.zip", spec=catalog["stall_sites"])
    assert list(got["name"]) == ["解放路早市"]
