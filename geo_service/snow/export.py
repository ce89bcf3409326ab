"""Plans out: a stored document, GeoJSON, GPX per crew (phones and car navigators), and a printable
route sheet per crew in Chinese."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from geo_service.errors import NotFound
from geo_service.snow.plan import ResponsePlan

__all__ = ["crew_vehicles", "plan_document", "plan_geojson", "plan_gpx", "route_sheet"]

_PRIO = {1: "一级", 2: "二级", 3: "三级"}


def plan_document(
    plan: ResponsePlan, *, plan_id: str, title: str, closures: Mapping[str, Any], locks: Mapping[str, str]
) -> dict[str, Any]:
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


def plan_geojson(doc: Mapping[str, Any], crew: str | None = None) -> dict[str, Any]:
    vehicles = doc["vehicles"] if crew is None else crew_vehicles(doc, crew)
    feats: list[dict[str, Any]] = []
    for v in vehicles:
        if len(v["path"]) >= 2:
            feats.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": v["path"]},
                    "properties": {
                        "kind": "path",
                        "vehicle": v["vehicle"],
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


def plan_gpx(doc: Mapping[str, Any], crew: str) -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gpx version="1.1" creator="geo-service" xmlns="http://www.topografix.com/GPX/1/1">',
        f"<metadata><name>{escape(doc['title'])} · {escape(crew)}</name></metadata>",
    ]
    for v in crew_vehicles(doc, crew):
        for s in v["stops"]:
            lon, lat = s["lonlat"]
            parts.append(
                f'<wpt lat="{lat}" lon="{lon}"><name>{s["seq"]} {escape(str(s.get("name") or ""))}</name>'
                f"<desc>到达 {_clock(doc, s['arrive_s'])}</desc></wpt>"
            )
        parts.append(f"<trk><name>{escape(v['vehicle'])}</name><trkseg>")
        parts.extend(f'<trkpt lat="{lat}" lon="{lon}"/>' for lon, lat in v["path"])
        parts.append("</trkseg></trk>")
    parts.append("</gpx>")
    return "\n".join(parts)


def route_sheet(doc: Mapping[str, Any], crew: str) -> str:
    """A printable A4 route sheet in Chinese."""
    rows = []
    for v in crew_vehicles(doc, crew):
        rows.append(
            f"<h2>车辆 {html.escape(v['vehicle'])}（场站：{html.escape(v['depot'])}）</h2>"
            f"<p>作业 {v['work_m'] / 1000:.1f} 公里 · 空驶 {v['empty_m'] / 1000:.1f} 公里 · 用盐 {v['salt_t']:.1f} 吨 · "
            f"装盐 {v['reloads']} 次 · 收车 {_clock(doc, v['end_s'])}</p>"
        )
        rows.append("<table><tr><th>序号</th><th>到达</th><th>作业对象</th><th>等级</th><th>类型</th></tr>")
        for s in v["stops"]:
            prio = _PRIO.get(s.get("priority"), "") if s.get("priority") else ""
            kind = {"road": "道路", "bridge": "桥涵", "reload": "装盐"}.get(s["kind"], s["kind"])
            rows.append(
                f"<tr><td>{s['seq']}</td><td>{_clock(doc, s['arrive_s'])}</td>"
                f"<td>{html.escape(str(s.get('name') or ''))}</td><td>{prio}</td><td>{kind}</td></tr>"
            )
        rows.append("</table>")
    clear = "；".join(f"{_PRIO.get(int(k), k)}完成 {t[11:16]}" for k, t in doc["clear_times"].items())
    return (
        "<!doctype html><html lang=zh><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'><title>除雪路线单</title><style>"
        "body{font-family:'Noto Sans CJK SC',sans-serif;margin:1.5cm}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #999;padding:2px 6px;font-size:11pt}h1{font-size:18pt}"
        "@page{size:A4;margin:1.5cm}</style></head><body>"
        f"<h1>{html.escape(doc['title'])} · {html.escape(crew)} 路线单</h1>"
        f"<p>方案 {html.escape(doc['id'])} · 开始 {doc['start'][:16].replace('T', ' ')} · {clear}</p>"
        + "".join(rows)
        + f"<p>{html.escape(doc['notice_zh'])}</p></body></html>"
    )
