"""The snow- and flood-response crew's route page: on a phone, the route over the districts and roads
with its stops in priority colours and the stop list; on A4 portrait paper (the PDF and PNG prints, or
the page printed from a browser), the whole map on the first page, the list from the second on.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from geo_service.crs import wgs84_to_gcj02
from geo_service.maps.base import (
    add_after_map,
    add_legend,
    base_map,
    data_json,
    label,
    page_html,
    root,
    script,
)
from geo_service.maps.furniture import (
    PAPER,
    TZ,
    add_north_arrow,
    add_title_block,
    beijing,
    beijing_label,
    clock,
    language_href,
    page_mm,
    print_links,
    printed_line,
    workspace_notice,
)
from geo_service.maps.markup import Raw
from geo_service.maps.page_script import PAGE_JS, gcj02_overlays, page_data

__all__ = ["PRIORITY_COLOURS", "RELOAD_COLOUR", "ROUTE_COLOUR", "route_page"]

PRIORITY_COLOURS = {1: "#c62828", 2: "#ef6c00", 3: "#f9a825"}
RELOAD_COLOUR = "#37474f"  # a stop without a priority: loading salt at a depot
ROUTE_COLOUR = "#1565c0"
#: the height of a crew's route map on paper: the whole A4 portrait page inside its margins (277 mm),
#: the height of the window a PDF is laid out in (furniture.page_px), so that the map Leaflet draws
#: is the map on the sheet
_MAP_MM = page_mm(PAPER["route"])[1]


def _lonlats(points: Sequence[Sequence[float]], *, shift: bool) -> list[list[float]]:
    """Points as [lon, lat] lists, shifted to GCJ-02 when the basemap is AMap's (as the layers are)."""
    if not shift or not len(points):
        return [[float(x), float(y)] for x, y in points]
    lon, lat = wgs84_to_gcj02([p[0] for p in points], [p[1] for p in points])
    return [[round(float(x), 6), round(float(y), 6)] for x, y in zip(lon, lat, strict=True)]


def _legend_items(lang: str) -> list[tuple[str, str, str]]:
    """What the crew's map draws: stops by priority (red, orange, yellow), salt reloads, the route."""
    en = lang == "en"
    names = {1: "Priority 1", 2: "Priority 2", 3: "Priority 3"} if en else {1: "一级", 2: "二级", 3: "三级"}
    return [
        *((PRIORITY_COLOURS[p], "border-radius:50%", names[p]) for p in (1, 2, 3)),
        (RELOAD_COLOUR, "border-radius:50%", "Salt reload" if en else "装盐"),
        (ROUTE_COLOUR, "height:3px;border:none", label("route", lang)),
    ]


def _layout_css(printing: bool) -> str:
    """The crew page's layout. On a phone: head, stop list, then the map filling the rest of the screen.
    On paper (a print, or the page printed from a browser): the map alone on the first A4 page, whole,
    with its furniture; head and stop list from the second page on (the body holds the map first)."""
    shared = (
        ".folium-map{height:58vh !important;width:100% !important}#stops{height:38vh;overflow:auto;margin:0;"
        "padding:4px 10px 4px 28px;font-size:14px;box-sizing:border-box;width:100%}#route-head{font-size:14px;padding:4px 8px}"
        ".stop-no{background:#fff;border:2px solid;border-radius:10px;font-size:11px;text-align:center;line-height:16px;"
        "width:18px;height:16px}.next-day{font-weight:bold}"
        ".geo-legend{font-size:12px;line-height:15px;padding:4px 8px}"
        ".folium-map.leaflet-container{background:#f5f5f2}"  # paper-white under the vector basemap
        # on a phone the legend's entries run on in two short lines, leaving the map its height
        "@media screen and (max-width:600px){.geo-legend div{display:inline-block;margin-right:6px}"
        ".geo-legend b{display:block}}"
    )
    # a print is laid out in a window the size of the page (PDF) or of the picture (PNG): the map fills it
    variant = (
        ".folium-map{height:100vh !important}#stops{height:auto;overflow:visible}"
        if printing
        # on a phone head, list and map share the screen: the map's foot (scale bar and attribution)
        # was below the fold, 58vh + 38vh and the head being more than the screen
        else "@media screen{body{display:flex;flex-direction:column;height:100vh;height:100dvh}"
        "#route-head{flex:none;order:0}#stops{order:1;flex:0 1 auto;height:auto;max-height:38vh}"
        ".folium-map{order:2;flex:1 1 0;min-height:0;height:auto !important}}"
    )
    # the map's height on paper: the page inside its margins, never split by a page break; the list
    # starts on the next page and runs on
    paper = (
        f"@media print{{.folium-map{{height:{_MAP_MM}mm !important;break-inside:avoid;page-break-inside:avoid}}"
        "#route-head{break-before:page;page-break-before:always}#stops{height:auto;overflow:visible}}"
    )
    return f"<style>{shared}{variant}{paper}</style>"


