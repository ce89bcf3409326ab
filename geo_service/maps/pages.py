"""The city's two map pages: the planner's drawing page and the dispatcher's coverage map (the crew's
route is :mod:`geo_service.maps.route_page`).

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
    shift = gcj02_overlays(ws.settings)
    sites = ws.frame("stall_sites")
    pois = ws.frame("pois")
    data = page_data(ws, lang, with_minor=True)
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
    add_title_block(m, title, [printed_line(lang), notice])
    add_north_arrow(m, lang)
    add_panel(
        m,
        (
            f"<b>{title}</b> {print_links('/maps/plan', query or {}, lang)}<br>"
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
            ("#42a5f5", "opacity:.6", label("service_areas", lang)),
            ("#ab47bc", "border-radius:50%;opacity:.7", label("unserved", lang)),
        ],
        lang,
        switch_href=language_href("/maps/plan", query or {}, lang),
    )
    script(
        m,
        PAGE_JS
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
// the walking service areas and the people left out, off until asked for: the walk from every open
// site is computed then (a second or so), not each time the page opens
var en = D.lang === 'en';
var areas = addLayer(D.L.service_areas, L.geoJSON(null, {style:{color:'#1565c0',weight:1,fillColor:'#42a5f5',fillOpacity:.25},
  onEachFeature:function(f,l){ var p=f.properties; l.bindTooltip(esc(p.name)+(en?': ':'：')+p.served_population+(en?' people within 500 m on foot':' 人步行 500 米内可达'));}}), false);
// each group of homes no site reaches as a circle at its centre, its area the group's people (hundreds of
// outlines would cover the map): the big ones are where a new site would serve most
var unserved = addLayer(D.L.unserved, L.layerGroup(), false);
function addUnserved(groups){
  groups.features.forEach(function(f){
    var p = f.properties, c = p.centre;
    L.circleMarker([c[1], c[0]], {radius: Math.max(3, Math.sqrt(p.population) / 3), color:'#6a1b9a', weight:1,
      fillColor:'#ab47bc', fillOpacity:.45, people: p.population})
      .bindTooltip((en?'No site within 500 m: ':'500 米内无摊区：')+p.population+(en?' people in ':' 人，')+p.points+(en?' homes':' 个居住点'))
      .addTo(unserved);
  });
}
var walked = null;
function loadWalks(){
  if (walked) return walked;
  msg(en?'Walking 500 m from every open site…':'正在计算各开放摊区步行 500 米范围…');
  walked = fetch('/coverage/service-areas?max_walk_m=500&crs=' + encodeURIComponent(D.crs), {credentials:'same-origin'})
    .then(function(r){ return r.json().then(function(j){ return {ok:r.ok, body:j}; }); })
    .then(function(res){
      if (!res.ok) { walked = null; msg(esc(en?res.body.detail_en:res.body.detail_zh), true); return; }
      var b = res.body; areas.addData(b.service_areas); addUnserved(b.unserved_clusters);
      msg((en?'Within 500 m on foot of an open site: ':'步行 500 米内有开放摊区的人口：') + b.served_population + ' / ' + b.total_population +
        ' (' + Math.round(b.served_share*1000)/10 + '%)' + (b.notices.length ? '<br>' + esc(b.notices.join('；')) : ''));
    }).catch(function(){ walked = null; msg(en?'The service did not answer.':'服务无应答。', true); });
  return walked;
}
MAP.on('overlayadd', function(e){ if (e.layer === areas || e.layer === unserved) loadWalks(); });
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
        if (walked) { walked = null; areas.clearLayers(); unserved.clearLayers();  // the walks again, with the new zone
          if (MAP.hasLayer(areas) || MAP.hasLayer(unserved)) loadWalks(); }
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
    return page_html(m, title, lang)


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
