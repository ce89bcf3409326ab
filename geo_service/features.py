"""Feature writes as units of work: parse, convert coordinates, validate, check siting, then store.

The API, the OGC API – Features routes, file imports and the CLI all write through these functions, so
every path applies the same checks, and the store is touched only once everything has passed (a
refused write leaves it unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from geo_service.catalog import LayerSpec
from geo_service.crs import parse_crs, to_wgs84
from geo_service.errors import Conflict, InvalidInput, PayloadTooLarge
from geo_service.exported import EXPORTED_AT, added_since, exported_at, refuse_added
from geo_service.geometry import CHINA_BOUNDS, geometry_from_geojson, validate_geometry
from geo_service.store.base import Feature, NewFeature
from geo_service.store.values import same_geometry, unchanged
from geo_service.workspace import Workspace

__all__ = [
    "REFERENCES_LOCK",
    "create_features",
    "delete_feature",
    "import_frame",
    "new_feature_from_geojson",
    "patch_feature",
    "replace_feature",
    "restore_feature",
]


#: the store lock (``Store.exclusive``) held by every check of a reference together with its write
REFERENCES_LOCK = "references"
#: the store lock held by every siting check of a write together with the write
SITING_LOCK = "siting"


def _checked_overrides(
    ws: Workspace, spec: LayerSpec, override: Iterable[str], reason: str | None
) -> set[str]:
    """The siting rules a write overrides, refused when one is unknown or no reason is given."""
    override = set(override)
    if not override:
        return override
    if not spec.siting:
        raise InvalidInput(
            f"图层 {spec.name} 不适用选址规则，不能越过规则（override）",
            f"Siting rules do not apply to layer {spec.name}: nothing to override",
            layer=spec.name,
            field="override",
        )
    from geo_service.siting import siting_context
    from geo_service.siting.checker import DISTRICT_RULE

    known = set(siting_context(ws).rules.ids)
    if DISTRICT_RULE in override and DISTRICT_RULE not in known:  # reported as a rule, but not one to waive
        raise InvalidInput(
            "所属区检查不能越过：请改正所属区字段或位置",
            "The district check cannot be overridden: correct the district field or the position",
            layer=spec.name,
            field="override",
        )
    unknown = sorted(override - known - {"*"})
    if unknown:
        raise InvalidInput(
            f"没有编号为「{unknown[0]}」的选址规则（现有：{'、'.join(sorted(known))}）",
            f"No siting rule '{unknown[0]}' (rules: {', '.join(sorted(known))})",
            layer=spec.name,
            field="override",
        )
    if not (reason and reason.strip()):
        raise InvalidInput(
            "越过选址规则必须填写理由",
            "Overriding a siting rule needs a reason",
            layer=spec.name,
            field="reason",
        )
    return override


def _siting_refusal(
    ws: Workspace,
    spec: LayerSpec,
    feature: NewFeature,
    *,
    exclude_id: int | None,
    override: set[str],
    label: Any = None,
    exclude_layer: bool = False,
) -> InvalidInput | None:
    """The refusal of a stall-site or festival-point write that breaks a siting rule not overridden
    (``exclude_layer``: the layer's stored sites are being replaced, so they are no neighbours); None
    when it passes. The district is left to :func:`_district_refusals`, which no override passes."""
    if not spec.siting or not _judged(feature):
        return None
    from geo_service.siting import check_on_write
    from geo_service.siting.checker import DISTRICT_RULE

    report = check_on_write(
        ws,
        spec.name,
        feature.geometry,
        feature.properties,
        exclude_id=exclude_id,
        override_rules=override,
        exclude_layer=exclude_layer,
    )
    everything = "*" in override
    blocking = [
        v
        for v in report.violations
        if v.rule_id != DISTRICT_RULE and v.rule_id not in override and not everything
    ]
    unchecked = [u for u in report.unchecked if u["rule"] not in override and not everything]
    return _refusal(spec, blocking, unchecked, label)


def _judged(feature: NewFeature) -> bool:
    """Whether the siting rules judge a site as written: not while it is closed or suspended (closing a
    site, or pausing it, breaks no rule; reopening it is judged then)."""
    return str(feature.properties.get("status") or "open") not in ("suspended", "closed")


def _check_siting(
    ws: Workspace,
    spec: LayerSpec,
    feature: NewFeature,
    *,
    exclude_id: int | None,
    override: Iterable[str],
    reason: str | None,
    label: Any = None,
) -> None:
    """Refuse a site write that breaks a siting rule not overridden (with a reason)."""
    overrides = _checked_overrides(ws, spec, override, reason)
    refusal = _siting_refusal(ws, spec, feature, exclude_id=exclude_id, override=overrides, label=label)
    if refusal is not None:
        raise refusal


def _refusal(
    spec: LayerSpec, blocking: Sequence[Any], unchecked: Sequence[Mapping[str, str]], label: Any
) -> InvalidInput | None:
    if not (blocking or unchecked):
        return None
    first_zh = blocking[0].message_zh if blocking else unchecked[0]["reason_zh"]
    first_en = blocking[0].message_en if blocking else unchecked[0]["reason_en"]
    return InvalidInput(
        f"不符合选址规则或无法检查（{len(blocking) + len(unchecked)} 项），如：{first_zh}",
        f"Breaks or cannot be checked against {len(blocking) + len(unchecked)} siting rule(s), e.g.: {first_en}",
        layer=spec.name,
        feature=label,
        details={"violations": [v.as_dict() for v in blocking], "unchecked": list(unchecked)},
    )


def _batch_spacing_refusals(
    ws: Workspace, spec: LayerSpec, news: Sequence[NewFeature], labels: Sequence[Any], override: set[str]
) -> dict[int, InvalidInput]:
    """Position in ``news`` → the refusal of a site closer to an earlier site of the same write than the
    spacing rules allow. Closed and suspended sites are neither judged nor judged against, as a single
    write of one is not (see :func:`_judged`)."""
    if not spec.siting:
        return {}
    judged = [k for k, f in enumerate(news) if _judged(f)]
    if len(judged) < 2:
        return {}
    from geo_service.siting import siting_context
    from geo_service.siting.checker import batch_spacing

    names = [news[k].properties.get("name") or labels[k] for k in judged]
    found = batch_spacing(siting_context(ws), spec.name, [news[k].geometry for k in judged], names)
    found = [(judged[i], v) for i, v in found if v.rule_id not in override and "*" not in override]
    out = {}
    for i in dict.fromkeys(i for i, _ in found):
        refusal = _refusal(spec, [v for k, v in found if k == i], [], labels[i])
        if refusal is not None:
            out[i] = refusal
    return out


def _check_batch_spacing(
    ws: Workspace, spec: LayerSpec, news: Sequence[NewFeature], labels: Sequence[Any], override: Iterable[str]
) -> None:
    """Refuse a write of several sites that are closer to each other than the spacing rules allow."""
    refusals = _batch_spacing_refusals(ws, spec, news, labels, set(override))
    if refusals:
        raise refusals[min(refusals)]


def _district_refusals(
    ws: Workspace, spec: LayerSpec, news: Sequence[NewFeature], labels: Sequence[Any]
) -> dict[int, InvalidInput]:
    """Position in ``news`` → the refusal of a feature that does not lie in the district its
    ``district`` field names (or lies outside every district): for every layer with such a field, once
    the workspace has districts. No override passes it: the field is corrected, not excused."""
    if spec.name == "districts" or "district" not in spec.field_names or "districts" not in ws.catalog:
        return {}
    which = [
        i
        for i, f in enumerate(news)
        if f.geometry is not None and (f.properties.get("district") is not None or spec.siting)
    ]
    if not which:
        return {}
    from geo_service.districts import DistrictIndex

    crs = ws.settings.metric_crs
    index = ws.cached(
        f"districts:{crs}",
        ("districts",),
        lambda: DistrictIndex.build(ws.frame("districts"), crs=crs),
        family="districts",
    )
    if not len(index):
        return {}
    out = {}
    placements = index.place([news[i].geometry for i in which])
    for i, placement in zip(which, placements, strict=True):
        named = news[i].properties.get("district")
        wrong = index.mismatch(placement, None if named is None else str(named))
        if wrong is not None:
            out[i] = InvalidInput(
                f"所在城区不符：{wrong[0]}",
                f"Wrong district: {wrong[1]}",
                layer=spec.name,
                feature=labels[i],
                field="district",
                details={"district_found": placement.district},
            )
    return out


def _check_districts(
    ws: Workspace, spec: LayerSpec, news: Sequence[NewFeature], labels: Sequence[Any]
) -> None:
    refusals = _district_refusals(ws, spec, news, labels)
    if refusals:
        raise refusals[min(refusals)]


def _reference_refusals(
    ws: Workspace,
    spec: LayerSpec,
    news: Sequence[NewFeature],
    labels: Sequence[Any],
    only: Iterable[str] | None = None,
) -> dict[int, InvalidInput]:
    """Position in ``news`` → the refusal of a feature whose field names a feature of another layer that
    does not exist (a crew's depot, a shift's beat): the ``references`` of the layer's declaration.
    ``only``: the fields written (a PATCH leaves the others as they were)."""
    written = None if only is None else set(only)
    out: dict[int, InvalidInput] = {}
    for f in spec.fields:
        if not f.references or (written is not None and f.name not in written):
            continue
        target, _, key = f.references.partition(".")
        known = None
        for i, (feat, label) in enumerate(zip(news, labels, strict=True)):
            value = feat.properties.get(f.name)
            if value is None or i in out:
                continue
            if known is None:
                known = {str(v) for v in ws.frame(target)[key].dropna()}
            if str(value) not in known:
                shown = "、".join(sorted(known)[:10]) or "（无）"
                out[i] = InvalidInput(
                    f"字段 {f.name} 的值「{value}」不是已有的 {f.references}（如：{shown}）",
                    f"Field '{f.name}' is '{value}', which is no {f.references} "
                    f"(e.g. {', '.join(sorted(known)[:10]) or 'none'})",
                    layer=spec.name,
                    feature=label,
                    field=f.name,
                )
    return out


def _check_references(
    ws: Workspace,
    spec: LayerSpec,
    news: Sequence[NewFeature],
    labels: Sequence[Any],
    only: Iterable[str] | None = None,
) -> None:
    """Refuse a write whose field names a feature of another layer that does not exist."""
    refusals = _reference_refusals(ws, spec, news, labels, only)
    if refusals:
        raise refusals[min(refusals)]


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
    overrides = _checked_overrides(ws, spec, override, reason)
    with _checks_held(ws, spec):
        _check_references(ws, spec, news, labels)
        _check_districts(ws, spec, news, labels)
        for i, feat in enumerate(news):
            _check_siting(ws, spec, feat, exclude_id=None, override=overrides, reason=reason, label=labels[i])
        _check_batch_spacing(ws, spec, news, labels, overrides)
        return ws.store.create_features(layer, news, actor=actor, reason=reason)


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
        _checked_overrides(ws, spec, override, reason)
        return current
    with _checks_held(ws, spec):
        _check_references(ws, spec, [new], [fid], only=written)
        _check_not_referenced(ws, spec, current.properties, new.properties)
        _check_districts(ws, spec, [new], [fid])
        _check_siting(ws, spec, new, exclude_id=fid, override=override, reason=reason, label=fid)
        return ws.store.update_feature(layer, fid, new, expected_version=expected, actor=actor, reason=reason)


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
    of a depot, the shifts of a beat)."""
    expected = _expected(ws, layer, fid, expected_version)
    with _checks_held(ws, ws.catalog[layer]):
        _check_not_referenced(ws, ws.catalog[layer], ws.store.get_feature(layer, fid).properties, None)
        ws.store.delete_feature(layer, fid, expected_version=expected, actor=actor, reason=reason)


def _check_not_referenced(
    ws: Workspace, spec: LayerSpec, before: Mapping[str, Any], after: Mapping[str, Any] | None
) -> None:
    """Refuse removing (``after`` None) or renaming a key that features of other layers still name."""
    for other, field, key in _referrers(ws, spec.name):
        if before.get(key) is None or (after is not None and after.get(key) == before.get(key)):
            continue
        frame = ws.frame(other)
        users = frame[frame[field].astype(str) == str(before[key])]
        if len(users):
            o_spec, f_spec = ws.catalog[other], ws.catalog[other].field(field)
            ids = [int(i) for i in users.index[:20]]  # which ones: a dispatcher goes to them next
            shown = ", ".join(map(str, ids)) + ("…" if len(users) > len(ids) else "")
            raise Conflict(
                f"{o_spec.title.get('zh') or other}（{other}）中仍有 {len(users)} 个要素（{shown}）的"
                f"「{f_spec.label('zh')}」为「{before[key]}」，请先修改它们",
                f"{len(users)} feature(s) of {other} ({shown}) still have {field} '{before[key]}'; change them "
                "first",
                layer=spec.name,
                field=key,
                details={"referrers": {"layer": other, "ids": ids}},
            )
    for outside in ws.outside_referrers:
        old = before.get(outside.key)
        if outside.layer != spec.name or old is None or (after is not None and after.get(outside.key) == old):
            continue
        holders = list(outside.holders(str(old)))
        if holders:
            raise Conflict(
                f"{outside.title['zh']}仍指向{spec.field(outside.key).label('zh')}「{old}」：{'、'.join(holders)}；"
                "请先修改它们",
                f"{outside.title['en']} still name {outside.key} '{old}': {', '.join(holders)}; change them first",
                layer=spec.name,
                field=outside.key,
                details={"holders": holders},
            )


@contextmanager
def _checks_held(ws: Workspace, spec: LayerSpec) -> Iterator[None]:
    """The store's locks that a write holds across its checks and its write, so that no other write
    slips in between:

    - for a layer that names features of others (a crew its depot) or is named by them, the
      references lock: otherwise a crew could be given a depot while another request deletes it, both
      checks passing (helper-23 saw it on both stores);
    - for a layer with siting rules, the siting lock: otherwise two planners saving neighbouring sites
      at the same moment could both pass ``site-spacing``.

    Always taken in that order, so two writes never wait for each other's second lock."""
    with ExitStack() as held:
        if (
            any(f.references for f in spec.fields)
            or _referrers(ws, spec.name)
            or any(r.layer == spec.name for r in ws.outside_referrers)
        ):
            held.enter_context(ws.store.exclusive(REFERENCES_LOCK))
        if spec.siting:
            held.enter_context(ws.store.exclusive(SITING_LOCK))
        yield


def _referrers(ws: Workspace, layer: str) -> list[tuple[str, str, str]]:
    """(other layer, its field, this layer's key field) for each field declared to reference ``layer``."""
    out = []
    for other in ws.catalog.values():
        for f in other.fields:
            target, _, key = (f.references or "").partition(".")
            if target == layer:
                out.append((other.name, f.name, key))
    return out


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
    overrides = _checked_overrides(ws, spec, override, reason)
    with _checks_held(ws, spec):
        last = ws.store.history(layer, fid, limit=1)
        if last and last[0].op == "delete" and last[0].before:
            state = _restored_state(ws, spec, last[0].before, fid)
            _check_references(ws, spec, [state], [fid])
            _check_districts(ws, spec, [state], [fid])
            refusal = _siting_refusal(ws, spec, state, exclude_id=fid, override=overrides, label=fid)
            if refusal is not None:
                raise refusal
        return ws.store.restore_feature(layer, fid, actor=actor, reason=reason)


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


#: at most this many failing rows are described one by one in an import's refusal (all are counted)
MAX_ROWS_REPORTED = 1000


def import_frame(
    ws: Workspace,
    layer: str,
    frame: gpd.GeoDataFrame | pd.DataFrame,
    *,
    actor: str,
    mode: str = "append",
    override: Iterable[str] = (),
    reason: str | None = None,
    check_siting: bool = True,
    restore: bool = False,
    expected_layer_version: int | None = None,
) -> Imported:
    """Validate every row of a frame (EPSG:4326) and store all or none. Returns what was done.

    ``mode`` is ``append`` or ``replace``. A replacing file's ``fid`` column (as our exports write it)
    keeps features' ids: a row whose ``fid`` is in the layer becomes that feature's next version (or
    leaves it alone when nothing changed), so ids noted elsewhere (a closed road, a locked bridge) and
    each feature's history go on; the layer's features the file does not name go to history as deleted,
    and rows without a ``fid`` are new features. A row naming an id the layer does not have (a deleted
    feature, another layer's) is refused, and so is one whose ``_version`` (as exported) is no longer the
    feature's: someone changed it since the export (409 when that is all that is wrong). Appended rows
    get new ids; one naming a feature the layer has is refused (it would be a second copy). ``override`` and
    ``reason`` accept approved exceptions to siting rules for the rows of the file, as on create (the
    reason is kept in the history of every feature written). A refused file is refused whole, naming
    every failing row (1-based, the header not counted) with what is wrong with it.

    ``restore`` (replace only; a layer put back to an earlier moment, see :mod:`geo_service.rewind`): a
    ``fid`` of a deleted feature brings that feature back under its id instead of being refused.
    ``expected_layer_version`` (replace only): the layer's version when the caller read the whole of it;
    a write since is a ``Conflict`` and nothing is written.
    """
    spec = ws.catalog[layer]
    if mode not in ("append", "replace"):
        raise InvalidInput(
            f"导入方式「{mode}」无效，应为 append 或 replace",
            f"Import mode '{mode}' must be append or replace",
            layer=layer,
            field="mode",
        )
    if len(frame) == 0 and not restore:  # a layer put back to before its first feature is empty
        raise InvalidInput("文件中没有要素", "The file holds no features", layer=layer)
    if mode == "replace" and "id" in frame.columns and "fid" not in frame.columns:
        raise InvalidInput(
            "文件有 id 列而没有 fid 列：如是本图层的要素编号，请把列名改为 fid；否则请删去 id 列",
            "The file has an 'id' column and no 'fid': if these are the layer's feature ids, name the column "
            "fid; else leave it out",
            layer=layer,
            field="id",
        )
    columns = [c for c in frame.columns if c not in ("geometry", "fid", "id", "_version", EXPORTED_AT)]
    unknown = [c for c in columns if c not in spec.field_names]
    if unknown:
        raise InvalidInput(
            f"图层 {layer} 没有字段「{unknown[0]}」（可用字段：{', '.join(spec.field_names)}）",
            f"Layer {layer} has no field '{unknown[0]}' (fields: {', '.join(spec.field_names)})",
            layer=layer,
            field=unknown[0],
        )
    overrides = _checked_overrides(ws, spec, override, reason) if check_siting else set()
    # a GeoJSON file of a table layer (every geometry null) reads as a GeoDataFrame with no active geometry
    has_geom = isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name in frame.columns
    records = frame[columns].astype(object).where(frame[columns].notna(), None).to_dict("records")
    geoms = list(frame.geometry) if has_geom else [None] * len(frame)
    problems: dict[int, list[InvalidInput]] = {}  # row number → what is wrong with it
    file_ids = _whole_numbers(frame, "fid", layer, problems, unique=True)
    versions = _whole_numbers(frame, "_version", layer, problems, unique=False)
    moment = exported_at(frame, layer, problems)
    news: list[NewFeature] = []
    rows: list[int] = []  # the row number of each of news
    for i, (props, geom) in enumerate(zip(records, geoms, strict=True)):
        label = f"row {i + 1}"
        try:
            properties = spec.validate_properties(spec.blanks_defaulted(props), feature=label)
            geometry = None
            if not spec.is_table:
                if geom is None:
                    raise InvalidInput(
                        f"第 {i + 1} 行缺少几何",
                        f"Row {i + 1} has no geometry",
                        layer=layer,
                        feature=label,
                        field="geometry",
                    )
                geometry = validate_geometry(
                    spec,
                    geom,
                    max_vertices=ws.settings.max_vertices,
                    bounds=ws.settings.service_bounds,
                    feature=label,
                )
        except InvalidInput as exc:
            problems.setdefault(i + 1, []).append(exc)
            continue
        news.append(NewFeature(properties, geometry))
        rows.append(i + 1)
    labels = [f"row {n}" for n in rows]
    # a replacing file with ids names the features it keeps: the layer's version read first, so that a
    # feature someone adds (or changes) while the import runs is not deleted by it: the store refuses
    seen = ws.store.layer_version(layer) if mode == "replace" and file_ids is not None else None
    stored = {f.id: f for f in ws.store.list_features(layer).features} if file_ids is not None else {}
    written = dict(zip(rows, news, strict=True))  # row number → its feature
    stale = _named_ids_refusals(spec, mode, file_ids, versions, stored, written, problems, restore=restore)
    clashes = _unique_refusals(ws, spec, mode, news, rows, problems)
    if mode == "replace" and file_ids is not None:
        # a row whose geometry is the stored one but for rounding keeps the stored one exactly
        for k, n in enumerate(rows):
            held = stored.get(file_ids[n - 1])  # type: ignore[arg-type]
            geometry = news[k].geometry
            if held is not None and held.geometry is not None and geometry is not None:
                news[k] = NewFeature(
                    news[k].properties, held.geometry if same_geometry(held.geometry, geometry) else geometry
                )

    # the rows that keep a stored feature as it is: no new version, and not judged again by the siting
    # rules (judged, or excused, when it was written)
    settled = _settled(spec, news, file_ids, rows, stored) if mode == "replace" else set()

    def note(refusals: Mapping[int, InvalidInput]) -> None:
        for k, exc in refusals.items():
            problems.setdefault(rows[k], []).append(exc)

    with _checks_held(ws, spec):
        note(_reference_refusals(ws, spec, news, labels))
        note(_district_refusals(ws, spec, news, labels))
        if check_siting:
            for k, feat in enumerate(news):
                if k in settled:
                    continue
                refusal = _siting_refusal(
                    ws,
                    spec,
                    feat,
                    exclude_id=None,
                    override=overrides,
                    label=labels[k],
                    exclude_layer=mode == "replace",
                )
                if refusal is not None:
                    problems.setdefault(rows[k], []).append(refusal)
            # settled rows first: a clash between one of them and a new row is the new row's
            order = sorted(range(len(news)), key=lambda k: k not in settled)
            spacing = _batch_spacing_refusals(
                ws, spec, [news[k] for k in order], [labels[k] for k in order], overrides
            )
            note({order[i]: refusal for i, refusal in spacing.items() if order[i] not in settled})
        if problems:
            refusal = _import_refusal(spec, problems, len(frame))
            if all(len(e) == 1 and id(e[0]) in stale | clashes for e in problems.values()):
                # only rows changed by someone since the export, or repeating a value that must be
                # unique: a conflict, as the store would say (naming the rows, which it cannot)
                raise Conflict(
                    refusal.zh,
                    refusal.en,
                    layer=layer,
                    feature=refusal.feature,
                    field=refusal.field,
                    details=refusal.details,
                )
            raise refusal
        if mode == "replace":  # keys other layers name must survive the replacement
            kept = [f.properties for f in news]
            keys = {key for _, _, key in _referrers(ws, layer)}
            keys |= {r.key for r in ws.outside_referrers if r.layer == layer}
            for key in keys:
                staying = {str(p.get(key)) for p in kept}
                for old in ws.frame(layer)[key].dropna().astype(str).unique():
                    if old not in staying:
                        _check_not_referenced(ws, spec, {key: old}, None)
            ids = None if file_ids is None else [file_ids[n - 1] for n in rows]
            named = {i for i in ids or () if i is not None and i in stored}
            if moment is not None and ids is not None:  # what the file never knew of is not deleted
                refuse_added(layer, moment, added_since(ws.store, layer, moment, stored, named))
            had = len(stored) if ids is not None else ws.store.count(layer)  # the layer's features
            expected = {i: stored[i].version for i in named}  # as read: a write meanwhile is a conflict
            count = ws.store.replace_layer(
                layer,
                news,
                actor=actor,
                reason=reason,
                ids=ids,
                expected=expected,
                restore=restore,
                expected_layer_version=seen if expected_layer_version is None else expected_layer_version,
            )
            same = len(settled)
            back = len({i for i in ids or () if i is not None and i not in stored}) if restore else 0
            return Imported(count, count - len(named) - back, len(named) - same, same, had - len(named), back)
        count = len(ws.store.create_features(layer, news, actor=actor, reason=reason))
        return Imported(count, count, 0, 0, 0)


@dataclass(frozen=True)
class Imported:
    """What an import did: the rows written (all of them), and of those the new features, the features
    changed (a new version) and left as they were; and the layer's features the file left out, deleted."""

    count: int
    created: int
    updated: int
    unchanged: int
    deleted: int
    restored: int = 0  # deleted features brought back under their ids (``restore``)


def _named_ids_refusals(
    spec: LayerSpec,
    mode: str,
    file_ids: Sequence[int | None] | None,
    versions: Sequence[int | None] | None,
    stored: Mapping[int, Feature],
    written: Mapping[int, NewFeature],
    problems: dict[int, list[InvalidInput]],
    *,
    restore: bool = False,
) -> set[int]:
    """Refuse the rows whose ``fid`` a ``mode`` import cannot take (see :func:`import_frame`); returns
    the ``id()`` of each refusal for being stale (the row's ``_version`` is no longer the feature's)."""
    layer = spec.name
    stale: set[int] = set()
    for i, fid in enumerate(file_ids or (), start=1):
        if fid is None:
            continue
        held = stored.get(fid)
        mine = written.get(i)
        if mode == "append" and held is not None and mine is not None and unchanged(spec, held, mine):
            # the layer's own feature again (its export appended): a second copy. Another file whose ids
            # happen to be the layer's (a GeoJSON numbered 1, 2, …) brings other features: new ones
            zh = f"要素编号 fid {fid} 的这一行与图层中的该要素完全相同，追加会再添一份；更新已有要素请用 replace"
            en = (
                f"fid {fid}: the row is that feature of the layer exactly: appending it would add a second "
                "copy; use replace to update features"
            )
        elif mode == "replace" and held is None and not restore:
            zh = f"要素编号 fid {fid} 不是图层中现有的要素（可能已删除）；请先恢复该要素，或清空 fid 作为新要素"
            en = (
                f"fid {fid} is no feature of the layer now (it may have been deleted): restore it first, "
                "or leave fid blank for a new feature"
            )
        elif (
            mode == "replace"
            and held is not None
            and versions
            and versions[i - 1] not in (None, held.version)
        ):
            zh = (
                f"要素 {fid} 在导出后已被修改（现为第 {held.version} 版，文件中为第 {versions[i - 1]} 版）；"
                "请重新导出后再修改"
            )
            en = (
                f"Feature {fid} was changed after the export (it is at version {held.version}, the file has "
                f"version {versions[i - 1]}): export it again and make the change there"
            )
            refusal = InvalidInput(zh, en, layer=layer, feature=f"row {i}", field="_version")
            stale.add(id(refusal))
            problems.setdefault(i, []).append(refusal)
            continue
        else:
            continue
        problems.setdefault(i, []).append(InvalidInput(zh, en, layer=layer, feature=f"row {i}", field="fid"))
    return stale


def _unique_refusals(
    ws: Workspace,
    spec: LayerSpec,
    mode: str,
    news: Sequence[NewFeature],
    rows: Sequence[int],
    problems: dict[int, list[InvalidInput]],
) -> set[int]:
    """Refuse the rows whose value of a ``unique`` field (a crew's name, a beat's code) an earlier row
    of the file gives too or, appended, a feature of the layer has; returns the ``id()`` of each
    refusal. (The store refuses these too, but cannot say which rows.)"""
    layer = spec.name
    out: set[int] = set()
    for f in spec.fields:
        if not f.unique:
            continue
        held: dict[Any, int] = {}  # value → the feature of the layer that has it
        if mode == "append":
            column = ws.frame(layer)[f.name]
            held = {v: int(fid) for fid, v in column.dropna().items()}
        first: dict[Any, int] = {}  # value → the row that gives it first
        for feat, row in zip(news, rows, strict=True):
            value = feat.properties.get(f.name)
            if value is None:
                continue
            if value in first:
                zh = f"字段「{f.label()}」({f.name}) 的值「{value}」与第 {first[value]} 行重复，该字段的值不能重复"
                en = f"'{f.name}' = {value} is also given in row {first[value]}; no two rows may share it"
            elif value in held:
                zh = f"字段「{f.label()}」({f.name}) 的值「{value}」已被图层中的要素 {held[value]} 使用"
                en = f"'{f.name}' = {value} is already used by feature {held[value]} of the layer"
            else:
                first[value] = row
                continue
            refusal = InvalidInput(zh, en, layer=layer, feature=f"row {row}", field=f.name)
            out.add(id(refusal))
            problems.setdefault(row, []).append(refusal)
    return out


def _settled(
    spec: LayerSpec,
    news: Sequence[NewFeature],
    file_ids: Sequence[int | None] | None,
    rows: Sequence[int],
    stored: Mapping[int, Feature],
) -> set[int]:
    """Positions in ``news`` of the rows of a replacing file that keep a stored feature unchanged."""
    if file_ids is None:
        return set()
    out = set()
    for k, (feat, row) in enumerate(zip(news, rows, strict=True)):
        fid = file_ids[row - 1]
        if fid is not None and fid in stored and unchanged(spec, stored[fid], feat):
            out.add(k)
    return out


def _whole_numbers(
    frame: pd.DataFrame, column: str, layer: str, problems: dict[int, list[InvalidInput]], *, unique: bool
) -> list[int | None] | None:
    """The whole numbers above 0 of a file's ``column`` (``fid``, ``_version``) per row (``None`` where
    blank), or None without the column; another value, or with ``unique`` one given twice, is its row's
    problem."""
    if column not in frame.columns:
        return None
    out: list[int | None] = []
    first: dict[int, int] = {}  # number → the row that gives it first
    for i, raw in enumerate(frame[column].tolist(), start=1):
        value: int | None = None
        if not pd.isna(raw) and str(raw).strip() != "":
            try:
                number = float(str(raw).strip())
            except ValueError:
                number = float("nan")
            if isinstance(raw, bool) or not (number.is_integer() and 0 < number < 2**63):
                blank = "（或留空，作为新要素）" if column == "fid" else ""
                blank_en = " (or blank for a new feature)" if column == "fid" else ""
                problems.setdefault(i, []).append(
                    InvalidInput(
                        f"{column}「{raw}」应为正整数{blank}",
                        f"{column} '{raw}' must be a whole number above 0{blank_en}",
                        layer=layer,
                        feature=f"row {i}",
                        field=column,
                    )
                )
            elif unique and int(number) in first:
                problems.setdefault(i, []).append(
                    InvalidInput(
                        f"{column} {int(number)} 与第 {first[int(number)]} 行重复",
                        f"{column} {int(number)} is also given in row {first[int(number)]}",
                        layer=layer,
                        feature=f"row {i}",
                        field=column,
                    )
                )
            else:
                value = int(number)
                first[value] = i
        out.append(value)
    return out


def _import_refusal(
    spec: LayerSpec, problems: Mapping[int, Sequence[InvalidInput]], total: int
) -> InvalidInput:
    """One refusal naming every failing row of a file: for each, what is wrong (zh/en), the fields and
    siting rules at fault, and the violations with their conflict geometry."""
    numbers = sorted(problems)
    described: list[dict[str, Any]] = []
    for n in numbers[:MAX_ROWS_REPORTED]:
        errors = problems[n]
        violations = [{**v, "row": n} for e in errors for v in e.details.get("violations", ())]
        unchecked = [{**u, "row": n} for e in errors for u in e.details.get("unchecked", ())]
        described.append(
            {
                "row": n,
                "feature": f"row {n}",
                "fields": sorted({e.field for e in errors if e.field}),
                "rules": list(
                    dict.fromkeys([*(v["rule"] for v in violations), *(u["rule"] for u in unchecked)])
                ),
                "errors": [{"field": e.field, "detail_zh": e.zh, "detail_en": e.en} for e in errors],
                "violations": violations,
                "unchecked": unchecked,
            }
        )
    shown = "、".join(str(n) for n in numbers[:20]) + ("…" if len(numbers) > 20 else "")
    shown_en = ", ".join(str(n) for n in numbers[:20]) + ("…" if len(numbers) > 20 else "")
    first = problems[numbers[0]][0]
    # an override helps only rows whose every problem is a siting rule (not a bad value, not a site in
    # the wrong district or outside the city): the hint names those rows' rules
    excused = {
        n
        for n in numbers[:MAX_ROWS_REPORTED]
        if all(e.details.get("violations") or e.details.get("unchecked") for e in problems[n])
    }
    rules = sorted({str(r) for d in described if d["row"] in excused for r in d["rules"]})
    hint_zh = hint_en = ""
    if rules and spec.siting:
        hint_zh = f"；如属已批准的例外，可带 override={','.join(rules)} 与理由 reason 重新导入"
        hint_en = (
            f"; if these are approved exceptions, import again with override={','.join(rules)} and a reason"
        )
    return InvalidInput(
        f"文件共 {total} 行，其中 {len(numbers)} 行不能导入（第 {shown} 行），整个文件未导入；"
        f"第 {numbers[0]} 行：{first.zh}{hint_zh}",
        f"{len(numbers)} of the file's {total} rows cannot be imported (rows {shown_en}); nothing was "
        f"imported. Row {numbers[0]}: {first.en}{hint_en}",
        layer=spec.name,
        feature=f"row {numbers[0]}",
        field=first.field,
        details={
            "failed_rows": len(numbers),
            "rows": described,
            "rows_left_out": max(len(numbers) - MAX_ROWS_REPORTED, 0),
            "violations": [v for d in described for v in d["violations"]],
            "unchecked": [u for d in described for u in d["unchecked"]],
        },
    )
