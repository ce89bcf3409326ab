"""Imports as a planner makes them, on a copy of the demo workspace (GeoPackage and PostGIS, through the
app and the command line): an export's rows appended again, blank cells, every failing row numbered as
a spreadsheet shows it, and an import that changes nothing."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
import shapely.affinity

from tests.conftest import demo_settings, sign_in

FESTIVAL = "/collections/festival_sales_points"
SITES = "/collections/stall_sites"


@dataclass(frozen=True)
class Demo:
    """The app over a private copy of the demo workspace, and the command line's options for it."""

    client: object
    cli: tuple[str, ...]  # --workspace PATH or --database-url URL

    def version(self, layer: str) -> int:
        return self.client.app.state.workspace.store.layer_version(layer)  # type: ignore[attr-defined]


@pytest.fixture(params=["gpkg", "postgis"])
def demo(request, demo_gpkg, tmp_path):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    settings, cli = demo_settings(request.param, request, demo_gpkg, tmp_path)
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        yield Demo(c, cli)


def _problem(r, status=400) -> dict:
    assert r.status_code == status, r.text[:800]
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["detail_zh"]
    assert body["detail_en"]
    return body


def _export(c, layer: str, fmt: str = "csv") -> bytes:
    r = c.get(f"{layer}/export", params={"f": fmt})
    assert r.status_code == 200
    return r.content


def _import(c, layer: str, name: str, data: bytes, **form):
    return c.post(f"{layer}/import", files={"file": (name, data)}, data=form)


def _count(c, layer: str) -> int:
    return c.get(f"{layer}/items", params={"limit": 1}).json()["numberMatched"]


def _named(c, layer: str, name: str) -> dict:
    items = c.get(f"{layer}/items", params={"limit": 1000}).json()["features"]
    (props,) = [f["properties"] for f in items if f["properties"]["name"] == name]
    return props


def _cli(demo: Demo, *args: str) -> int:
    from geo_service.cli import main

    return main([*args, *demo.cli])


def test_an_appended_row_of_an_export_naming_a_feature_is_refused_not_copied(demo, tmp_path, capsys):
    """Found by a planner testing imports: festival point 1's row of a CSV export, capacity 19 → 25,
    appended, was "created 1": a second point on the same spot (the guide says such a row is
    refused; only a row identical to the feature was). A row of an export whose fid is a feature
    of the layer is refused whole, changed or not, naming the rows and the ids and saying what to
    do instead; nothing is written. Rows of the same file without an id are appended."""
    c = demo.client
    table = pd.read_csv(io.BytesIO(_export(c, FESTIVAL)))
    one = table[table["fid"] == 1].copy()
    assert one["capacity"].tolist() == [19]
    one["capacity"] = 25
    n, version = _count(c, FESTIVAL), demo.version("festival_sales_points")

    body = _problem(_import(c, FESTIVAL, "f.csv", one.to_csv(index=False).encode(), mode="append"))
    assert [(row["row"], row["fields"]) for row in body["rows"]] == [(2, ["fid"])]  # header: row 1
    assert "第 2 行" in body["detail_zh"]
    assert "fid 1" in body["detail_zh"]
    assert "mode=replace" in body["detail_zh"]
    assert "删去 fid 列" in body["detail_zh"]
    assert "row 2" in body["detail_en"]
    assert "fid 1" in body["detail_en"]
    assert "mode=replace" in body["detail_en"]
    assert "delete the fid column" in body["detail_en"]
    assert "second cop" in body["rows"][0]["errors"][0]["detail_en"]
    # the command line says the same
    path = tmp_path / "f.csv"
    path.write_bytes(one.to_csv(index=False).encode())
    assert _cli(demo, "import", "festival_sales_points", str(path), "--mode", "append") == 2
    err = capsys.readouterr().err
    assert "第 2 行 / row 2" in err
    assert "fid 1" in err
    assert (_count(c, FESTIVAL), demo.version("festival_sales_points")) == (n, version)
    assert c.get(f"{FESTIVAL}/items/1").json()["properties"]["capacity"] == 19

    # a new row added to the export (no fid, no version) goes in; the row naming point 1 does not
    new = one.assign(fid=None, _version=None, name="增光北路实验小学北（二）")
    both = pd.concat([one, new]).to_csv(index=False).encode()
    body = _problem(_import(c, FESTIVAL, "f.csv", both, mode="append"))
    assert [row["row"] for row in body["rows"]] == [2]
    r = _import(c, FESTIVAL, "f.csv", new.to_csv(index=False).encode(), mode="append")
    assert r.status_code == 201, r.text[:400]
    assert (r.json()["created"], _count(c, FESTIVAL)) == (1, n + 1)
    path.write_bytes(new.assign(name="增光北路实验小学北（三）").to_csv(index=False).encode())
    assert _cli(demo, "import", "festival_sales_points", str(path), "--mode", "append") == 0
    assert _count(c, FESTIVAL) == n + 2

    # a GeoJSON export's feature: the same, said of the feature's place in the file
    doc = json.loads(_export(c, FESTIVAL, "geojson"))
    doc["features"] = [f for f in doc["features"] if f["id"] == 1]
    body = _problem(_import(c, FESTIVAL, "f.geojson", json.dumps(doc).encode(), mode="append"))
    assert [(row["row"], row["feature"]) for row in body["rows"]] == [(1, "feature 1")]
    assert "第 1 个要素" in body["detail_zh"]
    assert "fid 1" in body["detail_en"]
    assert _count(c, FESTIVAL) == n + 2


