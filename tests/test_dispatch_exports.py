"""12345 case exports as dispatchers upload them: X/Y coordinate headers (in degrees, or in metres with
the CRS they are in), the report time in a date column and a time column, semicolon-separated CSV;
a JSON boolean as report time; a case the store refuses is answered as refused."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
import shapely

from geo_service.crs import to_metric
from tests.test_dispatch_intake import _count, _saved_time, _upload

TZ = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 12, 1, 21, 0, tzinfo=TZ)
LON, LAT = 113.2, 35.25


def _csv(rows, sep: str = ",") -> bytes:
    return "\n".join(sep.join("" if v is None else str(v) for v in row) for row in rows).encode("utf-8")


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _where(client) -> tuple[str, str]:
    """The beat and squad of the reference place at AT, as 经度/纬度 give it."""
    table = [["经度", "纬度", "案件类别", "受理时间"], [LON, LAT, "噪声扰民", "2026/12/1 21:00"]]
    [a] = _upload(client, "cases.csv", _csv(table)).json()["assignments"]
    assert a["ok"], a
    return a["beat"], a["squad"]


@pytest.mark.parametrize(
    ("x", "y"), [("X坐标", "Y坐标"), ("x坐标", "y坐标"), ("横坐标", "纵坐标"), ("POINT_X", "POINT_Y")]
)
def test_x_and_y_headers_in_degrees_are_longitude_and_latitude(own_demo_client, x, y):
    """A 数字城管 export names its columns X坐标/Y坐标 (ArcGIS: POINT_X/POINT_Y): the file was refused
    whole as having no coordinate columns. In degrees X is the longitude and Y the latitude."""
    c = own_demo_client
    expected = _where(c)
    table = [[x, y, "案件类别", "受理时间"], [LON, LAT, "噪声扰民", "2026/12/1 21:00"]]
    for name, data in (("cases.csv", _csv(table)), ("cases.xlsx", _xlsx(table))):
        r = _upload(c, name, data)
        assert r.status_code == 200, (name, r.text)
        [a] = r.json()["assignments"]
        assert a["ok"], (name, a)
        assert (a["beat"], a["squad"]) == expected, name


def test_x_and_y_in_metres_are_read_in_the_crs_given_and_refused_without_one(own_demo_client):
    """X/Y in projected metres (CGCS2000 Gauss–Krüger, as a surveyed export writes them) are read in
    the CRS the upload names (crs=EPSG:4547). Without one they are not guessed (a city grid, a zone
    prefix or a swapped X/Y would put a case somewhere else without a word): the file is refused,
    saying in Chinese and English that the values look like metres and how to name their CRS."""
    c = own_demo_client
    expected = _where(c)
    stored = _count(c)
    [(x, y)] = shapely.get_coordinates(to_metric(np.array([shapely.Point(LON, LAT)]), "EPSG:4547"))
    table = [
        ["X坐标", "Y坐标", "案件类别", "受理时间"],
        [round(x, 2), round(y, 2), "噪声扰民", "2026/12/1 21:00"],
    ]
    for name, data in (("cases.csv", _csv(table)), ("cases.xlsx", _xlsx(table))):
        r = _upload(c, name, data, crs="EPSG:4547")
        assert r.status_code == 200, (name, r.text)
        [a] = r.json()["assignments"]
        assert a["ok"], (name, a)
        assert (a["beat"], a["squad"]) == expected, name
        r = _upload(c, name, data, save="true")
        assert r.status_code == 400, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["field"] == "crs"
        assert "米" in body["detail_zh"]
        assert "EPSG:4547" in body["detail_zh"]
        assert "X坐标" in body["detail_zh"]
        assert "metres" in body["detail_en"]
        assert "EPSG:4547" in body["detail_en"]
        assert str(round(x, 2)) in body["detail_en"]
    # one mistyped row among places in degrees is that row's error, not a reason to refuse the file
    mixed = [
        *table[:1],
        [LON, LAT, "噪声扰民", "2026/12/1 21:00"],
        [round(x, 2), LAT, "噪声扰民", "2026/12/1 21:00"],
    ]
    r = _upload(c, "cases.csv", _csv(mixed))
    assert r.status_code == 200, r.text
    good, bad = r.json()["assignments"]
    assert good["ok"]
    assert bad["error"]["code"] == "bad-location"
    assert _count(c) == stored


@pytest.mark.parametrize(
    ("day", "clock"),
    [("受理日期", "受理时刻"), ("来电日期", "来电时间"), ("上报日期", "上报时间"), ("受理日期", "受理时间")],
)
def test_a_date_column_and_a_time_column_are_the_report_time(own_demo_client, day, clock):
    """A 12345 export may give the day and the time of day in two columns (受理日期 + 受理时刻): the
    file was refused for want of a report-time column, or (来电时间 holding 21:00 alone) each row's
    time was refused as not understood. The two are read together as the case's report time, in
    CSV and XLSX (real date and time cells too); a bad part is that row's error, naming both."""
    c = own_demo_client
    header = ["经度", "纬度", "案件类别", day, clock]
    rows = [
        [LON, LAT, "噪声扰民", "2026/12/1", "21:00"],
        [LON, LAT, "噪声扰民", "2026年12月1日", "下午9:00"],
        [LON, LAT, "噪声扰民", "20261201", "21:00:00"],
        [LON, LAT, "噪声扰民", "2026-12-01", "25:00"],  # no such time of day
        [LON, LAT, "噪声扰民", "2026/12/1", None],  # no time of day: the day's start, as 2026/12/1 alone
        [LON, LAT, "噪声扰民", None, None],  # nothing: the time the file came in
    ]
    r = _upload(c, "cases.csv", _csv([header, *rows]), save="true")
    assert r.status_code == 200, r.text
    a = {x["row"]: x for x in r.json()["assignments"]}
    for row in (2, 3, 4):
        assert a[row]["ok"], a[row]
        assert _saved_time(c, a[row]) == AT
    assert a[5]["error"]["code"] == "bad-time"
    assert "2026-12-01 25:00" in a[5]["error"]["detail_zh"]
    assert "not a valid date or time of day" in a[5]["error"]["detail_en"]
    assert _saved_time(c, a[6]) == AT.replace(hour=0)
    assert a[7]["ok"]
    assert a[7]["reasons"][0].startswith("未填上报时间")
    book = _xlsx(
        [
            header,
            [LON, LAT, "噪声扰民", dt.datetime(2026, 12, 1), dt.time(21, 0)],  # real date and time cells
            [LON, LAT, "噪声扰民", dt.date(2026, 12, 1), "21:00"],
        ]
    )
    r = _upload(c, "cases.xlsx", book, save="true")
    assert r.status_code == 200, r.text
    for answer in r.json()["assignments"]:
        assert answer["ok"], answer
        assert _saved_time(c, answer) == AT


