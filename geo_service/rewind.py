"""Put a layer back as it stood at an earlier moment: the undo of a wrong import, or of a morning's edits.

Every write is kept in the layer's history, so the state of each feature at any moment is known: the
``before`` of its first change after that moment (or, when that change created or restored it, that it
was not there). A rewind writes those states as one replacing batch: features changed since go back to
their earlier state (an ``update``, at their next version), features deleted since come back under their
own ids (a ``restore``), features created since are deleted (and can be restored in turn). Nothing is
overwritten: the rewind itself is history and can be rewound.

The batch goes through the same checks as an import (fields, references other layers make, districts);
the siting rules are not judged again, as the states put back are ones the layer has had.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from geo_service.catalog import LayerSpec
from geo_service.duty import TZ, in_supported_years
from geo_service.errors import Conflict, InvalidInput
from geo_service.history import changes_since
from geo_service.imports import import_frame
from geo_service.store.base import Feature, NewFeature, Store
from geo_service.store.values import from_snapshot, unchanged
from geo_service.workspace import Workspace

__all__ = ["Rewound", "rewind_layer"]


@dataclass(frozen=True)
class Rewound:
    """What a rewind does (or, ``dry_run``, would do): the ids of the features put back to their earlier
    state, brought back, and deleted, and how many are left as they are."""

    layer: str
    to: dt.datetime
    reverted: tuple[int, ...]
    restored: tuple[int, ...]
    deleted: tuple[int, ...]
    unchanged: int
    dry_run: bool
    version: int | None = None  # the layer's version after the rewind (None for a dry run)


def _states_then(store: Store, layer: str, moment: dt.datetime) -> dict[int, NewFeature | None]:
    """For each feature changed after ``moment``: its state then (None: it was not in the layer)."""
    spec = store.catalog[layer]
    then: dict[int, NewFeature | None] = {}
    for c in changes_since(store, layer, moment):
        if c.feature_id in then:
            continue  # its first change after the moment tells its state then
        if c.op in ("create", "restore") or c.before is None:
            then[c.feature_id] = None
        else:
            then[c.feature_id] = from_snapshot(spec, c.before)
    return then


def rewind_layer(
    ws: Workspace,
    layer: str,
    to: dt.datetime,
    *,
    actor: str,
    reason: str | None = None,
    dry_run: bool = False,
) -> Rewound:
    """Put ``layer`` back as it stood at ``to`` (see the module's text); with ``dry_run`` only say what
    would be done. Refused when ``to`` is not in the past; ``Conflict`` when a feature changes while the
    rewind is being written (nothing is written then)."""
    spec = ws.catalog[layer]
    if to.tzinfo is None:
        to = to.replace(tzinfo=TZ)
    in_supported_years(to, field="to")
    now = dt.datetime.now(TZ)
    if to >= now:
        raise InvalidInput(
            f"回退时刻 {to.astimezone(TZ):%Y-%m-%d %H:%M} 应早于现在",
            f"The moment to go back to ({to.astimezone(TZ):%Y-%m-%d %H:%M}) must be in the past",
            layer=layer,
            field="to",
        )
    # the version first: a write after it (even one this reading sees) makes the store refuse the batch
    version = ws.store.layer_version(layer)
    current = {f.id: f for f in ws.store.list_features(layer).features}
    then = _states_then(ws.store, layer, to)
    reverted = sorted(
        fid
        for fid, state in then.items()
        if state is not None and fid in current and not unchanged(spec, current[fid], state)
    )
    restored = sorted(fid for fid, state in then.items() if state is not None and fid not in current)
    deleted = sorted(fid for fid, state in then.items() if state is None and fid in current)
    left = len(current) - len(reverted) - len(deleted)
    answer = Rewound(layer, to, tuple(reverted), tuple(restored), tuple(deleted), left, dry_run)
    if dry_run or not (reverted or restored or deleted):
        return answer
    # the layer as it is, but for the features changed since: as they were then (or left out)
    rows: list[tuple[int, int | None, NewFeature]] = []
    for fid, f in current.items():
        state = then[fid] if fid in then else _as_new(f)
        if state is not None:
            rows.append((fid, f.version, state))
    for fid in restored:
        state = then[fid]
        assert state is not None
        rows.append((fid, None, state))
    why = reason or f"回退到 {to.astimezone(TZ):%Y-%m-%d %H:%M} / rewound to {to.isoformat()}"
    try:
        done = import_frame(
            ws,
            layer,
            _frame(spec, rows),
            actor=actor,
            mode="replace",
            reason=why,
            check_siting=False,
            restore=True,
            expected_layer_version=version,
        )
    except (InvalidInput, Conflict) as exc:
        raise _by_feature(exc, layer, to, [fid for fid, _, _ in rows]) from None
    return Rewound(
        layer,
        to,
        answer.reverted,
        answer.restored,
        answer.deleted,
        done.unchanged,
        False,
        ws.store.layer_version(layer),
    )


def _as_new(feature: Feature) -> NewFeature:
    return NewFeature(dict(feature.properties), feature.geometry)


def _frame(
    spec: LayerSpec, rows: Sequence[tuple[int, int | None, NewFeature]]
) -> pd.DataFrame | gpd.GeoDataFrame:
    """The layer to write, as an import reads a file: each feature's id and the version read, so that an
    edit made meanwhile is refused rather than undone (none at all: every feature goes)."""
    table = pd.DataFrame(
        [{"fid": fid, "_version": version, **feat.properties} for fid, version, feat in rows],
        columns=["fid", "_version", *spec.field_names],
    ).astype({"_version": object})
    if spec.is_table:
        return table
    return gpd.GeoDataFrame(table, geometry=[feat.geometry for _, _, feat in rows], crs=4326)


def _by_feature(exc: InvalidInput | Conflict, layer: str, to: dt.datetime, fids: Sequence[int]) -> Exception:
    """An import's refusal of the rows it was given, told as the rewind's: by feature id, not by row of a
    file the user never saw (a refusal with no rows stands as it is)."""
    rows = exc.details.get("rows")
    when = to.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(exc, Conflict) and (rows or "expected_layer_version" in exc.details):
        # a feature changed (or the layer written) after the rewind read it: no file, no export involved
        changed = [fids[r["row"] - 1] for r in rows or ()]
        return Conflict(
            f"图层 {layer} 在回退到 {when} 期间被他人修改，未写入任何改动；请重试",
            f"Layer {layer} was changed by someone else while it was being put back to {when}; nothing was "
            "written: try again",
            layer=layer,
            details={"features": changed} if changed else dict(exc.details),
        )
    if not rows:
        return exc
    features = [
        {"id": fids[r["row"] - 1], "fields": r["fields"], "rules": r["rules"], "errors": r["errors"]}
        for r in rows
    ]
    first = features[0]
    shown = "、".join(str(f["id"]) for f in features[:20])
    shown_en = ", ".join(str(f["id"]) for f in features[:20])
    zh = first["errors"][0]["detail_zh"] if first["errors"] else ""
    en = first["errors"][0]["detail_en"] if first["errors"] else ""
    return type(exc)(
        f"图层 {layer} 不能回到 {when}：要素 {shown} 当时的状态现在不能写入，未做任何改动。要素 {first['id']}：{zh}",
        f"Layer {layer} cannot go back to {when}: the state then of feature(s) {shown_en} cannot be written "
        f"now; nothing was changed. Feature {first['id']}: {en}",
        layer=layer,
        field=exc.field,
        details={"features": features},
    )
