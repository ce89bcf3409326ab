"""Planning a response for a workspace: closures applied, the plan made, stored and read back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from geo_service.budget import check_budget
from geo_service.errors import InvalidInput
from geo_service.network import build_network
from geo_service.snow.export import plan_document
from geo_service.snow.plan import plan_response
from geo_service.workspace import Workspace

__all__ = ["TIME_LIMIT_MAX_S", "check_time_limit", "effort_for", "make_plan"]

TZ = ZoneInfo("Asia/Shanghai")


ITERATIONS_PER_S = 6  # the search effort a "second" of time_limit_s stands for (iterations, not time)
TIME_LIMIT_MAX_S = 3600


def check_time_limit(time_limit_s: float, *, field: str = "time_limit_s") -> None:
    """Refuse a ``time_limit_s`` the API's request model refuses (above 0, at most 3600, a finite
    number), in its words, so that the CLI's ``--time-limit-s`` says the same as the API's 422."""
    if not math.isfinite(time_limit_s):
        zh, en = "应为有限的数字（不能是 NaN 或无穷大）", "Input should be a finite number"
    elif time_limit_s <= 0:
        zh, en = "应大于 0", "Input should be greater than 0"
    elif time_limit_s > TIME_LIMIT_MAX_S:
        zh, en = f"应不大于 {TIME_LIMIT_MAX_S}", f"Input should be less than or equal to {TIME_LIMIT_MAX_S}"
    else:
        return
    raise InvalidInput(f"参数「{field}」无效：{zh}", f"Parameter '{field}' is invalid: {en}", field=field)


def effort_for(time_limit_s: float) -> int:
    """The search effort (iterations) of the API's ``time_limit_s`` and the CLI's ``--time-limit-s``:
    the same number gives the same plan from either (with the same seed and start)."""
    return max(1, int(time_limit_s * ITERATIONS_PER_S))


def make_plan(
    ws: Workspace,
    *,
    closed_roads: Sequence[int] = (),
    closed_bridges: Sequence[int] = (),
    locks: Mapping[str, str] | None = None,
    seed: int = 0,
    effort: int = 60,
    start: dt.datetime | None = None,
    title: str = "冻雨除雪预案",
    actor: str = "system",
    save: bool = True,
) -> dict[str, Any]:
    """Plan with the given closures (road ids, bridge/culvert ids) and locks; store it as a document."""
    if effort <= 0:
        raise InvalidInput("计算时限必须大于 0", "The time limit must be above 0", field="time_limit_s")
    title = str(title).strip()
    if not 1 <= len(title) <= 100:  # the API and the command line alike
        raise InvalidInput(
            "方案标题应为 1 至 100 个字符", "The plan's title must be 1 to 100 characters", field="title"
        )
    # the same road or bridge closed twice is one closure (listed once, named once in notices)
    closed_roads, closed_bridges = list(dict.fromkeys(closed_roads)), list(dict.fromkeys(closed_bridges))
    roads, bridges = ws.frame("roads"), ws.frame("bridges_culverts")
    for field, ids, known, zh in (
        ("closed_roads", closed_roads, roads.index, "道路"),
        ("closed_bridges", closed_bridges, bridges.index, "桥涵"),
    ):
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise InvalidInput(
                f"封闭{zh} {unknown[:5]} 不存在",
                f"Closed {field.removeprefix('closed_')} {unknown[:5]} do not exist",
                field=field,
            )
    bridges = bridges.copy()
    bridges.loc[bridges.index.isin(list(closed_bridges)), "closed"] = True
    shut = bridges[bridges["closed"].fillna(False).astype(bool)]
    net = build_network(
        roads,
        mode="drive",
        weight="length",
        closed_road_ids=closed_roads,
        closed_points=shut.geometry if len(shut) else None,
        crs=ws.settings.metric_crs,
    )
    start = start or dt.datetime.now(TZ).replace(second=0, microsecond=0)
    plan = plan_response(
        net,
        roads=roads,
        bridges=bridges,
        depots=ws.frame("depots"),
        crews=ws.frame("crews"),
        start=start,
        seed=seed,
        iterations=effort,
        locks=locks,
        crs=ws.settings.metric_crs,
    )
    # a road left out of the network but not closed itself (by id or its own flag) lies on a closed
    # bridge or culvert
    by_id = {f"road:{r}" for r in closed_roads}
    if "closed" in roads:
        by_id |= {f"road:{r}" for r in roads.index[roads["closed"].fillna(False).astype(bool)]}
    if len(shut):
        plan = dataclasses.replace(
            plan,
            unserved=tuple(
                {**u, "reason_zh": "所在桥涵封闭", "reason_en": "a closed bridge or culvert is on it"}
                if u["item"].startswith("road:")
                and u["reason_en"] == "road closed"
                and u["item"] not in by_id
                else u
                for u in plan.unserved
            ),
        )
    closures = {
        "roads": [f"road:{r}" for r in closed_roads],
        "bridges": [f"bridge:{b}" for b in closed_bridges],
    }
    if any("cut off" in n for n in plan.notices) and (closed_roads or closed_bridges):
        names = [f"road:{r} {roads.loc[r, 'name']}" for r in closed_roads] + [
            f"bridge:{b} {bridges.loc[b, 'name']}" for b in closed_bridges
        ]
        plan = dataclasses.replace(
            plan, notices=(*plan.notices, "由以下封闭造成 / caused by the closures: " + "；".join(names))
        )
    key = hashlib.sha1(
        json.dumps(
            [
                start.isoformat(),
                sorted(closed_roads),
                sorted(closed_bridges),
                dict(locks or {}),
                seed,
                effort,
                dt.datetime.now().isoformat(),
            ],
            default=str,
        ).encode()
    ).hexdigest()[:10]
    plan_id = f"{start:%Y%m%d%H%M}-{key}"
    named = {f"road:{r}": str(roads.loc[r, "name"]) for r in closed_roads} | {
        f"bridge:{b}": str(bridges.loc[b, "name"]) for b in closed_bridges
    }
    doc = plan_document(
        plan, plan_id=plan_id, title=title, closures=closures, locks=dict(locks or {}), closure_names=named
    )
    if save:
        check_budget()  # out of time: the caller has been told it failed, so nothing is stored
        ws.store.put_document("snow_plan", plan_id, doc, actor=actor)
    return doc
