"""The audit log says what a user change changed (never the password or token), and records downloads
of backups, exports and the audit log with who, when and from where."""

from __future__ import annotations

import json

from tests.conftest import authed


def _rows(client, path: str, method: str | None = None):
    return [
        e
        for e in client.app.state.accounts.audit_log()
        if e.path.split("?")[0] == path and (method is None or e.method == method)
    ]


def test_user_changes_say_what_changed_and_never_the_secret(client):
    assert (
        client.post(
            "/users", json={"name": "gao", "role": "viewer", "password": "first secret 1"}
        ).status_code
        == 201
    )
    [made] = _rows(client, "/users", "POST")
    assert made.status == 201
    assert made.actor == "test-admin"
    assert made.detail["user"] == "gao"
    assert made.detail["created"] == {"role": "viewer", "crew": None, "password": True}
    assert made.detail["client"] == "testclient"

    r = client.patch("/users/gao", json={"role": "planner", "password": "second secret 2"})
    assert r.status_code == 200
    r = client.patch("/users/gao", json={"disabled": True})
    assert r.status_code == 200
    changed, disabled = sorted(_rows(client, "/users/gao", "PATCH"), key=lambda e: e.id)
    assert changed.detail["changes"] == {"role": {"from": "viewer", "to": "planner"}, "password": "changed"}
    assert disabled.detail["changes"] == {"disabled": {"from": False, "to": True}}
    refused = client.patch("/users/nobody", json={"role": "viewer"})
    assert refused.status_code == 404
    assert _rows(client, "/users/nobody", "PATCH")[0].status == 404  # refusals are audited too

    everything = json.dumps([e.detail for e in client.app.state.accounts.audit_log()], ensure_ascii=False)
    assert "secret" not in everything


def test_tokens_issued_and_revoked_are_described_without_the_token(client):
    headers = authed(client, "viewer", name="lu")
    r = client.post("/auth/tokens", data={"label": "QGIS 笔记本", "days": 30}, headers=headers)
    assert r.status_code == 201
    token = r.json()["token"]
    [issued] = _rows(client, "/auth/tokens", "POST")
    assert issued.actor == "lu"
    assert issued.detail["issued"] == {"user": "lu", "kind": "api", "label": "QGIS 笔记本", "days": 30}
    assert client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    [revoked] = _rows(client, "/auth/logout", "POST")
    assert revoked.detail["revoked"]["user"] == "lu"
    assert revoked.detail["revoked"]["kind"] == "api"
    assert revoked.detail["revoked"]["label"] == "QGIS 笔记本"
    everything = json.dumps([e.detail for e in client.app.state.accounts.audit_log()])
    assert token not in everything


def test_downloads_of_backups_exports_and_the_audit_log_are_audited(client):
    assert client.get("/backup").status_code == 200
    assert client.get("/export", params={"f": "zip-geojson"}).status_code == 200
    assert client.get("/collections/depots/export", params={"f": "csv"}).status_code == 200
    assert client.get("/audit/export", params={"f": "json"}).status_code == 200
    assert client.get("/collections").status_code == 200  # an ordinary read is not audited
    viewer = authed(client, "viewer", name="peeker")
    assert client.get("/backup", headers=viewer).status_code == 403

    backup = sorted(_rows(client, "/backup", "GET"), key=lambda e: e.id)
    assert [(e.actor, e.status) for e in backup] == [("test-admin", 200), ("peeker", 403)]
    assert backup[0].detail["download"] == "backup"
    assert backup[0].detail["bytes"] > 0
    assert backup[0].detail["client"] == "testclient"
    [workspace] = _rows(client, "/export", "GET")
    assert workspace.path == "/export?f=zip-geojson"
    assert workspace.detail["download"] == "workspace"
    [layer] = _rows(client, "/collections/depots/export", "GET")
    assert (layer.detail["download"], layer.detail["format"]) == ("depots", "csv")
    [audit] = _rows(client, "/audit/export", "GET")
    assert audit.detail["download"] == "audit"
    assert _rows(client, "/collections", "GET") == []
    for entry in (*backup, workspace, layer, audit):
        assert entry.at  # when: ISO time in Asia/Shanghai
        assert entry.at.endswith("+08:00")


def test_every_download_has_a_file_name(client):
    """The audit log as JSON came without a name (the CSV was always 'audit.csv', a backup always
    'geo-service-backup.zip', the next download overwriting the last): each is named, and dated."""
    import re

    for path, pattern in [
        ("/backup", r"geo-service-backup-\d{8}-\d{6}\.zip"),
        ("/audit/export?f=csv", r"audit-\d{8}-\d{6}\.csv"),
        ("/audit/export?f=json", r"audit-\d{8}-\d{6}\.json"),
        ("/export?f=gpkg", r"workspace\.gpkg"),
        ("/collections/depots/export?f=geojson", r"depots\.geojson"),
    ]:
        r = client.get(path)
        assert r.status_code == 200, path
        disposition = r.headers.get("content-disposition", "")
        assert re.fullmatch(rf'attachment; filename="{pattern}"', disposition), (path, disposition)


def test_account_changes_on_the_command_line_are_audited(tmp_path, monkeypatch):
    import io

    from geo_service.auth.accounts import AccountStore, account_url
    from geo_service.cli import main

    ws = tmp_path / "ws.gpkg"
    monkeypatch.setattr("sys.stdin", io.StringIO("a cli password\n"))
    assert main(["users", "add", "boss", "--role", "admin", "--password-stdin", "--workspace", str(ws)]) == 0
    assert main(["users", "token", "boss", "--label", "脚本", "--days", "7", "--workspace", str(ws)]) == 0
    accounts = AccountStore(account_url(str(ws), None))
    try:
        rows = sorted(accounts.audit_log(), key=lambda e: e.id)
    finally:
        accounts.close()
    assert [(e.method, e.path) for e in rows] == [
        ("CLI", "geo-service users add boss"),
        ("CLI", "geo-service users token boss"),
    ]
    assert rows[0].actor.startswith("cli:")
    assert rows[0].detail == {"user": "boss", "created": {"role": "admin", "crew": None, "password": True}}
    assert rows[1].detail == {"issued": {"user": "boss", "kind": "api", "label": "脚本", "days": 7}}
    assert "a cli password" not in json.dumps([e.detail for e in rows], ensure_ascii=False)
