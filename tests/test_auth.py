"""Who may do what: sign-in, roles per layer, crews, admin pages, audit, and the CLI's first admin."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import authed

DEPOT = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [113.25, 35.21]},
    "properties": {"name": "山阳场站"},
}


def test_everything_but_health_needs_a_user(anon_client):
    assert anon_client.get("/health").status_code == 200
    for path in ("/collections", "/collections/roads/items", "/docs", "/openapi.json", "/", "/audit"):
        resp = anon_client.get(path)
        assert resp.status_code == 401, path
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.headers["www-authenticate"] == "Bearer"
        assert resp.json()["detail_zh"]
    assert anon_client.post("/collections/depots/items", json=DEPOT).status_code == 401


def test_bad_token_is_401(anon_client):
    resp = anon_client.get("/collections", headers={"Authorization": "Bearer gs_nope"})
    assert resp.status_code == 401


def test_login_with_password_gives_a_session(anon_client):
    anon_client.app.state.accounts.add_user("li", "viewer", password="correct horse")
    bad = anon_client.post("/auth/login", json={"name": "li", "password": "wrong password"})
    assert bad.status_code == 401
    ok = anon_client.post("/auth/login", json={"name": "li", "password": "correct horse"})
    assert ok.status_code == 200
    assert anon_client.get("/auth/me").json()["role"] == "viewer"  # the session cookie works
    assert anon_client.get("/collections").status_code == 200
    tries = [
        e for e in anon_client.app.state.accounts.audit_log() if e.path == "/auth/login" and e.actor == "li"
    ]
    assert sorted(e.status for e in tries) == [200, 401]  # both sign-ins in the audit log (helper-26)
    anon_client.post("/auth/logout")
    anon_client.cookies.clear()
    assert anon_client.get("/collections").status_code == 401


def test_browser_form_login_redirects(anon_client):
    anon_client.app.state.accounts.add_user("wang", "planner", password="long enough pw")
    page = anon_client.get("/auth/login")
    assert "登录" in page.text
    resp = anon_client.post(
        "/auth/login",
        data={"name": "wang", "password": "long enough pw", "next": "/collections"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == "/collections"
    wrong = anon_client.post(
        "/auth/login", data={"name": "wang", "password": "x", "next": "//evil"}, follow_redirects=False
    )
    assert wrong.headers["location"].startswith("/auth/login?error=1")


def test_cookie_writes_from_another_site_are_refused(anon_client):
    anon_client.app.state.accounts.add_user("zhao", "admin", password="long enough pw")
    anon_client.post("/auth/login", json={"name": "zhao", "password": "long enough pw"})
    resp = anon_client.post(
        "/collections/depots/items", json=DEPOT, headers={"Origin": "http://evil.example"}
    )
    assert resp.status_code == 403
    assert anon_client.get("/collections/depots/items").json()["numberMatched"] == 0


@pytest.mark.parametrize(
    ("role", "layer", "allowed"),
    [
        ("planner", "stall_sites", True),
        ("planner", "depots", False),
        ("dispatcher", "depots", True),
        ("dispatcher", "stall_sites", False),
        ("viewer", "depots", False),
        ("crew", "depots", False),
        ("admin", "districts", True),
        ("planner", "districts", False),
    ],
)
def test_layer_editors(anon_client, role, layer, allowed):
    headers = authed(anon_client, role, crew="一组")
    resp = anon_client.post(
        f"/collections/{layer}/items",
        json={"type": "Feature", "geometry": None, "properties": {}},
        headers=headers,
    )
    if allowed:
        assert resp.status_code == 400  # past the guard, refused for its (empty) content
    else:
        assert resp.status_code == 403
        assert role in resp.json()["detail_en"]


def test_only_planners_override_siting(anon_client):
    resp = anon_client.post(
        "/collections/stall_sites/items?override=*&reason=x",
        json=DEPOT,
        headers=authed(anon_client, "dispatcher"),
    )
    assert resp.status_code == 403


def test_crew_reads_nothing_but_its_routes(anon_client):
    headers = authed(anon_client, "crew", crew="一组")
    assert anon_client.get("/collections", headers=headers).status_code == 403
    assert anon_client.get("/auth/me", headers=headers).json()["crew"] == "一组"


def test_admin_pages(anon_client):
    admin = authed(anon_client, "admin")
    assert anon_client.get("/users", headers=authed(anon_client, "planner")).status_code == 403
    resp = anon_client.post(
        "/users", json={"name": "chen", "role": "dispatcher", "password": "long enough pw"}, headers=admin
    )
    assert resp.status_code == 201
    assert (
        anon_client.post("/users", json={"name": "chen", "role": "dispatcher"}, headers=admin).status_code
        == 409
    )
    assert anon_client.post("/users", json={"name": "x1", "role": "boss"}, headers=admin).status_code == 400
    names = {u["name"] for u in anon_client.get("/users", headers=admin).json()["users"]}
    assert "chen" in names
    token = anon_client.post("/auth/login", json={"name": "chen", "password": "long enough pw"}).json()[
        "token"
    ]
    anon_client.cookies.clear()
    anon_client.patch("/users/chen", json={"disabled": True}, headers=admin)
    assert anon_client.get("/collections", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_every_write_is_audited_with_before_and_after(client):
    fid = client.post("/collections/depots/items", json=DEPOT).json()["id"]
    client.patch(f"/collections/depots/items/{fid}", json={"properties": {"salt_store": False}})
    client.post("/collections/depots/items", json={"type": "Feature"})  # refused write is audited too
    entries = client.get("/audit").json()["entries"]
    assert [e["method"] for e in entries[:3]] == ["POST", "PATCH", "POST"]
    assert entries[0]["status"] == 400
    assert entries[1]["status"] == 200
    assert all(e["actor"] == "test-admin" for e in entries[:3])
    assert client.get("/audit", params={"limit": 1, "offset": 2**53}).json()["entries"] == []
    too_far = client.get("/audit", params={"offset": 2**63})
    assert too_far.status_code == 422
    assert too_far.headers["content-type"].startswith("application/problem+json")
    change = client.get(f"/collections/depots/items/{fid}/history").json()["changes"][0]
    assert change["actor"] == "test-admin"
    assert change["before"]["properties"]["salt_store"] is True
    assert change["after"]["properties"]["salt_store"] is False
    csv_text = client.get("/audit/export?f=csv").text
    assert "PATCH" in csv_text
    assert csv_text.startswith("\ufeff")


def test_first_admin_by_cli(tmp_path):
    ws = tmp_path / "w.gpkg"
    cmd = [
        sys.executable,
        "-m",
        "geo_service",
        "users",
        "add",
        "boss",
        "--role",
        "admin",
        "--password-stdin",
        "--workspace",
        str(ws),
    ]
    done = subprocess.run(cmd, input="a long password\n", capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    token = subprocess.run(
        [sys.executable, "-m", "geo_service", "users", "token", "boss", "--workspace", str(ws)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    with TestClient(create_app(Settings(workspace=ws))) as c:
        assert c.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["name"] == "boss"
        assert c.app.state.accounts.login("boss", "a long password") is not None
    stored = c.app.state.accounts  # hashes only: neither the password nor the token appear in the file
    del stored
    raw = ws.read_bytes()
    assert b"a long password" not in raw
    assert token.encode() not in raw


def test_password_guessing_is_throttled(anon_client):
    anon_client.app.state.accounts.add_user("zhou", "viewer", password="the right one")
    for _ in range(5):
        assert anon_client.post("/auth/login", json={"name": "zhou", "password": "guess"}).status_code == 401
    refused = anon_client.post("/auth/login", json={"name": "zhou", "password": "the right one"})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "Too many" in refused.json()["detail_en"]


def test_the_last_admin_stays_and_crew_accounts_name_a_real_crew(own_demo_client):
    """Demoting or disabling the only active admin is a 409 (nobody could manage users afterwards); a
    crew account needs a crew of the crews layer, when made and when changed."""
    c = own_demo_client
    me = "test-admin"  # the one signed in (conftest.sign_in)
    admins = [
        u["name"] for u in c.get("/users").json()["users"] if u["role"] == "admin" and not u["disabled"]
    ]
    for other in set(admins) - {me}:  # leave exactly one
        assert c.patch(f"/users/{other}", json={"role": "viewer"}).status_code == 200
    for change in ({"role": "viewer"}, {"disabled": True}):
        r = c.patch(f"/users/{me}", json=change)
        assert r.status_code == 409, r.text
        assert "only active admin" in r.json()["detail_en"]
    assert c.post("/users", json={"name": "v1", "role": "viewer", "password": "pw123456"}).status_code == 201
    r = c.patch("/users/v1", json={"role": "crew"})
    assert (r.status_code, r.json()["field"]) == (400, "crew")
    r = c.post("/users", json={"name": "c1", "role": "crew", "crew": "不存在组", "password": "pw123456"})
    assert (r.status_code, r.json()["field"]) == (400, "crew")
    assert c.patch("/users/v1", json={"role": "crew", "crew": "解放一组"}).status_code == 200
    # helper-64: only crew accounts name a crew (a viewer naming one kept the crew from being deleted)
    r = c.post("/users", json={"name": "v2", "role": "viewer", "crew": "解放一组", "password": "pw123456"})
    assert (r.status_code, r.json()["field"]) == (400, "crew")
    assert "Only crew accounts name a crew" in r.json()["detail_en"]
    assert c.post("/users", json={"name": "v2", "role": "viewer", "password": "pw123456"}).status_code == 201
    r = c.patch("/users/v2", json={"crew": "解放一组"})
    assert (r.status_code, r.json()["field"]) == (400, "crew")
    assert next(u for u in c.get("/users").json()["users"] if u["name"] == "v2")["crew"] is None


def test_cli_refusals_are_messages_not_tracebacks(tmp_path, capsys, monkeypatch):
    """``users add`` with no password to read, a crew account with no crew, ``backup restore`` of a file
    that is not there: a message in both languages and exit code 2; no workspace is made for nothing."""
    import io

    from geo_service.cli import main

    ws = ["--workspace", str(tmp_path / "ws.gpkg")]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": input(prompt))  # no terminal: reads stdin
    assert main(["users", "add", "x", "--role", "viewer", *ws]) == 2
    assert "No password was read" in capsys.readouterr().err
    assert main(["users", "add", "y", "--role", "crew", *ws]) == 2
    assert "needs --crew" in capsys.readouterr().err
    target = tmp_path / "restored.gpkg"
    assert main(["backup", "restore", "--workspace", str(target), str(tmp_path / "none.zip")]) == 2
    assert "No backup file" in capsys.readouterr().err
    assert not target.exists()


def test_a_new_password_ends_old_sessions_and_answers_carry_safety_headers(client):
    """helper-26: after an admin set a new password, the user's old session and API tokens still worked;
    no answer said nosniff or refused to be framed."""
    accounts = client.app.state.accounts
    accounts.add_user("pw-change", "viewer", password="first-pass-1")
    old = accounts.issue_token("pw-change")
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {old}"}).status_code == 200
    assert client.patch("/users/pw-change", json={"password": "second-pass-2"}).status_code == 200
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    r = client.get("/collections")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert client.get("/health").headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("secure", [False, True])
def test_the_session_cookie_is_secure_when_the_setting_says(tmp_path, secure):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    app = create_app(Settings(workspace=tmp_path / "w.gpkg", cookie_secure=secure))
    with TestClient(app) as c:
        app.state.accounts.add_user("qin", "viewer", password="qin's password")
        r = c.post("/auth/login", json={"name": "qin", "password": "qin's password"})
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("geo_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert ("Secure" in cookie) is secure
        form = c.post(
            "/auth/login",
            data={"name": "qin", "password": "qin's password", "next": "/auth/me"},
            follow_redirects=False,
        )
        assert ("Secure" in form.headers["set-cookie"]) is secure
        out = c.post("/auth/logout", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert ("Secure" in out.headers["set-cookie"]) is secure


def test_html_answers_carry_a_content_security_policy(tmp_path):
    """Live pages had no CSP (only the printed maps did). HTML answers carry one naming only the service
    itself (and the configured basemap's tile host for images); the browser test shows the pages work."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    with TestClient(create_app(Settings(workspace=tmp_path / "a.gpkg"))) as c:
        policy = c.get("/auth/login").headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "img-src 'self' data: blob:;" in policy
        assert "unsafe-eval" not in policy
        assert "content-security-policy" not in c.get("/health").headers  # JSON: no page to confine
    settings = Settings(
        workspace=tmp_path / "b.gpkg",
        basemap="local",
        basemap_url="http://{s}.tiles.lan:8080/{z}/{x}/{y}.png",
    )
    with TestClient(create_app(settings)) as c:
        policy = c.get("/auth/login").headers["content-security-policy"]
        assert "img-src 'self' data: blob: http://*.tiles.lan:8080;" in policy
    # helper-32: {s} inside a label became t*.tiles.lan, which no browser takes as a source
    from geo_service.maps.base import tile_sources

    inside = Settings(
        workspace=tmp_path / "c.gpkg", basemap="local", basemap_url="http://t{s}.tiles.lan/{z}/{x}/{y}.png"
    )
    assert tile_sources(inside) == ("http://ta.tiles.lan", "http://tb.tiles.lan", "http://tc.tiles.lan")


def test_a_sign_in_with_a_huge_name_fills_no_disk_and_tokens_take_their_fields(client, anon_client):
    """helper-64: a failed sign-in stored the whole name tried in the audit log (a 15 MB name, seven
    times, grew the workspace by 100 MB, the throttle's 429s too); a token asked for with a JSON body
    was a 90-day one, its days unread, and its label had no bound."""
    huge = "b" * 1_000_000
    for _ in range(3):
        r = anon_client.post("/auth/login", json={"name": huge, "password": "x"})
        assert r.status_code in (401, 429)
    rows = [
        a for a in client.get("/audit", params={"limit": 50}).json()["entries"] if a["path"] == "/auth/login"
    ]
    assert rows
    assert max(len(a["actor"]) for a in rows) <= 64
    assert any(a["actor"].startswith("bbb") and a["actor"].endswith("…") for a in rows)
    r = client.post("/auth/tokens", json={"days": 5})
    assert (r.status_code, r.json()["field"]) == (400, "days")
    assert "form fields" in r.json()["detail_en"]
    assert client.post("/auth/tokens", data={"label": "x" * 201}).status_code == 422
    r = client.post("/auth/tokens", data={"label": "笔记本", "days": 5})
    assert (r.status_code, r.json()["expires_in_days"]) == (201, 5)


def test_an_admin_revokes_one_lost_token_and_keeps_accounts_up_from_the_command_line(
    client, anon_client, tmp_path, capsys, settings
):
    """helper-64: an admin could not end one token (a lost laptop's) without disabling the account or
    changing its password, and the command line could neither disable an account nor set a password."""
    from geo_service.cli import main

    assert (
        client.post("/users", json={"name": "p1", "role": "planner", "password": "pw123456"}).status_code
        == 201
    )
    laptop = anon_client.post("/auth/login", json={"name": "p1", "password": "pw123456"}).json()["token"]
    desk = anon_client.post("/auth/login", json={"name": "p1", "password": "pw123456"}).json()["token"]
    listed = client.get("/users/p1/tokens").json()["tokens"]
    assert len(listed) == 2
    assert all(len(t["id"]) == 12 and t["id"] not in (laptop, desk) for t in listed)
    from geo_service.auth.passwords import token_digest

    lost = token_digest(laptop)[:12]
    assert client.delete(f"/users/p1/tokens/{lost}").json()["revoked"]["id"] == lost
    # (asked of the app that revoked it: another process may trust a token it has just checked for the
    # few seconds its cache keeps it)
    me = lambda token: client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code  # noqa: E731
    assert (me(laptop), me(desk)) == (401, 200)
    r = client.delete(f"/users/p1/tokens/{lost}")
    assert (r.status_code, r.json()["field"]) == (404, "token")
    assert client.delete("/users/p1/tokens/abc").status_code == 404  # too short to name one
    # the command line, as when the service cannot be reached
    ws = ["--workspace", str(settings.workspace)]
    assert main(["users", "tokens", "p1", *ws]) == 0
    assert token_digest(desk)[:12] in capsys.readouterr().out
    assert main(["users", "revoke", "p1", token_digest(desk)[:12], *ws]) == 0
    assert client.get("/users/p1/tokens").json()["tokens"] == []
    assert main(["users", "disable", "p1", *ws]) == 0
    assert anon_client.post("/auth/login", json={"name": "p1", "password": "pw123456"}).status_code == 401
    assert main(["users", "enable", "p1", *ws]) == 0
    import io
    import sys

    sys.stdin = io.StringIO("newpass99\n")
    try:
        assert main(["users", "password", "p1", "--password-stdin", *ws]) == 0
    finally:
        sys.stdin = sys.__stdin__
    assert anon_client.post("/auth/login", json={"name": "p1", "password": "newpass99"}).status_code == 200
    entries = client.get("/audit", params={"limit": 100}).json()["entries"]
    assert any("users disable p1" in str(e) for e in entries)


def test_the_sign_in_page_believes_no_links_wait(anon_client):
    """helper-64: /auth/login?wait=abc was a JSON 422 in a browser, and ?wait=99999999 said to wait
    that long: a wait that is no number is not shown, and none beyond the throttle's longest."""
    r = anon_client.get("/auth/login", params={"wait": "abc"})
    assert r.status_code == 200
    assert "秒后再试" not in r.text
    longest = int(anon_client.app.state.settings.login_window_s)
    r = anon_client.get("/auth/login", params={"wait": "99999999"})
    assert r.status_code == 200
    assert "99999999" not in r.text
    r = anon_client.get("/auth/login", params={"wait": "999999"})
    assert f"请 {longest} 秒后再试" in r.text
    assert "请 8 秒后再试" in anon_client.get("/auth/login", params={"wait": "8"}).text


def test_a_refused_token_is_told_why(client, anon_client):
    """helper-64: an expired token's 401 said only 'sign in or send an API token'."""
    import datetime as dt

    accounts = client.app.state.accounts
    old = accounts.issue_token("test-admin", label="旧", ttl=dt.timedelta(seconds=-60))
    r = anon_client.get("/collections", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401
    assert "expired at" in r.json()["detail_en"]
    assert "过期" in r.json()["detail_zh"]
    r = anon_client.get("/collections", headers={"Authorization": "Bearer gs_nothing"})
    assert (r.status_code, r.json()["detail_en"]) == (
        401,
        "The token is not valid (never issued, revoked, or ended by a new password)",
    )
    assert "Sign in or send an API token" in anon_client.get("/collections").json()["detail_en"]
