"""The parts every map shares: an offline folium map (every script and stylesheet served by the
service), the configurable basemap, GCJ-02 overlay shift for AMap, legends, labels in two languages."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element
from shapely.geometry import mapping

from geo_service.crs import wgs84_to_gcj02
from geo_service.errors import InvalidInput
from geo_service.geometry import polygonal
from geo_service.maps.furniture import Orientation, print_css
from geo_service.maps.markup import Raw

__all__ = [
    "LABELS",
    "add_after_map",
    "add_legend",
    "add_panel",
    "base_map",
    "feature_collection",
    "label",
    "page_html",
    "polygonal",
    "root",
    "tile_sources",
]

CENTRE = (35.22, 113.24)

LABELS: dict[str, dict[str, str]] = {
    "districts": {"zh": "行政区", "en": "Districts"},
    "roads": {"zh": "道路", "en": "Roads"},
    "main_roads": {"zh": "主次干道", "en": "Main and secondary roads"},
    "minor_roads": {"zh": "支路小巷", "en": "Branch roads and alleys"},
    "stall_sites": {"zh": "果蔬临时摊位", "en": "Stall sites"},
    "festival": {"zh": "春节销售点", "en": "Spring Festival points"},
    "pois": {"zh": "学校、医院、市场", "en": "Schools, hospitals, markets"},
    "beats_on": {"zh": "在岗网格", "en": "Beats on duty"},
    "beats_off": {"zh": "无人值班网格", "en": "Beats off duty"},
    "gaps": {"zh": "覆盖空白", "en": "Coverage gaps"},
    "overlaps": {"zh": "网格重叠", "en": "Beat overlaps"},
    "cases": {"zh": "待处理案件", "en": "Open cases"},
    "route": {"zh": "行驶路线", "en": "Driven route"},
    "stops": {"zh": "作业点", "en": "Stops"},
    "legend": {"zh": "图例", "en": "Legend"},
    "switch": {"zh": "English", "en": "中文"},
    "violations": {"zh": "选址冲突", "en": "Siting conflicts"},
    "service_areas": {"zh": "步行 500 米服务范围", "en": "Within 500 m on foot"},
    "unserved": {"zh": "500 米内无摊区的人口", "en": "People with no site within 500 m"},
    "deleted_sites": {"zh": "已删除的摊区与销售点", "en": "Deleted sites"},
}


def root(m: folium.Map) -> Any:
    """The page (a ``branca`` Figure) the map is drawn on: its ``header``, ``html`` and ``script``."""
    return m.get_root()


def page_html(m: folium.Map, title: str, lang: str) -> str:
    """The page's HTML, with its title (escaped) and language, which folium leaves out."""
    root(m).header.add_child(Raw(f"<title>{html.escape(title)}</title>"))
    page = m.get_root().render()
    return page.replace("<html>", f'<html lang="{"en" if lang == "en" else "zh-CN"}">', 1)


def label(key: str, lang: str) -> str:
    return LABELS.get(key, {}).get(lang) or LABELS.get(key, {}).get("zh") or key


