"""A layer's export, stamped with its moment, and what a replacing import of it must not delete.

An export writes each feature's id (``fid``) and version (``_version``), and on every row the moment it
was read (``_exported_at``). Imported back with ``mode=replace``, the layer's features the file leaves
out are deleted: but a feature someone added after the export is not in the file because the file
never knew of it, not because the person editing it took it out. Such features are named (and the
import refused) instead of deleted; see :func:`added_since`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import pandas as pd

from geo_service.duty import TZ
from geo_service.errors import Conflict, InvalidInput
from geo_service.history import changes_since
from geo_service.import_rows import RowNumbers
from geo_service.store.base import Change, Store

__all__ = ["EXPORTED_AT", "Added", "added_since", "export_frame", "exported_at", "refuse_added"]

#: the column each exported row carries the moment of its export in
EXPORTED_AT = "_exported_at"

#: how far the database's clock (PostGIS stamps exports with it) may run ahead of this server's
_SKEW = dt.timedelta(hours=1)


def export_frame(store: Store, layer: str) -> pd.DataFrame:
    """A layer as exported: each feature with its id (``fid``), its version (``_version``) and the
    moment of the export (``_exported_at``: the store's moment of reading, to the microsecond; a
    feature missing from the file was added after it, as its history tells)."""
    moment, frame = store.export_frame(layer)
    out = frame.reset_index()
    out[EXPORTED_AT] = moment.astimezone(TZ).isoformat()
    return out


def exported_at(
    frame: pd.DataFrame, layer: str, places: RowNumbers, problems: dict[int, list[InvalidInput]]
) -> dt.datetime | None:
    """The moment a file was exported: the earliest ``_exported_at`` of its rows (a file put together
    from two exports is as old as the older), or None without the column. A value that is no time is
    its row's problem (keyed by the row's number in ``places``)."""
    if EXPORTED_AT not in frame.columns:
        return None
    moments = []
    for i, raw in zip(places.numbers, frame[EXPORTED_AT].tolist(), strict=True):
        if raw is None or (not isinstance(raw, str) and pd.isna(raw)) or str(raw).strip() == "":
            continue
        moment: dt.datetime | None = None
        if isinstance(raw, dt.datetime):  # a GeoPackage column a desktop GIS made a date-time
            moment = pd.Timestamp(raw).to_pydatetime()
        elif isinstance(raw, str):
            try:
                moment = dt.datetime.fromisoformat(raw.strip())
            except ValueError:
                moment = None
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=TZ)
        if moment is None:
            wrong = (
                "不是时间（如 2026-12-06T09:30:00+08:00；请勿修改此列）",
                "is no time (such as 2026-12-06T09:30:00+08:00)",
            )
        elif moment > dt.datetime.now(TZ) + _SKEW:  # no export was made in the future
            wrong = ("在将来（请勿修改此列）", "is in the future")
        else:
            moments.append(moment)
            continue
        problems.setdefault(i, []).append(
            InvalidInput(
                f"导出时刻 {EXPORTED_AT}「{raw}」{wrong[0]}",
                f"{EXPORTED_AT} '{raw}' {wrong[1]}: leave this column as exported",
                layer=layer,
                feature=places.label(i),
                field=EXPORTED_AT,
            )
        )
    return min(moments) if moments else None


@dataclass(frozen=True)
class Added:
    """A feature added to the layer (created or restored), or changed, after an export: its id, what
    was done (``op``), when (Beijing time) and by whom."""

    fid: int
    op: str
    at: dt.datetime
    actor: str


_DONE = {"create": ("新增", "added"), "restore": ("恢复", "restored"), "update": ("修改", "changed")}


def added_since(
    store: Store, layer: str, moment: dt.datetime, stored: Collection[int], named: Collection[int]
) -> list[Added]:
    """The layer's features (``stored``) that a file exported at ``moment`` does not name (``named``)
    but that were created, restored or changed after it: the file did not leave them out on purpose,
    it never held them as they are. Read from the layer's history since (each one's latest change)."""
    left_out = set(stored) - set(named)
    latest: dict[int, Change] = {}
    for c in changes_since(store, layer, moment):
        if c.feature_id in left_out and c.op in _DONE:
            latest[c.feature_id] = c
    return [Added(fid, c.op, c.at.astimezone(TZ), c.actor) for fid, c in sorted(latest.items())]


def refuse_added(layer: str, moment: dt.datetime, added: Sequence[Added]) -> None:
    """``Conflict`` naming the features ``added`` (or changed) after the export at ``moment`` (none:
    nothing)."""
    if not added:
        return
    when = moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    shown = added[:20]
    more_zh = f"等 {len(added)} 个" if len(added) > len(shown) else ""
    more_en = f" and {len(added) - len(shown)} more" if len(added) > len(shown) else ""
    zh = "、".join(f"{a.fid}（{a.actor} {a.at:%m-%d %H:%M} {_DONE[a.op][0]}）" for a in shown)
    en = ", ".join(f"{a.fid} ({_DONE[a.op][1]} by {a.actor} at {a.at:%m-%d %H:%M})" for a in shown)
    raise Conflict(
        f"文件导出（{when}）之后图层中又新增或修改了要素 {zh}{more_zh}；文件不含它们，按此文件替换会删除它们。"
        "请重新导出后再修改，或把它们加入文件，或确需删除时先单独删除",
        f"Feature(s) {en}{more_en} were added to the layer or changed after this file was exported "
        f"({when}); the file does not hold them, so replacing the layer with it would delete them. Export "
        "again and make the changes there, add them to the file, or delete them on their own first if they "
        "must go",
        layer=layer,
        field=EXPORTED_AT,
        details={
            "exported_at": moment.isoformat(),
            "added": [{"id": a.fid, "op": a.op, "at": a.at.isoformat(), "actor": a.actor} for a in added],
        },
    )
