"""Open311 GeoReport v2, so that an existing hotline system can post 12345 cases to the service."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qsl

import geopandas as gpd
import shapely
from fastapi import APIRouter, Request

from geo_service.api.deps import WorkspaceDep, actor_of, parse_moment, refuse_repeated
from geo_service.api.routers.dispatch import _save, run_dispatch
from geo_service.assignment.dispatch import CaseAssignment
from geo_service.errors import InvalidInput

__all__ = ["router"]

router = APIRouter(tags=["open311"])
# the request's field behind each refusal of a case
_FIELD_OF = {"bad-location": "lat", "future": "requested_datetime", "before-roster": "requested_datetime"}


@router.get("/services.json", summary="Open311 服务类别（权责清单）/ Open311 service list")
def services(ws: WorkspaceDep) -> list[dict[str, Any]]:
    cats = ws.frame("case_categories")
    return [
        {
            "service_code": r["code"],
            "service_name": r["minor"],
            "group": r["major"],
            "description": f"{r['major']}/{r['minor']} → {r['department']}",
            "metadata": False,
            "type": "realtime",
            "keywords": r["major"],
        }
        for _, r in cats.iterrows()
    ]


@router.post("/requests.json", status_code=201, summary="Open311 提交案件 / Open311 create a service request")
async def create_request(request: Request, ws: WorkspaceDep) -> list[dict[str, Any]]:
    form = await _fields(request)
    try:
        lat, lon = float(form["lat"]), float(form["long"])
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(
            "需要数值 lat 与 long", "Numeric 'lat' and 'long' are required", field="lat"
        ) from None
    code = str(form.get("service_code") or "")
    if not code:
        raise InvalidInput("需要 service_code", "'service_code' is required", field="service_code")
    asked = form.get("requested_datetime")
    when = parse_moment(None if asked is None else str(asked), name="requested_datetime") or dt.datetime.now(
        dt.timezone(dt.timedelta(hours=8))
    )
    cases = gpd.GeoDataFrame(
        [
            {
                "category": code,
                "reported_at": when,
                "description": form.get("description"),
                "address": form.get("address_string") or None,  # as the caller gave it: 塔北路12号
                "source": "12345",
            }
        ],
        geometry=[shapely.Point(lon, lat)],
        crs=4326,
    )
    [answer] = run_dispatch(ws, cases)
    if not answer.ok:
        assert answer.error is not None
        field = _FIELD_OF.get(answer.error["code"], "service_code")
        raise InvalidInput(answer.error["detail_zh"], answer.error["detail_en"], field=field)
    [fid], refused = _save(ws, cases, [answer], actor_of(request))
    if refused:
        raise InvalidInput(refused[0]["detail_zh"], refused[0]["detail_en"], field=refused[0]["field"])
    return [{"service_request_id": str(fid), "service_notice": _notice(answer), "account_id": None}]


async def _fields(request: Request) -> dict[str, Any]:
    """The request's fields: a JSON object, a form (multipart), or a urlencoded body read in its charset
    (UTF-8 unless it says otherwise: a hotline system may send raw 塔北路, not %E5%A1%94…, which a
    form parser would read as Latin-1). A field given twice is refused: which value was meant is not
    for us to guess."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise InvalidInput("请求体不是有效的 JSON", "The body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidInput("请求体应为 JSON 对象", "The body must be a JSON object")
        return body
    if kind.startswith("application/x-www-form-urlencoded"):
        charset = _charset(kind)
        try:
            pairs = parse_qsl(
                (await request.body()).decode(charset), keep_blank_values=True, encoding=charset
            )
        except (UnicodeDecodeError, LookupError):
            raise InvalidInput(
                f"请求体不是 {charset} 编码的文本（可在 Content-Type 中写明 charset）",
                f"The body is not text in {charset} (say its charset in Content-Type)",
            ) from None
    else:
        pairs = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    refuse_repeated([k for k, _ in pairs], ("字段", "Field(s)"))
    return dict(pairs)


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


def _notice(answer: CaseAssignment) -> str:
    """Where the case went, for the hotline operator: the department, the squad (or who it escalates
    to) and the crew suggested to go out, if any: 已分派至市政工程处，解放区一中队；建议派马村一组（约 6 分钟）."""
    who = answer.squad or answer.escalation
    zh, en = f"已分派至{answer.department}，{who}", f"assigned to {answer.department}, {who}"
    if answer.crew is not None:
        crew, minutes = answer.crew["crew"], answer.crew["minutes"]
        if minutes < 0.5:
            zh += f"；建议派{crew}（不到 1 分钟）"
            en += f"; crew {crew} suggested (under a minute away)"
        else:
            zh += f"；建议派{crew}（约 {minutes:.0f} 分钟）"
            en += f"; crew {crew} suggested (about {minutes:.0f} min away)"
    return f"{zh} / {en}"
