"""A request the audit log records (a write, a download) that fails with an error nobody anticipated
(answered 500) left no row at all: the error went past the audit middleware to the outermost handler.
It has a row now, with who, what, when, status 500 and the error's class (never its message or stack
trace), while the user is told only a generic 500 with a reference; a write that fails so leaves the
store as it was."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from geo_service.settings import Settings
from tests.conftest import sign_in

SECRET = "password=hunter2 at /srv/secret/path"  # what an error's message may quote: never shown or kept


class Gremlin(RuntimeError):
    """An error no code of the service anticipates."""


def _depot(name: str, lon: float = 113.25) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, 35.21]},
        "properties": {"name": name},
    }


@pytest.fixture
def failing_client(tmp_path):
    """A TestClient over an empty GeoPackage workspace that answers a server error as a server does
    (a 500) rather than raising it into the test, signed in as the dispatcher 'zhao'."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    with TestClient(create_app(Settings(workspace=tmp_path / "ws.gpkg")), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c, 'dispatcher', name='zhao')}"
        yield c


def _rows(client, path: str, method: str):
    return [e for e in client.app.state.accounts.audit_log() if e.path == path and e.method == method]


def _generic_500(resp) -> str:
    """The client's answer says nothing of the error: its reference only, in Chinese and English."""
    assert resp.status_code == 500, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    ref = body["reference"]
    assert body["code"] == "internal"
    assert body["title"] == "服务器内部错误 / Internal server error"
    assert body["detail_zh"] == f"服务器内部错误，参考编号 {ref}"
    assert body["detail_en"] == f"Internal server error, reference {ref}"
    for word in ("Gremlin", "hunter2", "Traceback", "KeyError", "sqlite3"):
        assert word not in resp.text, word
    return str(ref)


def test_a_write_failing_unexpectedly_is_audited_and_changes_nothing(failing_client, monkeypatch, caplog):
    c = failing_client
    store = c.app.state.workspace.store
    kept = c.post("/collections/depots/items", json=_depot("山阳场站"))
    assert kept.status_code == 201, kept.text
    before = (store.count("depots"), store.layer_version("depots"), len(store.history("depots")))

    def boom(*args, **kwargs):  # every feature inserted and its history written: then the failure
        raise Gremlin(SECRET)

    monkeypatch.setattr(store, "_bump", boom)
    batch = {"type": "FeatureCollection", "features": [_depot("中站场站", 113.2), _depot("马村场站", 113.3)]}
    ref = _generic_500(c.post("/collections/depots/items", json=batch))
    monkeypatch.undo()
    # logged once, with its stack trace, under the reference the user was given
    [logged] = [r for r in caplog.records if r.getMessage().startswith("unexpected error")]
    assert ref in logged.getMessage()
    assert logged.exc_info is not None
    assert logged.exc_info[0] is Gremlin

    # nothing of the failed write is kept: no feature, no history, no new version
    assert (store.count("depots"), store.layer_version("depots"), len(store.history("depots"))) == before
    names = [f["properties"]["name"] for f in c.get("/collections/depots/items").json()["features"]]
    assert names == ["山阳场站"]

    [accepted, failed] = sorted(_rows(c, "/collections/depots/items", "POST"), key=lambda e: e.id)
    assert accepted.status == 201
    assert (failed.actor, failed.role, failed.method, failed.status) == ("zhao", "dispatcher", "POST", 500)
    assert failed.at.endswith("+08:00")
    assert failed.detail["client"] == "testclient"
    assert failed.detail["error"] == "tests.test_audit_failures.Gremlin"
    assert failed.detail["refusal"]["code"] == "internal"
    assert failed.detail["refusal"]["detail_en"] == f"Internal server error, reference {ref}"
    assert "hunter2" not in json.dumps(failed.detail, ensure_ascii=False)
    assert "Traceback" not in json.dumps(failed.detail, ensure_ascii=False)

    # the administrator sees it in /audit and its exports, with why
    admin = {"Authorization": f"Bearer {sign_in(c, 'admin', name='boss')}"}
    said = (
        f"服务器内部错误，参考编号 {ref}（tests.test_audit_failures.Gremlin） / "
        f"Internal server error, reference {ref} (tests.test_audit_failures.Gremlin)"
    )
    entries = c.get("/audit", headers=admin).json()["entries"]
    [entry] = [e for e in entries if e["status"] == 500]
    assert (entry["actor"], entry["method"], entry["path"]) == ("zhao", "POST", "/collections/depots/items")
    assert entry["reason"] == said
    exported = c.get("/audit/export", params={"f": "csv"}, headers=admin)
    [row] = [
        r for r in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))) if r["status"] == "500"
    ]
    assert row["reason"] == said
    assert "hunter2" not in exported.text


