"""Plans out: a stored document, GeoJSON, GPX per crew (phones and car navigators), and a printable
route sheet per crew in Chinese."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from geo_service.errors import NotFound
from geo_service.snow.notes import crew_notices, plan_closures, unserved_items
from geo_service.snow.plan import ResponsePlan
from geo_service.snow.tags import only_vehicle, stop_label, tag_vehicles

__all__ = ["crew_route", "crew_vehicles", "plan_document", "plan_geojson", "plan_gpx", "route_sheet"]

_PRIO = {1: "一级", 2: "二级", 3: "三级"}


def plan_document(
    plan: ResponsePlan,
    *,
    plan_id: str,
    title: str,
    closures: Mapping[str, Any],
    locks: Mapping[str, str],
    closure_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The plan as stored: ``closures`` the items closed for it (``{"roads": ["road:3"], "bridges":
    […]}``), ``closure_names`` their names when it was made (a crew reads 东环路大沙河桥, not bridge:12)."""
    vehicles = [{k: v for k, v in veh.items() if k != "path_nodes"} for veh in plan.vehicles]
    return {
        "id": plan_id,
        "title": title,
        "start": plan.start.isoformat(),
        "seed": plan.seed,
        "iterations": plan.iterations,
        "clear_times": plan.clear_times(),
        "clear_s": {str(k): round(v, 1) for k, v in plan.clear_s.items()},
        "baseline_clear_s": {str(k): round(v, 1) for k, v in plan.baseline_clear_s.items()},
        "vehicles": vehicles,
        "unserved": list(plan.unserved),
        "notices": list(plan.notices),
        "closures": dict(closures),
        "closure_names": dict(closure_names or {}),
        "locks": dict(locks),
        "notice_zh": "路线为规划建议，实际作业以现场指挥为准。",
    }


def crew_vehicles(doc: Mapping[str, Any], crew: str) -> list[Mapping[str, Any]]:
    found = [v for v in doc["vehicles"] if v["crew"] == crew]
    if not found:
        crews = sorted({v["crew"] for v in doc["vehicles"]})
        raise NotFound(
            f"方案 {doc['id']} 中没有班组「{crew}」（有：{'、'.join(crews)}）",
            f"Plan {doc['id']} has no crew '{crew}' (crews: {', '.join(crews)})",
            field="crew",
        )
    return found


def _clock(doc: Mapping[str, Any], seconds: float, *, day_marked: bool = True) -> str:
    """The time ``seconds`` into the plan: ``05:16`` on the day it starts, ``次日 05:16`` on the next
    (a night plan runs past midnight), the date after that; ``day_marked`` False gives ``05:16`` alone."""
    start = dt.datetime.fromisoformat(doc["start"])
    moment = start + dt.timedelta(seconds=seconds)
    days = (moment.date() - start.date()).days
    if not day_marked or days == 0:
        return moment.strftime("%H:%M")
    return moment.strftime("次日 %H:%M" if days == 1 else "%Y-%m-%d %H:%M")


def _tags(doc: Mapping[str, Any]) -> dict[str, str]:
    """Each vehicle's letter within its crew (A, B, … in the plan's order)."""
    crews: dict[str, list[Mapping[str, Any]]] = {}
    for v in doc["vehicles"]:
        crews.setdefault(v["crew"], []).append(v)
    return {v["vehicle"]: v["tag"] for vs in crews.values() for v in tag_vehicles(vs)}


def crew_route(doc: Mapping[str, Any], crew: str, vehicle: str | None = None) -> list[Mapping[str, Any]]:
    """The crew's vehicles with their letters (``tag``), or the one named ``vehicle`` with its letter; a
    404 naming the crew's (or the plan's crews) when there is no such crew or vehicle."""
    return only_vehicle(tag_vehicles(crew_vehicles(doc, crew)), crew, vehicle)


