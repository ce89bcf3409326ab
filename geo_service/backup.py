"""Whole-workspace backups: layers with ids and versions, history, documents (plans, rules),
users and the audit log — in one zip of JSON files that either store restores.

A backup made from the GeoPackage store restores into PostGIS and back, giving the same content.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import shapely
from shapely.geometry import mapping, shape

from geo_service import __version__
from geo_service.auth.accounts import AccountStore
from geo_service.errors import Conflict, InvalidInput
from geo_service.store.base import Change, Document, Feature, Store
from geo_service.store.values import from_storage, json_value

__all__ = ["create_backup", "restore_backup"]

FORMAT = "geo-service-backup/1"


def _features(store: Store, layer: str) -> list[dict[str, Any]]:
    """The layer's features as stored, read one by one rather than as a frame: a frame holds a
    column of whole numbers with a gap as floats, and would round those above 2**53."""
    spec = store.catalog[layer]
    return [
        {
            "id": f.id,
            "version": f.version,
            "properties": {fs.name: json_value(f.properties.get(fs.name)) for fs in spec.fields},
            "geometry": None if f.geometry is None or spec.is_table else mapping(f.geometry),
        }
        for f in store.list_features(layer).features
    ]


BACKUP_ATTEMPTS = 5


def _layer_versions(store: Store) -> tuple[int, ...]:
    """Each layer's version: every committed write of a feature (and its history) raises its layer's."""
    return tuple(store.layer_version(layer) for layer in store.catalog)


def create_backup(
    store: Store, accounts: AccountStore | None = None, *, attempts: int = BACKUP_ATTEMPTS
) -> bytes:
    """Everything in the workspace, as a zip of JSON documents, as it stood at one moment.

    The layers and their history are read one after another, while the service may be writing (a
    nightly backup of a running service): when any layer's version moved during the reading, the backup
    is read again, so that no feature is saved at one version and its history at another, and no crew
    names a depot that was deleted between the two reads. ``Conflict`` after ``attempts`` tries."""
    for _ in range(attempts):
        before = _layer_versions(store)
        data = _read_all(store, accounts)
        if _layer_versions(store) == before:
            return data
    raise Conflict(
        f"备份期间工作空间连续 {attempts} 次被修改，未写出备份；请在编辑较少时重试",
        f"The workspace changed during each of {attempts} attempts to back it up; no backup was written. "
        "Try again when fewer edits are being made",
    )


def _read_all(store: Store, accounts: AccountStore | None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        manifest = {
            "format": FORMAT,
            "version": __version__,
            "created_at": dt.datetime.now().astimezone().isoformat(),
            "layers": list(store.catalog),
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False))
        for layer in store.catalog:
            zf.writestr(f"layers/{layer}.json", json.dumps(_features(store, layer), ensure_ascii=False))
            changes = list(reversed(store.history(layer, limit=10**9)))
            zf.writestr(
                f"history/{layer}.json",
                json.dumps(
                    [
                        {
                            "feature": c.feature_id,
                            "version": c.version,
                            "op": c.op,
                            "actor": c.actor,
                            "at": c.at.isoformat(),
                            "before": c.before,
                            "after": c.after,
                            "reason": c.reason,
                        }
                        for c in changes
                    ],
                    ensure_ascii=False,
                ),
            )
        zf.writestr(
            "documents.json",
            json.dumps(
                [
                    {
                        "kind": d.kind,
                        "key": d.key,
                        "created_at": d.created_at.isoformat(),
                        "actor": d.actor,
                        "body": d.body,
                    }
                    for d in store.all_documents()
                ],
                ensure_ascii=False,
                default=str,
            ),
        )
        if accounts is not None:
            zf.writestr("accounts.json", json.dumps(accounts.dump(), ensure_ascii=False, default=str))
    return buf.getvalue()


def restore_backup(data: bytes, store: Store, accounts: AccountStore | None = None) -> dict[str, int]:
    """Restore a backup into an empty store (and empty accounts). Returns feature counts per layer."""
    # refused before the backup is read (seconds for a city's): the store checks again as it loads
    busy = [n for n in store.catalog if store.count(n) or store.history(n, limit=1)]
    if busy:
        raise Conflict(
            "只能恢复到空的工作空间", "A backup can be restored only into an empty workspace", layer=busy[0]
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(zf.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise InvalidInput(
            "不是 geo-service 备份文件", "Not a geo-service backup file", field="file"
        ) from None
    if manifest.get("format") != FORMAT:
        raise InvalidInput(
            f"备份格式 {manifest.get('format')} 不受支持",
            f"Backup format {manifest.get('format')} is not supported",
            field="file",
        )
    unknown = [n for n in manifest["layers"] if n not in store.catalog]
    if unknown:
        raise InvalidInput(
            f"备份中的图层 {unknown} 在本服务中未声明",
            f"Layers {unknown} of the backup are not declared",
            layer=unknown[0],
        )
    layers: dict[str, list[Feature]] = {}
    history: list[Change] = []
    for name in manifest["layers"]:
        spec = store.catalog[name]
        layers[name] = [
            Feature(
                name,
                int(f["id"]),
                {fs.name: from_storage(fs, f["properties"].get(fs.name)) for fs in spec.fields},
                None if f["geometry"] is None else shapely.force_2d(shape(f["geometry"])),
                int(f["version"]),
            )
            for f in json.loads(zf.read(f"layers/{name}.json"))
        ]
        history += [
            Change(
                name,
                c["feature"],
                c["version"],
                c["op"],
                c["actor"],
                dt.datetime.fromisoformat(c["at"]),
                c["before"],
                c["after"],
                c["reason"],
            )
            for c in json.loads(zf.read(f"history/{name}.json"))
        ]
    documents = [
        Document(d["kind"], d["key"], dt.datetime.fromisoformat(d["created_at"]), d["actor"], d["body"])
        for d in json.loads(zf.read("documents.json"))
    ]
    store.load_state(layers, history, documents)
    if accounts is not None and "accounts.json" in zf.namelist():
        accounts.load(json.loads(zf.read("accounts.json")))
    return {name: len(feats) for name, feats in layers.items()}
