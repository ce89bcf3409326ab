"""Putting a layer back as it stood at an earlier moment: the undo of a wrong replace import, on both
stores, checked against the layer's own history."""

from __future__ import annotations

import datetime as dt
import io
import time

import pandas as pd
import pytest

from tests.conftest import authed, sign_in

TZ = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(params=["gpkg", "postgis"])
def store_client(request, tmp_path):
    """The app over an empty workspace, on the GeoPackage store or on PostGIS, signed in as an admin."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    if request.param == "gpkg":
        settings = Settings(workspace=tmp_path / "w.gpkg")
    else:
        settings = Settings(
            workspace=tmp_path / "unused.gpkg", database_url=request.getfixturevalue("pg_schema_url")
        )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        yield c


def _moment() -> str:
    """Now, between two writes (a moment is compared with the times the history keeps)."""
    time.sleep(0.05)
    at = dt.datetime.now(TZ).isoformat()
    time.sleep(0.05)
    return at


def _layer(c) -> dict[str, dict]:
    return {f["properties"]["name"]: f for f in c.get("/collections/depots/items").json()["features"]}


def test_a_wrong_replace_import_is_undone_by_putting_the_layer_back(store_client):
    c = store_client
    csv = "name,salt_store,lon,lat\n甲,true,113.25,35.21\n乙,false,113.26,35.22\n丙,true,113.27,35.23\n"
    assert c.post("/collections/depots/import", files={"file": ("d.csv", csv.encode())}).status_code == 201
    before = _layer(c)
    morning = _moment()
    # the wrong file: 甲 moved, 乙 left out, 丙 as it was, 丁 new
    table = pd.read_csv(io.BytesIO(c.get("/collections/depots/export", params={"f": "csv"}).content))
    table.loc[table["name"] == "甲", "lon"] = 113.30
    table = table[table["name"] != "乙"]
    table = pd.concat(
        [table, pd.DataFrame([{"name": "丁", "salt_store": False, "lon": 113.28, "lat": 35.24}])]
    )
    wrong = c.post(
        "/collections/depots/import",
        data={"mode": "replace"},
        files={"file": ("d.csv", table.to_csv(index=False).encode())},
    )
    assert wrong.status_code == 201, wrong.text[:300]
    after_import = _moment()
    # what a rewind would do, without doing it
    version = c.get("/collections/depots/items").json()
    plan = c.post("/collections/depots/rewind", json={"to": morning, "dry_run": True})
    assert plan.status_code == 200, plan.text[:300]
    assert {k: plan.json()[k] for k in ("reverted", "restored", "deleted", "unchanged", "dry_run")} == {
        "reverted": [before["甲"]["id"]],
        "restored": [before["乙"]["id"]],
        "deleted": [_layer(c)["丁"]["id"]],
        "unchanged": 1,
        "dry_run": True,
    }
    assert c.get("/collections/depots/items").json() == version  # nothing written
    # the rewind: the layer as it was, every feature under its own id, each step in its history
    done = c.post("/collections/depots/rewind", json={"to": morning, "reason": "误导入"})
    assert done.status_code == 200, done.text[:300]
    now = _layer(c)
    assert set(now) == {"甲", "乙", "丙"}
    for name in now:
        assert now[name]["id"] == before[name]["id"]
        assert now[name]["geometry"] == before[name]["geometry"]
        assert now[name]["properties"] == before[name]["properties"]
    assert [now[n]["version"] for n in ("甲", "乙", "丙")] == [3, 3, 1]
    jia = c.get(f"/collections/depots/items/{before['甲']['id']}/history").json()["changes"]
    assert [(h["op"], h["reason"]) for h in jia[:1]] == [("update", "误导入")]
    yi = c.get(f"/collections/depots/items/{before['乙']['id']}/history").json()["changes"]
    assert [h["op"] for h in yi] == ["restore", "delete", "create"]
    assert yi[0]["after"] == yi[1]["before"]  # brought back as it was deleted
    # again: nothing left to do
    again = c.post("/collections/depots/rewind", json={"to": morning}).json()
    assert (again["reverted"], again["restored"], again["deleted"]) == ([], [], [])
    # the rewind is history too: going back to just after the import undoes it
    redo = c.post("/collections/depots/rewind", json={"to": after_import})
    assert redo.status_code == 200, redo.text[:300]
    assert set(_layer(c)) == {"甲", "丙", "丁"}
    assert _layer(c)["甲"]["geometry"]["coordinates"][0] == pytest.approx(113.30)


def test_a_layer_goes_back_to_empty_unless_another_layer_names_its_features(store_client):
    c = store_client
    empty = _moment()
    csv = "name,salt_store,lon,lat\n甲,true,113.25,35.21\n乙,false,113.26,35.22\n"
    assert c.post("/collections/depots/import", files={"file": ("d.csv", csv.encode())}).status_code == 201
    crew = {"crew": "一组", "depot": "甲", "vehicles": 2}
    assert (
        c.post(
            "/collections/crews/items", json={"type": "Feature", "properties": crew, "geometry": None}
        ).status_code
        == 201
    )
    named = c.post("/collections/depots/rewind", json={"to": empty})
    assert named.status_code == 409, named.text[:300]
    assert "甲" in named.json()["detail_zh"]
    crew_id = c.get("/collections/crews/items").json()["features"][0]["id"]
    assert named.json()["referrers"] == {"layer": "crews", "ids": [crew_id]}  # which crew (helper-48)
    assert f"crews ({crew_id})" in named.json()["detail_en"]
    assert len(_layer(c)) == 2  # nothing written
    # the crews go back first (to before their first), then the depots
    assert c.post("/collections/crews/rewind", json={"to": empty}).json()["deleted"]
    gone = c.post("/collections/depots/rewind", json={"to": empty})
    assert gone.status_code == 200, gone.text[:300]
    assert _layer(c) == {}
    assert len(gone.json()["deleted"]) == 2


def test_a_rewind_is_refused_clearly(store_client):
    c = store_client
    future = (dt.datetime.now(TZ) + dt.timedelta(hours=1)).isoformat()
    for body, field in (({"to": future}, "to"), ({"to": "昨天"}, "to"), ({"to": "1800-01-01T00:00"}, "to")):
        r = c.post("/collections/depots/rewind", json=body)
        assert r.status_code in (400, 422), r.text[:300]
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text
    r = c.post("/collections/depots/rewind", json={"to": "2026-01-01T00:00", "dryrun": True})
    assert r.status_code == 422
    assert "dryrun" in r.text
    # helper-48: a dry run asked for in the query string was ignored, and the layer really went back
    r = c.post("/collections/depots/rewind", params={"dry_run": "true"}, json={"to": "2026-01-01T00:00"})
    assert r.status_code == 400, r.text[:300]
    assert "dry_run" in r.json()["detail_en"]
    # ... and a bare number was read as seconds since 1970 (20261206: August 1970); text is read as the
    # service reads every time (eight digits: a day)
    for number in (20261206, 0):
        r = c.post("/collections/depots/rewind", json={"to": number, "dry_run": True})
        assert r.status_code == 422, r.text[:300]
    day = c.post("/collections/depots/rewind", json={"to": "20261201", "dry_run": True})
    assert day.status_code == 200, day.text[:300]
    assert day.json()["to"] == "2026-12-01T00:00:00+08:00"
    utc = c.post("/collections/depots/rewind", json={"to": "2026-12-01T01:00:00Z", "dry_run": True})
    assert utc.json()["to"] == "2026-12-01T09:00:00+08:00"  # answered in Beijing time
    assert c.post("/collections/nowhere/rewind", json={"to": "2026-01-01T00:00"}).status_code == 404
    viewer = c.post(
        "/collections/depots/rewind", json={"to": "2026-01-01T00:00"}, headers=authed(c, "viewer")
    )
    assert viewer.status_code == 403
    # helper-48: a layer that does not exist was a 403 for every role but admin's
    nowhere = c.post(
        "/collections/nowhere/rewind", json={"to": "2026-01-01T00:00"}, headers=authed(c, "viewer")
    )
    assert nowhere.status_code == 404


def test_the_command_line_puts_a_layer_back_and_says_what_it_did(tmp_path, capsys):
    import shapely

    from geo_service.catalog import load_catalog
    from geo_service.cli import main
    from geo_service.settings import default_layers_dir
    from geo_service.store.base import NewFeature
    from geo_service.store.gpkg import GeoPackageStore

    path = tmp_path / "w.gpkg"
    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    [a] = store.create_features(
        "depots", [NewFeature({"name": "甲", "salt_store": True}, shapely.Point(113.25, 35.21))], actor="x"
    )
    at = _moment()
    store.update_feature(
        "depots",
        a.id,
        NewFeature({"name": "甲二", "salt_store": True}, a.geometry),
        expected_version=1,
        actor="x",
    )
    store.close()
    ws = ["--workspace", str(path)]
    assert main(["rewind", "depots", "--to", at, "--dry-run", *ws]) == 0
    assert "1 reverted" in capsys.readouterr().out
    assert main(["rewind", "depots", "--to", at, "--reason", "改错了", *ws]) == 0
    out = capsys.readouterr().out
    assert "已回到" in out
    assert f"reverted: {a.id}" in out
    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    try:
        f = store.get_feature("depots", a.id)
        assert (f.properties["name"], f.version) == ("甲", 3)
        assert store.history("depots", a.id)[0].reason == "改错了"
    finally:
        store.close()
    assert main(["rewind", "depots", "--to", "明天", *ws]) == 2
    assert "to" in capsys.readouterr().err


class _EditedDuringRewind:
    """The real store, with another user's write committed just after a rewind has read the layer (when
    it reads the history)."""

    def __init__(self, store, edit) -> None:
        self._store, self._edit = store, edit

    def __getattr__(self, name):
        return getattr(self._store, name)

    def history(self, layer, *args, **kw):
        if self._edit is not None:
            edit, self._edit = self._edit, None
            edit(self._store)
        return self._store.history(layer, *args, **kw)


@pytest.mark.parametrize("meanwhile", ["create", "delete"])
def test_a_rewind_is_refused_when_the_layer_changes_while_it_runs(store_client, meanwhile):
    """helper-47: a feature created by someone else while a rewind ran was deleted by it, and one
    deleted was brought back (then a 500). The rewind reads the layer's version first; the store refuses
    the write when the layer moved (409), and nothing is written."""
    import shapely

    from geo_service.rewind import rewind_layer
    from geo_service.store.base import NewFeature
    from geo_service.workspace import Workspace

    c = store_client
    morning = _moment()
    csv = "name,salt_store,lon,lat\n甲,true,113.25,35.21\n乙,false,113.26,35.22\n"
    assert c.post("/collections/depots/import", files={"file": ("d.csv", csv.encode())}).status_code == 201
    ws = c.app.state.workspace
    yi = _layer(c)["乙"]

    def edit(store):
        if meanwhile == "create":
            store.create_features(
                "depots",
                [NewFeature({"name": "丙", "salt_store": True}, shapely.Point(113.27, 35.23))],
                actor="other",
            )
        else:
            store.delete_feature("depots", yi["id"], expected_version=yi["version"], actor="other")

    racing = Workspace(_EditedDuringRewind(ws.store, edit), ws.settings)
    from geo_service.errors import Conflict

    with pytest.raises(Conflict) as refused:
        rewind_layer(racing, "depots", dt.datetime.fromisoformat(morning), actor="rw")
    assert "changed by someone else while it was being put back" in refused.value.en
    assert "export" not in refused.value.en
    names = set(_layer(c))
    assert names == ({"甲", "乙", "丙"} if meanwhile == "create" else {"甲"})
    assert not any(h["actor"] == "rw" for h in c.get("/collections/depots/history").json()["changes"])


def test_a_rewind_refusal_names_features_not_rows(store_client):
    """helper-47: a rewind refused by a check answered about 'rows 1, 2, 3 of the file', a file the user
    never sent."""
    c = store_client
    two = "name,salt_store,lon,lat\n甲,true,113.25,35.21\n乙,false,113.26,35.22\n"
    assert c.post("/collections/depots/import", files={"file": ("d.csv", two.encode())}).status_code == 201
    crew = c.post(
        "/collections/crews/items",
        json={
            "type": "Feature",
            "properties": {"crew": "一组", "depot": "甲", "vehicles": 2},
            "geometry": None,
        },
    )
    assert crew.status_code == 201, crew.text[:300]
    morning = _moment()
    item = crew.json()
    moved = c.patch(
        f"/collections/crews/items/{item['id']}",
        json={"properties": {"depot": "乙"}},
        headers={"If-Match": f'"{item["version"]}"'},
    )
    assert moved.status_code == 200, moved.text[:300]
    jia = _layer(c)["甲"]
    assert (
        c.delete(
            f"/collections/depots/items/{jia['id']}", headers={"If-Match": f'"{jia["version"]}"'}
        ).status_code
        == 204
    )
    r = c.post("/collections/crews/rewind", json={"to": morning})
    assert r.status_code == 400, r.text[:300]
    body = r.json()
    assert [f["id"] for f in body["features"]] == [item["id"]]
    assert f"feature(s) {item['id']}" in body["detail_en"]
    assert "row" not in body["detail_en"].lower()
    assert c.get(f"/collections/crews/items/{item['id']}").json()["properties"]["depot"] == "乙"
