"""Reading a backup: every member of the zip read, parsed and checked before anything is restored.

A damaged or hand-made file (a member missing, cut short or failing its CRC, a feature whose geometry or
properties its layer would refuse, an id given twice, an account without a name) is refused with
``InvalidInput`` naming the member and, where it applies, the layer, feature and field; a member that
would expand beyond the limit is refused as ``PayloadTooLarge`` before it is read.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from geo_service.auth.backup_rows import checked_accounts
from geo_service.backup.writing import FORMAT, RULES_MEMBER, declaration_member
from geo_service.catalog import Catalog, LayerSpec, parse_layer, with_layers
from geo_service.errors import BadDeclaration, GeoServiceError, InvalidInput, PayloadTooLarge
from geo_service.geometry import geometry_from_geojson, validate_geometry
from geo_service.settings import Settings
from geo_service.store.base import Change, Document, Feature
from geo_service.store.values import from_storage

__all__ = ["EXPANSION", "Backup", "read_backup"]

#: how many times the upload limit a backup may hold once unpacked (its JSON deflates about tenfold)
EXPANSION = 20


@dataclass(frozen=True)
class Backup:
    """A backup read whole and checked: what ``Store.load_state`` and ``AccountStore.load`` take."""

    layers: Mapping[str, tuple[Feature, ...]]
    history: tuple[Change, ...]
    documents: tuple[Document, ...]
    accounts: Mapping[str, list[dict[str, Any]]] | None
    rules: bytes | None  # the siting rule file of the machine that made it (None: made before they were)
    #: the layer declaration files it carries, by layer (none: made before backups carried them)
    declarations: Mapping[str, bytes] = field(default_factory=dict)
    #: the declarations its features were checked by: this machine's, and the backup's own for ``adopted``
    catalog: Catalog = field(default_factory=lambda: Catalog({}))
    #: layers this machine does not declare, restored by the declarations the backup carries
    adopted: tuple[str, ...] = ()
    #: layers this machine declares otherwise than the backup's declaration (this machine's are used)
    differing: tuple[str, ...] = ()


def _bad(member: str, zh: str, en: str, **where: Any) -> InvalidInput:
    where.setdefault("field", "file")
    return InvalidInput(
        f"备份中的 {member}：{zh}", f"{member} in the backup: {en}", details={"member": member}, **where
    )


@contextmanager
def _in(member: str) -> Iterator[None]:
    """Errors met while checking ``member`` name it: the service's own (a geometry, a field) are told
    again with the member, anything else means the member is not what a backup writes."""
    try:
        yield
    except GeoServiceError as exc:
        if "member" in exc.details:
            raise
        raise type(exc)(
            f"备份中的 {member}：{exc.zh}",
            f"{member} in the backup: {exc.en}",
            layer=exc.layer,
            feature=exc.feature,
            field=exc.field or "file",
            details={**exc.details, "member": member},
        ) from None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        what = f"缺少 {exc}" if isinstance(exc, KeyError) else str(exc)[:200]
        raise _bad(
            member, f"内容不是备份所写的格式（{what}）", f"does not hold what a backup writes ({exc!r:.200})"
        ) from None


class _Members:
    """The zip's members, each read once within the limit and parsed."""

    def __init__(self, zf: zipfile.ZipFile, limit: int) -> None:
        self.zf = zf
        self.names = set(zf.namelist())
        unpacked = sum(i.file_size for i in zf.infolist())
        if unpacked > limit:  # from the directory, before anything is inflated (a zip bomb)
            biggest = max(zf.infolist(), key=lambda i: i.file_size)
            raise PayloadTooLarge(
                f"备份解压后共 {unpacked} 字节，超过上限 {limit} 字节（上传上限 GEO_MAX_UPLOAD_BYTES 的 "
                f"{EXPANSION} 倍；最大的是 {biggest.filename}）",
                f"The backup unpacks to {unpacked} bytes, beyond the limit of {limit} ({EXPANSION} × the "
                f"upload limit GEO_MAX_UPLOAD_BYTES; the largest member is {biggest.filename})",
                field="file",
                details={"member": biggest.filename},
            )
        self.limit = limit

    def raw(self, member: str) -> bytes:
        if member not in self.names:
            raise _bad(member, "缺失（备份不完整）", "is missing (the backup is incomplete)")
        try:
            with self.zf.open(member) as fh:
                data = fh.read(self.limit + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError):
            raise _bad(member, "已损坏，无法解压", "is damaged and cannot be unpacked") from None
        if len(data) > self.limit:  # a directory entry that understated it
            raise PayloadTooLarge(
                f"备份中的 {member} 解压后超过 {self.limit} 字节",
                f"{member} in the backup unpacks beyond {self.limit} bytes",
                field="file",
                details={"member": member},
            )
        return data

    def json(self, member: str) -> Any:
        data = self.raw(member)
        try:
            return json.loads(data)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise _bad(
                member, "不是完整的 JSON（文件被截断或改坏）", "is not valid JSON (cut short or altered)"
            ) from None


