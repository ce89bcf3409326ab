"""The PostGIS store: one workspace in a PostgreSQL database (or one schema of it).

Service tables come from static Alembic migrations; layer tables are built from the declarations when
the store opens (:func:`geo_service.store.postgis.schema.layer_table`). Every write is one transaction
that first bumps (and so locks) the layer's row in ``geo_layer_state``: writers to a layer queue, and the
version bump and history rows commit with the change or not at all. Database errors are translated to
domain errors in one place (:meth:`PostGISStore._db`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from geo_service.catalog import Catalog, LayerSpec
from geo_service.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from geo_service.store.base import Change, Document, Feature, NewFeature, Page, Query
from geo_service.store.failures import storage_failure, workspace_name
from geo_service.store.postgis import bulk
from geo_service.store.postgis.schema import (
    NAMING,
    documents_t,
    history_t,
    layer_table,
    snapshot_sql,
    state_t,
    workspace_t,
)
from geo_service.store.values import (
    check_layer_version,
    check_version,
    created_features,
    from_snapshot,
    from_storage,
    highest_id,
    no_document,
    paused_gc,
    plan_replacement,
    refuse_repeats,
    snapshot,
)

__all__ = ["PostGISStore"]

_TZ = ZoneInfo("Asia/Shanghai")
_BULK = 1000  # batches larger than this go through COPY
_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_NAME = workspace_name(None, "postgresql")  # messages name "the PostGIS database", never its address


_AT = bulk.AT_KEY  # where a write transaction keeps the time its changes are recorded at


def _now() -> dt.datetime:
    return dt.datetime.now(_TZ)


class PostGISStore:
    """A workspace in a PostGIS database.

    Parameters
    ----------
    url
        SQLAlchemy URL, ``postgresql+psycopg://user@host:port/db`` (a ``search_path`` may be given in
        it as ``?options=-csearch_path%3Dname,public``).
    catalog
        The layer declarations; a table is created for each layer that has none yet.
    schema
        Keep the workspace in this schema (created if missing) instead of the URL's search path.

    Raises
    ------
    StoreUnavailable
        The database cannot be reached.
    """

    def __init__(self, url: str, catalog: Catalog, *, schema: str | None = None) -> None:
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise InvalidInput(
                f"模式名「{schema}」无效（小写字母、数字、下划线）",
                f"Invalid schema name '{schema}' (lower-case letters, digits, underscores)",
            )
        self.catalog = catalog
        self.schema = schema
        self._exclusive: dict[str, threading.Lock] = {}
        self.engine = sa.create_engine(
            url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args={"connect_timeout": 5}
        )
        sa.event.listen(self.engine, "connect", self._on_connect)
        self._metadata = sa.MetaData(naming_convention=NAMING)
        self.tables = {name: layer_table(spec, self._metadata) for name, spec in catalog.items()}
        self.ensure_layers()

    def _on_connect(self, dbapi_con: Any, _record: Any) -> None:
        """Every session: times in Asia/Shanghai, and the workspace schema first on the search path."""
        with dbapi_con.cursor() as cur:
            cur.execute("SET TIME ZONE 'Asia/Shanghai'")
            if self.schema is not None:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                cur.execute(f"SET search_path TO {self.schema}, public")
        dbapi_con.commit()

    def ensure_layers(self) -> None:
        """Run the migrations, then create any missing layer table and version counter."""
        with self._db() as con:
            cfg = Config()
            cfg.set_main_option("script_location", str(_MIGRATIONS))
            cfg.attributes["connection"] = con
            command.upgrade(cfg, "head")
        with self._db() as con:
            self._metadata.create_all(con, checkfirst=True)
            self._add_declared_columns(con)
            con.execute(
                pg_insert(state_t)
                .values([{"layer": n, "version": 0} for n in self.catalog])
                .on_conflict_do_nothing()
            )
            con.execute(
                pg_insert(workspace_t).values(key="identity", value=uuid.uuid4().hex).on_conflict_do_nothing()
            )
            self.identity = str(
                con.execute(
                    sa.select(workspace_t.c.value).where(workspace_t.c.key == "identity")
                ).scalar_one()
            )

    def _add_declared_columns(self, con: sa.Connection) -> None:
        """A field added to a declaration becomes a column of the existing table (empty for the features
        already there): a declaration change needs no hand-made migration."""
        inspector = sa.inspect(con)
        for table in self.tables.values():
            present = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
            for column in table.columns:
                if column.name not in present:
                    ddl = column.type.compile(dialect=con.dialect)
                    con.execute(
                        sa.text(f'ALTER TABLE {self._qualified(table)} ADD COLUMN "{column.name}" {ddl}')
                    )

    def _qualified(self, table: sa.Table) -> str:
        return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """A PostgreSQL advisory lock named after ``name`` and this store's database and schema, that
        every worker process of the service waits for. Within a process the threads queue on a lock of
        their own first, so at most one connection per process waits in the database (waiting ones
        would hold the pool's connections while the holder needs one). Waiting longer than 30 s, or a
        database that cannot be reached, is a 503."""
        key = zlib.crc32(f"geo-service:{self.engine.url}:{name}".encode()) & 0x7FFFFFFF
        with self._exclusive.setdefault(name, threading.Lock()):
            try:
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as con:
                    con.execute(sa.text("SET lock_timeout = '30s'"))
                    con.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                    try:
                        yield
                    finally:
                        con.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        con.execute(sa.text("RESET lock_timeout"))  # the connection goes back to the pool
            except (OperationalError, sa.exc.TimeoutError) as exc:
                raise StoreUnavailable(
                    "PostGIS 数据库暂不可用或繁忙，请稍后重试",
                    f"The PostGIS database is unavailable or busy: {str(exc).strip()[:200]}",
                ) from None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _db(self) -> Iterator[sa.Connection]:
        """One transaction; database errors become domain errors here and nowhere else."""
        try:
            with self.engine.begin() as con:
                con.info.pop(_AT, None)  # a pooled connection: the time of an earlier transaction's changes
                yield con
        except IntegrityError as exc:
            diag = getattr(exc.orig, "diag", None)
            table = getattr(diag, "table_name", None) or "?"
            constraint = getattr(diag, "constraint_name", None) or "?"
            raise Conflict(
                f"与已有数据冲突：表 {table} 的约束 {constraint}",
                f"Conflicts with stored data: constraint {constraint} of table {table}",
                layer=table if table in self.catalog else None,
            ) from None
        except DBAPIError as exc:
            # a full disk ("could not extend file") or a read-only database (a standby, a read-only
            # transaction) is said as such, for the administrator to act on
            failure = storage_failure(exc, _NAME)
            if failure is not None:
                raise failure from exc
            if isinstance(exc, OperationalError):
                raise StoreUnavailable(
                    "PostGIS 数据库暂不可用，请稍后重试",
                    f"The PostGIS database is unavailable: {str(exc.orig).strip()[:200]}",
                ) from None
            if exc.connection_invalidated:
                raise StoreUnavailable(
                    "PostGIS 连接中断，请稍后重试", "The PostGIS connection was lost"
                ) from None
            raise

    # -- reads ------------------------------------------------------------------------------------
    def layer_version(self, layer: str) -> int:
        self.catalog[layer]
        with self._db() as con:
            return int(con.execute(sa.select(state_t.c.version).where(state_t.c.layer == layer)).scalar_one())

    def layer_versions(self, layers: Sequence[str]) -> dict[str, int]:
        names = [self.catalog[layer].name for layer in layers]
        if not names:
            return {}
        with self._db() as con:
            rows = con.execute(
                sa.select(state_t.c.layer, state_t.c.version).where(state_t.c.layer.in_(names))
            ).all()
        found = {str(layer): int(version) for layer, version in rows}
        return {name: found[name] for name in names}  # (every declared layer has its row)

    def count(self, layer: str) -> int:
        t = self.tables[self.catalog[layer].name]
        with self._db() as con:
            return int(con.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())

    def _columns(self, spec: LayerSpec) -> list[Any]:
        t = self.tables[spec.name]
        geom = sa.func.ST_AsBinary(t.c.geom).label("wkb") if not spec.is_table else sa.null().label("wkb")
        return [t.c.fid, t.c._version, geom, *(t.c[f.name] for f in spec.fields)]

    def _feature(self, spec: LayerSpec, row: Sequence[Any]) -> Feature:
        props = {f.name: from_storage(f, row[3 + i]) for i, f in enumerate(spec.fields)}
        geom = None if row[2] is None else shapely.from_wkb(bytes(row[2]))
        return Feature(spec.name, int(row[0]), props, geom, int(row[1]))

    def get_feature(self, layer: str, fid: int) -> Feature:
        spec = self.catalog[layer]
        t = self.tables[layer]
        with self._db() as con:
            row = con.execute(sa.select(*self._columns(spec)).where(t.c.fid == int(fid))).first()
        if row is None:
            raise NotFound(
                f"图层 {layer} 中没有要素 {fid}",
                f"Layer {layer} has no feature {fid}",
                layer=layer,
                feature=fid,
            )
        return self._feature(spec, row)

    def list_features(self, layer: str, query: Query | None = None) -> Page:
        spec = self.catalog[layer]
        t = self.tables[layer]
        query = query or Query()
        where: list[Any] = []
        for name, value in query.filters.items():
            spec.field(name)
            where.append(t.c[name].is_(None) if value is None else t.c[name] == value)
        lo, hi = query.window()
        for key, op, moment in ((spec.time_start, "le", hi), (spec.time_end, "ge", lo)):
            if key and moment is not None:  # the window starts before the interval ends, ends after it starts
                bound = moment.astimezone(_TZ)
                value = bound.date() if spec.field(key).type == "date" else bound
                col = t.c[key]
                where.append(sa.or_(col.is_(None), col <= value if op == "le" else col >= value))
        if query.bbox is not None and not spec.is_table:
            env = sa.func.ST_MakeEnvelope(*query.bbox, 4326)  # for the index
            box = sa.func.ST_GeomFromWKB(shapely.to_wkb(query.bbox_geometry()), 4326)
            where.extend([t.c.geom.op("&&")(env), sa.func.ST_Intersects(t.c.geom, box)])
        with self._db() as con:
            total = int(con.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar_one())
            q = sa.select(*self._columns(spec)).where(*where).order_by(t.c.fid).offset(query.offset)
            if query.limit is not None:
                q = q.limit(query.limit)
            rows = con.execute(q).all()
        return Page([self._feature(spec, r) for r in rows], total)

    def read_frame(self, layer: str) -> gpd.GeoDataFrame:
        spec = self.catalog[layer]
        with self._db() as con:
            rows = con.execute(sa.select(*self._columns(spec)).order_by(self.tables[layer].c.fid)).all()
        return self._frame(spec, rows)

    @staticmethod
    def _frame(spec: LayerSpec, rows: Sequence[Any]) -> gpd.GeoDataFrame:
        ids = [int(r[0]) for r in rows]
        data: dict[str, Any] = {
            f.name: [from_storage(f, r[3 + i]) for r in rows] for i, f in enumerate(spec.fields)
        }
        data["_version"] = [int(r[1]) for r in rows]
        frame = pd.DataFrame(data, index=pd.Index(ids, name="fid", dtype="int64"))
        if spec.is_table:
            return gpd.GeoDataFrame(frame)
        geoms = shapely.from_wkb([None if r[2] is None else bytes(r[2]) for r in rows]) if rows else []
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=4326))

    # -- writes -----------------------------------------------------------------------------------
    @staticmethod
    def _lock_and_bump(con: sa.Connection, layer: str) -> int:
        """Take the layer's write lock (its state row) and raise its version; the version it had. The
        moment the lock was had is the time of every change this transaction records (``_AT``): the
        database's clock, read once the lock is held, so that a change recorded before an export's
        moment is in that export (see :meth:`export_frame`) and one import's changes all carry one time."""
        version, at = con.execute(
            sa.update(state_t)
            .where(state_t.c.layer == layer)
            .values(version=state_t.c.version + 1)
            .returning(state_t.c.version, sa.func.clock_timestamp())
        ).one()
        con.info[_AT] = at
        return int(version) - 1

    def export_frame(self, layer: str) -> tuple[dt.datetime, gpd.GeoDataFrame]:
        spec = self.catalog[layer]
        with self._db() as con:
            # writers of the layer wait for this transaction (and it for them): every change recorded
            # before the moment read next is committed, and in the frame; every later one is not
            con.execute(sa.select(state_t.c.layer).where(state_t.c.layer == layer).with_for_update(read=True))
            moment = con.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
            rows = con.execute(sa.select(*self._columns(spec)).order_by(self.tables[layer].c.fid)).all()
        return moment, self._frame(spec, rows)

    def _values(self, spec: LayerSpec, feature: NewFeature) -> dict[str, Any]:
        values = {f.name: feature.properties.get(f.name) for f in spec.fields}
        if not spec.is_table:
            geom = feature.geometry
            values["geom"] = None if geom is None else sa.func.ST_GeomFromWKB(shapely.to_wkb(geom), 4326)
        return values

    @staticmethod
    def _history(
        con: sa.Connection,
        layer: str,
        fid: int,
        version: int,
        op: str,
        actor: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        reason: str | None,
    ) -> None:
        PostGISStore._history_many(
            con, layer, [(fid, version, before, after)], op=op, actor=actor, reason=reason
        )

    @staticmethod
    def _history_many(
        con: sa.Connection,
        layer: str,
        changes: Sequence[tuple[int, int, Mapping[str, Any] | None, Mapping[str, Any] | None]],
        *,
        op: str,
        actor: str,
        reason: str | None,
    ) -> None:
        """One history row per (fid, version, before, after), in one batched statement."""
        at = con.info.get(_AT) or _now()
        con.execute(
            history_t.insert(),
            [
                {
                    "layer": layer,
                    "fid": fid,
                    "version": version,
                    "op": op,
                    "actor": actor,
                    "at": at,
                    "before": before,
                    "after": after,
                    "reason": reason,
                }
                for fid, version, before, after in changes
            ],
        )

    def _write_versions(
        self,
        con: sa.Connection,
        spec: LayerSpec,
        rows: Sequence[tuple[int, int, Mapping[str, Any] | None, NewFeature]],
        *,
        op: str,
        actor: str,
        reason: str | None,
    ) -> None:
        """Features written under ids they keep, each (id, version, state before, feature) at the version
        given: COPYed (a statement each took a millisecond: 20,000 changed rows took 24 s), and their
        history (``op``) in one batch. Their rows must have been deleted first."""
        if not rows:
            return
        with paused_gc():
            bulk.copy_features(
                con,
                spec,
                self.tables[spec.name],
                [feat for *_, feat in rows],
                fids=[fid for fid, *_ in rows],
                versions=[version for _, version, *_ in rows],
            )
        self._history_many(
            con,
            spec.name,
            [
                (fid, version, before, snapshot(spec, f.properties, f.geometry))
                for fid, version, before, f in rows
            ],
            op=op,
            actor=actor,
            reason=reason,
        )

    def _check_unique(
        self, con: sa.Connection, spec: LayerSpec, props: Mapping[str, Any], fid: int | None
    ) -> None:
        t = self.tables[spec.name]
        for f in spec.fields:
            if f.unique and props.get(f.name) is not None:
                q = sa.select(t.c.fid).where(t.c[f.name] == props[f.name])
                if fid is not None:
                    q = q.where(t.c.fid != fid)
                other = con.execute(q.limit(1)).scalar()
                if other is not None:
                    raise Conflict(
                        f"图层 {spec.name} 字段「{f.label()}」的值 {props[f.name]} 已被要素 {other} 使用",
                        f"Layer {spec.name}: '{f.name}' = {props[f.name]} is already used by feature {other}",
                        layer=spec.name,
                        field=f.name,
                        feature=fid,
                        details={"conflicting_feature": int(other)},
                    )

    def create_features(
        self, layer: str, features: Sequence[NewFeature], *, actor: str, reason: str | None = None
    ) -> list[Feature]:
        spec = self.catalog[layer]
        t = self.tables[layer]
        if not features:
            return []
        with self._db() as con:
            self._lock_and_bump(con, layer)
            bulk.check_unique_batch(con, spec, t, features)
            if len(features) > _BULK:
                with paused_gc():
                    fids = bulk.copy_features(con, spec, t, features)
                    bulk.record_batch_create(con, spec, fids, actor=actor, reason=reason)
                    return created_features(layer, fids, features)
            made = []
            for feat in features:
                row = con.execute(
                    t.insert().values(_version=1, **self._values(spec, feat)).returning(*self._columns(spec))
                ).one()
                made.append(self._feature(spec, row))
                self._history(
                    con,
                    layer,
                    made[-1].id,
                    1,
                    "create",
                    actor,
                    None,
                    snapshot(spec, feat.properties, feat.geometry),
                    reason,
                )
        return made

    def _current(self, con: sa.Connection, spec: LayerSpec, fid: int) -> Feature:
        t = self.tables[spec.name]
        row = con.execute(
            sa.select(*self._columns(spec)).where(t.c.fid == int(fid)).with_for_update()
        ).first()
        if row is None:
            raise NotFound(
                f"图层 {spec.name} 中没有要素 {fid}",
                f"Layer {spec.name} has no feature {fid}",
                layer=spec.name,
                feature=fid,
            )
        return self._feature(spec, row)

    def update_feature(
        self,
        layer: str,
        fid: int,
        feature: NewFeature,
        *,
        expected_version: int,
        actor: str,
        reason: str | None = None,
    ) -> Feature:
        spec = self.catalog[layer]
        t = self.tables[layer]
        with self._db() as con:
            self._lock_and_bump(con, layer)
            current = self._current(con, spec, fid)
            check_version(current, expected_version)
            self._check_unique(con, spec, feature.properties, int(fid))
            con.execute(
                t.update()
                .where(t.c.fid == int(fid))
                .values(_version=current.version + 1, **self._values(spec, feature))
            )
            self._history(
                con,
                layer,
                int(fid),
                current.version + 1,
                "update",
                actor,
                snapshot(spec, current.properties, current.geometry),
                snapshot(spec, feature.properties, feature.geometry),
                reason,
            )
        return self.get_feature(layer, fid)

    def delete_feature(
        self, layer: str, fid: int, *, expected_version: int, actor: str, reason: str | None = None
    ) -> None:
        spec = self.catalog[layer]
        t = self.tables[layer]
        with self._db() as con:
            self._lock_and_bump(con, layer)
            current = self._current(con, spec, fid)
            check_version(current, expected_version)
            con.execute(t.delete().where(t.c.fid == int(fid)))
            self._history(
                con,
                layer,
                int(fid),
                current.version + 1,
                "delete",
                actor,
                snapshot(spec, current.properties, current.geometry),
                None,
                reason,
            )

    def restore_feature(self, layer: str, fid: int, *, actor: str, reason: str | None = None) -> Feature:
        spec = self.catalog[layer]
        t = self.tables[layer]
        with self._db() as con:
            self._lock_and_bump(con, layer)
            exists = con.execute(sa.select(t.c.fid).where(t.c.fid == int(fid))).first()
            last = con.execute(
                sa.select(history_t.c.version, history_t.c.op, history_t.c.before)
                .where(history_t.c.layer == layer, history_t.c.fid == int(fid))
                .order_by(history_t.c.id.desc())
                .limit(1)
            ).first()
            if exists or last is None or last[1] != "delete" or last[2] is None:
                raise NotFound(
                    f"图层 {layer} 中没有可恢复的已删除要素 {fid}",
                    f"Layer {layer} has no deleted feature {fid} to restore",
                    layer=layer,
                    feature=fid,
                )
            restored = from_snapshot(spec, last[2])
            self._check_unique(con, spec, restored.properties, int(fid))
            version = int(last[0]) + 1
            con.execute(t.insert().values(fid=int(fid), _version=version, **self._values(spec, restored)))
            self._history(con, layer, int(fid), version, "restore", actor, None, last[2], reason)
        return self.get_feature(layer, fid)

    def replace_layer(
        self,
        layer: str,
        features: Sequence[NewFeature],
        *,
        actor: str,
        reason: str | None = None,
        ids: Sequence[int | None] | None = None,
        expected: Mapping[int, int] | None = None,
        restore: bool = False,
        expected_layer_version: int | None = None,
    ) -> int:
        spec = self.catalog[layer]
        t = self.tables[layer]
        why = reason or "replace layer"
        refuse_repeats(spec, features)
        named = sorted({int(i) for i in (*(ids or ()), *(expected or {})) if i is not None})
        with self._db() as con:
            had = self._lock_and_bump(con, layer)  # the layer's writers wait here: what is read next stays so
            check_layer_version(layer, expected_layer_version, had)
            old: dict[int, Feature] = {}
            if named:
                rows = con.execute(
                    sa.select(*self._columns(spec)).where(t.c.fid == sa.any_(bulk.ids_param(named)))
                )
                old = {f.id: f for f in (self._feature(spec, r) for r in rows)}
            deleted: dict[int, int] = {}
            if restore:  # the named ids that are deleted features: each one's last version
                gone = [i for i in named if i not in old]
                h = history_t
                rows = con.execute(
                    sa.select(h.c.fid, h.c.version, h.c.op)
                    .where(h.c.layer == layer, h.c.fid == sa.any_(bulk.ids_param(gone)))
                    .order_by(h.c.id)
                )
                last = {int(r.fid): (int(r.version), r.op) for r in rows}  # each id's newest change
                deleted = {fid: version for fid, (version, op) in last.items() if op == "delete"}
            taken, same, back, news = plan_replacement(spec, features, ids, expected, old, deleted)
            bulk.record_deletes(con, spec, t, actor=actor, reason=why, keep=list(taken))
            con.execute(t.delete().where(sa.not_(t.c.fid == sa.any_(bulk.ids_param(same)))))
            # a changed feature keeps its id, at its next version; a deleted one brought back, its own
            changed = [(fid, i) for fid, i in taken.items() if fid not in same]
            if changed or back or news:
                kept = [features[i] for _, i in changed] + [features[i] for i in back.values()]
                bulk.check_unique_batch(con, spec, t, kept + list(news))
            self._write_versions(
                con,
                spec,
                [
                    (
                        fid,
                        old[fid].version + 1,
                        snapshot(spec, old[fid].properties, old[fid].geometry),
                        features[i],
                    )
                    for fid, i in changed
                ],
                op="update",
                actor=actor,
                reason=why,
            )
            self._write_versions(
                con,
                spec,
                [(fid, deleted[fid] + 1, None, features[i]) for fid, i in back.items()],
                op="restore",
                actor=actor,
                reason=why,
            )
            if news:
                with paused_gc():
                    fids = bulk.copy_features(con, spec, t, news)
                bulk.record_batch_create(con, spec, fids, actor=actor, reason=why)
        return len(features)

    def history(self, layer: str, fid: int | None = None, *, limit: int = 1000) -> list[Change]:
        spec = self.catalog[layer]
        h = history_t
        # a batch row stands for the creates of fid .. last_fid: one change each, newest first
        if fid is None:
            feature_id: Any = sa.func.generate_series(sa.func.coalesce(h.c.last_fid, h.c.fid), h.c.fid, -1)
            where = h.c.layer == layer
        else:
            feature_id = sa.literal(int(fid), sa.BigInteger)
            where = sa.and_(
                h.c.layer == layer,
                sa.or_(
                    h.c.fid == int(fid),
                    sa.and_(h.c.last_fid.is_not(None), h.c.fid <= int(fid), h.c.last_fid >= int(fid)),
                ),
            )
        page = (
            sa.select(h, feature_id.label("feature_id"))
            .where(where)
            .order_by(h.c.id.desc(), sa.desc(sa.literal_column("feature_id")))
            .limit(limit)
            .subquery()
        )
        # a create recorded without 'after' (a large batch) reads the state it made from the feature while
        # it is at version 1, else from the 'before' of its version-2 change (an update or a delete)
        t = self.tables[layer]
        created = sa.and_(page.c.op == "create", page.c.after.is_(None))
        nxt = history_t.alias("nxt")
        next_before = (
            sa.select(nxt.c.before)
            .where(
                nxt.c.layer == layer, nxt.c.fid == page.c.feature_id, nxt.c.version == 2, nxt.c.id > page.c.id
            )
            .order_by(nxt.c.id)
            .limit(1)
            .scalar_subquery()
        )
        after = sa.case(
            (sa.and_(created, t.c.fid.is_not(None)), snapshot_sql(spec, t)),
            (created, next_before),
            else_=page.c.after,
        )
        q = (
            sa.select(page, after.label("state"))
            .select_from(page.outerjoin(t, sa.and_(created, t.c.fid == page.c.feature_id, t.c._version == 1)))
            .order_by(page.c.id.desc(), page.c.feature_id.desc())
        )
        with self._db() as con:
            rows = con.execute(q).all()
        return [
            Change(
                layer,
                int(r.feature_id),
                int(r.version),
                r.op,
                r.actor,
                r.at.astimezone(_TZ),
                _numbers_as_floats(spec, r.before),
                _numbers_as_floats(spec, r.state),
                r.reason,
            )
            for r in rows
        ]

    # -- documents --------------------------------------------------------------------------------
    def put_document(self, kind: str, key: str, body: Mapping[str, Any], *, actor: str) -> None:
        payload = json.loads(json.dumps(body, ensure_ascii=False, default=str))
        with self._db() as con:
            done = con.execute(
                pg_insert(documents_t)
                .values(kind=kind, key=key, created_at=_now(), actor=actor, body=payload)
                .on_conflict_do_nothing()
                .returning(documents_t.c.key)
            ).scalar()
            if done is None:
                raise Conflict(
                    f"{kind} 「{key}」已存在，不会覆盖",
                    f"{kind} '{key}' exists already; not overwritten",
                    feature=key,
                )

    def get_document(self, kind: str, key: str) -> Mapping[str, Any]:
        with self._db() as con:
            body = con.execute(
                sa.select(documents_t.c.body).where(documents_t.c.kind == kind, documents_t.c.key == key)
            ).scalar()
        if body is None:
            raise no_document(kind, key)
        return body

    def list_documents(self, kind: str) -> list[tuple[str, dt.datetime, str]]:
        with self._db() as con:
            rows = con.execute(
                sa.select(documents_t.c.key, documents_t.c.created_at, documents_t.c.actor)
                .where(documents_t.c.kind == kind)
                .order_by(documents_t.c.created_at.desc(), documents_t.c.key.desc())
            ).all()
        return [(r[0], r[1].astimezone(_TZ), r[2]) for r in rows]

    def all_documents(self) -> list[Document]:
        with self._db() as con:
            rows = (
                con.execute(
                    sa.select(documents_t).order_by(
                        documents_t.c.kind, documents_t.c.created_at, documents_t.c.key
                    )
                )
                .mappings()
                .all()
            )
        return [
            Document(r["kind"], r["key"], r["created_at"].astimezone(_TZ), r["actor"], r["body"])
            for r in rows
        ]

    def load_state(
        self,
        layers: Mapping[str, Sequence[Feature]],
        history: Sequence[Change],
        documents: Sequence[Document],
    ) -> None:
        with self._db() as con:
            busy = [n for n, t in self.tables.items() if con.execute(sa.select(t.c.fid).limit(1)).first()]
            if (
                busy
                or con.execute(sa.select(history_t.c.id).limit(1)).first()
                or con.execute(sa.select(documents_t.c.key).limit(1)).first()
            ):
                raise Conflict(
                    "只能恢复到空的工作空间",
                    "A backup can be restored only into an empty workspace",
                    layer=busy[0] if busy else None,
                )
            for name, feats in layers.items():
                spec = self.catalog[name]
                t = self.tables[name]
                self._lock_and_bump(con, name)
                for f in feats:
                    con.execute(
                        t.insert().values(
                            fid=f.id,
                            _version=f.version,
                            **self._values(spec, NewFeature(f.properties, f.geometry)),
                        )
                    )
                top = highest_id(name, feats, history)
                if top:  # new ids go on after every id the layer has had, deleted ones too (restorable)
                    con.execute(
                        sa.text(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'fid'), :top)"),
                        {"top": top},
                    )
            if history:
                con.execute(
                    history_t.insert(),
                    [
                        {
                            "layer": c.layer,
                            "fid": c.feature_id,
                            "version": c.version,
                            "op": c.op,
                            "actor": c.actor,
                            "at": c.at,
                            "before": c.before,
                            "after": c.after,
                            "reason": c.reason,
                        }
                        for c in history
                    ],
                )
            for d in documents:
                con.execute(
                    documents_t.insert().values(
                        kind=d.kind, key=d.key, created_at=d.created_at, actor=d.actor, body=d.body
                    )
                )


def _numbers_as_floats(spec: LayerSpec, state: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A history state with its number fields as floats, as Python records them: the states a bulk
    write records in SQL come back from jsonb as whole numbers (15, not 15.0)."""
    if not state or not isinstance(state.get("properties"), Mapping):
        return state
    props = state["properties"]
    wrong = [f.name for f in spec.fields if f.type == "number" and type(props.get(f.name)) is int]
    if not wrong:
        return state
    return {**state, "properties": {**props, **{name: float(props[name]) for name in wrong}}}
