"""Large batches: binary COPY of the rows, unique fields checked in one query, history as one batch row.

All of it runs inside the caller's transaction, which already holds the layer's lock (the row of
``geo_layer_state``), so no other writer of the store takes ids of the layer meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy.dialects.postgresql import ARRAY

from geo_service.catalog import LayerSpec
from geo_service.errors import Conflict
from geo_service.store.base import NewFeature
from geo_service.store.postgis.schema import history_t, snapshot_sql
from geo_service.store.values import refuse_repeats

__all__ = ["check_unique_batch", "copy_features", "ids_param", "record_batch_create", "record_deletes"]

#: PostgreSQL type of each declared field type, for binary COPY.
_COPY_TYPES = {
    "string": "text",
    "integer": "int8",
    "number": "float8",
    "boolean": "bool",
    "date": "date",
    "datetime": "timestamptz",
}


def check_unique_batch(
    con: sa.Connection, spec: LayerSpec, table: sa.Table, features: Sequence[NewFeature]
) -> None:
    """Refuse (``Conflict``) a batch whose unique fields repeat within it or clash with stored rows."""
    refuse_repeats(spec, features)
    for f in spec.fields:
        if not f.unique:
            continue
        values = [x.properties.get(f.name) for x in features if x.properties.get(f.name) is not None]
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
                details={"conflicting_feature": int(clash[0])},
            )


def _reserve_ids(con: sa.Connection, spec: LayerSpec, n: int) -> int:
    """The first of ``n`` consecutive new feature ids, taken from the layer's identity sequence."""
    seq = sa.func.pg_get_serial_sequence(sa.literal(f'"{spec.name}"'), sa.literal("fid"))
    first = int(con.execute(sa.select(sa.func.nextval(seq))).scalar_one())
    if n > 1:
        con.execute(sa.select(sa.func.setval(seq, first + n - 1)))
    return first


def _geometry_dumper(con: sa.Connection) -> type[Dumper]:
    """A binary COPY dumper passing (E)WKB bytes to the ``geometry`` type as they are."""
    geometry_oid = int(con.execute(sa.text("SELECT 'geometry'::regtype::oid")).scalar_one())

    class WKBDumper(Dumper):
        format = Format.BINARY
        oid = geometry_oid

        def dump(self, obj: Any) -> Any:
            return obj

    return WKBDumper


def _spatial_indexes(con: sa.Connection, spec: LayerSpec) -> list[tuple[str, str]]:
    return [
        (str(name), str(ddl))
        for name, ddl in con.execute(
            sa.text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = :t AND indexdef LIKE '%USING gist%'"
            ),
            {"t": spec.name},
        )
    ]


def copy_features(
    con: sa.Connection,
    spec: LayerSpec,
    table: sa.Table,
    features: Sequence[NewFeature],
    *,
    fids: Sequence[int] | None = None,
    versions: Sequence[int] | None = None,
) -> list[int]:
    """COPY ``features`` into the layer table at version 1; the new ids (consecutive), in the order given.
    With ``fids`` and ``versions`` the rows take those ids and versions instead (features a replace
    keeps, at their next version: their rows must have been deleted first).

    When the batch is at least as large as the layer, the spatial index is dropped before the COPY and
    built again after it, in the same transaction (much faster than growing it row by row; readers of
    the layer wait for the import meanwhile).
    """
    n = len(features)
    if fids is None:
        first = _reserve_ids(con, spec, n)
        fids = range(first, first + n)
    names: list[str] = ["fid", "_version"]
    types: list[str | int] = ["int8", "int4"]  # type names, or the geometry's oid
    columns: list[Sequence[Any]] = [fids, [1] * n if versions is None else versions]
    for f in spec.fields:
        values = [feat.properties.get(f.name) for feat in features]
        if any(v is not None for v in values):  # a column left out of the COPY is NULL
            names.append(f.name)
            types.append(_COPY_TYPES[f.type])
            columns.append(values)
    raw = con.connection.driver_connection
    assert raw is not None
    indexes: list[tuple[str, str]] = []
    with raw.cursor() as cur:
        if not spec.is_table:
            geoms = np.fromiter((f.geometry for f in features), dtype=object, count=n)
            dumper = _geometry_dumper(con)
            cur.adapters.register_dumper(None, dumper)
            names.append("geom")
            types.append(dumper.oid)
            # plain WKB: the column's typmod gives geometries without an SRID its SRID (4326)
            columns.append(shapely.to_wkb(geoms).tolist())
            stored = con.execute(
                sa.select(sa.func.count()).select_from(sa.select(table.c.fid).limit(n).subquery())
            )
            if stored.scalar_one() < n:
                indexes = _spatial_indexes(con, spec)
                for name, _ in indexes:
                    cur.execute(f'DROP INDEX "{name}"')
        cols = ", ".join(f'"{c}"' for c in names)
        with cur.copy(f'COPY "{spec.name}" ({cols}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types(types)
            for row in zip(*columns, strict=True):
                copy.write_row(row)
        for _, ddl in indexes:
            cur.execute(ddl)
    return list(fids)


def record_batch_create(
    con: sa.Connection, spec: LayerSpec, fids: Sequence[int], *, actor: str, reason: str | None
) -> None:
    """One ``create`` history row standing for every feature of a batch (consecutive ids ``fids``).

    ``fid``..``last_fid`` are the batch's ids and ``after`` is left out: the store's history expands
    the row into one change per feature and reads each created state from the feature itself (or from
    the ``before`` of its next change).
    """
    con.execute(
        history_t.insert().values(
            layer=spec.name,
            fid=fids[0],
            last_fid=fids[-1],
            version=1,
            op="create",
            actor=actor,
            at=_at(con),
            reason=reason,
        )
    )


#: where a write transaction keeps the time its changes are recorded at (``PostGISStore._lock_and_bump``)
AT_KEY = "geo_service.at"


def _at(con: sa.Connection) -> Any:
    """The time this transaction's changes are recorded at: the moment it took the layer's lock (see
    ``PostGISStore._lock_and_bump``), else the database's clock now."""
    at = con.info.get(AT_KEY)
    if at is None:
        return sa.func.clock_timestamp()
    return sa.bindparam(None, at, type_=sa.DateTime(timezone=True))


def ids_param(ids: Iterable[int]) -> Any:
    """Feature ids as one array parameter (``fid = ANY(:ids)``: any number of them)."""
    return sa.bindparam(None, [int(i) for i in ids], type_=ARRAY(sa.BigInteger))


def record_deletes(
    con: sa.Connection,
    spec: LayerSpec,
    table: sa.Table,
    *,
    actor: str,
    reason: str,
    keep: Sequence[int] = (),
) -> None:
    """One ``delete`` history row (with its ``before`` snapshot) per feature now in the layer, but for
    the features ``keep``."""
    snap = snapshot_sql(spec, table)
    kept = ids_param(keep)
    rows = sa.select(
        sa.literal(spec.name, sa.Text),
        table.c.fid,
        table.c._version + 1,
        sa.literal("delete", sa.Text),
        sa.literal(actor, sa.Text),
        _at(con),
        snap,
        sa.literal(reason, sa.Text),
    ).where(sa.not_(table.c.fid == sa.any_(kept)))
    con.execute(
        history_t.insert().from_select(
            ["layer", "fid", "version", "op", "actor", "at", "before", "reason"], rows
        )
    )