def read_backup(
    data: bytes, catalog: Catalog, *, settings: Settings | None = None, adopt: bool = False
) -> Backup:
    """Read and check a whole backup against the layer declarations, writing nothing.

    Parameters
    ----------
    data
        The zip, as ``create_backup`` writes it.
    catalog
        The layers of the workspace it is for: each feature is checked as a write to its layer would be
        (fields, geometry type, coordinates within ``settings.service_bounds``, vertices).
    settings
        The limits: ``max_upload_bytes`` × :data:`EXPANSION` bounds what the zip may unpack to.
    adopt
        Whether a layer of the backup that ``catalog`` does not declare is checked by the declaration the
        backup carries for it (listed in ``adopted``; the one restoring then installs it). Without it,
        or without its declaration (an older backup), such a layer is refused.
    """
    settings = settings or Settings()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InvalidInput(
            "不是 geo-service 备份文件（不是完整的 zip 文件）",
            "Not a geo-service backup file (not a whole zip file)",
            field="file",
        ) from None
    with zf:
        members = _Members(zf, settings.max_upload_bytes * EXPANSION)
        if "manifest.json" not in members.names:
            raise InvalidInput(
                "不是 geo-service 备份文件（缺少 manifest.json）",
                "Not a geo-service backup file (no manifest.json)",
                field="file",
            )
        manifest = members.json("manifest.json")
        names = _layer_names(manifest)
        declarations = _declarations(manifest, members, names)
        specs = {name: _declared(name, text) for name, text in declarations.items()}
        differing = tuple(n for n, spec in specs.items() if n in catalog and not _same(spec, catalog[n]))
        unknown = [n for n in names if n not in catalog]
        if unknown:
            catalog = _adopted(catalog, unknown, specs, adopt=adopt, settings=settings)
        layers: dict[str, tuple[Feature, ...]] = {}
        history: list[Change] = []
        for name in names:
            member = f"layers/{name}.json"
            with _in(member):
                layers[name] = _features(catalog[name], members.json(member), member, settings)
            member = f"history/{name}.json"
            with _in(member):
                history += _changes(name, members.json(member), member)
        with _in("documents.json"):
            documents = _documents(members.json("documents.json"))
        accounts = (
            checked_accounts(members.json("accounts.json")) if "accounts.json" in members.names else None
        )
        rules = members.raw(RULES_MEMBER) if RULES_MEMBER in members.names else None
    return Backup(
        layers,
        tuple(history),
        tuple(documents),
        accounts,
        rules,
        declarations=declarations,
        catalog=catalog,
        adopted=tuple(unknown),
        differing=differing,
    )


def _declarations(manifest: Mapping[str, Any], members: _Members, names: list[str]) -> dict[str, bytes]:
    """The declaration files the backup carries for its layers, by layer (none for an older backup)."""
    listed = manifest.get("declarations", [])
    if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
        raise _bad(
            "manifest.json", "图层声明列表 declarations 应为图层名列表", "'declarations' should list layers"
        )
    return {n: members.raw(declaration_member(n)) for n in listed if n in names}


def _declared(layer: str, text: bytes) -> LayerSpec:
    """The backup's declaration of ``layer``, checked as a declaration file is at start."""
    member = declaration_member(layer)
    try:
        spec = parse_layer(text.decode("utf-8"), Path(member))
    except UnicodeDecodeError:
        raise _bad(member, "不是 UTF-8 文本", "is not UTF-8 text", layer=layer) from None
    except BadDeclaration as exc:
        raise _bad(member, exc.zh, exc.en, layer=layer) from None
    if spec.name != layer:
        raise _bad(member, f"声明的是图层 {spec.name}", f"declares layer {spec.name}", layer=layer)
    return spec


def _same(a: LayerSpec, b: LayerSpec) -> bool:
    """Whether two declarations declare the same layer (wherever their files lie)."""
    return replace(a, source=None) == replace(b, source=None)


def _adopted(
    catalog: Catalog, unknown: list[str], specs: Mapping[str, LayerSpec], *, adopt: bool, settings: Settings
) -> Catalog:
    """``catalog`` with the backup's declarations of the layers it does not declare, or the refusal."""
    lacking = [n for n in unknown if n not in specs]
    if lacking:  # an older backup: nothing to declare them by
        raise InvalidInput(
            f"备份中的图层 {lacking} 在本服务中未声明，备份中也没有其声明",
            f"Layers {lacking} of the backup are not declared, and the backup carries no declaration of them",
            layer=lacking[0],
            field="file",
        )
    if not adopt:
        files = "、".join(declaration_member(n) for n in unknown)
        raise InvalidInput(
            f"备份中的图层 {unknown} 在本服务中未声明（其声明在备份 zip 的 {files} 中）：请用命令行 "
            f"geo-service backup restore 恢复（会把声明装入 {settings.layers_dir}），或把声明放入该目录、重启服务后再恢复",
            f"Layers {unknown} of the backup are not declared by this service (their declarations are in the "
            f"zip: {', '.join(declaration_member(n) for n in unknown)}): restore it with geo-service backup "
            f"restore, which installs them into {settings.layers_dir}, or put them there and restart the "
            "service before restoring",
            layer=unknown[0],
            field="file",
        )
    try:
        return with_layers(catalog, [specs[n] for n in unknown])
    except BadDeclaration as exc:  # names a layer or field this machine does not have
        raise _bad("declarations/", exc.zh, exc.en, layer=unknown[0]) from None


