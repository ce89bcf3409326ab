"""A layer exported for Excel (XLSX), edited there and read back; the CLI's export never overwrites."""

from __future__ import annotations

import io

import openpyxl

from geo_service.cli import main


def test_an_xlsx_export_opens_as_a_sheet_and_imports_back_unchanged(client):
    """helper-55: the import read XLSX, the export wrote none; clerks work in Excel."""
    csv = "名称,储盐,经度,纬度\n甲,是,113.25,35.21\n乙,否,113.26,35.22\n"
    r = client.post("/collections/depots/import", files={"file": ("场站.csv", csv.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    before = {f["id"]: f for f in client.get("/collections/depots/items").json()["features"]}
    exported = client.get("/collections/depots/export", params={"f": "xlsx"})
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].endswith('filename="depots.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    header = [c.value for c in sheet[1]]
    assert {"fid", "_version", "_exported_at", "name", "lon", "lat"} <= set(header)
    assert sheet.max_row == 3  # the header and the two depots
    # read back as it was saved: nothing changes, no id is new, no version moves
    again = client.post(
        "/collections/depots/import",
        data={"mode": "replace"},
        files={"file": ("depots.xlsx", exported.content, "application/octet-stream")},
    )
    assert again.status_code == 201, again.text
    after = {f["id"]: f for f in client.get("/collections/depots/items").json()["features"]}
    assert after.keys() == before.keys()
    assert all(after[i]["version"] == before[i]["version"] for i in before)
    assert client.get("/collections/depots/export", params={"f": "xls"}).status_code == 400


def test_the_cli_export_does_not_overwrite_a_file_unless_told(demo_gpkg, tmp_path, capsys):
    """helper-55: a second export over an edited copy replaced it without a word."""
    out = tmp_path / "sites.xlsx"
    ws = ["--workspace", str(demo_gpkg)]
    args = ["export", "--layer", "stall_sites", "--format", "xlsx", "--out", str(out), *ws]
    assert main(args) == 0
    out.write_bytes(b"someone's edited copy")
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == b"someone's edited copy"
    assert main([*args, "--force"]) == 0
    assert openpyxl.load_workbook(out).active.max_row > 30