def plan_geojson(doc: Mapping[str, Any], crew: str | None = None) -> dict[str, Any]:
    """The plan (or one crew's part) as GeoJSON: each vehicle's driven path and its stops, the stops
    labelled as the route page and the sheet label them (``vehicle_tag`` A, ``label`` A1)."""
    vehicles = doc["vehicles"] if crew is None else crew_vehicles(doc, crew)
    tags = _tags(doc)
    feats: list[dict[str, Any]] = []
    for v in vehicles:
        tag = tags[v["vehicle"]]
        if len(v["path"]) >= 2:
            feats.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": v["path"]},
                    "properties": {
                        "kind": "path",
                        "vehicle": v["vehicle"],
                        "vehicle_tag": tag,
                        "crew": v["crew"],
                        "work_m": v["work_m"],
                        "empty_m": v["empty_m"],
                    },
                }
            )
        for s in v["stops"]:
            feats.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": s["lonlat"]},
                    "properties": {
                        "kind": "stop",
                        "vehicle": v["vehicle"],
                        "vehicle_tag": tag,
                        "label": stop_label(tag, s["seq"]),
                        "crew": v["crew"],
                        "seq": s["seq"],
                        "name": s.get("name"),
                        "item": s.get("item"),
                        "priority": s.get("priority"),
                        "arrive": _clock(doc, s["arrive_s"], day_marked=False),
                        "arrive_at": (
                            dt.datetime.fromisoformat(doc["start"]) + dt.timedelta(seconds=s["arrive_s"])
                        ).isoformat(timespec="minutes"),
                        "stop_kind": s["kind"],
                    },
                }
            )
    return {
        "type": "FeatureCollection",
        "features": feats,
        "plan": doc["id"],
        "clear_times": doc["clear_times"],
    }


_KIND = {"road": "道路", "bridge": "桥涵", "reload": "装盐"}


def _stop_text(doc: Mapping[str, Any], s: Mapping[str, Any]) -> str:
    """A stop in a navigator: its arrival, priority and kind (到达 06:12 · 一级 · 桥涵)."""
    prio = _PRIO.get(s.get("priority") or 0)
    return " · ".join(
        t for t in (f"到达 {_clock(doc, s['arrive_s'])}", prio, _KIND.get(s["kind"], s["kind"])) if t
    )


def plan_gpx(doc: Mapping[str, Any], crew: str, *, vehicle: str | None = None) -> str:
    """The crew's route (or one vehicle's, ``vehicle``) as GPX 1.1, labelled as on the route page: the
    stops as waypoints named by their labels (A1 …), then for each vehicle a route through its stops
    and a track of the roads it drives, both named with its letter (``A 山阳一组-1``); in the order the
    GPX 1.1 schema wants (metadata, wpt, rte, trk)."""
    vehicles = crew_route(doc, crew, vehicle)
    head = f"{doc['title']} · {crew}" + (f" · {vehicles[0]['tag']} {vehicle}" if vehicle else "")
    wpts, rtes, trks = [], [], []
    for number, v in enumerate(vehicles, start=1):
        name = escape(f"{v['tag']} {v['vehicle']}")
        points = []
        for s in v["stops"]:
            lon, lat = s["lonlat"]
            text = escape(f"{stop_label(v['tag'], s['seq'])} {s.get('name') or ''}".strip())
            wpts.append(
                f'<wpt lat="{lat}" lon="{lon}"><name>{text}</name><desc>{escape(_stop_text(doc, s))}</desc>'
                f"<type>{name}</type></wpt>"
            )
            points.append(f'<rtept lat="{lat}" lon="{lon}"><name>{text}</name></rtept>')
        desc = escape(f"{len(v['stops'])} 个作业点 · 收车 {_clock(doc, v['end_s'])}")
        rtes.append(
            f"<rte><name>{name}</name><desc>{desc}</desc><number>{number}</number>{''.join(points)}</rte>"
        )
        track = "".join(f'<trkpt lat="{lat}" lon="{lon}"/>' for lon, lat in v["path"])
        trks.append(f"<trk><name>{name}</name><number>{number}</number><trkseg>{track}</trkseg></trk>")
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<gpx version="1.1" creator="geo-service" xmlns="http://www.topografix.com/GPX/1/1">',
            f"<metadata><name>{escape(head)}</name></metadata>",
            *wpts,
            *rtes,
            *trks,
            "</gpx>",
        ]
    )