def test_a_date_column_alone_is_no_report_time_and_the_refusal_names_the_pairs(own_demo_client):
    table = [["经度", "纬度", "案件类别", "受理日期"], [LON, LAT, "噪声扰民", "2026/12/1"]]
    r = _upload(own_demo_client, "cases.csv", _csv(table))
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["field"] == "reported_at"
    assert "日期、时刻分两列（如 受理日期、受理时刻）" in body["detail_zh"]
    assert "a date column and a time column" in body["detail_en"]


def test_a_full_time_beside_a_date_column_is_taken_as_it_is(own_demo_client):
    """来电时间 holding the whole date and time beside 来电日期 is read as before."""
    c = own_demo_client
    table = [
        ["经度", "纬度", "案件类别", "来电日期", "来电时间"],
        [LON, LAT, "噪声扰民", "2026/12/1", "2026/12/1 21:00"],
    ]
    [a] = _upload(c, "cases.csv", _csv(table), save="true").json()["assignments"]
    assert a["ok"], a
    assert _saved_time(c, a) == AT


@pytest.mark.parametrize(
    "rows",
    [
        [["经度", "纬度", "案件类别", "受理时间"], [LON, LAT, "噪声扰民", "2026/12/1 21:00"]],
        # Excel in a locale whose decimal mark is a comma writes the numbers with one
        [["经度", "纬度", "案件类别", "受理时间"], ["113,2", "35,25", "噪声扰民", "2026/12/1 21:00"]],
        [
            ["焦作市12345热线工单导出", None, None, None],
            ["经度", "纬度", "案件类别", "受理时间"],
            [LON, LAT, "噪声扰民", "2026/12/1 21:00"],
        ],
    ],
)
def test_a_semicolon_separated_csv_is_read(own_demo_client, rows):
    """Excel in some locales saves CSV with semicolons: the file was refused as having no coordinate
    columns ("columns found: 经度;纬度;案件类别;受理时间")."""
    c = own_demo_client
    expected = _where(c)
    r = _upload(c, "cases.csv", _csv(rows, sep=";"), save="true")
    assert r.status_code == 200, r.text
    [a] = r.json()["assignments"]
    assert a["ok"], a
    assert a["row"] == len(rows)
    assert (a["beat"], a["squad"]) == expected
    assert _saved_time(c, a) == AT


