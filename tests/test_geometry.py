"""Geometry checks: the whole shape catalogue, plus each rule on its own with hand-made shapes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely

from geo_service.errors import InvalidInput, PayloadTooLarge
from geo_service.geometry import check_kinds, geometry_from_geojson, validate_geometry
from tests.geometry_catalogue import BAD_SHAPES, SHAPES, ShapeCase

_SQ = [(113.26, 35.21), (113.2602, 35.21), (113.2602, 35.2101), (113.26, 35.2101), (113.26, 35.21)]
_BOWTIE = [(113.26, 35.21), (113.261, 35.211), (113.261, 35.21), (113.26, 35.211), (113.26, 35.21)]


def _check(catalog, case: ShapeCase, **options):
    spec = catalog[case.layer]
    geom = None if case.geometry is None else geometry_from_geojson(case.geometry, feature=3)
    return validate_geometry(spec, geom, feature=3, **options)


@pytest.mark.parametrize("case", SHAPES, ids=[c.name for c in SHAPES])
def test_catalogue(catalog, case):
    if case.status == 200:
        out = _check(catalog, case)
        assert out.wkt == case.expect
        assert not out.has_z
        assert out.is_valid
        return
    error = PayloadTooLarge if case.status == 413 else InvalidInput
    with pytest.raises(error) as err:
        _check(catalog, case)
    exc = err.value
    assert case.expect in exc.en, exc.en
    assert exc.zh != exc.en  # a Chinese message too, not a copy of the English one
    assert exc.field == "geometry"
    assert exc.feature == 3
    assert "feature 3" in exc.en.lower()
    assert "要素 3" in exc.zh
    assert "Traceback" not in exc.en
    assert "GEOSException" not in exc.en


def test_bad_shapes_for_the_api_are_the_refused_ones_on_two_layers():
    names = {c.name for c in SHAPES if c.status != 200 and c.layer in ("depots", "stall_sites")}
    assert {s[0] for s in BAD_SHAPES} == names
    assert {
        "empty-point",
        "bow-tie",
        "unclosed-ring",
        "nan",
        "infinity",
        "million-vertices",
        "hole-outside-shell",
        "swapped-lonlat",
        "out-of-range",
        "point-for-polygon-layer",
    } <= names


def test_layer_name_in_messages(catalog):
    with pytest.raises(InvalidInput) as err:
        validate_geometry(catalog["stall_sites"], shapely.Point(113.26, 35.21), feature="row 4")
    assert err.value.layer == "stall_sites"
    assert err.value.en.startswith("Layer stall_sites, row 4: ")
    assert err.value.zh.startswith("图层 stall_sites 第 4 行：")
    assert "Polygon" in err.value.en  # says what is accepted
    assert "面" in err.value.zh


def test_swapped_lonlat_named_as_such_in_chinese(catalog):
    with pytest.raises(InvalidInput) as err:
        validate_geometry(catalog["depots"], shapely.Point(35.21, 113.25))
    assert "经纬度可能颠倒" in err.value.zh
    assert "swapped" in err.value.en
    # a polygon with one swapped vertex among good ones is caught too
    with pytest.raises(InvalidInput, match="swapped"):
        validate_geometry(catalog["stall_sites"], shapely.Polygon([*_SQ[:2], (35.2101, 113.2602), *_SQ[3:]]))


def test_outside_china_and_range_are_told_apart(catalog):
    with pytest.raises(InvalidInput, match="outside China"):
        validate_geometry(catalog["depots"], shapely.Point(139.69, 35.69))  # Tokyo
    with pytest.raises(InvalidInput, match="range"):
        validate_geometry(catalog["depots"], shapely.Point(113.25, -95.0))


def test_multi_types_accepted_list_is_named(catalog):
    line = shapely.LineString([(113.25, 35.21), (113.26, 35.21)])
    with pytest.raises(InvalidInput) as err:
        validate_geometry(catalog["festival_sales_points"], line)
    assert "Point, Polygon" in err.value.en
    assert "点、面" in err.value.zh
    point = validate_geometry(catalog["festival_sales_points"], shapely.Point(113.25, 35.21))
    assert point.geom_type == "Point"
    multi = validate_geometry(catalog["festival_sales_points"], shapely.MultiPoint([(113.25, 35.21)]))
    assert multi.geom_type == "Point"


def test_table_layer_refuses_any_geometry(catalog):
    with pytest.raises(InvalidInput, match="table"):
        validate_geometry(catalog["crews"], shapely.Point(113.25, 35.21))


def test_vertex_limit_is_an_option(catalog):
    ring = shapely.Point(113.26, 35.21).buffer(0.001, quad_segs=50)  # 201 vertices
    assert validate_geometry(catalog["stall_sites"], ring, max_vertices=201).equals(ring)
    with pytest.raises(PayloadTooLarge, match="201 vertices"):
        validate_geometry(catalog["stall_sites"], ring, max_vertices=200)


def test_vertex_limit_names_the_feature_once(catalog):
    """It said 要素 feature 1 / feature feature 1: the readers' label had the prefix put before it again.
    The guide promises 第 1 个要素 / feature 1 (and 第 3 行 / row 3 for a sheet's row)."""
    ring = shapely.Point(113.26, 35.21).buffer(0.001, quad_segs=50)  # 201 vertices
    with pytest.raises(PayloadTooLarge) as err:
        validate_geometry(catalog["stall_sites"], ring, max_vertices=200, feature="feature 1")
    assert err.value.zh == "图层 stall_sites 第 1 个要素：几何有 201 个顶点，超过上限 200，请先简化"
    assert (
        err.value.en
        == "Layer stall_sites, feature 1: The geometry has 201 vertices, above the limit of 200; simplify it"
    )
    assert err.value.feature == "feature 1"
    with pytest.raises(PayloadTooLarge) as err:
        validate_geometry(catalog["stall_sites"], ring, max_vertices=200, feature="row 3")
    assert err.value.zh.startswith("图层 stall_sites 第 3 行：")
    assert err.value.en.startswith("Layer stall_sites, row 3: ")
    with pytest.raises(PayloadTooLarge) as err:  # an id, as the API names a stored feature
        validate_geometry(catalog["stall_sites"], ring, max_vertices=200, feature=12)
    assert err.value.zh.startswith("图层 stall_sites 要素 12：")
    assert err.value.en.startswith("Layer stall_sites, feature 12: ")


def test_vertex_limit_of_an_imported_feature_is_said_as_the_guide_says(tmp_path):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings
    from tests.conftest import sign_in

    ring = shapely.Point(113.26, 35.21).buffer(0.001, quad_segs=50)  # 201 vertices
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "甲", "district": "解放区", "capacity": 10},
                "geometry": shapely.geometry.mapping(ring),
            }
        ],
    }
    settings = Settings(workspace=tmp_path / "ws.gpkg", max_vertices=200)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {sign_in(client)}"
        resp = client.post(
            "/collections/stall_sites/import", files={"file": ("s.geojson", json.dumps(doc).encode())}
        )
    assert resp.status_code == 413, resp.text[:300]
    body = resp.json()
    assert body["detail_zh"] == "图层 stall_sites 第 1 个要素：几何有 201 个顶点，超过上限 200，请先简化"
    assert body["detail_en"].startswith("Layer stall_sites, feature 1: The geometry has 201 vertices")


