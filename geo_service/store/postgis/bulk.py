"""Large batches: COPY the rows in, check unique fields in one query, write the history in SQL.

All of it runs inside the caller's transaction, which already holds the layer's lock (the row of
``geo_layer_state``), so the new ids are exactly those above the largest id before the COPY.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely
import sqlalchemy as sa

from geo_service.catalog import LayerSpec
from geo_service.errors import Conflict
from geo_service.store.base import NewFeature
from geo_service.store.postgis.schema import history_t, snapshot_sql

__all__ = ["check_unique_batch", "copy_features", "record_creates", "record_deletes"]


def check_unique_batch(
    con: sa.Connection, spec: LayerSpec, table: sa.Table, features: Sequence[NewFeature]
) -> None:
    """Refuse (``Conflict``) a batch whose unique fields repeat within it or clash with stored rows."""
    for f in spec.fields:
        if not f.unique:
            continue
        values = [x.properties.get(f.name) for x in features if x.properties.get(f.name) is not None]
        seen: set[Any] = set()
        for value in values:
            if value in seen:
                raise Conflict(
                    f"图层 {spec.name} 字段「{f.label()}」的值 {value} 在本批中重复",
                    f"Layer {spec.name}: '{f.name}' = {value} repeats within the batch",
                    layer=spec.name,
                    field=f.name,
                )
            seen.add(value)
        if not values:
            continue
        clash = con.execute(
            sa.select(table.c.fid, table.c[f.name])
            .where(table.c[f.name].in_(sa.bindparam("v", expanding=True)))
            .limit(1),
            {"v": values},
        ).first()
        if clash is not None:
            raise Conflict(
                f"图层 {spec.name} 字段「{f.label()}」的值 {clash[1]} 已被要素 {clash[0]} 使用",
                f"Layer {spec.name}: '{f.name}' = {clash[1]} is already used by feature {clash[0]}",
                layer=spec.name,
                field=f.name,
                feature=int(clash[0]),
            )


def copy_features(
    con: sa.Connection, spec: LayerSpec, table: sa.Table, features: Sequence[NewFeature]
) -> list[int]:
    """COPY ``features`` into the layer table at version 1; the new ids, in the order given."""
    start = int(con.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.fid), 0))).scalar_one())
    names = ["_version", *(f.name for f in spec.fields)] + ([] if spec.is_table else ["geom"])
    cols = ", ".join(f'"{n}"' for n in names)
    keys = [f.name for f in spec.fields]
    geoms: Any = None
    if not spec.is_table:
        geoms = shapely.to_wkb(
            shapely.set_srid([f.geometry for f in features], 4326), hex=True, include_srid=True
        )
    raw = con.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f'COPY "{spec.name}" ({cols}) FROM STDIN') as copy:
        if geoms is None:
            for feat in features:
                props = feat.properties
                copy.write_row([1, *(props.get(k) for k in keys)])
        else:
            for feat, geom in zip(features, geoms, strict=True):
                props = feat.properties
                copy.write_row([1, *(props.get(k) for k in keys), geom])
    rows = (
        con.execute(sa.select(table.c.fid).where(table.c.fid > start).order_by(table.c.fid)).scalars().all()
    )
    return [int(r) for r in rows]


def record_creates(
    con: sa.Connection, spec: LayerSpec, table: sa.Table, first_fid: int, *, actor: str, reason: str | None
) -> None:
    """One ``create`` history row (with its ``after`` snapshot) per feature with ``fid >= first_fid``."""
    snap = snapshot_sql(spec, table)
    rows = sa.select(
        sa.literal(spec.name, sa.Text),
        table.c.fid,
        sa.literal(1, sa.Integer),
        sa.literal("create", sa.Text),
        sa.literal(actor, sa.Text),
        sa.func.now(),
        snap,
        sa.literal(reason, sa.Text),
    ).where(table.c.fid >= first_fid)
    con.execute(
        history_t.insert().from_select(
            ["layer", "fid", "version", "op", "actor", "at", "after", "reason"], rows
        )
    )


def record_deletes(con: sa.Connection, spec: LayerSpec, table: sa.Table, *, actor: str, reason: str) -> None:
    """One ``delete`` history row (with its ``before`` snapshot) per feature now in the layer."""
    snap = snapshot_sql(spec, table)
    rows = sa.select(
        sa.literal(spec.name, sa.Text),
        table.c.fid,
        table.c._version + 1,
        sa.literal("delete", sa.Text),
        sa.literal(actor, sa.Text),
        sa.func.now(),
        snap,
        sa.literal(reason, sa.Text),
    )
    con.execute(
        history_t.insert().from_select(
            ["layer", "fid", "version", "op", "actor", "at", "before", "reason"], rows
        )
    )
