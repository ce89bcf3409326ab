"""The dispatcher's coverage map (the planner's page is :mod:`geo_service.maps.plan_page`, re-exported
here; the crew's route is :mod:`geo_service.maps.route_page`).

Each returns a complete HTML document (folium) with its data inlined as compact GeoJSON and its
interactions in a small script that talks to the service's own API.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd

from geo_service.maps.base import (
    add_legend,
    add_panel,
    base_map,
    data_json,
    feature_collection,
    label,
    page_html,
    script,
)
from geo_service.maps.furniture import (
    PAPER,
    TZ,
    add_north_arrow,
    add_title_block,
    beijing,
    beijing_label,
    language_href,
    print_links,
    printed_line,
    workspace_notice,
)
from geo_service.maps.page_script import PAGE_JS, gcj02_overlays, page_data
from geo_service.maps.plan_page import plan_page

__all__ = ["coverage_page", "plan_page"]

SQUAD_COLOURS = [
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#1f78b4",
    "#b2df8a",
    "#fb9a99",
    "#cab2d6",
    "#fdbf6f",
    "#33a02c",
    "#6a3d9a",
]


def coverage_page(
    ws: Any,
    *,
    at: dt.datetime,
    beats: gpd.GeoDataFrame,
    on_duty: set[str],
    gaps: Sequence[Any],
    overlaps: Sequence[Any],
    figures: Sequence[Mapping[str, Any]],
    cases: gpd.GeoDataFrame,
    assignments: Mapping[int, Mapping[str, Any]],
    festival_open: gpd.GeoDataFrame,
    notices: Sequence[str] = (),
    lang: str = "zh",
    static: str = "/static",
    query: Mapping[str, str] | None = None,
    printing: bool = False,
) -> str:
    """The dispatcher's map for one moment (``printing``: for paper, the moment as text, no controls).

    ``notices``: what the reader must know about the map's figures, in the page's language (a roster
    worked out on a holiday calendar that is assumed), said under the moment on screen and on paper."""
    notice = workspace_notice(ws, lang)
    m = base_map(
        ws.settings,
        static=static,
        zoom=12,
        printing=printing,
        orientation=PAPER["coverage"],
        attribution=notice,
    )
    shift = gcj02_overlays(ws.settings)
    squads = sorted(set(beats["squad"]))
    colour = {s: SQUAD_COLOURS[i % len(SQUAD_COLOURS)] for i, s in enumerate(squads)}
    extra = {
        fid: {"colour": colour[s], "on_duty": code in on_duty}
        for fid, s, code in zip(beats.index, beats["squad"], beats["code"], strict=True)
    }
    data = page_data(ws, lang, with_minor=False)
    data["beats"] = feature_collection(
        beats, columns=["code", "name", "squad"], tolerance=0.00005, shift_gcj02=shift, extra=extra
    )
    data["gaps"] = feature_collection(
        gpd.GeoDataFrame(
            [{"area_m2": g["area_m2"], "district": g["district"]} for g in gaps],
            geometry=[g["geometry"] for g in gaps],
            crs=4326,
        )
        if gaps
        else gpd.GeoDataFrame(geometry=[], crs=4326),
        columns=["area_m2", "district"],
        shift_gcj02=shift,
        areas_only=True,
    )
    data["overlaps"] = feature_collection(
        gpd.GeoDataFrame(
            [{"beats": "、".join(o["beats"]), "area_m2": o["area_m2"]} for o in overlaps],
            geometry=[o["geometry"] for o in overlaps],
            crs=4326,
        )
        if overlaps
        else gpd.GeoDataFrame(geometry=[], crs=4326),
        columns=["beats", "area_m2"],
        shift_gcj02=shift,
        areas_only=True,  # two beats touching at a corner leave a point in the overlap: no pin for it
    )
    if "reported_at" in cases.columns:  # shown as written here, not as ISO text with a zone
        cases = cases.assign(reported_at=[beijing(v) for v in cases["reported_at"]])
    data["cases"] = feature_collection(
        cases,
        columns=["category", "description", "reported_at", "status"],
        shift_gcj02=shift,
        extra=assignments,
    )
    data["festival"] = feature_collection(festival_open, columns=["name", "hours"], shift_gcj02=shift)
    at = at.astimezone(TZ)  # the roster's time, whatever zone the moment was asked in
    data["at"] = at.isoformat(timespec="minutes")
    data["print"] = printing
    en = lang == "en"
    title = "Duty coverage" if en else "值守覆盖"
    when = beijing_label(at, lang)
    add_title_block(m, f"{title} · {when}", [printed_line(lang), notice])
    add_north_arrow(m, lang)
    rows = "".join(
        f"<tr><td>{html.escape(str(f['district']))}</td><td>{f['covered_m2'] / 1e6:.2f}</td><td>{f['uncovered_m2'] / 1e6:.2f}</td>"
        f"<td>{f['double_covered_m2'] / 1e6:.3f}</td></tr>"
        for f in figures
    )
    local = at.strftime("%Y-%m-%dT%H:%M")
    said = "".join(
        f"<div class='calendar-notice geo-msg' style='font-size:12px;margin:2px 0'>"
        f"{'Note: ' if en else '注意：'}{html.escape(n)}</div>"
        for n in notices
    )
    add_panel(
        m,
        (
            # the moment as text (a browser shows the picker's value in its own locale, 12/6/2026, 3:00 PM)
            f"<form method='get' action='/maps/coverage'><b>{'Duty coverage at' if en else '值守覆盖时刻'}</b> "
            f"<span id='at-text'>{when}</span><br><span class='geo-screen-only'>"
            # the picker asks for Chinese dates (where a browser heeds it) and its label says the form the
            # service reads, whatever the browser shows: year-month-day and 24-hour time, Beijing time
            f"<label for='at-input'>{'Time (YYYY-MM-DD hh:mm, Beijing time)' if en else '时刻（年-月-日 时:分，北京时间）'}</label> "
            f"<input type='datetime-local' id='at-input' name='at' value='{local}' lang='zh-CN'>"
            f"<input type='hidden' name='lang' value='{lang}'>"
            f"<button>{'Show' if en else '查看'}</button></span> "
            # the print of this moment, not of whenever the link is followed
            f"{print_links('/maps/coverage', query or {}, lang, at=local)}</form>{said}"
            f"<table id='figures' style='font-size:12px'><tr><th>{'District' if en else '行政区'}</th><th>{'covered km²' if en else '覆盖 km²'}</th>"
            f"<th>{'gap km²' if en else '空白 km²'}</th><th>{'double km²' if en else '重叠 km²'}</th></tr>{rows}</table>"
            f"<div id='msg' class='geo-screen-only'>{'Click the map: who covers this place?' if en else '点击地图查询此处由谁负责'}</div>"
        ),
        where="top:10px;left:50px",
    )
    add_legend(
        m,
        [
            ("#1b9e77", "", label("beats_on", lang)),
            ("#eeeeee", "border-style:dashed", label("beats_off", lang)),
            (
                "#b71c1c",
                "background-image:repeating-linear-gradient(45deg,#b71c1c 0 2px,#fff 2px 5px)",
                label("gaps", lang),
            ),
            ("#6a1b9a", "", label("overlaps", lang)),
            ("#ad1457", "border-radius:50%", label("cases", lang)),
            ("#ef5350", "border-radius:50%", label("festival", lang)),
        ],
        lang,
        switch_href=language_href("/maps/coverage", query or {}, lang),
    )
    script(
        m,
        PAGE_JS
        + f"var D = {data_json(data)};\n"
        + """
