"""Feature writes as units of work: parse, convert coordinates, validate, check, then store.

The API, the OGC API – Features routes and the CLI write features through these functions, and file
imports through :mod:`geo_service.imports`; both apply the same checks (:mod:`geo_service.write_checks`),
and the store is touched only once everything has passed (a refused write leaves it unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from geo_service.catalog import LayerSpec
from geo_service.crs import parse_crs, to_wgs84
from geo_service.errors import InvalidInput, PayloadTooLarge
from geo_service.geometry import CHINA_BOUNDS, geometry_from_geojson, validate_geometry
from geo_service.store.base import Feature, NewFeature
from geo_service.store.values import unchanged
from geo_service.workspace import Workspace
from geo_service.write_checks import (
    check_batch_spacing,
    check_districts,
    check_not_referenced,
    check_references,
    check_siting,
    checked_overrides,
    checks_held,
    noted_reason,
    siting_refusal,
)

__all__ = [
    "create_features",
    "delete_feature",
    "new_feature_from_geojson",
    "patch_feature",
    "replace_feature",
    "restore_feature",
]


def new_feature_from_geojson(
    spec: LayerSpec,
    obj: Any,
    *,
    source_crs: str | int = "EPSG:4326",
    max_vertices: int = 100_000,
    label: Any = None,
    partial: bool = False,
    bounds: tuple[float, float, float, float] = CHINA_BOUNDS,
) -> NewFeature:
    """A validated :class:`NewFeature` from a GeoJSON Feature (coordinates in ``source_crs``)."""
    if not isinstance(obj, Mapping) or obj.get("type") != "Feature":
        raise InvalidInput(
            "应为 GeoJSON Feature 对象", "Expected a GeoJSON Feature object", layer=spec.name, feature=label
        )
    props = obj.get("properties") or {}
    if not isinstance(props, Mapping):
        raise InvalidInput(
            "properties 应为对象", "'properties' must be an object", layer=spec.name, feature=label
        )
    misplaced = [
        k for k in obj if k in spec.field_names and k not in ("type", "id", "geometry", "properties")
    ]
    if misplaced:
        raise InvalidInput(
            f"字段「{misplaced[0]}」应放在 properties 中",
            f"Field '{misplaced[0]}' belongs under 'properties'",
            layer=spec.name,
            feature=label,
            field=misplaced[0],
        )
    if partial and not props and obj.get("geometry") is None:
        raise InvalidInput(
            "修改请求中没有属性或几何",
            "The patch changes no property and no geometry",
            layer=spec.name,
            feature=label,
        )
    properties = spec.validate_properties(props, partial=partial, feature=label)
    raw_geom = obj.get("geometry")
    geometry = None
    if spec.is_table:
        if raw_geom is not None:
            raise InvalidInput(
                f"图层 {spec.name} 为属性表，不接受几何",
                f"Layer {spec.name} is a table: no geometry",
                layer=spec.name,
                feature=label,
                field="geometry",
            )
    elif raw_geom is not None or not partial:
        if raw_geom is None:
            raise InvalidInput(
                "缺少几何", "The feature has no geometry", layer=spec.name, feature=label, field="geometry"
            )
        geometry = geometry_from_geojson(raw_geom, feature=label)
        crs = parse_crs(source_crs)
        geometry = to_wgs84([geometry], crs)[0]
        geometry = validate_geometry(spec, geometry, max_vertices=max_vertices, feature=label, bounds=bounds)
    return NewFeature(properties, geometry)


def create_features(
    ws: Workspace,
    layer: str,
    features: Sequence[Any],
    *,
    actor: str,
    source_crs: str | int = "EPSG:4326",
    override: Iterable[str] = (),
    reason: str | None = None,
    single: bool = False,
) -> list[Feature]:
    """Validate every GeoJSON Feature, then store them all or none. Refusals name the feature at fault
    by its position in ``features`` (``feature`` 0, 1, …), unless ``single``: the request was one
    Feature, not a collection, and has no positions to speak of."""
    spec = ws.catalog[layer]
    limit = ws.settings.max_features_per_request
    if len(features) > limit:
        raise PayloadTooLarge(
            f"一次最多写入 {limit} 个要素（收到 {len(features)} 个）",
            f"At most {limit} features per request ({len(features)} sent)",
            layer=layer,
        )
    news = [
        new_feature_from_geojson(
            spec,
            f,
            source_crs=source_crs,
            max_vertices=ws.settings.max_vertices,
            bounds=ws.settings.service_bounds,
            label=None if single else i,
        )
        for i, f in enumerate(features)
    ]
    labels: list[int | None] = [None] * len(news) if single else list(range(len(news)))
    overrides = checked_overrides(ws, spec, override, reason)
    with checks_held(ws, spec):
        check_references(ws, spec, news, labels)
        check_districts(ws, spec, news, labels)
        for i, feat in enumerate(news):
            check_siting(ws, spec, feat, exclude_id=None, override=overrides, reason=reason, label=labels[i])
        check_batch_spacing(ws, spec, news, labels, overrides)
        return ws.store.create_features(layer, news, actor=actor, reason=noted_reason(reason, overrides))


def _expected(ws: Workspace, layer: str, fid: int, expected_version: int | None) -> int:
    """The version the write is based on: the one the client names, or the current one."""
    current = ws.store.get_feature(layer, fid)
    return current.version if expected_version is None else int(expected_version)


def replace_feature(
    ws: Workspace,
    layer: str,
    fid: int,
    obj: Any,
    *,
    actor: str,
    expected_version: int | None = None,
    source_crs: str | int = "EPSG:4326",
    override: Iterable[str] = (),
    reason: str | None = None,
) -> Feature:
    """PUT: the feature becomes exactly ``obj``."""
    return _update(ws, layer, fid, obj, False, actor, expected_version, source_crs, override, reason)


def patch_feature(
    ws: Workspace,
    layer: str,
    fid: int,
    obj: Any,
    *,
    actor: str,
    expected_version: int | None = None,
    source_crs: str | int = "EPSG:4326",
    override: Iterable[str] = (),
    reason: str | None = None,
) -> Feature:
    """PATCH: change the given properties (and the geometry, if given)."""
    return _update(ws, layer, fid, obj, True, actor, expected_version, source_crs, override, reason)


def _update(
    ws: Workspace,
    layer: str,
    fid: int,
    obj: Any,
    partial: bool,
    actor: str,
    expected_version: int | None,
    source_crs: str | int,
    override: Iterable[str],
    reason: str | None,
) -> Feature:
    """A new version of a feature: ``obj`` whole, or (``partial``) merged into the current one; checked
    against the siting rules before it is written."""
    spec = ws.catalog[layer]
    current = ws.store.get_feature(layer, fid)
    expected = current.version if expected_version is None else int(expected_version)
    if partial and isinstance(obj, Mapping) and "type" not in obj:
        obj = {"type": "Feature", **obj}
    new = new_feature_from_geojson(
        spec,
        obj,
        source_crs=source_crs,
        max_vertices=ws.settings.max_vertices,
        bounds=ws.settings.service_bounds,
        label=fid,
        partial=partial,
    )
    written = list(new.properties) if partial else None
    if partial:
        merged = spec.validate_properties({**current.properties, **new.properties}, feature=fid)
        new = NewFeature(merged, new.geometry if new.geometry is not None else current.geometry)
    if expected == current.version and unchanged(spec, current, new):
        # nothing to change: no new version (it would make everyone's export of the feature stale), no
        # history entry; a stale version is still refused below, and a wrong override here
        checked_overrides(ws, spec, override, reason)
        return current
    with checks_held(ws, spec):
        check_references(ws, spec, [new], [fid], only=written)
        check_not_referenced(ws, spec, current.properties, new.properties)
        check_districts(ws, spec, [new], [fid])
        check_siting(ws, spec, new, exclude_id=fid, override=override, reason=reason, label=fid)
        noted = noted_reason(reason, override)
        return ws.store.update_feature(layer, fid, new, expected_version=expected, actor=actor, reason=noted)


def delete_feature(
    ws: Workspace,
    layer: str,
    fid: int,
    *,
    actor: str,
    expected_version: int | None = None,
    reason: str | None = None,
) -> None:
    """Delete (kept in history; restorable); refused while features of other layers name it (the crews
    of a depot, the shifts of a beat). ``reason``, why it is deleted, is kept in the history; it may be
    left out (QGIS sends none), but one given blank is refused (the planner's map always asks for it)."""
    if reason is not None and not reason.strip():
        raise InvalidInput(
            "删除理由不能为空：请写明为何删除",
            "The reason for deleting is blank: say why it is deleted",
            layer=layer,
            feature=fid,
            field="reason",
        )
    expected = _expected(ws, layer, fid, expected_version)
    with checks_held(ws, ws.catalog[layer]):
        check_not_referenced(ws, ws.catalog[layer], ws.store.get_feature(layer, fid).properties, None)
        ws.store.delete_feature(
            layer, fid, expected_version=expected, actor=actor, reason=reason.strip() if reason else None
        )


def restore_feature(
    ws: Workspace,
    layer: str,
    fid: int,
    *,
    actor: str,
    reason: str | None = None,
    override: Iterable[str] = (),
) -> Feature:
    """Bring a deleted feature back as it was, checked like a create: its properties against the layer's
    declaration, what it names (a crew whose depot was deleted after it is refused), its district and,
    for a site, the siting rules as they stand now (a site drawn on its spot since it was deleted is a
    neighbour). ``override`` and ``reason`` accept an approved exception, as on create; the reason is
    kept in the history."""
    spec = ws.catalog[layer]
    overrides = checked_overrides(ws, spec, override, reason)
    with checks_held(ws, spec):
        last = ws.store.history(layer, fid, limit=1)
        if last and last[0].op == "delete" and last[0].before:
            state = _restored_state(ws, spec, last[0].before, fid)
            check_references(ws, spec, [state], [fid])
            check_districts(ws, spec, [state], [fid])
            refusal = siting_refusal(ws, spec, state, exclude_id=fid, override=overrides, label=fid)
            if refusal is not None:
                raise refusal
        return ws.store.restore_feature(layer, fid, actor=actor, reason=noted_reason(reason, overrides))


def _restored_state(ws: Workspace, spec: LayerSpec, before: Mapping[str, Any], fid: int) -> NewFeature:
    """The state a restore brings back (a history snapshot), validated as a create would be."""
    from shapely.geometry import shape

    properties = spec.validate_properties(before.get("properties") or {}, feature=fid)
    geometry = None
    if not spec.is_table and before.get("geometry") is not None:
        geometry = validate_geometry(
            spec,
            shape(before["geometry"]),
            max_vertices=ws.settings.max_vertices,
            bounds=ws.settings.service_bounds,
            feature=fid,
        )
    return NewFeature(properties, geometry)
