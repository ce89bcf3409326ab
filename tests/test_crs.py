"""Coordinate systems: CRS names, GCJ-02 / BD-09 against published vectors and round trips, EPSG input."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

from geo_service.crs import (
    SourceCRS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_metric,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    metric_crs,
    parse_crs,
    to_metric,
    to_wgs84,
    transformer,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo_service.errors import InvalidInput

GEOD = pyproj.Geod(ellps="WGS84")

# Published vectors (wgs lat, wgs lon, gcj lat, gcj lon) of eviltransform's test suite.
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def _jiaozuo_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(112.9, 113.7, 25), np.linspace(35.0, 35.5, 25))
    return lon.ravel(), lat.ravel()


def _china_sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.uniform(74.0, 134.0, 3000), rng.uniform(18.0, 53.0, 3000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EPSG:4326", SourceCRS("epsg", 4326)),
        ("4326", SourceCRS("epsg", 4326)),
        (4490, SourceCRS("epsg", 4490)),
        ("epsg:4547", SourceCRS("epsg", 4547)),
        (" WGS84 ", SourceCRS("epsg", 4326)),
        ("CGCS2000", SourceCRS("epsg", 4490)),
        ("GCJ02", SourceCRS("gcj02")),
        ("gcj-02", SourceCRS("gcj02")),
        ("BD09", SourceCRS("bd09")),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", SourceCRS("epsg", 4326)),
        ("http://www.opengis.net/def/crs/EPSG/0/4547", SourceCRS("epsg", 4547)),
        ("urn:ogc:def:crs:EPSG::4490", SourceCRS("epsg", 4490)),
    ],
)
def test_parse_crs_names(text, expected):
    assert parse_crs(text) == expected
    assert parse_crs(expected) is expected


@pytest.mark.parametrize("text", ["EPSG:999999", "mars", "", "EPSG:", "EPSG:4978", True, 4.5, None])
def test_parse_crs_refuses_unknown_names_in_both_languages(text):
    with pytest.raises(InvalidInput) as err:
        parse_crs(text)
    assert str(text)[:20] in err.value.en
    assert str(text)[:20] in err.value.zh
    assert "坐标系" in err.value.zh
    assert "coordinate system" in err.value.en
    assert err.value.field == "crs"


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_gcj02_matches_published_vectors(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert (float(lon), float(lat)) == pytest.approx((glon, glat), abs=1e-9)
    back_lon, back_lat = gcj02_to_wgs84(glon, glat)
    assert (float(back_lon), float(back_lat)) == pytest.approx((wlon, wlat), abs=1e-9)


def test_bd09_matches_published_vector():
    # Baidu's formula as published by coordtransform (also in hutool's tests): GCJ-02 (116.404, 39.915).
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)
    back = bd09_to_gcj02(lon, lat)
    assert (float(back[0]), float(back[1])) == pytest.approx((116.404, 39.915), abs=1e-9)


def test_offset_in_jiaozuo_is_hundreds_of_metres():
    lon, lat = _jiaozuo_grid()
    shift = _metres(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert shift.min() > 300
    assert shift.max() < 900
    bd_shift = _metres(lon, lat, *wgs84_to_bd09(lon, lat))
    assert bd_shift.min() > shift.min()  # BD-09 adds ~0.0065°/0.006° on top of GCJ-02


@pytest.mark.parametrize("sample", [_jiaozuo_grid, _china_sample], ids=["jiaozuo", "china"])
def test_iterative_inverses_round_trip_under_half_a_metre(sample):
    lon, lat = sample()
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.5
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.5
    # the other way: GCJ-02 -> WGS 84 -> GCJ-02
    glon, glat = wgs84_to_gcj02(lon, lat)
    again = wgs84_to_gcj02(*gcj02_to_wgs84(glon, glat))
    assert _metres(glon, glat, *again).max() < 0.01


def test_one_step_inverse_would_not_be_enough():
    """Guards the iteration: the textbook one-step inverse misses by metres somewhere in China."""
    lon, lat = _china_sample()
    glon, glat = wgs84_to_gcj02(lon, lat)
    flon, flat = wgs84_to_gcj02(glon, glat)
    naive = glon - (flon - glon), glat - (flat - glat)
    assert _metres(lon, lat, *naive).max() > 0.5
    assert _metres(lon, lat, *gcj02_to_wgs84(glon, glat)).max() < 0.001


def test_outside_china_nothing_shifts():
    lon, lat = np.array([2.35, 139.69, -74.0, 113.25]), np.array([48.85, 35.69, 40.7, 35.21])
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert np.array_equal(glon[:3], lon[:3])
    assert np.array_equal(glat[:3], lat[:3])
    assert glon[3] != lon[3]
    back = gcj02_to_wgs84(lon[:3], lat[:3])
    assert np.array_equal(back[0], lon[:3])
    assert np.array_equal(back[1], lat[:3])


def test_conversions_keep_array_shapes():
    lon, lat = np.full((3, 4), 113.25), np.full((3, 4), 35.21)
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84):
        x, y = fn(lon, lat)
        assert x.shape == (3, 4)
        assert y.shape == (3, 4)


def test_to_wgs84_frame_from_gcj02_keeps_index_and_columns():
    import geopandas as gpd

    wgs = np.array([[113.2412, 35.2155], [113.2801, 35.1998]])
    glon, glat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    frame = gpd.GeoDataFrame({"name": ["甲", "乙"]}, geometry=shapely.points(glon, glat), index=[7, 9])
    out = to_wgs84(frame, "gcj02")
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.crs.to_epsg() == 4326
    assert list(out.index) == [7, 9]
    assert list(out["name"]) == ["甲", "乙"]
    xy = shapely.get_coordinates(out.geometry.values)
    assert _metres(xy[:, 0], xy[:, 1], wgs[:, 0], wgs[:, 1]).max() < 0.01
    assert frame.geometry.iloc[0].x == pytest.approx(glon[0])  # the input frame is untouched
    series = to_wgs84(frame.geometry, "gcj02")
    assert isinstance(series, gpd.GeoSeries)
    assert series.crs.to_epsg() == 4326


def test_to_wgs84_polygon_vertices_follow_the_point_formula_and_z_is_dropped():
    ring = [(113.24, 35.21, 5.0), (113.25, 35.21, 5.0), (113.25, 35.22, 5.0), (113.24, 35.21, 5.0)]
    poly = shapely.Polygon(ring)
    out = to_wgs84([poly], "bd09")
    assert isinstance(out, list)
    assert not out[0].has_z
    xs, ys = bd09_to_wgs84([p[0] for p in ring], [p[1] for p in ring])
    assert np.allclose(shapely.get_coordinates(out[0]), np.column_stack([xs, ys]), atol=1e-12)
    single = to_wgs84(shapely.Point(113.25, 35.21), "EPSG:4326")
    assert single.equals(shapely.Point(113.25, 35.21))


def test_to_wgs84_from_gauss_kruger_metres():
    # EPSG:4547 puts the central meridian 114°E at easting 500 000 m: a hand-checkable point.
    pts = to_wgs84(np.array([shapely.Point(500_000.0, 3_900_000.0)]), "EPSG:4547")
    assert pts[0].x == pytest.approx(114.0, abs=1e-9)
    expected = pyproj.Transformer.from_crs(4547, 4326, always_xy=True).transform(430_000.0, 3_900_000.0)
    got = to_wgs84(np.array([shapely.Point(430_000.0, 3_900_000.0)]), 4547)[0]
    assert (got.x, got.y) == pytest.approx(expected, abs=1e-9)
    assert to_wgs84(np.array([], dtype=object), "EPSG:4547").shape == (0,)


def test_metric_crs_and_round_trip():
    from geo_service.settings import Settings

    assert metric_crs(None).to_epsg() == 4547
    assert metric_crs(Settings(metric_crs="EPSG:32649")).to_epsg() == 32649
    assert metric_crs("EPSG:4547") is metric_crs("EPSG:4547")
    with pytest.raises(InvalidInput, match="metres"):
        metric_crs("EPSG:4326")
    pts = shapely.points([113.24, 113.24], [35.20, 35.21])
    m = to_metric(pts)
    geod = _metres(113.24, 35.20, 113.24, 35.21)
    assert shapely.distance(m[0], m[1]) == pytest.approx(float(geod), rel=2e-4)  # GK scale near 113°E
    back = from_metric(m)
    assert np.abs(shapely.get_coordinates(back) - shapely.get_coordinates(pts)).max() < 1e-9


def test_transformers_are_cached():
    assert transformer("EPSG:4326", "EPSG:4547") is transformer("EPSG:4326", "EPSG:4547")
