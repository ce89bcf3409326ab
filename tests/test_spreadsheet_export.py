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


def test_an_xlsx_export_keeps_text_as_text_and_times_as_the_csv_writes_them(client):
    """helper-59: a zoned time made the incidents' XLSX a 500; a citizen's '=HYPERLINK(…)' became a
    formula in the dispatcher's file (and read back empty); one control character made it a 500."""
    cases = (
        "经度,纬度,category,reported_at,description\n"
        '113.2,35.25,占道经营,2026-12-01 10:00,"=HYPERLINK(""http://evil.example/"",""点此"")"\n'
        "113.21,35.25,占道经营,2026-12-01 11:00,ok\x01bad\n"
    )
    r = client.post("/collections/incidents/import", files={"file": ("c.csv", cases.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    exported = client.get("/collections/incidents/export", params={"f": "xlsx"})
    assert exported.status_code == 200, exported.text
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    header = [c.value for c in sheet[1]]
    described = {sheet.cell(row=r, column=header.index("description") + 1).value for r in (2, 3)}
    assert described == {'=HYPERLINK("http://evil.example/","点此")', "okbad"}
    assert all(sheet.cell(row=r, column=header.index("description") + 1).data_type == "s" for r in (2, 3))
    times = {sheet.cell(row=r, column=header.index("reported_at") + 1).value for r in (2, 3)}
    assert times == {"2026-12-01T10:00:00+08:00", "2026-12-01T11:00:00+08:00"}


def test_a_csv_with_blank_lines_above_its_header_reads_and_numbers_rows_as_excel_shows(client):
    """helper-59: a leading blank line left the table with no columns (a regression)."""
    csv = "\n\n名称,储盐,经度,纬度\n甲,是,113.25,35.21\n乙,是,abc,35.22\n"
    r = client.post("/collections/depots/import", files={"file": ("d.csv", csv.encode(), "text/csv")})
    assert r.status_code == 400, r.text
    assert [row["row"] for row in r.json()["rows"]] == [5]  # two blank lines, the header, 甲, then 乙
    good = "\n名称,储盐,经度,纬度\n甲,是,113.25,35.21\n"
    assert (
        client.post(
            "/collections/depots/import", files={"file": ("d.csv", good.encode(), "text/csv")}
        ).status_code
        == 201
    )