def test_an_appended_export_of_a_stall_site_is_refused_even_with_an_override(demo):
    """Found by a planner testing imports: stall site 1's exported row, its stalls changed, appended
    with the spacing rule overridden made a second site on the first. The override excuses siting
    rules, not a copy: refused, with no override hint, and nothing written."""
    c = demo.client
    table = pd.read_csv(io.BytesIO(_export(c, SITES)))
    one = table[table["fid"] == 1].copy()
    one["capacity"] += 5
    n, version = _count(c, SITES), demo.version("stall_sites")
    body = _problem(
        _import(
            c,
            SITES,
            "s.csv",
            one.to_csv(index=False).encode(),
            mode="append",
            override="site-spacing",
            reason="两处合并经营，经批准",
        )
    )
    assert [(row["row"], row["fields"], row["rules"]) for row in body["rows"]] == [(2, ["fid"], [])]
    assert "override=" not in body["detail_en"]
    assert (_count(c, SITES), demo.version("stall_sites")) == (n, version)


def test_blank_cells_of_a_new_row_take_the_declared_defaults(demo, tmp_path):
    """Found by a planner testing imports: a new stall site whose goods, hours and status cells were
    empty was refused with an opening-hours message (empty hours read as all day), and with an
    override stored them empty. A blank cell of a new row is a value not given: the field's
    default, as an API create without the field gives (a CSV through the API, an XLSX through the
    command line)."""
    c = demo.client
    one = c.get(f"{SITES}/items/1").json()
    assert c.delete(f"{SITES}/items/1").status_code == 204  # room for the new site on its spot
    wkt = shapely.geometry.shape(one["geometry"]).wkt
    p = one["properties"]
    csv = (
        f'名称,所属区,摊位数,经营品类,开放时段,状态,wkt\n新摊区,{p["district"]},{p["capacity"]},,,,"{wkt}"\n'
    )
    r = _import(c, SITES, "s.csv", csv.encode(), mode="append")
    assert r.status_code == 201, r.text[:800]
    props = _named(c, SITES, "新摊区")
    assert (props["goods"], props["hours"], props["status"]) == ("果蔬", "06:00-20:00", "open")
    # an XLSX's empty cells alike
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["名称", "所属区", "摊位数", "经营品类", "开放时段", "状态", "wkt"])
    moved = shapely.affinity.translate(shapely.geometry.shape(one["geometry"]), yoff=0.002)
    sheet.append(["另一摊区", p["district"], p["capacity"], None, None, None, moved.wkt])
    book.save(tmp_path / "s.xlsx")
    assert _cli(demo, "import", "stall_sites", str(tmp_path / "s.xlsx")) == 0
    other = _named(c, SITES, "另一摊区")
    assert (other["goods"], other["hours"], other["status"]) == ("果蔬", "06:00-20:00", "open")


