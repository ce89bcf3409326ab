"""Nothing lost: bad shapes refused on both stores, concurrent editing, faults (PostGIS down, killed
imports and writes), and several app instances over one PostGIS."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.geometry_catalogue import BAD_SHAPES

SOAK_S = float(os.environ.get("GEO_TEST_SOAK_S", "60"))
SITE_PROPS = {"name": "甲", "salt_store": True}


def _app_client(settings):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from tests.conftest import sign_in

    client = TestClient(create_app(settings))
    client.__enter__()
    client.headers["Authorization"] = f"Bearer {sign_in(client)}"
    return client


@pytest.fixture(params=["gpkg", "postgis"])
def any_client(request, tmp_path):
    from geo_service.settings import Settings

    if request.param == "gpkg":
        settings = Settings(workspace=tmp_path / "w.gpkg")
    else:
        settings = Settings(
            workspace=tmp_path / "unused.gpkg", database_url=request.getfixturevalue("pg_schema_url")
        )
    client = _app_client(settings)
    yield client
    client.__exit__(None, None, None)


@pytest.mark.parametrize("shape", BAD_SHAPES, ids=[s[0] for s in BAD_SHAPES])
def test_bad_shapes_refused_and_store_unchanged(any_client, shape):
    name, layer, geometry, expected = shape
    before = any_client.get(f"/collections/{layer}/items").json()["numberMatched"]
    props = {"depots": SITE_PROPS, "stall_sites": {"name": "甲", "district": "山阳区", "capacity": 5}}[layer]
    body = json.dumps({"type": "Feature", "geometry": geometry, "properties": props}).encode()
    resp = any_client.post(
        f"/collections/{layer}/items", content=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code in expected, (name, resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/problem+json")
    detail = resp.json()["detail_en"]
    assert detail
    assert "Traceback" not in detail
    assert any_client.get(f"/collections/{layer}/items").json()["numberMatched"] == before


def _serve(settings):
    import uvicorn

    from geo_service.api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return app, server, thread, f"http://127.0.0.1:{port}"


@pytest.mark.slow
@pytest.mark.parametrize("store", ["gpkg", "postgis"])
def test_twenty_clients_editing_the_same_features(store, tmp_path, request):
    from geo_service.settings import Settings

    settings = Settings(workspace=tmp_path / "w.gpkg")
    if store == "postgis":
        settings = Settings(
            workspace=tmp_path / "u.gpkg", database_url=request.getfixturevalue("pg_schema_url")
        )
    app, server, thread, base = _serve(settings)
    try:
        app.state.accounts.add_user("soak", "admin")
        headers = {"Authorization": f"Bearer {app.state.accounts.issue_token('soak')}"}
        ids = []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
            for k in range(3):
                r = c.post(
                    "/collections/depots/items",
                    json={
                        "type": "Feature",
                        "properties": {"name": f"站{k}"},
                        "geometry": {"type": "Point", "coordinates": [113.2 + k / 100, 35.2]},
                    },
                )
                ids.append(r.json()["id"])
        accepted: list[tuple[int, int, str]] = []  # (feature, version, name written)
        stale = [0]
        errors: list[str] = []
        lock = threading.Lock()
        deadline = time.monotonic() + SOAK_S

        def worker(n: int) -> None:
            rng = random.Random(n)
            with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                while time.monotonic() < deadline:
                    fid = rng.choice(ids)
                    got = c.get(f"/collections/depots/items/{fid}")
                    version = got.json()["version"]
                    if rng.random() < 0.5:
                        time.sleep(rng.random() / 50)  # let others race
                    name = f"c{n}-{rng.randint(0, 10**6)}"
                    r = c.patch(
                        f"/collections/depots/items/{fid}",
                        json={"properties": {"name": name}},
                        headers={"If-Match": f'"{version}"'},
                    )
                    with lock:
                        if r.status_code == 200:
                            accepted.append((fid, r.json()["version"], name))
                        elif r.status_code == 409:
                            stale[0] += 1
                        else:
                            errors.append(f"{r.status_code} {r.text[:200]}")

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert accepted
        assert stale[0] > 0
        store_ = app.state.workspace.store
        for fid in ids:
            mine = sorted((v, name) for f, v, name in accepted if f == fid)
            versions = [v for v, _ in mine]
            assert versions == list(range(2, len(mine) + 2))  # no version accepted twice, none skipped
            current = store_.get_feature("depots", fid)
            assert current.version == len(mine) + 1
            assert current.properties["name"] == (mine[-1][1] if mine else f"站{ids.index(fid)}")  # = replay
            hist = store_.history("depots", fid, limit=100_000)
            assert [c.version for c in reversed(hist)] == list(range(1, len(mine) + 2))
            assert [c.after["properties"]["name"] for c in reversed(hist) if c.op == "update"] == [
                n for _, n in mine
            ]
        print(
            f"\n{store}: {len(accepted)} accepted, {stale[0]} stale (409) in {SOAK_S:.0f} s with 20 clients"
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.postgis
def test_postgis_down_gives_503_then_recovers(tmp_path):
    from geo_service.settings import Settings
    from geo_service.store.pgcluster import temporary_cluster

    with temporary_cluster() as (cluster, db):
        client = _app_client(Settings(workspace=tmp_path / "u.gpkg", database_url=cluster.url(db)))
        try:
            assert client.get("/collections/depots/items").status_code == 200
            cluster.stop("fast")
            started = time.monotonic()
            r = client.get("/collections/depots/items")
            took = time.monotonic() - started
            assert r.status_code == 503
            assert r.headers["content-type"].startswith("application/problem+json")
            assert took < 1.0, took
            assert r.headers["retry-after"]
            cluster.start()
            for _ in range(50):
                if client.get("/collections/depots/items").status_code == 200:
                    break
                time.sleep(0.2)
            assert client.get("/collections/depots/items").status_code == 200
        finally:
            client.__exit__(None, None, None)


@pytest.mark.slow
def test_killed_import_leaves_nothing_and_the_file_intact(tmp_path):
    ws = tmp_path / "w.gpkg"
    rows = ["经度,纬度,population,district"] + [
        f"{113.2 + i * 1e-6},{35.2},{i % 500},山阳区" for i in range(150_000)
    ]
    data = tmp_path / "demand.csv"
    data.write_text("\n".join(rows), encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "geo_service", "layers", "--workspace", str(ws)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "-m", "geo_service", "users", "list", "--workspace", str(ws)],
        check=True,
        capture_output=True,
    )
    counts = []
    for delay in (1.0, 3.0, 6.0, 9.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "geo_service", "import", "demand", str(data), "--workspace", str(ws)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        con = sqlite3.connect(ws)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = con.execute("SELECT COUNT(*) FROM demand").fetchone()[0]
        con.close()
        counts.append((delay, finished, n))
        assert n % 150_000 == 0, counts  # all of an import or none of it
    assert any(not f for _, f, _ in counts), counts  # at least one import really was killed


@pytest.mark.postgis
def test_edits_seen_across_app_instances(pg_schema_url, tmp_path):
    from geo_service.settings import Settings

    a = _app_client(Settings(workspace=tmp_path / "a.gpkg", database_url=pg_schema_url))
    b = _app_client(Settings(workspace=tmp_path / "b.gpkg", database_url=pg_schema_url))
    try:
        fid = a.post(
            "/collections/depots/items",
            json={
                "type": "Feature",
                "properties": {"name": "甲"},
                "geometry": {"type": "Point", "coordinates": [113.2, 35.2]},
            },
        ).json()["id"]
        assert b.get(f"/collections/depots/items/{fid}").json()["properties"]["name"] == "甲"
        frame_before = b.app.state.workspace.frame("depots")
        a.patch(f"/collections/depots/items/{fid}", json={"properties": {"name": "乙"}})
        assert b.get(f"/collections/depots/items/{fid}").json()["properties"]["name"] == "乙"
        assert (
            b.app.state.workspace.frame("depots").loc[fid, "name"] == "乙"
        )  # the cache followed the version
        assert frame_before.loc[fid, "name"] == "甲"
    finally:
        a.__exit__(None, None, None)
        b.__exit__(None, None, None)


def test_backup_round_trip_between_stores(demo_gpkg, tmp_path, pg_schema_url):
    from geo_service.settings import Settings

    src_path = tmp_path / "src.gpkg"
    shutil.copy(demo_gpkg, src_path)
    src = _app_client(Settings(workspace=src_path))
    pg = _app_client(Settings(workspace=tmp_path / "u.gpkg", database_url=pg_schema_url))
    back = _app_client(Settings(workspace=tmp_path / "back.gpkg"))
    try:
        src.patch("/collections/depots/items/1", json={"properties": {"salt_store": False}})
        data = src.get("/backup").content
        files = {"file": ("b.zip", data, "application/zip")}
        r = pg.post("/backup/restore", files=files)
        assert r.status_code == 201, r.text
        again = pg.post("/backup/restore", files=files)
        assert again.status_code == 409  # never over existing data
        data2 = pg.get("/backup").content
        assert (
            back.post("/backup/restore", files={"file": ("b.zip", data2, "application/zip")}).status_code
            == 201
        )
        assert {u["name"] for u in back.get("/users").json()["users"]} >= {"test-admin"}
        s1, s3 = src.app.state.workspace.store, back.app.state.workspace.store
        for layer in ("depots", "stall_sites", "roads", "incidents", "duty_shifts"):
            f1, f3 = s1.read_frame(layer), s3.read_frame(layer)
            assert list(f1.index) == list(f3.index), layer
            assert f1.drop(columns="geometry", errors="ignore").equals(
                f3.drop(columns="geometry", errors="ignore")
            ), layer
            if "geometry" in f1:
                assert f1.geometry.geom_equals_exact(f3.geometry, 1e-9).all(), layer
        h1 = [(c.op, c.version, c.actor) for c in s1.history("depots", 1)]
        assert h1 == [(c.op, c.version, c.actor) for c in s3.history("depots", 1)]
        assert s3.get_document("workspace", "metadata")["illustrative"] is True
    finally:
        for c in (src, pg, back):
            c.__exit__(None, None, None)


def test_a_computation_that_waited_for_a_worker_has_no_more_time_than_its_caller():
    """The budget runs from when the work was asked for: a job that waited in the queue behind two
    others and started after its caller had been told it timed out stops at once, instead of getting a
    fresh budget of its own (and, for a snow plan, storing its answer)."""
    import asyncio
    import time

    from geo_service.api.limits import run_bounded
    from geo_service.budget import check_budget
    from geo_service.errors import ComputationTimeout

    finished: list[int] = []

    def job(k: int) -> None:
        for _ in range(16):  # 0.8 s, checking its budget as the planners do
            check_budget()
            time.sleep(0.05)
        finished.append(k)

    async def main() -> list[object]:
        return await asyncio.gather(
            *(run_bounded(job, k, timeout_s=1.0) for k in range(3)), return_exceptions=True
        )

    results = asyncio.run(main())
    time.sleep(1.2)  # long enough for the third job to have finished, had it been given a fresh second
    assert sorted(finished) == [0, 1]
    assert isinstance(results[2], ComputationTimeout)


def test_a_name_given_and_its_feature_deleted_at_once_never_leave_it_dangling(any_client):
    """helper-23: a crew created naming a depot while another request deleted that depot could both
    succeed (1 in 15 on GeoPackage, 7 in 15 on PostGIS), leaving the crew's depot naming nothing. The
    check and the write now hold the store's lock (PostGIS: an advisory lock, here taken by a second
    workspace on the same database, as a second worker process would)."""
    import contextlib
    from concurrent.futures import ThreadPoolExecutor

    from geo_service import features
    from geo_service.errors import Conflict, InvalidInput
    from geo_service.workspace import open_workspace

    ws = any_client.app.state.workspace
    other = open_workspace(ws.settings) if ws.settings.database_url else ws
    try:
        for k in range(12):
            point = {"type": "Point", "coordinates": [113.25, 35.21 + k * 0.001]}
            made = features.create_features(
                ws,
                "depots",
                [{"type": "Feature", "geometry": point, "properties": {"name": f"RD{k}"}}],
                actor="t",
            )
            crew = {
                "type": "Feature",
                "geometry": None,
                "properties": {"crew": f"C{k}", "depot": f"RD{k}", "vehicles": 1},
            }

            def add(crew=crew) -> None:
                with contextlib.suppress(InvalidInput):  # the depot was gone first
                    features.create_features(other, "crews", [crew], actor="t")

            def drop(fid=made[0].id) -> None:
                with contextlib.suppress(Conflict):  # the crew came first
                    features.delete_feature(ws, "depots", fid, actor="t")

            with ThreadPoolExecutor(2) as pool:
                for f in [pool.submit(add), pool.submit(drop)]:
                    f.result()
        named = set(ws.store.read_frame("crews")["depot"])
        assert named, "no crew was ever made: the test would prove nothing"
        assert named <= set(ws.store.read_frame("depots")["name"])
    finally:
        if other is not ws:
            other.store.close()


def test_many_writes_waiting_for_the_reference_lock_do_not_starve_the_pool(pg_schema_url):
    """helper-24: each waiting writer held a pooled connection while it waited in the database, so 15 at
    once left the holder none (a 30 s stall, then a 500). Threads now queue in the process first."""
    from concurrent.futures import ThreadPoolExecutor

    from geo_service import features
    from geo_service.settings import Settings
    from geo_service.workspace import open_workspace

    ws = open_workspace(Settings(database_url=pg_schema_url))
    try:
        point = {"type": "Point", "coordinates": [113.25, 35.21]}
        features.create_features(
            ws, "depots", [{"type": "Feature", "geometry": point, "properties": {"name": "D"}}], actor="t"
        )

        def add(i: int) -> int:
            crew = {
                "type": "Feature",
                "geometry": None,
                "properties": {"crew": f"C{i}", "depot": "D", "vehicles": 1},
            }
            return features.create_features(ws, "crews", [crew], actor="t")[0].id

        with ThreadPoolExecutor(24) as pool:
            ids = list(pool.map(add, range(24)))
        assert len(set(ids)) == 24
        assert ws.store.count("crews") == 24
    finally:
        ws.store.close()
