"""Map furniture for screen and paper: A4 pages without the interactive controls, a title block, a
north arrow, a metric scale, the attribution line, and times written as Beijing time (2026-12-06 15:00).

A page is drawn either for a screen (zoom buttons, layer switch, drawing tools, forms) or for a print
(PNG or PDF through headless Chromium). The print variant leaves the controls out; the screen variant
hides them when someone prints it from the browser, with the same stylesheet.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlencode

import folium

from geo_service.errors import GeoServiceError
from geo_service.maps.markup import Raw

__all__ = [
    "MARGIN_MM",
    "PAPER",
    "Orientation",
    "add_north_arrow",
    "add_title_block",
    "beijing",
    "beijing_label",
    "clock",
    "language_href",
    "page_mm",
    "page_px",
    "print_css",
    "print_links",
    "printed_line",
    "workspace_notice",
]

TZ = dt.timezone(dt.timedelta(hours=8))
Orientation = Literal["portrait", "landscape"]
A4_MM: dict[str, tuple[int, int]] = {"portrait": (210, 297), "landscape": (297, 210)}
MARGIN_MM = 10
_PX_PER_MM = 96 / 25.4  # CSS pixels
#: the A4 page each map prints on: the city's maps are wider than tall, a crew's route sheet a list
PAPER: dict[str, Orientation] = {"plan": "landscape", "coverage": "landscape", "route": "portrait"}

# what a print never shows: controls for a mouse or a finger, links, forms
_INTERACTIVE = (
    ".leaflet-control-zoom",
    ".leaflet-control-layers",
    ".leaflet-pm-toolbar",
    ".geo-screen-only",
)


def page_mm(orientation: Orientation) -> tuple[int, int]:
    """The printable area of an A4 page (inside the margins of its ``@page`` rule) in millimetres:
    190 × 277 portrait, 277 × 190 landscape."""
    w, h = A4_MM[orientation]
    return w - 2 * MARGIN_MM, h - 2 * MARGIN_MM


def page_px(orientation: Orientation) -> tuple[int, int]:
    """The printable area of an A4 page (inside the margins) in CSS pixels: the window a print is
    laid out in, so that the map drawn on screen is the map on paper."""
    w, h = page_mm(orientation)
    return round(w * _PX_PER_MM), round(h * _PX_PER_MM)


def print_css(orientation: Orientation, *, printing: bool) -> str:
    """The stylesheet for paper: A4 with margins; controls, links and forms hidden; title block and north
    arrow shown. A print variant (``printing``) applies it on screen too (the PNG is a screenshot)."""
    paper = (
        f"@page{{size:A4 {orientation};margin:{MARGIN_MM}mm}}"
        "@media print{html,body{-webkit-print-color-adjust:exact;print-color-adjust:exact}}"
    )
    rules = (
        f"{','.join(_INTERACTIVE)}{{display:none !important}}"
        ".geo-print-only{display:block !important}"
        ".geo-panel,.leaflet-control{box-shadow:none !important;border:1px solid #999}"
    )
    base = (
        ".geo-print-only{display:none}"
        ".geo-title{position:absolute;z-index:1000;top:10px;right:64px;background:#fff;padding:4px 10px;"
        "border:1px solid #999;border-radius:4px;max-width:420px;text-align:right}"
        ".geo-title b{font-size:16px}.geo-title div{font-size:12px}"
        ".geo-north{position:absolute;z-index:1000;top:10px;right:10px;width:40px;background:#fff;"
        "border:1px solid #999;border-radius:4px;text-align:center;padding:2px 0}"
    )
    return f"<style>{paper}{base}{rules if printing else ''}@media print{{{rules}}}</style>"


def beijing(value: Any) -> str:
    """A time as people here write it: ``2026-12-06 15:00``, in Beijing time (a naive time already is).
    Text that is not a time comes back as it was; nothing gives ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    moment = value
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value
    if hasattr(moment, "to_pydatetime"):  # pandas Timestamp
        if moment != moment:  # NaT
            return ""
        moment = moment.to_pydatetime()
    if not isinstance(moment, dt.datetime):
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(TZ)
    return moment.strftime("%Y-%m-%d %H:%M")