def test_a_cleared_cell_of_a_kept_feature_empties_it_and_an_unchanged_export_stays_unchanged(demo):
    """In a replacing file a blank cell of a feature the file keeps is that (optional) field emptied,
    as a clerk clearing it in Excel means, and as the export writes an empty value: the same file
    imported again changes nothing."""
    c = demo.client
    table = pd.read_csv(io.BytesIO(_export(c, SITES)))
    table.loc[table["fid"] == 2, "goods"] = None
    r = _import(c, SITES, "s.csv", table.to_csv(index=False).encode(), mode="replace")
    assert r.status_code == 201, r.text[:800]
    assert (r.json()["updated"], r.json()["created"], r.json()["deleted"]) == (1, 0, 0)
    assert c.get(f"{SITES}/items/2").json()["properties"]["goods"] is None
    # its export has the cell empty; imported back it stays empty and nothing is written
    version = demo.version("stall_sites")
    again = _import(c, SITES, "s.csv", _export(c, SITES), mode="replace")
    assert again.status_code == 201, again.text[:800]
    assert again.json()["updated"] == 0
    assert c.get(f"{SITES}/items/2").json()["properties"]["goods"] is None
    assert demo.version("stall_sites") == version
    # an emptied 开放时段 is open all day: the opening-hours rule's to judge (not a default put in)
    table = pd.read_csv(io.BytesIO(_export(c, SITES)))
    table.loc[table["fid"] == 3, "hours"] = None
    body = _problem(_import(c, SITES, "s.csv", table.to_csv(index=False).encode(), mode="replace"))
    assert [(row["row"], row["rules"]) for row in body["rows"]] == [(4, ["opening-hours"])]
    assert demo.version("stall_sites") == version


def _bad_festival_rows(c) -> list[dict]:
    """Festival point 1 as a new row under Chinese headers, then three rows each wrong in one way."""
    f = c.get(f"{FESTIVAL}/items/1").json()
    p = f["properties"]
    lon, lat = f["geometry"]["coordinates"]
    headers = ["名称", "所属区", "经度", "纬度", "开放时段", "开始日期(公历)", "结束日期(公历)"]
    values = [p["name"] + "二", p["district"], lon, lat, p["hours"], p["valid_from"], p["valid_to"]]
    good = dict(zip(headers, values, strict=True))
    return [
        good,
        {**good, "名称": "时段错", "开放时段": "全天"},
        {**good, "名称": "日期错", "开始日期(公历)": "2027年1月32日"},
        {**good, "名称": "没有坐标", "经度": None, "纬度": None},
    ]


def _xlsx(rows: list[dict], *, above: list[list] = ()) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for line in above:
        sheet.append(line)
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_every_failing_row_is_named_at_once_as_the_spreadsheet_numbers_it(own_demo_client, tmp_path, capsys):
    """Found by a planner testing imports: an XLSX whose row 5 had no coordinates was answered with
    that alone ("第 5 行「经度」列为空", counting the header) and no rows; without it, the bad hours and
    date were rows 2 and 3 (not counting it). Every failing row is named in one answer, numbered
    as Excel shows it (header row 1), in XLSX and CSV alike, a title row above the header and an
    empty line counted too; a GeoJSON's and a GeoPackage's features by their place in the file."""
    c = own_demo_client
    rows = _bad_festival_rows(c)
    n = _count(c, FESTIVAL)

    def refused(name: str, data: bytes) -> dict:
        body = _problem(_import(c, FESTIVAL, name, data, mode="append"))
        assert _count(c, FESTIVAL) == n
        return body

    body = refused("f.xlsx", _xlsx(rows))
    assert [(row["row"], row["fields"]) for row in body["rows"]] == [
        (3, ["hours"]),
        (4, ["valid_from"]),
        (5, ["geometry"]),
    ]
    assert "第 3、4、5 行" in body["detail_zh"]
    assert "rows 3, 4, 5" in body["detail_en"]
    assert "「经度」列为空" in body["rows"][2]["errors"][0]["detail_zh"]
    assert "「纬度」列为空" in body["rows"][2]["errors"][0]["detail_zh"]
    assert "2027年1月32日" in body["rows"][1]["errors"][0]["detail_zh"]
    # the form hours take, whole (the declaration's hint was cut at its comma)
    assert "07:00-11:00,15:00-22:00" in body["rows"][0]["errors"][0]["detail_zh"]
    assert "07:00-11:00,15:00-22:00" in body["rows"][0]["errors"][0]["detail_en"]
    # without the row that has no coordinates, the others keep their numbers
    body = refused("f.xlsx", _xlsx(rows[:3]))
    assert [row["row"] for row in body["rows"]] == [3, 4]
    # a title row above the header moves every row down one, as Excel shows them
    body = refused("f.xlsx", _xlsx(rows, above=[["中站区春节年货临时销售点（示例）"]]))
    assert [row["row"] for row in body["rows"]] == [4, 5, 6]
    # a CSV: the same numbers; an empty line keeps its number
    table = pd.DataFrame(rows)
    body = refused("f.csv", table.to_csv(index=False).encode())
    assert [row["row"] for row in body["rows"]] == [3, 4, 5]
    lines = table.to_csv(index=False).splitlines()
    body = refused("f.csv", "\n".join([*lines[:2], "", *lines[2:]]).encode())
    assert [row["row"] for row in body["rows"]] == [4, 5, 6]
    # the command line lists every row the same way
    path = tmp_path / "f.xlsx"
    path.write_bytes(_xlsx(rows))
    from geo_service.cli import main

    workspace = c.app.state.settings.workspace
    assert main(["import", "festival_sales_points", str(path), "--workspace", str(workspace)]) == 2
    err = capsys.readouterr().err
    for line in ("第 3 行 / row 3", "第 4 行 / row 4", "第 5 行 / row 5"):
        assert line in err

    # GeoJSON and GeoPackage: features by their place in the file (the first is 1)
    frame = gpd.GeoDataFrame(
        table.drop(columns=["经度", "纬度"]),
        geometry=[
            None if pd.isna(x) else shapely.Point(x, y)
            for x, y in zip(table["经度"], table["纬度"], strict=True)
        ],
        crs=4326,
    )
    body = refused("f.geojson", frame.to_json().encode())
    assert [(row["row"], row["feature"]) for row in body["rows"]] == [
        (2, "feature 2"),
        (3, "feature 3"),
        (4, "feature 4"),
    ]
    assert "第 2、3、4 个" in body["detail_zh"]
    assert "features 2, 3, 4" in body["detail_en"]
    gpkg = tmp_path / "f.gpkg"
    frame.to_file(gpkg, layer="festival_sales_points", driver="GPKG")
    body = refused("f.gpkg", gpkg.read_bytes())
    assert [row["row"] for row in body["rows"]] == [2, 3, 4]


