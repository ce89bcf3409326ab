"""What every map page's script starts from: escaping, messages, the list of layers (and the layer
switch on screen), and the vector basemap of districts and roads drawn under the page's own layers;
with the data it reads (``D``), shifted to GCJ-02 when the basemap is AMap's."""

from __future__ import annotations

from typing import Any

from geo_service.maps.base import feature_collection, label

__all__ = ["PAGE_JS", "gcj02_overlays", "page_data"]

PAGE_JS = """
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


def gcj02_overlays(settings: Any) -> bool:
    """Whether the page's layers are shifted to GCJ-02 (under AMap's tiles, which are)."""
    return settings.basemap == "amap"


def page_data(ws: Any, lang: str, *, with_minor: bool) -> dict[str, Any]:
    """The data every page's script reads: districts and main roads (``with_minor``: the other roads,
    drawn from zoom 15), layer names in ``lang``, and the CRS the page's coordinates are in."""
    roads = ws.frame("roads")
    shift = gcj02_overlays(ws.settings)
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
                "service_areas",
                "unserved",
                "deleted_sites",
            )
        },
        "lang": lang,
        "crs": "gcj02" if shift else "EPSG:4326",
    }
    if with_minor:
        minor = roads[~roads["road_class"].isin(["main", "secondary"])]
        data["roads_minor"] = feature_collection(minor, columns=[], tolerance=0.00005, shift_gcj02=shift)
    return data
