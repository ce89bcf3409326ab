"""Snow response plans: brute force on a tiny grid, the independent validator on the demo, locks,
closures, bad input; and the API with GPX and the printable sheet."""

from __future__ import annotations

import datetime as dt
import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_service.crs import from_metric
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
