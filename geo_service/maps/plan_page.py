"""The planner's map: stall zones and Spring Festival points over the context layers, with drawing
(a zone, or a new festival point with its fields), editing (shape, hours, status, dates), deleting and
restoring through the features API, the siting check on every write and, for a role that may, an
override with a reason.

What the page may offer is decided here from what the signed-in role may do (``editable`` layers,
``may_override``); the API refuses the rest whatever a page offers. The page's script is
:mod:`geo_service.maps.plan_script`.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Collection, Mapping
from typing import Any

import geopandas as gpd
from shapely.geometry import shape

from geo_service.coverage.season import sites_season
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
    language_href,
    print_links,
    printed_line,
    workspace_notice,
)
from geo_service.maps.page_script import PAGE_JS, gcj02_overlays, page_data
from geo_service.maps.plan_script import EDIT_JS, FINISH_JS, PLAN_JS

__all__ = ["SITE_LAYERS", "deleted_sites", "plan_page"]

#: the layers a planner draws and edits on this page
SITE_LAYERS = ("stall_sites", "festival_sales_points")
#: the fields of a site shown in its popup and edited from it
_EDITED = ("hours", "status", "valid_from", "valid_to", "lunar_from", "lunar_to")
_STATUS = {
    "planned": ("规划中", "Planned"),
    "open": ("开放", "Open"),
    "suspended": ("暂停", "Suspended"),
    "closed": ("关闭", "Closed"),
}
#: how far back the layer's history is read for the sites deleted (newest changes first)
_HISTORY_READ = 2000
#: the most deleted sites a page lists, newest first
DELETED_SHOWN = 100


def plan_page(
    ws: Any,
    *,
    lang: str = "zh",
    static: str = "/static",
    query: Mapping[str, str] | None = None,
    printing: bool = False,
    editable: Collection[str] = (),
    may_override: bool = False,
    today: dt.date | None = None,
) -> str:
    """The planner's page: context layers, stall zones and festival points with their hours, status,
    dates and (festival points) lunar season.

    ``editable``: the site layers the reader's role may write (drawing, editing, deleting, restoring are
    offered for those only); ``may_override``: whether a siting refusal offers an override with a reason;
    ``printing``: the map for paper, without drawing tools, forms or layer switch; ``today``: the day a
    festival point's season is told for (Beijing's today)."""
    notice = workspace_notice(ws, lang)
    editable = () if printing else tuple(name for name in SITE_LAYERS if name in editable)
    m = base_map(
        ws.settings,
        static=static,
        draw=bool(editable),
        zoom=14,
        centre=(35.215, 113.27),
        printing=printing,
        orientation=PAPER["plan"],
        attribution=notice,
    )
    shift = gcj02_overlays(ws.settings)
    en = lang == "en"
    day = today or dt.datetime.now(TZ).date()
    data = page_data(ws, lang, with_minor=True)
    data["sites"] = feature_collection(
        ws.frame("stall_sites"),
        columns=[
            "name",
            "district",
            "capacity",
            "goods",
            "hours",
            "status",
            "valid_from",
            "valid_to",
            "_version",
        ],
        shift_gcj02=shift,
    )
    fest = ws.frame("festival_sales_points")
    seasons = sites_season(fest, day=day)
    data["festival"] = feature_collection(
        fest,
        columns=[
            "name",
            "address",
            "district",
            "capacity",
            "goods",
            "hours",
            "status",
            "valid_from",
            "valid_to",
            "lunar_from",
            "lunar_to",
            "_version",
        ],
        shift_gcj02=shift,
        extra={
            fid: {"season": s.get("season_en" if en else "season_zh", "")}
            for fid, s in zip(fest.index, seasons, strict=True)
        },
    )
    pois = ws.frame("pois")
    data["pois"] = feature_collection(
        pois[pois["kind"].isin(["school", "hospital", "market"])], columns=["name", "kind"], shift_gcj02=shift
    )
    data["deleted"] = deleted_sites(ws, editable, shift_gcj02=shift) if editable else None
    data["edit"] = list(editable)
    data["can_override"] = bool(editable) and may_override
    data["fields"] = _field_labels(ws, lang)
    data["status"] = [[k, v[1] if en else v[0]] for k, v in _STATUS.items()]
    data["print"] = printing
    title = "Planner: stall zones" if en else "规划：临时摊区"
    add_title_block(m, title, [printed_line(lang), notice])
    add_north_arrow(m, lang)
    add_panel(m, _panel(ws, lang, query or {}, title, editable), where="top:10px;left:50px")
    legend = [
        ("#66a61e", "", label("stall_sites", lang)),
        ("#ef5350", "border-radius:50%", label("festival", lang)),
        ("#e8a33d", "height:3px", label("main_roads", lang)),
        ("#c62828", "opacity:.5", label("violations", lang)),
        ("#42a5f5", "opacity:.6", label("service_areas", lang)),
        ("#ab47bc", "border-radius:50%;opacity:.7", label("unserved", lang)),
    ]
    if editable:
        legend.append(("#bdbdbd", "border-style:dashed", label("deleted_sites", lang)))
    add_legend(m, legend, lang, switch_href=language_href("/maps/plan", query or {}, lang))
    script(m, PAGE_JS + f"var D = {data_json(data)};\n" + PLAN_JS + (EDIT_JS if editable else "") + FINISH_JS)
    return page_html(m, title, lang)


def _panel(ws: Any, lang: str, query: Mapping[str, str], title: str, editable: Collection[str]) -> str:
    """The panel: title and print links; for an editor the forms (a new zone, a site's fields, an
    override's reason); for anyone else a line saying the map is read only."""
    en = lang == "en"
    head = f"<b>{title}</b> {print_links('/maps/plan', query, lang)}<br>"
    tail = '<div id="whatif"></div><div id="msg"></div><ol id="violations" class="geo-msg"></ol>'
    if not editable:
        said = (
            "Read only: your role may not edit stall zones or festival points."
            if en
            else "只读：您的角色不能修改摊区和春节销售点。"
        )
        return f"{head}<span class='geo-screen-only' id='read-only'>{said}</span>{tail}"
    district_options = "".join(
        f"<option>{html.escape(str(n))}</option>" for n in ws.frame("districts")["name"].dropna()
    )
    fest = "festival_sales_points" in editable
    hint = (
        "Draw a polygon"
        + (" (a stall zone) or place a point (a new festival point)" if fest else "")
        + ", fill in and save. Click a zone or point to see it, edit, delete or restore it."
        if en
        else "用左侧工具绘制面"
        + ("（摊区）或放置点（新增春节销售点）" if fest else "")
        + "，填写后保存；点击摊区或销售点可查看、修改、删除或恢复。"
    )
    labels = _field_labels(ws, lang)
    status = "".join(f"<option value='{k}'>{v[1] if en else v[0]}</option>" for k, v in _STATUS.items())
    date_hint = "2026-12-01" if en else "如 2026-12-01"

    def text(field: str, hint: str = "", width: str = "8em") -> str:
        return (
            f"<label>{html.escape(labels[field])} <input id='a-{field}' placeholder='{hint}' "
            f"style='width:{width}'></label><br>"
        )

    draw = (
        '<div id="form" style="display:none;margin-top:6px">'
        f'<label>{"Name" if en else "名称"} <input id="f-name" value="新增果蔬摊区"></label><br>'
        f'<label>{"Stalls" if en else "摊位数"} <input id="f-cap" type="number" value="10" min="1" style="width:5em"></label>'
        f' <label>{"Goods" if en else "品类"} <input id="f-goods" value="果蔬" style="width:6em"></label><br>'
        f'<label>{"District" if en else "所属区"} <select id="f-district">{district_options}</select></label><br>'
        f'<button id="save">{"Save" if en else "保存"}</button> <button id="cancel">{"Cancel" if en else "取消"}</button></div>'
    )
    fields = (
        '<div id="attr-form" style="display:none;margin-top:6px"><b id="attr-title"></b><br>'
        + text("hours", "06:00-20:00", "9em")
        + f"<label>{html.escape(labels['status'])} <select id='a-status'>{status}</select></label><br>"
        + text("valid_from", date_hint)
        + text("valid_to", date_hint)
        + "<span id='a-lunar'>"
        + text("lunar_from", "12-15", "4em")
        + text("lunar_to", "01-16", "4em")
        + "</span>"
        + f'<button id="attr-save">{"Save" if en else "保存"}</button> '
        f'<button id="attr-cancel">{"Cancel" if en else "取消"}</button></div>'
    )
    override = (
        '<div id="override" style="display:none;margin-top:6px">'
        f"<b>{'Override the rules above' if en else '越过上述选址规则'}</b> <span id='override-rules'></span><br>"
        f"<label>{'Reason (approval, document no.)' if en else '理由（批准文件、文号等）'}<br>"
        "<textarea id='override-reason' rows='2' style='width:95%'></textarea></label><br>"
        f'<button id="override-send">{"Override and save" if en else "越过规则并保存"}</button> '
        f'<button id="override-cancel">{"Cancel" if en else "取消"}</button></div>'
        "<div id='override-note' class='geo-msg' style='display:none'>"
        f"{'Only planners and admins may override siting rules: move or change the site.' if en else '只有规划人员或管理员可以越过选址规则：请调整位置或内容。'}"
        "</div>"
    )
    point = _festival_form(ws, lang, district_options) if fest else ""
    return (
        f"{head}<span class='geo-screen-only'>{hint}</span>"
        f"<div class='geo-screen-only' id='forms'>{draw}{point}{fields}{override}</div>{tail}"
    )


def _festival_form(ws: Any, lang: str, district_options: str) -> str:
    """The form of a new festival point placed on the map: the layer's fields as its declaration names
    them (required ones marked), with its defaults; what is left blank is not sent, the name as typed
    (blank too, for the API to say it is needed)."""
    en = lang == "en"
    spec = ws.catalog["festival_sales_points"]

    def name(field: str) -> str:
        f = spec.field(field)
        return html.escape(f.label(lang)) + (" *" if f.required else "")

    def text(field: str, value: str = "", hint: str = "", width: str = "8em", kind: str = "text") -> str:
        return (
            f"<label>{name(field)} <input id='fp-{field}' type='{kind}' value='{html.escape(value)}' "
            f"placeholder='{html.escape(hint)}' style='width:{width}'></label><br>"
        )

    status = "".join(
        f"<option value='{k}'{' selected' if k == 'open' else ''}>{v[1] if en else v[0]}</option>"
        for k, v in _STATUS.items()
    )
    date_hint = "2027-01-20" if en else "如 2027-01-20"
    return (
        '<div id="fest-form" style="display:none;margin-top:6px">'
        f"<b>{'New festival point' if en else '新增春节销售点'}</b><br>"
        + text("name", "新增春节销售点", width="12em")
        + f"<label>{name('district')} <select id='fp-district'>{district_options}</select></label><br>"
        + text("address", width="12em")
        + text("capacity", "20", width="5em", kind="number")
        + text("goods", "年货", width="6em")
        + text("hours", "07:00-22:00", "07:00-22:00", "9em")
        + text("lunar_from", "12-15", "12-15", "4em")
        + text("lunar_to", "01-16", "01-16", "4em")
        + text("valid_from", hint=date_hint)
        + text("valid_to", hint=date_hint)
        + f"<label>{name('status')} <select id='fp-status'>{status}</select></label><br>"
        + f'<button id="fest-save">{"Save" if en else "保存"}</button> '
        f'<button id="fest-cancel">{"Cancel" if en else "取消"}</button></div>'
    )


def _field_labels(ws: Any, lang: str) -> dict[str, str]:
    """The edited fields' names as the layer declarations give them (the festival layer's lunar ones
    too), in ``lang``."""
    out: dict[str, str] = {}
    for layer in reversed(SITE_LAYERS):  # the stall sites' wording where both layers have the field
        spec = ws.catalog.get(layer)
        if spec is None:
            continue
        for name in _EDITED:
            if name in spec.field_names:
                out[name] = spec.field(name).label(lang)
    return out


def deleted_sites(ws: Any, layers: Collection[str], *, shift_gcj02: bool = False) -> dict[str, Any]:
    """The sites of ``layers`` whose last change is a delete (found in each layer's newest changes),
    as they were, newest first: GeoJSON with ``layer``, ``name``, who deleted it, when (Beijing time) and
    why (``reason``, as the history keeps it; None if none was given)."""
    rows: list[dict[str, Any]] = []
    for layer in layers:
        seen: set[int] = set()
        for change in ws.store.history(layer, limit=_HISTORY_READ):
            if change.feature_id in seen:
                continue
            seen.add(change.feature_id)
            state = change.before or {}
            if change.op != "delete" or state.get("geometry") is None:
                continue
            rows.append(
                {
                    "fid": f"{layer}/{change.feature_id}",
                    "site": change.feature_id,
                    "layer": layer,
                    "name": (state.get("properties") or {}).get("name"),
                    "deleted_by": change.actor,
                    "deleted_at": beijing(change.at),
                    "reason": change.reason,
                    "at": change.at,
                    "geometry": shape(state["geometry"]),
                }
            )
    rows.sort(key=lambda r: r["at"], reverse=True)
    if not rows:
        return {"type": "FeatureCollection", "features": []}
    frame = gpd.GeoDataFrame(rows[:DELETED_SHOWN], geometry="geometry", crs=4326).set_index("fid")
    return feature_collection(
        frame,
        columns=["site", "layer", "name", "deleted_by", "deleted_at", "reason"],
        shift_gcj02=shift_gcj02,
    )