def beijing_label(value: Any, lang: str) -> str:
    """:func:`beijing` with the zone said: ``2026-12-06 15:00（北京时间）`` / ``… (Beijing time)``."""
    return f"{beijing(value)} (Beijing time)" if lang == "en" else f"{beijing(value)}（北京时间）"


def clock(moment: dt.datetime, start: dt.datetime, lang: str) -> str:
    """The time of day of ``moment`` on a schedule that begins at ``start``, in Beijing time: ``05:16``
    on the starting day, ``次日 05:16`` / ``next day 05:16`` on the day after (a night plan runs past
    midnight), and the date from the second day after (``2026-12-08 01:00``).

    >>> start = dt.datetime(2026, 12, 5, 22, 30, tzinfo=TZ)
    >>> clock(start + dt.timedelta(hours=7), start, "zh")
    '次日 05:30'
    """
    moment, start = moment.astimezone(TZ), start.astimezone(TZ)
    days = (moment.date() - start.date()).days
    if days == 0:
        return moment.strftime("%H:%M")
    if days == 1:
        return moment.strftime("next day %H:%M" if lang == "en" else "次日 %H:%M")
    return beijing(moment)


def printed_line(lang: str) -> str:
    """When the page was drawn, for its title block: ``打印于 2026-12-06 15:00（北京时间）``."""
    now = dt.datetime.now(TZ)
    return f"Printed {beijing_label(now, lang)}" if lang == "en" else f"打印于 {beijing_label(now, lang)}"


def language_href(path: str, query: Mapping[str, str], lang: str) -> str:
    """The same page in the other language, as an HTML attribute value (the query is the visitor's own
    text: encoded and escaped, never written into the page as it came)."""
    params = dict(query)
    params["lang"] = "en" if lang == "zh" else "zh"
    return html.escape(path + "?" + urlencode(params), quote=True)


def print_links(path: str, query: Mapping[str, str], lang: str, **fixed: str) -> str:
    """Links to this page as PDF and PNG (same query, language and ``fixed`` values), for the screen."""
    params = {**query, **fixed, "lang": lang}
    hrefs = {fmt: html.escape(f"{path}.{fmt}?{urlencode(params)}", quote=True) for fmt in ("pdf", "png")}
    # saved under the name the service gives (Content-Disposition); the address alone opens it inline
    links = " ".join(
        f"<a id='print-{fmt}' href='{href}' download>{fmt.upper()}</a>" for fmt, href in hrefs.items()
    )
    return f"<span class='geo-screen-only'>{'Print' if lang == 'en' else '打印'} {links}</span>"


def add_title_block(m: folium.Map, title: str, lines: list[str]) -> None:
    """The map's title and what it shows (time, source), printed top right; escaped here."""
    rows = "".join(f"<div>{html.escape(line)}</div>" for line in lines if line)
    page: Any = m.get_root()  # a branca Figure
    page.html.add_child(
        Raw(f'<div class="geo-title geo-print-only" id="map-title"><b>{html.escape(title)}</b>{rows}</div>')
    )


def add_north_arrow(m: folium.Map, lang: str) -> None:
    """A north arrow for paper (the map is always north-up)."""
    letter = "N" if lang == "en" else "北"
    page: Any = m.get_root()  # a branca Figure
    page.html.add_child(
        Raw(
            f'<div class="geo-north geo-print-only" id="north-arrow" title="{letter}">'
            '<svg width="20" height="26" viewBox="0 0 20 26" aria-hidden="true">'
            '<polygon points="10,0 18,24 10,18 2,24" fill="#222"/></svg>'
            f'<div style="font-size:12px;font-weight:bold;line-height:12px">{letter}</div></div>'
        )
    )


def workspace_notice(ws: Any, lang: str) -> str:
    """'Illustrative data, not surveyed' for a generated workspace (its metadata says so), else ''."""
    try:
        meta = ws.store.get_document("workspace", "metadata")
    except GeoServiceError:
        return ""
    if not meta.get("illustrative"):
        return ""
    return "Illustrative data, not surveyed" if lang == "en" else "示意数据，非测绘成果"
