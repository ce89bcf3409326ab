"""12345 case intake over HTTP: report times as Chinese spreadsheets write them, a bad row (or case)
answered on its own with its spreadsheet row, the headers 12345 exports use, categories with spaces
around them; a file that is no case table at all is still refused whole, and nothing refused is stored."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
import shapely

from geo_service.assignment.intake import parse_case_time
from geo_service.errors import InvalidInput

TZ = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 12, 1, 21, 0, tzinfo=TZ)


def _count(client) -> int:
    return client.get("/collections/incidents/items", params={"limit": 1}).json()["numberMatched"]


def _upload(client, name: str, data: bytes, **form):
    return client.post("/dispatch/cases/upload", files={"file": (name, data)}, data=form)


def _saved_time(client, answer) -> dt.datetime:
    props = client.get(f"/collections/incidents/items/{answer['incident_id']}").json()["properties"]
    return dt.datetime.fromisoformat(props["reported_at"])


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026/12/01 21:00", AT),
        ("2026/12/1 21:00", AT),
        ("2026年12月1日 21:00", AT),
        ("2026年12月1日21时", AT),
        ("2026年12月1日 21点00分", AT),
        ("2026-12-1 21:00", AT),
        ("2026.12.01 21:00:00", AT),
        ("２０２６／１２／０１　２１：００", AT),  # full-width, as some input methods type it
        ("2026/12/1 下午9:00", AT),
        ("2026-12-01T13:00:00Z", AT),
        ("2026-12-01T21:00", AT),
        ("2026/12/1", AT.replace(hour=0)),
        ("2026-12-1 9:05", AT.replace(hour=9, minute=5)),
    ],
)
def test_unambiguous_chinese_and_iso_times_are_read_as_beijing_time(text, expected):
    assert parse_case_time(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("12/01/2026 21:00", "ambiguous"),
        ("01/12/2026", "ambiguous"),
        ("26/12/01", "ambiguous"),
        ("明天上午", "not understood"),
        ("2026/13/01", "not a valid date"),
        ("2026/2/30 10:00", "not a valid date"),
        ("2026-12/01", "not understood"),
        ("1800-01-01T00:00:00", "outside the years supported"),
    ],
)
def test_ambiguous_or_garbage_times_are_refused_saying_why(text, needle):
    with pytest.raises(InvalidInput) as e:
        parse_case_time(text)
    assert needle in e.value.en
    assert "上报时间" in e.value.zh
    assert e.value.field == "reported_at"


def test_uploads_take_chinese_date_forms_and_real_excel_times(own_demo_client):
    """The forms the tester's sheets used (Excel/WPS display, 年月日, single-digit months and hours),
    in CSV and XLSX, are dispatched and stored as Beijing time; a real Excel date-time cell still is."""
    c = own_demo_client
    texts = ["2026/12/01 21:00", "2026年12月1日 21:00", "2026-12-1 21:00", "２０２６/１２/１ ２１:００"]
    csv = "经度,纬度,类别,上报时间\n" + "".join(f"113.2,35.25,噪声扰民,{t}\n" for t in texts)
    r = _upload(c, "cases.csv", csv.encode(), save="true")
    assert r.status_code == 200, r.text
    answers = r.json()["assignments"]
    assert [a["ok"] for a in answers] == [True] * 4, answers
    assert [a["row"] for a in answers] == [2, 3, 4, 5]
    assert {_saved_time(c, a) for a in answers} == {AT}
    book = _xlsx(
        [
            ["经度", "纬度", "类别", "上报时间"],
            [113.2, 35.25, "噪声扰民", dt.datetime(2026, 12, 1, 21, 0)],  # a real date-time cell
            [113.2, 35.25, "噪声扰民", "2026/12/1 21:00"],  # text, as typed
            [113.2, 35.25, "噪声扰民", "2026/12/1 9:05"],
        ]
    )
    r = _upload(c, "cases.xlsx", book, save="true")
    assert r.status_code == 200, r.text
    cell, typed, morning = r.json()["assignments"]
    assert cell["ok"]
    assert typed["ok"]
    assert _saved_time(c, cell) == _saved_time(c, typed) == AT
    assert _saved_time(c, morning) == AT.replace(hour=9, minute=5)


def test_a_bad_row_costs_that_row_only(own_demo_client):
    """Each bad row of an upload is a per-case error naming its spreadsheet row (header = row 1) and
    what was wrong, in Chinese and English; the good rows are dispatched and, with save, stored alone.
    An empty time cell is the time the file came in, as for a JSON case without one, and says so."""
    c = own_demo_client
    stored = _count(c)
    csv = (
        "经度,纬度,类别,上报时间\n"
        "113.2,35.25,噪声扰民,2026/12/01 21:00\n"  # row 2: fine
        ",35.25,噪声扰民,2026/12/01 21:00\n"  # row 3: no longitude
        "113.2,北纬35度,噪声扰民,2026/12/01 21:00\n"  # row 4: latitude not a number
        "113.2,35.25,噪声扰民,\n"  # row 5: no time: now
        "113.2,35.25,噪声扰民,下周一\n"  # row 6: a time nobody can read
        "113.2,35.25,噪声扰民,12/01/2026 21:00\n"  # row 7: day and month ambiguous
        "113.2,35.25,噪声扰民,1800-01-01 00:00\n"  # row 8: outside the calendars
        ",,外星人,明天\n"  # row 9: everything wrong, said at once
        "113.2,35.25,\u3000噪声扰民 ,2026/12/01 21:00\n"  # row 10: spaces around the category
    )
    r = _upload(c, "cases.csv", csv.encode("utf-8"), save="true")
    assert r.status_code == 200, r.text
    body = r.json()
    a = {x["row"]: x for x in body["assignments"]}
    assert sorted(a) == list(range(2, 11))
    assert [row for row, x in a.items() if x["ok"]] == [2, 5, 10]
    assert body["failed"] == 6
    assert a[3]["error"]["code"] == "bad-location"
    assert a[3]["error"]["detail_zh"] == "第 3 行：「经度」列为空"
    assert a[3]["error"]["detail_en"] == "Row 3: column '经度' is empty"
    assert a[4]["error"]["detail_en"] == "Row 4: column '纬度': '北纬35度' is not a number"
    assert a[5]["reasons"][0].startswith("未填上报时间，按收到时间")
    assert "no report time given: taken as received" in a[5]["reasons"][0]
    assert a[6]["error"]["code"] == "bad-time"
    assert a[6]["error"]["detail_zh"].startswith("第 6 行：上报时间「下周一」无法识别")
    assert "2026/12/1 21:00" in a[6]["error"]["detail_en"]
    assert "ambiguous" in a[7]["error"]["detail_en"]
    assert "1901" in a[8]["error"]["detail_zh"]
    assert a[9]["error"]["codes"] == ["bad-location", "bad-time", "unknown-category"]
    assert a[9]["error"]["detail_zh"].startswith("第 9 行：「经度」列为空；「纬度」列为空；上报时间「明天」")
    assert "外星人" in a[9]["error"]["detail_en"]
    assert a[10]["category"] == "噪声扰民"
    saved = [x["incident_id"] for x in body["assignments"] if x["incident_id"] is not None]
    assert len(saved) == 3
    assert _count(c) == stored + 3
    props = c.get(f"/collections/incidents/items/{a[10]['incident_id']}").json()["properties"]
    assert props["category"] == "噪声扰民"
    received = _saved_time(c, a[5])
    assert abs(received - dt.datetime.now(TZ)) < dt.timedelta(minutes=5)


def test_xlsx_rows_are_numbered_as_the_sheet_shows_them(own_demo_client):
    """A title row above the header moves every row down one: the answers name the rows as Excel does."""
    book = _xlsx(
        [
            ["解放区 12345 案件 12 月"],
            ["经度", "纬度", "类别", "上报时间"],
            [113.2, 35.25, "噪声扰民", "2026/12/1 21:00"],
            [None, 35.25, "噪声扰民", "2026/12/1 21:00"],
        ]
    )
    r = _upload(own_demo_client, "cases.xlsx", book)
    assert r.status_code == 200, r.text
    good, bad = r.json()["assignments"]
    assert good["row"] == 3
    assert good["ok"]
    assert bad["row"] == 4
    assert bad["error"]["detail_en"] == "Row 4: column '经度' is empty"


def test_12345_export_headers_are_taken(own_demo_client):
    """Headers a 12345 export uses (案件类别, 受理时间, 诉求内容) mean category, reported_at, description."""
    c = own_demo_client
    for category, time in (("案件类别", "受理时间"), ("问题类别", "反映时间"), ("类别", "来电时间")):
        csv = f"经度,纬度,{category},{time},诉求内容\n113.2,35.25,噪声扰民,2026/12/1 21:00,塔北路高音喇叭\n"
        r = _upload(c, "cases.csv", csv.encode(), save="true")
        assert r.status_code == 200, (category, time, r.text)
        [a] = r.json()["assignments"]
        assert a["ok"]
        props = c.get(f"/collections/incidents/items/{a['incident_id']}").json()["properties"]
        assert props["description"] == "塔北路高音喇叭"
        assert dt.datetime.fromisoformat(props["reported_at"]) == AT
    # two time columns: the first alias the declaration lists wins, the other is left alone
    csv = "经度,纬度,类别,来电时间,受理时间\n113.2,35.25,噪声扰民,2026/12/1 20:00,2026/12/1 21:00\n"
    r = _upload(c, "cases.csv", csv.encode(), save="true")
    [a] = r.json()["assignments"]
    assert _saved_time(c, a) == AT


@pytest.mark.parametrize(
    ("header", "field", "zh", "accepted"),
    [
        ("经度,纬度,分类名,上报时间", "category", "类别", "案件类别"),
        ("经度,纬度,类别,时刻", "reported_at", "上报时间", "受理时间"),
    ],
)
def test_a_missing_column_is_named_in_both_languages_with_the_headers_taken(
    own_demo_client, header, field, zh, accepted
):
    c = own_demo_client
    stored = _count(c)
    csv = f"{header}\n113.2,35.25,噪声扰民,2026/12/1 21:00\n"
    r = _upload(c, "cases.csv", csv.encode(), save="true")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["field"] == field
    assert f"案件表缺少「{zh}」列（{field}）" in body["detail_zh"]
    assert accepted in body["detail_zh"]
    assert accepted in body["detail_en"]
    assert f"({field}, 「{zh}」)" in body["detail_en"]
    assert header.split(",")[2] in body["detail_zh"]  # the columns it has
    assert _count(c) == stored


def test_a_file_that_is_no_case_table_is_refused_whole(own_demo_client):
    c = own_demo_client
    stored = _count(c)
    for name, data in (
        (
            "cases.csv",
            "地址,类别,上报时间\n塔北路,噪声扰民,2026/12/1 21:00\n".encode(),
        ),  # no location columns
        ("cases.xlsx", b"PK\x03\x04 not really a workbook"),
        ("cases.pdf", b"%PDF-1.4"),
    ):
        r = _upload(c, name, data, save="true")
        assert 400 <= r.status_code < 500, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["detail_zh"]
        assert body["detail_en"]
    assert _count(c) == stored


def test_a_bad_time_in_a_json_batch_is_that_case_s_error(own_demo_client):
    """In a JSON batch a time before 1901 or one that cannot be read is a per-case error naming the case
    (as a bad location is); the Chinese forms are taken; the other cases are dispatched and stored."""
    c = own_demo_client
    stored = _count(c)
    case = {"lon": 113.2, "lat": 35.25, "category": "噪声扰民"}
    body = {
        "save": True,
        "cases": [
            {**case, "reported_at": "2026-12-01T21:00:00+08:00"},
            {**case, "reported_at": "1800-01-01T00:00:00"},
            {**case, "reported_at": "soon"},
            {**case, "reported_at": "2026年12月1日 21:00"},
            {**case, "category": "\u3000噪声扰民 ", "reported_at": "2026/12/01 21:00"},
            case,  # no time: now, and said so
        ],
    }
    r = c.post("/dispatch/cases", json=body)
    assert r.status_code == 200, r.text
    iso, old, soon, chinese, spaced, now = r.json()["assignments"]
    assert old["error"]["code"] == "bad-time"
    assert old["index"] == 1
    assert old["row"] is None
    assert old["error"]["detail_zh"].startswith("第 2 个案件：上报时间 1800-01-01 00:00 超出支持范围")
    assert old["error"]["detail_en"].startswith("Case 2: report time 1800-01-01 00:00 is outside")
    assert soon["error"]["code"] == "bad-time"
    assert soon["error"]["detail_en"].startswith("Case 3: report time 'soon' is not understood")
    assert old["incident_id"] is None
    assert soon["incident_id"] is None
    for a in (iso, chinese, spaced, now):
        assert a["ok"], a
    assert spaced["category"] == "噪声扰民"
    assert _saved_time(c, chinese) == _saved_time(c, spaced) == _saved_time(c, iso) == AT
    assert now["reasons"][0].startswith("未填上报时间")
    assert _count(c) == stored + 4


def test_the_12345_case_number_and_address_are_kept(own_demo_client):
    """A 12345 export carries each case's 工单编号 and 发生地址; they were dropped, so a stored case could
    not be matched back to its ticket, and the address the caller gave was lost."""
    c = own_demo_client
    body = {
        "save": True,
        "cases": [
            {
                "lon": 113.2,
                "lat": 35.25,
                "category": "噪声扰民",
                "reported_at": "2026-12-01T21:00",
                "case_no": "JZ20261201-0042",
                "address": "解放区民主南路与建设路交叉口东北角",
            }
        ],
    }
    [answer] = c.post("/dispatch/cases", json=body).json()["assignments"]
    props = c.get(f"/collections/incidents/items/{answer['incident_id']}").json()["properties"]
    assert (props["case_no"], props["address"]) == ("JZ20261201-0042", "解放区民主南路与建设路交叉口东北角")
    table = [
        ["工单编号", "经度", "纬度", "案件类别", "受理时间", "发生地址"],
        [20261201043, 113.21, 35.25, "油烟污染", "2026/12/01 20:00", "山阳区人民路 18 号"],
        ["JZ-44", 113.22, 35.25, "噪声扰民", "2026/12/01 22:00", None],
    ]
    for name, data in [("cases.xlsx", _xlsx(table)), ("cases.csv", _csv(table))]:
        r = _upload(c, name, data, save="true")
        assert r.status_code == 200, r.text
        first, second = r.json()["assignments"]
        p1 = c.get(f"/collections/incidents/items/{first['incident_id']}").json()["properties"]
        p2 = c.get(f"/collections/incidents/items/{second['incident_id']}").json()["properties"]
        assert (p1["case_no"], p1["address"]) == ("20261201043", "山阳区人民路 18 号"), name
        assert (p2["case_no"], p2["address"]) == ("JZ-44", None), name


def _csv(rows) -> bytes:
    return "\n".join(",".join("" if v is None else str(v) for v in row) for row in rows).encode("utf-8")


def test_an_escalated_case_is_saved_as_escalated(own_demo_client):
    """helper-33: a case no beat holds was answered 'escalated to 市值班室' but stored as assigned to
    nobody, so nothing in the stored case showed where it went."""
    c = own_demo_client
    body = {
        "save": True,
        "cases": [{"lon": 113.6, "lat": 35.4, "category": "噪声扰民", "reported_at": "2026-12-01T21:00"}],
    }
    [answer] = c.post("/dispatch/cases", json=body).json()["assignments"]
    assert answer["escalation"] == "市值班室"
    props = c.get(f"/collections/incidents/items/{answer['incident_id']}").json()["properties"]
    assert (props["status"], props["escalated_to"], props["squad"]) == ("escalated", "市值班室", None)


def test_the_same_ticket_twice_is_a_duplicate(own_demo_client):
    """helper-33: a 12345 export loaded twice stored every case twice, none flagged: same-minute reports
    are not 'earlier', and the ticket number was not looked at."""
    c = own_demo_client
    table = [
        ["工单编号", "经度", "纬度", "案件类别", "受理时间"],
        ["0012345001", 113.21, 35.25, "油烟污染", "2026/12/01 20:00"],
        ["0012345002", 113.23, 35.24, "噪声扰民", "2026/12/01 20:30"],
        ["0012345002", 113.23, 35.24, "噪声扰民", "2026/12/01 20:30"],  # the same line twice in one file
    ]
    first = _upload(c, "t.csv", _csv(table), save="true").json()["assignments"]
    assert [a["duplicate_of"] for a in first] == [None, None, "row 3"]  # as the sheet numbers it
    assert any("the same ticket number as row 3" in r for r in first[2]["reasons"])
    assert any("与第 3 行为同一工单编号" in r for r in first[2]["reasons"])
    again = _upload(c, "t.csv", _csv(table[:2])).json()["assignments"]
    assert again[0]["duplicate_of"] == f"incident {first[0]['incident_id']}"
    # helper-77: a ticket number given again to a case of another category (a gas leak 10 km away) was
    # stored as a duplicate and closed; it goes its usual way, in the batch and against the stored ones
    reused = [
        table[0],
        ["0012345001", 113.14, 35.2, "噪声扰民", "2026/12/02 10:00"],
        ["0012345009", 113.2, 35.26, "油烟污染", "2026/12/02 10:00"],
        ["0012345009", 113.26, 35.22, "噪声扰民", "2026/12/02 16:00"],
    ]
    answers = _upload(c, "t.csv", _csv(reused), save="true").json()["assignments"]
    assert [a["duplicate_of"] for a in answers] == [None, None, None]
    statuses = [
        c.get(f"/collections/incidents/items/{a['incident_id']}").json()["properties"]["status"]
        for a in answers
    ]
    assert "duplicate" not in statuses


def test_same_minute_reports_of_one_place_are_duplicates_named_by_their_row(own_demo_client):
    """Two reports of the same place and category at the same minute, with no ticket number, were not
    linked (only a strictly earlier case counted); and an upload's duplicate_of said 'case N' where
    its answers say 'Row N'. The later row now names the earlier by its spreadsheet row (as the
    answers do), the earlier names nobody, and the Chinese reason says 第 N 行."""
    table = [
        ["经度", "纬度", "案件类别", "受理时间"],
        [113.2101, 35.2501, "噪声扰民", "2026/12/01 21:00"],  # row 2
        [113.2101, 35.2501, "噪声扰民", "2026年12月1日 21:00"],  # row 3: the same minute, written otherwise
        [113.2101, 35.2501, "油烟污染", "2026/12/01 21:00"],  # row 4: another category
    ]
    answers = _upload(own_demo_client, "t.csv", _csv(table)).json()["assignments"]
    assert [a["duplicate_of"] for a in answers] == [None, "row 2", None]
    assert any("probable duplicate of row 2" in r for r in answers[1]["reasons"])
    assert any("已有同类案件（第 2 行）" in r for r in answers[1]["reasons"])
    # a JSON batch has no rows: its cases are named by position, as its answers name them
    case = {"lon": 113.2101, "lat": 35.2501, "category": "噪声扰民", "reported_at": "2026-12-01 21:00"}
    r = own_demo_client.post("/dispatch/cases", json={"cases": [case, case]})
    assert [a["duplicate_of"] for a in r.json()["assignments"]] == [None, "case 1"]


def test_a_same_minute_stored_case_is_a_duplicate_s_original(own_demo_client):
    c = own_demo_client
    table = [["经度", "纬度", "案件类别", "受理时间"], [113.2102, 35.2502, "噪声扰民", "2026/12/01 21:00"]]
    [first] = _upload(c, "t.csv", _csv(table), save="true").json()["assignments"]
    [again] = _upload(c, "t.csv", _csv(table)).json()["assignments"]
    assert again["duplicate_of"] == f"incident {first['incident_id']}"
    assert any("已有同类案件（案件 " in r for r in again["reasons"])


def test_nan_as_report_time_is_no_time_either(own_demo_client):
    """helper-77: "reported_at": NaN was taken as no time given (the moment the batch came in), where
    Infinity and other numbers are refused as numbers."""
    body = '{"cases": [{"lon": 113.2, "lat": 35.25, "category": "噪声扰民", "reported_at": NaN}]}'
    r = own_demo_client.post("/dispatch/cases", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    [bad] = r.json()["assignments"]
    assert bad["error"]["code"] == "bad-time"
    assert "is a number, not a date and time" in bad["error"]["detail_en"]


@pytest.mark.parametrize("value", [46357, 46357.875, 1764594000])
def test_a_number_as_report_time_is_said_to_be_no_time(own_demo_client, value):
    """An Excel serial day (or seconds since 1970) sent as a JSON number was read by pydantic as seconds
    since 1970 and answered 'reported before the roster'; it is that case's bad-time, saying it is a
    number and which forms are taken. In a CSV or an XLSX cell the same."""
    c = own_demo_client
    case = {"lon": 113.2, "lat": 35.25, "category": "噪声扰民"}
    r = c.post("/dispatch/cases", json={"cases": [{**case, "reported_at": value}, case]})
    assert r.status_code == 200, r.text
    bad, fine = r.json()["assignments"]
    assert fine["ok"]
    assert bad["error"]["code"] == "bad-time"
    assert "是一个数字，不是日期时间" in bad["error"]["detail_zh"]
    assert "2026年12月1日 21:00" in bad["error"]["detail_zh"]
    assert "is a number, not a date and time" in bad["error"]["detail_en"]
    assert "2026/12/1 21:00" in bad["error"]["detail_en"]
    assert "roster" not in bad["error"]["detail_en"]
    book = _xlsx([["经度", "纬度", "类别", "上报时间"], [113.2, 35.25, "噪声扰民", value]])
    csv = f"经度,纬度,类别,上报时间\n113.2,35.25,噪声扰民,{value}\n".encode()
    for name, data in (("cases.xlsx", book), ("cases.csv", csv)):
        [a] = _upload(c, name, data).json()["assignments"]
        assert a["error"]["code"] == "bad-time", (name, a)
        assert a["error"]["detail_en"].startswith(f"Row 2: report time '{value}' is a number"), name


def test_full_width_coordinates_are_read(own_demo_client):
    """经度/纬度 typed with a Chinese input method (full-width digits, point and minus) are numbers."""
    table = [
        ["经度", "纬度", "类别", "上报时间"],
        ["１１３．２", "３５．２５", "噪声扰民", "2026/12/1 21:00"],
        ["113.2", "35.25", "噪声扰民", "2026/12/1 21:05"],
        ["－１１３．２", "３５．２５", "噪声扰民", "2026/12/1 21:10"],  # read, and refused as a place
    ]
    book = _xlsx(table)
    for name, data in (("cases.csv", _csv(table)), ("cases.xlsx", book)):
        wide, plain, minus = _upload(own_demo_client, name, data).json()["assignments"]
        assert wide["ok"], (name, wide)
        assert (wide["beat"], wide["squad"]) == (plain["beat"], plain["squad"])
        assert minus["error"]["code"] == "bad-location"
        assert "不是数值" not in minus["error"]["detail_zh"]
        assert "(-113.2, 35.25)" in minus["error"]["detail_en"]


def test_location_problems_read_as_a_clerk_writes_them():
    """A case's place refused in plain Chinese (no 位置：坐标… nor 几何), the English as before."""
    from geo_service.assignment.service import location_problems
    from geo_service.catalog import load_catalog
    from geo_service.settings import default_layers_dir

    spec = load_catalog(default_layers_dir())["incidents"]
    jiaozuo = (112.9, 35.0, 113.7, 35.5)
    geoms = [
        None,
        shapely.Point(),
        shapely.LineString([(113.2, 35.2), (113.3, 35.2)]),
        shapely.MultiPoint([(113.2, 35.2), (113.3, 35.2)]),
        shapely.Point(np.nan, np.nan),
        shapely.Point(35.25, 113.2),  # swapped
        shapely.Point(116.4, 39.9),  # Beijing: outside the city's service area
        shapely.Point(200, 35.25),
        shapely.Point(113.2, 35.25),  # fine
    ]
    got = location_problems(np.array(geoms, dtype=object), spec, jiaozuo)
    zh = [p[0] if p else None for p in got]
    assert zh[0] == "未填写位置（经纬度）"
    assert zh[1] == "位置为空，没有经纬度"
    assert zh[2] == "位置只能是一个点，不能是线"
    assert zh[3] == "位置只能是一个点，不能是多个点"
    assert zh[4] == "经纬度不是有效的数值（NaN 或无穷大）"
    assert zh[5] == "经纬度可能颠倒 (35.25, 113.2)，请按先经度、后纬度的顺序填写"
    assert zh[6] == "坐标 (116.4, 39.9) 不在服务范围内（经度 112.9～113.7，纬度 35～35.5）"
    assert zh[7].startswith("坐标 (200, 35.25) 超出经纬度范围")
    assert zh[8] is None
    for text in zh[:8]:
        assert "位置：" not in text
        assert "几何" not in text
    en = [p[1] for p in got[:8]]
    assert en[0] == "location: the geometry is missing"
    assert en[6] == "location: position (116.4, 39.9) is outside the service area [112.9, 35.0, 113.7, 35.5]"