def test_a_comma_separated_csv_with_semicolons_in_a_cell_stays_comma_separated(own_demo_client):
    c = own_demo_client
    table = [
        ["经度", "纬度", "案件类别", "受理时间", "诉求内容"],
        [LON, LAT, "噪声扰民", "2026/12/1 21:00", "喇叭;音箱;夜里"],
    ]
    [a] = _upload(c, "cases.csv", _csv(table), save="true").json()["assignments"]
    assert a["ok"], a
    props = c.get(f"/collections/incidents/items/{a['incident_id']}").json()["properties"]
    assert props["description"] == "喇叭;音箱;夜里"


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_report_time_is_said_to_be_a_boolean(own_demo_client, value):
    """JSON true as reported_at was read by pydantic as the number 1 and refused as "report time '1'
    is a number"; it is said to be a true/false value, not a time. In an XLSX cell the same."""
    c = own_demo_client
    case = {"lon": LON, "lat": LAT, "category": "噪声扰民"}
    r = c.post("/dispatch/cases", json={"cases": [{**case, "reported_at": value}, case]})
    assert r.status_code == 200, r.text
    bad, fine = r.json()["assignments"]
    assert fine["ok"]
    assert bad["error"]["code"] == "bad-time"
    word = "true" if value else "false"
    assert f"上报时间「{word}」是布尔值（真/假），不是日期时间" in bad["error"]["detail_zh"]
    assert f"report time '{word}' is a boolean (true/false), not a date and time" in bad["error"]["detail_en"]
    assert "'1'" not in bad["error"]["detail_en"]
    assert "number" not in bad["error"]["detail_en"]
    assert "2026/12/1 21:00" in bad["error"]["detail_en"]
    book = _xlsx([["经度", "纬度", "类别", "上报时间"], [LON, LAT, "噪声扰民", value]])
    [a] = _upload(c, "cases.xlsx", book).json()["assignments"]
    assert a["error"]["code"] == "bad-time", a
    assert "is a boolean" in a["error"]["detail_en"]


def test_a_case_the_store_refuses_is_answered_as_refused(own_demo_client):
    """A case whose source the incidents layer does not take was answered ok: true with a 'not saved'
    error inside it, and counted as neither failed nor done. It is ok: false, its error says why it
    was not stored (in a JSON batch as in an upload, a batch of one too: a batch's cases are answered
    one by one, as a bad time is), the batch counts it as failed, and nothing of it is stored."""
    c = own_demo_client
    stored = _count(c)
    at = "2026-12-01T21:00:00+08:00"
    case = {"lon": LON, "lat": LAT, "category": "噪声扰民", "reported_at": at}
    r = c.post("/dispatch/cases", json={"save": True, "cases": [{**case, "source": "微信"}, case]})
    assert r.status_code == 200, r.text
    body = r.json()
    refused, fine = body["assignments"]
    assert refused["ok"] is False
    assert refused["incident_id"] is None
    assert refused["error"]["code"] == "not-saved"
    assert refused["error"]["codes"] == ["not-saved"]
    assert refused["error"]["field"] == "source"
    assert refused["error"]["detail_zh"].startswith("第 1 个案件未保存：")
    assert "微信" in refused["error"]["detail_zh"]
    assert refused["error"]["detail_en"].startswith("Case 1 not saved: ")
    assert fine["ok"]
    assert fine["incident_id"] is not None
    assert (body["failed"], body["not_saved"]) == (1, 1)
    [alone] = c.post("/dispatch/cases", json={"save": True, "cases": [{**case, "source": "微信"}]}).json()[
        "assignments"
    ]
    assert alone["ok"] is False
    assert alone["error"]["code"] == "not-saved"
    table = [
        ["经度", "纬度", "案件类别", "受理时间", "案件来源"],
        [LON, LAT, "噪声扰民", "2026/12/1 21:00", "微信"],
    ]
    r = _upload(c, "cases.csv", _csv(table), save="true")
    [row] = r.json()["assignments"]
    assert row["ok"] is False
    assert row["error"]["detail_en"].startswith("Row 2 not saved: ")
    assert r.json()["failed"] == 1
    assert _count(c) == stored + 1
    # a trial run says what saving would refuse (it said ok, and only the saving run refused)
    trial = c.post("/dispatch/cases", json={"cases": [{**case, "source": "微信"}, case]}).json()
    would, fine = trial["assignments"]
    assert would["ok"] is False
    assert fine["ok"] is True
    assert would["error"]["code"] == "not-saved"
    assert would["error"]["field"] == "source"
    assert would["error"]["detail_zh"].startswith("第 1 个案件保存时会被拒绝：")
    assert would["error"]["detail_en"].startswith("Case 1 would not be saved: ")
    assert (trial["failed"], trial["not_saved"]) == (1, 1)
    [row] = _upload(c, "cases.csv", _csv(table)).json()["assignments"]
    assert row["error"]["detail_en"].startswith("Row 2 would not be saved: ")
    assert _count(c) == stored + 1
