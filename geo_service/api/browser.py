"""What a person in a browser is shown that an API client is not: each role's home page, and a refusal
of a page (the maps, their prints, a crew's route sheet) as a page rather than problem+json.

A client asks for a page when its ``Accept`` header prefers ``text/html`` to JSON, as a browser's does;
a program that asks for JSON, or names no HTML, keeps the problem document (RFC 9457) and the same status.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

__all__ = ["PAGE_PATHS", "home_for", "is_page", "page_lang", "refusal_page", "wants_html"]

#: the route templates (or their starts) of what a browser opens: the map pages and their prints, a
#: crew's route list and route sheet, the API docs and the landing page
PAGE_PATHS = ("/maps/", "/plans/snow/{plan_id}/crews/{crew}/sheet", "/docs")
_HTML = ("text/html", "application/xhtml+xml")
_JSON = ("application/json", "application/problem+json", "application/geo+json")


def _quality(accept: str, media: tuple[str, ...]) -> float:
    """The highest ``q`` the Accept header gives any of ``media`` (named outright; ``*/*`` does not count)."""
    best = 0.0
    for part in accept.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if name.lower() not in media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def wants_html(request: Request) -> bool:
    """Whether the client asks for a page: HTML named in its Accept header, and preferred to JSON."""
    accept = request.headers.get("accept", "")
    return _quality(accept, _HTML) > _quality(accept, _JSON)


def _template(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", None) or request.url.path)


def is_page(request: Request) -> bool:
    """Whether the request is for something a browser opens (see :data:`PAGE_PATHS`)."""
    template = _template(request)
    return template == "/" or template.startswith(PAGE_PATHS)


def home_for(user: Any) -> str:
    """Where a signed-in user starts: a planner on the planner's map, a dispatcher (and a viewer) on the
    coverage map, a crew member on the list of their crew's routes, an admin on the API docs."""
    role = getattr(user, "role", None)
    if role == "crew":
        crew = getattr(user, "crew", None)
        return f"/maps/crews/{quote(crew)}" if crew else "/auth/me"
    return {"planner": "/maps/plan", "dispatcher": "/maps/coverage", "viewer": "/maps/coverage"}.get(
        str(role), "/docs"
    )


def page_lang(request: Request) -> str:
    """The language a page is asked in (``?lang=en``; Chinese otherwise)."""
    return "en" if request.query_params.get("lang") == "en" else "zh"


def _heading(request: Request, lang: str) -> str:
    template = _template(request)
    if template.endswith("/sheet"):
        return "The route sheet cannot be shown" if lang == "en" else "无法显示路线单"
    if template.startswith("/maps/crews/"):
        return "The crew's routes cannot be shown" if lang == "en" else "无法显示班组路线"
    if template.startswith("/maps/"):
        return "The map cannot be shown" if lang == "en" else "无法显示地图"
    return "This page cannot be shown" if lang == "en" else "无法显示此页"


def refusal_page(
    request: Request,
    status: int,
    *,
    zh: str,
    en: str,
    title: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A refusal (``status`` kept) as a page in the language the page was asked in (``lang=en``, else
    Chinese), the other language below it, with a way on: the user's own home page, and signing in as
    someone else where the refusal is about who is asking."""
    lang = page_lang(request)
    text, other = (en, zh) if lang == "en" else (zh, en)
    what = (title or {}).get(lang, "")
    user = getattr(request.state, "user", None)
    links = []
    if user is not None:
        home = home_for(user)
        name = {
            "crew": ("My crew's routes", "本班组路线"),
            "planner": ("Planner's map", "规划图"),
            "dispatcher": ("Coverage map", "值守覆盖图"),
            "viewer": ("Coverage map", "值守覆盖图"),
        }.get(user.role, ("API documentation", "接口文档"))
        links.append(
            f"<a id='home' href='{html.escape(home, quote=True)}'>{name[0 if lang == 'en' else 1]}</a>"
        )
    if status in (401, 403):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        again = html.escape(f"/auth/login?next={quote(here, safe='')}", quote=True)
        links.append(
            f"<a id='sign-in' href='{again}'>{'Sign in as someone else' if lang == 'en' else '换用其他账号登录'}</a>"
        )
    body = (
        f"<!doctype html><html lang='{'en' if lang == 'en' else 'zh-CN'}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(_heading(request, lang))} · geo-service</title></head>"
        "<body style='font-family:\"Noto Sans CJK SC\",sans-serif;margin:2rem;max-width:40rem'>"
        f"<h1>{html.escape(_heading(request, lang))}</h1>"
        + (f"<p id='reason'><b>{html.escape(what)}</b> ({status})</p>" if what else "")
        + f"<p id='error'>{html.escape(text)}</p><p lang='{'zh-CN' if lang == 'en' else 'en'}'>"
        f"{html.escape(other)}</p><p id='links'>{' · '.join(links)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=dict(headers or {}))
