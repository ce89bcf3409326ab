"""The three map pages: the planner's drawing page, the dispatcher's coverage map, the crew's route.

Each returns a complete HTML document (folium) with its data inlined as compact GeoJSON and its
interactions in a small script that talks to the service's own API.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import folium
import geopandas as gpd

from geo_service.crs import wgs84_to_gcj02
from geo_service.maps.base import (
    add_after_map,
    add_legend,
    add_panel,
    base_map,
    data_json,
    feature_collection,
    label,
    root,
    script,
)
from geo_service.maps.furniture import (
    TZ,
    Orientation,
    add_north_arrow,
    add_title_block,
    beijing,
    beijing_label,
    clock,
    workspace_notice,
)
from geo_service.maps.markup import Raw

__all__ = ["PAPER", "coverage_page", "plan_page", "route_page"]

#: the A4 page each map prints on: the city's maps are wider than tall, a crew's route sheet a list
PAPER: dict[str, Orientation] = {"plan": "landscape", "coverage": "landscape", "route": "portrait"}

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
PRIORITY_COLOURS = {1: "#c62828", 2: "#ef6c00", 3: "#f9a825"}
RELOAD_COLOUR = "#37474f"  # a stop without a priority: loading salt at a depot
ROUTE_COLOUR = "#1565c0"
#: the height of a crew's route map on A4 portrait paper (277 mm inside the margins)
ROUTE_MAP_MM = 272

_COMMON_JS = """
function esc(s){return String(s==null?'':s).replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));}
function msg(text, bad){var el=document.getElementById('msg'); if(el){el.innerHTML=text; el.className=bad?'geo-msg':'';}}
var OVERLAYS = {};
function addLayer(name, layer, on){ OVERLAYS[name]=layer; if(on!==false){layer.addTo(MAP);} return layer; }
// no layer switch on paper; on a phone it folds into its button instead of covering the map
function finishLayers(){ if (!D.print) { L.control.layers(null, OVERLAYS, {collapsed: window.innerWidth < 700}).addTo(MAP); } }
// a point in an area layer (left by an overlay) is not drawn: Leaflet would pin its default marker there
function noPin(){ return L.layerGroup(); }
function basemap(D){
  addLayer(D.L.districts, L.geoJSON(D.districts, {style:{color:'#555',weight:2,fill:false,dashArray:'6 4'},
    onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.name));}}));
  // muted (grey) where the map's own symbols are orange and yellow: a crew's stops by priority
  var roadColour = D.muted_roads ? {main:'#9e9e9e', other:'#bdbdbd'} : {main:'#e8a33d', other:'#d9b84a'};
  addLayer(D.L.main_roads, L.geoJSON(D.roads_major, {style:function(f){return {color: f.properties.road_class==='main'?roadColour.main:roadColour.other, weight: f.properties.road_class==='main'?4:2.5};},
    onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.name));}}));
  if (D.roads_minor) {
    var minor = L.geoJSON(D.roads_minor, {style:{color:'#bdbdbd',weight:1}});
    OVERLAYS[D.L.minor_roads] = minor;
    var sync=function(){ if(MAP.getZoom()>=15){minor.addTo(MAP);} else {MAP.removeLayer(minor);} };
    MAP.on('zoomend', sync); sync();
  }
}
"""


def _shift(settings: Any) -> bool:
    return settings.basemap == "amap"


def _base_data(ws: Any, lang: str, *, with_minor: bool) -> dict[str, Any]:
    roads = ws.frame("roads")
    shift = _shift(ws.settings)
    major = roads[roads["road_class"].isin(["main", "secondary"])]
    data = {
        "districts": feature_collection(
            ws.frame("districts"), columns=["name", "code"], tolerance=0.0002, shift_gcj02=shift
        ),
        "roads_major": feature_collection(
            major, columns=["name", "road_class"], tolerance=0.00005, shift_gcj02=shift
        ),
        "L": {
            k: label(k, lang)
            for k in (
                "districts",
                "main_roads",
                "minor_roads",
                "stall_sites",
                "festival",
                "pois",
                "beats_on",
                "beats_off",
                "gaps",
                "overlaps",
                "cases",
                "route",
                "stops",
                "violations",
            )
        },
        "lang": lang,
        "crs": "gcj02" if shift else "EPSG:4326",
    }
    if with_minor:
        minor = roads[~roads["road_class"].isin(["main", "secondary"])]
        data["roads_minor"] = feature_collection(minor, columns=[], tolerance=0.00005, shift_gcj02=shift)
    return data


def _page(m: folium.Map, title: str, lang: str) -> str:
    """The page's HTML, with its title (escaped) and language, which folium leaves out."""
    root(m).header.add_child(Raw(f"<title>{html.escape(title)}</title>"))
    page = m.get_root().render()
    return page.replace("<html>", f'<html lang="{"en" if lang == "en" else "zh-CN"}">', 1)


