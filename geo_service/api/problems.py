"""One error table: domain exceptions → HTTP status → ``application/problem+json`` (RFC 9457).

Nothing reaches a user as a stack trace: unexpected errors become a 500 problem document with a
request id, and are logged. The audit row of such a request names the error's class and the same
reference (never its message), see :func:`answer_unexpected`.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_service import errors
from geo_service.api.browser import is_page, refusal_page, wants_html
from geo_service.maps.prints import PrintUnavailable
from geo_service.store.failures import storage_failure, workspace_name
from geo_service.validation_text import zh_of

__all__ = [
    "STATUS",
    "answer_unexpected",
    "error_class",
    "install_problem_handlers",
    "page_or_problem",
    "problem_response",
    "remember_problem",
]

log = logging.getLogger("geo_service.api")

STATUS: dict[type[errors.GeoServiceError], int] = {
    errors.InvalidInput: 400,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedFormat: 415,
    errors.PreconditionRequired: 428,
    errors.StoreUnavailable: 503,
    errors.StorageFull: 507,  # Insufficient Storage: the disk holding the workspace is full
    errors.StorageUnwritable: 503,
    errors.BadDeclaration: 400,
    errors.ComputationTimeout: 503,
    PrintUnavailable: 503,  # no Chromium on this server: not the user's doing
}

_HTTP_TEXT = {
    400: ("请求无效", "Bad request"),
    401: ("需要登录", "Authentication required"),
    403: ("无权操作", "Forbidden"),
    404: ("未找到", "Not found"),
    405: ("不支持该请求方法", "Method not allowed"),
    406: ("不支持请求的格式", "Not acceptable"),
    409: ("冲突", "Conflict"),
    413: ("内容过大", "Payload too large"),
    415: ("不支持的媒体类型", "Unsupported media type"),
    422: ("请求参数无效", "Unprocessable request"),
    429: ("请求过多", "Too many requests"),
}


def status_for(exc: errors.GeoServiceError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"type": f"about:blank#{body.get('code', status)}", "status": status, **body}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def remember_problem(scope: MutableMapping[str, Any], body: Mapping[str, Any]) -> None:
    """Keep the problem document a request is refused with on its state (``request.state.problem``),
    where the audit row of the request finds why (:mod:`geo_service.api.audit`); for the ASGI
    middleware that refuses a request before any route sees it, as for the handlers."""
    scope.setdefault("state", {})["problem"] = body


def page_or_problem(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """The refusal of a page a browser opened as a page (same status, its language), else the problem
    document; ``body`` holds ``detail_zh``, ``detail_en`` and ``title`` ('中文 / English'). The body is
    kept for the audit row of the request (:func:`remember_problem`)."""
    remember_problem(request.scope, body)
    if is_page(request) and wants_html(request):
        zh_title, _, en_title = str(body.get("title", "")).partition(" / ")
        return refusal_page(
            request,
            status,
            zh=str(body.get("detail_zh", "")),
            en=str(body.get("detail_en", "")),
            title={"zh": zh_title, "en": en_title or zh_title},
            headers=headers,
        )
    return problem_response(status, body, headers)


async def _domain(request: Request, exc: errors.GeoServiceError) -> Response:
    status = status_for(exc)
    body = exc.as_dict()
    body["instance"] = str(request.url.path)
    # a workspace that cannot be written stays so until an administrator acts: no quick retry
    retry = status == 503 and not isinstance(exc, errors.StorageUnwritable)
    return page_or_problem(request, status, body, {"Retry-After": "5"} if retry else None)


def _storage_failure(request: Request, exc: Exception) -> errors.StoreUnavailable | None:
    """A driver error raised outside the stores' own translation (the accounts tables, a read) that
    is a full disk or a workspace that cannot be written, as the domain says it; logged with its cause
    for the administrator."""
    if not isinstance(exc, sqlite3.Error | DBAPIError | OSError):
        return None
    settings = getattr(request.app.state, "settings", None)
    name = workspace_name(getattr(settings, "workspace", None), getattr(settings, "database_url", None))
    failure = storage_failure(exc, name)
    if failure is not None:
        log.error(
            "%s on %s %s: %s", failure.code, request.method, request.url.path, getattr(exc, "orig", exc)
        )
    return failure


async def _driver(request: Request, exc: Exception) -> Response:
    failure = _storage_failure(request, exc)
    if failure is None:
        return await answer_unexpected(request, exc)
    return await _domain(request, failure)


async def _validation(request: Request, exc: RequestValidationError) -> Response:
    problems = []
    for err in exc.errors()[:20]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        if err.get("type") == "json_invalid" or (not loc and tuple(err.get("loc", ())) == ("body",)):
            loc = "body"  # the body as a whole (the position of a JSON syntax error is no field)
        problems.append(
            {
                "field": loc or None,
                "message": err.get("msg"),
                "message_zh": zh_of(err),
                "where": err.get("loc", ["?"])[0],
            }
        )
    first = problems[0] if problems else {"field": None, "message": "invalid", "message_zh": "无效"}
    field = first["field"] or "?"
    if exc.errors() and exc.errors()[0].get("type") == "missing":
        zh, en = f"缺少参数「{field}」", f"Parameter '{field}' is missing"
    else:
        zh, en = (
            f"参数「{field}」无效：{first['message_zh']}",
            f"Parameter '{field}' is invalid: {first['message']}",
        )
    ctype = request.headers.get("content-type", "")
    if first["field"] == "body" and ctype and "json" not in ctype.lower():  # a body FastAPI did not read
        zh, en = (
            f"请求体应以 JSON 发送（Content-Type: application/json），而不是「{ctype}」",
            f"The body must be sent as JSON (Content-Type: application/json), not '{ctype}'",
        )
    body = {
        "code": "invalid-input",
        "title": "请求参数无效 / Invalid request parameters",
        "detail": f"{zh} / {en}",
        "detail_zh": zh,
        "detail_en": en,
        "field": first["field"],
        "errors": problems,
        "instance": str(request.url.path),
    }
    return page_or_problem(request, 422, body)


# what FastAPI says of a body it could not decode (a JSON body in GBK, say), said as a user can act on it
_UNREADABLE_BODY = (
    "请求体无法读取：JSON 请求体须为 UTF-8 编码的有效 JSON",
    "The body could not be read: a JSON body must be valid JSON in UTF-8",
)


async def _http(request: Request, exc: StarletteHTTPException) -> Response:
    zh, en = _HTTP_TEXT.get(exc.status_code, ("请求失败", "Request failed"))
    detail = exc.detail if isinstance(exc.detail, str) else en
    title = f"{zh} / {en}"
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        zh, detail = _UNREADABLE_BODY
    body = {
        "code": f"http-{exc.status_code}",
        "title": title,
        "detail": f"{zh} / {detail}",
        "detail_zh": zh,
        "detail_en": detail,
        "instance": str(request.url.path),
    }
    return page_or_problem(request, exc.status_code, body, getattr(exc, "headers", None))


def error_class(exc: BaseException) -> str:
    """The class of an unexpected error as an audit row names it: ``KeyError`` for Python's own,
    ``sqlalchemy.exc.ProgrammingError`` for others. Its message is never kept: it may quote a
    password, a database URL or a user's text."""
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


