"""The planner's page script (after :data:`geo_service.maps.page_script.PAGE_JS` and ``D``).

:data:`PLAN_JS` draws the sites and the context and is on every planner's page, printed ones too;
:data:`EDIT_JS` is added for a role that may edit the site layers: drawing (a stall zone; a new
festival point with its own tool, for a role that may edit festival points), editing a site's shape,
hours, status and dates (a festival point's season then told as the API's answer gives it), deleting
(with a reason, kept in the history) and restoring, each through the features API with the version the
page read, and a refusal's override with a reason where the role may. :data:`FINISH_JS` ends both.

Every write goes through ``write``: the API's refusal is shown as the API words it (in the page's
language), with the siting violations drawn, and nothing on the page changes unless the API said yes.
"""

from __future__ import annotations

__all__ = ["EDIT_JS", "FINISH_JS", "PLAN_JS"]

PLAN_JS = """
basemap(D);
var en = D.lang === 'en', F = D.fields || {}, STATUS = {};
(D.status || []).forEach(function(s){ STATUS[s[0]] = s[1]; });
var MONTHS = ['正月','二月','三月','四月','五月','六月','七月','八月','九月','十月','冬月','腊月'];
var DIGITS = ['','一','二','三','四','五','六','七','八','九','十'];
function lunarDay(d){ return d <= 10 ? '初' + DIGITS[d] : d < 20 ? '十' + DIGITS[d - 10] : d === 20 ? '二十' :
  d < 30 ? '廿' + DIGITS[d - 20] : '三十'; }
function lunarText(a, b){  // 12-15, 01-16: 腊月十五至正月十六 (lunar 12/15 to 1/16)
  function one(t){ var m = /^(\\d{2})-(\\d{2})$/.exec(t || ''); if (!m || +m[1] < 1 || +m[1] > 12 || +m[2] < 1 || +m[2] > 30) return null;
    return en ? (+m[1]) + '/' + (+m[2]) : MONTHS[+m[1] - 1] + lunarDay(+m[2]); }
  var x = one(a), y = one(b);
  return x && y ? (en ? 'lunar ' + x + ' to ' + y : x + '至' + y) : '';
}
function dates(a, b){ return (!a && !b) ? (en ? 'not set' : '未设定') : (a || '…') + (en ? ' to ' : ' 至 ') + (b || '…'); }
function line(cls, name, text){ return '<br><span class="' + cls + '">' + esc(name) + (en ? ': ' : '：') + esc(text) + '</span>'; }
var siteLayers = {};  // 'layer/id' -> its Leaflet layer: both layers number their features from 1
function keyOf(layer, id){ return layer + '/' + id; }
function editable(layer){ return (D.edit || []).indexOf(layer) >= 0; }
function popup(f){
  var p = f.properties, fest = p._layer === 'festival_sales_points';
  var out = '<div class="site-popup" data-layer="' + p._layer + '" data-id="' + p.id + '"><b>' + esc(p.name) + '</b>' +
    (fest ? ' <small>' + esc(D.L.festival) + '</small>' : '') + '<br>' +
    (p.capacity != null ? esc(p.capacity) + (en ? ' stalls' : ' 个摊位') : '') + (p.goods ? (en ? ', ' : '，') + esc(p.goods) : '') +
    (fest && p.address ? '<br>' + esc(p.address) : '') +
    line('hours', F.hours, p.hours || '—') + line('status', F.status, STATUS[p.status] || p.status || '—') +
    line('valid', en ? 'Valid' : '有效期', dates(p.valid_from, p.valid_to));
  if (fest) {
    out += line('lunar', en ? 'Lunar dates' : '农历', lunarText(p.lunar_from, p.lunar_to) || (en ? 'not set' : '未设定'));
    out += '<br><span class="season">' + esc(p.season !== undefined ? p.season :
      (en ? 'Season: reload the page to see it worked out' : '开放期：刷新页面后重新计算')) + '</span>';
  }
  if (editable(p._layer) && !D.print) {
    var call = '(' + p.id + (fest ? ",'festival_sales_points'" : '') + ')';
    out += '<br><button class="edit-fields" onclick="editFields' + call + '">' + (en ? 'Hours, status, dates' : '修改时段、状态、日期') + '</button> ' +
      '<button class="edit-shape" onclick="editSite' + call + '">' + (f.geometry && f.geometry.type === 'Point' ? (en ? 'Move' : '移动') :
      (en ? 'Edit shape' : '修改形状')) + '</button> ' +
      '<button class="delete-site" onclick="deleteSite' + call + '">' + (en ? 'Delete' : '删除') + '</button>';
  }
  return out + '</div>';
}
function bindSite(layer){
  return function(f, l){ f.properties._layer = layer; siteLayers[keyOf(layer, f.properties.id)] = l; l.feature = f; l.bindPopup(popup(f)); };
}
var sites = addLayer(D.L.stall_sites, L.geoJSON(D.sites, {style:{color:'#2e7d32',fillColor:'#66a61e',fillOpacity:.5,weight:2},
  onEachFeature: bindSite('stall_sites')}));
var festival = addLayer(D.L.festival, L.geoJSON(D.festival, {pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:7,color:'#c62828',fillColor:'#ef5350',fillOpacity:.8});},
  style:{color:'#c62828',fillColor:'#ef5350',fillOpacity:.5}, onEachFeature: bindSite('festival_sales_points')}));
var GROUPS = {stall_sites: sites, festival_sales_points: festival};
addLayer(D.L.pois, L.geoJSON(D.pois, {pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:4,color:'#455a64',fillOpacity:.7});},
  onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.name));}}));
var conflicts = addLayer(D.L.violations, L.geoJSON(null, {style:{color:'#c62828',fillColor:'#c62828',fillOpacity:.45,weight:2},
  pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:8,color:'#c62828'});},
  onEachFeature:function(f,l){l.bindTooltip(esc(en?f.properties.message_en:f.properties.message_zh));}}));
// the walking service areas and the people left out, off until asked for: the walk from every open
// site is computed then (a second or so), not each time the page opens
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
function walkAgain(){  // the sites changed: the walks again, from the sites as they are now
  if (!walked) return;
  walked = null; areas.clearLayers(); unserved.clearLayers();
  if (MAP.hasLayer(areas) || MAP.hasLayer(unserved)) loadWalks();
}
MAP.on('overlayadd', function(e){ if (e.layer === areas || e.layer === unserved) loadWalks(); });
"""

