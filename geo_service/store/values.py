"""Field values in their stored and JSON forms, and batch helpers: what the stores share."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from geo_service.catalog import FieldSpec, LayerSpec
from geo_service.errors import Conflict, NotFound
from geo_service.store.base import Change, Feature, NewFeature

__all__ = [
    "check_expected",
    "check_layer_version",
    "check_version",
    "created_features",
    "from_snapshot",
    "from_storage",
    "highest_id",
    "json_value",
    "no_document",
    "paused_gc",
    "plan_replacement",
    "recorded_snapshot",
    "refuse_repeats",
    "same_geometry",
    "snapshot",
    "to_storage",
    "unchanged",
    "which_stay",
]

_TZ = ZoneInfo("Asia/Shanghai")


def check_version(current: Feature, expected: int) -> None:
    """``Conflict`` (409) when a write names a version the feature no longer has."""
    if current.version != expected:
        raise Conflict(
            f"图层 {current.layer} 的要素 {current.id} 已被他人修改：当前版本 {current.version}，"
            f"请求基于版本 {expected}",
            f"Feature {current.id} of layer {current.layer} was changed by someone else: current version "
            f"{current.version}, request based on version {expected}",
            layer=current.layer,
            feature=current.id,
            details={"current_version": current.version, "expected_version": expected},
        )


def unchanged(spec: LayerSpec, current: Feature, new: NewFeature) -> bool:
    """Whether writing ``new`` over ``current`` would change nothing: the same values (as the history
    records them) and the same geometry to about a millimetre (1e-8°: our CSV export writes coordinates
    to 8 decimals)."""
    if snapshot(spec, current.properties, None) != snapshot(spec, new.properties, None):
        return False
    if current.geometry is None or new.geometry is None:
        return current.geometry is None and new.geometry is None
    return same_geometry(current.geometry, new.geometry)


def same_geometry(a: BaseGeometry, b: BaseGeometry, tolerance: float = 1e-8) -> bool:
    """Whether two geometries are the same to ``tolerance`` degrees (1e-8°: about a millimetre),
    whichever way their rings run and wherever they start (as a file read back may give them)."""
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance))


def plan_replacement(
    spec: LayerSpec,
    features: Sequence[NewFeature],
    ids: Sequence[int | None] | None,
    expected: Mapping[int, int] | None,
    old: Mapping[int, Feature],
    deleted: Mapping[int, int] | None = None,
) -> tuple[dict[int, int], set[int], dict[int, int], list[NewFeature]]:
    """What a replacing batch does to the layer's features ``old`` (as the store's transaction reads
    them): each id it takes over → the index of its feature (see :func:`which_stay`), the ids of those
    left as they are, each deleted feature it brings back (``deleted``: id → its last version, for a
    batch that restores) → the index of its feature, and the features that are new. ``Conflict`` first
    when a feature taken over moved since its caller read it (:func:`check_expected`)."""
    check_expected(spec.name, expected, old)
    taken = which_stay(ids, len(features), old)
    same = {fid for fid, i in taken.items() if unchanged(spec, old[fid], features[i])}
    back = which_stay(ids, len(features), deleted or {})
    kept = set(taken.values()) | set(back.values())
    return taken, same, back, [feat for i, feat in enumerate(features) if i not in kept]


def which_stay(ids: Sequence[int | None] | None, n: int, stored: Iterable[int]) -> dict[int, int]:
    """For a replacing batch of ``n`` features naming ``ids`` (``None``: a new feature): each id that
    is stored now → the index of the feature that takes it over. An id named twice is taken by its first
    feature (the caller refuses repeats before); an id not stored gives a new feature."""
    if ids is None:
        return {}
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} features")
    present = set(stored)
    out: dict[int, int] = {}
    for i, fid in enumerate(ids):
        if fid is not None and fid in present:
            out.setdefault(int(fid), i)
    return out


def check_expected(layer: str, expected: Mapping[int, int] | None, current: Mapping[int, Feature]) -> None:
    """``Conflict`` when a feature a replacing batch takes over is no longer at the version its caller
    read (or is gone): another write came between the caller's reading and this one."""
    moved = sorted(
        fid for fid, v in (expected or {}).items() if fid not in current or current[fid].version != v
    )
    if moved:
        shown = ", ".join(map(str, moved[:20]))
        raise Conflict(
            f"图层 {layer} 的要素 {shown} 在导入期间被他人修改或删除；请重新导出后再导入",
            f"Feature(s) {shown} of layer {layer} were changed or deleted by someone else during the import; "
            "export again and import that",
            layer=layer,
            details={"features": moved},
        )