def test_an_import_that_changes_nothing_writes_nothing(demo, tmp_path, capsys):
    """Found by a planner testing imports: a replacing import of a fresh export raised the layer's
    version each time (12 → 13 → 14) though nothing changed. It writes nothing now, as a PATCH
    that changes nothing: no version, no history; the export's guard still refuses a file that
    leaves out a feature added since."""
    c = demo.client
    exported = _export(c, FESTIVAL)
    version = demo.version("festival_sales_points")
    history = c.get(f"{FESTIVAL}/history", params={"limit": 5}).json()["changes"]
    for _ in range(2):
        r = _import(c, FESTIVAL, "f.csv", exported, mode="replace")
        assert r.status_code == 201, r.text[:400]
        assert {k: r.json()[k] for k in ("created", "updated", "deleted")} == {
            "created": 0,
            "updated": 0,
            "deleted": 0,
        }
        assert r.json()["unchanged"] == r.json()["imported"] == _count(c, FESTIVAL)
        assert r.json()["version"] == version == demo.version("festival_sales_points")
    assert c.get(f"{FESTIVAL}/history", params={"limit": 5}).json()["changes"] == history
    # from the command line too
    (tmp_path / "f.csv").write_bytes(exported)
    args = ("import", "festival_sales_points", str(tmp_path / "f.csv"), "--mode", "replace")
    assert _cli(demo, *args) == 0
    assert "新增 0，修改 0" in capsys.readouterr().out
    assert demo.version("festival_sales_points") == version
    # a point added after the export: the same file would delete it, and is refused
    point = c.get(f"{FESTIVAL}/items/1").json()
    point["properties"]["name"] = "新增销售点"
    assert (
        c.post(
            f"{FESTIVAL}/items", json={k: point[k] for k in ("type", "geometry", "properties")}
        ).status_code
        == 201
    )
    r = _import(c, FESTIVAL, "f.csv", exported, mode="replace")
    assert r.status_code == 409, r.text[:400]
    assert [a["op"] for a in r.json()["added"]] == ["create"]
    # a real change still writes
    table = pd.read_csv(io.BytesIO(_export(c, FESTIVAL)))
    table.loc[table["fid"] == 1, "capacity"] = 25
    r = _import(c, FESTIVAL, "f.csv", table.to_csv(index=False).encode(), mode="replace")
    assert r.status_code == 201, r.text[:400]
    assert r.json()["updated"] == 1
    assert r.json()["version"] == demo.version("festival_sales_points") > version + 1