def _assets(static: str, *, draw: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    js = [("leaflet", f"{static}/vendor/leaflet/leaflet.js")]
    css = [("leaflet_css", f"{static}/vendor/leaflet/leaflet.css")]
    if draw:
        js.append(("geoman", f"{static}/vendor/geoman/leaflet-geoman.min.js"))
        css.append(("geoman_css", f"{static}/vendor/geoman/leaflet-geoman.css"))
    return js, css


_TILE_HOSTS = {
    "tianditu": ("https://*.tianditu.gov.cn",),
    "amap": ("https://*.is.autonavi.com",),
    "osm": ("https://tile.openstreetmap.org", "https://*.tile.openstreetmap.org"),
}


_LOCAL_SUBDOMAINS = "abc"  # Leaflet's (and folium's) default for {s} in a tile URL


def tile_sources(settings: Any) -> tuple[str, ...]:
    """Where the configured basemap's tiles come from, as Content-Security-Policy sources (none for the
    vector basemap, or tiles the service itself serves)."""
    if settings.basemap != "local":
        return _TILE_HOSTS.get(settings.basemap, ())
    url = urlsplit(str(settings.basemap_url or ""))
    if not url.scheme or not url.netloc:
        return ()  # a path on the service itself: 'self'
    host = url.netloc
    if "{s}" not in host:
        return (f"{url.scheme}://{host}",)
    if host.startswith("{s}."):  # a whole leftmost label: one wildcard source
        return (f"{url.scheme}://*.{host[4:]}",)
    # inside a label (t{s}.tiles.local) a CSP wildcard is not allowed: each of Leaflet's subdomains
    return tuple(f"{url.scheme}://{host.replace('{s}', sub)}" for sub in _LOCAL_SUBDOMAINS)


def base_map(
    settings: Any,
    *,
    static: str = "/static",
    draw: bool = False,
    zoom: int = 13,
    centre: Sequence[float] = CENTRE,
    printing: bool = False,
    orientation: Orientation = "landscape",
    attribution: str = "",
) -> folium.Map:
    """A folium map whose scripts come from the service, with the configured basemap underneath.

    ``printing`` draws it for paper (no zoom buttons; the page leaves out its other controls), on an A4
    page of ``orientation``; ``attribution`` (plain text) joins the basemap's in the corner."""
    m = folium.Map(
        location=list(centre),
        zoom_start=zoom,
        tiles=None,
        control_scale=False,  # folium's scale shows miles too: a metric one is added below
        zoom_control=not printing,
        prefer_canvas=False,
    )
    m.default_js, m.default_css = _assets(static, draw=draw)
    kind = settings.basemap
    if kind == "local":
        if not settings.basemap_url:
            raise InvalidInput(
                "本地瓦片底图需要 GEO_BASEMAP_URL",
                "A local tile basemap needs GEO_BASEMAP_URL",
                field="basemap_url",
            )
        folium.TileLayer(
            settings.basemap_url,
            attr="本地瓦片 / local tiles",
            name="底图 / basemap",
            subdomains=_LOCAL_SUBDOMAINS,
        ).add_to(m)
    elif kind == "tianditu":
        if not settings.tianditu_key:
            raise InvalidInput(
                "天地图底图需要 GEO_TIANDITU_KEY",
                "A Tianditu basemap needs GEO_TIANDITU_KEY",
                field="tianditu_key",
            )
        url = (
            "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default"
            f"&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={settings.tianditu_key}"
        )
        folium.TileLayer(url, attr="天地图", name="天地图", subdomains="01234567").add_to(m)
    elif kind == "amap":
        folium.TileLayer(
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            attr="高德地图 (GCJ-02)",
            name="高德",
            subdomains="1234",
        ).add_to(m)
    elif kind == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(m)
    root(m).header.add_child(
        Raw(
            "<style>html,body{margin:0;height:100%;font-family:'Noto Sans CJK SC','Noto Sans',sans-serif}"
            # a panel leaves room for the zoom buttons on its left and the layer switch on its right,
            # which on a phone (390 px) it covered
            ".geo-panel{position:absolute;z-index:1000;background:#fff;padding:6px 10px;border-radius:4px;"
            "box-shadow:0 1px 4px rgba(0,0,0,.3);font-size:13px;max-width:min(320px,calc(100vw - 134px))}"
            ".geo-panel.leaflet-control{position:relative;margin-right:10px}"
            # the attribution (with the workspace's notice) wraps beside the scale bar rather than over it
            ".leaflet-control-attribution{max-width:calc(100vw - 125px)}"
            ".geo-legend i{display:inline-block;width:14px;height:10px;margin-right:6px;border:1px solid #555}"
            ".geo-msg{color:#b71c1c}</style>" + print_css(orientation, printing=printing)
        )
    )
    note = (
        f"MAP.attributionControl.addAttribution({data_json(html.escape(attribution))});"
        if attribution
        else ""
    )
    # Leaflet's prefix is a link with a flag picture; the name is enough (and nothing to fetch)
    script(
        m,
        "L.control.scale({imperial: false}).addTo(MAP); MAP.attributionControl.setPrefix('Leaflet');"
        f"{note}\n// title block and north arrow sit on the map, whatever else the page holds\n"
        "document.querySelectorAll('.geo-title,.geo-north').forEach(function(el){ MAP.getContainer().appendChild(el); });\n"
        "// the legend is a control of the bottom right corner: Leaflet stacks it above the attribution\n"
        "document.querySelectorAll('.geo-legend').forEach(function(el){ var c = L.control({position: 'bottomright'});\n"
        "  c.onAdd = function(){ L.DomEvent.disableClickPropagation(el); L.DomEvent.disableScrollPropagation(el);"
        " return el; }; c.addTo(MAP); });",
    )
    return m


def _round(geom: shapely.Geometry, tolerance: float) -> shapely.Geometry:
    if tolerance > 0:
        geom = shapely.simplify(geom, tolerance, preserve_topology=True)
    return shapely.transform(geom, lambda xy: np.round(xy, 6))  # display only: rounding may touch validity


def feature_collection(
    frame: gpd.GeoDataFrame,
    *,
    columns: Sequence[str] = (),
    tolerance: float = 0.0,
    shift_gcj02: bool = False,
    extra: Mapping[int, Mapping[str, Any]] | None = None,
    areas_only: bool = False,
) -> dict[str, Any]:
    """A compact GeoJSON of a frame: chosen columns, simplified, rounded to 1e-6°, shifted for AMap.

    With ``areas_only`` a feature keeps only its polygons (see :func:`polygonal`) and one with none is
    left out: a stray point would be drawn as a marker pin."""
    if len(frame) == 0 or not isinstance(frame, gpd.GeoDataFrame):
        return {"type": "FeatureCollection", "features": []}
    if areas_only:
        kept = [polygonal(g) for g in frame.geometry]
        frame = frame.set_geometry(gpd.GeoSeries(kept, index=frame.index, crs=frame.crs))
        frame = frame[[g is not None for g in kept]]
        if len(frame) == 0:
            return {"type": "FeatureCollection", "features": []}
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    if len(geoms):
        geoms = np.array([_round(g, tolerance) for g in geoms], dtype=object)
        if shift_gcj02:
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    feats = []
    for fid, geom, (_, row) in zip(frame.index, geoms, frame.iterrows(), strict=True):
        props = {c: _plain(row[c]) for c in columns if c in row}
        props["id"] = int(fid) if isinstance(fid, int | np.integer) else str(fid)
        if extra and fid in extra:
            props.update(extra[fid])
        feats.append({"type": "Feature", "geometry": mapping(geom), "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value


def add_legend(
    m: folium.Map, items: Sequence[tuple[str, str, str]], lang: str, *, switch_href: str | None = None
) -> None:
    """A legend (colour, dash style, label) and the language switch (when the page has none of its own),
    bottom right above the attribution (a control of that corner, so that neither covers the other on
    a narrow screen)."""
    rows = "".join(
        f'<div><i style="background:{c};{s}"></i>{html.escape(name)}</div>' for c, s, name in items
    )
    switch = (
        f'<div class="geo-screen-only" style="margin-top:4px">'
        f'<a id="lang-switch" href="{switch_href}">{label("switch", lang)}</a></div>'
        if switch_href is not None
        else ""
    )
    root(m).html.add_child(
        Raw(
            f'<div class="geo-panel geo-legend" id="legend"><b>{label("legend", lang)}</b>{rows}{switch}</div>'
        )
    )


class _AfterMap(Element):
    """HTML that the page body holds after the map's own ``<div>``: folium writes that ``<div>`` into
    the body when the page renders, after everything added before; this element, a later child of the
    page, adds its HTML when it renders, so after the map."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        page: Any = self.get_root()  # the branca Figure
        page.html.add_child(Raw(self.text), name=f"{self.get_name()}_html")
        return ""


def add_after_map(m: folium.Map, text: str) -> None:
    """Put ``text`` (HTML, escaped where it needs to be) into the page body after the map (a crew's
    stop list, which on paper follows the map)."""
    root(m).add_child(_AfterMap(text))


def add_panel(
    m: folium.Map, html: str, *, where: str = "top:10px;left:50px", panel_id: str = "panel"
) -> None:
    root(m).html.add_child(Raw(f'<div class="geo-panel" id="{panel_id}" style="{where}">{html}</div>'))


def script(m: folium.Map, code: str) -> None:
    """JavaScript run after the map and its layers exist (``MAP`` is the Leaflet map)."""
    root(m).script.add_child(
        Raw(
            f"window.addEventListener('load', function() {{\nvar MAP = {m.get_name()}; window.GEO_MAP = MAP;\n{code}\n}});"
        )
    )


def data_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")