def route_page(
    ws: Any,
    doc: Mapping[str, Any],
    vehicles: Sequence[Mapping[str, Any]],
    crew: str,
    *,
    lang: str = "zh",
    static: str = "/static",
    query: Mapping[str, str] | None = None,
    printing: bool = False,
) -> str:
    """The crew's phone page: the route over the districts and roads, stops in priority colours with a
    legend, the stop list with arrival times (past midnight marked as the next day).

    ``printing``: for A4 portrait paper, the map page first (title, start in Beijing time, legend,
    scale, north arrow, data notice), then the whole stop list; no links or controls."""
    notice = workspace_notice(ws, lang)
    m = base_map(
        ws.settings,
        static=static,
        zoom=13,
        printing=printing,
        orientation=PAPER["route"],
        attribution=notice,
    )
    en = lang == "en"
    shift = gcj02_overlays(ws.settings)
    start = dt.datetime.fromisoformat(doc["start"]).astimezone(TZ)
    stops = []
    for v in vehicles:
        for s, lonlat in zip(
            v["stops"], _lonlats([s["lonlat"] for s in v["stops"]], shift=shift), strict=True
        ):
            stops.append(
                {
                    "vehicle": v["vehicle"],
                    "seq": s["seq"],
                    "lonlat": lonlat,
                    "name": s.get("name"),
                    "priority": s.get("priority"),
                    "kind": s["kind"],
                    "arrive": clock(start + dt.timedelta(seconds=s["arrive_s"]), start, lang),
                }
            )
    paths = [{"vehicle": v["vehicle"], "path": _lonlats(v["path"], shift=shift)} for v in vehicles]
    items = "".join(
        f"<li style='color:{PRIORITY_COLOURS.get(s['priority'], RELOAD_COLOUR)}'>{_arrival(s['arrive'])} · "
        f"{html.escape(str(s['vehicle']))} #{s['seq']} {html.escape(str(s['name'] or ''))}</li>"
        for s in stops  # every stop: a crew must not lose the end of its list
    )
    base = html.escape(f"/plans/snow/{quote(str(doc['id']))}/crews/{quote(crew)}", quote=True)
    page_path = f"/maps/route/{quote(str(doc['id']))}/{quote(crew)}"
    switch = language_href(page_path, query or {}, lang)
    title = f"{doc['title']} · {crew}"
    root(m).header.add_child(
        Raw("<meta name='viewport' content='width=device-width, initial-scale=1'>" + _layout_css(printing))
    )
    add_after_map(
        m,
        f"<div id='route-head'><b>{html.escape(title)}</b> "
        f"<span id='route-start'>{'from' if en else '出发'} {beijing(start)}</span> "
        f"<span class='geo-screen-only'><a id='gpx' href='{base}.gpx'>GPX</a> · "
        f"<a id='sheet' href='{base}/sheet'>{'Printable sheet' if en else '路线单'}</a>"
        f" · <a href='{switch}'>{label('switch', lang)}</a> · "
        f"{print_links(page_path, query or {}, lang)}</span></div>"
        f"<ol id='stops'>{items}</ol>",
    )
    add_title_block(
        m,
        title,
        [f"{'Starts' if en else '出发'} {beijing_label(start, lang)}", printed_line(lang), notice],
    )
    add_north_arrow(m, lang)
    add_legend(m, _legend_items(lang), lang)  # the page's head has the language switch
    data = page_data(ws, lang, with_minor=True)
    data.update(
        {
            "stops": stops,
            "paths": paths,
            "colours": {str(k): v for k, v in PRIORITY_COLOURS.items()},
            "reload": RELOAD_COLOUR,
            "route_colour": ROUTE_COLOUR,
            "muted_roads": True,
            "print": printing,
        }
    )
    script(
        m,
        PAGE_JS
        + f"var D = {data_json(data)};\n"
        + """
basemap(D);
var lines = L.layerGroup(); D.paths.forEach(function(p){ if (p.path.length>1) { L.polyline(p.path.map(function(c){return [c[1],c[0]];}),
  {color:D.route_colour, weight:3, opacity:.8}).bindTooltip(esc(p.vehicle)).addTo(lines); } });
addLayer(D.L.route, lines);
// numbered stops when zoomed in; over the whole route (hundreds of stops) dots in the priority colours
var numbered = L.layerGroup(), dots = L.layerGroup();
D.stops.forEach(function(s){ var c = D.colours[s.priority] || D.reload, ll = [s.lonlat[1], s.lonlat[0]];
  var tip = esc(s.arrive+' '+(s.name||''));
  var icon = L.divIcon({className:'', html:'<div class="stop-no" style="border-color:'+c+';color:'+c+'">'+s.seq+'</div>', iconSize:[18,16]});
  L.marker(ll, {icon: icon}).bindTooltip(tip).addTo(numbered);
  L.circleMarker(ll, {radius:4, weight:1.5, color:'#fff', fillColor:c, fillOpacity:1}).bindTooltip('#'+s.seq+' '+tip).addTo(dots); });
var stops = addLayer(D.L.stops, L.layerGroup());
function showStops(){ var near = MAP.getZoom() >= 15; stops.clearLayers(); stops.addLayer(near ? numbered : dots); }
MAP.on('zoomend', showStops);
finishLayers();
// open on the whole route (its stops and the roads driven), as large as the map allows
var bounds = L.latLngBounds([]);
D.stops.forEach(function(s){ bounds.extend([s.lonlat[1], s.lonlat[0]]); });
D.paths.forEach(function(p){ p.path.forEach(function(c){ bounds.extend([c[1], c[0]]); }); });
MAP.options.zoomSnap = 0.25;
MAP.invalidateSize(false);
if (bounds.isValid()) { MAP.fitBounds(bounds, {padding: [12, 12], maxZoom: 17}); }
showStops();
// on paper the map is the page's size in millimetres, not the window's: redraw at that size and fit the
// whole route again (kept where it was, a route fitted to the window ran off the printed page)
function fitRoute(){ MAP.invalidateSize(false); if (bounds.isValid()) { MAP.fitBounds(bounds, {padding: [12, 12], maxZoom: 17, animate: false}); } }
if (window.matchMedia) { window.matchMedia('print').addEventListener('change', fitRoute); }
window.addEventListener('beforeprint', fitRoute);
""",
    )
    return page_html(m, title, lang)


def _arrival(text: str) -> str:
    """An arrival time in the stop list; one on a later day than the start stands out."""
    if text[:1].isdigit() and len(text) == 5:  # HH:MM on the starting day
        return text
    return f"<span class='next-day'>{html.escape(text)}</span>"
