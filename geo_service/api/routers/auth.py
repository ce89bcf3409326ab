"""Signing in: a login page and form for browsers (session cookie), API tokens for programs."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from geo_service.api.audit import client_address, note
from geo_service.api.browser import home_for
from geo_service.api.security import SESSION_COOKIE, AuthError
from geo_service.auth.accounts import MOST_NAME, shortened
from geo_service.auth.throttle import LoginThrottle
from geo_service.errors import InvalidInput

__all__ = ["router"]


router = APIRouter(prefix="/auth", tags=["auth 登录"])

_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>登录 · geo-service</title>
<style>body{{font-family:"Noto Sans CJK SC",sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin:.6rem 0 .2rem}}input{{width:100%;padding:.5rem;box-sizing:border-box}}
button{{margin-top:1rem;padding:.5rem 1.2rem}}.err{{color:#b71c1c}}</style></head><body>
<h1>城市管理空间规划服务</h1><p>请登录 / Please sign in</p>{error}
<form method="post" action="/auth/login"><input type="hidden" name="next" value="{next}">
<label for="name">用户名 / User</label><input id="name" name="name" autocomplete="username" required>
<label for="password">密码 / Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">登录 / Sign in</button></form></body></html>"""


def _safe_next(value: Any) -> str:
    """The page asked for, if it is one of the service's own ('' when none is, or it leads elsewhere)."""
    value = str(value or "")
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else ""


@router.get("/login", response_class=HTMLResponse, summary="登录页 / Sign-in page")
def login_page(
    request: Request, next: str | None = None, error: str | None = None, wait: str | None = None
) -> HTMLResponse:
    # a form sign-in slowed down: the page again, saying for how long (a link's own wait is not
    # believed beyond the throttle's longest, login_window_s, and one that is no number is not shown)
    seconds = int(wait) if wait is not None and wait.strip().isdigit() and len(wait.strip()) < 7 else 0
    if seconds > 0:
        longest = math.ceil(request.app.state.settings.login_window_s)
        message = '<p class="err">{} / {}</p>'.format(*_slowed(min(seconds, longest)))
    else:
        message = '<p class="err">用户名或密码错误 / Wrong user or password</p>' if error else ""
    # no page asked for: the form sends none, and the user lands on their role's start page
    return HTMLResponse(_PAGE.format(error=message, next=html.escape(_safe_next(next), quote=True)))


@router.post("/login", summary="登录 / Sign in (form or JSON)")
async def login(request: Request) -> Response:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body: Any = await request.json()
        except ValueError:
            raise InvalidInput("请求体不是有效的 JSON", "The body is not valid JSON") from None
        form = body if isinstance(body, dict) else {}
        as_json = True
    else:
        form = dict(await request.form())
        as_json = False
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    if len(name) > MOST_NAME:  # no account has such a name: a failed sign-in, not looked up
        name, password = shortened(name), ""
    throttle: LoginThrottle = request.app.state.login_throttle
    client = client_address(request)
    wait = math.ceil(throttle.wait_s(name, client))
    if wait > 0:  # refused unheard (the password is not even checked), and audited as a sign-in is
        zh, en = _slowed(wait)
        refusal = {"code": "throttled", "detail_zh": zh, "detail_en": en}
        _audit_sign_in(
            request,
            name,
            429,
            client=client,
            signed_in=False,
            throttled=True,
            retry_after_s=wait,
            refusal=refusal,
        )
    if wait > 0 and not as_json:  # a browser's form: back to the form (with its next), not a JSON body
        again = RedirectResponse(_back_to_form(form, f"wait={wait}"), status_code=303)
        again.headers["Retry-After"] = str(wait)
        return again
    if wait > 0:
        raise AuthError(429, *_slowed(wait), retry_after=wait)
    token = request.app.state.accounts.login(name, password) if name and password else None
    throttle.record(name, client, ok=token is not None)
    # every sign-in, and every failed one, in the audit log (who tried, from where; a failed one why:
    # an administrator tells a name being guessed from an account's password being tried)
    why: dict[str, Any] = {}
    if token is None:
        code, zh, en = request.app.state.accounts.refused_sign_in(name if password else "")
        why["refusal"] = {"code": code, "detail_zh": zh, "detail_en": en}
    _audit_sign_in(
        request, name, 200 if token is not None else 401, client=client, signed_in=token is not None, **why
    )
    if token is None:
        if as_json:
            raise AuthError(401, "用户名或密码错误", "Wrong user name or password")
        return RedirectResponse(_back_to_form(form, "error=1"), status_code=303)
    response: Response
    if as_json:
        response = JSONResponse({"token": token, "token_type": "bearer", "expires_in": 12 * 3600})
    else:
        target = _safe_next(form.get("next")) or home_for(request.app.state.accounts.get_user(name))
        response = RedirectResponse(target, status_code=303)
    secure = request.app.state.settings.cookie_secure  # only over HTTPS (GEO_COOKIE_SECURE)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=12 * 3600
    )
    return response


def _audit_sign_in(request: Request, name: str, status: int, **detail: Any) -> None:
    """A sign-in (done, refused, or slowed down by the throttle) in the audit log: the name tried, never
    the password. The audit middleware leaves /auth/login to this (a form is answered with a redirect,
    whatever became of it)."""
    request.app.state.accounts.record(
        actor=name or "anonymous",
        role=None,
        method="POST",
        path="/auth/login",
        status=status,
        detail=detail,
    )


def _slowed(wait: int) -> tuple[str, str]:
    """What a sign-in slowed down by the throttle is told, in Chinese and English."""
    return f"登录失败次数过多，请 {wait} 秒后再试", f"Too many failed sign-ins; try again in {wait} s"


def _back_to_form(form: Mapping[str, Any], state: str) -> str:
    """The sign-in form again, saying ``state`` (``error=1``, ``wait=N``), keeping where to go next."""
    wanted = _safe_next(form.get("next"))
    if not wanted:
        return f"/auth/login?{state}"
    return f"/auth/login?{state}&next={quote(wanted, safe='')}"  # all of it, '&lang=en' too


@router.post("/logout", summary="退出 / Sign out")
def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    if token:
        note(request, revoked=request.app.state.accounts.revoke_token(token))
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=request.app.state.settings.cookie_secure
    )
    return response


@router.get("/me", summary="当前用户 / Who am I")
def me(request: Request) -> dict[str, Any]:
    user = request.state.user
    return {"name": user.name, "role": user.role, "crew": user.crew}


@router.post("/tokens", status_code=201, summary="为自己签发 API 令牌 / Issue an API token for yourself")
def issue_token(
    request: Request,
    label: Annotated[str | None, Form(max_length=200)] = None,
    days: Annotated[int, Form(ge=1, le=366)] = 90,
) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").lower()
    if not kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")) and int(
        request.headers.get("content-length") or 0
    ):  # a JSON body: its days would not be read, and a 90-day token given unasked
        raise InvalidInput(
            "签发令牌的参数（label、days）请以表单字段提交",
            "Give a token's label and days as form fields (not a JSON body)",
            field="days",
        )
    user = request.state.user
    token = request.app.state.accounts.issue_token(user.name, label=label, ttl=dt.timedelta(days=days))
    note(request, issued={"user": user.name, "kind": "api", "label": label, "days": days})
    return {"token": token, "token_type": "bearer", "user": user.name, "expires_in_days": days}