async def answer_unexpected(request: Request, exc: Exception) -> Response:
    """The answer to an error nobody anticipated: a storage failure as the domain says it (503, 507),
    else a 500 problem document in Chinese and English with a reference to find the logged stack trace
    by, and nothing of the error itself.

    Made once per request: the audit middleware asks first (the error passes it on its way to the
    outermost handler, which answers after the row is written), the handler then sends the same answer,
    with the same reference, logged once. A 500 leaves the error's class on the request's state
    (``request.state.error_class``) for the audit row only."""
    answered = getattr(request.state, "unexpected", None)
    if answered is not None and answered[0] is exc:
        return cast("Response", answered[1])
    response = await _unexpected(request, exc)
    request.state.unexpected = (exc, response)
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    failure = _storage_failure(request, exc)  # raised where the handlers above do not see it
    if failure is not None:
        return await _domain(request, failure)
    ref = uuid.uuid4().hex[:12]
    log.error("unexpected error %s on %s %s", ref, request.method, request.url.path, exc_info=exc)
    request.state.error_class = error_class(exc)
    body = {
        "code": "internal",
        "title": "服务器内部错误 / Internal server error",
        "detail": f"服务器内部错误，参考编号 {ref} / Internal server error, reference {ref}",
        "detail_zh": f"服务器内部错误，参考编号 {ref}",
        "detail_en": f"Internal server error, reference {ref}",
        "reference": ref,
        "instance": str(request.url.path),
    }
    return page_or_problem(request, 500, body)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.GeoServiceError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(sqlite3.Error, _driver)
    app.add_exception_handler(DBAPIError, _driver)
    app.add_exception_handler(Exception, answer_unexpected)
