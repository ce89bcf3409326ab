"""Open311 GeoReport v2, so that an existing hotline system can post 12345 cases to the service."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import geopandas as gpd
import shapely
from fastapi import APIRouter, Depends, Request

from geo_service.api.deps import WorkspaceDep, actor_of, known_query_only, parse_moment, refuse_repeated
from geo_service.api.routers.dispatch import ADDRESS_MOST, DESCRIPTION_MOST, _save, run_dispatch
from geo_service.assignment.dispatch import CaseAssignment
from geo_service.errors import InvalidInput, NotFound
from geo_service.workspace import Workspace

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


_CLOSED = {"closed", "duplicate"}  # incident statuses Open311 calls closed; the rest are open
_MOST_IDS = 100
_MOST_FIELDS = 100  # a GeoReport request has a dozen


@router.get(
    "/requests/{request_id}.json", summary="Open311 查询案件状态 / Open311 a service request's status"
)
def get_request(ws: WorkspaceDep, request_id: str) -> list[dict[str, Any]]:
    return [_request(ws, _case_id(request_id, field="request_id"), field="request_id")]


@router.get(
    "/requests.json",
    summary="Open311 按编号查询案件状态 / Open311 service requests by id",
    dependencies=[Depends(known_query_only)],
)
def get_requests(
    ws: WorkspaceDep,
    service_request_id: str,
    jurisdiction_id: str | None = None,  # GeoReport v2 clients send these; this service is one jurisdiction
    api_key: str | None = None,
) -> list[dict[str, Any]]:
    """The hotline system polls the cases it posted, by the ids it was given (comma-separated)."""
    ids = [
        _case_id(part, field="service_request_id") for part in service_request_id.split(",") if part.strip()
    ]
    if not ids or len(ids) > _MOST_IDS:
        raise InvalidInput(
            f"service_request_id 应为 1 至 {_MOST_IDS} 个以逗号分隔的案件编号",
            f"service_request_id must be 1 to {_MOST_IDS} case ids, comma-separated",
            field="service_request_id",
        )
    return [_request(ws, fid, field="service_request_id") for fid in ids]


def _case_id(text: str, *, field: str) -> int:
    try:
        fid = int(text.strip())
    except ValueError:
        fid = -1
    if not 1 <= fid <= 2**53:  # (a feature id, as the features API bounds it)
        raise InvalidInput(
            f"案件编号「{text}」应为正整数", f"Case id '{text}' must be a positive whole number", field=field
        )
    return fid


def _request(ws: Workspace, fid: int, *, field: str) -> dict[str, Any]:
    """A case as GeoReport v2 shows it: open or closed, where it went, when and where it was reported.
    Only the hotline's cases (source 12345): others are not found (``field`` names the id asked for)."""
    missing = NotFound(
        f"没有编号为 {fid} 的 12345 热线案件", f"There is no 12345 hotline case {fid}", field=field
    )
    try:
        case = ws.store.get_feature("incidents", fid)
    except NotFound:  # said as of a patrol's case: which ids are cases of others is not the hotline's
        raise missing from None
    p = case.properties
    if p.get("source") != "12345":  # a patrol's or a camera's case is not the hotline's to read
        raise missing
    codes = ws.frame("case_categories")
    code = codes.loc[codes["minor"] == p.get("category"), "code"]
    closed = p.get("status") in _CLOSED
    reported = p.get("reported_at")
    point = case.geometry
    return {
        "service_request_id": str(fid),
        "status": "closed" if closed else "open",
        "status_notes": _status_note(p),
        "service_name": p.get("category"),
        "service_code": str(code.iloc[0]) if len(code) else None,
        "description": p.get("description"),
        "agency_responsible": p.get("department"),
        "requested_datetime": reported.isoformat() if isinstance(reported, dt.datetime) else reported,
        "address": p.get("address"),
        "lat": None if point is None else round(point.y, 6),
        "long": None if point is None else round(point.x, 6),
    }