def test_what_if_refuses_a_site_of_too_many_vertices_as_a_layer_write_does(tmp_path):
    """What-if answered 400 ('add[0] has 201 vertices, more than 200: simplify it first') where a write
    of the same site to the layer answers 413: both 413 too-large, in the same words."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings
    from tests.conftest import sign_in

    ring = shapely.Point(113.26, 35.21).buffer(0.001, quad_segs=50)  # 201 vertices
    site = shapely.geometry.mapping(ring)
    feature = {
        "type": "Feature",
        "properties": {"name": "甲", "district": "解放区", "capacity": 10},
        "geometry": site,
    }
    settings = Settings(workspace=tmp_path / "ws.gpkg", max_vertices=200)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {sign_in(client)}"
        written = client.post("/collections/stall_sites/items", json=feature)
        added = client.post("/coverage/what-if", json={"add": [site]})
        moved = client.post("/coverage/what-if", json={"move": {"7": site}})
        # and the candidate sites of a plan, which had no limit at all
        candidates = {"type": "FeatureCollection", "features": [{**feature, "properties": {}}]}
        planned = client.post("/planning/sites", json={"method": "lscp", "candidates": candidates})
    said = (
        "几何有 201 个顶点，超过上限 200，请先简化",
        "The geometry has 201 vertices, above the limit of 200; simplify it",
    )
    for r in (written, added, moved, planned):
        assert r.status_code == 413, r.text[:300]
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["code"] == "too-large"
        assert body["title"] == "内容过大 / Payload too large"
        assert body["detail_zh"].endswith(said[0])
        assert body["detail_en"].endswith(said[1])
    assert (added.json()["field"], added.json()["feature"]) == ("add", "add[0]")
    assert added.json()["detail_zh"] == f"要素 add[0]：{said[0]}"
    assert added.json()["detail_en"] == f"Feature add[0]: {said[1]}"
    assert (moved.json()["field"], moved.json()["feature"]) == ("move", "move[7]")
    assert written.json()["field"] == "geometry"
    assert (planned.json()["field"], planned.json()["feature"]) == ("candidates", "candidates[0]")


def test_repair_keeps_type_or_refuses(catalog):
    bowtie = shapely.Polygon(_BOWTIE)
    with pytest.raises(InvalidInput, match="MultiPolygon"):
        validate_geometry(catalog["stall_sites"], bowtie, repair=True)  # repair would split it in two
    fixed = validate_geometry(catalog["districts"], bowtie, repair=True)  # the declared type is MultiPolygon
    assert fixed.geom_type == "MultiPolygon"
    assert len(fixed.geoms) == 2
    assert fixed.is_valid
    assert fixed.area == pytest.approx(
        bowtie.buffer(0).area + shapely.Polygon(_BOWTIE[::-1]).buffer(0).area, rel=1e-6
    )
    # a ring touching itself at one point: valid after repair and still one Polygon
    spike = shapely.Polygon(
        [
            (113.26, 35.21),
            (113.262, 35.21),
            (113.262, 35.212),
            (113.261, 35.21),
            (113.26, 35.212),
            (113.26, 35.21),
        ]
    )
    assert not spike.is_valid
    with pytest.raises(InvalidInput, match=r"Self-intersection"):
        validate_geometry(catalog["stall_sites"], spike)
    repaired = validate_geometry(catalog["districts"], spike, repair=True)
    assert repaired.is_valid
    assert repaired.area == pytest.approx(spike.area, rel=1e-9)


def test_winding_is_rfc7946_for_multipolygons_with_holes(catalog):
    shell = [(113.26, 35.21), (113.27, 35.21), (113.27, 35.22), (113.26, 35.22), (113.26, 35.21)]
    hole = [(113.262, 35.212), (113.264, 35.212), (113.264, 35.214), (113.262, 35.214), (113.262, 35.212)]
    wrong = shapely.MultiPolygon([shapely.Polygon(shell[::-1], [hole])])  # CW shell, CCW hole
    out = validate_geometry(catalog["districts"], wrong)
    poly = out.geoms[0]
    assert poly.exterior.is_ccw
    assert not poly.interiors[0].is_ccw
    assert out.equals(wrong)


def test_mapping_input_is_parsed(catalog):
    out = validate_geometry(catalog["depots"], {"type": "Point", "coordinates": [113.25, 35.21]})
    assert out.equals(shapely.Point(113.25, 35.21))


@pytest.mark.parametrize(
    ("geometry", "fragment"),
    [
        ({"type": "LineString", "coordinates": [[113.25, 35.21]]}, "at least 2 positions"),
        (
            {
                "type": "MultiLineString",
                "coordinates": [[[113.25, 35.21], [113.26, 35.21]], [[113.25, 35.21]]],
            },
            "at least 2 positions",
        ),
        (
            {
                "type": "MultiPolygon",
                "coordinates": [[_SQ], [[[113.3, 35.2], [113.31, 35.2], [113.31, 35.21]]]],
            },
            "at least 4",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    list(map(list, _SQ)),
                    [[113.2601, 35.2100], [113.26015, 35.21005], [113.2601, 35.2101]],
                ],
            },
            "hole 1",
        ),
        ({"type": "Point", "coordinates": [113.25, None]}, "two numbers"),
        ({"type": "Point", "coordinates": [True, 35.2]}, "two numbers"),
        ({"type": "MultiPoint", "coordinates": [[113.25, 35.21], "x"]}, "nested"),
        ({"type": "Point", "coordinates": "113.25,35.21"}, "nested"),
        ({"type": "Point"}, "no coordinates"),
        ({"coordinates": [113.25, 35.21]}, "Unknown geometry type"),
        ([113.25, 35.21], "GeoJSON geometry object"),
    ],
)
def test_geojson_parse_errors_are_readable(geometry, fragment):
    with pytest.raises(InvalidInput) as err:
        geometry_from_geojson(geometry, feature="f7")
    assert fragment in err.value.en
    assert err.value.en.startswith("Feature f7: ")
    assert err.value.zh.startswith("要素 f7：")


def test_geojson_parse_accepts_heights_and_agrees_with_shapely():
    from shapely.geometry import shape

    for obj in [
        {"type": "Point", "coordinates": [113.25, 35.21, 80]},
        {"type": "MultiPoint", "coordinates": [[113.25, 35.21], [113, 35]]},
        {"type": "LineString", "coordinates": [[113.25, 35.21, 1, 2], [113.26, 35.22, 1, 2]]},
        {
            "type": "MultiLineString",
            "coordinates": [[[113.25, 35.21], [113.26, 35.22]], [[113.3, 35.2], [113.3, 35.3]]],
        },
        {"type": "Polygon", "coordinates": [list(map(list, _SQ))]},
        {"type": "MultiPolygon", "coordinates": [[list(map(list, _SQ))], [list(map(list, _SQ))]]},
    ]:
        ours = geometry_from_geojson(obj)
        theirs = shapely.force_2d(shape({**obj, "coordinates": _xy(obj["coordinates"])}))
        assert ours.geom_type == obj["type"]
        assert shapely.equals_exact(ours, theirs, tolerance=0)
        assert not ours.has_z


def _xy(coords):
    if coords and not isinstance(coords[0], list):
        return coords[:2]
    return [_xy(c) for c in coords]


def test_nan_and_inf_found_wherever_they_are(catalog):
    poly = shapely.Polygon([*_SQ[:2], (113.2602, math.inf), *_SQ[3:]])
    with pytest.raises(InvalidInput, match=r"Position 3 is not a number \(NaN or infinity\)"):
        validate_geometry(catalog["stall_sites"], poly)
    with np.errstate(invalid="ignore"):  # shapely warns about the NaN it is asked to build
        line = shapely.from_wkt("LINESTRING (113.25 35.21, NaN 35.22, 113.27 35.23)")
    with pytest.raises(InvalidInput, match="NaN"):
        validate_geometry(catalog["roads"], line)


def test_empty_geometries_of_each_kind(catalog):
    for wkt, layer in [
        ("POINT EMPTY", "depots"),
        ("POLYGON EMPTY", "stall_sites"),
        ("LINESTRING EMPTY", "roads"),
        ("MULTIPOLYGON EMPTY", "districts"),
    ]:
        with pytest.raises(InvalidInput, match="empty"):
            validate_geometry(catalog[layer], shapely.from_wkt(wkt))


def test_a_coordinate_that_is_no_number_is_said_to_be_so_not_a_ring_left_open():
    """JSON's NaN in a ring's first (and so last) position was reported as a ring not closed: NaN equals
    nothing, itself included. Every position is read as a number first."""
    ring = [[math.nan, 35.21], *_SQ[1:-1], [math.nan, 35.21]]
    for geometry, zh, en in (
        (
            {"type": "Polygon", "coordinates": [ring]},
            "外环第 1 个坐标不是数值",
            "Position 1 of the exterior ring",
        ),
        (
            {"type": "LineString", "coordinates": [[113.25, 35.21], [113.26, math.inf]]},
            "第 2 个坐标",
            "Position 2",
        ),
        ({"type": "Point", "coordinates": [math.nan, 35.21]}, "第 1 个坐标", "Position 1"),
        (
            {"type": "MultiPoint", "coordinates": [[113.25, 35.21], [113.26, -math.inf]]},
            "第 2 个",
            "Position 2",
        ),
    ):
        with pytest.raises(InvalidInput) as e:
            geometry_from_geojson(geometry, feature=3)
        assert "not closed" not in e.value.en
        assert zh in e.value.zh
        assert "不是数值（NaN 或无穷大）" in e.value.zh
        assert en in e.value.en
        assert "is not a number (NaN or infinity)" in e.value.en
        assert e.value.field == "geometry"


def test_check_kinds_names_the_item_and_what_it_should_be():
    line = shapely.LineString(_SQ[:2])
    check_kinds(
        [shapely.Point(_SQ[0]), shapely.Polygon(_SQ)],
        ("Point", "Polygon"),
        what="add",
        thing=("站点", "a site"),
    )
    with pytest.raises(InvalidInput) as e:
        check_kinds(
            [shapely.Point(_SQ[0]), line], ("Point",), what="move", thing=("站点", "a site"), labels=[7, 9]
        )
    assert (e.value.feature, e.value.field) == ("move[9]", "move")
    assert e.value.en == "move[9] is a LineString: a site is a Point here"
    assert e.value.zh == "move[9] 是线（LineString），站点只能是点（Point）"
