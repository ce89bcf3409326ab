"""A 12345 table imported into the incidents layer (``POST /collections/incidents/import``, ``geo-service
import incidents FILE``): its dates as Chinese spreadsheets write them, read as the dispatch upload reads
them (one parser, :mod:`geo_service.timetext`, for every layer's dates and times); no 来源 column, or an
empty 来源 cell, is 12345 as in the dispatch upload; ambiguous dates and numbers refused, saying which
forms are taken, in Chinese and English, nothing stored."""

from __future__ import annotations

import datetime as dt
import io
import shutil

import pytest

from geo_service.catalog import load_catalog
from geo_service.errors import InvalidInput
from geo_service.settings import default_layers_dir

TZ = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 12, 1, 21, 0, tzinfo=TZ)
FORMS = [
    "2026/12/01 21:00",
    "2026年12月1日 21:00",
    "2026/12/1 下午9:00",
    "２０２６／１２／０１　２１：００",  # full-width, as some input methods type it
    "2026年12月1日21时",
]


def _count(client) -> int:
    return client.get("/collections/incidents/items", params={"limit": 1}).json()["numberMatched"]


def _import(client, name: str, data: bytes):
    return client.post("/collections/incidents/import", files={"file": (name, data)})


def _described(client, text: str) -> list[dict]:
    """The properties of the stored cases with this description."""
    items = client.get("/collections/incidents/items", params={"description": text}).json()
    return [f["properties"] for f in items["features"]]


def test_a_12345_table_with_chinese_dates_and_no_source_column_is_imported(own_demo_client):
    c = own_demo_client
    stored = _count(c)
    csv = "经度,纬度,案件类别,受理时间,诉求内容\n" + "".join(
        f"113.2,35.25,噪声扰民,{t},塔北路高音喇叭\n" for t in FORMS
    )
    r = _import(c, "12345.csv", csv.encode())
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == len(FORMS)
    assert _count(c) == stored + len(FORMS)
    mine = _described(c, "塔北路高音喇叭")
    assert len(mine) == len(FORMS)
    assert {p["source"] for p in mine} == {"12345"}  # the dispatch upload's default
    assert {dt.datetime.fromisoformat(p["reported_at"]) for p in mine} == {AT}


def test_an_empty_source_cell_is_12345_and_a_given_one_is_kept(own_demo_client):
    c = own_demo_client
    csv = "经度,纬度,类别,上报时间,来源,描述\n113.2,35.25,噪声扰民,2026/12/1 21:00,,空来源\n" + (
        "113.2,35.25,噪声扰民,2026/12/1 21:00,patrol,巡查\n"
    )
    r = _import(c, "cases.csv", csv.encode())
    assert r.status_code == 201, r.text
    assert [p["source"] for p in _described(c, "空来源")] == ["12345"]
    assert [p["source"] for p in _described(c, "巡查")] == ["patrol"]


def test_an_xlsx_12345_table_with_typed_and_real_dates_is_imported(own_demo_client):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["经度", "纬度", "类别", "受理时间"])
    sheet.append([113.2, 35.25, "噪声扰民", "2026年12月1日 21:00"])
    sheet.append([113.2, 35.25, "噪声扰民", dt.datetime(2026, 12, 1, 21, 0)])  # a real date cell
    out = io.BytesIO()
    book.save(out)
    r = _import(own_demo_client, "12345.xlsx", out.getvalue())
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 2