def test_saved_cases_keep_blank_cells_blank_and_a_bad_source_costs_its_row_only(own_demo_client):
    """helper-39: an empty 案件来源 cell refused the whole upload with save=true ('… 之一：nan', feature 0),
    an empty 问题描述 was saved as the text 'nan', and a probable duplicate (same category, 50 m, 24 h)
    was filed as status 'duplicate', even when escalated, before anyone had judged it."""
    c = own_demo_client
    stored = _count(c)
    csv = (
        "工单编号,受理时间,问题类别,经度,纬度,案件来源,问题描述\n"
        "Z-1,2026/12/05 10:00,噪声扰民,113.2,35.25,,\n"  # row 2: blank source and description
        "Z-2,2026/12/05 10:30,噪声扰民,113.2,35.25,微信,楼下喇叭\n"  # row 3: a source the layer does not have
        "Z-3,2026/12/05 11:00,噪声扰民,113.2,35.25,12345,同一处再次反映\n"  # row 4: probable duplicate of row 2
        "Z-1,2026/12/05 11:30,噪声扰民,113.2,35.25,12345,\n"  # row 5: the same ticket as row 2
    )
    r = _upload(c, "cases.csv", csv.encode("utf-8"), save="true")
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    a = {x["row"]: x for x in body["assignments"]}
    assert body["not_saved"] == 1
    assert a[3]["incident_id"] is None
    assert a[3]["error"]["field"] == "source"
    assert a[3]["error"]["detail_zh"].startswith("第 3 行未保存：")
    assert "微信" in a[3]["error"]["detail_zh"]
    assert a[3]["error"]["detail_en"].startswith("Row 3 not saved: ")
    assert _count(c) == stored + 3

    def props(row):
        return c.get(f"/collections/incidents/items/{a[row]['incident_id']}").json()["properties"]

    assert props(2)["source"] == "12345"
    assert props(2)["description"] is None
    assert a[4]["duplicate_of"] == "row 2"  # row 3 is itself a duplicate of row 2: the first report
    assert props(4)["status"] in ("assigned", "escalated")
    assert a[5]["same_ticket"] is True
    assert props(5)["status"] == "duplicate"


