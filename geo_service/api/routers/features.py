"""Layers as OGC API – Features collections, with Part 4 create/replace/update/delete (QGIS can edit).

Every feature carries its version: ``ETag`` on single items (with the workspace's identity,
``"7-3f9a1c2e"``), ``version`` on each GeoJSON feature. A write may name the version it is based on
(``If-Match`` with the ETag or the bare version, or ``?version=``); a stale one, or an ETag another
workspace gave, gets 409 and changes nothing. Without it the write applies to the current version;
either way the history keeps the state before.

A feature of a layer with lunar dates (Spring Festival points) also carries ``season_today``: its
season as of today in the service's time zone (:func:`geo_service.coverage.season.site_season`, with
the ``day``), so that a page showing it needs no reload after an edit of its dates.

A single item is answered 304 when ``If-None-Match`` names its ETag, and so is a page of items (a map
or a desktop GIS asking again for a layer nobody changed gets an empty answer, and the store is not
read): the page's ETag names the layer's version and digests what else its answer is made of (the
address asked for, with the moment a ``datetime`` like ``10:00`` stands for that day, the page size
the settings allow, the day a season is told for, the release). A layer's history and a feature's are
tagged the same way.

The answer of a feature that carries ``season_today`` is different the next day with the same version,
so its ETag names the day as well (``"7-3f9a1c2e@2026-12-06"``): revalidating after midnight gets the new
season, not 304. ``If-Match`` on a write compares the version alone, so the ETag of a read is accepted
whatever the day: a write conflicts with other writes, not with the calendar.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from shapely.geometry import mapping

from geo_service import __version__
from geo_service import features as feature_ops
from geo_service.api.deps import (
    FeatureId,
    LayerDep,
    Offset,
    WorkspaceDep,
    actor_of,
    known_query_only,
    parse_moment,
)
from geo_service.catalog import LayerSpec
from geo_service.coverage.season import site_season
from geo_service.duty import TZ
from geo_service.errors import Conflict, InvalidInput, NotFound
from geo_service.store.base import Feature
from geo_service.store.base import Query as StoreQuery
from geo_service.store.values import json_value
from geo_service.workspace import Workspace

__all__ = ["feature_json", "router"]

router = APIRouter(tags=["features 要素 (OGC API – Features)"])

GEOJSON = "application/geo+json"
_RESERVED_PARAMS = {
    "bbox",
    "limit",
    "offset",
    "datetime",
    "f",
    "crs",
    "bbox-crs",
    "version",
    "override",
    "reason",
}


def feature_json(
    feature: Feature, base: str | None = None, *, season_day: dt.date | None = None
) -> dict[str, Any]:
    """A stored feature as an RFC 7946 GeoJSON Feature (with ``version`` as a foreign member, and with
    ``season_day`` its season that day as ``season_today``)."""
    geometry = feature.geometry
    out: dict[str, Any] = {
        "type": "Feature",
        "id": feature.id,
        "geometry": None,
        "properties": {k: json_value(v) for k, v in feature.properties.items()},
        "version": feature.version,
    }
    if geometry is not None and not np.isfinite(shapely.get_coordinates(geometry)).all():
        # stored before positions were checked (NaN, infinity): shown without it, and said why, so that
        # the layer can still be read and the feature fixed
        out["geometry_error"] = {
            "zh": "几何含 NaN 或无穷大坐标，请重新绘制",
            "en": "The geometry has NaN or infinite coordinates; draw it again",
        }
    elif geometry is not None:
        out["geometry"] = mapping(geometry)
    if base:
        out["links"] = [{"rel": "self", "type": GEOJSON, "href": f"{base}/{feature.id}"}]
    if season_day is not None:
        out["season_today"] = {
            "day": season_day.isoformat(),
            **site_season(feature.properties, day=season_day),
        }
    return out


def _season_day(ws: Workspace, spec: LayerSpec) -> dt.date | None:
    """Today (the service's time zone) for a layer whose features have a lunar window (their season is
    told), else None."""
    return ws.today() if {"lunar_from", "lunar_to"} <= set(spec.field_names) else None


def _etag(feature: Feature, season_day: dt.date | None, identity: str) -> str:
    """The ETag of a feature's answer: its version and the workspace's (``"7-3f9a1c2e"``: another
    workspace, or this one deleted and made again, may have a version 7 of the feature that is another
    feature), and the day when the answer tells its season that day (``"7-3f9a1c2e@2026-12-06"``)."""
    tag = f"{feature.version}-{identity[:_IDENTITY]}"
    return f'"{tag}"' if season_day is None else f'"{tag}@{season_day.isoformat()}"'


_IDENTITY = 8  # hex digits of the workspace's identity an item's ETag names


def _none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (or is ``*``): weak comparison, as RFC 9110 asks for it."""
    if if_none_match is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _geojson(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, allow_nan=False),
        status_code=status,
        media_type=GEOJSON,
        headers=dict(headers or {}),
    )


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or not (parts[0] <= parts[2] and parts[1] <= parts[3]) or any(p != p for p in parts):
        raise InvalidInput(
            f"bbox「{value}」无效，应为 minx,miny,maxx,maxy（经度,纬度）",
            f"bbox '{value}' is invalid; expected minx,miny,maxx,maxy (lon,lat)",
            field="bbox",
        )
    return parts[0], parts[1], parts[2], parts[3]