def _switch(path: str, query: Mapping[str, str], lang: str) -> str:
    """The same page in the other language, as an HTML attribute value (the query is the visitor's own
    text: encoded and escaped, never written into the page as it came)."""
    params = dict(query)
    params["lang"] = "en" if lang == "zh" else "zh"
    return html.escape(path + "?" + urlencode(params), quote=True)


def _printed(lang: str) -> str:
    now = dt.datetime.now(TZ)
    return f"Printed {beijing_label(now, lang)}" if lang == "en" else f"打印于 {beijing_label(now, lang)}"


def _prints(path: str, query: Mapping[str, str], lang: str, **fixed: str) -> str:
    """Links to this page as PDF and PNG (same query, language and ``fixed`` values), for the screen."""
    params = {**query, **fixed, "lang": lang}
    links = " ".join(
        # saved under the name the service gives (Content-Disposition); the address alone opens it inline
        f"<a id='print-{fmt}' href='{html.escape(f'{path}.{fmt}?{urlencode(params)}', quote=True)}' download>{fmt.upper()}</a>"
        for fmt in ("pdf", "png")
    )
    return f"<span class='geo-screen-only'>{'Print' if lang == 'en' else '打印'} {links}</span>"


def plan_page(
    ws: Any,
    *,
    lang: str = "zh",
    static: str = "/static",
    query: Mapping[str, str] | None = None,
    printing: bool = False,
) -> str:
    """The planner's page: context layers, drawing and editing stall zones with the siting check
    (``printing``: the same map for paper, without drawing tools, forms or layer switch)."""
    notice = workspace_notice(ws, lang)
    m = base_map(
        ws.settings,
        static=static,
        draw=True,
        zoom=14,
        centre=(35.215, 113.27),
        printing=printing,
        orientation=PAPER["plan"],
        attribution=notice,
    )
    shift = _shift(ws.settings)
    sites = ws.frame("stall_sites")
    pois = ws.frame("pois")
    data = _base_data(ws, lang, with_minor=True)
    # the workspace's districts to file a zone under; the page picks the one the zone is drawn in
    district_options = "".join(
        f"<option>{html.escape(str(n))}</option>" for n in ws.frame("districts")["name"].dropna()
    )
    data["sites"] = feature_collection(
        sites,
        columns=["name", "district", "capacity", "goods", "hours", "status", "_version"],
        shift_gcj02=shift,
    )
    data["festival"] = feature_collection(
        ws.frame("festival_sales_points"),
        columns=["name", "hours", "valid_from", "valid_to"],
        shift_gcj02=shift,
    )
    data["pois"] = feature_collection(
        pois[pois["kind"].isin(["school", "hospital", "market"])], columns=["name", "kind"], shift_gcj02=shift
    )
    data["print"] = printing
    en = lang == "en"
    title = "Planner: stall zones" if en else "规划：临时摊区"
    add_title_block(m, title, [_printed(lang), notice])
    add_north_arrow(m, lang)
    add_panel(
        m,
        (
            f"<b>{title}</b> {_prints('/maps/plan', query or {}, lang)}<br>"
            f"<span class='geo-screen-only'>{'Draw a polygon, fill in and save. Click a zone to edit it.' if en else '用左侧工具绘制面，填写后保存；点击摊区可修改形状。'}</span>"
            '<div id="form" class="geo-screen-only" style="display:none;margin-top:6px">'
            f'<label>{"Name" if en else "名称"} <input id="f-name" value="新增果蔬摊区"></label><br>'
            f'<label>{"Stalls" if en else "摊位数"} <input id="f-cap" type="number" value="10" min="1" style="width:5em"></label>'
            f' <label>{"Goods" if en else "品类"} <input id="f-goods" value="果蔬" style="width:6em"></label><br>'
            f'<label>{"District" if en else "所属区"} <select id="f-district">{district_options}</select></label><br>'
            f'<button id="save">{"Save" if en else "保存"}</button> <button id="cancel">{"Cancel" if en else "取消"}</button></div>'
            f'<div id="whatif"></div><div id="msg"></div><ol id="violations" class="geo-msg"></ol>'
        ),
        where="top:10px;left:50px",
    )
    add_legend(
        m,
        [
            ("#66a61e", "", label("stall_sites", lang)),
            ("#ef5350", "border-radius:50%", label("festival", lang)),
            ("#e8a33d", "height:3px", label("main_roads", lang)),
            ("#c62828", "opacity:.5", label("violations", lang)),
        ],
        lang,
        switch_href=_switch("/maps/plan", query or {}, lang),
    )
    script(
        m,
        _COMMON_JS
        + f"var D = {data_json(data)};\n"
        + """
basemap(D);
function popup(f){ var p=f.properties; return '<b>'+esc(p.name)+'</b><br>'+esc(p.capacity)+(D.lang==='en'?' stalls, ':' 个摊位，')+esc(p.goods)+'<br>'+esc(p.hours)+
  '<br><button onclick="editSite('+p.id+')">'+(D.lang==='en'?'Edit shape':'修改形状')+'</button>'; }
var siteLayers = {};
var sites = addLayer(D.L.stall_sites, L.geoJSON(D.sites, {style:{color:'#2e7d32',fillColor:'#66a61e',fillOpacity:.5,weight:2},
  onEachFeature:function(f,l){ siteLayers[f.properties.id]=l; l.feature=f; l.bindPopup(popup(f)); }}));
addLayer(D.L.festival, L.geoJSON(D.festival, {pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:7,color:'#c62828',fillColor:'#ef5350',fillOpacity:.8});},
  style:{color:'#c62828',fillColor:'#ef5350',fillOpacity:.5}, onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.name));}}));
addLayer(D.L.pois, L.geoJSON(D.pois, {pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:4,color:'#455a64',fillOpacity:.7});},
  onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.name));}}));
var conflicts = addLayer(D.L.violations, L.geoJSON(null, {style:{color:'#c62828',fillColor:'#c62828',fillOpacity:.45,weight:2},
  pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:8,color:'#c62828'});},
  onEachFeature:function(f,l){l.bindTooltip(esc(D.lang==='en'?f.properties.message_en:f.properties.message_zh));}}));
finishLayers();
MAP.fitBounds(sites.getBounds(), {maxZoom: 15});
if (!D.print) {  // no drawing tools on paper
  MAP.pm.addControls({position:'topleft', drawMarker:false, drawCircleMarker:false, drawPolyline:false, drawCircle:false,
    drawText:false, cutPolygon:false, rotateMode:false, dragMode:false, removalMode:false, editMode:false});
}
MAP.pm.setLang(D.lang === 'en' ? 'en' : 'zh');
var pending = null, editing = null;
function showViolations(problem){
  conflicts.clearLayers(); var list=document.getElementById('violations'); list.innerHTML='';
  (problem.violations||[]).forEach(function(v){
    list.insertAdjacentHTML('beforeend','<li>'+esc(D.lang==='en'?v.message_en:v.message_zh)+'</li>');
    if (v.geometry) { conflicts.addData({type:'Feature',geometry:v.geometry,properties:v}); }
  });
  (problem.unchecked||[]).forEach(function(u){ list.insertAdjacentHTML('beforeend','<li>'+esc(D.lang==='en'?u.reason_en:u.reason_zh)+'</li>'); });
}
function whatIf(geometry){
  fetch('/coverage/what-if', {method:'POST', headers:{'Content-Type':'application/json'}, credentials:'same-origin',
    body: JSON.stringify({add:[geometry], crs: D.crs})}).then(function(r){return r.ok?r.json():null;}).then(function(w){
      if (!w) return; document.getElementById('whatif').innerHTML = (D.lang==='en'?'Served within 500 m on foot: ':'步行 500 米服务人口：') +
        w.before + ' → ' + w.after + ' (' + (w.change>=0?'+':'') + w.change + ')'; }).catch(function(){});
}
function inRing(x, y, ring){  // ray casting
  var inside = false;
  for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
    if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
function districtAt(ll){  // the district (name) a point of the map lies in, or null
  var hit = null;
  ((D.districts || {}).features || []).forEach(function(f){
    var g = f.geometry; if (!g || hit) return;
    var polys = g.type === 'Polygon' ? [g.coordinates] : (g.type === 'MultiPolygon' ? g.coordinates : []);
    polys.forEach(function(p){
      if (!hit && inRing(ll.lng, ll.lat, p[0]) && !p.slice(1).some(function(h){ return inRing(ll.lng, ll.lat, h); })) hit = f.properties.name;
    });
  });
  return hit;
}
MAP.on('pm:create', function(e){
  if (e.shape !== 'Polygon' && e.shape !== 'Rectangle') { e.layer.remove(); msg(D.lang==='en'?'A stall zone must be a polygon.':'摊区必须是面（多边形）。', true); return; }
  if (pending) pending.remove();
  pending = e.layer; document.getElementById('form').style.display='block'; msg(''); whatIf(pending.toGeoJSON().geometry);
  var where = districtAt(pending.getBounds().getCenter());  // filed under the district it is drawn in
  if (where) document.getElementById('f-district').value = where;
});
document.getElementById('cancel').onclick = function(){ if(pending){pending.remove(); pending=null;} document.getElementById('form').style.display='none'; };
document.getElementById('save').onclick = function(){
  if (!pending) return;
  var body = {type:'Feature', geometry: pending.toGeoJSON().geometry, properties: {
    name: document.getElementById('f-name').value, capacity: parseInt(document.getElementById('f-cap').value, 10),
    goods: document.getElementById('f-goods').value, district: document.getElementById('f-district').value}};
  fetch('/collections/stall_sites/items?crs=' + encodeURIComponent(D.crs), {method:'POST', credentials:'same-origin',
        headers:{'Content-Type':'application/geo+json'}, body: JSON.stringify(body)})
    .then(function(r){ return r.json().then(function(j){ return {status:r.status, body:j}; }); })
    .then(function(res){
      if (res.status === 201) { pending.remove(); pending=null;
        res.body.properties.id = res.body.id; res.body.properties._version = res.body.version;  // as the page's own zones
        sites.addData(res.body); conflicts.clearLayers();
        document.getElementById('violations').innerHTML=''; document.getElementById('form').style.display='none';
        msg((D.lang==='en'?'Saved as zone #':'已保存，编号 ') + res.body.id + (D.lang==='en'?', version ':'，版本 ') + res.body.version);
      } else { msg(esc(D.lang==='en'?res.body.detail_en:res.body.detail_zh), true); showViolations(res.body); }
    });
};
window.editSite = function(id){
  var layer = siteLayers[id]; if (!layer || editing === layer) return; MAP.closePopup(); editing = layer;
  layer.pm.enable({allowSelfIntersection:false});
  msg(D.lang==='en'?'Drag the corners, then click the zone again to save.':'拖动顶点，完成后再次点击摊区保存。');
  layer.unbindPopup(); layer.on('click', saveEdit);
};
function doneEditing(layer){  // back to a zone that opens its popup when clicked
  layer.pm.disable(); layer.off('click', saveEdit); layer.bindPopup(popup(layer.feature)); editing = null;
}
function saveEdit(e){
  var layer = e.target, f = layer.feature;
  // only the shape changes: PATCH keeps every other field (dates, status) as stored
  fetch('/collections/stall_sites/items/' + f.properties.id + '?crs=' + encodeURIComponent(D.crs), {method:'PATCH', credentials:'same-origin',
    headers:{'Content-Type':'application/geo+json','If-Match':'"' + (f.properties._version||f.version) + '"'},
    body: JSON.stringify({geometry: layer.toGeoJSON().geometry})})
    .then(function(r){ return r.json().then(function(j){ return {status:r.status, body:j}; }); })
    .then(function(res){
      if (res.status === 200) { f.properties._version = res.body.version; doneEditing(layer); conflicts.clearLayers();
        document.getElementById('violations').innerHTML=''; msg((D.lang==='en'?'Saved, version ':'已保存，版本 ') + res.body.version); }
      else if (res.status === 409) { doneEditing(layer); msg(D.lang==='en'?'Someone else changed this zone meanwhile: reload the page to see their version.':'该摊区已被他人修改，请刷新页面查看最新版本后再改。', true); }
      else { msg(esc(D.lang==='en'?res.body.detail_en:res.body.detail_zh), true); showViolations(res.body); }  // still editing: fix and click again
    });
}
""",
    )
    return _page(m, title, lang)


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
    lang: str = "zh",
    static: str = "/static",
    query: Mapping[str, str] | None = None,
    printing: bool = False,
) -> str:
    """The dispatcher's map for one moment (``printing``: for paper, the moment as text, no controls)."""
    notice = workspace_notice(ws, lang)
    m = base_map(
        ws.settings,
        static=static,
        zoom=12,
        printing=printing,
        orientation=PAPER["coverage"],
        attribution=notice,
    )
    shift = _shift(ws.settings)
    squads = sorted(set(beats["squad"]))
    colour = {s: SQUAD_COLOURS[i % len(SQUAD_COLOURS)] for i, s in enumerate(squads)}
    extra = {
        fid: {"colour": colour[s], "on_duty": code in on_duty}
        for fid, s, code in zip(beats.index, beats["squad"], beats["code"], strict=True)
    }
    data = _base_data(ws, lang, with_minor=False)
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
    add_title_block(m, f"{title} · {when}", [_printed(lang), notice])
    add_north_arrow(m, lang)
    rows = "".join(
        f"<tr><td>{html.escape(str(f['district']))}</td><td>{f['covered_m2'] / 1e6:.2f}</td><td>{f['uncovered_m2'] / 1e6:.2f}</td>"
        f"<td>{f['double_covered_m2'] / 1e6:.3f}</td></tr>"
        for f in figures
    )
    local = at.strftime("%Y-%m-%dT%H:%M")
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
            f"{_prints('/maps/coverage', query or {}, lang, at=local)}</form>"
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
        switch_href=_switch("/maps/coverage", query or {}, lang),
    )
    script(
        m,
        _COMMON_JS
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
      (n.open_now===true ? (en?' (open now)':'（此时开放）') : n.open_now===false ? (en?' (closed then)':'（此时未开放）') : '')
      : esc(en ? n.reason_en : n.reason_zh);
    out += '<br><span class="nearest '+k[0]+'">'+k[1]+(en?': ':'：')+text+'</span>';
  });
  return out;
}
MAP.on('click', function(e){
  var url = '/coverage/who?lon=' + e.latlng.lng + '&lat=' + e.latlng.lat + '&at=' + encodeURIComponent(D.at) + '&crs=' + encodeURIComponent(D.crs);
  fetch(url, {credentials:'same-origin'}).then(function(r){return r.json();}).then(function(w){
    var who = (w.on_duty||[]).map(function(s){return esc(s.squad+' '+s.beat+' '+s.shift);}).join('<br>') ||
      (D.lang==='en'?'Nobody on duty':'此时无人值班') + (w.next_shift? '<br>'+(D.lang==='en'?'Next: ':'下一班：')+esc(w.next_shift.squad+' '+w.next_shift.starts.slice(0,16).replace('T',' ')) : '');
    var reasons = (D.lang==='en' ? w.reasons_en : w.reasons_zh) || w.reasons || [];  // in the page's language
    L.popup().setLatLng(e.latlng).setContent('<b>'+esc(w.district||(D.lang==='en'?'outside the districts':'辖区外'))+'</b><br>'+who+
      nearestLines(w.nearest||{})+
      (reasons.length? '<br><i class="reasons">'+esc(reasons.join(D.lang==='en'?'; ':'；'))+'</i>':'')).openOn(MAP);
  });
});
""",
    )
    return _page(m, title, lang)


def _lonlats(points: Sequence[Sequence[float]], *, shift: bool) -> list[list[float]]:
    """Points as [lon, lat] lists, shifted to GCJ-02 when the basemap is AMap's (as the layers are)."""
    if not shift or not len(points):
        return [[float(x), float(y)] for x, y in points]
    lon, lat = wgs84_to_gcj02([p[0] for p in points], [p[1] for p in points])
    return [[round(float(x), 6), round(float(y), 6)] for x, y in zip(lon, lat, strict=True)]