EDIT_JS = """
var deletedLayers = {};  // 'layer/id' -> the deleted site's Leaflet layer, drawn as it was
function deletedPopup(p){
  return '<b>' + esc(p.name) + '</b> ' + (en ? '(deleted)' : '（已删除）') + '<br>' + (en ? 'Deleted by ' : '删除人：') + esc(p.deleted_by) +
    (en ? ', ' : '，') + esc(p.deleted_at) +
    '<br><span class="deleted-reason">' + (en ? 'Reason: ' : '理由：') + esc(p.reason || (en ? 'none given' : '未填写')) + '</span>' +
    '<br><button class="restore-site" onclick="restoreSite(' + p.site +
    (p.layer === 'stall_sites' ? '' : ",'" + p.layer + "'") + ')">' + (en ? 'Restore' : '恢复') + '</button>';
}
var deleted = addLayer(D.L.deleted_sites, L.geoJSON(D.deleted, {
  style:{color:'#757575', weight:2, dashArray:'5 4', fillColor:'#bdbdbd', fillOpacity:.35},
  pointToLayer:function(f,ll){ return L.circleMarker(ll, {radius:7, color:'#757575', dashArray:'3 3', fillColor:'#bdbdbd', fillOpacity:.6}); },
  onEachFeature:function(f,l){ deletedLayers[keyOf(f.properties.layer, f.properties.site)] = l; l.bindPopup(deletedPopup(f.properties)); }}), false);
if (!D.print) {  // no drawing tools on paper
  MAP.pm.addControls({position:'topleft', drawMarker:false, drawCircleMarker:false, drawPolyline:false, drawCircle:false,
    drawText:false, cutPolygon:false, rotateMode:false, dragMode:false, removalMode:false, editMode:false,
    drawPolygon: editable('stall_sites'), drawRectangle: editable('stall_sites')});
}
MAP.pm.setLang(en ? 'en' : 'zh');
if (!D.print && editable('festival_sales_points')) {  // a new festival point: a point placed with its own tool
  MAP.pm.Toolbar.copyDrawControl('CircleMarker', {name: 'FestivalPoint', block: 'draw',
    title: en ? 'New festival point' : '新增春节销售点', className: 'leaflet-pm-icon-circle-marker geo-festival-point'});
  MAP.pm.Draw.FestivalPoint.setOptions({pathOptions: {radius: 7, color: '#c62828', fillColor: '#ef5350', fillOpacity: .8}});
}
function $(id){ return document.getElementById(id); }
function showViolations(problem){
  conflicts.clearLayers(); var list = $('violations'); list.innerHTML = '';
  (problem.violations||[]).forEach(function(v){
    list.insertAdjacentHTML('beforeend', '<li>' + esc(en ? v.message_en : v.message_zh) + '</li>');
    if (v.geometry) { conflicts.addData({type:'Feature', geometry:v.geometry, properties:v}); }
  });
  (problem.unchecked||[]).forEach(function(u){ list.insertAdjacentHTML('beforeend', '<li>' + esc(en ? u.reason_en : u.reason_zh) + '</li>'); });
}
// --- every write: the API's answer, a refusal as the API words it, an override where the role may ---
var offered = null;  // the refused write an override would send again, and the rules it names
function overridable(problem){  // the rules a refusal names that an override may pass (never the district)
  var ids = [];
  (problem.violations || []).concat(problem.unchecked || []).forEach(function(v){
    if (v.rule && v.rule !== 'district' && ids.indexOf(v.rule) < 0) ids.push(v.rule); });
  return ids;
}
function hideOverride(){ offered = null; $('override').style.display = 'none'; $('override-note').style.display = 'none'; $('override-reason').value = ''; }
function offerOverride(req, rules, problem){
  if (!D.can_override) { $('override').style.display = 'none'; $('override-note').style.display = 'block'; return; }
  var titles = {};
  (problem.violations || []).forEach(function(v){ titles[v.rule] = en ? v.title_en : v.title_zh; });
  $('override-rules').textContent = '(' + rules.map(function(r){ return titles[r] || r; }).join(en ? ', ' : '、') + ')';
  offered = {req: req, rules: rules};
  $('override-note').style.display = 'none'; $('override').style.display = 'block';
}
function write(req){
  var url = req.url;
  if (req.override) url += (url.indexOf('?') < 0 ? '?' : '&') + 'override=' + encodeURIComponent(req.override.join(',')) +
    '&reason=' + encodeURIComponent(req.reason);
  var headers = {}, body;
  if (req.body) { body = JSON.stringify(req.body()); headers['Content-Type'] = 'application/geo+json'; }
  if (req.version != null) headers['If-Match'] = '"' + req.version + '"';
  msg(en ? 'Saving…' : '正在保存…');
  return fetch(url, {method: req.method, credentials: 'same-origin', headers: headers, body: body})
    .then(function(r){ return r.text().then(function(t){ var j = {}; try { j = t ? JSON.parse(t) : {}; } catch (e) { j = {}; }
      return {status: r.status, body: j}; }); })
    .then(function(res){
      if (res.status < 300) { hideOverride(); conflicts.clearLayers(); $('violations').innerHTML = ''; req.done(res.body); walkAgain(); }
      else refused(req, res);
    }, function(){ msg(en ? 'The service did not answer: nothing was saved.' : '服务无应答，未保存任何修改。', true); });
}
function refused(req, res){
  var b = res.body || {};
  var text = (en ? b.detail_en : b.detail_zh) || (en ? 'Refused (HTTP ' + res.status + ')' : '被拒绝（HTTP ' + res.status + '）');
  if (res.status === 409) text += en ? ' Reload the page to see the current version.' : ' 请刷新页面查看最新版本后再改。';
  msg(esc(text), true);
  showViolations(b);
  if (req.fail) req.fail(res);
  var rules = overridable(b);
  if (res.status === 400 && rules.length) offerOverride(req, rules, b);
  else if (!(req.override && (b.field === 'reason' || b.field === 'override'))) hideOverride();  // else: the reason to fix
}
$('override-send').onclick = function(){
  if (!offered) return;
  var again = {};
  for (var k in offered.req) again[k] = offered.req[k];
  again.override = offered.rules; again.reason = $('override-reason').value;
  write(again);
};
$('override-cancel').onclick = function(){ hideOverride(); msg(''); };
function seasonSaid(p, saved){  // a festival point's season as the API's answer tells it today (its dates may have changed)
  var s = saved.season_today;
  if (s) p.season = en ? s.season_en : s.season_zh; else delete p.season;
}
function addSite(layer, saved, geometry){  // drawn where the page drew it (GCJ-02 under AMap), as the API saved it
  var props = saved.properties; props.id = saved.id; props._version = saved.version; seasonSaid(props, saved);
  GROUPS[layer].addData({type:'Feature', geometry: geometry || saved.geometry, properties: props});
}
function savedText(p){ return (en ? 'Saved “' : '已保存「') + esc(p.name) + (en ? '”, version ' : '」，版本 '); }
// --- a new zone ---
var pending = null, editing = null, fielded = null;
function whatIf(geometry){
  fetch('/coverage/what-if', {method:'POST', headers:{'Content-Type':'application/json'}, credentials:'same-origin',
    body: JSON.stringify({add:[geometry], crs: D.crs})}).then(function(r){return r.ok?r.json():null;}).then(function(w){
      if (!w) return; $('whatif').innerHTML = (en?'Served within 500 m on foot: ':'步行 500 米服务人口：') +
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
  if (e.shape === 'FestivalPoint') { placedPoint(e.layer); return; }
  if (e.shape !== 'Polygon' && e.shape !== 'Rectangle') { e.layer.remove(); msg(en?'A stall zone must be a polygon.':'摊区必须是面（多边形）。', true); return; }
  if (pending) pending.remove();
  cancelPoint(); hideOverride(); $('attr-form').style.display = 'none'; fielded = null;
  pending = e.layer; $('form').style.display = 'block'; msg(''); whatIf(pending.toGeoJSON().geometry);
  var where = districtAt(pending.getBounds().getCenter());  // filed under the district it is drawn in
  if (where) $('f-district').value = where;
});
$('cancel').onclick = function(){ if (pending) { pending.remove(); pending = null; } $('form').style.display = 'none'; hideOverride(); };
$('save').onclick = function(){
  if (!pending) return;
  var drawn = pending;
  write({method: 'POST', url: '/collections/stall_sites/items?crs=' + encodeURIComponent(D.crs),
    body: function(){ return {type:'Feature', geometry: drawn.toGeoJSON().geometry, properties: {
      name: $('f-name').value, capacity: parseInt($('f-cap').value, 10), goods: $('f-goods').value, district: $('f-district').value}}; },
    done: function(saved){
      var geometry = drawn.toGeoJSON().geometry; drawn.remove(); if (pending === drawn) pending = null;
      addSite('stall_sites', saved, geometry); $('form').style.display = 'none';
      msg((en ? 'Saved as zone #' : '已保存，编号 ') + saved.id + (en ? ', version ' : '，版本 ') + saved.version);
    }});
};
// --- a new festival point ---
var placed = null;  // the point placed and not yet saved
var POINT_FIELDS = ['address', 'capacity', 'goods', 'hours', 'lunar_from', 'lunar_to', 'valid_from', 'valid_to'];
function cancelPoint(){
  if (placed) { placed.remove(); placed = null; }
  if ($('fest-form')) $('fest-form').style.display = 'none';
}
function placedPoint(layer){
  cancelPoint(); if (pending) { pending.remove(); pending = null; }
  $('form').style.display = 'none'; hideOverride(); $('attr-form').style.display = 'none'; fielded = null;
  placed = layer; $('fest-form').style.display = 'block'; msg('');
  var where = districtAt(layer.getLatLng());  // filed under the district it is placed in
  if (where) $('fp-district').value = where;
}
if ($('fest-form')) {
  $('fest-cancel').onclick = function(){ cancelPoint(); hideOverride(); };
  $('fest-save').onclick = function(){
    if (!placed) return;
    var point = placed;
    // the name as typed (blank too, for the API to say it is needed); other fields left blank are not sent
    var props = {name: $('fp-name').value, district: $('fp-district').value, status: $('fp-status').value};
    POINT_FIELDS.forEach(function(k){
      var typed = $('fp-' + k).value.trim();
      if (typed !== '') props[k] = k === 'capacity' ? Number(typed) : typed;
    });
    write({method: 'POST', url: '/collections/festival_sales_points/items?crs=' + encodeURIComponent(D.crs),
      body: function(){ return {type: 'Feature', geometry: point.toGeoJSON().geometry, properties: props}; },
      done: function(saved){
        var geometry = point.toGeoJSON().geometry; point.remove(); if (placed === point) placed = null;
        addSite('festival_sales_points', saved, geometry); $('fest-form').style.display = 'none';
        var s = saved.season_today;
        msg((en ? 'Saved as festival point #' : '已保存，春节销售点编号 ') + saved.id + (en ? ', version ' : '，版本 ') + saved.version +
          (s ? (en ? '. ' : '。') + esc(en ? s.season_en : s.season_zh) : ''));
      }});
  };
}
// --- a site's hours, status and dates ---
var FIELDS = ['hours', 'status', 'valid_from', 'valid_to', 'lunar_from', 'lunar_to'];
window.editFields = function(id, layer){
  layer = layer || 'stall_sites';
  var l = siteLayers[keyOf(layer, id)]; if (!l) return;
  MAP.closePopup(); fielded = l; hideOverride();
  var p = l.feature.properties;
  $('attr-title').textContent = (en ? 'Edit: ' : '修改：') + p.name;
  FIELDS.forEach(function(k){ $('a-' + k).value = p[k] == null ? '' : p[k]; });
  $('a-lunar').style.display = layer === 'festival_sales_points' ? '' : 'none';
  $('attr-form').style.display = 'block'; msg('');
};
$('attr-cancel').onclick = function(){ fielded = null; $('attr-form').style.display = 'none'; hideOverride(); };
$('attr-save').onclick = function(){
  var l = fielded; if (!l) return;
  var f = l.feature, p = f.properties, layer = p._layer, changed = {};
  FIELDS.slice(0, layer === 'festival_sales_points' ? 6 : 4).forEach(function(k){
    var typed = $('a-' + k).value.trim(), was = p[k] == null ? '' : String(p[k]);
    // an emptied date is cleared; an emptied time is sent as typed, for the API to say what it wants
    if (typed !== was) changed[k] = (typed === '' && k !== 'hours') ? null : typed;
  });
  if (!Object.keys(changed).length) { msg(en ? 'Nothing changed.' : '没有修改。'); return; }
  write({method: 'PATCH', url: '/collections/' + layer + '/items/' + p.id, version: p._version,
    body: function(){ return {properties: changed}; },
    done: function(saved){
      Object.keys(saved.properties).forEach(function(k){ p[k] = saved.properties[k]; });
      p._version = saved.version; seasonSaid(p, saved);
      if (l.getPopup()) l.setPopupContent(popup(f));
      if (fielded === l) { fielded = null; $('attr-form').style.display = 'none'; }
      msg(savedText(p) + saved.version);
    }});
};
// --- a site's shape (a zone's corners, a point's place) ---
window.editSite = function(id, layer){
  layer = layer || 'stall_sites';
  var l = siteLayers[keyOf(layer, id)]; if (!l || editing === l) return; MAP.closePopup(); editing = l;
  l.pm.enable({allowSelfIntersection:false});
  msg(l.getLatLngs ? (en ? 'Drag the corners, then click the zone again to save.' : '拖动顶点，完成后再次点击摊区保存。')
    : (en ? 'Drag the point, then click it again to save.' : '拖动该点，完成后再次点击保存。'));
  l.unbindPopup(); l.on('click', saveEdit);
};
function doneEditing(l){  // back to a site that opens its popup when clicked
  l.pm.disable(); l.off('click', saveEdit); l.bindPopup(popup(l.feature)); if (editing === l) editing = null;
}
function saveEdit(e){
  var l = e.target, p = l.feature.properties;
  // only the shape changes: PATCH keeps every other field (dates, status) as stored
  write({method: 'PATCH', url: '/collections/' + p._layer + '/items/' + p.id + '?crs=' + encodeURIComponent(D.crs), version: p._version,
    body: function(){ return {geometry: l.toGeoJSON().geometry}; },
    done: function(saved){ p._version = saved.version; seasonSaid(p, saved); doneEditing(l); msg(savedText(p) + saved.version); },
    fail: function(res){ if (res.status === 409) doneEditing(l); }});  // else still editing: fix and click again
}
// --- delete, restore ---
window.deleteSite = function(id, layer){
  layer = layer || 'stall_sites';
  var k = keyOf(layer, id), l = siteLayers[k]; if (!l) return;
  var p = l.feature.properties;
  // the reason is kept in the site's history; sent as typed, blank too, for the API to say one is needed
  var reason = window.prompt(en ? 'Delete “' + p.name + '”: why? (required, kept in its history; it can be restored afterwards)' :
    '删除「' + p.name + '」的理由（必填，记入历史；删除后可以恢复）：', '');
  if (reason === null) return;  // cancelled
  MAP.closePopup();
  write({method: 'DELETE', url: '/collections/' + layer + '/items/' + id + '?reason=' + encodeURIComponent(reason), version: p._version,
    done: function(){
      var geometry = l.toGeoJSON().geometry;
      if (editing === l) doneEditing(l);
      if (fielded === l) { fielded = null; $('attr-form').style.display = 'none'; }
      GROUPS[layer].removeLayer(l); delete siteLayers[k];
      deleted.addData({type:'Feature', geometry: geometry, properties: {site: id, layer: layer, name: p.name,
        deleted_by: en ? 'you' : '您', deleted_at: en ? 'just now' : '刚才', reason: reason.trim()}});
      msg((en ? 'Deleted “' : '已删除「') + esc(p.name) + (en ? '”. ' : '」。') + '<button id="undo-delete" onclick="restoreSite(' + id +
        (layer === 'stall_sites' ? '' : ",'" + layer + "'") + ')">' + (en ? 'Restore' : '恢复') + '</button>');
    }});
};
window.restoreSite = function(id, layer){
  layer = layer || 'stall_sites';
  var k = keyOf(layer, id);
  MAP.closePopup();
  write({method: 'POST', url: '/collections/' + layer + '/items/' + id + '/restore',
    done: function(back){
      var gone = deletedLayers[k], geometry = gone ? gone.toGeoJSON().geometry : null;
      if (gone) { deleted.removeLayer(gone); delete deletedLayers[k]; }
      addSite(layer, back, geometry);
      msg((en ? 'Restored “' : '已恢复「') + esc(back.properties.name) + (en ? '”, version ' : '」，版本 ') + back.version);
    }});
};
"""

FINISH_JS = """
finishLayers();
MAP.fitBounds(sites.getBounds(), {maxZoom: 15});
"""
