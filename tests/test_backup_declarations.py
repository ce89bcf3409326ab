"""Backups carry the layer declarations: a restore on a machine that does not declare a layer brings it
back with its declaration; a backup made before they were carried restores as it did."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
import shapely

from geo_service.backup import create_backup, read_backup
from geo_service.catalog import load_catalog
from geo_service.cli import main
from geo_service.errors import InvalidInput
from geo_service.settings import Settings, default_layers_dir
from geo_service.store.base import NewFeature
from geo_service.store.gpkg import GeoPackageStore

MANHOLES = """\
# 窨井盖：城市自行增加的图层
name: manholes
title: {zh: 窨井盖, en: Manhole covers}
geometry: Point
editors: [dispatcher]
fields:
  - {name: code, type: string, required: true, unique: true, title: {zh: 编号, en: Code}}
  - {name: kind, type: string, enum: [雨水, 污水], title: {zh: 类别, en: Kind}}
  - {name: depth_m, type: number, min: 0, max: 20, title: {zh: 井深（米）, en: Depth (m)}}
style: {color: '#6d4c41', radius: 5}
"""


def _layers(folder: Path, *, manholes: bool) -> Path:
    """A layers folder: the shipped declarations and siting rules, and the manholes when asked."""
    shutil.copytree(default_layers_dir(), folder)
    if manholes:
        (folder / "manholes.yaml").write_text(MANHOLES, encoding="utf-8")
    return folder


def _backup(tmp_path: Path, layers: Path) -> bytes:
    """A backup of a workspace declared by ``layers``: a depot, and two manholes where declared."""
    catalog = load_catalog(layers)
    store = GeoPackageStore(tmp_path / "source.gpkg", catalog)
    try:
        store.create_features(
            "depots",
            [NewFeature({"name": "山阳场站", "district": "山阳区"}, shapely.Point(113.25, 35.21))],
            actor="t",
        )
        if "manholes" in catalog:
            store.create_features(
                "manholes",
                [
                    NewFeature(
                        {"code": "SY-001", "kind": "雨水", "depth_m": 2.5}, shapely.Point(113.251, 35.211)
                    ),
                    NewFeature(
                        {"code": "SY-002", "kind": "污水", "depth_m": None}, shapely.Point(113.252, 35.212)
                    ),
                ],
                actor="t",
            )
        return create_backup(store, rules_file=layers / "rules" / "siting.yaml")
    finally:
        store.close()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _old_format(data: bytes) -> bytes:
    """The backup as it was written before backups carried declarations."""
    members = _members(data)
    manifest = json.loads(members.pop("manifest.json"))
    del manifest["declarations"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("manifest.json", json.dumps(manifest))
        for name, body in members.items():
            if not name.startswith("declarations/"):
                z.writestr(name, body)
    return buf.getvalue()


def _restore(data: bytes, workspace: Path) -> int:
    """``geo-service backup restore`` of the backup ``data`` (as a file beside the workspace)."""
    source = workspace.with_name(workspace.stem + "-backup.zip")
    source.write_bytes(data)
    return main(["backup", "restore", "--workspace", str(workspace), str(source)])


def test_a_restore_on_a_machine_without_the_layer_brings_it_back_with_its_declaration(
    tmp_path, monkeypatch, capsys
):
    source_layers = _layers(tmp_path / "layers-a", manholes=True)
    data = _backup(tmp_path, source_layers)
    members = _members(data)
    assert members["declarations/manholes.yaml"] == MANHOLES.encode()
    assert members["declarations/depots.yaml"] == (default_layers_dir() / "depots.yaml").read_bytes()

    fresh = _layers(tmp_path / "layers-b", manholes=False)  # a fresh install: the shipped layers only
    monkeypatch.setenv("GEO_LAYERS_DIR", str(fresh))
    target = tmp_path / "fresh.gpkg"
    assert _restore(data, target) == 0
    out = capsys.readouterr().out
    assert "已按备份中的声明装入" in out
    assert "declaration of it was installed" in out

    assert (fresh / "manholes.yaml").read_text(encoding="utf-8") == MANHOLES
    restored = load_catalog(fresh)  # as the service will start on it
    original = load_catalog(source_layers)
    assert replace(restored["manholes"], source=None) == replace(original["manholes"], source=None)
    assert list(restored) == list(original)
    store = GeoPackageStore(target, restored)
    try:
        got = store.list_features("manholes").features
        assert sorted((f.properties["code"], f.properties["kind"], f.properties["depth_m"]) for f in got) == [
            ("SY-001", "雨水", 2.5),
            ("SY-002", "污水", None),
        ]
        assert [f.properties["name"] for f in store.list_features("depots").features] == ["山阳场站"]
    finally:
        store.close()


def test_an_old_backup_without_declarations_restores_as_before(tmp_path, monkeypatch, capsys):
    layers = _layers(tmp_path / "layers", manholes=False)
    old = _old_format(_backup(tmp_path, layers))
    assert not [n for n in _members(old) if n.startswith("declarations/")]
    monkeypatch.setenv("GEO_LAYERS_DIR", str(layers))
    target = tmp_path / "ws.gpkg"
    assert _restore(old, target) == 0
    out = capsys.readouterr().out
    assert "备份中没有图层声明" in out
    assert "holds no layer declarations" in out
    assert sorted(p.name for p in layers.glob("*.yaml")) == sorted(
        p.name for p in default_layers_dir().glob("*.yaml")
    )
    store = GeoPackageStore(target, load_catalog(layers))
    try:
        assert [f.properties["name"] for f in store.list_features("depots").features] == ["山阳场站"]
    finally:
        store.close()


def test_an_old_backup_of_a_layer_not_declared_here_is_refused_as_before(tmp_path):
    old = _old_format(_backup(tmp_path, _layers(tmp_path / "layers-a", manholes=True)))
    fresh = _layers(tmp_path / "layers-b", manholes=False)
    with pytest.raises(InvalidInput, match="carries no declaration") as caught:
        read_backup(old, load_catalog(fresh), settings=Settings(layers_dir=fresh), adopt=True)
    assert "未声明" in caught.value.zh
    assert not (fresh / "manholes.yaml").exists()


def test_the_api_refuses_a_layer_it_does_not_declare_and_says_how_to_restore_it(tmp_path, client):
    data = _backup(tmp_path, _layers(tmp_path / "layers-a", manholes=True))
    r = client.post("/backup/restore", files={"file": ("b.zip", data, "application/zip")})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert "geo-service backup restore" in body["detail_zh"]
    assert "geo-service backup restore" in body["detail_en"]
    assert "declarations/manholes.yaml" in body["detail_en"]
    assert client.get("/collections/depots/items").json()["features"] == []  # nothing restored


def test_a_declaration_that_differs_here_is_kept_and_said(tmp_path, client):
    layers = _layers(tmp_path / "layers-a", manholes=False)
    depots = layers / "depots.yaml"
    depots.write_text(depots.read_text(encoding="utf-8").replace("radius: 8", "radius: 12"), encoding="utf-8")
    data = _backup(tmp_path, layers)
    r = client.post("/backup/restore", files={"file": ("b.zip", data, "application/zip")})
    assert r.status_code == 201, r.text
    assert r.json()["declarations"]["differing"] == ["depots"]
    assert any("declarations/depots.yaml" in n for n in r.json()["notices"])


def test_a_failed_restore_takes_back_the_declarations_it_installed(tmp_path, monkeypatch):
    data = _backup(tmp_path, _layers(tmp_path / "layers-a", manholes=True))
    fresh = _layers(tmp_path / "layers-b", manholes=False)
    settings = Settings(workspace=tmp_path / "busy.gpkg", layers_dir=fresh)
    store = GeoPackageStore(settings.workspace, load_catalog(fresh))
    try:  # a workspace that is not empty: the restore is refused after the declarations are installed
        store.create_features("depots", [NewFeature({"name": "已有"}, shapely.Point(113.2, 35.2))], actor="t")
    finally:
        store.close()
    monkeypatch.setenv("GEO_LAYERS_DIR", str(fresh))
    assert _restore(data, settings.workspace) == 2
    assert not (fresh / "manholes.yaml").exists()
    # refused before the declaration was installed: the workspace did not get the new layer's table
    with sqlite3.connect(settings.workspace) as db:
        tables = {row[0] for row in db.execute("SELECT table_name FROM gpkg_contents")}
    assert "depots" in tables
    assert not any("manholes" in t for t in tables)
