"""Writing a backup: the workspace as it stood at one moment, in one zip."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from shapely.geometry import mapping

from geo_service import __version__
from geo_service.auth.accounts import AccountStore
from geo_service.errors import Conflict
from geo_service.store.base import Store
from geo_service.store.values import json_value

__all__ = ["FORMAT", "RULES_MEMBER", "create_backup", "declaration_member"]

FORMAT = "geo-service-backup/1"
RULES_MEMBER = "rules/siting.yaml"  # the siting rule file of the machine that made the backup


def declaration_member(layer: str) -> str:
    """Where a backup keeps the declaration file of ``layer`` (backups made before they carried them have
    none: their manifest lists no ``declarations``)."""
    return f"declarations/{layer}.yaml"


def _declarations(store: Store) -> dict[str, bytes]:
    """Each layer's declaration file as it is on disk, by layer; a layer whose file cannot be read (the
    catalog was built in code) has none."""
    out = {}
    for name, spec in store.catalog.items():
        if spec.source is not None:
            try:
                out[name] = spec.source.read_bytes()
            except OSError:
                continue
    return out


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
    layers = list(store.catalog)
    return tuple(store.layer_versions(layers)[layer] for layer in layers)  # (one query, one moment)


def create_backup(
    store: Store,
    accounts: AccountStore | None = None,
    *,
    attempts: int = BACKUP_ATTEMPTS,
    rules_file: Path | None = None,
) -> bytes:
    """Everything in the workspace, as a zip of JSON documents, as it stood at one moment.

    ``rules_file``: the siting rule file the service checks sites by (``siting.rules_path``), carried
    as it is, so that a restore can say whether another machine's rules differ. Each layer's
    declaration file is carried too (:func:`declaration_member`), so that a restore on a machine that
    does not declare a layer can bring the layer back.

    The layers and their history are read one after another, while the service may be writing (a
    nightly backup of a running service): when any layer's version moved during the reading, the backup
    is read again, so that no feature is saved at one version and its history at another, and no crew
    names a depot that was deleted between the two reads. ``Conflict`` after ``attempts`` tries."""
    for _ in range(attempts):
        before = _layer_versions(store)
        data = _read_all(store, accounts, _rules_text(rules_file), _declarations(store))
        if _layer_versions(store) == before:
            return data
    raise Conflict(
        f"备份期间工作空间连续 {attempts} 次被修改，未写出备份；请在编辑较少时重试",
        f"The workspace changed during each of {attempts} attempts to back it up; no backup was written. "
        "Try again when fewer edits are being made",
    )


def _rules_text(path: Path | None) -> bytes | None:
    """The rule file's bytes, read once before the workspace; None where there is none."""
    if path is None:
        return None
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _read_all(
    store: Store, accounts: AccountStore | None, rules: bytes | None, declarations: dict[str, bytes]
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        manifest = {
            "format": FORMAT,
            "version": __version__,
            "created_at": dt.datetime.now().astimezone().isoformat(),
            "layers": list(store.catalog),
            "rules": [] if rules is None else [RULES_MEMBER],
            "declarations": list(declarations),  # layers whose declaration file is carried
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False))
        for layer, text in declarations.items():
            zf.writestr(declaration_member(layer), text)
        for layer in store.catalog:
            zf.writestr(f"layers/{layer}.json", json.dumps(_features(store, layer), ensure_ascii=False))
            changes = list(reversed(store.history(layer, limit=10**9)))
            zf.writestr(
                f"history/{layer}.json",
                json.dumps(
                    [c.as_json() for c in changes],
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
        if rules is not None:
            zf.writestr(RULES_MEMBER, rules)
        if accounts is not None:
            zf.writestr("accounts.json", json.dumps(accounts.dump(), ensure_ascii=False, default=str))
    return buf.getvalue()