def test_a_case_far_from_any_drivable_street_says_why_no_crew_is_suggested(demo_client):
    from geo_service.assignment.crews import SNAP_M

    r = demo_client.post(
        "/dispatch/cases",
        json={
            "cases": [
                {
                    "lon": 113.111249,
                    "lat": 35.206374,
                    "category": "窨井盖",
                    "reported_at": "2026-12-05 10:00",
                }
            ]
        },
    )
    [answer] = r.json()["assignments"]
    assert answer["crew"] is None
    assert any(f"no drivable street within {SNAP_M:.0f} m" in reason for reason in answer["reasons"])


def test_a_ticket_whose_first_row_is_not_saved_is_no_duplicate(own_demo_client):
    """helper-41: when the first row of a ticket could not be stored, the second was stored as a
    'duplicate' of a case that does not exist."""
    c = own_demo_client
    csv = (
        "工单编号,受理时间,问题类别,经度,纬度,案件来源\n"
        "Z-9,2026/12/05 10:00,噪声扰民,113.2,35.25,微信\n"
        "Z-9,2026/12/05 10:30,噪声扰民,113.2,35.25,12345\n"
    )
    body = _upload(c, "cases.csv", csv.encode(), save="true").json()
    a = {x["row"]: x for x in body["assignments"]}
    assert a[2]["incident_id"] is None
    props = c.get(f"/collections/incidents/items/{a[3]['incident_id']}").json()["properties"]
    assert props["status"] != "duplicate"