@pytest.mark.parametrize(
    ("cell", "zh", "en"),
    [
        ("12/01/2026 21:00", "年月日顺序不明确", "ambiguous"),
        ("01/12/26", "年月日顺序不明确", "ambiguous"),
        ("46357", "是一个数字，不是日期时间", "is a number, not a date and time"),
        ("下周一", "无法识别", "not understood"),
    ],
)
def test_ambiguous_dates_and_numbers_are_refused_with_the_forms_taken(own_demo_client, cell, zh, en):
    c = own_demo_client
    stored = _count(c)
    csv = f"经度,纬度,类别,上报时间\n113.2,35.25,噪声扰民,2026/12/1 21:00\n113.2,35.25,噪声扰民,{cell}\n"
    r = _import(c, "cases.csv", csv.encode())
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["field"] == "reported_at"
    assert zh in body["detail_zh"]
    assert en in body["detail_en"]
    assert "2026年12月1日 21:00" in body["detail_zh"]  # the forms taken, in both languages
    assert "2026/12/1 21:00" in body["detail_en"]
    assert _count(c) == stored


def test_every_layer_reads_the_same_forms_and_refuses_the_same():
    """The catalog's date and datetime fields take the intake forms (a stall site's 启用日期 typed
    2026年12月1日), and refuse ambiguous ones and numbers, naming the field and the forms taken."""
    catalog = load_catalog(default_layers_dir())
    when = catalog["incidents"].field("reported_at")
    assert {when.coerce(t, layer="incidents") for t in FORMS} == {AT}
    day = catalog["stall_sites"].field("valid_from")
    for text in ("2026年12月1日", "2026/12/1", "２０２６－１２－０１", "2026-12-01", "20261201", 20261201):
        assert day.coerce(text, layer="stall_sites") == dt.date(2026, 12, 1)
    assert when.coerce(20261201, layer="incidents") == dt.datetime(2026, 12, 1, tzinfo=TZ)
    for value in ("20261301", 20261301, "20260230", 20260230.0):  # eight digits that are no day
        with pytest.raises(InvalidInput) as e:
            day.coerce(value, layer="stall_sites")
        assert "is not a valid date" in e.value.en
        assert "不是有效的日期" in e.value.zh
    for field, layer, value in (
        (when, "incidents", "12/01/2026"),
        (when, "incidents", 46357),
        (when, "incidents", 46357.875),
        (day, "stall_sites", "01/12/2026"),
        (day, "stall_sites", 46357),
        (day, "stall_sites", 20261201.5),
    ):
        with pytest.raises(InvalidInput) as e:
            field.coerce(value, layer=layer)
        assert e.value.field == field.name
        assert f"({field.name})" in e.value.zh
        assert "2026年12月1日" in e.value.zh
        assert "2026/12/1" in e.value.en


def test_the_cli_imports_a_12345_table(demo_gpkg, tmp_path, capsys):
    from geo_service.cli import main

    path = tmp_path / "jiaozuo.gpkg"
    shutil.copy(demo_gpkg, path)
    table = tmp_path / "12345.csv"
    table.write_text(
        "经度,纬度,案件类别,受理时间\n113.2,35.25,噪声扰民,2026年12月1日 21:00\n"
        "113.2,35.25,油烟污染,2026/12/01 下午9:00\n",
        encoding="utf-8",
    )
    assert main(["import", "incidents", str(table), "--workspace", str(path)]) == 0
    assert "已导入 2 行到 incidents：新增 2" in capsys.readouterr().out
    # a write from the command line is in the audit log, as the service's are (helper-38)
    from geo_service.auth.accounts import AccountStore, account_url

    accounts = AccountStore(account_url(str(path), None))
    try:
        [entry] = [e for e in accounts.audit_log(limit=5) if e.method == "CLI"]
    finally:
        accounts.close()
    assert entry.path == "geo-service import incidents --mode append"
    assert entry.actor.startswith("cli:")
    assert entry.detail is not None
    assert (entry.detail["file"], entry.detail["created"]) == ("12345.csv", 2)
    table.write_text("经度,纬度,案件类别,受理时间\n113.2,35.25,噪声扰民,12/01/2026 21:00\n", encoding="utf-8")
    assert main(["import", "incidents", str(table), "--workspace", str(path)]) != 0
    err = capsys.readouterr().err
    assert "年月日顺序不明确" in err
    assert "ambiguous" in err
