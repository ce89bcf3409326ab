"""What only the GeoPackage store has in a large batch: the R-tree packed at once, GDAL's view, rollback."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely

from geo_service.store.base import NewFeature, Query
from geo_service.store.gpkg import GeoPackageStore


@pytest.fixture
def store(tmp_path, catalog):
    s = GeoPackageStore(tmp_path / "w.gpkg", catalog)
    yield s
    s.close()


def _demand(catalog, xy: np.ndarray) -> list[NewFeature]:
    spec = catalog["demand"]
    return [
        NewFeature(spec.validate_properties({"population": i}), shapely.Point(x, y))
        for i, (x, y) in enumerate(xy.tolist())
    ]


def _rtree(store: GeoPackageStore) -> tuple[str, int]:
    con = store._con
    return (
        con.execute("SELECT rtreecheck('rtree_demand_geom')").fetchone()[0],
        con.execute("SELECT COUNT(*) FROM rtree_demand_geom").fetchone()[0],
    )


def test_packed_rtree_answers_like_brute_force_and_gdal(store, catalog, tmp_path):
    rng = np.random.default_rng(3)
    xy = rng.uniform([113.1, 35.1], [113.4, 35.3], (9000, 2))
    first = store.create_features("demand", _demand(catalog, xy[:6000]), actor="a")
    assert _rtree(store) == ("ok", 6000)
    store.create_features("demand", _demand(catalog, xy[6000:]), actor="a")  # the tree is rebuilt with both
    assert _rtree(store) == ("ok", 9000)
    store.update_feature(
        "demand", first[0].id, _demand(catalog, np.array([[113.0, 35.0]]))[0], expected_version=1, actor="b"
    )
    store.delete_feature("demand", first[1].id, expected_version=1, actor="b")
    assert _rtree(store) == ("ok", 8999)  # GDAL's triggers keep working on the packed tree
    xy[0], alive = (113.0, 35.0), np.ones(len(xy), dtype=bool)
    alive[1] = False
    for box in [(113.2, 35.15, 113.25, 35.2), (112.99, 34.99, 113.01, 35.01), (113.1, 35.1, 113.4, 35.3)]:
        got = {f.id for f in store.list_features("demand", Query(bbox=box)).features}
        inside = (
            alive & (xy[:, 0] >= box[0]) & (xy[:, 0] <= box[2]) & (xy[:, 1] >= box[1]) & (xy[:, 1] <= box[3])
        )
        assert got == {int(i) + first[0].id for i in np.flatnonzero(inside)}
        gdal = pyogrio.read_dataframe(store.path, layer="demand", bbox=box, fid_as_index=True)
        assert set(gdal.index) == got
    assert pyogrio.read_info(store.path, layer="demand")["features"] == 8999


def test_small_batch_into_a_large_layer_inserts_cells(store, catalog):
    rng = np.random.default_rng(4)
    store.create_features(
        "demand", _demand(catalog, rng.uniform([113.1, 35.1], [113.4, 35.3], (20000, 2))), actor="a"
    )
    root = store._con.execute("SELECT data FROM rtree_demand_geom_node WHERE nodeno = 1").fetchone()[0]
    more = store.create_features(
        "demand", _demand(catalog, rng.uniform([113.1, 35.1], [113.4, 35.3], (1500, 2))), actor="a"
    )
    assert _rtree(store) == ("ok", 21500)
    assert len(root) == len(
        store._con.execute("SELECT data FROM rtree_demand_geom_node WHERE nodeno = 1").fetchone()[0]
    )
    assert (
        store.list_features("demand", Query(bbox=more[7].geometry.buffer(1e-9).bounds)).features[0].id
        == more[7].id
    )


def test_failed_batch_leaves_the_file_as_it_was(store, catalog):
    rng = np.random.default_rng(5)
    store.create_features(
        "demand", _demand(catalog, rng.uniform([113.1, 35.1], [113.4, 35.3], (1200, 2))), actor="a"
    )
    triggers = store._con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    ).fetchall()
    version = store.layer_version("demand")
    bad = [*_demand(catalog, rng.uniform([113.1, 35.1], [113.4, 35.3], (1500, 2)))]
    bad.append(NewFeature({"population": {"not": "a number"}}, shapely.Point(113.2, 35.2)))
    with pytest.raises(Exception, match=r"bind|type"):
        store.create_features("demand", bad, actor="a")
    assert store.count("demand") == 1200
    assert store.layer_version("demand") == version
    assert len(store.history("demand", limit=10_000)) == 1200
    assert _rtree(store) == ("ok", 1200)
    assert (
        store._con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").fetchall()
        == triggers
    )
    assert pyogrio.read_info(store.path, layer="demand")["features"] == 1200


def test_blobs_of_a_batch_read_back_as_written():
    from geo_service.store.gpkg_blobs import decode, geometry_blob, geometry_blobs

    geoms = np.array(
        [shapely.Point(113.2, 35.2), None, shapely.Point(), shapely.box(113.0, 35.0, 113.1, 35.1)],
        dtype=object,
    )
    blobs = geometry_blobs(geoms, shapely.bounds(geoms))
    assert blobs == [geometry_blob(g) for g in geoms]
    assert blobs[1] is None
    assert decode(blobs[2]).is_empty
    assert decode(blobs[3]).equals(geoms[3])