def _layer_names(manifest: Any) -> list[str]:
    """The layers the manifest lists (whether this machine declares them is asked after)."""
    if not isinstance(manifest, Mapping):
        raise _bad("manifest.json", "应为对象", "should be an object")
    if manifest.get("format") != FORMAT:
        raise InvalidInput(
            f"备份格式 {manifest.get('format')} 不受支持",
            f"Backup format {manifest.get('format')} is not supported",
            field="file",
        )
    names = manifest.get("layers")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _bad("manifest.json", "缺少图层列表 layers", "has no list of layers ('layers')")
    if len(set(names)) != len(names):
        raise _bad("manifest.json", "图层列表中有重复", "names a layer twice")
    return names


def _whole(value: Any, *, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{value!r} is not a whole number from {least}")
    return value


def _features(spec: LayerSpec, items: Any, member: str, settings: Settings) -> tuple[Feature, ...]:
    """The layer's features, each checked as a write of it would be; ids once each."""
    if not isinstance(items, list):
        raise _bad(member, "应为要素列表", "should be a list of features", layer=spec.name)
    out, seen = [], set()
    for n, item in enumerate(items, 1):
        fid = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(fid, bool) or not isinstance(fid, int) or fid < 1:
            raise _bad(
                member, f"第 {n} 个要素没有有效的编号 id", f"feature {n} has no valid id", layer=spec.name
            )
        if fid in seen:
            raise _bad(
                member,
                f"要素编号 {fid} 出现了两次",
                f"feature id {fid} occurs twice",
                layer=spec.name,
                feature=fid,
            )
        seen.add(fid)
        props = item["properties"]
        if not isinstance(props, Mapping):
            raise _bad(
                member, "要素属性应为对象", "properties should be an object", layer=spec.name, feature=fid
            )
        declared = {f.name: props.get(f.name) for f in spec.fields}
        spec.validate_properties(declared, feature=fid)
        geometry = item["geometry"]
        if spec.is_table:
            if geometry is not None:
                raise _bad(
                    member,
                    "属性表的要素不应有几何",
                    "a table's row has a geometry",
                    layer=spec.name,
                    feature=fid,
                )
            shape = None
        else:
            shape = geometry_from_geojson(geometry, feature=fid)
            validate_geometry(
                spec, shape, max_vertices=settings.max_vertices, feature=fid, bounds=settings.service_bounds
            )
        values = {f.name: from_storage(f, declared[f.name]) for f in spec.fields}
        out.append(Feature(spec.name, fid, values, shape, _whole(item["version"])))
    return tuple(out)


def _moment(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a moment")
    return dt.datetime.fromisoformat(value)


def _state(value: Any) -> Any:
    """A history entry's before or after: None, or a feature state with its properties."""
    if value is not None and not (
        isinstance(value, Mapping) and isinstance(value.get("properties"), Mapping)
    ):
        raise ValueError(f"{value!r:.80} is not a feature state")
    return value


def _text(value: Any, *, blank: bool = True) -> str:
    if not isinstance(value, str) or (not blank and not value):
        raise ValueError(f"{value!r:.80} is not text")
    return value


def _changes(layer: str, items: Any, member: str) -> list[Change]:
    if not isinstance(items, list):
        raise _bad(member, "应为历史记录列表", "should be a list of changes", layer=layer)
    return [
        Change(
            layer,
            _whole(c["feature"]),
            _whole(c["version"]),
            _text(c["op"], blank=False),
            _text(c["actor"]),
            _moment(c["at"]),
            _state(c["before"]),
            _state(c["after"]),
            None if c["reason"] is None else _text(c["reason"]),
        )
        for c in items
    ]


def _documents(items: Any) -> list[Document]:
    if not isinstance(items, list):
        raise _bad("documents.json", "应为文档列表", "should be a list of documents")
    out, seen = [], set()
    for d in items:
        doc = Document(
            _text(d["kind"], blank=False),
            _text(d["key"], blank=False),
            _moment(d["created_at"]),
            _text(d["actor"]),
            d["body"],
        )
        if not isinstance(doc.body, Mapping):
            raise ValueError(f"the body of {doc.kind} {doc.key} is not an object")
        if (doc.kind, doc.key) in seen:
            raise _bad(
                "documents.json",
                f"文档 {doc.kind}/{doc.key} 出现了两次",
                f"{doc.kind}/{doc.key} occurs twice",
            )
        seen.add((doc.kind, doc.key))
        out.append(doc)
    return out
