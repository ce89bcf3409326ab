"""The dispatcher's coverage page: its size and the time Chromium takes to draw every feature, against
a baseline page with the same layers inlined unsimplified as plain folium GeoJson, same run."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

import folium

from geo_service.api.paths import STATIC_DIR
from geo_service.catalog import load_catalog
from geo_service.contexts import coverage_context
from geo_service.coverage import beat_coverage
from geo_service.duty import on_duty
from geo_service.maps.pages import coverage_page
from geo_service.seeding import load_demo
from geo_service.settings import Settings, default_layers_dir
from geo_service.store.gpkg import GeoPackageStore
from geo_service.workspace import Workspace


def _draw_time(path: Path) -> tuple[float, int]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        start = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(50)
        drawn = page.locator("path.leaflet-interactive").count()
        took = time.perf_counter() - start
        browser.close()
    return took, drawn


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.gpkg"
        if os.environ.get("GEO_BENCH_WORKSPACE"):  # an existing demo workspace, to skip building one
            shutil.copy(os.environ["GEO_BENCH_WORKSPACE"], path)
        store = GeoPackageStore(path, load_catalog(default_layers_dir()))
        if store.count("roads") == 0:
            load_demo(store)
        ws = Workspace(store, Settings(workspace=path))
        at = dt.datetime(2026, 12, 1, 21, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        ctx = coverage_context(ws)
        cov = beat_coverage(ws.frame("patrol_beats"), ctx.shifts, ws.frame("districts"), at=at)
        incidents = ws.frame("incidents")
        cases = incidents[incidents["status"].isin(["open", "assigned"])].iloc[:500]
        html = coverage_page(
            ws,
            at=at,
            beats=ws.frame("patrol_beats"),
            on_duty={s.beat for s in on_duty(ctx.shifts, at)},
            gaps=cov.gaps,
            overlaps=cov.overlaps,
            figures=cov.figures,
            cases=cases,
            assignments={},
            festival_open=ws.frame("festival_sales_points"),
            static=STATIC_DIR.as_uri(),
        )
        ours = Path(tmp) / "ours.html"
        ours.write_text(html, encoding="utf-8")
        m = folium.Map(location=[35.22, 113.24], zoom_start=12, tiles=None)
        m.default_js = [("leaflet", f"{STATIC_DIR.as_uri()}/vendor/leaflet/leaflet.js")]
        m.default_css = [("leaflet_css", f"{STATIC_DIR.as_uri()}/vendor/leaflet/leaflet.css")]
        for layer in ("districts", "roads", "patrol_beats", "festival_sales_points"):
            folium.GeoJson(
                ws.frame(layer).reset_index().drop(columns=["_version"]).to_json(default=str), name=layer
            ).add_to(m)
        folium.GeoJson(
            cases.reset_index().drop(columns=["_version"]).to_json(default=str), name="cases"
        ).add_to(m)
        base = Path(tmp) / "baseline.html"
        base.write_text(m.get_root().render(), encoding="utf-8")
        t_ours, n_ours = _draw_time(ours)
        t_base, n_base = _draw_time(base)
        print(
            f"   coverage page {ours.stat().st_size / 1e6:.2f} MB vs baseline {base.stat().st_size / 1e6:.2f} MB"
            f" (goal <= 3 MB); drawn in Chromium {t_ours:.2f} s ({n_ours} shapes) vs {t_base:.2f} s ({n_base} shapes)"
            f" (goal <= 2 s)",
            flush=True,
        )
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)


ENTRIES = {"maps": run}
