"""The snow- and flood-response crew's route page: on a phone, the route over the districts and roads
with its stops in priority colours and the stop list; on A4 portrait paper (the PDF and PNG prints, or
the page printed from a browser), the whole map on the first page, the list from the second on.

A crew with several vehicles: each vehicle has a letter (A, B, C, … in the plan's order) and a colour,
for its path, the ring of its stops and its part of the list; a stop is labelled with its vehicle's
letter and its number on that vehicle (B12), so the three first stops of three vehicles are A1, B1 and
C1. The page can show one vehicle alone (``vehicle``), keeping its letter and colour. The letters and
labels are those of :mod:`geo_service.snow.tags`, which the printable sheet and the GPX use too.

Above the stops, what the plan says besides them (:mod:`geo_service.maps.route_notes`): the closures it
was made under and the items it could not serve, with why. Tapping a stop in the list brings the map to
it, zoomed in, with its popup open.
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
from geo_service.maps.route_notes import CLOSED_COLOUR, UNSERVED_COLOUR, route_notes
from geo_service.snow.tags import only_vehicle, stop_label, tag_vehicles

__all__ = [
    "PRIORITY_COLOURS",
    "RELOAD_COLOUR",
    "ROUTE_COLOUR",
    "VEHICLE_COLOURS",
    "route_page",
]

PRIORITY_COLOURS = {1: "#c62828", 2: "#ef6c00", 3: "#f9a825"}
RELOAD_COLOUR = "#37474f"  # a stop without a priority: loading salt at a depot
ROUTE_COLOUR = "#1565c0"
#: a colour for each vehicle of a crew, in the plan's order (the first is the route's blue): none of them
#: the priorities' red, orange and yellow or the roads' greys
VEHICLE_COLOURS = (ROUTE_COLOUR, "#7b1fa2", "#00897b", "#5d4037", "#283593", "#558b2f", "#ad1457", "#0097a7")
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


def _priority_names(lang: str) -> dict[int, str]:
    return (
        {1: "Priority 1", 2: "Priority 2", 3: "Priority 3"}
        if lang == "en"
        else {1: "一级", 2: "二级", 3: "三级"}
    )


def _legend_items(
    vehicles: Sequence[Mapping[str, Any]], lang: str, *, named: bool
) -> list[tuple[str, str, str]]:
    """What the crew's map draws: each vehicle's route in its colour (``named``: with its letter and
    name, for a crew of several), stops by priority (red, orange, yellow), salt reloads."""
    names = _priority_names(lang)
    return [
        *(
            (
                v["colour"],
                "height:4px;border:none",
                f"{v['tag']} {v['vehicle']}" if named else label("route", lang),
            )
            for v in vehicles
        ),
        *((PRIORITY_COLOURS[p], "border-radius:50%", names[p]) for p in (1, 2, 3)),
        (RELOAD_COLOUR, "border-radius:50%", "Salt reload" if lang == "en" else "装盐"),
    ]


def _layout_css(printing: bool) -> str:
    """The crew page's layout. On a phone: head, stop list, then the map filling the rest of the screen.
    On paper (a print, or the page printed from a browser): the map alone on the first A4 page, whole,
    with its furniture; head and stop list from the second page on (the body holds the map first)."""
    shared = (
        ".folium-map{height:58vh !important;width:100% !important}#stops{height:38vh;overflow:auto;margin:0;"
        "padding:4px 10px;font-size:14px;box-sizing:border-box;width:100%}#route-head{font-size:14px;padding:4px 8px}"
        "#stops h3{font-size:14px;margin:6px 0 2px}#stops ol{list-style:none;margin:0;padding:0}"
        ".tag{display:inline-block;color:#fff;border-radius:3px;padding:0 4px;font-weight:bold}"
        ".stop-label{display:inline-block;min-width:3.2em;font-weight:bold}"
        ".stop-no{background:#fff;border:2px solid;border-radius:9px;font-size:11px;font-weight:bold;text-align:center;"
        "line-height:15px;height:15px;padding:0 3px;white-space:nowrap;box-sizing:content-box}"
        ".stop-no i{display:inline-block;width:7px;height:7px;border-radius:50%;margin-right:2px;vertical-align:0}"
        ".next-day{font-weight:bold}#vehicle-form{display:inline}"
        # a stop in the list is tapped to see it on the map: the one shown is marked
        "#stops li[data-stop]{cursor:pointer;padding:2px 0}#stops li.current{background:#e3f2fd;outline:1px solid #90caf9}"
        "#route-notes{font-size:13px;color:#212121;border-bottom:1px solid #ddd;padding-bottom:4px}"
        "#route-notes p{margin:2px 0}#route-notes ul{margin:0;padding-left:1.2em}#unserved .why{color:#555}"
        ".closed-mark{width:14px;height:14px;line-height:14px;background:#212121;color:#fff;border:2px solid #fff;"
        "border-radius:3px;text-align:center;font-weight:bold;font-size:13px}"
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


def _shown(vehicles: Sequence[Mapping[str, Any]], crew: str, only: str | None) -> list[Mapping[str, Any]]:
    """The crew's vehicles with their letters and colours (by their place in the crew, so that one shown
    alone keeps them), all or only the vehicle named ``only`` (a 404 naming the crew's vehicles if it
    has none of that name)."""
    tagged = [
        {**v, "colour": VEHICLE_COLOURS[i % len(VEHICLE_COLOURS)]}
        for i, v in enumerate(tag_vehicles(vehicles))
    ]
    return only_vehicle(tagged, crew, only)


def _vehicle_choice(tagged: Sequence[Mapping[str, Any]], only: str | None, page_path: str, lang: str) -> str:
    """The control that shows one vehicle or all (for a crew of several): a form the page's script sends
    as soon as a vehicle is picked (its button for a browser without scripts)."""
    en = lang == "en"
    options = [f"<option value=''>{'All vehicles' if en else '全部车辆'}</option>"] + [
        f"<option value='{html.escape(str(v['vehicle']), quote=True)}'{' selected' if v['vehicle'] == only else ''}>"
        f"{v['tag']} · {html.escape(str(v['vehicle']))}</option>"
        for v in tagged
    ]
    return (
        f"<form id='vehicle-form' method='get' action='{html.escape(page_path, quote=True)}'>"
        f"<label for='vehicle-select'>{'Vehicle' if en else '车辆'}</label> "
        f"<select id='vehicle-select' name='vehicle'>{''.join(options)}</select>"
        f"<input type='hidden' name='lang' value='{lang}'> <button>{'Show' if en else '查看'}</button></form>"
    )


def route_page(
    ws: Any,
    doc: Mapping[str, Any],
    vehicles: Sequence[Mapping[str, Any]],
    crew: str,
    *,
    vehicle: str | None = None,
    lang: str = "zh",
    static: str = "/static",
    query: Mapping[str, str] | None = None,
    printing: bool = False,
) -> str:
    """The crew's phone page: the route over the districts and roads, each vehicle in its colour, stops
    in priority colours labelled with their vehicle's letter and number (A12), a legend, the stop list
    by vehicle with arrival times (past midnight marked as the next day).

    ``vehicle``: that vehicle of the crew alone (its letter and colour kept); a crew of several vehicles
    has a control to choose. ``printing``: for A4 portrait paper, the map page first (title, start in
    Beijing time, legend, scale, north arrow, data notice), then the whole stop list; no links or
    controls."""
    tagged = _shown(vehicles, crew, None)
    shown = _shown(vehicles, crew, vehicle)
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
    stops: list[dict[str, Any]] = []
    sections = []
    for v in shown:
        rows = []
        for s, lonlat in zip(
            v["stops"], _lonlats([s["lonlat"] for s in v["stops"]], shift=shift), strict=True
        ):
            stop = {
                "vehicle": v["vehicle"],
                "label": stop_label(v["tag"], s["seq"]),
                "colour": v["colour"],
                "lonlat": lonlat,
                "name": s.get("name"),
                "priority": s.get("priority"),
                "kind": s["kind"],
                "arrive": clock(start + dt.timedelta(seconds=s["arrive_s"]), start, lang),
            }
            rows.append(  # every stop: a crew must not lose the end of its list; tapped, the map shows it
                f"<li data-stop='{len(stops)}' tabindex='0' role='button' "
                f"style='color:{PRIORITY_COLOURS.get(s.get('priority'), RELOAD_COLOUR)}'>"
                f"<span class='stop-label' style='color:{v['colour']}'>{stop['label']}</span> "
                f"{_arrival(stop['arrive'])} · {html.escape(str(stop['name'] or ''))}</li>"
            )
            stops.append(stop)
        count = f"{len(v['stops'])} stops" if en else f"{len(v['stops'])} 个作业点"
        sections.append(
            f"<section class='vehicle-stops' data-vehicle='{html.escape(str(v['vehicle']), quote=True)}'>"
            f"<h3 style='color:{v['colour']}'><span class='tag' style='background:{v['colour']}'>{v['tag']}</span> "
            f"{html.escape(str(v['vehicle']))} · {count}</h3><ol>{''.join(rows)}</ol></section>"
        )
    paths = [
        {
            "vehicle": v["vehicle"],
            "tag": v["tag"],
            "colour": v["colour"],
            "path": _lonlats(v["path"], shift=shift),
        }
        for v in shown
    ]
    plans_base = f"/plans/snow/{quote(str(doc['id']))}/crews/{quote(crew)}"
    one = f"?vehicle={quote(vehicle)}" if vehicle else ""  # the sheet and GPX of the vehicle shown
    notes = route_notes(ws, doc, crew, lang=lang, shift=shift)
    page_path = f"/maps/route/{quote(str(doc['id']))}/{quote(crew)}"
    switch = language_href(page_path, query or {}, lang)
    title = f"{doc['title']} · {crew}" + (f" · {shown[0]['tag']} {vehicle}" if vehicle else "")
    choice = _vehicle_choice(tagged, vehicle, page_path, lang) + " · " if len(tagged) > 1 else ""
    root(m).header.add_child(
        Raw("<meta name='viewport' content='width=device-width, initial-scale=1'>" + _layout_css(printing))
    )
    add_after_map(
        m,
        f"<div id='route-head'><b>{html.escape(title)}</b> "
        f"<span id='route-start'>{'from' if en else '出发'} {beijing(start)}</span> "
        f"<span class='geo-screen-only'>{choice}<a id='gpx' href='{html.escape(plans_base + '.gpx' + one, quote=True)}'>GPX</a> · "
        f"<a id='sheet' href='{html.escape(plans_base + '/sheet' + one, quote=True)}'>{'Printable sheet' if en else '路线单'}</a>"
        f" · <a id='crew-routes' href='/maps/crews/{html.escape(quote(crew), quote=True)}'>"
        f"{'All routes of the crew' if en else '本班组全部路线'}</a>"
        f" · <a href='{switch}'>{label('switch', lang)}</a> · "
        f"{print_links(page_path, query or {}, lang)}</span></div>"
        f"<div id='stops'>{notes.text}{''.join(sections)}</div>",
    )
    add_title_block(
        m,
        title,
        [f"{'Starts' if en else '出发'} {beijing_label(start, lang)}", printed_line(lang), notice],
    )
    add_north_arrow(m, lang)
    add_legend(
        m, [*_legend_items(shown, lang, named=len(tagged) > 1), *notes.legend], lang
    )  # the page's head has the language switch
    data = page_data(ws, lang, with_minor=True)
    data.update(
        {
            "stops": stops,
            "paths": paths,
            "colours": {str(k): v for k, v in PRIORITY_COLOURS.items()},
            "reload": RELOAD_COLOUR,
            "closed": notes.closed,
            "unserved": notes.unserved,
            "closed_colour": CLOSED_COLOUR,
            "unserved_colour": UNSERVED_COLOUR,
            "T": {
                "closed": "Closed" if en else "封闭",
                "unserved": "Not served" if en else "未作业",
                "priority": {str(p): n for p, n in _priority_names(lang).items()},
            },
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
  {color:p.colour, weight:3, opacity:.8, vehicle:p.vehicle}).bindTooltip(esc(p.tag+' '+p.vehicle)).addTo(lines); } });
addLayer(D.L.route, lines);
// labelled stops (vehicle letter and number, A12) when zoomed in; over the whole route (hundreds of
// stops) dots in the priority colours ringed in their vehicle's
// closures (a closed road dashed black, a closed bridge a black cross) and what the plan leaves unserved
// (hollow grey), under the route
function noteLayer(fc, colour, closed){ return L.geoJSON(fc, {
  style: {color: colour, weight: closed ? 5 : 4, opacity: .9, dashArray: closed ? '8 5' : '2 6'},
  pointToLayer: function(f, ll){ return closed
    ? L.marker(ll, {icon: L.divIcon({className: '', iconSize: [18, 18], iconAnchor: [9, 9], html: '<div class="closed-mark">×</div>'}), keyboard: false})
    : L.circleMarker(ll, {radius: 6, weight: 2, dashArray: '2 3', color: colour, fill: false}); },
  onEachFeature: function(f, l){ var t = esc((closed ? D.T.closed : D.T.unserved) + ': ' + f.properties.name)
    + (closed ? '' : '<br>' + esc(f.properties.why)); l.bindTooltip(t); l.bindPopup(t); }}); }
if (D.unserved.features.length) { addLayer(D.T.unserved, noteLayer(D.unserved, D.unserved_colour, false)); }
if (D.closed.features.length) { addLayer(D.T.closed, noteLayer(D.closed, D.closed_colour, true)); }
var numbered = L.layerGroup(), dots = L.layerGroup(), marks = [];
D.stops.forEach(function(s){ var c = D.colours[s.priority] || D.reload, ll = [s.lonlat[1], s.lonlat[0]];
  var tip = esc(s.label+' '+s.arrive+' '+(s.name||''));
  var popup = '<b>'+esc(s.label)+'</b> '+esc(s.arrive)+'<br>'+esc(s.name||'')+(s.priority ? ' · '+esc(D.T.priority[s.priority]) : '');
  var icon = L.divIcon({className:'', iconSize:[16 + 7 * s.label.length, 19], iconAnchor:[8 + 3.5 * s.label.length, 10],
    html:'<div class="stop-no" style="border-color:'+s.colour+';color:'+s.colour+'"><i style="background:'+c+'"></i>'+esc(s.label)+'</div>'});
  var mark = {numbered: L.marker(ll, {icon: icon, label: s.label}).bindTooltip(tip).bindPopup(popup).addTo(numbered),
    dot: L.circleMarker(ll, {radius:4.5, weight:2, color:s.colour, fillColor:c, fillOpacity:1, vehicle:s.vehicle}).bindTooltip(tip).bindPopup(popup).addTo(dots)};
  marks.push(mark); });
var stops = addLayer(D.L.stops, L.layerGroup());
function showStops(){ var near = MAP.getZoom() >= 15; stops.clearLayers(); stops.addLayer(near ? numbered : dots); }
MAP.on('zoomend', showStops);
finishLayers();
// a stop tapped in the list: the map goes to it, zoomed in to its label, and opens its popup
function goToStop(i){ var s = D.stops[i]; if (!s) { return; }
  MAP.setView([s.lonlat[1], s.lonlat[0]], Math.max(MAP.getZoom(), 16), {animate: false});
  showStops(); (MAP.getZoom() >= 15 ? marks[i].numbered : marks[i].dot).openPopup();
  document.querySelectorAll('#stops li.current').forEach(function(li){ li.classList.remove('current'); });
  var li = document.querySelector('#stops li[data-stop="' + i + '"]'); if (li) { li.classList.add('current'); }
  var box = MAP.getContainer().getBoundingClientRect();  // a layout where the map is below the fold
  if (box.top < 0 || box.bottom > window.innerHeight) { MAP.getContainer().scrollIntoView({block: 'nearest'}); } }
var stopList = document.getElementById('stops');
stopList.addEventListener('click', function(e){ var li = e.target.closest('li[data-stop]'); if (li) { goToStop(+li.dataset.stop); } });
stopList.addEventListener('keydown', function(e){ var li = e.target.closest('li[data-stop]');
  if (li && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); goToStop(+li.dataset.stop); } });
// one vehicle or all: the page again with the vehicle chosen (its print links then print that vehicle)
var choice = document.getElementById('vehicle-select');
if (choice) { document.querySelector('#vehicle-form button').style.display = 'none';  // picking is enough
  choice.addEventListener('change', function(){ var url = new URL(window.location.href);
  if (choice.value) { url.searchParams.set('vehicle', choice.value); } else { url.searchParams.delete('vehicle'); }
  window.location.assign(url.toString()); }); }
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
