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


def test_a_refused_write_says_why_in_the_audit_row(client):
    """A refused write left a row with its status and nothing else: the administrator saw '400' and had to
    guess. The row carries the refusal's title and detail as the user saw them, zh and en."""
    refused = client.post("/collections/depots/items", json={"type": "Feature"})
    assert refused.status_code in (400, 422)
    problem = refused.json()
    [row] = _rows(client, "/collections/depots/items", "POST")
    assert row.status == refused.status_code
    reason = row.detail["refusal"]
    assert reason["code"] == problem["code"]
    assert (reason["detail_zh"], reason["detail_en"]) == (problem["detail_zh"], problem["detail_en"])
    assert f"{reason['title_zh']} / {reason['title_en']}" == problem["title"]

    viewer = authed(client, "viewer", name="kan")
    assert client.patch("/users/kan", json={"role": "admin"}, headers=viewer).status_code == 403
    [forbidden] = _rows(client, "/users/kan", "PATCH")
    assert forbidden.actor == "kan"
    assert forbidden.detail["refusal"]["code"] == "forbidden"
    assert "viewer" in forbidden.detail["refusal"]["detail_en"]
    assert "无权" in forbidden.detail["refusal"]["detail_zh"]

    assert client.patch("/users/nobody", json={"role": "viewer"}).status_code == 404
    [missing] = _rows(client, "/users/nobody", "PATCH")
    assert missing.detail["refusal"]["code"] == "not-found"
    assert "nobody" in missing.detail["refusal"]["detail_en"]

    # an accepted write carries no refusal
    assert client.post("/users", json={"name": "ok", "role": "viewer"}).status_code == 201
    [made] = _rows(client, "/users", "POST")
    assert "refusal" not in made.detail


def test_a_refusals_words_are_kept_short_in_the_audit_row(client):
    """The refusal names what the user sent (a crew's name): 20,000 characters of it stay out of the
    log, cut with an ellipsis."""
    crew = "长" * 20_000
    refused = client.post("/users", json={"name": "long", "role": "crew", "crew": crew})
    assert refused.status_code == 400
    assert crew in refused.json()["detail_zh"]  # the user is told in full
    [row] = _rows(client, "/users", "POST")
    reason = row.detail["refusal"]
    for key in ("title_zh", "title_en", "detail_zh", "detail_en"):
        assert len(reason[key]) <= 300, key
    assert reason["detail_zh"].endswith("…")
    assert reason["detail_zh"].startswith("班组「长长")


def test_the_audit_api_and_its_export_show_why_a_write_was_refused(client):
    import csv
    import io

    refused = client.patch("/users/nobody", json={"role": "viewer"})
    assert refused.status_code == 404
    said = refused.json()["detail"]  # 'zh / en', as the problem document says it
    assert client.post("/users", json={"name": "fine", "role": "viewer"}).status_code == 201

    entries = {e["path"]: e for e in client.get("/audit").json()["entries"]}
    assert entries["/users/nobody"]["reason"] == said
    assert entries["/users/nobody"]["detail"]["refusal"]["code"] == "not-found"
    assert entries["/users"]["reason"] is None

    exported = client.get("/audit/export", params={"f": "csv"})
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))}
    assert rows["/users/nobody"]["reason"] == said
    assert rows["/users"]["reason"] == ""
    as_json = {e["path"]: e for e in client.get("/audit/export", params={"f": "json"}).json()}
    assert as_json["/users/nobody"]["reason"] == said


def test_the_audit_log_filtered_by_actor_cli_finds_the_command_lines_rows(tmp_path, monkeypatch):
    """Command-line rows are recorded as 'cli:<system account>': a filter by actor 'cli' (or 'CLI') found
    nothing. It finds every row made on the command line; 'cli:<account>' those of one account; a failed
    sign-in tried with the name 'cli:root' is no command line's row."""
    import getpass
    import io

    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.cli import main
    from geo_service.settings import Settings

    ws = tmp_path / "ws.gpkg"
    for account, name, role in (("root", "boss", "admin"), ("ops", "cli", "viewer")):
        monkeypatch.setattr(getpass, "getuser", lambda account=account: account)
        monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
        args = ["users", "add", name, "--role", role, "--password-stdin", "--workspace", str(ws)]
        assert main(args) == 0
    with TestClient(create_app(Settings(workspace=ws))) as c:
        c.headers["Authorization"] = f"Bearer {c.app.state.accounts.issue_token('boss')}"
        assert (
            c.post("/auth/login", json={"name": "cli:root", "password": "not it at all"}).status_code == 401
        )
        assert c.post("/users", json={"name": "web", "role": "viewer"}).status_code == 201

        def paths(actor: str, route: str = "/audit") -> list[tuple[str, str]]:
            r = c.get(route, params={"actor": actor, "f": "json"})
            assert r.status_code == 200, r.text
            entries = r.json() if route == "/audit/export" else r.json()["entries"]
            return sorted((e["actor"], e["path"]) for e in entries)

        on_the_command_line = [
            ("cli:ops", "geo-service users add cli"),
            ("cli:root", "geo-service users add boss"),
        ]
        for actor in ("cli", "CLI", "Cli", "cli:"):
            assert paths(actor) == on_the_command_line, actor
        assert paths("cli", "/audit/export") == on_the_command_line
        assert paths("cli:root") == [("cli:root", "geo-service users add boss")]
        assert paths("CLI:ops") == [("cli:ops", "geo-service users add cli")]
        assert paths("cli:nobody") == []
        assert ("boss", "/users") in paths("boss")  # a user's name: exactly that user
        assert {actor for actor, _ in paths("boss")} == {"boss"}
        # a user named cli is found by that name too
        viewer = {"Authorization": f"Bearer {c.app.state.accounts.issue_token('cli')}"}
        assert c.patch("/users/web", json={"role": "admin"}, headers=viewer).status_code == 403
        assert paths("cli") == sorted([*on_the_command_line, ("cli", "/users/web")])
        assert paths("cli:") == sorted([*on_the_command_line, ("cli", "/users/web")])
        assert paths("Boss") == []
        description = c.app.openapi()["paths"]["/audit"]["get"]["description"]
        assert "cli:" in description


