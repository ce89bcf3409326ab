"""A full disk or a workspace that cannot be written: said to the user (507 / 503, bilingual) and to the
administrator at the command line (exit code 2), with nothing half-written.

No root tricks: SQLite's ``PRAGMA max_page_count`` makes the file "full", and ``PRAGMA query_only``
on every connection makes it refuse writes as a read-only file does ("attempt to write a readonly
database")."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import shapely
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.auth.accounts import AccountStore
from geo_service.cli import main
from geo_service.errors import StorageFull, StorageUnwritable
from geo_service.settings import Settings
from geo_service.store.base import NewFeature
from geo_service.store.failures import storage_failure, workspace_name
from geo_service.store.gpkg import GeoPackageStore


def _points(n: int) -> bytes:
    features = [
        {
            "type": "Feature",
            "properties": {"name": f"点位{i}", "kind": "school"},
            "geometry": {"type": "Point", "coordinates": [113.2 + i * 1e-5, 35.2]},
        }
        for i in range(n)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _fill_up(con: sqlite3.Connection) -> None:
    """The file may grow no further: the next write that needs a page finds the 'disk' full."""
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.execute(f"PRAGMA max_page_count = {pages}")


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch):
    """Every SQLite connection opened from now on refuses writes, as one over a read-only file does."""
    real = sqlite3.connect

    def connect(*args, **kwargs):
        con = real(*args, **kwargs)
        con.execute("PRAGMA query_only = 1")
        return con

    def start() -> None:
        monkeypatch.setattr(sqlite3, "connect", connect)
        monkeypatch.setattr(sqlite3.dbapi2, "connect", connect)  # as SQLAlchemy calls it

    return start


def _problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["detail_zh"]
    assert body["detail_en"]
    assert " / " in body["title"]
    return body


# -- disk full ------------------------------------------------------------------------------------
def test_a_full_disk_is_said_and_the_rollback_does_not_hide_it(demo_ws):
    """SQLite undoes the transaction itself when the disk is full; our ROLLBACK then raised 'cannot
    rollback - no transaction is active' in place of the real cause."""
    store = demo_ws.store
    before, version = store.count("pois"), store.layer_version("pois")
    _fill_up(store._con)
    batch = [
        NewFeature({"name": f"点位{i}", "kind": "school"}, shapely.Point(113.2, 35.2)) for i in range(3000)
    ]
    with pytest.raises(StorageFull) as caught:
        store.create_features("pois", batch, actor="test")
    assert "jiaozuo.gpkg" in caught.value.en
    assert "full" in caught.value.en
    assert "磁盘已满" in caught.value.zh
    assert str(demo_ws.settings.workspace.parent) not in caught.value.en + caught.value.zh
    # nothing half-written, and the store goes on once there is room again
    assert (store.count("pois"), store.layer_version("pois")) == (before, version)
    store._con.execute("PRAGMA max_page_count = 1073741823")
    store.create_features("pois", batch[:2], actor="test")
    assert store.count("pois") == before + 2


def test_an_import_on_a_full_disk_is_a_507(own_demo_client):
    c = own_demo_client
    before = c.get("/collections/pois/items?limit=1").json()["numberMatched"]
    _fill_up(c.app.state.workspace.store._con)
    r = c.post("/collections/pois/import", files={"file": ("pois.geojson", _points(3000))})
    body = _problem(r, 507, "storage-full")
    assert "jiaozuo.gpkg" in body["detail_en"]
    assert "/tmp" not in body["detail"]
    assert "Retry-After" not in r.headers
    assert c.get("/collections/pois/items?limit=1").json()["numberMatched"] == before


# -- a workspace that cannot be written -------------------------------------------------------------
@pytest.fixture
def demo_copy(demo_gpkg: Path, tmp_path: Path) -> Path:
    path = tmp_path / "jiaozuo.gpkg"
    shutil.copy(demo_gpkg, path)
    accounts = AccountStore(f"sqlite:///{path}")
    accounts.add_user("boss", "admin", password="a long enough password")
    accounts.close()
    return path


def test_a_read_only_workspace_is_read_and_refuses_writes_with_a_503(demo_copy, read_only):
    accounts = AccountStore(f"sqlite:///{demo_copy}")
    token = accounts.issue_token("boss")
    accounts.close()
    read_only()
    with TestClient(create_app(Settings(workspace=demo_copy))) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        listed = c.get("/collections/pois/items?limit=1")
        assert listed.status_code == 200
        before = listed.json()["numberMatched"]
        feature = {
            "type": "Feature",
            "properties": {"name": "新点", "kind": "school"},
            "geometry": {"type": "Point", "coordinates": [113.2, 35.2]},
        }
        r = c.post("/collections/pois/items", json=feature)
        body = _problem(r, 503, "storage-unwritable")
        assert "jiaozuo.gpkg" in body["detail_en"]
        assert "read-only" in body["detail_en"]
        assert "只读" in body["detail_zh"]
        assert str(demo_copy.parent) not in body["detail"]
        assert "Retry-After" not in r.headers  # it stays so until an administrator acts
        login = c.post("/auth/login", json={"name": "boss", "password": "a long enough password"})
        _problem(login, 503, "storage-unwritable")
        r = c.post("/collections/pois/import", files={"file": ("pois.geojson", _points(5))})
        _problem(r, 503, "storage-unwritable")
        assert c.get("/collections/pois/items?limit=1").json()["numberMatched"] == before