def _notes_html(doc: Mapping[str, Any], crew: str) -> str:
    """The sheet's closures, items nobody serves and notices about the crew (nothing when none)."""
    parts = []
    closures = plan_closures(doc)
    if closures:
        names = "、".join(
            html.escape(f"{c['name'] or c['item']}（{_KIND.get(c['kind'], c['kind'])}）") for c in closures
        )
        parts.append(f"<p id='closures'><b>封闭：</b>{names}</p>")
    parts.extend(f"<p class='notice'>{html.escape(n)}</p>" for n in crew_notices(doc, crew))
    unserved = unserved_items(doc)
    if unserved:
        rows = "".join(
            f"<li>{html.escape(str(u.get('name') or u['item']))}：{html.escape(str(u.get('reason_zh') or ''))}</li>"
            for u in unserved
        )
        parts.append(
            f"<div id='unserved'><b>本方案未作业（{len(unserved)} 处，各班组均未安排）：</b><ul>{rows}</ul></div>"
        )
    return "".join(parts)


def route_sheet(doc: Mapping[str, Any], crew: str, *, vehicle: str | None = None) -> str:
    """A printable A4 route sheet in Chinese: the crew's vehicles (or the one named ``vehicle``), each
    under its letter, its stops labelled A1, A2 … as on the route page; the closures and the items the
    plan could not serve."""
    vehicles = crew_route(doc, crew, vehicle)
    rows = []
    for v in vehicles:
        tag = v["tag"]
        rows.append(
            f"<section class='vehicle' data-vehicle='{html.escape(v['vehicle'], quote=True)}' data-tag='{tag}'>"
            f"<h2><span class='tag'>{tag}</span> 车辆 {html.escape(v['vehicle'])}（场站：{html.escape(v['depot'])}）</h2>"
            f"<p>作业 {v['work_m'] / 1000:.1f} 公里 · 空驶 {v['empty_m'] / 1000:.1f} 公里 · 用盐 {v['salt_t']:.1f} 吨 · "
            f"装盐 {v['reloads']} 次 · 收车 {_clock(doc, v['end_s'])}</p>"
        )
        rows.append("<table><tr><th>站</th><th>到达</th><th>作业对象</th><th>等级</th><th>类型</th></tr>")
        for s in v["stops"]:
            prio = _PRIO.get(s.get("priority") or 0, "")
            rows.append(
                f"<tr><td class='stop-label'>{stop_label(tag, s['seq'])}</td><td>{_clock(doc, s['arrive_s'])}</td>"
                f"<td>{html.escape(str(s.get('name') or ''))}</td><td>{prio}</td>"
                f"<td>{_KIND.get(s['kind'], s['kind'])}</td></tr>"
            )
        rows.append("</table></section>")
    clear = "；".join(f"{_PRIO.get(int(k), k)}完成 {t[11:16]}" for k, t in doc["clear_times"].items())
    who = f"{crew} · {vehicles[0]['tag']} {vehicle}" if vehicle else crew
    return (
        "<!doctype html><html lang=zh><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'><title>除雪路线单</title><style>"
        "body{font-family:'Noto Sans CJK SC',sans-serif;margin:1.5cm}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #999;padding:2px 6px;font-size:11pt}h1{font-size:18pt}"
        ".tag{display:inline-block;border:2px solid #000;border-radius:3px;padding:0 6px}"
        ".stop-label{font-weight:bold;white-space:nowrap}#unserved ul{margin:2px 0;columns:2}"
        "@page{size:A4;margin:1.5cm}</style></head><body>"
        f"<h1>{html.escape(doc['title'])} · {html.escape(who)} 路线单</h1>"
        f"<p>方案 {html.escape(doc['id'])} · 开始 {doc['start'][:16].replace('T', ' ')} · {clear}</p>"
        + _notes_html(doc, crew)
        + "".join(rows)
        + f"<p>{html.escape(doc['notice_zh'])}</p></body></html>"
    )