def test_a_replacing_file_without_a_column_keeps_that_field_of_the_features_it_keeps(demo, tmp_path, capsys):
    """Found in a review: a clerk who deleted the capacity column from an export before importing it
    back with mode=replace emptied every point's capacity (as a PUT without it). The features the file
    keeps keep what it has no column for, and the answer says which fields; a new row without the
    column takes the field's default, as on create."""
    c = demo.client
    table = pd.read_csv(io.BytesIO(_export(c, FESTIVAL)))
    before = {
        f["id"]: f["properties"]
        for f in c.get(f"{FESTIVAL}/items", params={"limit": 1000}).json()["features"]
    }
    assert len({p["capacity"] for p in before.values()}) > 1  # the demo's points differ: a test that can fail
    edited = table.drop(columns=["capacity", "goods"])
    edited.loc[edited["fid"] == 1, "name"] = "增光北路实验小学北（改）"
    new = edited[edited["fid"] == 2].assign(fid=None, _version=None, name="新增销售点")
    body = pd.concat([edited, new]).to_csv(index=False).encode()

    r = _import(c, FESTIVAL, "f.csv", body, mode="replace")
    assert r.status_code == 201, r.text[:600]
    done = r.json()
    assert (done["created"], done["updated"], done["deleted"]) == (1, 1, 0)
    assert sorted(done["kept_fields"]) == ["capacity", "goods"]
    assert "capacity" in done["notices"][0]
    assert "保留" in done["notices"][0]
    after = {
        f["id"]: f["properties"]
        for f in c.get(f"{FESTIVAL}/items", params={"limit": 1000}).json()["features"]
    }
    for fid, props in before.items():
        assert (after[fid]["capacity"], after[fid]["goods"]) == (props["capacity"], props["goods"])
    assert after[1]["name"] == "增光北路实验小学北（改）"
    added = _named(c, FESTIVAL, "新增销售点")
    spec = c.app.state.workspace.catalog["festival_sales_points"]  # type: ignore[attr-defined]
    defaults = {f.name: f.default for f in spec.fields}
    assert (added["capacity"], added["goods"]) == (defaults["capacity"], defaults["goods"])

    # the command line keeps them too, and says so
    table = pd.read_csv(io.BytesIO(_export(c, FESTIVAL)))
    path = tmp_path / "f.csv"
    path.write_bytes(
        table.drop(columns=["capacity"]).assign(name=table["name"] + "·").to_csv(index=False).encode()
    )
    assert _cli(demo, "import", "festival_sales_points", str(path), "--mode", "replace") == 0
    assert "capacity" in capsys.readouterr().out
    again = {
        f["id"]: f["properties"]
        for f in c.get(f"{FESTIVAL}/items", params={"limit": 1000}).json()["features"]
    }
    assert {fid: p["capacity"] for fid, p in again.items()} == {
        fid: p["capacity"] for fid, p in after.items()
    }


def test_an_export_without_its_own_columns_appended_again_is_refused_at_the_features_places(demo):
    """Found in a review: an export whose _version and _exported_at columns were both deleted, appended,
    made second copies of the features it names (only a row identical to its feature was refused). A
    row whose fid is a feature of the layer at that feature's place is refused as a copy; a row of
    another file, numbered from 1 but elsewhere, is a new feature."""
    c = demo.client
    table = pd.read_csv(io.BytesIO(_export(c, FESTIVAL))).drop(columns=["_version", "_exported_at"])
    one = table[table["fid"] == 1].assign(capacity=25)
    n, version = _count(c, FESTIVAL), demo.version("festival_sales_points")
    body = _problem(_import(c, FESTIVAL, "f.csv", one.to_csv(index=False).encode(), mode="append"))
    assert [(row["row"], row["fields"]) for row in body["rows"]] == [(2, ["fid"])]
    assert "fid 1" in body["detail_zh"]
    assert "mode=replace" in body["detail_en"]
    assert (_count(c, FESTIVAL), demo.version("festival_sales_points")) == (n, version)
    assert c.get(f"{FESTIVAL}/items/1").json()["properties"]["capacity"] == 19

    # the same id elsewhere (another file's numbering): a new feature
    if "lon" in one.columns:
        moved = one.assign(lon=one["lon"] + 0.003, name="别处的销售点")
    else:
        shifted = [shapely.affinity.translate(shapely.from_wkt(w), 0.003) for w in one["wkt"]]
        moved = one.assign(wkt=shapely.to_wkt(shifted), name="别处的销售点")
    r = _import(c, FESTIVAL, "f.csv", moved.to_csv(index=False).encode(), mode="append")
    assert r.status_code == 201, r.text[:600]
    assert (r.json()["created"], _count(c, FESTIVAL)) == (1, n + 1)