def _route_legend(lang: str) -> list[tuple[str, str, str]]:
    """What the crew's map draws: stops by priority (red, orange, yellow), salt reloads, the route."""
    en = lang == "en"
    names = {1: "Priority 1", 2: "Priority 2", 3: "Priority 3"} if en else {1: "一级", 2: "二级", 3: "三级"}
    return [
        *((PRIORITY_COLOURS[p], "border-radius:50%", names[p]) for p in (1, 2, 3)),
        (RELOAD_COLOUR, "border-radius:50%", "Salt reload" if en else "装盐"),
        (ROUTE_COLOUR, "height:3px;border:none", label("route", lang)),
    ]


def _route_css(printing: bool) -> str:
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
    # the map's height on paper in millimetres (an A4 portrait page is 277 mm inside its margins, less
    # a little for rounding), never split by a page break; the list starts on the next page and runs on
    paper = (
        f"@media print{{.folium-map{{height:{ROUTE_MAP_MM}mm !important;break-inside:avoid;page-break-inside:avoid}}"
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
    shift = _shift(ws.settings)
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
    switch = _switch(page_path, query or {}, lang)
    title = f"{doc['title']} · {crew}"
    root(m).header.add_child(
        Raw("<meta name='viewport' content='width=device-width, initial-scale=1'>" + _route_css(printing))
    )
    add_after_map(
        m,
        f"<div id='route-head'><b>{html.escape(title)}</b> "
        f"<span id='route-start'>{'from' if en else '出发'} {beijing(start)}</span> "
        f"<span class='geo-screen-only'><a id='gpx' href='{base}.gpx'>GPX</a> · "
        f"<a id='sheet' href='{base}/sheet'>{'Printable sheet' if en else '路线单'}</a>"
        f" · <a href='{switch}'>{label('switch', lang)}</a> · "
        f"{_prints(page_path, query or {}, lang)}</span></div>"
        f"<ol id='stops'>{items}</ol>",
    )
    add_title_block(
        m,
        title,
        [f"{'Starts' if en else '出发'} {beijing_label(start, lang)}", _printed(lang), notice],
    )
    add_north_arrow(m, lang)
    add_legend(m, _route_legend(lang), lang)  # the page's head has the language switch
    data = _base_data(ws, lang, with_minor=True)
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
        _COMMON_JS
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
// printed from a browser the map is the page's height in millimetres: redraw at that size
if (window.matchMedia) { window.matchMedia('print').addEventListener('change', function(){ MAP.invalidateSize(false); }); }
""",
    )
    return _page(m, title, lang)


def _arrival(text: str) -> str:
    """An arrival time in the stop list; one on a later day than the start stands out."""
    if text[:1].isdigit() and len(text) == 5:  # HH:MM on the starting day
        return text
    return f"<span class='next-day'>{html.escape(text)}</span>"
