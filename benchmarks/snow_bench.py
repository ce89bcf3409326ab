"""Snow plan on the Jiaozuo demo: time to clear priority 1 against the greedy nearest-first baseline
run side by side in the same process, and the planning time."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from geo_service.catalog import load_catalog
from geo_service.seeding import load_demo
from geo_service.settings import Settings, default_layers_dir
from geo_service.snow.service import make_plan
from geo_service.store.gpkg import GeoPackageStore
from geo_service.workspace import Workspace


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.gpkg"
        store = GeoPackageStore(path, load_catalog(default_layers_dir()))
        load_demo(store)
        ws = Workspace(store, Settings(workspace=path))
        start = dt.datetime(2026, 12, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        for effort in (10, 60, 180):
            t0 = time.perf_counter()
            doc = make_plan(ws, start=start, effort=effort, save=False)
            took = time.perf_counter() - t0
            ours, base = doc["clear_s"]["1"], doc["baseline_clear_s"]["1"]
            items = sum(1 for v in doc["vehicles"] for s in v["stops"] if s["kind"] != "reload")
            print(
                f"   effort {effort:4}: {items} items, {len(doc['vehicles'])} vehicles; priority-1 clear {ours:7.0f} s"
                f" vs greedy nearest-first {base:7.0f} s = {base / ours:.2f}x (goal >= 1.25)  planned in {took:.1f} s"
                f" (goal <= 30 s)"
            )
        store.close()


ENTRIES = {"snow-plan": run}