@pytest.mark.parametrize(
    "title",
    [
        "焦作市12345热线工单导出,,,",  # Excel's "save as CSV" keeps the title row and pads it
        "焦作市12345热线工单导出",  # a title line of one cell, as another program writes it
        '"焦作市12345热线工单导出（2026年12月, 解放区）"',  # a quoted title with a comma in it
    ],
)
def test_a_csv_with_a_title_row_is_read_as_its_xlsx_is(own_demo_client, title):
    """A 12345 export saved as CSV keeps its title row above the header: the CSV was refused whole as
    having no coordinate columns ("现有列：焦作市12345热线工单导出, Unnamed: 1 …"), while the same sheet
    as XLSX was read. The header is looked for in the top rows as in a workbook, and the rows keep the
    numbers Excel shows (the title is row 1, the header row 2, an empty line counted)."""
    text = "\n".join(
        [
            title,
            "经度,纬度,案件类别,受理时间",
            "113.2,35.25,噪声扰民,2026/12/1 21:00",
            "",
            ",35.25,噪声扰民,2026/12/1 21:00",
        ]
    )
    r = _upload(own_demo_client, "cases.csv", text.encode())
    assert r.status_code == 200, r.text
    good, bad = r.json()["assignments"]
    assert good["ok"]
    assert good["row"] == 3
    assert bad["row"] == 5
    assert bad["error"]["detail_en"] == "Row 5: column '经度' is empty"
    # in GBK, as WPS saves a CSV, and after blank lines above the title, the same
    r = _upload(own_demo_client, "cases.csv", ("\n\n" + text).encode("gbk"))
    assert r.status_code == 200, r.text
    assert [a["row"] for a in r.json()["assignments"]] == [5, 7]


def test_a_workbook_with_a_sheet_of_notes_first_is_read_from_its_case_sheet(own_demo_client):
    """A 12345 export whose first sheet holds notes (说明) and whose cases are on the second was refused
    whole ("no coordinate columns; columns found: 本表为导出说明"): the first sheet whose top rows hold
    a coordinate header is read."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "说明"
    book.active.append(["本表为导出说明"])
    sheet = book.create_sheet("工单")
    sheet.append(["焦作市12345热线工单"])
    for row in (["经度", "纬度", "案件类别", "受理时间"], [113.2, 35.25, "噪声扰民", "2026/12/1 21:00"]):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    r = _upload(own_demo_client, "cases.xlsx", out.getvalue())
    assert r.status_code == 200, r.text
    [case] = r.json()["assignments"]
    assert case["ok"]
    assert case["row"] == 3