basemap(D);
addLayer(D.L.beats_on, L.geoJSON(D.beats, {filter:function(f){return f.properties.on_duty;},
  style:function(f){return {color:f.properties.colour, weight:1.5, fillColor:f.properties.colour, fillOpacity:.3};},
  onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.code+' '+f.properties.squad));}}));
addLayer(D.L.beats_off, L.geoJSON(D.beats, {filter:function(f){return !f.properties.on_duty;},
  style:{color:'#757575', weight:1.5, dashArray:'4 4', fillColor:'#eeeeee', fillOpacity:.25},
  onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.code+' '+f.properties.squad)+(D.lang==='en'?' (off duty)':'（无人值班）'));}}));
addLayer(D.L.gaps, L.geoJSON(D.gaps, {pointToLayer:noPin, style:{color:'#b71c1c', weight:1, fillColor:'url(#hatch)', fillOpacity:1, className:'gap'},
  onEachFeature:function(f,l){l.bindTooltip((D.lang==='en'?'Gap ':'空白 ')+Math.round(f.properties.area_m2)+' m²');}}));
addLayer(D.L.overlaps, L.geoJSON(D.overlaps, {pointToLayer:noPin, style:{color:'#6a1b9a', weight:2, fillColor:'#6a1b9a', fillOpacity:.5},
  onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.beats));}}));