def test_a_read_only_workspace_at_the_command_line(demo_copy, read_only, capsys):
    read_only()
    assert main(["users", "list", "--workspace", str(demo_copy)]) == 0
    assert "boss" in capsys.readouterr().out
    code = main(["users", "add", "clerk", "--role", "viewer", "--no-password", "--workspace", str(demo_copy)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "只读" in err
    assert "read-only" in err
    assert "jiaozuo.gpkg" in err
    assert str(demo_copy.parent) not in err


def test_a_read_only_workspace_that_lacks_its_tables_does_not_open(demo_copy, read_only, catalog):
    con = sqlite3.connect(demo_copy)
    con.execute("DROP TABLE geo_documents")
    con.execute("DELETE FROM gpkg_contents WHERE table_name = 'geo_documents'")
    con.commit()
    con.close()
    read_only()
    with pytest.raises(StorageUnwritable):
        GeoPackageStore(demo_copy, catalog)


def test_a_write_a_crash_interrupted_is_undone_when_the_workspace_opens(demo_copy, tmp_path, catalog):
    """A write cut off by a disk error leaves a hot journal; GDAL's read-only open of the file could not
    roll it back, so the workspace did not open again even once it could be written."""
    store = GeoPackageStore(demo_copy, catalog)
    before = store.count("pois")
    store.close()
    con = sqlite3.connect(demo_copy, isolation_level=None)
    con.execute("PRAGMA cache_size = 1")  # changed pages go to the file before the commit
    con.execute("BEGIN IMMEDIATE")
    con.execute("DELETE FROM pois")
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    # the file and its journal as a crash leaves them: the write half done, its undo beside it
    shutil.copy(demo_copy, crashed / "jiaozuo.gpkg")
    shutil.copy(demo_copy.with_name("jiaozuo.gpkg-journal"), crashed / "jiaozuo.gpkg-journal")
    con.execute("ROLLBACK")
    con.close()
    store = GeoPackageStore(crashed / "jiaozuo.gpkg", catalog)
    try:
        assert store.count("pois") == before
    finally:
        store.close()


# -- the translation itself -----------------------------------------------------------------------
class _PgError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (sqlite3.OperationalError("database or disk is full"), StorageFull),
        (sqlite3.OperationalError("attempt to write a readonly database"), StorageUnwritable),
        (sqlite3.OperationalError("disk I/O error"), StorageUnwritable),
        (OSError(28, "No space left on device"), StorageFull),
        (OSError(30, "Read-only file system"), StorageUnwritable),
        (
            sa.exc.OperationalError(
                "INSERT", {}, _PgError('could not extend file "base/16384/16397"', "53100")
            ),
            StorageFull,
        ),
        (
            sa.exc.InternalError(
                "INSERT", {}, _PgError("cannot execute INSERT in a read-only transaction", "25006")
            ),
            StorageUnwritable,
        ),
        (sqlite3.OperationalError("database is locked"), type(None)),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), type(None)),
    ],
)
def test_driver_errors_are_said_as_storage_failures(error, kind):
    failure = storage_failure(error, workspace_name("/srv/geo/jiaozuo.gpkg"))
    assert type(failure) is kind
    if failure is not None:
        assert "jiaozuo.gpkg" in failure.en
        assert "/srv" not in failure.en + failure.zh


def test_postgis_says_a_read_only_database(pg_store):
    """A standby, or a database set read-only, refuses the write with SQLSTATE 25006."""
    pg_store.engine.dispose()
    sa.event.listen(
        pg_store.engine,
        "connect",
        lambda dbapi_con, _record: dbapi_con.execute("SET default_transaction_read_only = on"),
    )
    before = pg_store.count("pois")
    point = shapely.Point(113.2, 35.2)
    with pytest.raises(StorageUnwritable) as caught:
        pg_store.create_features("pois", [NewFeature({"name": "x", "kind": "school"}, point)], actor="t")
    assert "PostGIS" in caught.value.en
    assert "read-only" in caught.value.en
    assert "5432" not in caught.value.en
    assert "@" not in caught.value.en
    assert pg_store.count("pois") == before
