"""The embedded store: one GeoPackage file per workspace, which QGIS and GDAL open as they are.

Layers are created through GDAL (pyogrio), so the file carries the GeoPackage metadata, spatial
indexes and feature counts GDAL and QGIS expect. Row writes go through SQLite transactions on the same
file (with the ``ST_*`` functions GDAL's R-tree triggers call registered on the connection), so an
interrupted write leaves the file as it was, and a batch is all-or-nothing. A large batch sets GDAL's
per-row triggers aside and packs the R-tree at once (as GDAL does when it builds a spatial index), and
records its creates without copies of the rows, which the history reads from the features.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import itertools
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo_service.catalog import Catalog, LayerSpec
from geo_service.errors import Conflict, NotFound, StorageUnwritable, StoreUnavailable
from geo_service.store.base import Change, Document, Feature, NewFeature, Page, Query
from geo_service.store.failures import storage_failure, workspace_name
from geo_service.store.gpkg_blobs import (
    blob_wkb,
    bulk_load_rtree,
    decode,
    envelope,
    geometry_blob,
    geometry_blobs,
    is_empty,
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
    recorded_snapshot,
    refuse_repeats,
    snapshot,
    to_storage,
)

__all__ = ["GeoPackageStore"]

log = logging.getLogger("geo_service.store")

_TZ = ZoneInfo("Asia/Shanghai")
_SRS = 4326
_BULK_HISTORY = 1000  # batches larger than this record creates without an 'after' copy (see history())

_META_TABLES = {
    "geo_history": """CREATE TABLE IF NOT EXISTS geo_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, layer TEXT NOT NULL, fid INTEGER NOT NULL,
        version INTEGER NOT NULL, op TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL,
        before TEXT, after TEXT, reason TEXT)""",
    "geo_layer_state": """CREATE TABLE IF NOT EXISTS geo_layer_state (
        layer TEXT PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0)""",
    "geo_documents": """CREATE TABLE IF NOT EXISTS geo_documents (
        kind TEXT NOT NULL, key TEXT NOT NULL, created_at TEXT NOT NULL, actor TEXT NOT NULL,
        body TEXT NOT NULL, PRIMARY KEY (kind, key))""",
}
# added later: a workspace made before it that cannot be written opens without it
_WORKSPACE_TABLE = "CREATE TABLE IF NOT EXISTS geo_workspace (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'


def _now() -> dt.datetime:
    return dt.datetime.now(_TZ)


class GeoPackageStore:
    """A workspace in one GeoPackage file.

    Parameters
    ----------
    path
        The ``.gpkg`` file; created with every declared layer if missing, and new declared layers are
        added to an existing file.
    catalog
        The layer declarations.
    """

    def __init__(self, path: Path | str, catalog: Catalog) -> None:
        self.path = Path(path)
        self.catalog = catalog
        self._name = workspace_name(self.path)
        self._lock = threading.RLock()
        self._at = _now()  # the time of the changes the current write transaction records
        self._checking = threading.RLock()  # exclusive(): one thread of this process at a time
        self._held = 0  # how deep this process holds exclusive(): the file lock is taken at the first
        self._lockfile: IO[bytes] | None = None
        # the layers' versions as last read, with when: (SQLite's data_version, which moves with every
        # commit of another connection, other processes' too; and this connection's write transactions)
        self._versions: tuple[tuple[int, int], dict[str, int]] | None = None
        self._transactions = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existing = set()
            if self.path.exists():
                self._recover()
                existing = {str(name) for name, _ in pyogrio.list_layers(self.path)}
            for spec in catalog.values():
                if spec.name not in existing:
                    self._create_layer(spec)
            self._con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            failure = storage_failure(exc, self._name)
            if failure is None:
                raise
            raise failure from exc
        for name, fn in (
            ("ST_MinX", lambda b: envelope(b, 0)),
            ("ST_MaxX", lambda b: envelope(b, 1)),
            ("ST_MinY", lambda b: envelope(b, 2)),
            ("ST_MaxY", lambda b: envelope(b, 3)),
            ("ST_IsEmpty", is_empty),
        ):
            self._con.create_function(name, 1, fn, deterministic=True)
        self._con.execute("PRAGMA busy_timeout = 30000")
        self._con.execute(
            "PRAGMA cache_size = -262144"
        )  # 256 MB of page cache: large imports touch many pages
        try:
            with self._transaction() as cur:
                self._set_up(cur)
        except StorageUnwritable:
            # a workspace that cannot be written (a read-only file or disk) but has every table and
            # column it needs is still read: reads are answered, each write is refused as a 503
            if not self._is_set_up():
                self._con.close()
                raise
            log.warning(
                "%s无法写入，只读打开 / %s cannot be written: opened for reading only",
                self._name.zh,
                self._name.en,
            )
        self.identity = self._identity()

    def _identity(self) -> str:
        """The workspace's identity (see ``Store.identity``). A workspace made before identities that
        cannot be written has none: one made up for this process then, so that its validators match no
        other's (each process's differ: a client only revalidates less often)."""
        with self._lock:
            try:
                row = self._con.execute("SELECT value FROM geo_workspace WHERE key = 'identity'").fetchone()
            except sqlite3.OperationalError:  # (no such table)
                row = None
        return str(row[0]) if row else uuid.uuid4().hex

    def _recover(self) -> None:
        """Undo a write that a crash, a full disk or a disk error interrupted. It leaves a hot journal
        beside the file, which SQLite rolls back at the first read of a connection that may write; GDAL
        opens the file read-only to list its layers and could not (so the workspace would not open
        again, even once the disk had room or the file could be written)."""
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            con.close()

    def _set_up(self, cur: sqlite3.Cursor) -> None:
        """The service's own tables, the columns added to declarations, a version for each layer."""
        for ddl in _META_TABLES.values():
            cur.execute(ddl)
        cur.execute(_WORKSPACE_TABLE)
        cur.execute(
            "INSERT OR IGNORE INTO geo_workspace (key, value) VALUES ('identity', ?)", (uuid.uuid4().hex,)
        )
        self._add_declared_columns(cur)
        cur.execute("CREATE INDEX IF NOT EXISTS ix_geo_history_layer_fid ON geo_history (layer, fid)")
        for name in [*_META_TABLES, "geo_workspace"]:
            cur.execute(
                "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
                "VALUES (?, 'attributes', ?, 'geo-service metadata')",
                (name, name),
            )
        for spec in self.catalog.values():
            cur.execute("INSERT OR IGNORE INTO geo_layer_state (layer, version) VALUES (?, 0)", (spec.name,))

    def _is_set_up(self) -> bool:
        """Whether the file has the service's tables and every declared column (reads need no more)."""
        with self._lock:
            tables = {
                row[0] for row in self._con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if not set(_META_TABLES) <= tables:
                return False
            for spec in self.catalog.values():
                present = {row[1] for row in self._con.execute(f'PRAGMA table_info("{spec.name}")')}
                if any(f.name not in present for f in spec.fields):
                    return False
        return True

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """A lock for a check and the write it allows: one thread of this process at a time, and a lock
        on ``<workspace>.lock`` that other processes over the same file take as well (a
        ``geo-service import`` from the command line checks and writes while the service does not, and
        the other way round). Reads go on meanwhile. Held again by its holder (the references lock, then
        the siting lock) it is taken once; waiting more than 30 s for another process is a 503."""
        with self._checking:
            if self._held == 0:
                self._lockfile = self._take_file_lock()
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
                if self._held == 0 and self._lockfile is not None:
                    fcntl.flock(self._lockfile, fcntl.LOCK_UN)
                    self._lockfile.close()
                    self._lockfile = None

    def _take_file_lock(self, wait_s: float = 30.0) -> IO[bytes] | None:
        try:
            handle = open(self.path.with_name(self.path.name + ".lock"), "a+b")  # noqa: SIM115
        except OSError:  # a folder the service may not write beside the file: this process's lock alone
            return None
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise StoreUnavailable(
                        "工作空间正被另一进程（如命令行导入）写入，请稍后重试",
                        "Another process (such as a command-line import) is writing the workspace; try again later",
                    ) from None
                time.sleep(0.05)

    # -- set-up -----------------------------------------------------------------------------------
    def _add_declared_columns(self, cur: sqlite3.Cursor) -> None:
        """A field added to a declaration becomes a column of the existing table (empty for the features
        already there): a declaration change needs no hand-made migration."""
        for spec in self.catalog.values():
            present = {row[1] for row in cur.execute(f'PRAGMA table_info("{spec.name}")')}
            for f in spec.fields:
                if f.name not in present:
                    sql_type = {"integer": "INTEGER", "number": "REAL", "boolean": "BOOLEAN"}.get(
                        f.type, "TEXT"
                    )
                    cur.execute(f'ALTER TABLE "{spec.name}" ADD COLUMN "{f.name}" {sql_type}')

    def _create_layer(self, spec: LayerSpec) -> None:
        columns: dict[str, pd.Series] = {}
        for f in spec.fields:
            dtype = {"integer": "int64", "number": "float64", "boolean": "bool"}.get(f.type, "object")
            columns[f.name] = pd.Series([], dtype=dtype)
        columns["_version"] = pd.Series([], dtype="int64")
        frame = pd.DataFrame(columns)
        title = f"{spec.title['zh']} / {spec.title['en']}"
        if spec.is_table:
            pyogrio.write_dataframe(
                frame, self.path, layer=spec.name, driver="GPKG", layer_options={"IDENTIFIER": title}
            )
            return
        gtype = spec.geometry_types[0] if len(spec.geometry_types) == 1 else "Unknown"
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=_SRS))
        pyogrio.write_dataframe(
            gdf,
            self.path,
            layer=spec.name,
            driver="GPKG",
            geometry_type=gtype,
            layer_options={"IDENTIFIER": title},
        )

    def close(self) -> None:
        with self._lock:
            self._con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction, all or nothing. A full disk or a file that cannot be written is
        said as such (``StorageFull``, ``StorageUnwritable``); the rollback after it never hides it."""
        with self._lock:
            cur = self._con.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise storage_failure(exc, self._name) or StoreUnavailable(
                    "GeoPackage 文件被占用，请稍后重试", f"GeoPackage is busy: {exc}"
                ) from exc
            # the time of every change this transaction records, read once the file is held: one
            # import's changes carry one time, and a change recorded before an export's moment is in it
            self._at = _now()
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException as exc:
                self._roll_back()
                if isinstance(exc, sqlite3.Error):
                    failure = storage_failure(exc, self._name)
                    if failure is not None:
                        raise failure from exc
                raise
            finally:
                self._transactions += 1  # (the versions read before it are read again)

    def _roll_back(self) -> None:
        """Undo the open transaction, if SQLite has not undone it already: after a full disk or an I/O
        error it may have (and a ROLLBACK then fails with "no transaction is active", which must not
        take the place of the error that ended the transaction)."""
        if not self._con.in_transaction:
            return
        try:
            self._con.execute("ROLLBACK")
        except sqlite3.Error:
            log.warning("rollback of %s failed", self._name.en, exc_info=True)

    # -- reads ------------------------------------------------------------------------------------
    def layer_version(self, layer: str) -> int:
        return self.layer_versions([layer])[self.catalog[layer].name]

    def layer_versions(self, layers: Sequence[str]) -> dict[str, int]:
        """As :meth:`Store.layer_versions`; the versions are read again only when the file has changed
        since they were last read (asking SQLite's ``data_version`` costs less than the query: every
        who-covers request asks)."""
        names = [self.catalog[layer].name for layer in layers]
        if not names:
            return {}
        with self._lock:
            stamp = (int(self._con.execute("PRAGMA data_version").fetchone()[0]), self._transactions)
            if self._versions is None or self._versions[0] != stamp:
                rows = self._con.execute("SELECT layer, version FROM geo_layer_state").fetchall()
                self._versions = (stamp, {str(layer): int(version) for layer, version in rows})
            found = self._versions[1]
        return {name: found.get(name, 0) for name in names}

    def count(self, layer: str) -> int:
        self.catalog[layer]
        with self._lock:
            return int(self._con.execute(f'SELECT COUNT(*) FROM "{layer}"').fetchone()[0])

    def _select(self, spec: LayerSpec) -> str:
        cols = ", ".join(f'"{f.name}"' for f in spec.fields)
        geom = ", geom" if not spec.is_table else ", NULL"
        return f'SELECT fid, _version{geom}, {cols} FROM "{spec.name}"'

    def _row_to_feature(self, spec: LayerSpec, row: Sequence[Any]) -> Feature:
        props = {f.name: from_storage(f, row[3 + i]) for i, f in enumerate(spec.fields)}
        return Feature(
            layer=spec.name, id=int(row[0]), properties=props, geometry=decode(row[2]), version=int(row[1])
        )

    def get_feature(self, layer: str, fid: int) -> Feature:
        spec = self.catalog[layer]
        with self._lock:
            row = self._con.execute(self._select(spec) + " WHERE fid = ?", (int(fid),)).fetchone()
        if row is None:
            raise NotFound(
                f"图层 {layer} 中没有要素 {fid}",
                f"Layer {layer} has no feature {fid}",
                layer=layer,
                feature=fid,
            )
        return self._row_to_feature(spec, row)

    def list_features(self, layer: str, query: Query | None = None) -> Page:
        spec = self.catalog[layer]
        query = query or Query()
        where, params = [], []
        for name, value in query.filters.items():
            field = spec.field(name)
            if value is None:
                where.append(f'"{name}" IS NULL')
            else:
                where.append(f'"{name}" = ?')
                params.append(to_storage(field, value))
        lo, hi = query.window()
        if hi is not None and spec.time_start:  # the window starts before the interval ends
            where.append(f'("{spec.time_start}" IS NULL OR substr("{spec.time_start}", 1, 10) <= ?)')
            params.append(hi.astimezone(_TZ).date().isoformat())
        if lo is not None and spec.time_end:  # and ends after it starts
            where.append(f'("{spec.time_end}" IS NULL OR substr("{spec.time_end}", 1, 10) >= ?)')
            params.append(lo.astimezone(_TZ).date().isoformat())
        sql = self._select(spec)
        if query.bbox is not None and not spec.is_table:
            minx, miny, maxx, maxy = query.bbox
            where.append(
                f'fid IN (SELECT id FROM "rtree_{layer}_geom" WHERE maxx >= ? AND minx <= ? '
                "AND maxy >= ? AND miny <= ?)"
            )
            params.extend([minx, maxx, miny, maxy])
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._lock:
            if query.bbox is None:
                total = int(
                    self._con.execute(f'SELECT COUNT(*) FROM "{layer}"{clause}', params).fetchone()[0]
                )
                page_sql = sql + clause + " ORDER BY fid"
                page_params = list(params)
                if query.limit is not None:
                    page_sql += " LIMIT ? OFFSET ?"
                    page_params += [int(query.limit), int(query.offset)]
                elif query.offset:
                    page_sql += " LIMIT -1 OFFSET ?"
                    page_params.append(int(query.offset))
                rows = self._con.execute(page_sql, page_params).fetchall()
                return Page([self._row_to_feature(spec, r) for r in rows], total)
            rows = self._con.execute(sql + clause + " ORDER BY fid", params).fetchall()
        if spec.is_table:
            feats = [self._row_to_feature(spec, r) for r in rows]
        else:
            box = query.bbox_geometry()
            geoms = np.array([decode(r[2]) for r in rows], dtype=object)
            keep = shapely.intersects(geoms, box) if len(rows) else np.zeros(0, dtype=bool)
            feats = [self._row_to_feature(spec, r) for r, k in zip(rows, keep, strict=True) if k]
        end = None if query.limit is None else query.offset + query.limit
        return Page(feats[query.offset : end], len(feats))

    def read_frame(self, layer: str) -> gpd.GeoDataFrame:
        spec = self.catalog[layer]
        with self._lock:
            rows = self._con.execute(self._select(spec) + " ORDER BY fid").fetchall()
        return self._frame(spec, rows)

    def export_frame(self, layer: str) -> tuple[dt.datetime, gpd.GeoDataFrame]:
        spec = self.catalog[layer]
        # as a write: other writers (another process's import too) wait, and every change recorded
        # before the moment read here is committed, and in the frame
        with self._transaction() as cur:
            moment = self._at
            rows = cur.execute(self._select(spec) + " ORDER BY fid").fetchall()
        return moment, self._frame(spec, rows)

    @staticmethod
    def _frame(spec: LayerSpec, rows: Sequence[Any]) -> gpd.GeoDataFrame:
        ids = [int(r[0]) for r in rows]
        data: dict[str, Any] = {}
        for i, f in enumerate(spec.fields):
            data[f.name] = [from_storage(f, r[3 + i]) for r in rows]
        data["_version"] = [int(r[1]) for r in rows]
        frame = pd.DataFrame(data, index=pd.Index(ids, name="fid", dtype="int64"))
        if spec.is_table:
            return gpd.GeoDataFrame(frame)
        blobs = [r[2] for r in rows]
        geoms = shapely.from_wkb([None if b is None else blob_wkb(b) for b in blobs]) if rows else []
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=_SRS))

    # -- writes -----------------------------------------------------------------------------------
    def _bump(self, cur: sqlite3.Cursor, layer: str) -> None:
        cur.execute("UPDATE geo_layer_state SET version = version + 1 WHERE layer = ?", (layer,))
        cur.execute(
            "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
            "WHERE table_name = ?",
            (layer,),
        )

    def _record(
        self,
        cur: sqlite3.Cursor,
        layer: str,
        fid: int,
        version: int,
        op: str,
        actor: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        reason: str | None,
    ) -> None:
        cur.execute(
            "INSERT INTO geo_history (layer, fid, version, op, actor, at, before, after, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                layer,
                fid,
                version,
                op,
                actor,
                self._at.isoformat(),
                None if before is None else json.dumps(before, ensure_ascii=False),
                None if after is None else json.dumps(after, ensure_ascii=False),
                reason,
            ),
        )

    def _check_unique(
        self, cur: sqlite3.Cursor, spec: LayerSpec, props: Mapping[str, Any], fid: int | None
    ) -> None:
        for f in spec.fields:
            if f.unique and props.get(f.name) is not None:
                row = cur.execute(
                    f'SELECT fid FROM "{spec.name}" WHERE "{f.name}" = ? AND fid IS NOT ?',
                    (to_storage(f, props[f.name]), fid),
                ).fetchone()
                if row is not None:
                    raise Conflict(
                        f"图层 {spec.name} 字段「{f.label()}」的值 {props[f.name]} 已被要素 {row[0]} 使用",
                        f"Layer {spec.name}: '{f.name}' = {props[f.name]} is already used by "
                        f"feature {row[0]}",
                        layer=spec.name,
                        field=f.name,
                        feature=fid,
                        details={"conflicting_feature": int(row[0])},
                    )

    def _insert(
        self,
        cur: sqlite3.Cursor,
        spec: LayerSpec,
        feature: NewFeature,
        *,
        fid: int | None = None,
        version: int = 1,
    ) -> int:
        names = [f.name for f in spec.fields]
        values = [to_storage(f, feature.properties.get(f.name)) for f in spec.fields]
        cols = ["_version", *names]
        vals: list[Any] = [version, *values]
        if not spec.is_table:
            cols.append("geom")
            vals.append(geometry_blob(feature.geometry))
        if fid is not None:
            cols.append("fid")
            vals.append(int(fid))
        cur.execute(_insert_sql(spec.name, cols), vals)
        new = cur.lastrowid if fid is None else fid
        assert new is not None
        return int(new)

    def create_features(
        self, layer: str, features: Sequence[NewFeature], *, actor: str, reason: str | None = None
    ) -> list[Feature]:
        spec = self.catalog[layer]
        unique = [f for f in spec.fields if f.unique]
        if len(features) > _BULK_HISTORY and not unique:
            return self._bulk_create(spec, features, actor=actor, reason=reason)
        created: list[int] = []
        refuse_repeats(spec, features)
        with self._transaction() as cur:
            for feature in features:
                if unique:
                    self._check_unique(cur, spec, feature.properties, None)
                fid = self._insert(cur, spec, feature)
                created.append(fid)
                after = (
                    snapshot(spec, feature.properties, feature.geometry)
                    if len(features) <= _BULK_HISTORY
                    else None
                )
                self._record(cur, layer, fid, 1, "create", actor, None, after, reason)
            if features:
                self._bump(cur, layer)
        if len(created) > _BULK_HISTORY:
            return created_features(layer, created, features)
        return [self.get_feature(layer, fid) for fid in created]

    def _bulk_create(
        self, spec: LayerSpec, features: Sequence[NewFeature], *, actor: str, reason: str | None
    ) -> list[Feature]:
        """A large batch in one transaction: rows by executemany, the R-tree packed at once, history by SQL.

        The history gets one ``create`` row per feature without an ``after`` copy: :meth:`history` reads
        it from the feature itself (or from the ``before`` of its next change).
        """
        with paused_gc():
            n = len(features)
            cols: list[str] = ["_version"]
            columns: list[Iterable[Any]] = [itertools.repeat(1, n)]
            for f in spec.fields:
                values = [feat.properties.get(f.name) for feat in features]
                if not any(v is not None for v in values):  # a column left out of the INSERT is NULL
                    continue
                if f.type in ("boolean", "date", "datetime"):
                    values = [None if v is None else to_storage(f, v) for v in values]
                cols.append(f.name)
                columns.append(values)
            geoms = bounds = None
            if not spec.is_table:
                geoms = np.fromiter((f.geometry for f in features), dtype=object, count=n)
                bounds = shapely.bounds(geoms)
                cols.append("geom")
                columns.append(geometry_blobs(geoms, bounds))
            sql = _insert_sql(spec.name, cols)
            rtree = f"rtree_{spec.name}_geom"
            with self._transaction() as cur:
                start = cur.execute(f'SELECT COALESCE(MAX(fid), 0) FROM "{spec.name}"').fetchone()[0]
                # GDAL's per-row feature-count and R-tree triggers are set aside for the batch and put
                # back, with the count and the index, in the same transaction (SQLite DDL is
                # transactional: an interruption restores them)
                saved = cur.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
                    "AND (name LIKE 'trigger_%_feature_count_%' OR name = ?)",
                    (spec.name, f"{rtree}_insert"),
                ).fetchall()
                for name, _ in saved:
                    cur.execute(f'DROP TRIGGER "{name}"')
                cur.executemany(sql, zip(*columns, strict=True))
                ids = self._new_ids(cur, spec.name, start, n)
                if (
                    geoms is not None
                    and bounds is not None
                    and any(name == f"{rtree}_insert" for name, _ in saved)
                ):
                    self._index_batch(cur, rtree, ids, bounds)
                for _, ddl in saved:
                    cur.execute(ddl)
                cur.execute(
                    "UPDATE gpkg_ogr_contents SET feature_count = feature_count + ? "
                    "WHERE lower(table_name) = lower(?)",
                    (n, spec.name),
                )
                cur.execute(
                    "INSERT INTO geo_history (layer, fid, version, op, actor, at, reason) "
                    f"SELECT ?, fid, 1, 'create', ?, ?, ? FROM \"{spec.name}\" WHERE fid > ? ORDER BY fid",
                    (spec.name, actor, self._at.isoformat(), reason, start),
                )
                self._bump(cur, spec.name)
            return created_features(spec.name, ids.tolist(), features)

    @staticmethod
    def _new_ids(cur: sqlite3.Cursor, layer: str, start: int, n: int) -> np.ndarray:
        """The ids of the ``n`` rows just inserted after ``start``, in insertion order."""
        first, last, count = cur.execute(
            f'SELECT MIN(fid), MAX(fid), COUNT(*) FROM "{layer}" WHERE fid > ?', (start,)
        ).fetchone()
        if count == n and last - first + 1 == n:  # AUTOINCREMENT ids of one transaction: consecutive
            return np.arange(first, last + 1, dtype=np.int64)
        return np.fromiter(
            (r[0] for r in cur.execute(f'SELECT fid FROM "{layer}" WHERE fid > ? ORDER BY fid', (start,))),
            dtype=np.int64,
        )

    @staticmethod
    def _index_batch(cur: sqlite3.Cursor, rtree: str, ids: np.ndarray, bounds: np.ndarray) -> None:
        """Put a batch into the layer's R-tree: cell by cell into a much larger tree, else packed anew."""
        ok = ~np.isnan(bounds[:, 0])
        ids, bounds = ids[ok], bounds[ok]
        held = cur.execute(f'SELECT COUNT(*) FROM "{rtree}_rowid"').fetchone()[0]
        if len(ids) * 8 < held:
            cur.executemany(
                f'INSERT INTO "{rtree}" VALUES (?, ?, ?, ?, ?)',
                zip(
                    ids.tolist(),
                    bounds[:, 0].tolist(),
                    bounds[:, 2].tolist(),
                    bounds[:, 1].tolist(),
                    bounds[:, 3].tolist(),
                    strict=True,
                ),
            )
            return
        if held:
            old = np.array(
                cur.execute(f'SELECT id, minx, miny, maxx, maxy FROM "{rtree}"').fetchall(), dtype=np.float64
            ).reshape(-1, 5)
            ids = np.concatenate([old[:, 0].astype(np.int64), ids])
            bounds = np.concatenate([old[:, 1:], bounds])
        if len(ids):
            bulk_load_rtree(cur, rtree, ids, bounds)

    def _current(self, cur: sqlite3.Cursor, spec: LayerSpec, fid: int) -> Feature:
        row = cur.execute(self._select(spec) + " WHERE fid = ?", (int(fid),)).fetchone()
        if row is None:
            raise NotFound(
                f"图层 {spec.name} 中没有要素 {fid}",
                f"Layer {spec.name} has no feature {fid}",
                layer=spec.name,
                feature=fid,
            )
        return self._row_to_feature(spec, row)

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
        with self._transaction() as cur:
            current = self._current(cur, spec, fid)
            check_version(current, expected_version)
            self._check_unique(cur, spec, feature.properties, fid)
            sets = [f'"{f.name}" = ?' for f in spec.fields] + ["_version = ?"]
            vals = [to_storage(f, feature.properties.get(f.name)) for f in spec.fields] + [
                current.version + 1
            ]
            if not spec.is_table:
                sets.append("geom = ?")
                vals.append(geometry_blob(feature.geometry))
            cur.execute(f'UPDATE "{layer}" SET {", ".join(sets)} WHERE fid = ?', [*vals, int(fid)])
            self._record(
                cur,
                layer,
                int(fid),
                current.version + 1,
                "update",
                actor,
                snapshot(spec, current.properties, current.geometry),
                snapshot(spec, feature.properties, feature.geometry),
                reason,
            )
            self._bump(cur, layer)
        return self.get_feature(layer, fid)

    def delete_feature(
        self, layer: str, fid: int, *, expected_version: int, actor: str, reason: str | None = None
    ) -> None:
        spec = self.catalog[layer]
        with self._transaction() as cur:
            current = self._current(cur, spec, fid)
            check_version(current, expected_version)
            cur.execute(f'DELETE FROM "{layer}" WHERE fid = ?', (int(fid),))
            self._record(
                cur,
                layer,
                int(fid),
                current.version + 1,
                "delete",
                actor,
                snapshot(spec, current.properties, current.geometry),
                None,
                reason,
            )
            self._bump(cur, layer)

    def restore_feature(self, layer: str, fid: int, *, actor: str, reason: str | None = None) -> Feature:
        spec = self.catalog[layer]
        with self._transaction() as cur:
            exists = cur.execute(f'SELECT 1 FROM "{layer}" WHERE fid = ?', (int(fid),)).fetchone()
            last = cur.execute(
                "SELECT version, op, before FROM geo_history WHERE layer = ? AND fid = ? "
                "ORDER BY id DESC LIMIT 1",
                (layer, int(fid)),
            ).fetchone()
            if exists or last is None or last[1] != "delete" or last[2] is None:
                raise NotFound(
                    f"图层 {layer} 中没有可恢复的已删除要素 {fid}",
                    f"Layer {layer} has no deleted feature {fid} to restore",
                    layer=layer,
                    feature=fid,
                )
            state = json.loads(last[2])
            restored = from_snapshot(spec, state)
            self._check_unique(cur, spec, restored.properties, int(fid))
            self._insert(cur, spec, restored, fid=int(fid), version=int(last[0]) + 1)
            self._record(cur, layer, int(fid), int(last[0]) + 1, "restore", actor, None, state, reason)
            self._bump(cur, layer)
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
        refuse_repeats(spec, features)  # the layer's other features go, so only the batch can clash
        why = reason or "replace layer"
        with self._transaction() as cur:
            if expected_layer_version is not None:
                row = cur.execute("SELECT version FROM geo_layer_state WHERE layer = ?", (layer,)).fetchone()
                check_layer_version(layer, expected_layer_version, int(row[0]) if row else 0)
            old = {f.id: f for f in (self._row_to_feature(spec, r) for r in cur.execute(self._select(spec)))}
            deleted: dict[int, int] = {}
            if restore:  # the named ids that are deleted features: each one's last version
                gone = json.dumps(sorted({int(i) for i in ids or () if i is not None and int(i) not in old}))
                deleted = {
                    int(fid): int(version)
                    for fid, version, op in cur.execute(
                        "SELECT fid, version, op FROM geo_history h WHERE layer = ? AND fid IN "
                        "(SELECT value FROM json_each(?)) AND id = (SELECT MAX(id) FROM geo_history "
                        "WHERE layer = h.layer AND fid = h.fid)",
                        (layer, gone),
                    )
                    if op == "delete"
                }
            taken, same, back, news = plan_replacement(spec, features, ids, expected, old, deleted)
            for f in old.values():
                if f.id not in taken:
                    before = snapshot(spec, f.properties, f.geometry)
                    self._record(cur, layer, f.id, f.version + 1, "delete", actor, before, None, why)
            stay = json.dumps(sorted(same))  # the features left as they are
            cur.execute(f'DELETE FROM "{layer}" WHERE fid NOT IN (SELECT value FROM json_each(?))', (stay,))
            for fid, i in taken.items():  # a changed feature keeps its id, at its next version
                if fid not in same:
                    f, new = old[fid], features[i]
                    self._insert(cur, spec, new, fid=fid, version=f.version + 1)
                    before = snapshot(spec, f.properties, f.geometry)
                    after = snapshot(spec, new.properties, new.geometry)
                    self._record(cur, layer, fid, f.version + 1, "update", actor, before, after, why)
            for fid, i in back.items():  # a deleted feature brought back under its id, at its next version
                self._insert(cur, spec, features[i], fid=fid, version=deleted[fid] + 1)
                after = snapshot(spec, features[i].properties, features[i].geometry)
                self._record(cur, layer, fid, deleted[fid] + 1, "restore", actor, None, after, why)
            start = cur.execute(f'SELECT COALESCE(MAX(fid), 0) FROM "{layer}"').fetchone()[0]
            names = [f.name for f in spec.fields]
            cols = ["_version", *names] + ([] if spec.is_table else ["geom"])
            rows = []
            for feat in news:
                vals: list[Any] = [1, *(to_storage(f, feat.properties.get(f.name)) for f in spec.fields)]
                if not spec.is_table:
                    vals.append(geometry_blob(feat.geometry))
                rows.append(vals)
            cur.executemany(_insert_sql(layer, cols), rows)
            if rows:  # new ids come after every id the layer has had (AUTOINCREMENT)
                cur.execute(
                    "INSERT INTO geo_history (layer, fid, version, op, actor, at, reason) "
                    f"SELECT ?, fid, 1, 'create', ?, ?, ? FROM \"{layer}\" WHERE fid > ? ORDER BY fid",
                    (layer, actor, self._at.isoformat(), why, start),
                )
            if old or features:
                self._bump(cur, layer)
        return len(features)

    def history(self, layer: str, fid: int | None = None, *, limit: int = 1000) -> list[Change]:
        spec = self.catalog[layer]
        # a large batch records its creates without an 'after' copy: the created state is the feature itself
        # while it is at version 1, else the 'before' of its version-2 change (an update or a delete)
        created = "h.op = 'create' AND h.after IS NULL AND h.version = 1"
        feature_cols = ", ".join(f't."{f.name}"' for f in spec.fields)
        sql = (
            f"SELECT h.fid, h.version, h.op, h.actor, h.at, h.before, COALESCE(h.after, CASE WHEN {created} "
            "AND t.fid IS NULL THEN (SELECT n.before FROM geo_history n WHERE n.layer = h.layer "
            "AND n.fid = h.fid AND n.version = 2 AND n.id > h.id ORDER BY n.id LIMIT 1) END), h.reason, "
            f"t.fid, {'NULL' if spec.is_table else 't.geom'}, {feature_cols} FROM geo_history h "
            f'LEFT JOIN "{layer}" t ON {created} AND t.fid = h.fid AND t._version = 1 WHERE h.layer = ?'
        )
        params: list[Any] = [layer]
        if fid is not None:
            sql += " AND h.fid = ?"
            params.append(int(fid))
        sql += " ORDER BY h.id DESC LIMIT ?"
        params.append(int(limit))
        with self._lock:
            rows = self._con.execute(sql, params).fetchall()
        return [
            Change(
                layer=layer,
                feature_id=int(r[0]),
                version=int(r[1]),
                op=r[2],
                actor=r[3],
                at=dt.datetime.fromisoformat(r[4]),
                before=None if r[5] is None else json.loads(r[5]),
                after=self._stored_state(spec, r[8:])
                if r[8] is not None
                else None
                if r[6] is None
                else json.loads(r[6]),
                reason=r[7],
            )
            for r in rows
        ]

    def _stored_state(self, spec: LayerSpec, row: Sequence[Any]) -> dict[str, Any]:
        """The history snapshot of a stored row ``(fid, geom, *fields)``, exactly as a recorded one reads."""
        feature = self._row_to_feature(spec, (row[0], 1, *row[1:]))
        return recorded_snapshot(spec, feature.properties, feature.geometry)

    # -- documents --------------------------------------------------------------------------------
    def put_document(self, kind: str, key: str, body: Mapping[str, Any], *, actor: str) -> None:
        with self._transaction() as cur:
            if cur.execute("SELECT 1 FROM geo_documents WHERE kind = ? AND key = ?", (kind, key)).fetchone():
                raise Conflict(
                    f"{kind} 「{key}」已存在，不会覆盖",
                    f"{kind} '{key}' exists already; not overwritten",
                    feature=key,
                )
            cur.execute(
                "INSERT INTO geo_documents (kind, key, created_at, actor, body) VALUES (?, ?, ?, ?, ?)",
                (kind, key, _now().isoformat(), actor, json.dumps(body, ensure_ascii=False, default=str)),
            )

    def get_document(self, kind: str, key: str) -> Mapping[str, Any]:
        with self._lock:
            row = self._con.execute(
                "SELECT body FROM geo_documents WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        if row is None:
            raise no_document(kind, key)
        return json.loads(row[0])

    def list_documents(self, kind: str) -> list[tuple[str, dt.datetime, str]]:
        with self._lock:
            rows = self._con.execute(
                "SELECT key, created_at, actor FROM geo_documents WHERE kind = ? "
                "ORDER BY created_at DESC, key DESC",
                (kind,),
            ).fetchall()
        return [(r[0], dt.datetime.fromisoformat(r[1]), r[2]) for r in rows]

    def all_documents(self) -> list[Document]:
        with self._lock:
            rows = self._con.execute(
                "SELECT kind, key, created_at, actor, body FROM geo_documents ORDER BY kind, created_at, key"
            ).fetchall()
        return [Document(r[0], r[1], dt.datetime.fromisoformat(r[2]), r[3], json.loads(r[4])) for r in rows]

    # -- backups ----------------------------------------------------------------------------------
    def load_state(
        self,
        layers: Mapping[str, Sequence[Feature]],
        history: Sequence[Change],
        documents: Sequence[Document],
    ) -> None:
        with self._transaction() as cur:
            busy = [n for n in self.catalog if cur.execute(f'SELECT 1 FROM "{n}" LIMIT 1').fetchone()]
            if (
                busy
                or cur.execute("SELECT 1 FROM geo_history LIMIT 1").fetchone()
                or cur.execute("SELECT 1 FROM geo_documents LIMIT 1").fetchone()
            ):
                raise Conflict(
                    "只能恢复到空的工作空间",
                    "A backup can be restored only into an empty workspace",
                    layer=busy[0] if busy else None,
                )
            for name, feats in layers.items():
                spec = self.catalog[name]
                for f in feats:
                    self._insert(cur, spec, NewFeature(f.properties, f.geometry), fid=f.id, version=f.version)
                top = highest_id(name, feats, history)
                if top:  # new ids go on after every id the layer has had, deleted ones too (restorable)
                    cur.execute("DELETE FROM sqlite_sequence WHERE name = ?", (name,))
                    cur.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, top))
                self._bump(cur, name)
            for c in history:  # oldest first, as a backup lists them
                cur.execute(
                    "INSERT INTO geo_history (layer, fid, version, op, actor, at, before, after, reason) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        c.layer,
                        c.feature_id,
                        c.version,
                        c.op,
                        c.actor,
                        c.at.isoformat(),
                        None if c.before is None else json.dumps(c.before, ensure_ascii=False),
                        None if c.after is None else json.dumps(c.after, ensure_ascii=False),
                        c.reason,
                    ),
                )
            for d in documents:
                cur.execute(
                    "INSERT INTO geo_documents (kind, key, created_at, actor, body) VALUES (?, ?, ?, ?, ?)",
                    (
                        d.kind,
                        d.key,
                        d.created_at.isoformat(),
                        d.actor,
                        json.dumps(d.body, ensure_ascii=False, default=str),
                    ),
                )
