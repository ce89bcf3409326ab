"""File imports: every row of a file (as :mod:`geo_service.formats` reads it) validated and checked as a
single write is (:mod:`geo_service.write_checks`), then all stored or none; a refused file is refused
whole, naming each failing row and what is wrong with it. A rewind (:mod:`geo_service.rewind`) writes
through here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from geo_service.catalog import LayerSpec
from geo_service.errors import Conflict, InvalidInput
from geo_service.exported import EXPORTED_AT, added_since, exported_at, refuse_added
from geo_service.formats import SheetRows
from geo_service.geometry import validate_geometry
from geo_service.import_rows import MAX_ROWS_REPORTED, RowNumbers, import_refusal, whole_numbers
from geo_service.store.base import Feature, NewFeature
from geo_service.store.values import check_layer_version, same_geometry, unchanged
from geo_service.workspace import Workspace
from geo_service.write_checks import (
    batch_spacing_refusals,
    check_not_referenced,
    checked_overrides,
    checks_held,
    district_refusals,
    noted_reason,
    reference_refusals,
    referrers,
    siting_refusal,
)

__all__ = ["MAX_ROWS_REPORTED", "Imported", "import_frame"]


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
    # fields the replacing file has no column for: kept as stored on the features it keeps
    kept_fields: tuple[str, ...] = ()

    @property
    def notices(self) -> list[str]:
        """What the one who imported should know: the fields kept as they were (``zh / en``)."""
        if not self.kept_fields:
            return []
        names = ", ".join(self.kept_fields)
        return [
            f"文件中没有这些列，保留的要素仍是原值（新行取默认值）：{names} / the file has no column for "
            f"{names}: the features it keeps keep their values (new rows take the defaults)"
        ]


def import_frame(
    ws: Workspace,
    layer: str,
    frame: gpd.GeoDataFrame | pd.DataFrame | SheetRows,
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

    ``frame`` is a file as :func:`geo_service.formats.read_rows` reads it (a sheet's rows keep their
    spreadsheet numbers, and a row whose coordinates cannot be read is that row's problem), or a frame.
    ``mode`` is ``append`` or ``replace``. A replacing file's ``fid`` column (as our exports write it)
    keeps features' ids: a row whose ``fid`` is in the layer becomes that feature's next version (or
    leaves it alone when nothing changed), so ids noted elsewhere (a closed road, a locked bridge) and
    each feature's history go on; the layer's features the file does not name go to history as deleted,
    and rows without a ``fid`` are new features. A row naming an id the layer does not have (a deleted
    feature, another layer's) is refused, and so is one whose ``_version`` (as exported) is no longer the
    feature's: someone changed it since the export (409 when that is all that is wrong). A replacing
    file that changes nothing writes nothing (the layer's version stays). Appended rows get new ids; a
    row of an export (a file with the ``_version`` or ``_exported_at`` column) whose ``fid`` is a feature
    the layer has is refused, changed or not: it would be a second copy (replace updates it; without
    the id it is new); so is a row of another file that is a feature of the layer exactly. In another
    file (a GeoJSON numbered 1, 2, … elsewhere) ids are not the layer's. A blank cell of a new row takes
    the field's declared default, as a create without the field does; in the row of a feature updated it
    empties an optional field (a required one takes its default). ``override`` and ``reason`` accept
    approved exceptions to siting rules for the rows of the file, as on create (the reason is kept in
    the history of every feature written). A refused file is refused whole, naming every failing row
    (see :class:`~geo_service.import_rows.RowNumbers` for their numbers) with what is wrong with it.

    ``restore`` (replace only; a layer put back to an earlier moment, see :mod:`geo_service.rewind`): a
    ``fid`` of a deleted feature brings that feature back under its id instead of being refused.
    ``expected_layer_version`` (replace only): the layer's version when the caller read the whole of it;
    a write since is a ``Conflict`` and nothing is written.
    """
    spec = ws.catalog[layer]
    if isinstance(frame, SheetRows):
        places = RowNumbers.of(frame.rows, len(frame.frame))
        unread: Sequence[tuple[str, str] | None] = frame.problems
        frame = frame.frame
    else:
        places, unread = RowNumbers.of(None, len(frame)), (None,) * len(frame)
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
    overrides = checked_overrides(ws, spec, override, reason) if check_siting else set()
    # a GeoJSON file of a table layer (every geometry null) reads as a GeoDataFrame with no active geometry
    has_geom = isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name in frame.columns
    records = frame[columns].astype(object).where(frame[columns].notna(), None).to_dict("records")
    geoms = list(frame.geometry) if has_geom else [None] * len(frame)
    problems: dict[int, list[InvalidInput]] = {}  # row number → what is wrong with it
    file_ids = whole_numbers(frame, "fid", layer, places, problems, unique=True)
    versions = whole_numbers(frame, "_version", layer, places, problems, unique=False)
    moment = exported_at(frame, layer, places, problems)
    # a replacing file with ids names the features it keeps: the layer's version read first, so that a
    # feature someone adds (or changes) while the import runs is not deleted by it: the store refuses
    seen = ws.store.layer_version(layer) if mode == "replace" and file_ids is not None else None
    stored = {f.id: f for f in ws.store.list_features(layer).features} if file_ids is not None else {}
    # the export's own columns: its ids are this layer's (another file's numbers need not be)
    exported = "_version" in frame.columns or EXPORTED_AT in frame.columns
    # a column left out of a replacing file (deleted in a spreadsheet) keeps what the kept features hold:
    # it does not empty the field on every one of them; new rows take its default
    absent = tuple(f for f in spec.field_names if f not in columns) if mode == "replace" else ()
    copies: dict[int, int] = {}  # id() of each refusal of an appended row as a second copy → its fid
    news: list[NewFeature] = []
    rows: list[int] = []  # the row number of each of news
    ids: list[int | None] | None = None if file_ids is None else []  # the fid of each of news
    for i, (props, geom) in enumerate(zip(records, geoms, strict=True)):
        n, label = places.numbers[i], places.label(places.numbers[i])
        fid = file_ids[i] if file_ids is not None else None
        # appended, the layer's own feature (by the id of its export, or as it is: see below)
        held = stored.get(fid) if mode == "append" and fid is not None else None
        copy = None
        kept = stored.get(fid) if absent and fid is not None else None
        if kept is not None:
            props = {**{f: kept.properties.get(f) for f in absent}, **props}
        if held is not None and (exported or _same_place(held.geometry, geom)):
            # refused whatever else is wrong with the row: an export's row, or a row with the id of a
            # feature at that feature's very place (an export whose own columns were deleted)
            copy = _copy_refusal(layer, places, n, held.id, exactly=False)
            copies[id(copy)] = held.id
            problems.setdefault(n, []).append(copy)
        try:
            # a blank cell of a new feature's row is a value not given; of a kept feature's, emptied
            props = spec.blanks_defaulted(props, new=mode == "append" or fid is None)
            properties = spec.validate_properties(props, feature=label)
            geometry = None
            if not spec.is_table:
                if geom is None:
                    zh, en = unread[i] or ("缺少几何", "has no geometry")
                    raise InvalidInput(zh, en, layer=layer, feature=label, field="geometry")
                geometry = validate_geometry(
                    spec,
                    geom,
                    max_vertices=ws.settings.max_vertices,
                    bounds=ws.settings.service_bounds,
                    feature=label,
                )
        except InvalidInput as exc:
            problems.setdefault(n, []).append(exc)
            continue
        feature = NewFeature(properties, geometry)
        if held is not None and copy is None and unchanged(spec, held, feature):
            # the layer's own feature as it is, in a file that is no export (one saved again elsewhere)
            copy = _copy_refusal(layer, places, n, held.id, exactly=True)
            copies[id(copy)] = held.id
            problems.setdefault(n, []).append(copy)
        if copy is not None:
            continue  # a copy: not judged against the layer, whose feature it is
        news.append(feature)
        rows.append(n)
        if ids is not None:
            ids.append(fid)
    labels = [places.label(n) for n in rows]
    stale = _named_ids_refusals(spec, places, mode, file_ids, versions, stored, problems, restore=restore)
    clashes = _unique_refusals(ws, spec, places, mode, news, rows, problems)
    if mode == "replace" and ids is not None:
        # a row whose geometry is the stored one but for rounding keeps the stored one exactly
        for k, fid in enumerate(ids):
            kept = stored.get(fid) if fid is not None else None
            geometry = news[k].geometry
            if kept is not None and kept.geometry is not None and geometry is not None:
                news[k] = NewFeature(
                    news[k].properties, kept.geometry if same_geometry(kept.geometry, geometry) else geometry
                )

    # the rows that keep a stored feature as it is: no new version, and not judged again by the siting
    # rules (judged, or excused, when it was written)
    settled = _settled(spec, news, ids, stored) if mode == "replace" else set()

    def note(refusals: Mapping[int, InvalidInput]) -> None:
        for k, exc in refusals.items():
            problems.setdefault(rows[k], []).append(exc)

    with checks_held(ws, spec):
        note(reference_refusals(ws, spec, news, labels))
        note(district_refusals(ws, spec, news, labels))
        if check_siting:
            for k, feat in enumerate(news):
                if k in settled:
                    continue
                refusal = siting_refusal(
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
            spacing = batch_spacing_refusals(
                ws, spec, [news[k] for k in order], [labels[k] for k in order], overrides
            )
            note({order[i]: refusal for i, refusal in spacing.items() if order[i] not in settled})
        if problems:
            _refuse(spec, problems, places, stale, clashes, copies)
        if mode == "replace":  # keys other layers name must survive the replacement
            kept_props = [f.properties for f in news]
            keys = {key for _, _, key in referrers(ws, layer)}
            keys |= {r.key for r in ws.outside_referrers if r.layer == layer}
            for key in keys:
                staying = {str(p.get(key)) for p in kept_props}
                for old in ws.frame(layer)[key].dropna().astype(str).unique():
                    if old not in staying:
                        check_not_referenced(ws, spec, {key: old}, None)
            named = {i for i in ids or () if i is not None and i in stored}
            if moment is not None and ids is not None:  # what the file never knew of is not deleted
                refuse_added(layer, moment, added_since(ws.store, layer, moment, stored, named))
            had = len(stored) if ids is not None else ws.store.count(layer)  # the layer's features
            same = len(settled)
            if ids is not None and same == len(news) == had:
                # every feature named and each as it is: nothing to write, so no new layer version (as a
                # PATCH that changes nothing); the answer holds as the layer was read
                # moved since it was read (a feature added meanwhile): refused, as the store refuses a write
                moved = seen if expected_layer_version is None else expected_layer_version
                check_layer_version(layer, moved, ws.store.layer_version(layer))
                return Imported(same, 0, 0, same, 0, 0, kept_fields=absent)
            expected = {i: stored[i].version for i in named}  # as read: a write meanwhile is a conflict
            count = ws.store.replace_layer(
                layer,
                news,
                actor=actor,
                reason=noted_reason(reason, overrides),
                ids=ids,
                expected=expected,
                restore=restore,
                expected_layer_version=seen if expected_layer_version is None else expected_layer_version,
            )
            back = len({i for i in ids or () if i is not None and i not in stored}) if restore else 0
            return Imported(
                count,
                count - len(named) - back,
                len(named) - same,
                same,
                had - len(named),
                back,
                kept_fields=absent if named else (),
            )
        count = len(
            ws.store.create_features(layer, news, actor=actor, reason=noted_reason(reason, overrides))
        )
        return Imported(count, count, 0, 0, 0)


def _same_place(stored: shapely.Geometry | None, given: object) -> bool:
    """Whether a file's geometry is a stored feature's to about ten centimetres (1e-6°: a file's rounding
    of it). A table layer's rows never are."""
    if stored is None or not isinstance(given, shapely.Geometry) or given.is_empty:
        return False
    return same_geometry(stored, given, tolerance=1e-6)


def _copy_refusal(layer: str, places: RowNumbers, n: int, fid: int, *, exactly: bool) -> InvalidInput:
    """An appended row naming the layer's feature ``fid`` (``exactly``: in a file that is no export,
    a row that is that feature as it is): appending makes a second copy; say how to do what was meant."""
    ids = (
        " fid 列" if places.sheet else "要素编号（GeoPackage 的 feature_id 列，GeoJSON 要素的 id 与属性 fid）"
    )
    ids_en = "the fid column" if places.sheet else "the ids (a GeoPackage's feature_id, GeoJSON ids and fid)"
    same, same_en = ("与图层中的该要素完全相同，", ", exactly as the layer has it,") if exactly else ("", "")
    return InvalidInput(
        f"要素编号 fid {fid} 是图层中已有的要素{same}；追加导入会再添一份，而不会修改它。修改已有要素请用替换方式"
        f"（mode=replace）导入；要作为新要素追加，请删去{ids}",
        f"fid {fid} is a feature the layer has{same_en} and appending the row would add a second copy of it, "
        f"not change it: to change features import with mode=replace; to add the row as a new feature, "
        f"delete {ids_en}",
        layer=layer,
        feature=places.label(n),
        field="fid",
    )


def _refuse(
    spec: LayerSpec,
    problems: Mapping[int, Sequence[InvalidInput]],
    places: RowNumbers,
    stale: set[int],
    clashes: set[int],
    copies: Mapping[int, int],
) -> None:
    """Raise the refusal of a file with ``problems``: a ``Conflict`` when every one is a row changed by
    someone since the export or a repeated unique value; one sentence naming the ids when every one is
    an appended copy of a feature (``copies``: the ``id()`` of each such refusal → the feature's id);
    else the first failing row's problem. Every failing row is named either way."""
    summary = None
    if all(len(e) == 1 and id(e[0]) in copies for e in problems.values()):
        fids = [copies[id(problems[n][0])] for n in sorted(problems)]
        more = "…" if len(fids) > 20 else ""
        ids_zh, ids_en = "、".join(map(str, fids[:20])) + more, ", ".join(map(str, fids[:20])) + more
        many = len(fids) > 1
        it, it_en = ("它们", "them") if many else ("它", "it")
        if places.sheet:
            them, them_en = ("这些行", "These rows name") if many else ("这一行", "The row names")
            drop = f"删去 fid 列（或清空{them}的 fid）"
            drop_en = f"delete the fid column (or blank {'their' if many else 'its'} fid)"
        else:
            them, them_en = ("这些要素", "These features name") if many else ("这个要素", "The feature names")
            drop, drop_en = f"删去{them}的编号", f"delete {'their ids' if many else 'its id'}"
        summary = (
            f"{them}的要素编号 fid {ids_zh} 是图层中已有的要素，追加导入会再添一份，而不会修改{it}。修改已有要素请用"
            f"替换方式（mode=replace）导入；要作为新要素追加，请{drop}",
            f"{them_en} {'features' if many else 'a feature'} the layer has (fid {ids_en}): appending would add "
            f"a second copy, not change {it_en}. To change features import with mode=replace; to add {it_en} "
            f"as new, {drop_en}",
        )
    refusal = import_refusal(spec, problems, places, summary=summary)
    if all(len(e) == 1 and id(e[0]) in stale | clashes for e in problems.values()):
        # only rows changed by someone since the export, or repeating a value that must be unique: a
        # conflict, as the store would say (naming the rows, which it cannot)
        raise Conflict(
            refusal.zh,
            refusal.en,
            layer=spec.name,
            feature=refusal.feature,
            field=refusal.field,
            details=refusal.details,
        )
    raise refusal


def _named_ids_refusals(
    spec: LayerSpec,
    places: RowNumbers,
    mode: str,
    file_ids: Sequence[int | None] | None,
    versions: Sequence[int | None] | None,
    stored: Mapping[int, Feature],
    problems: dict[int, list[InvalidInput]],
    *,
    restore: bool = False,
) -> set[int]:
    """Refuse the rows of a replacing file whose ``fid`` it cannot take (see :func:`import_frame`);
    returns the ``id()`` of each refusal for being stale (the row's ``_version`` is no longer the
    feature's)."""
    layer = spec.name
    stale: set[int] = set()
    if mode != "replace":
        return stale
    for i, fid in enumerate(file_ids or ()):
        if fid is None:
            continue
        n, held = places.numbers[i], stored.get(fid)
        if held is None and not restore:
            zh = f"要素编号 fid {fid} 不是图层中现有的要素（可能已删除）；请先恢复该要素，或清空 fid 作为新要素"
            en = (
                f"fid {fid} is no feature of the layer now (it may have been deleted): restore it first, "
                "or leave fid blank for a new feature"
            )
            problems.setdefault(n, []).append(
                InvalidInput(zh, en, layer=layer, feature=places.label(n), field="fid")
            )
        elif held is not None and versions and versions[i] not in (None, held.version):
            zh = (
                f"要素 {fid} 在导出后已被修改（现为第 {held.version} 版，文件中为第 {versions[i]} 版）；"
                "请重新导出后再修改"
            )
            en = (
                f"Feature {fid} was changed after the export (it is at version {held.version}, the file has "
                f"version {versions[i]}): export it again and make the change there"
            )
            refusal = InvalidInput(zh, en, layer=layer, feature=places.label(n), field="_version")
            stale.add(id(refusal))
            problems.setdefault(n, []).append(refusal)
    return stale


def _unique_refusals(
    ws: Workspace,
    spec: LayerSpec,
    places: RowNumbers,
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
                earlier = first[value]
                zh = f"字段「{f.label()}」({f.name}) 的值「{value}」与{places.zh(earlier)}重复，该字段的值不能重复"
                en = f"'{f.name}' = {value} is also given in {places.en(earlier)}; no two rows may share it"
            elif value in held:
                zh = f"字段「{f.label()}」({f.name}) 的值「{value}」已被图层中的要素 {held[value]} 使用"
                en = f"'{f.name}' = {value} is already used by feature {held[value]} of the layer"
            else:
                first[value] = row
                continue
            refusal = InvalidInput(zh, en, layer=layer, feature=places.label(row), field=f.name)
            out.add(id(refusal))
            problems.setdefault(row, []).append(refusal)
    return out


def _settled(
    spec: LayerSpec,
    news: Sequence[NewFeature],
    ids: Sequence[int | None] | None,
    stored: Mapping[int, Feature],
) -> set[int]:
    """Positions in ``news`` (whose ids are ``ids``) of the rows of a replacing file that keep a stored
    feature unchanged."""
    if ids is None:
        return set()
    return {
        k
        for k, (feat, fid) in enumerate(zip(news, ids, strict=True))
        if fid is not None and fid in stored and unchanged(spec, stored[fid], feat)
    }