def test_a_failing_feature_write_on_a_single_item_route_is_audited(failing_client, monkeypatch):
    """A PATCH whose store write fails: the feature keeps its version and values, the row says so."""
    c = failing_client
    store = c.app.state.workspace.store
    made = c.post("/collections/depots/items", json=_depot("山阳场站")).json()
    fid = made["id"]

    def boom(*args, **kwargs):
        raise Gremlin(SECRET)

    monkeypatch.setattr(store, "_bump", boom)
    patch = {"type": "Feature", "properties": {"salt_store": False}}
    _generic_500(c.patch(f"/collections/depots/items/{fid}", json=patch, headers={"If-Match": '"1"'}))
    monkeypatch.undo()

    got = c.get(f"/collections/depots/items/{fid}")
    assert got.headers["etag"].startswith('"1-')  # version 1 still
    assert got.json()["properties"]["salt_store"] is True
    [row] = _rows(c, f"/collections/depots/items/{fid}", "PATCH")
    assert (row.actor, row.status, row.detail["error"]) == ("zhao", 500, "tests.test_audit_failures.Gremlin")


def test_an_account_change_and_a_download_failing_unexpectedly_are_audited(failing_client, monkeypatch):
    c = failing_client
    admin = {"Authorization": f"Bearer {sign_in(c, 'admin', name='boss')}"}
    accounts = c.app.state.accounts
    accounts.add_user("li", "viewer")

    def lost(*args, **kwargs):
        raise KeyError(SECRET)

    monkeypatch.setattr(accounts, "update_user", lost)
    _generic_500(c.patch("/users/li", json={"role": "planner"}, headers=admin))
    monkeypatch.setattr("geo_service.backup.create_backup", lost)
    _generic_500(c.get("/backup", headers=admin))
    monkeypatch.undo()

    assert accounts.get_user("li").role == "viewer"
    [change] = _rows(c, "/users/li", "PATCH")
    [download] = _rows(c, "/backup", "GET")
    for row in (change, download):
        assert (row.actor, row.role, row.status, row.detail["error"]) == ("boss", "admin", 500, "KeyError")
        assert "hunter2" not in json.dumps(row.detail, ensure_ascii=False)


def test_a_driver_error_that_is_no_storage_failure_names_its_class(failing_client, monkeypatch):
    """A database error the stores do not translate is answered 500 by its own handler (not the
    outermost one): its row names the class as well."""
    c = failing_client
    store = c.app.state.workspace.store

    def misuse(*args, **kwargs):
        raise sqlite3.InterfaceError(SECRET)

    monkeypatch.setattr(store, "_bump", misuse)
    ref = _generic_500(c.post("/collections/depots/items", json=_depot("山阳场站")))
    monkeypatch.undo()
    assert store.count("depots") == 0
    [row] = _rows(c, "/collections/depots/items", "POST")
    assert (row.status, row.detail["error"]) == (500, "sqlite3.InterfaceError")
    assert ref in row.detail["refusal"]["detail_zh"]


def test_a_full_disk_met_outside_the_stores_is_audited_as_what_the_user_was_told(failing_client, monkeypatch):
    """An OSError reaches the outermost handler, which says a full disk as the domain does (507): the row
    has that status and refusal, not a 500."""
    import errno

    c = failing_client

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(c.app.state.workspace.store, "_bump", full)
    r = c.post("/collections/depots/items", json=_depot("山阳场站"))
    monkeypatch.undo()
    assert r.status_code == 507, r.text
    [row] = _rows(c, "/collections/depots/items", "POST")
    assert row.status == 507
    assert row.detail["refusal"]["code"] == r.json()["code"]
    assert "error" not in row.detail


def test_an_unaudited_read_failing_is_still_answered_and_not_audited(failing_client, monkeypatch):
    c = failing_client
    admin = {"Authorization": f"Bearer {sign_in(c, 'admin', name='boss')}"}

    def lost(*args, **kwargs):
        raise Gremlin(SECRET)

    monkeypatch.setattr(c.app.state.accounts, "list_users", lost)
    _generic_500(c.get("/users", headers=admin))
    monkeypatch.undo()
    assert [e for e in c.app.state.accounts.audit_log() if e.path == "/users"] == []
