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

from geo_service.catalog import LayerSpec
from geo_service.errors import Conflict, InvalidInput
from geo_service.exported import EXPORTED_AT, added_since, exported_at, refuse_added
from geo_service.geometry import validate_geometry
from geo_service.store.base import Feature, NewFeature
from geo_service.store.values import same_geometry, unchanged
from geo_service.workspace import Workspace
from geo_service.write_checks import (
    batch_spacing_refusals,
    check_not_referenced,
    checked_overrides,
    checks_held,
    district_refusals,
    reference_refusals,
    referrers,
    siting_refusal,
)

__all__ = ["Imported", "import_frame"]


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
    overrides = checked_overrides(ws, spec, override, reason) if check_siting else set()
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
            keys = {key for _, _, key in referrers(ws, layer)}
            keys |= {r.key for r in ws.outside_referrers if r.layer == layer}
            for key in keys:
                staying = {str(p.get(key)) for p in kept}
                for old in ws.frame(layer)[key].dropna().astype(str).unique():
                    if old not in staying:
                        check_not_referenced(ws, spec, {key: old}, None)
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