def _version(if_match: str | None, version: int | None, identity: str) -> int | None:
    """The version a write names: ``?version=``, or the ETag of a read in ``If-Match`` (or the bare
    version in quotes, ``"7"``). An ETag another workspace gave (this one before it was made again or
    restored) is a conflict: its version may be another state of the feature."""
    if version is not None:
        return version
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    tag, at, day = text.partition("@")  # "…@2026-12-06": a read that told that day's season
    number, dash, workspace = tag.partition("-")
    try:
        if at:
            dt.date.fromisoformat(day)
        if dash and not (len(workspace) == _IDENTITY and set(workspace) <= set("0123456789abcdef")):
            raise ValueError(workspace)
        expected = int(number)
    except ValueError:
        raise InvalidInput(
            f'If-Match「{if_match}」应为读取要素时得到的 ETag（如 "7-3f9a1c2e" 或 "7-3f9a1c2e@2026-12-06"）'
            '或带引号的版本号（如 "7"）',
            f"If-Match '{if_match}' must be the ETag a read of the feature gave (such as \"7-3f9a1c2e\" "
            'or "7-3f9a1c2e@2026-12-06") or a version in quotes (such as "7")',
            field="If-Match",
        ) from None
    if dash and workspace != identity[:_IDENTITY]:
        raise Conflict(
            f"If-Match「{if_match}」是另一个工作空间（重建或从备份恢复之前）给出的 ETag，"
            "其中的版本可能是要素的另一状态：请重新读取要素后再修改",
            f"If-Match '{if_match}' is an ETag another workspace gave (this one before it was made again "
            "or restored from a backup): its version may be another state of the feature. Read the "
            "feature again, then edit it",
        )
    return expected


def _overrides(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


async def _body(request: Request, limit: int) -> Any:
    raw = await request.body()
    if len(raw) > limit:
        from geo_service.errors import PayloadTooLarge

        raise PayloadTooLarge(f"请求体超过 {limit} 字节", f"Request body exceeds {limit} bytes")
    if not raw:
        raise InvalidInput("请求体为空", "The request body is empty")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"请求体不是有效的 JSON：{exc}", f"The body is not valid JSON: {exc}") from None


def _collection(spec: LayerSpec, base: str) -> dict[str, Any]:
    href = f"{base}/collections/{spec.name}"
    return {
        "id": spec.name,
        "title": spec.title["zh"],
        "title_en": spec.title["en"],
        "description": spec.description.get("zh", ""),
        "itemType": "feature" if not spec.is_table else "record",
        "geometry": list(spec.geometry_types),
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            {"rel": "self", "type": "application/json", "href": href},
            {"rel": "items", "type": GEOJSON, "href": f"{href}/items"},
            {"rel": "describedby", "type": "application/schema+json", "href": f"{href}/schema"},
        ],
    }


@router.get("/collections", summary="图层列表 / List layers")
def list_collections(request: Request, ws: WorkspaceDep) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "collections": [_collection(spec, base) for spec in ws.catalog.values()],
        "links": [{"rel": "self", "type": "application/json", "href": f"{base}/collections"}],
    }


@router.get("/collections/{collection_id}", summary="图层说明 / Describe a layer")
def get_collection(request: Request, spec: LayerDep) -> dict[str, Any]:
    return _collection(spec, str(request.base_url).rstrip("/"))