def test_writes_refused_before_any_route_reads_them_are_audited_with_why(tmp_path):
    """A body over GEO_MAX_BODY_BYTES (announced or streamed) and JSON holding text that is not Unicode
    were refused by middleware outside the audit's: no row at all. They have one, by the user who sent
    them, saying why."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings
    from tests.conftest import sign_in

    with TestClient(create_app(Settings(workspace=tmp_path / "ws.gpkg", max_body_bytes=2000))) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c, 'admin', name='wang')}"
        big = {"type": "Feature", "geometry": None, "properties": {"name": "x" * 5000}}
        assert c.post("/collections/depots/items", json=big).status_code == 413

        def streamed():
            yield b'{"type": "Feature", "properties": {"name": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}}'

        r = c.post(
            "/collections/crews/items", content=streamed(), headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 413
        half_an_emoji = b'{"type": "Feature", "geometry": null, "properties": {"name": "\\ud83d"}}'
        r = c.post(
            "/collections/depots/items", content=half_an_emoji, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400
        said = r.json()
        rows = {e.path: e for e in c.app.state.accounts.audit_log() if e.method == "POST"}
        too_large = rows["/collections/crews/items"]
        assert (too_large.actor, too_large.role, too_large.status) == ("wang", "admin", 413)
        assert too_large.detail["refusal"]["code"] == "too-large"
        assert too_large.detail["refusal"]["detail_en"].startswith("The request body exceeds")
        assert too_large.detail["client"] == "testclient"
        depots = sorted(
            (e for e in c.app.state.accounts.audit_log() if e.path == "/collections/depots/items"),
            key=lambda e: e.id,
        )
        assert [(e.actor, e.status) for e in depots] == [("wang", 413), ("wang", 400)]
        assert depots[1].detail["refusal"]["detail_en"] == said["detail_en"]
        assert "\\ud83d" in depots[1].detail["refusal"]["detail_en"]


def test_a_failed_sign_in_is_audited_with_why_and_the_person_told_no_more(client):
    """Each failed sign-in's audit row says why (a name being guessed, an account's password being
    tried, a disabled account, no password given), while the person signing in is told only 'wrong
    user or password'. The reason shows in /audit as a refused write's does."""
    accounts = client.app.state.accounts
    accounts.add_user("ma", "viewer", password="right password 1")
    accounts.add_user("gone", "viewer", password="right password 2")
    assert client.patch("/users/gone", json={"disabled": True}).status_code == 200
    tries = [("nobody-here", "whatever 1"), ("ma", "wrong guess 1"), ("gone", "right password 2"), ("ma", "")]
    for name, password in tries:
        r = client.post("/auth/login", json={"name": name, "password": password})
        assert r.status_code == 401
        assert r.json()["detail"] == "用户名或密码错误 / Wrong user name or password"
    assert client.post("/auth/login", json={"name": "ma", "password": "right password 1"}).status_code == 200
    rows = sorted(_rows(client, "/auth/login"), key=lambda e: e.id)
    assert [(e.actor, e.status) for e in rows] == [
        ("nobody-here", 401),
        ("ma", 401),
        ("gone", 401),
        ("ma", 401),
        ("ma", 200),
    ]
    codes = [e.detail.get("refusal", {}).get("code") for e in rows]
    assert codes == ["unknown-user", "wrong-password", "account-disabled", "no-name", None]
    assert rows[2].detail["refusal"]["detail_en"] == "The account is disabled"
    reasons = [e["reason"] for e in client.get("/audit").json()["entries"] if e["path"] == "/auth/login"]
    assert "没有这个用户名 / No account has this name" in reasons
    assert "right password" not in json.dumps([e.detail for e in rows])
