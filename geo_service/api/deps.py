"""Dependencies shared by the routers: the workspace, store, settings and catalog of the running app."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

from geo_service.catalog import Catalog, LayerSpec
from geo_service.duty import in_supported_years, parse_time
from geo_service.errors import InvalidInput
from geo_service.settings import Settings
from geo_service.store.base import Store
from geo_service.timetext import read_clock
from geo_service.workspace import Workspace

__all__ = [
    "Body",
    "CatalogDep",
    "LayerDep",
    "Offset",
    "SettingsDep",
    "StoreDep",
    "WorkspaceDep",
    "actor_of",
    "known_form_fields",
    "known_query_only",
    "parse_moment",
    "refuse_repeated",
]

_TZ = ZoneInfo("Asia/Shanghai")


class Body(BaseModel):
    """A JSON request body: a field it does not take is refused by name (422), so that a misspelt
    ``max_walk_m`` does not quietly give the default answer."""

    model_config = ConfigDict(extra="forbid")


# where a page starts: bounded well inside the signed 64-bit row counts of SQLite and PostgreSQL, so a
# huge number is a 422 naming the parameter, not a database overflow
Offset = Annotated[int, Query(ge=0, le=2**53, description="跳过的条数 / number of items to skip")]
FeatureId = Annotated[int, Path(ge=0, le=2**53, description="要素编号 / feature id")]

_QUERY_NAMES: dict[int, frozenset[str]] = {}


async def known_query_only(request: Request) -> None:
    """Refuse query parameters the endpoint does not take: a mistyped ``max_walk_min`` must not
    quietly give the 500 m answer. (Routers whose endpoints take free-form filters do not use this.)"""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if route is None:
        return
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names = _QUERY_NAMES[id(route)] = frozenset(_query_names(route.dependant))
    unknown = sorted(set(request.query_params) - names)
    if unknown:
        takes = ", ".join(sorted(names))
        zh_takes = f"此接口可用：{takes}" if names else "此接口不接受查询参数"
        en_takes = f"this endpoint takes: {takes}" if names else "this endpoint takes no query parameters"
        raise InvalidInput(
            f"不认识的查询参数：{'、'.join(unknown)}（{zh_takes}）",
            f"Unknown query parameter(s): {', '.join(unknown)} ({en_takes})",
            field=unknown[0],
        )
    # none of these endpoints takes a list: which value was meant is not for us to guess
    refuse_repeated([k for k, _ in request.query_params.multi_items()], ("查询参数", "Query parameter(s)"))


async def known_form_fields(
    request: Request, names: tuple[str, ...], *, what: tuple[str, str], **context: Any
) -> None:
    """Refuse form fields other than ``names`` and fields given twice: a misspelt ``sav=true`` must not
    quietly leave a batch unsaved, nor ``crss=gcj02`` read its positions 500 m off. ``what`` names the
    request in both languages (导入 / import); ``context`` goes into the problem (``layer``)."""
    form = await request.form()
    takes = ", ".join(names)
    unknown = sorted(set(form.keys()) - set(names))
    if unknown:
        raise InvalidInput(
            f"不认识的表单字段：{'、'.join(unknown)}（{what[0]}可用：{takes}）",
            f"Unknown form field(s): {', '.join(unknown)} ({what[1]} takes: {takes})",
            field=unknown[0],
            **context,
        )
    refuse_repeated([k for k, _ in form.multi_items()], ("表单字段", "Form field(s)"), **context)


def refuse_repeated(keys: list[str], kind: tuple[str, str], **context: Any) -> None:
    """Refuse names given more than once (``kind``: what they are, 查询参数 / Query parameter(s))."""
    twice = sorted(k for k, n in Counter(keys).items() if n > 1)
    if twice:
        raise InvalidInput(
            f"{kind[0]} {'、'.join(twice)} 给了不止一次",
            f"{kind[1]} {', '.join(twice)} given more than once",
            field=twice[0],
            **context,
        )


def _query_names(dependant: Any) -> set[str]:
    """The query parameters an endpoint and its dependencies declare."""
    names = {f.alias for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


# These only read the app's state: ``async`` so that FastAPI calls them in the event loop instead of
# sending each one to the thread pool (a hop that costs more than the lookup).


async def get_workspace(request: Request) -> Workspace:
    return request.app.state.workspace


async def get_store(request: Request) -> Store:
    return request.app.state.workspace.store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_catalog(request: Request) -> Catalog:
    return request.app.state.workspace.catalog


async def get_layer(request: Request, collection_id: Annotated[str, Path()]) -> LayerSpec:
    """The declared layer named in the path, or NotFound (raised by the catalog)."""
    return request.app.state.workspace.catalog[collection_id]


def actor_of(request: Request) -> str:
    """Who is making the request (the signed-in user, once authentication is on)."""
    user = getattr(request.state, "user", None)
    return getattr(user, "name", None) or "anonymous"


def parse_moment(value: str | None, *, name: str = "at", past: bool = False) -> dt.datetime | None:
    """A time from a query parameter: the forms ``duty.parse_time`` reads (a clock alone is today's;
    with ``past``, its latest time not ahead), in Beijing time."""
    return parse_time(value, field=name, past=past)


def parse_window(start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    """A time window from ``start`` and ``end`` query parameters, both required. An end written as a
    clock alone is on the start's day, or on the next when that is at or before the start (``22:00``
    to ``02:00``: a night; ``2026-12-01 23:00`` to ``01:00``: two hours, whatever today is)."""
    s, e = parse_moment(start, name="start"), parse_time(end, field="end", window_end=True)
    if s is None or e is None:
        name = "start" if s is None else "end"
        raise InvalidInput(f"需要时间窗的 {name}", f"The time window needs a '{name}'", field=name)
    clock = read_clock(end or "")
    if clock is not None:
        hour, minute, second = clock
        midnight = dt.datetime.combine(
            s.astimezone(_TZ).date(), dt.time(), tzinfo=_TZ
        )  # (a clock: Beijing's)
        e = midnight + dt.timedelta(hours=hour, minutes=minute, seconds=second)
        if e <= s:
            e += dt.timedelta(days=1)
    return s, e


def _supported(value: dt.datetime, info: ValidationInfo) -> dt.datetime:
    in_supported_years(value, field=info.field_name or "at")
    return value


def _written(value: Any, info: ValidationInfo) -> Any:
    """A time in a body written as text is read as query parameters are (2026年12月7日 05:00, 05:00)."""
    if isinstance(value, str):
        return parse_time(value, field=info.field_name or "at")
    return value


# a time in a request body, in the years the calendars answer for (else 400 naming the field)
Moment = Annotated[dt.datetime, BeforeValidator(_written), AfterValidator(_supported)]

WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
LayerDep = Annotated[LayerSpec, Depends(get_layer)]
