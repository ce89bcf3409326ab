"""Tables of a PostGIS workspace.

The service tables (``geo_history``, ``geo_layer_state``, ``geo_documents``, ``geo_workspace``,
accounts) are created by the static Alembic migrations in ``geo_service/store/migrations``; the tables
below mirror them for queries. Layer tables are built from the declarations: ``fid`` (identity primary
key), ``_version``, ``geom geometry(Geometry, 4326)`` with a GiST index (not for table layers), then one
typed column per declared field, and a unique index per ``unique: true`` field.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

from geo_service.catalog import LayerSpec

__all__ = [
    "NAMING",
    "TYPES",
    "documents_t",
    "history_t",
    "layer_table",
    "snapshot_sql",
    "state_t",
    "workspace_t",
]

#: Constraint and index names, so migrations and error messages can rely on them.
NAMING = {
    "pk": "pk_%(table_name)s",
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}

#: Column type for each declared field type.
TYPES: dict[str, Any] = {
    "string": sa.Text,
    "integer": sa.BigInteger,
    "number": sa.Float(precision=53),
    "boolean": sa.Boolean,
    "date": sa.Date,
    "datetime": sa.DateTime(timezone=True),
}

_meta = sa.MetaData(naming_convention=NAMING)
history_t = sa.Table(
    "geo_history",
    _meta,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("layer", sa.Text),
    sa.Column("fid", sa.BigInteger),
    # a batch of creates: fid .. last_fid (see bulk.record_batch_create)
    sa.Column("last_fid", sa.BigInteger),
    sa.Column("version", sa.Integer),
    sa.Column("op", sa.Text),
    sa.Column("actor", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("before", JSONB),
    sa.Column("after", JSONB),
    sa.Column("reason", sa.Text),
)
state_t = sa.Table(
    "geo_layer_state",
    _meta,
    sa.Column("layer", sa.Text, primary_key=True),
    sa.Column("version", sa.BigInteger),
)
workspace_t = sa.Table(  # the workspace's identity (see ``Store.identity``)
    "geo_workspace",
    _meta,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text),
)
documents_t = sa.Table(
    "geo_documents",
    _meta,
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("actor", sa.Text),
    sa.Column("body", JSONB),
)


def layer_table(spec: LayerSpec, metadata: sa.MetaData) -> sa.Table:
    """The table of one declared layer (added to ``metadata``, which should use :data:`NAMING`)."""
    cols: list[Any] = [
        sa.Column("fid", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("_version", sa.Integer, nullable=False),
    ]
    if not spec.is_table:
        cols.append(sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=True)))
    cols.extend(sa.Column(f.name, TYPES[f.type]) for f in spec.fields)
    table = sa.Table(spec.name, metadata, *cols)
    for f in spec.fields:
        if f.unique:
            sa.Index(f"uq_{spec.name}_{f.name}", table.c[f.name], unique=True)
    return table


def snapshot_sql(spec: LayerSpec, table: sa.Table) -> sa.ColumnElement[Any]:
    """SQL building the history snapshot of a row, as :func:`geo_service.store.values.snapshot` does.

    Dates and times become ISO strings (times in the session zone, Asia/Shanghai) and the geometry
    GeoJSON, so bulk writes can record their history without a round trip through Python.
    """
    pairs: list[Any] = []
    for f in spec.fields:
        col = table.c[f.name]
        if f.type == "datetime":  # as Python's isoformat(): fraction only when there is one
            fraction = sa.case(
                (sa.extract("microseconds", col) % 1_000_000 != 0, sa.func.to_char(col, ".US")), else_=""
            )
            value: Any = (
                sa.func.to_char(col, 'YYYY-MM-DD"T"HH24:MI:SS') + fraction + sa.func.to_char(col, "TZH:TZM")
            )
        elif f.type == "date":
            value = sa.func.to_jsonb(sa.cast(col, sa.Text))
        else:
            value = col
        pairs.extend([sa.literal(f.name, sa.Text), value])
    props = sa.func.jsonb_build_object(*pairs)
    geom: Any = sa.null() if spec.is_table else sa.cast(sa.func.ST_AsGeoJSON(table.c.geom, 15), JSONB)
    return sa.func.jsonb_build_object(
        sa.literal("properties", sa.Text), props, sa.literal("geometry", sa.Text), geom, type_=JSONB
    )
