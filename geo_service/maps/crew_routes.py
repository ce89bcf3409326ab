"""A crew's own start page on a phone: its routes in the stored snow plans, newest plan first, each with
its start (Beijing time) and a link to the route map of the whole crew and of each of its vehicles, the
printable sheet and the GPX."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from geo_service.maps.furniture import beijing_label, language_href

__all__ = ["crew_routes_page"]

_INTRO = (
    "最新的方案在前；可打开全班组或单辆车的路线图。",
    "Newest plan first; open a route map for the whole crew or one vehicle.",
)


def _href(path: str, **params: str) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return html.escape(path + (f"?{query}" if query else ""), quote=True)


def _plan_notes(plan: Mapping[str, Any], en: bool) -> str:
    """What a crew must know before opening a plan's map: what was closed, how many items nobody serves."""
    parts = []
    closures = [str(c) for c in plan.get("closures") or ()]
    if closures:
        parts.append(
            f"<span class='closures'>{'Closed: ' if en else '封闭：'}"
            f"{html.escape((', ' if en else '、').join(closures))}</span>"
        )
    if plan.get("unserved"):
        n = int(plan["unserved"])
        parts.append(f"<span class='unserved'>{f'{n} item(s) not served' if en else f'{n} 处未作业'}</span>")
    return "".join(f"<br>{p}" for p in parts)


def crew_routes_page(
    crew: str,
    plans: Sequence[Mapping[str, Any]],
    *,
    lang: str = "zh",
    query: Mapping[str, str] | None = None,
    more: bool = False,
) -> str:
    """The page listing ``plans`` (each: ``id``, ``title``, ``start`` as ISO text, and ``vehicles``: the
    crew's, each a mapping with ``vehicle`` and ``stops``; optionally ``closures``, the names of what was
    closed, and ``unserved``, how many items the plan could not serve), in the order given.

    ``more``: older plans exist that the list leaves out."""
    en = lang == "en"
    page_path = f"/maps/crews/{quote(crew)}"
    heading = f"{crew} · {'Snow and flood routes' if en else '除雪防汛路线'}"
    rows = []
    for plan in plans:
        base = f"/maps/route/{quote(str(plan['id']))}/{quote(crew)}"
        plans_base = f"/plans/snow/{quote(str(plan['id']))}/crews/{quote(crew)}"
        vehicles = list(plan["vehicles"])
        stops = sum(int(v["stops"]) for v in vehicles)
        links = [f"<a class='route' href='{_href(base, lang=lang)}'>{'Route map' if en else '路线图'}</a>"]
        if len(vehicles) > 1:  # each driver straight to their own vehicle
            links += [
                f"<a class='vehicle' href='{_href(base, vehicle=str(v['vehicle']), lang=lang)}'>"
                f"{html.escape(str(v['vehicle']))}</a>"
                for v in vehicles
            ]
        links.append(
            f"<a class='sheet' href='{_href(plans_base + '/sheet')}'>{'Sheet' if en else '路线单'}</a>"
        )
        links.append(f"<a class='gpx' href='{_href(plans_base + '.gpx')}'>GPX</a>")
        count = (
            f"{len(vehicles)} vehicle{'s' if len(vehicles) > 1 else ''}, {stops} stops"
            if en
            else f"{len(vehicles)} 辆车，{stops} 个作业点"
        )
        rows.append(
            f"<li class='plan' data-plan='{html.escape(str(plan['id']), quote=True)}'>"
            f"<b>{html.escape(str(plan.get('title') or ''))}</b><br>"
            f"<span class='start'>{'Starts' if en else '出发'} {html.escape(beijing_label(plan['start'], lang))}</span>"
            f" · {count}{_plan_notes(plan, en)}<br>{' · '.join(links)}</li>"
        )
    if not rows:
        listing = (
            "<p id='none'>"
            + ("No stored plan has routes for this crew yet." if en else "暂无本班组的路线方案。")
            + "</p>"
        )
    else:
        listing = f"<ol id='plans'>{''.join(rows)}</ol>"
        if more:
            listing += f"<p id='more'>{'Older plans are not listed.' if en else '更早的方案未列出。'}</p>"
    switch = language_href(page_path, query or {}, lang)
    return (
        f"<!doctype html><html lang='{'en' if en else 'zh-CN'}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(heading)}</title><style>"
        "body{font-family:'Noto Sans CJK SC','Noto Sans',sans-serif;margin:0 auto;padding:.5rem 1rem;max-width:40rem}"
        "h1{font-size:1.2rem}ol{padding-left:1.4rem}li.plan{margin:.8rem 0;line-height:1.6}"
        "li.plan a{display:inline-block;padding:.2rem 0}.closures{color:#b71c1c;font-weight:bold}"
        "</style></head><body>"
        f"<h1>{html.escape(heading)}</h1>"
        f"<p>{_INTRO[1 if en else 0]} <a id='lang-switch' href='{switch}'>{'中文' if en else 'English'}</a></p>"
        f"{listing}</body></html>"
    )
