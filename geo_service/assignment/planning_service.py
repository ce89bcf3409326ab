"""The planner's questions against a workspace: which stall sites take vendors today, and which
candidates the siting rules allow before new sites are chosen among them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import pandas as pd

from geo_service.assignment.planning import (
    FEATURE_ID,
    candidate_points,
    choose_sites,
    place_vendors,
    refuse_outside,
)
from geo_service.assignment.screening import screen_candidates, too_close
from geo_service.contexts import goods_groups, open_sites, out_of_season, walk_network
from geo_service.duty import TZ
from geo_service.errors import InvalidInput
from geo_service.siting import siting_context
from geo_service.workspace import Workspace

__all__ = ["plan_sites", "plan_vendors"]


def _today() -> dt.date:
    return dt.datetime.now(TZ).date()


def _season_note(left: list[dict[str, Any]], day: dt.date) -> str:
    names = "、".join(str(s["name"] or s["id"]) for s in left)
    names_en = ", ".join(str(s["name"] or s["id"]) for s in left)
    when_zh, when_en = (
        ("今天", "today") if day == _today() else (f"在 {day.isoformat()} ", f"on {day.isoformat()}")
    )
    return (
        f"{len(left)} 个状态为开放的摊位站点{when_zh}不在有效期内，未计入：{names}（见 sites_out_of_season）"
        f" / {len(left)} stall sites with status open are not within their dates {when_en} and were left out: "
        f"{names_en} (see sites_out_of_season)"
    )


def plan_vendors(
    ws: Workspace, vendors: gpd.GeoDataFrame, *, max_walk_m: float, on: dt.date | None = None
) -> dict[str, Any]:
    """Vendors (EPSG:4326) to the stall sites open on day ``on`` (default today, Beijing time): status
    open and within their dates (a planner placing vendors for the Spring Festival in December asks for
    a day in it); the open ones out of season are named in ``sites_out_of_season`` and a note."""
    today = on or _today()
    result = place_vendors(
        walk_network(ws),
        vendors,
        open_sites(ws, "stall_sites", on=today),
        max_walk_m=max_walk_m,
        crs=ws.settings.metric_crs,
        goods_groups=goods_groups(ws),
        districts=ws.frame("districts"),
    )
    left = out_of_season(ws, "stall_sites", on=today)
    result["sites_out_of_season"] = left
    if left:
        result["notes"].append(_season_note(left, today))
    return result


def plan_sites(
    ws: Workspace,
    candidates: gpd.GeoDataFrame | None,
    *,
    method: str,
    p: int | None,
    max_walk_m: float,
    keep_existing: bool,
    district: str | None,
    time_limit_s: float,
    on: dt.date | None = None,
) -> dict[str, Any]:
    """New stall sites among ``candidates`` (None: generated along back streets), the existing ones
    open today kept. Candidates are first judged by the siting rules of ``stall_sites`` and ``district``:
    those left out are listed in ``left_out`` with each rule and why; if none is left, refused."""
    districts = ws.frame("districts")
    if candidates is None:
        candidates = candidate_points(
            ws.frame("roads"), districts, district=district, step=6, crs=ws.settings.metric_crs
        )
    given = len(candidates)
    if p is not None and p > given:
        raise InvalidInput(
            f"新增站点数 p={p} 多于候选点（{given} 个）",
            f"p={p} new sites is more than the {given} candidates",
            field="p",
        )
    refuse_outside(candidates, districts)  # before the rules judge them: a mistake, not a place left out
    ctx = siting_context(ws)
    cands, left_out = screen_candidates(ctx, candidates, district=district)
    outside_zh = f"或不在「{district}」内" if district else ""
    outside_en = f" or lies outside {district}" if district else ""
    if not len(cands):
        raise InvalidInput(
            f"{'候选点' if given == 1 else f'{given} 个候选点都'}违反选址规则{outside_zh}，没有可选的候选点（见 left_out）"
            if given
            else "没有候选点（所选范围内没有可生成候选点的支路小巷）",
            (
                f"None of the {given} candidates may hold a site: each breaks a siting rule{outside_en}"
                if given > 1
                else f"The candidate may not hold a site: it breaks a siting rule{outside_en}"
            )
            + " (see left_out)"
            if given
            else "There are no candidates (no branch road or alley in the area to generate them on)",
            field="candidates",
            details={"left_out": left_out},
        )
    if p is not None and method != "lscp" and p > len(cands):
        raise InvalidInput(
            f"新增站点数 p={p} 多于符合选址规则的候选点（{len(cands)} 个；{len(left_out)} 个被排除，见 left_out）",
            f"p={p} new sites is more than the {len(cands)} candidates the siting rules allow "
            f"({len(left_out)} left out, see left_out)",
            field="p",
            details={"left_out": left_out},
        )
    today = on or _today()  # the day whose open sites are kept
    existing = open_sites(ws, "stall_sites", on=today)
    fixed: list[int] = []
    if keep_existing and len(existing):  # numbered after every candidate given, so these keep theirs
        ex = gpd.GeoDataFrame(
            {"name": existing["name"].to_numpy(), FEATURE_ID: existing.index.to_numpy()},
            geometry=existing.geometry.to_numpy(),
            index=pd.RangeIndex(given, given + len(existing)),
            crs=4326,
        )
        refuse_outside(ex, districts)  # the candidates were judged above; the kept sites, only here
        fixed = list(range(len(cands), len(cands) + len(ex)))
        cands = pd.concat([cands, ex])
    cands = gpd.GeoDataFrame(cands, geometry="geometry", crs=4326)
    demand = ws.frame("demand")
    if district is not None:  # a district's planner: its people, its figures
        demand = demand[demand["district"] == district]
    result = choose_sites(
        walk_network(ws),
        demand,
        cands,
        method=method,
        max_walk_m=max_walk_m,
        p=None if p is None else p + len(fixed),
        fixed=fixed,
        crs=ws.settings.metric_crs,
        time_limit_s=time_limit_s,
    )
    kept = set(result["fixed"])
    result["new"] = [i for i in result["chosen"] if i not in kept]
    result["left_out"] = left_out
    if left_out:
        result["notices"].append(
            f"{len(left_out)} 个候选点违反选址规则{outside_zh}，未参与选址（见 left_out）"
            f" / {len(left_out)} candidates break a siting rule{outside_en.replace('lies', 'lie')} and were "
            "left out (see left_out)"
        )
    # each candidate was judged against the stored sites: two new ones may still crowd each other
    crowded = too_close(ctx, cands.loc[result["new"]], crs=ws.settings.metric_crs)
    result["too_close"] = crowded
    if crowded:
        shown = "；".join(
            f"候选点{c['a']} 与 候选点{c['b']} 相距 {c['distance_m']:g} 米" for c in crowded[:5]
        )
        shown_en = "; ".join(
            f"candidate {c['a']} and candidate {c['b']} are {c['distance_m']:g} m apart" for c in crowded[:5]
        )
        limit = crowded[0]["limit_m"]
        result["notices"].append(
            f"新选站点中有 {len(crowded)} 对相距不足 {limit:g} 米（规则 {crowded[0]['rule']}）：{shown}；每对只宜设一处"
            f" / {len(crowded)} pair(s) of the new sites are closer than {limit:g} m (rule {crowded[0]['rule']}): "
            f"{shown_en}; only one of each pair should be opened"
        )
    left = out_of_season(ws, "stall_sites", on=today) if keep_existing else []
    result["sites_out_of_season"] = left
    if left:
        result["notices"].append(_season_note(left, today))
    return result