@router.get("/collections/{collection_id}/schema", summary="图层字段 / Layer schema")
def get_schema(spec: LayerDep) -> dict[str, Any]:
    types = {
        "string": "string",
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
        "date": "string",
        "datetime": "string",
    }
    props: dict[str, Any] = {}
    for f in spec.fields:
        p: dict[str, Any] = {
            "type": types[f.type],
            "title": f.title.get("zh"),
            "x-title-en": f.title.get("en"),
        }
        if f.type in ("date", "datetime"):
            p["format"] = "date" if f.type == "date" else "date-time"
        if f.enum:
            p["enum"] = list(f.enum)
        if f.min is not None:
            p["minimum"] = f.min
        if f.max is not None:
            p["maximum"] = f.max
        if f.pattern:
            p["pattern"] = f.pattern
        props[f.name] = p
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": spec.title["zh"],
        "properties": props,
        "required": [f.name for f in spec.fields if f.required],
        "x-geometry": list(spec.geometry_types),
        "x-style": dict(spec.style),
    }


@router.get("/collections/{collection_id}/items", summary="查询要素 / Query features")
def list_items(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (WGS 84 lon/lat)")] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    offset: Offset = 0,
    datetime: Annotated[str | None, Query(description="有效时刻 / features valid at this moment")] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    settings = ws.settings
    limit = min(limit or settings.page_limit_default, settings.page_limit_max)
    filters: dict[str, Any] = {}
    for key, value in request.query_params.items():
        if key in _RESERVED_PARAMS:
            continue
        field = spec.field(key)  # unknown parameter → 400 naming it
        filters[key] = field.coerce(value, layer=spec.name) if value != "" else None
    at, during = _datetime(datetime)
    day = _season_day(ws, spec)
    # the layer's version read before its features: a write in between gives a newer page under the
    # older tag, asked for again next time, never an older page under the newer tag
    etag = _page_etag(
        ws.store.identity, ws.store.layer_version(spec.name), str(request.url), limit, at, during, day
    )
    if _none_match(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    page = ws.store.list_features(
        spec.name,
        StoreQuery(bbox=_bbox(bbox), filters=filters, at=at, during=during, limit=limit, offset=offset),
    )
    base = str(request.url_for("list_items", collection_id=spec.name))
    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)}]
    if offset + len(page.features) < page.number_matched:
        links.append(
            {
                "rel": "next",
                "type": GEOJSON,
                "href": str(request.url.include_query_params(offset=offset + limit, limit=limit)),
            }
        )
    if offset > 0:
        links.append(
            {
                "rel": "prev",
                "type": GEOJSON,
                "href": str(request.url.include_query_params(offset=max(0, offset - limit), limit=limit)),
            }
        )
    body = {
        "type": "FeatureCollection",
        "features": [feature_json(f, base, season_day=day) for f in page.features],
        "numberMatched": page.number_matched,
        "numberReturned": len(page.features),
        "links": links,
    }
    return _geojson(body, headers={"ETag": etag})


def _page_etag(
    identity: str,
    version: int,
    url: str,
    limit: int,
    at: dt.datetime | None,
    during: tuple[dt.datetime | None, dt.datetime | None] | None,
    day: dt.date | None,
) -> str:
    """The ETag of a page of items: the layer's version, and a digest of the rest its answer depends on
    (the workspace's identity first: another workspace at the same version is another answer)."""
    moments = (at, *(during or ()))
    made_of = "\n".join(
        [identity, url, str(limit), *(m.isoformat() if m else "" for m in moments), str(day), __version__]
    )
    return f'"L{version}-{hashlib.blake2b(made_of.encode(), digest_size=8).hexdigest()}"'


def _datetime(
    text: str | None,
) -> tuple[dt.datetime | None, tuple[dt.datetime | None, dt.datetime | None] | None]:
    """OGC API ``datetime``: a moment (at), or an interval ``start/end`` with ``..`` (or nothing) for an
    open end (during). A moment may itself be written with slashes (``2026/12/1 10:00``): the text is a
    moment when it reads as one, else an interval at the one slash whose two sides both read."""
    if not text or "/" not in text:
        return parse_moment(text, name="datetime"), None
    with contextlib.suppress(InvalidInput):
        return parse_moment(text, name="datetime"), None

    def side(part: str) -> dt.datetime | None:
        return None if part.strip() in ("", "..") else parse_moment(part, name="datetime")

    cuts = [i for i, c in enumerate(text) if c == "/"]
    readable = []
    for i in cuts:
        with contextlib.suppress(InvalidInput):
            readable.append((side(text[:i]), side(text[i + 1 :])))
    if len(readable) != 1:  # none: say what is wrong with the plain split; several cannot happen in practice
        start, _, end = text.partition("/")
        readable = [(side(start), side(end))]
    lo, hi = readable[0]
    if lo is not None and hi is not None and hi < lo:
        raise InvalidInput(
            f"时间区间「{text}」结束早于开始",
            f"The interval '{text}' ends before it starts",
            field="datetime",
        )
    return None, (lo, hi)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="读取要素 / Read a feature")
