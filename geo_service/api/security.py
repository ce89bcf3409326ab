"""Authentication, authorisation and the audit log, applied to every route of the app.

``guard`` runs after routing (an app-wide dependency), so it knows the route template; it finds the
user from ``Authorization: Bearer …`` or the session cookie and checks the policy table
(:mod:`geo_service.auth.policy`). The audit log of requests is :mod:`geo_service.api.audit`; the
feature history keeps before/after.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.api.browser import wants_html
from geo_service.api.problems import page_or_problem
from geo_service.auth import AccountStore, User, can, requirement
from geo_service.auth.roles import ACTION_NAMES, ACTION_ROLES, ROLE_NAMES_ZH
from geo_service.errors import GeoServiceError

__all__ = [
    "SESSION_COOKIE",
    "AuthError",
    "SecurityHeaders",
    "current_user",
    "guard",
    "page_policy",
    "refusal",
    "route_template",
]

SESSION_COOKIE = "geo_session"
_SAFE = {"GET", "HEAD", "OPTIONS"}


class AuthError(GeoServiceError):
    """401 (no or bad credentials) or 403 (not allowed for this role)."""

    def __init__(self, status: int, zh: str, en: str, *, retry_after: int | None = None) -> None:
        super().__init__(zh, en)
        self.status = status
        self.retry_after = retry_after  # seconds, for a 429
        self.code = {401: "unauthorized", 429: "too-many-attempts"}.get(status, "forbidden")
        self.title = {
            401: {"zh": "需要登录", "en": "Authentication required"},
            429: {"zh": "尝试过多", "en": "Too many attempts"},
        }.get(status, {"zh": "无权操作", "en": "Forbidden"})


def _credentials(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def route_template(request: Request) -> tuple[str, dict[str, str]]:
    """The matched route's path template and parameters (matched by hand before routing)."""
    route = request.scope.get("route")
    if route is not None:
        return route.path, {k: str(v) for k, v in request.path_params.items()}
    for candidate in request.app.router.routes:  # middleware: match by hand
        match, scope = candidate.matches(request.scope)
        if match is Match.FULL:
            return candidate.path, {k: str(v) for k, v in scope.get("path_params", {}).items()}
    return request.url.path, {}


def current_user(request: Request) -> User | None:
    token, from_cookie = _credentials(request)
    if not token:
        return None
    accounts: AccountStore = request.app.state.accounts
    user = accounts.user_for_token(token)
    if user is not None and from_cookie and request.method not in _SAFE:
        origin = request.headers.get("origin") or request.headers.get("referer")
        if origin and urlsplit(origin).netloc != request.url.netloc:
            raise AuthError(403, "跨站请求被拒绝", "Cross-site request refused")
    return user


def guard(request: Request) -> None:
    """The app-wide dependency: sign-in and role check for the matched route."""
    template, params = route_template(request)
    need = requirement(request.method, template, params)
    user = current_user(request)
    request.state.user = user
    if need is None:
        return
    if user is None:
        token, _ = _credentials(request)
        if token:  # one was sent: say why it signs nobody in (expired, when; disabled; unknown)
            raise AuthError(401, *request.app.state.accounts.refused_token(token))
        raise AuthError(
            401,
            "请先登录或提供 API 令牌（Authorization: Bearer …）",
            "Sign in or send an API token (Authorization: Bearer …)",
        )
    if need.action == "self":
        return
    if need.action == "crew:own-routes":
        if user.role == "crew" and user.crew != need.crew:
            raise AuthError(
                403,
                f"作业人员只能查看本班组（{user.crew}）的路线",
                f"A crew member may read only the routes of their own crew ({user.crew})",
            )
        if can(user.role, need.action):
            return
    elif need.action == "edit":
        spec = request.app.state.catalog.get(need.layer or "")
        if spec is None:  # no such layer: the route answers 404, for every signed-in role alike
            return
        editors = spec.editors
        if user.role == "admin" or user.role in editors:
            if "override" in request.query_params and not can(user.role, "siting:override"):
                raise AuthError(
                    403,
                    "只有规划人员或管理员可以越过选址规则",
                    "Only planners and admins may override siting rules",
                )
            return
        names = ("admin", *editors)
        title = spec.title.get("zh")
        who_zh = "、".join(f"{ROLE_NAMES_ZH.get(r, r)}（{r}）" for r in names)
        raise AuthError(
            403,
            f"{ROLE_NAMES_ZH.get(user.role, user.role)}（{user.role}）不能编辑图层"
            f"「{title or need.layer}」（{need.layer}）；可编辑：{who_zh}",
            f"Role {user.role} may not edit layer {need.layer} (editors: {', '.join(names)})",
        )
    elif can(user.role, need.action):
        return
    raise refusal(user, need.action)


def refusal(user: User, action: str) -> AuthError:
    """The 403 for ``user``, whose role may not do ``action``: what it is and which roles may."""
    zh, en = ACTION_NAMES.get(action, (action, action))
    allowed = ["admin", *sorted(ACTION_ROLES.get(action, ()))]
    return AuthError(
        403,
        f"{ROLE_NAMES_ZH.get(user.role, user.role)}（{user.role}）无权{zh}；"
        f"可由{'、'.join(f'{ROLE_NAMES_ZH.get(r, r)}（{r}）' for r in allowed)}进行",
        f"Role {user.role} may not do this: {en} is for {', '.join(allowed)}",
    )


def auth_problem(request: Request, exc: AuthError) -> Response:
    """A browser without a session is sent to sign in; any other refusal of a page a browser opened is
    a page (:func:`geo_service.api.problems.page_or_problem`), else problem+json."""
    if exc.status == 401 and request.method == "GET" and wants_html(request):
        from urllib.parse import quote

        from fastapi.responses import RedirectResponse

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/auth/login?next={quote(target)}", status_code=303)
    body = exc.as_dict()
    body["instance"] = request.url.path
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, exc.retry_after))
    return page_or_problem(request, exc.status, body, headers or None)


_HEADERS = [
    (b"x-content-type-options", b"nosniff"),  # an upload served back is never run as a page or script
    (b"x-frame-options", b"DENY"),  # no page of the service inside another site's frame (clickjacking)
    (b"referrer-policy", b"same-origin"),
]


def page_policy(tile_sources: Sequence[str] = ()) -> str:
    """The Content-Security-Policy of the service's HTML pages.

    Everything comes from the service itself (the maps work offline); folium writes its map set-up as
    inline scripts and styles, so those are allowed, but no script, style, font or request may come
    from another host. Images may also be ``data:``/``blob:`` (Leaflet's icons, drawn tiles) and the
    configured basemap's tiles. No page may be framed, embed objects, change its base URL or post a
    form elsewhere.
    """
    images = " ".join(("'self'", "data:", "blob:", *tile_sources))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeaders:
    """ASGI middleware adding the headers every answer carries, and ``policy`` as the
    Content-Security-Policy of HTML answers (a plain ASGI wrapper: no per-request task, so the fast
    endpoints stay fast)."""

    def __init__(self, app: ASGIApp, *, policy: str | None = None) -> None:
        self.app = app
        self.page_headers = [*_HEADERS]
        if policy:
            self.page_headers.append((b"content-security-policy", policy.encode("latin-1")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                message = {**message, "headers": [*headers, *(self.page_headers if html else _HEADERS)]}
            await send(message)

        await self.app(scope, receive, sending)