def check_layer_version(layer: str, expected: int | None, current: int) -> None:
    """``Conflict`` when a write that read the whole layer at version ``expected`` finds it at another
    (someone created, changed or deleted a feature meanwhile); nothing is written then."""
    if expected is not None and current != expected:
        raise Conflict(
            f"图层 {layer} 在此期间被他人修改（新增、修改或删除了要素），未写入任何改动；请重试",
            f"Layer {layer} was changed by someone else meanwhile (a feature created, changed or deleted); "
            "nothing was written: try again",
            layer=layer,
            details={"expected_layer_version": expected, "layer_version": current},
        )


def highest_id(layer: str, features: Sequence[Feature], history: Sequence[Change]) -> int:
    """The highest id a layer being restored has had: of its features, or in its history (a deleted
    feature's id must not go to a new one, or the deleted one could no longer be restored)."""
    ids = [f.id for f in features] + [c.feature_id for c in history if c.layer == layer]
    return max(ids, default=0)


def refuse_repeats(spec: LayerSpec, features: Sequence[NewFeature]) -> None:
    """``Conflict`` (409) for a batch in which a unique field's value occurs twice."""
    for f in spec.fields:
        if not f.unique:
            continue
        seen: set[Any] = set()
        for x in features:
            value = x.properties.get(f.name)
            if value is None:
                continue
            if value in seen:
                raise Conflict(
                    f"图层 {spec.name} 字段「{f.label()}」的值 {value} 在本批中重复",
                    f"Layer {spec.name}: '{f.name}' = {value} occurs twice in the batch",
                    layer=spec.name,
                    field=f.name,
                )
            seen.add(value)


def to_storage(field: FieldSpec, value: Any) -> Any:
    """The SQLite/GeoPackage form: dates and times as ISO text (+08:00), booleans as 0/1."""
    if value is None:
        return None
    if field.type == "boolean":
        return int(bool(value))
    if field.type == "date":
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if field.type == "datetime":
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=_TZ)
            return value.astimezone(_TZ).isoformat()
        return str(value)
    return value


def from_storage(field: FieldSpec, value: Any) -> Any:
    """Back from the stored form to the field's Python type."""
    if value is None:
        return None
    if field.type == "boolean":
        return bool(value)
    if field.type == "integer":
        return int(value)
    if field.type == "number":
        return float(value)
    if field.type == "date":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if field.type == "datetime":
        out = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        if out.tzinfo is None:
            out = out.replace(tzinfo=_TZ)
        return out.astimezone(_TZ)
    return value


def json_value(value: Any) -> Any:
    """A property value as JSON: dates and times in ISO 8601."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def snapshot(spec: LayerSpec, properties: Mapping[str, Any], geometry: BaseGeometry | None) -> dict[str, Any]:
    """A JSON-ready copy of a feature state for the history."""
    return {
        "properties": {f.name: json_value(properties.get(f.name)) for f in spec.fields},
        "geometry": None if geometry is None else mapping(geometry),
    }


def recorded_snapshot(
    spec: LayerSpec, properties: Mapping[str, Any], geometry: BaseGeometry | None
) -> dict[str, Any]:
    """:func:`snapshot` as the history reads it back once stored as JSON (coordinates as lists).

    For changes recorded without a copy of the state (the creates of a large batch), built from the
    stored feature. Equal to ``json.loads(json.dumps(snapshot(...)))``, without the round trip.
    """
    state = snapshot(spec, properties, geometry)
    if state["geometry"] is not None:
        state["geometry"] = _lists(state["geometry"])
    return state


def _lists(value: Any) -> Any:
    """A GeoJSON mapping with its coordinate tuples as lists, as JSON gives them back."""
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value


def from_snapshot(spec: LayerSpec, state: Mapping[str, Any]) -> NewFeature:
    """Rebuild a feature from a history snapshot."""
    props = {f.name: from_storage(f, state["properties"].get(f.name)) for f in spec.fields}
    geom = state.get("geometry")
    return NewFeature(props, None if geom is None else shapely.force_2d(shape(geom)))


@contextmanager
def paused_gc() -> Iterator[None]:
    """Hold off Python's cycle collector while a batch builds millions of objects.

    Each full collection walks every live object, and a large batch would set off many of them while it
    allocates its rows and features (none of which form cycles): about a fifth of a million-row import.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def created_features(layer: str, fids: Iterable[int], features: Sequence[NewFeature]) -> list[Feature]:
    """The features a batch create returns: each new feature at version 1."""
    return [
        Feature(layer, fid, dict(f.properties), f.geometry, 1) for fid, f in zip(fids, features, strict=True)
    ]


# what each kind of stored document is called, for messages
_DOCUMENT_KINDS = {"snow_plan": ("除雪方案", "snow plan"), "workspace": ("工作空间记录", "workspace record")}


def no_document(kind: str, key: str) -> NotFound:
    """The error for a document that is not stored, naming its kind as users call it."""
    zh, en = _DOCUMENT_KINDS.get(kind, (kind, kind))
    return NotFound(f"没有{zh}「{key}」", f"No {en} '{key}'", feature=key)