addLayer(D.L.cases, L.geoJSON(D.cases, {pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:5,color:'#ad1457',fillOpacity:.8});},
  onEachFeature:function(f,l){var p=f.properties; l.bindPopup('<b>'+esc(p.category)+'</b> '+esc(p.reported_at)+'<br>'+esc(p.description)+
    '<br>'+(D.lang==='en'?'To: ':'派往：')+esc(p.squad||p.escalation||'')+' · '+esc(p.department||''));}}));
addLayer(D.L.festival, L.geoJSON(D.festival, {pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:7,color:'#c62828',fillColor:'#ef5350',fillOpacity:.8});},
  onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.name+' '+f.properties.hours));}}));
finishLayers();
var svg = MAP.getPanes().overlayPane.querySelector('svg');
if (svg) { svg.insertAdjacentHTML('afterbegin', '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="white" fill-opacity="0.3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b71c1c" stroke-width="2"/></pattern></defs>'); }
MAP.fitBounds(L.geoJSON(D.districts).getBounds());
function nearestLines(near){  // the nearest stall site and festival point on foot, and whether open then
  var en = D.lang==='en', out = '';
  [['stall_site', en?'Nearest stall site':'最近摊点'], ['festival_point', en?'Nearest festival point':'最近年货点']].forEach(function(k){
    var n = near[k[0]];
    if (!n) return;
    var text = n.name!==undefined ? esc(n.name)+(en?', ':'，')+(en?'walk ':'步行 ')+Math.round(n.walk_m)+(en?' m':' 米') +
      (n.open_now===true ? (en?' (open now)':'（此时开放）') : n.open_now===false ? (en?' (closed then)':'（此时未开放）') : '') +
      (n.season_state && n.season_state!=='in_season' ? (en?'; ':'；')+esc(en ? n.season_en : n.season_zh) : '')
      : esc(en ? n.reason_en : n.reason_zh);
    out += '<br><span class="nearest '+k[0]+'">'+k[1]+(en?': ':'：')+text+'</span>';
  });
  return out;
}
MAP.on('click', function(e){
  var url = '/coverage/who?lon=' + e.latlng.lng + '&lat=' + e.latlng.lat + '&at=' + encodeURIComponent(D.at) + '&crs=' + encodeURIComponent(D.crs);
  fetch(url, {credentials:'same-origin'}).then(function(r){return r.json().then(function(w){ return r.ok ? w : Promise.reject(w); });}).then(function(w){
    var who = (w.on_duty||[]).map(function(s){return esc(s.squad+' '+s.beat+' '+s.shift);}).join('<br>') ||
      (D.lang==='en'?'Nobody on duty':'此时无人值班') + (w.next_shift? '<br>'+(D.lang==='en'?'Next: ':'下一班：')+esc(w.next_shift.squad+' '+w.next_shift.starts.slice(0,16).replace('T',' ')) : '');
    var reasons = (D.lang==='en' ? w.reasons_en : w.reasons_zh) || w.reasons || [];  // in the page's language
    L.popup().setLatLng(e.latlng).setContent('<b>'+esc(w.district||(D.lang==='en'?'outside the districts':'辖区外'))+'</b><br>'+who+
      nearestLines(w.nearest||{})+
      (reasons.length? '<br><i class="reasons">'+esc(reasons.join(D.lang==='en'?'; ':'；'))+'</i>':'')).openOn(MAP);
  }).catch(function(p){  // a refusal (a click outside the service area): say why, not "nobody on duty"
    var why = p && (D.lang==='en' ? p.detail_en : p.detail_zh);
    L.popup().setLatLng(e.latlng).setContent('<i class="refused">'+esc(why || (D.lang==='en'?'No answer':'未能查询'))+'</i>').openOn(MAP);
  });
});
""",
    )
    return page_html(m, title, lang)