def get_item(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    feature_id: FeatureId,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    try:
        feature = ws.store.get_feature(spec.name, feature_id)
    except NotFound:
        raise _gone(ws, spec.name, feature_id) from None
    day = _season_day(ws, spec)
    etag = _etag(feature, day, ws.store.identity)
    if _none_match(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    base = str(request.url_for("list_items", collection_id=spec.name))
    return _geojson(feature_json(feature, base, season_day=day), headers={"ETag": etag})


def _gone(ws: Workspace, layer: str, fid: int) -> NotFound:
    """A feature that is not there: said to be deleted (by whom, when, and how to bring it back) when
    its history ends in a delete, else plainly not found."""
    last = ws.store.history(layer, fid, limit=1)
    if not last or last[0].op != "delete":
        return NotFound(
            f"图层 {layer} 中没有要素 {fid}", f"Layer {layer} has no feature {fid}", layer=layer, feature=fid
        )
    c = last[0]
    when = c.at.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    return NotFound(
        f"要素 {fid} 已于 {when} 由 {c.actor} 删除；可编辑该图层的用户可恢复：POST /collections/{layer}/items/{fid}/restore",
        f"Feature {fid} was deleted by {c.actor} at {when} (Beijing time); someone who may edit the layer can "
        f"bring it back with POST /collections/{layer}/items/{fid}/restore",
        layer=layer,
        feature=fid,
        details={"deleted_at": c.at.isoformat(), "deleted_by": c.actor},
    )


@router.options("/collections/{collection_id}/items", include_in_schema=False)
def options_items(spec: LayerDep) -> Response:
    return Response(status_code=204, headers={"Allow": "GET, HEAD, POST, OPTIONS"})


@router.options("/collections/{collection_id}/items/{feature_id}", include_in_schema=False)
def options_item(spec: LayerDep, feature_id: FeatureId) -> Response:
    return Response(status_code=204, headers={"Allow": "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"})


@router.post(
    "/collections/{collection_id}/items",
    status_code=201,
    summary="新增要素（一个 Feature 或 FeatureCollection）/ Create features",
)
async def create_items(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    crs: Annotated[str, Query(description="来源坐标系 EPSG:4326, EPSG:4490, gcj02, bd09 …")] = "EPSG:4326",
    override: Annotated[str | None, Query(description="越过的选址规则编号（逗号分隔）")] = None,
    reason: Annotated[str | None, Query(description="越过规则的理由")] = None,
) -> Response:
    body = await _body(request, ws.settings.max_body_bytes)
    collection = isinstance(body, Mapping) and body.get("type") == "FeatureCollection"
    if collection:
        items = body.get("features")
        if not isinstance(items, list) or not items:
            raise InvalidInput("FeatureCollection 中没有要素", "The FeatureCollection holds no features")
    else:
        items = [body]
    created = feature_ops.create_features(
        ws,
        spec.name,
        items,
        actor=actor_of(request),
        source_crs=crs,
        override=_overrides(override),
        reason=reason,
        single=not collection,
    )
    base = str(request.url_for("list_items", collection_id=spec.name))
    day = _season_day(ws, spec)
    if len(created) == 1 and not collection:
        f = created[0]
        return _geojson(
            feature_json(f, base, season_day=day),
            201,
            {"Location": f"{base}/{f.id}", "ETag": _etag(f, day, ws.store.identity)},
        )
    features = [feature_json(f, base, season_day=day) for f in created]
    return _geojson({"type": "FeatureCollection", "features": features}, 201)


async def _edit(
    request: Request,
    ws: Workspace,
    spec: LayerSpec,
    feature_id: FeatureId,
    edit: Callable[..., Feature],
    if_match: str | None,
    version: int | None,
    crs: str,
    override: str | None,
    reason: str | None,
) -> Response:
    """PUT or PATCH: the body applied by ``edit`` on the version ``If-Match`` or ``?version=`` names,
    the new version answered with its ETag."""
    expected = _version(if_match, version, ws.store.identity)
    body = await _body(request, ws.settings.max_body_bytes)
    f = edit(
        ws,
        spec.name,
        feature_id,
        body,
        actor=actor_of(request),
        expected_version=expected,
        source_crs=crs,
        override=_overrides(override),
        reason=reason,
    )
    base = str(request.url_for("list_items", collection_id=spec.name))
    day = _season_day(ws, spec)
    return _geojson(feature_json(f, base, season_day=day), headers={"ETag": _etag(f, day, ws.store.identity)})


@router.put("/collections/{collection_id}/items/{feature_id}", summary="替换要素 / Replace a feature")
async def replace_item(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    feature_id: FeatureId,
    if_match: Annotated[str | None, Header()] = None,
    version: Annotated[int | None, Query(description="所依据的版本 / version the edit is based on")] = None,
    crs: str = "EPSG:4326",
    override: str | None = None,
    reason: str | None = None,
) -> Response:
    edit = feature_ops.replace_feature
    return await _edit(request, ws, spec, feature_id, edit, if_match, version, crs, override, reason)


@router.patch("/collections/{collection_id}/items/{feature_id}", summary="修改要素 / Update a feature")
async def patch_item(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    feature_id: FeatureId,
    if_match: Annotated[str | None, Header()] = None,
    version: Annotated[int | None, Query()] = None,
    crs: str = "EPSG:4326",
    override: str | None = None,
    reason: str | None = None,
) -> Response:
    edit = feature_ops.patch_feature
    return await _edit(request, ws, spec, feature_id, edit, if_match, version, crs, override, reason)


@router.delete(
    "/collections/{collection_id}/items/{feature_id}",
    status_code=204,
    summary="删除要素（可恢复）/ Delete a feature (restorable)",
)
def delete_item(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    feature_id: FeatureId,
    if_match: Annotated[str | None, Header()] = None,
    version: Annotated[int | None, Query()] = None,
    reason: Annotated[
        str | None,
        Query(
            max_length=500,
            description="删除理由，记入历史（可不填；填了不能为空）/ why it is deleted, kept in the history "
            "(optional; when given, not blank)",
        ),
    ] = None,
) -> Response:
    feature_ops.delete_feature(
        ws,
        spec.name,
        feature_id,
        actor=actor_of(request),
        expected_version=_version(if_match, version, ws.store.identity),
        reason=reason,
    )
    return Response(status_code=204)


@router.post(
    "/collections/{collection_id}/items/{feature_id}/restore",
    summary="恢复已删除要素（与新增一样检查）/ Restore a deleted feature (checked like a create)",
    dependencies=[Depends(known_query_only)],
)
def restore_item(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    feature_id: FeatureId,
    override: Annotated[str | None, Query(description="越过的选址规则编号（逗号分隔）")] = None,
    reason: Annotated[str | None, Query(description="恢复或越过规则的理由")] = None,
) -> Response:
    f = feature_ops.restore_feature(
        ws,
        spec.name,
        feature_id,
        actor=actor_of(request),
        reason=reason,
        override=_overrides(override),
    )
    base = str(request.url_for("list_items", collection_id=spec.name))
    day = _season_day(ws, spec)
    return _geojson(feature_json(f, base, season_day=day), headers={"ETag": _etag(f, day, ws.store.identity)})


@router.get("/collections/{collection_id}/items/{feature_id}/history", summary="要素历史 / Feature history")
def item_history(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    feature_id: FeatureId,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    # (tagged by the layer's version, as a page of items: a history only grows with the layer's writes)
    etag = _page_etag(
        ws.store.identity, ws.store.layer_version(spec.name), str(request.url), 0, None, None, None
    )
    changes = ws.store.history(spec.name, feature_id)
    if not changes:
        ws.store.get_feature(spec.name, feature_id)  # NotFound for an id that never existed
    if _none_match(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(
        {"layer": spec.name, "feature": feature_id, "changes": [c.as_json() for c in changes]},
        headers={"ETag": etag},
    )


@router.get("/collections/{collection_id}/history", summary="图层历史 / Layer history")
def layer_history(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    etag = _page_etag(
        ws.store.identity, ws.store.layer_version(spec.name), str(request.url), limit, None, None, None
    )
    if _none_match(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    changes = ws.store.history(spec.name, limit=limit)
    return JSONResponse(
        {"layer": spec.name, "changes": [c.as_json() for c in changes]}, headers={"ETag": etag}
    )
