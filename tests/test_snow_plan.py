"""Snow response plans: brute force on a tiny grid, the independent validator on the demo, locks,
closures, bad input; and the API with GPX and the printable sheet."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_service.crs import from_metric, to_metric
from geo_service.errors import InvalidInput
from geo_service.network import build_network
from geo_service.snow.plan import plan_response
from geo_service.snow.validate import validate_plan
from tests.test_network import OX, OY, grid_roads

TZ = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 12, 5, 6, tzinfo=TZ)


def ll(x, y):
    return from_metric(np.array([shapely.Point(OX + x, OY + y)], dtype=object))[0]


def tiny(bridge_xy, *, n=4):
    roads = grid_roads(n=n, step=200.0)
    roads["snow_priority"] = None
    bridges = gpd.GeoDataFrame(
        {
            "name": [f"桥{i}" for i in range(len(bridge_xy))],
            "snow_priority": 1,
            "service_min": 10.0,
            "salt_t": 0.5,
            "closed": False,
            "owner": "x",
        },
        geometry=[ll(x, y) for x, y in bridge_xy],
        crs=4326,
        index=range(1, len(bridge_xy) + 1),
    )
    depots = gpd.GeoDataFrame(
        {"name": ["场站"], "salt_store": [True]}, geometry=[ll(0, 0)], crs=4326, index=[1]
    )
    crews = pd.DataFrame(
        [
            {
                "crew": "一组",
                "depot": "场站",
                "vehicles": 1,
                "work_speed_kph": 18.0,
                "empty_speed_kph": 36.0,
                "salt_capacity_t": 8.0,
            }
        ]
    )
    return roads, bridges, depots, crews


def test_five_bridges_equal_brute_force():
    pts = [(200, 100), (600, 300), (100, 600), (400, 500), (600, 0)]
    roads, bridges, depots, crews = tiny(pts)
    net = build_network(roads, mode="drive", weight="length")
    plan = plan_response(
        net, roads=roads, bridges=bridges, depots=depots, crews=crews, start=START, iterations=50
    )
    # all 120 orders, timed by hand: grid (Manhattan) distances at 10 m/s plus 600 s per bridge
    best = (
        min(
            sum(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in zip(((0, 0), *order), order, strict=False))
            / 10
            for order in itertools.permutations(pts)
        )
        + 5 * 600
    )
    assert plan.clear_s[1] == pytest.approx(best, abs=1.0)


def test_one_way_streets_are_driven_their_way(catalog):
    roads, bridges, depots, crews = tiny([(200, 100)])
    roads["snow_priority"] = 1
    roads.loc[roads.index[10:16], "oneway"] = True
    net = build_network(roads, mode="drive", weight="length")
    plan = plan_response(
        net, roads=roads, bridges=bridges, depots=depots, crews=crews, start=START, iterations=20
    )
    doc = {"closures": {}, "vehicles": plan.vehicles}
    assert validate_plan(doc, roads=roads, crews=crews) == []
    served = [s["item"] for v in plan.vehicles for s in v["stops"] if s["kind"] != "reload"]
    assert sorted(served) == sorted([f"road:{i}" for i in roads.index] + ["bridge:1"])


def test_salt_reloads_when_needed():
    roads, bridges, depots, crews = tiny([(200, 100), (600, 300), (100, 600)])
    crews["salt_capacity_t"] = 1.0
    net = build_network(roads, mode="drive", weight="length")
    plan = plan_response(
        net, roads=roads, bridges=bridges, depots=depots, crews=crews, start=START, iterations=10
    )
    assert plan.vehicles[0]["reloads"] >= 1
    assert validate_plan({"closures": {}, "vehicles": plan.vehicles}, roads=roads, crews=crews) == []


def test_unreachable_and_bad_input():
    roads, bridges, depots, crews = tiny([(200, 100), (5000, 5000)])
    net = build_network(roads, mode="drive", weight="length")
    plan = plan_response(
        net, roads=roads, bridges=bridges, depots=depots, crews=crews, start=START, iterations=5
    )
    assert [u["item"] for u in plan.unserved] == ["bridge:2"]
    with pytest.raises(InvalidInput):
        plan_response(
            net, roads=roads, bridges=bridges, depots=depots, crews=crews, start=START, iterations=0
        )
    with pytest.raises(InvalidInput, match="Locked item"):
        plan_response(
            net,
            roads=roads,
            bridges=bridges,
            depots=depots,
            crews=crews,
            start=START,
            iterations=5,
            locks={"bridge:99": "一组"},
        )


def test_out_of_service_crews_are_left_out():
    roads, bridges, depots, crews = tiny([(200, 100), (600, 300)])
    spare = crews.iloc[0].to_dict() | {"crew": "二组", "vehicles": 2}
    crews = pd.DataFrame([crews.iloc[0].to_dict() | {"status": "out_of_service"}, spare | {"status": "busy"}])
    net = build_network(roads, mode="drive", weight="length")
    plan = plan_response(
        net, roads=roads, bridges=bridges, depots=depots, crews=crews, start=START, iterations=5
    )
    assert {v["crew"] for v in plan.vehicles} == {"二组"}  # a busy crew is still called out for snow
    assert any("一组" in n and "out of service" in n for n in plan.notices)
    with pytest.raises(InvalidInput, match="out of service"):
        plan_response(
            net,
            roads=roads,
            bridges=bridges,
            depots=depots,
            crews=crews.assign(status="out_of_service"),
            start=START,
            iterations=5,
        )


@pytest.fixture(scope="module")
def demo_plan(demo_gpkg, tmp_path_factory):
    import shutil

    from geo_service.catalog import load_catalog
    from geo_service.settings import Settings, default_layers_dir
    from geo_service.snow.service import make_plan
    from geo_service.store.gpkg import GeoPackageStore
    from geo_service.workspace import Workspace

    path = tmp_path_factory.mktemp("snow") / "w.gpkg"
    shutil.copy(demo_gpkg, path)
    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    ws = Workspace(store, Settings(workspace=path))
    yield ws, make_plan(ws, start=START, effort=30, save=False)
    store.close()


def test_demo_plan_is_valid_and_beats_greedy(demo_plan):
    ws, doc = demo_plan
    assert validate_plan(doc, roads=ws.frame("roads"), crews=ws.frame("crews")) == []
    served = {s["item"] for v in doc["vehicles"] for s in v["stops"] if s["kind"] != "reload"}
    key = ws.frame("roads")["snow_priority"].notna().sum()
    assert len(served) == key + 39
    assert doc["clear_s"]["1"] < doc["baseline_clear_s"]["1"]
    assert doc["clear_s"]["1"] <= doc["clear_s"]["2"] <= doc["clear_s"]["3"]


def test_demo_plan_with_closures_and_locks(demo_plan):
    from geo_service.snow.service import make_plan

    ws, _ = demo_plan
    bridges = ws.frame("bridges_culverts")
    underpass = int(bridges[bridges["kind"] == "underpass"].index[0])
    bridge = int(bridges[bridges["kind"] == "bridge"].index[0])
    doc = make_plan(
        ws,
        start=START,
        effort=5,
        closed_bridges=[underpass],
        locks={f"bridge:{bridge}": "马村一组"},
        save=False,
    )
    items = {s["item"]: v["crew"] for v in doc["vehicles"] for s in v["stops"] if s["kind"] != "reload"}
    assert f"bridge:{underpass}" not in items
    [why] = [u for u in doc["unserved"] if u["item"] == f"bridge:{underpass}"]  # helper-33: it was not listed
    assert why["reason_en"] == "closed"
    with pytest.raises(InvalidInput, match="cannot be served: closed"):
        make_plan(
            ws, start=START, effort=1, closed_bridges=[underpass], locks={f"bridge:{underpass}": "马村一组"}
        )
    assert items[f"bridge:{bridge}"] == "马村一组"
    assert (
        validate_plan(
            doc, roads=ws.frame("roads"), crews=ws.frame("crews"), bridges=ws.frame("bridges_culverts")
        )
        == []
    )
    again = make_plan(
        ws,
        start=START,
        effort=5,
        closed_bridges=[underpass],
        locks={f"bridge:{bridge}": "马村一组"},
        save=False,
    )
    assert again["clear_s"] == doc["clear_s"]  # deterministic for a seed and effort


def test_order_lock_puts_an_item_first():
    pts = [(200, 100), (600, 300), (100, 600), (400, 500), (600, 0)]
    roads, bridges, depots, crews = tiny(pts)
    net = build_network(roads, mode="drive", weight="length")
    plan = plan_response(
        net,
        roads=roads,
        bridges=bridges,
        depots=depots,
        crews=crews,
        start=START,
        iterations=20,
        locks={"bridge:3": "一组-1@1"},
    )
    assert plan.vehicles[0]["stops"][0]["item"] == "bridge:3"
    with pytest.raises(InvalidInput, match="vehicle@position"):
        plan_response(
            net,
            roads=roads,
            bridges=bridges,
            depots=depots,
            crews=crews,
            start=START,
            iterations=5,
            locks={"bridge:3": "一组@x"},
        )


def _island():
    """The tiny grid with the street (400, 600)–(600, 600) cut off by three closed roads, a second depot
    on it, and its only work of priority 2 (so its crew has nothing it can reach in priority 1)."""
    roads, bridges, depots, crews = tiny([(200, 100)])
    metric = to_metric(roads.geometry.to_numpy())
    a, b = shapely.Point(OX + 400, OY + 600), shapely.Point(OX + 600, OY + 600)
    island = int(roads.index[shapely.equals_exact(metric, shapely.LineString([a, b]), tolerance=0.01)][0])
    touching = roads.index[shapely.dwithin(metric, a, 0.01) | shapely.dwithin(metric, b, 0.01)]
    closed = [int(r) for r in touching if r != island]
    assert len(closed) == 3
    roads["snow_priority"] = 1
    roads.loc[island, "snow_priority"] = 2
    depots = pd.concat(
        [
            depots,
            gpd.GeoDataFrame(
                {"name": ["二站"], "salt_store": [True]}, geometry=[ll(500, 610)], crs=4326, index=[2]
            ),
        ]
    )
    crews = pd.concat([crews, crews.assign(crew="二组", depot="二站")], ignore_index=True)
    net = build_network(roads, mode="drive", weight="length", closed_road_ids=closed)
    return net, roads, bridges, depots, crews, island, closed


def _plan_in_time(seconds: float = 60.0, **kw):
    """plan_response in a thread, failing (not hanging the suite) if it does not finish."""
    import threading

    out: dict = {}
    worker = threading.Thread(target=lambda: out.update(plan=plan_response(**kw)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the plan never finished"
    return out["plan"]


def test_a_depot_cut_off_by_closures_still_gives_a_plan():
    """helper-29: closures around a depot made planning loop for ever (the API gave up after 60 s with a
    503, the CLI ran on). The cut-off crew had nothing it could reach in priority 1, took an item it could
    not reach, and from then on the others kept 'serving' an item already done."""
    net, roads, bridges, depots, crews, island, closed = _island()
    kw = {
        "net": net,
        "roads": roads,
        "bridges": bridges,
        "depots": depots,
        "crews": crews,
        "start": START,
        "iterations": 20,
    }
    plan = _plan_in_time(**kw)
    items = {s["item"]: v["crew"] for v in plan.vehicles for s in v["stops"] if s["kind"] != "reload"}
    assert items[f"road:{island}"] == "二组"  # the crew on the island clears it
    assert set(items) | {f"road:{r}" for r in closed} == {f"road:{r}" for r in roads.index} | {"bridge:1"}
    assert sorted(u["item"] for u in plan.unserved) == sorted(f"road:{r}" for r in closed)
    assert validate_plan({"closures": {}, "vehicles": plan.vehicles}, roads=roads, crews=crews) == []
    # locked to the crew that cannot get there: the plan still comes, and says why the street is left
    locked = _plan_in_time(**kw | {"locks": {f"road:{island}": "一组"}})
    [why] = [u for u in locked.unserved if u["item"] == f"road:{island}"]
    assert "cannot reach" in why["reason_en"]
    assert all(s.get("item") != f"road:{island}" for v in locked.vehicles for s in v["stops"])
    # locking a closed road says it is closed
    with pytest.raises(InvalidInput, match="cannot be served: road closed"):
        plan_response(**kw | {"locks": {f"road:{closed[0]}": "一组"}})


def test_a_priority_footway_is_not_called_closed():
    """helper-61: every priority road missing from the driving network was 'road closed', so a footway
    (drivable false, from an OSM import) with a snow priority was listed, and drawn, as a closure."""
    _, roads, bridges, depots, crews, _, closed = _island()
    walk = int(roads.index[~roads.index.isin(closed)][0])
    roads["drivable"] = True
    roads.loc[walk, "drivable"] = False
    net = build_network(roads, mode="drive", weight="length", closed_road_ids=closed)
    plan = _plan_in_time(
        net=net, roads=roads, bridges=bridges, depots=depots, crews=crews, start=START, iterations=10
    )
    reasons = {u["item"]: u["reason_en"] for u in plan.unserved}
    assert reasons[f"road:{walk}"] == "not a road vehicles drive (a footway or steps)"
    assert {reasons[f"road:{r}"] for r in closed} == {"road closed"}


def test_a_road_dropped_for_a_closed_bridge_says_so(demo_plan):
    """helper-29: closing bridge 12 left 东环路 unserved as 'road closed' though no road was closed."""
    from geo_service.snow.service import make_plan

    ws, _ = demo_plan
    bridges, roads = ws.frame("bridges_culverts"), ws.frame("roads")
    key = roads[roads["snow_priority"].notna()]
    tree = shapely.STRtree(to_metric(key.geometry.to_numpy()))
    near = tree.query(to_metric(bridges.geometry.to_numpy()), predicate="dwithin", distance=15.0)
    shut = int(bridges.index[near[0][0]])  # a bridge on a road with a snow priority
    doc = make_plan(ws, start=START, effort=2, closed_bridges=[shut], save=False)
    on_it = [u for u in doc["unserved"] if u["item"].startswith("road:")]
    assert on_it, "closing a bridge drops the road over it"
    assert {u["reason_en"] for u in on_it} == {"a closed bridge or culvert is on it"}
    road = int(on_it[0]["item"].removeprefix("road:"))
    again = make_plan(ws, start=START, effort=2, closed_roads=[road], closed_bridges=[shut], save=False)
    assert {u["reason_en"] for u in again["unserved"] if u["item"] == f"road:{road}"} == {"road closed"}


def test_the_cli_takes_a_start_locks_and_a_title_and_prints_notices(demo_gpkg, tmp_path, capsys):
    """helper-29: `snow-plan` had no --start or --lock, and did not print the plan's notices."""
    import shutil

    from geo_service.cli import main

    path = tmp_path / "w.gpkg"
    shutil.copy(demo_gpkg, path)
    ws = ["--workspace", str(path)]
    args = ["snow-plan", *ws, "--effort", "1", "--start", "2026-12-05T06:00", "--lock", "bridge:1=马村一组"]
    assert main([*args, "--title", "东区冻雨", "--save", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "2026-12-05T06:00:00+08:00" in out
    from geo_service.catalog import load_catalog
    from geo_service.settings import default_layers_dir
    from geo_service.store.gpkg import GeoPackageStore

    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    try:
        [(key, _, _)] = store.list_documents("snow_plan")
        doc = store.get_document("snow_plan", key)
    finally:
        store.close()
    assert doc["title"] == "东区冻雨"
    assert doc["locks"] == {"bridge:1": "马村一组"}
    assert {v["crew"] for v in doc["vehicles"] for s in v["stops"] if s.get("item") == "bridge:1"} == {
        "马村一组"
    }
    assert main(["snow-plan", *ws, "--lock", "bridge:1"]) == 2
    assert "item=crew" in capsys.readouterr().err
    # helper-33: the API's title rules hold here too, a refused lock names --lock, and a saved plan
    # is in the audit log
    for title in ("", "   ", "长" * 101):
        assert main(["snow-plan", *ws, "--effort", "1", "--title", title]) == 2
        assert "[--title]" in capsys.readouterr().err
    assert main(["snow-plan", *ws, "--effort", "1", "--lock", "bridge:99999=马村一组"]) == 2
    assert "[--lock]" in capsys.readouterr().err
    from geo_service.auth.accounts import AccountStore, account_url

    accounts = AccountStore(account_url(str(path), None))
    try:
        rows = [e for e in accounts.audit_log() if e.path == "geo-service snow-plan --save"]
    finally:
        accounts.close()
    assert len(rows) == 1
    assert rows[0].method == "CLI"
    assert main(["snow-plan", *ws, "--start", "tomorrow"]) == 2
    assert "--start" in capsys.readouterr().err


def test_the_cli_and_the_api_give_the_same_plan_for_the_same_effort(demo_gpkg, tmp_path):
    """helper-39: `snow-plan --effort 3` and the API's time_limit_s 3 planned differently (the API's
    counts six iterations a second); --time-limit-s is the API's measure, and both give one plan."""
    import shutil

    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.catalog import load_catalog
    from geo_service.cli import main
    from geo_service.settings import Settings, default_layers_dir
    from geo_service.store.gpkg import GeoPackageStore
    from tests.conftest import sign_in

    cli_ws, api_ws = tmp_path / "cli.gpkg", tmp_path / "api.gpkg"
    shutil.copy(demo_gpkg, cli_ws)
    shutil.copy(demo_gpkg, api_ws)
    start = "2026-12-06T05:00"
    args = ["snow-plan", "--workspace", str(cli_ws), "--time-limit-s", "1", "--seed", "1", "--start", start]
    assert main([*args, "--close-bridge", "12", "--save"]) == 0
    with TestClient(create_app(Settings(workspace=api_ws))) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        r = c.post("/plans/snow", json={"closed_bridges": [12], "seed": 1, "time_limit_s": 1, "start": start})
        assert r.status_code == 201, r.text[:300]

    def stored(path):
        store = GeoPackageStore(path, load_catalog(default_layers_dir()))
        try:
            [(key, _, _)] = store.list_documents("snow_plan")
            return store.get_document("snow_plan", key)
        finally:
            store.close()

    by_cli, by_api = stored(cli_ws), stored(api_ws)

    def routes(doc):
        return [[s.get("item") for s in v["stops"]] for v in doc["vehicles"]]

    assert routes(by_cli) == routes(by_api)


def test_the_route_sheet_marks_times_after_midnight():
    """helper-39/40: a plan starting 22:30 listed 00:00…05:16 with no sign they are the next day."""
    from geo_service.snow.export import _clock

    doc = {"start": "2026-12-05T22:30:00+08:00"}
    assert _clock(doc, 3600) == "23:30"
    assert _clock(doc, 7 * 3600) == "次日 05:30"
    assert _clock(doc, 7 * 3600, day_marked=False) == "05:30"
    assert _clock(doc, 31 * 3600) == "2026-12-07 05:30"


def test_order_locks_that_cannot_be_met_are_refused_or_said():
    """User-tester: a lock @999 put the bridge last with no word, and two locks at @1 of one vehicle
    came out 1st and 2nd with no word. Two items at one stop are refused naming both; a stop beyond the
    vehicle's stops of that priority puts the item last and says where (zh and en)."""
    pts = [(200, 100), (600, 300), (100, 600), (400, 500), (600, 0)]
    roads, bridges, depots, crews = tiny(pts)
    bridges.loc[2, "snow_priority"] = 2
    net = build_network(roads, mode="drive", weight="length")
    kw = {"net": net, "roads": roads, "bridges": bridges, "depots": depots, "crews": crews, "start": START}
    with pytest.raises(InvalidInput) as refused:
        plan_response(**kw, iterations=5, locks={"bridge:3": "一组-1@1", "bridge:1": "一组-1@1"})
    assert "bridge:1" in refused.value.zh
    assert "bridge:3" in refused.value.zh
    assert "bridge:1 and bridge:3 are both locked to stop 1" in refused.value.en
    assert refused.value.field == "locks"
    # positions count within a priority: stop 1 of priority 1 and stop 1 of priority 2 are two stops
    both = plan_response(**kw, iterations=5, locks={"bridge:3": "一组-1@1", "bridge:2": "一组-1@1"})
    items = [s.get("item") for s in both.vehicles[0]["stops"]]
    assert items[0] == "bridge:3"
    assert items[4] == "bridge:2"  # the first (and only) stop of priority 2
    assert both.notices == ()
    far = plan_response(**kw, iterations=20, locks={"bridge:3": "一组-1@999"})
    items = [s.get("item") for s in far.vehicles[0]["stops"]]
    assert items[3] == "bridge:3"  # the last of the four of priority 1
    [note] = far.notices
    assert "bridge:3 锁定在车辆 一组-1 的 1 级第 999 站" in note
    assert "已排在第 4 站，即最后一站" in note
    assert "it is placed at stop 4 of 4, the last (stop 4 of the route)" in note
    # helper-47: a lock within the stops is kept when another asks for a stop beyond them; the one beyond
    # goes as late as the route allows, and only it is in the notice
    locks = {"bridge:1": "一组-1@9", "bridge:3": "一组-1@4", "bridge:4": "一组-1@1"}  # of 1, 3, 4, 5
    mixed = plan_response(**kw, iterations=20, locks=locks)
    items = [s.get("item") for s in mixed.vehicles[0]["stops"]]
    assert (items[0], items[3]) == ("bridge:4", "bridge:3")
    assert items[2] == "bridge:1"
    [note] = mixed.notices
    assert note.startswith("bridge:1 ")
    assert "it is placed at stop 3 of 4 (stop 3 of the route)" in note


def test_a_bridge_closed_twice_is_one_closure(demo_plan):
    """User-tester: closing bridge 12 twice listed it twice in ``closures``."""
    from geo_service.snow.service import make_plan

    ws, _ = demo_plan
    doc = make_plan(ws, start=START, effort=1, closed_bridges=[12, 12], closed_roads=[3, 3], save=False)
    assert doc["closures"] == {"roads": ["road:3"], "bridges": ["bridge:12"]}
    assert all(n.count("bridge:12") <= 1 for n in doc["notices"])


def _cli_workspace(demo_gpkg, tmp_path):
    import shutil

    path = tmp_path / "w.gpkg"
    shutil.copy(demo_gpkg, path)
    return path, ["snow-plan", "--workspace", str(path), "--start", "2026-12-05T06:00"]


def _stored_plans(path):
    from geo_service.catalog import load_catalog
    from geo_service.settings import default_layers_dir
    from geo_service.store.gpkg import GeoPackageStore

    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    try:
        return store.list_documents("snow_plan")
    finally:
        store.close()


def test_the_cli_refuses_the_time_limits_the_api_refuses(demo_gpkg, demo_client, tmp_path, capsys):
    """User-tester: `--time-limit-s 0` and `-1` ran (effort 1) while the API answered 0 with a 422."""
    from geo_service.cli import main

    path, args = _cli_workspace(demo_gpkg, tmp_path)
    for value in ("0", "-1", "nan", "inf", "3601"):
        api = demo_client.post(
            "/plans/snow", json={"time_limit_s": float(value)} if value[-1].isdigit() else {}
        )
        assert main([*args, "--time-limit-s", value, "--save"]) == 2, value
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err  # one line, no traceback
        assert "[--time-limit-s]" in err
        if value[-1].isdigit():  # the API's words (JSON has no NaN or infinity to send)
            assert api.status_code == 422
            assert api.json()["detail"].replace("time_limit_s", "--time-limit-s") in err, (value, err)
    assert "应大于 0 / Parameter '--time-limit-s' is invalid: Input should be greater than 0" in (
        main([*args, "--time-limit-s", "0"]) and capsys.readouterr().err
    )
    assert main([*args, "--effort", "0"]) == 2
    assert "[--effort]" in capsys.readouterr().err
    assert _stored_plans(path) == []


def test_the_cli_never_overwrites_an_earlier_plans_files(demo_gpkg, tmp_path, capsys):
    """User-tester: `--out FILE` printed a FileExistsError traceback, and `--out` to the folder of an
    earlier plan overwrote its files without a word. Both are refused (exit 2) before planning, so a
    refused `--save` stores nothing; a new or empty folder is written."""
    from geo_service.cli import main

    path, args = _cli_workspace(demo_gpkg, tmp_path)
    args = [*args, "--effort", "1"]
    a_file = tmp_path / "plan.txt"
    a_file.write_text("notes", encoding="utf-8")
    for target in (a_file, a_file / "sub"):
        assert main([*args, "--save", "--out", str(target)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err  # one line: no traceback
        assert "[--out]" in err
        assert "is a file" in err
        assert "文件" in err
    assert a_file.read_text(encoding="utf-8") == "notes"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*args, "--out", str(empty)]) == 0
    first = {p.name: p.read_bytes() for p in empty.iterdir()}
    assert "plan.geojson" in first
    assert any(n.endswith(".gpx") for n in first)
    capsys.readouterr()
    assert main([*args, "--seed", "3", "--save", "--out", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "plan.geojson" in err
    assert f"{empty}-2" in err
    assert "not overwritten" in err
    assert "不予覆盖" in err
    assert {p.name: p.read_bytes() for p in empty.iterdir()} == first
    assert _stored_plans(path) == []
    # helper-50: a folder that cannot be made was found only after planning (and storing, with --save)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        # root may write anyway: then under /proc, where nobody may make a folder
        writable = os.access(locked, os.W_OK)
        target = Path("/proc/geo-service-no-such-folder") if writable else locked / "plans"
        assert main([*args, "--save", "--out", str(target)]) == 2
        err = capsys.readouterr().err
        assert "Cannot write to the folder" in err
        assert err.count("\n") == 1, err
        assert _stored_plans(path) == []
    finally:
        locked.chmod(0o700)
    assert main([*args, "--out", f"{empty}-2"]) == 0


def test_the_cli_says_the_same_as_the_api_about_locks(demo_gpkg, tmp_path, capsys):
    """Two items at one stop: refused naming both; a stop beyond the vehicle's: printed as a notice; one
    item locked twice (the API's locks hold one per item): refused rather than the last one winning."""
    from geo_service.cli import main

    _, args = _cli_workspace(demo_gpkg, tmp_path)
    args = [*args, "--effort", "1"]
    assert main([*args, "--lock", "bridge:3=山阳一组-1@1", "--lock", "bridge:1=山阳一组-1@1"]) == 2
    err = capsys.readouterr().err
    assert "[--lock]" in err
    assert "bridge:1 and bridge:3 are both locked to stop 1" in err
    assert main([*args, "--lock", "bridge:3=山阳一组-1@999"]) == 0
    out = capsys.readouterr().out
    assert "注意 / notice: bridge:3 锁定在车辆 山阳一组-1 的 2 级第 999 站" in out
    assert main([*args, "--lock", "bridge:3=山阳一组", "--lock", "bridge:3=马村一组"]) == 2
    assert "locked twice" in capsys.readouterr().err


def test_a_lock_to_a_crew_out_of_service_says_so():
    """helper-50: a lock to a crew marked out of service was refused as 'not a crew or vehicle'."""
    pts = [(200, 100), (600, 300), (100, 600)]
    roads, bridges, depots, crews = tiny(pts)
    crews = pd.concat([crews.assign(status="available"), crews.assign(crew="二组", status="out_of_service")])
    net = build_network(roads, mode="drive", weight="length")
    kw = {"net": net, "roads": roads, "bridges": bridges, "depots": depots, "crews": crews, "start": START}
    for target in ("二组", "二组-1@1"):
        with pytest.raises(InvalidInput) as refused:
            plan_response(**kw, iterations=5, locks={"bridge:1": target})
        assert "crew 二组 is out of service" in refused.value.en
        assert "班组 二组 已停用" in refused.value.zh
    with pytest.raises(InvalidInput) as unknown:
        plan_response(**kw, iterations=5, locks={"bridge:1": "三组"})
    assert unknown.value.en == "Lock target 三组 is no crew or vehicle of the plan"


def test_the_cli_says_in_both_languages_what_a_number_option_takes(demo_gpkg, tmp_path, capsys):
    """helper-50: `--time-limit-s abc` and `--close-bridge abc` gave argparse's English-only words."""
    from geo_service.cli import main

    _, args = _cli_workspace(demo_gpkg, tmp_path)
    for option, value, said in (
        ("--time-limit-s", "abc", "应为数字"),
        ("--close-bridge", "abc", "应为不小于 0 的整数"),
        ("--seed", "-1", "应为不小于 0 的整数"),
    ):
        with pytest.raises(SystemExit) as ended:
            main([*args, option, value])
        assert ended.value.code == 2
        err = capsys.readouterr().err
        assert said in err
        assert option in err
