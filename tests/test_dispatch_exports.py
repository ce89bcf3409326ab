"""12345 case exports as dispatchers upload them: X/Y coordinate headers (in degrees, or in metres with
the CRS they are in)."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
import shapely

from geo_service.crs import to_metric

TZ = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 12, 1, 21, 0, tzinfo=TZ)
LON, LAT = 113.2, 35.25


def _upload(client, name: str, data: bytes, **form):
    return client.post("/dispatch/cases/upload", files={"file": (name, data)}, data=form)


def _saved_time(client, answer) -> dt.datetime:
    props = client.get(f"/collections/incidents/items/{answer['incident_id']}").json()["properties"]
    return dt.datetime.fromisoformat(props["reported_at"])


def _count(client) -> int:
    return client.get("/collections/incidents/items", params={"limit": 1}).json()["numberMatched"]


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