def _status_note(p: Mapping[str, Any]) -> str:
    status, office = p.get("status"), p.get("escalated_to")
    if status == "duplicate":
        return "重复案件，已并入先前的案件 / a duplicate of an earlier case"
    if status == "closed":
        return "已办结 / closed"
    if status == "escalated" or (not p.get("squad") and office):
        if not office:
            return "无人值班，已转值班室 / nobody on duty: escalated to the duty office"
        return f"无人值班，已转{office} / nobody on duty: escalated to {office}"
    if not p.get("department") and not p.get("squad"):  # entered as a feature, never dispatched
        return "已受理，尚未分派 / received, not yet dispatched"
    where = "，".join(str(x) for x in (p.get("department"), p.get("squad")) if x)
    where_en = ", ".join(str(x) for x in (p.get("department"), p.get("squad")) if x)
    return f"已分派至{where} / assigned to {where_en}"


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
    for name, most in (("description", DESCRIPTION_MOST), ("address_string", ADDRESS_MOST)):
        if len(str(form.get(name) or "")) > most:  # as a dispatched case's (it is stored as one)
            raise InvalidInput(
                f"{name} 最多 {most} 个字符，收到 {len(str(form[name]))} 个",
                f"{name} takes at most {most} characters, not {len(str(form[name]))}",
                field=name,
            )
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
        if answer.error["code"] == "unknown-category":  # in the client's words, not the case table's
            cats = ws.frame("case_categories")
            codes = [f"{c} {n}" for c, n in zip(cats["code"], cats["minor"], strict=True)]
            raise InvalidInput(
                f"service_code「{code}」不在服务列表中（GET /services.json）：{'、'.join(codes)}",
                f"service_code '{code}' is not in the service list (GET /services.json): {', '.join(codes)}",
                field="service_code",
            )
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
    kind = request.headers.get("content-type", "").lower()  # media types are case-insensitive
    if kind.startswith("application/json"):
        names: list[str] = []  # the top object's keys as given, a key given twice twice

        def keep_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            names[:] = [k for k, _ in pairs]  # the top object is the last one read
            return dict(pairs)

        try:
            body = json.loads(await request.body(), object_pairs_hook=keep_pairs)
        except ValueError:
            raise InvalidInput("请求体不是有效的 JSON", "The body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidInput("请求体应为 JSON 对象", "The body must be a JSON object")
        refuse_repeated(names, ("字段", "Field(s)"))
        for name in ("description", "address_string", "service_code", "requested_datetime"):
            if body.get(name) is not None and not isinstance(body[name], str):  # a list is no description
                raise InvalidInput(f"字段 {name} 应为文本", f"Field {name} must be text", field=name)
        return body
    if kind.startswith("application/x-www-form-urlencoded"):
        charset = _charset(kind)
        try:
            text = (await request.body()).decode(charset)
        except (UnicodeDecodeError, LookupError):
            raise InvalidInput(
                f"请求体不是 {charset} 编码的文本（可在 Content-Type 中写明 charset）",
                f"The body is not text in {charset} (say its charset in Content-Type)",
            ) from None
        try:
            pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, max_num_fields=_MOST_FIELDS)
        except ValueError:  # more fields than that
            raise InvalidInput(
                f"表单字段多于 {_MOST_FIELDS} 个", f"The form has more than {_MOST_FIELDS} fields"
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
    if answer.squad:
        zh, en = (
            f"已分派至{answer.department}，{answer.squad}",
            f"assigned to {answer.department}, {answer.squad}",
        )
    else:  # no squad on duty there then: the duty office takes it
        zh = f"已分派至{answer.department}；此时无人值班，转{answer.escalation}"
        en = f"assigned to {answer.department}; nobody on duty then: escalated to {answer.escalation}"
    if answer.crew is not None:
        crew, minutes = answer.crew["crew"], answer.crew["minutes"]
        if minutes < 0.5:
            zh += f"；建议派{crew}（不到 1 分钟）"
            en += f"; crew {crew} suggested (under a minute away)"
        else:
            zh += f"；建议派{crew}（约 {minutes:.0f} 分钟）"
            en += f"; crew {crew} suggested (about {minutes:.0f} min away)"
    return f"{zh} / {en}"
