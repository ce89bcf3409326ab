"""A crew that user accounts name cannot be deleted or renamed from under them (409 naming the
accounts), on every path that writes the crews layer; and an admin's check that a crew account's crew
exists holds the store's reference lock, so a crew delete cannot slip between the check and the write."""

from __future__ import annotations

import io
import json
import threading

CREW = "解放一组"


def _crew(client, name: str = CREW):
    store = client.app.state.workspace.store
    return next(f for f in store.list_features("crews").features if f.properties["crew"] == name)


def test_deleting_or_renaming_a_crew_that_accounts_name_is_a_409_naming_them(own_demo_client):
    c = own_demo_client
    for name, disabled in (("jf1-wang", False), ("jf1-li", True)):
        assert c.post("/users", json={"name": name, "role": "crew", "crew": CREW}).status_code == 201
        if disabled:  # a disabled account still names its crew: enabled again, it would dangle
            assert c.patch(f"/users/{name}", json={"disabled": True}).status_code == 200
    crew = _crew(c)
    r = c.delete(f"/collections/crews/items/{crew.id}", params={"version": crew.version})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert "jf1-li、jf1-wang" in body["detail_zh"]
    assert "jf1-li, jf1-wang" in body["detail_en"]
    assert body["holders"] == ["jf1-li", "jf1-wang"]
    assert body["field"] == "crew"
    r = c.patch(
        f"/collections/crews/items/{crew.id}",
        json={"properties": {"crew": "解放新一组"}},
        params={"version": crew.version},
    )
    assert r.status_code == 409, r.text
    assert "jf1-wang" in r.json()["detail_en"]
    # an import that replaces the layer without the crew is refused too, and leaves the layer as it was
    rows = [
        {k: v for k, v in f.properties.items() if v is not None}
        for f in c.app.state.workspace.store.list_features("crews").features
        if f.properties["crew"] != CREW
    ]
    upload = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": None, "properties": p} for p in rows],
        }
    )
    r = c.post(
        "/collections/crews/import",
        files={"file": ("crews.geojson", io.BytesIO(upload.encode()), "application/geo+json")},
        data={"mode": "replace"},
    )
    assert r.status_code == 409, r.text
    assert r.json()["holders"] == ["jf1-li", "jf1-wang"]
    assert _crew(c).version == crew.version
    # moved to another role (which leaves the crew) and to another crew, the accounts let it go
    assert c.patch("/users/jf1-wang", json={"role": "viewer"}).json()["crew"] is None
    assert c.patch("/users/jf1-li", json={"crew": "解放二组"}).status_code == 200
    r = c.delete(f"/collections/crews/items/{crew.id}", params={"version": crew.version})
    assert r.status_code == 204, r.text
    r = c.post("/users", json={"name": "late", "role": "crew", "crew": CREW})
    assert (r.status_code, r.json()["field"]) == (400, "crew")


def _race_account_against_crew_delete(c, monkeypatch) -> None:
    """Old code checked the crew outside the store's reference lock: a crew delete could run between the
    check and the account's write (it found no account yet), and the new account named a deleted crew.
    Here the account's write is held back after its check, and a crew delete starts meanwhile."""
    from geo_service.errors import Conflict
    from geo_service.features import delete_feature

    ws = c.app.state.workspace
    accounts = c.app.state.accounts
    crew = _crew(c, "解放二组")
    checked, go_on = threading.Event(), threading.Event()
    real_add_user = accounts.add_user

    def add_user_after_a_pause(*args, **kwargs):
        checked.set()  # the crew was found
        go_on.wait(timeout=30)
        return real_add_user(*args, **kwargs)

    monkeypatch.setattr(accounts, "add_user", add_user_after_a_pause)
    outcome: dict[str, object] = {}

    def make_account() -> None:
        outcome["account"] = c.post(
            "/users", json={"name": "racer", "role": "crew", "crew": "解放二组"}
        ).status_code

    def delete_crew() -> None:
        try:
            delete_feature(ws, "crews", crew.id, actor="test", expected_version=crew.version)
            outcome["delete"] = "deleted"
        except Conflict as exc:
            outcome["delete"] = exc.en

    maker = threading.Thread(target=make_account)
    maker.start()
    assert checked.wait(timeout=30)
    deleter = threading.Thread(target=delete_crew)
    deleter.start()
    deleter.join(timeout=1.0)
    go_on.set()
    maker.join(timeout=30)
    deleter.join(timeout=30)
    assert outcome["account"] == 201
    assert "racer" in str(outcome["delete"])  # the delete waited for the account and was refused
    assert _crew(c, "解放二组").version == crew.version  # nothing dangles


def test_a_crew_account_is_checked_and_written_under_the_reference_lock(own_demo_client, monkeypatch):
    _race_account_against_crew_delete(own_demo_client, monkeypatch)


def test_the_same_on_postgis(pg_schema_url, tmp_path, monkeypatch):
    """On PostGIS the reference lock is an advisory lock that reads do not wait for."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings
    from tests.conftest import sign_in

    settings = Settings(workspace=tmp_path / "unused.gpkg", database_url=pg_schema_url)
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        depot = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.25, 35.21]}}
        depot["properties"] = {"name": "山阳场站"}
        assert c.post("/collections/depots/items", json=depot).status_code == 201
        crew = {"type": "Feature", "geometry": None}
        crew["properties"] = {"crew": "解放二组", "depot": "山阳场站", "vehicles": 2}
        assert c.post("/collections/crews/items", json=crew).status_code == 201, c
        _race_account_against_crew_delete(c, monkeypatch)
        r = c.post("/users", json={"name": "second", "role": "crew", "crew": "解放二组"})
        assert r.status_code == 201
        target = _crew(c, "解放二组")
        r = c.delete(f"/collections/crews/items/{target.id}", params={"version": target.version})
        assert r.status_code == 409
        assert r.json()["holders"] == ["racer", "second"]


def test_the_command_line_makes_crew_accounts_of_real_crews_only(demo_gpkg, tmp_path, capsys):
    import shutil

    from geo_service.cli import main

    ws = tmp_path / "w.gpkg"
    shutil.copy(demo_gpkg, ws)
    add = ["users", "add", "--role", "crew", "--no-password", "--workspace", str(ws)]
    assert main([*add[:2], "cli-a", *add[2:], "--crew", "不存在组"]) == 2
    assert "is not in the crews layer" in capsys.readouterr().err
    assert main([*add[:2], "cli-b", *add[2:], "--crew", CREW]) == 0
