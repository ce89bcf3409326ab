"""Layer declarations: the shipped ones load; bad ones are refused naming file and field."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from geo_service.catalog import load_catalog
from geo_service.errors import BadDeclaration, InvalidInput, NotFound
from geo_service.settings import default_layers_dir

WELL_KNOWN = {
    "districts",
    "roads",
    "stall_sites",
    "festival_sales_points",
    "bridges_culverts",
    "patrol_beats",
    "duty_shifts",
    "incidents",
    "depots",
    "crews",
    "demand",
}


def test_shipped_layers_load(catalog):
    assert set(catalog) >= WELL_KNOWN
    assert catalog["stall_sites"].geometry_types == ("Polygon",)
    assert catalog["duty_shifts"].is_table
    assert catalog["stall_sites"].time_start == "valid_from"
    assert catalog["districts"].title["zh"] == "行政区"


def test_unknown_layer_is_not_found(catalog):
    with pytest.raises(NotFound, match="nope"):
        catalog["nope"]


def _copy_layers(tmp_path: Path) -> Path:
    target = tmp_path / "layers"
    shutil.copytree(default_layers_dir(), target, ignore=shutil.ignore_patterns("rules"))
    return target


def test_adding_a_layer_needs_a_declaration_only(tmp_path):
    layers = _copy_layers(tmp_path)
    (layers / "manhole_covers.yaml").write_text(
        "name: manhole_covers\ntitle: {zh: 窨井盖, en: Manhole covers}\ngeometry: Point\n"
        "fields:\n  - {name: code, type: string, required: true}\n"
        "  - {name: condition, type: string, enum: [good, damaged, missing]}\n",
        encoding="utf-8",
    )
    catalog = load_catalog(layers)
    spec = catalog["manhole_covers"]
    assert spec.validate_properties({"code": "J-1", "condition": "damaged"}) == {
        "code": "J-1",
        "condition": "damaged",
    }


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: x\ntitle: {zh: 甲}\ngeometry: Point\nfields:\n  - {name: a, type: strin}\n", "field 'a'"),
        ("name: x\ntitle: {zh: 甲}\ngeometry: Pointy\nfields: []\n", "Pointy"),
        ("name: X-1\ntitle: {zh: 甲}\ngeometry: Point\n", "name"),
        (
            "name: x\ntitle: {zh: 甲}\ngeometry: Point\nfields:\n  - {name: a, type: integer, min: 5, max: 1}\n",
            "field 'a'",
        ),
        (
            "name: x\ntitle: {zh: 甲}\ngeometry: Point\nfields:\n  - {name: fid, type: integer}\n",
            "field 'fid'",
        ),
        (
            "name: x\ntitle: {zh: 甲}\ngeometry: Point\nfields:\n  - {name: a, type: string, colour: red}\n",
            "field 'a'",
        ),
        (
            "name: x\ntitle: {zh: 甲}\ngeometry: Point\nfields:\n  - {name: a, type: integer, default: abc}\n",
            "field 'a'",
        ),
        (
            "name: x\ntitle: {zh: 甲}\ngeometry: Point\nfields:\n  - {name: a, type: string, references: nowhere.b}\n",
            "field 'a'",
        ),
        (
            "name: x\ntitle: {zh: 甲}\ngeometry: Point\ntime: {start: a}\nfields:\n  - {name: a, type: string}\n",
            "field 'a'",
        ),
        (
            "name: x\ntitle: {zh: 甲}\ngeometry: Point\nfields:\n  - {name: a, type: string, differs_from: b}\n",
            "differs_from names b",
        ),
        ("name: [unclosed\n", "cannot be read"),
        # a name is a name whole: one ending in a line break would be a file name of a backup's layer too
        ('name: "x\\n"\ntitle: {zh: 甲}\ngeometry: Point\nfields: []\n', "name must be"),
        ('name: x\ntitle: {zh: 甲}\ngeometry: Point\nfields:\n  - {name: "a\\n", type: string}\n', "a\n"),
        (  # the hours hints of stall sites and festival points were cut at their commas
            "name: x\ntitle: {zh: 甲}\ngeometry: Point\nfields:\n"
            "  - {name: a, type: string, description: {zh: 如 1-5 或 1-5,7, en: e.g. 1-5 or 1-5,7}}\n",
            "quote text that holds a comma",
        ),
    ],
)
def test_bad_declaration_names_file_and_field(tmp_path, text, needle):
    layers = _copy_layers(tmp_path)
    (layers / "zz_bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(BadDeclaration) as info:
        load_catalog(layers)
    assert "zz_bad.yaml" in info.value.en
    assert needle in info.value.en
    assert info.value.zh  # Chinese message too


def test_service_refuses_to_start_on_bad_declaration(tmp_path):
    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    layers = _copy_layers(tmp_path)
    (layers / "zz_bad.yaml").write_text("name: x\ntitle: {zh: 甲}\ngeometry: Blob\n", encoding="utf-8")
    with pytest.raises(BadDeclaration, match=r"zz_bad\.yaml"):
        create_app(Settings(workspace=tmp_path / "w.gpkg", layers_dir=layers))


def test_validate_properties_coerces_and_defaults(catalog):
    spec = catalog["stall_sites"]
    out = spec.validate_properties(
        {"name": "甲", "district": "山阳区", "capacity": "12", "valid_from": "2026-01-01"}
    )
    assert out["capacity"] == 12
    assert out["valid_from"] == dt.date(2026, 1, 1)
    assert out["status"] == "open"  # default
    assert out["valid_to"] is None


@pytest.mark.parametrize(
    ("props", "field"),
    [
        ({"district": "山阳区", "capacity": 3}, "name"),  # missing required
        ({"name": "甲", "district": "朝阳区", "capacity": 3}, "district"),  # not an allowed value
        ({"name": "甲", "district": "山阳区", "capacity": "many"}, "capacity"),  # wrong type
        ({"name": "甲", "district": "山阳区", "capacity": 0}, "capacity"),  # below the range
        (
            {"name": "甲", "district": "山阳区", "capacity": 3, "hours": "早上到晚上"},
            "hours",
        ),  # pattern (7点到9点 is read: 07:00-09:00)
        ({"name": "甲", "district": "山阳区", "capacity": 3, "colour": "red"}, "colour"),  # unknown field
        ({"name": "甲", "district": "山阳区", "capacity": 3, "valid_from": "2026-13-01"}, "valid_from"),
        (
            {
                "name": "甲",
                "district": "山阳区",
                "capacity": 3,
                "valid_from": "2026-05-01",
                "valid_to": "2026-04-01",
            },
            "valid_to",
        ),
    ],
)
def test_invalid_properties_name_the_field(catalog, props, field):
    with pytest.raises(InvalidInput) as info:
        catalog["stall_sites"].validate_properties(props, feature=7)
    assert info.value.field == field
    assert info.value.feature == 7
    assert field in info.value.en


def test_booleans_and_datetimes(catalog):
    roads = catalog["roads"]
    out = roads.validate_properties({"name": "塔北路", "road_class": "main", "oneway": "是", "walkable": 0})
    assert out["oneway"] is True
    assert out["walkable"] is False
    incidents = catalog["incidents"]
    out = incidents.validate_properties(
        {"source": "12345", "category": "噪声扰民", "reported_at": "2026-11-01T21:05"}
    )
    assert out["reported_at"].utcoffset() == dt.timedelta(hours=8)


def test_validity_window(catalog):
    spec = catalog["festival_sales_points"]
    props = {"valid_from": dt.date(2027, 1, 21), "valid_to": dt.date(2027, 2, 21)}
    assert spec.is_valid_at(props, dt.date(2027, 2, 1))
    assert not spec.is_valid_at(props, dt.date(2027, 2, 22))


def test_nul_characters_are_refused_by_name(catalog, client):
    with pytest.raises(InvalidInput) as err:
        catalog["depots"].validate_properties({"name": "场站\x00一"}, feature=3)
    assert err.value.field == "name"
    assert "NUL" in err.value.en
    r = client.post(
        "/collections/depots/items",
        json={
            "type": "Feature",
            "properties": {"name": "a\u0000b"},
            "geometry": {"type": "Point", "coordinates": [113.25, 35.21]},
        },
    )
    assert r.status_code == 400
    assert r.json()["field"] == "name"
    assert client.get("/collections/depots/items").json()["numberMatched"] == 0


def test_a_missing_required_field_reads_as_a_sentence(client):
    """Over HTTP: a feature without a required field is a 400 naming the field in both languages, said
    as "missing required field …", not as the field followed by a value of None; nothing is stored."""
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
    for props in ({}, {"name": "  "}):
        r = client.post("/collections/depots/items", json={**feature, "properties": props})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["field"] == "name"
        assert "缺少必填字段「名称」(name)" in body["detail_zh"]
        assert "missing required field 'name' (名称)" in body["detail_en"]
        assert "None" not in body["detail_zh"] + body["detail_en"]
    assert client.get("/collections/depots/items").json()["numberMatched"] == 0


def test_dates_outside_the_calendars_years_are_refused_on_every_layer(catalog):
    """helper-38: a layer write took 1900/12/1 and stored it as 1900-12-01T00:00:00+08:05:43 (Shanghai's
    local mean time before 1901), and took 2100/1/1; dispatch refused both. Every layer refuses them."""
    incidents, crews = catalog["incidents"], catalog["crews"]
    for value in ("1900/12/1", "2100/1/1", "1900-12-31T23:59"):
        with pytest.raises(InvalidInput) as refused:
            incidents.field("reported_at").coerce(value, layer="incidents")
        assert "1901" in refused.value.zh
        assert "outside the years supported" in refused.value.en
    with pytest.raises(InvalidInput):
        crews.field("busy_until").coerce("2100/1/1", layer="crews")
    ok = incidents.field("reported_at").coerce("1901/1/1 08:00", layer="incidents")
    assert ok.utcoffset().total_seconds() == 8 * 3600


def test_times_of_day_are_taken_as_spreadsheets_and_clerks_write_them(catalog):
    """helper-38: an Excel time cell (07:00 typed in Excel), 7:00 and 6点-20点 were refused with Python's
    form of the value and a raw regular expression."""
    start, hours = catalog["duty_shifts"].field("start"), catalog["stall_sites"].field("hours")
    assert start.coerce(dt.time(7, 0), layer="duty_shifts") == "07:00"
    assert start.coerce("7:00", layer="duty_shifts") == "07:00"
    assert start.coerce("７：３０", layer="duty_shifts") == "07:30"
    assert hours.coerce("6点-20点", layer="stall_sites") == "06:00-20:00"
    assert hours.coerce("6:00～11:00,15:00至20:00", layer="stall_sites") == "06:00-11:00,15:00-20:00"
    with pytest.raises(InvalidInput) as refused:
        start.coerce("七点", layer="duty_shifts")
    assert "如 07:00" in refused.value.zh
    assert "pattern" not in refused.value.en
    assert "e.g. 07:00" in refused.value.en


def test_enum_values_as_people_write_them(catalog, tmp_path):
    """helper-38: a 12345 table's 案件来源 of 巡查 or 12345热线 was refused; the declaration's
    value_aliases read them, and a refusal gives the values with their Chinese words."""
    source = catalog["incidents"].field("source")
    assert source.coerce("巡查", layer="incidents") == "patrol"
    assert source.coerce(" 12345热线 ", layer="incidents") == "12345"
    with pytest.raises(InvalidInput) as refused:
        source.coerce("微信", layer="incidents")
    assert "patrol（巡查）" in refused.value.zh
    bad = tmp_path / "layers"
    shutil.copytree(default_layers_dir(), bad)
    text = (bad / "incidents.yaml").read_text(encoding="utf-8").replace("巡查: patrol", "巡查: walking")
    (bad / "incidents.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(BadDeclaration):
        load_catalog(bad)


def test_spreadsheet_date_cells_and_utc_times_are_held_to_the_years_too(catalog):
    """helper-41: a date cell (a datetime) of 1900 skipped the years check, and 2099-12-31T20:00Z (2100
    in Beijing) was taken."""
    valid_from = catalog["duty_shifts"].field("valid_from")
    with pytest.raises(InvalidInput):
        valid_from.coerce(dt.datetime(1900, 12, 1), layer="duty_shifts")
    with pytest.raises(InvalidInput):
        catalog["incidents"].field("reported_at").coerce("2099-12-31T20:00:00Z", layer="incidents")
