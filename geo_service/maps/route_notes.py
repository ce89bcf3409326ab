"""What a crew's route page says besides its stops: the closures the plan was made under (listed as
「封闭：…」 and drawn: a closed road dashed black, a closed bridge a black ×), the items the plan could not
serve with why (listed, and drawn hollow grey), and the plan's notices about the crew. The shapes are
the layers' (roads, bridges_culverts) found by the plan's ids; one deleted since is listed, not drawn."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd

from geo_service.maps.base import feature_collection
from geo_service.snow.notes import crew_notices, plan_closures, unserved_items

__all__ = ["CLOSED_COLOUR", "UNSERVED_COLOUR", "RouteNotes", "route_notes"]

CLOSED_COLOUR = "#212121"  # black: no priority's red, orange or yellow, no vehicle's colour
UNSERVED_COLOUR = "#757575"

_WORDS = {
    "zh": {
        "closed": "封闭",
        "unserved": "未作业",
        "none_serves": "本方案各班组均未安排",
        "road": "道路",
        "bridge": "桥涵",
        "sep": "、",
        "colon": "：",
    },
    "en": {
        "closed": "Closed",
        "unserved": "Not served",
        "none_serves": "by no crew of this plan",
        "road": "road",
        "bridge": "bridge/culvert",
        "sep": ", ",
        "colon": ": ",
    },
}


@dataclass(frozen=True)
class RouteNotes:
    """The notes' HTML (for the head of the stop list, empty when there are none), their shapes for
    the map (``closed``, ``unserved``: GeoJSON), and the legend's entries for what is drawn."""

    text: str
    closed: dict[str, Any]
    unserved: dict[str, Any]
    legend: tuple[tuple[str, str, str], ...]


def _shapes(ws: Any, entries: Sequence[Mapping[str, Any]], *, shift: bool) -> dict[str, Any]:
    """The entries' shapes (``road:3`` in roads, ``bridge:12`` in bridges_culverts) as GeoJSON, each
    with the entry's ``item``, ``name`` and ``why``; those no layer has any more are left out."""
    feats: list[dict[str, Any]] = []
    for kind, layer in (("road", "roads"), ("bridge", "bridges_culverts")):
        mine = {int(e["item"].partition(":")[2]): e for e in entries if e["item"].startswith(f"{kind}:")}
        frame = ws.frame(layer) if mine else None
        if frame is None or not isinstance(frame, gpd.GeoDataFrame):
            continue
        found = frame.loc[frame.index.isin(list(mine))]
        extra = {
            fid: {"item": mine[fid]["item"], "name": mine[fid]["name"], "why": mine[fid].get("why")}
            for fid in found.index
        }
        feats += feature_collection(found, tolerance=0.00002, shift_gcj02=shift, extra=extra)["features"]
    return {"type": "FeatureCollection", "features": feats}


def route_notes(ws: Any, doc: Mapping[str, Any], crew: str, *, lang: str, shift: bool) -> RouteNotes:
    """The closures, unserved items and notices of plan ``doc`` for ``crew``'s page in ``lang``."""
    en = lang == "en"
    w = _WORDS["en" if en else "zh"]
    closures = [{**c, "name": c["name"] or c["item"], "why": w["closed"]} for c in plan_closures(doc)]
    unserved = [
        {
            "item": u["item"],
            "name": u.get("name") or u["item"],
            "why": u.get("reason_en" if en else "reason_zh") or "",
        }
        for u in unserved_items(doc)
    ]
    parts = []
    if closures:
        listed = w["sep"].join(
            f"<span class='closure' data-item='{html.escape(c['item'], quote=True)}'>"
            f"{html.escape(str(c['name']))}{' (' if en else '（'}{w.get(c['kind'], c['kind'])}{')' if en else '）'}</span>"
            for c in closures
        )
        parts.append(f"<p id='closures'><b>{w['closed']}{w['colon']}</b>{listed}</p>")
    parts += [f"<p class='plan-notice'>{html.escape(n)}</p>" for n in crew_notices(doc, crew)]
    if unserved:
        rows = "".join(
            f"<li data-item='{html.escape(u['item'], quote=True)}'>{html.escape(str(u['name']))}"
            f"{w['colon']}<span class='why'>{html.escape(str(u['why']))}</span></li>"
            for u in unserved
        )
        count = (
            f" ({len(unserved)}, {w['none_serves']})" if en else f"（{len(unserved)} 处，{w['none_serves']}）"
        )
        parts.append(f"<div id='unserved'><b>{w['unserved']}{count}{w['colon']}</b><ul>{rows}</ul></div>")
    closed = _shapes(ws, closures, shift=shift)
    left = _shapes(ws, unserved, shift=shift)
    legend = []
    if closed["features"]:
        legend.append((CLOSED_COLOUR, "height:4px;border:none", w["closed"]))
    if left["features"]:
        legend.append(
            ("transparent", f"border:2px dashed {UNSERVED_COLOUR};box-sizing:border-box", w["unserved"])
        )
    text = f"<div id='route-notes'>{''.join(parts)}</div>" if parts else ""
    return RouteNotes(text, closed, left, tuple(legend))
