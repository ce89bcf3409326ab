"""Write the three walkthrough notebooks (stored without outputs): ``python notebooks/build.py``.

The cells use the package's public API only, as any user would.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

OPEN = """import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd

from geo_service.settings import Settings
from geo_service.workspace import open_workspace

# The Jiaozuo demo workspace (generated, illustrative — not surveyed). Point GEO_WORKSPACE or
# Settings(workspace=…) at the city's own GeoPackage, or database_url at its PostGIS, to use real data.
folder = Path(tempfile.mkdtemp(prefix="geo-notebook-"))
ws = open_workspace(Settings(workspace=folder / "jiaozuo.gpkg"), demo_if_empty=True)
TZ = dt.timezone(dt.timedelta(hours=8))
print({name: ws.store.count(name) for name in ("stall_sites", "festival_sales_points", "roads", "patrol_beats")})"""

PLANNER = [
    new_markdown_cell(
        "# 规划人员：临时摊区与春节销售点\n\n*Planner's walkthrough: the 30 stall sites and 10 "
        "Spring Festival points, their siting check, walking coverage, five more sites, vendors, a map.*"
    ),
    new_code_cell(OPEN),
    new_markdown_cell("## 1. 现有站点 / The sites"),
    new_code_cell(
        'sites = ws.frame("stall_sites")\nfestival = ws.frame("festival_sales_points")\n'
        'print(len(sites), "stall sites,", int(sites["capacity"].sum()), "stalls;", len(festival), "festival points")\n'
        'festival[["name", "hours", "valid_from", "valid_to"]]'
    ),
    new_markdown_cell(
        "## 2. 选址规则检查 / Siting rules\n\n规则在 `layers/rules/siting.yaml`，城市可自行修改。"
    ),
    new_code_cell(
        "from geo_service.siting import check_all, siting_context\n\n"
        'report = check_all(siting_context(ws), {"stall_sites": sites, "festival_sales_points": festival})\n'
        'failing = [r for r in report if not r["ok"]]\nprint(len(report), "checked,", len(failing), "with problems")\n'
        "assert len(report) == 40"
    ),
    new_markdown_cell("## 3. 步行 500 米覆盖 / Walking coverage within 500 m"),
    new_code_cell(
        "from geo_service.contexts import walk_network\nfrom geo_service.coverage import walking_coverage\n\n"
        'walk = walk_network(ws)\ncov = walking_coverage(walk, sites.geometry, ws.frame("demand"), max_walk_m=500)\n'
        'print(f"served {cov.served_population} of {cov.total_population} people ({cov.served_share:.0%})")\n'
        'pd.DataFrame([{k: c[k] for k in ("population", "points", "centre")} for c in cov.clusters[:5]])'
    ),
    new_markdown_cell("## 4. 再选 5 个站点（最大覆盖）/ Five more sites (maximal covering)"),
    new_code_cell(
        "import geopandas as gpd\n\nfrom geo_service.assignment.planning import candidate_points, choose_sites\n\n"
        'cands = candidate_points(ws.frame("roads"), ws.frame("districts"), step=6)\n'
        'existing = gpd.GeoDataFrame({"name": sites["name"].to_numpy()}, geometry=sites.geometry.to_numpy(), crs=4326)\n'
        'allc = gpd.GeoDataFrame(pd.concat([existing, cands], ignore_index=True), geometry="geometry", crs=4326)\n'
        "fixed = list(range(len(existing)))\n"
        'result = choose_sites(walk, ws.frame("demand"), allc, method="mclp", p=len(fixed) + 5, fixed=fixed,\n'
        '                      max_walk_m=500, districts=ws.frame("districts"))\n'
        'new = [i for i in result["chosen"] if i not in fixed]\n'
        'print("new sites:", new, "served share", result["served_share"])\nassert len(new) == 5'
    ),
    new_markdown_cell("## 5. 流动摊贩安置 / Mobile vendors to stall sites"),
    new_code_cell(
        "import numpy as np\nimport shapely\n\nfrom geo_service.assignment.planning import place_vendors\n\n"
        "rng = np.random.default_rng(1)\nanchor = sites.geometry.centroid\n"
        "spots = [shapely.Point(p.x + rng.normal(0, 0.003), p.y + rng.normal(0, 0.002)) for p in anchor for _ in range(8)]\n"
        'vendors = gpd.GeoDataFrame({"name": [f"摊贩{i}" for i in range(len(spots))], "goods": "果蔬"}, geometry=spots, crs=4326)\n'
        "placed = place_vendors(walk, vendors, sites, max_walk_m=1500)\n"
        'print(placed["placed"], "placed,", placed["unplaced"], "not placed; total walk", placed["total_walk_m"], "m")'
    ),
    new_markdown_cell("## 6. 地图 / The planner's map (offline)"),
    new_code_cell(
        "from geo_service.maps.pages import plan_page\n\nhtml = plan_page(ws)\n"
        '(folder / "plan.html").write_text(html, encoding="utf-8")\nprint(folder / "plan.html", len(html) // 1024, "KB")'
    ),
]

DISPATCHER = [
    new_markdown_cell("# 指挥中心：谁在值守、哪里有空白、12345 派单\n\n*Dispatcher's walkthrough.*"),
    new_code_cell(OPEN),
    new_markdown_cell("## 1. 某处此刻由谁负责 / Who covers a place"),
    new_code_cell(
        "from geo_service.contexts import coverage_context\nfrom geo_service.coverage import who_covers\n\n"
        'ctx = coverage_context(ws)\nplace = ws.frame("roads").query("name == \'解放西路\'").geometry.iloc[3].interpolate(0.5, normalized=True)\n'
        "weekday = dt.date(2026, 12, 2)\nnew_year_eve = dt.date(2027, 2, 5)  # 除夕\nrows = []\n"
        "for day in (weekday, new_year_eve):\n    for hour in (7, 12, 21):\n"
        "        at = dt.datetime(day.year, day.month, day.day, hour, tzinfo=TZ)\n"
        '        w = who_covers(place.x, place.y, at, beats=ctx.beats, shifts=ctx.shifts, districts=ws.frame("districts"))\n'
        '        rows.append({"at": at.isoformat(timespec="minutes"), "beats": [b["code"] for b in w.beats],\n'
        '                     "on duty": [s["squad"] for s in w.on_duty], "next": (w.next_shift or {}).get("starts")})\n'
        "pd.DataFrame(rows)"
    ),
    new_markdown_cell("## 2. 空白与重叠 / Gaps and overlaps at 21:00"),
    new_code_cell(
        "from geo_service.coverage import beat_coverage\n\n"
        'cov = beat_coverage(ws.frame("patrol_beats"), ctx.shifts, ws.frame("districts"), at=dt.datetime(2026, 12, 2, 21, tzinfo=TZ))\n'
        "pd.DataFrame(cov.figures)"
    ),
    new_markdown_cell("## 3. 一天的 12345 案件派单 / A day of 12345 cases"),
    new_code_cell(
        "from geo_service.assignment.service import dispatch_cases\n\n"
        'cases = ws.frame("incidents")\nwhen = pd.to_datetime(cases["reported_at"], utc=True)\n'
        'day = cases[(when >= pd.Timestamp("2026-11-30", tz=TZ)) & (when < pd.Timestamp("2026-12-01", tz=TZ))]\n'
        "answers = dispatch_cases(ws, day)\n"
        'table = pd.DataFrame([{"category": a.category, "beat": a.beat, "squad": a.squad, "department": a.department,\n'
        '                       "escalation": a.escalation, "duplicate_of": a.duplicate_of} for a in answers])\n'
        'print(len(table), "cases;", table["escalation"].notna().sum(), "escalated")\ntable.head(10)'
    ),
    new_markdown_cell(
        "## 班组忙碌时 / When the nearest crew is busy\n\n"
        "标记班组忙碌至某时，派单改派下一个最近的可派班组。*Mark a crew busy until noon: the case goes to the next nearest.*"
    ),
    new_code_cell(
        "from geo_service.features import patch_feature\n\n"
        "i = next(i for i, a in enumerate(answers) if a.crew)\ncase, before = day.iloc[[i]], answers[i]\n"
        'crews = ws.frame("crews")\nfid = int(crews.index[crews["crew"] == before.crew["crew"]][0])\n'
        'patch_feature(ws, "crews", fid, {"properties": {"status": "busy", "busy_until": "2026-12-01T12:00:00+08:00"}},\n'
        '              actor="notebook", reason="on a call")\n'
        "after = dispatch_cases(ws, case)[0]\n"
        'print(before.crew, "→", after.crew)\nprint("\\n".join(after.reasons))\n'
        'assert after.crew["crew"] != before.crew["crew"]'
    ),
    new_markdown_cell("## 4. 各中队工作量 / Workload per squad"),
    new_code_cell(
        "from geo_service.assignment.workload import workload\n\n"
        'load = workload(day, beats=ctx.beats, shifts=ctx.shifts)\npd.Series(load["by_squad"]).sort_values(ascending=False).head(10)'
    ),
    new_markdown_cell("## 5. 地图 / The coverage map"),
    new_code_cell(
        "from geo_service.duty import on_duty\nfrom geo_service.maps.pages import coverage_page\n\n"
        "at = dt.datetime(2026, 12, 2, 21, tzinfo=TZ)\n"
        'html = coverage_page(ws, at=at, beats=ws.frame("patrol_beats"), on_duty={s.beat for s in on_duty(ctx.shifts, at)},\n'
        "                     gaps=cov.gaps, overlaps=cov.overlaps, figures=cov.figures, cases=day.iloc[:0], assignments={},\n"
        '                     festival_open=ws.frame("festival_sales_points").iloc[:0])\n'
        '(folder / "coverage.html").write_text(html, encoding="utf-8")\nprint(folder / "coverage.html")'
    ),
]

CREW = [
    new_markdown_cell(
        "# 除雪作业：冻雨应急方案\n\n*Snow crew walkthrough: a freezing-rain plan for the 39 bridges and "
        "culverts and the key roads, per-crew routes, a flooded underpass closed and the plan redone, a map, GPX.*"
    ),
    new_code_cell(OPEN),
    new_code_cell(
        "from geo_service.snow.service import make_plan\n\nstart = dt.datetime(2026, 12, 5, 5, 30, tzinfo=TZ)\n"
        'plan = make_plan(ws, start=start, effort=30, title="冻雨除雪预案")\nprint(plan["clear_times"])\n'
        'pd.DataFrame([{k: v[k] for k in ("vehicle", "crew", "work_m", "empty_m", "salt_t", "reloads")} | {"stops": len(v["stops"])}\n'
        '              for v in plan["vehicles"]])'
    ),
    new_markdown_cell("## 下穿通道积水封闭后重排 / Close a flooded underpass and plan again"),
    new_code_cell(
        'bridges = ws.frame("bridges_culverts")\nunderpass = int(bridges[bridges["kind"] == "underpass"].index[0])\n'
        'print("closing", bridges.loc[underpass, "name"])\n'
        'again = make_plan(ws, start=start, effort=30, closed_bridges=[underpass], title="冻雨除雪预案（下穿封闭）")\n'
        'print(again["clear_times"])\n'
        'served = {s.get("item") for v in again["vehicles"] for s in v["stops"]}\nassert f"bridge:{underpass}" not in served'
    ),
    new_markdown_cell("## 路线图与 GPX / Route map and GPX for each crew"),
    new_code_cell(
        "from geo_service.maps.route_page import route_page\nfrom geo_service.snow.export import crew_vehicles, plan_gpx\n\n"
        'for crew in sorted({v["crew"] for v in again["vehicles"]}):\n'
        '    (folder / f"{crew}.gpx").write_text(plan_gpx(again, crew), encoding="utf-8")\n'
        'crew = again["vehicles"][0]["crew"]\n'
        '(folder / "route.html").write_text(route_page(ws, again, crew_vehicles(again, crew), crew), encoding="utf-8")\n'
        "sorted(p.name for p in folder.iterdir())"
    ),
]


def main() -> None:
    for name, cells in (("01_planner", PLANNER), ("02_dispatcher", DISPATCHER), ("03_snow_crew", CREW)):
        nb = new_notebook(
            cells=cells,
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        )
        nbformat.write(nb, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
