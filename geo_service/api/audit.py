"""The audit log of requests: every write, accepted or refused, and every download of a whole workspace,
layer, backup or audit log, with who made it, from which address, what it changed and the status it got.

A route says what it changed with :func:`note` (never a password or token); the middleware adds the
client's address (as the trusted proxies name it, see ``GEO_TRUSTED_PROXIES``) and, for a request
answered with a problem document, why it was refused (``refusal``: its code, title and detail in
Chinese and English, as the user was told, shortened), and records the row. It runs around the size
and Unicode limits (``geo_service.api.limits``), so a write they refuse before any route reads it is
recorded too, by the user its credentials name. A request that failed with an error nobody anticipated
(answered 500) is recorded with the generic refusal its user got, whose reference finds the stack trace
in the server's log, and the error's class (``error``), never its message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from fastapi import Request, Response

from geo_service.api.problems import answer_unexpected
from geo_service.api.security import current_user, route_template
from geo_service.auth import User
from geo_service.auth.accounts import shortened, user_change

__all__ = [
    "DOWNLOADS",
    "MOST_REASON",
    "audit_middleware",
    "client_address",
    "note",
    "reason",
    "refusal_note",
    "user_change",
]

log = logging.getLogger("geo_service.audit")
_SAFE = {"GET", "HEAD", "OPTIONS"}

#: reads that are audited too: they hand out a whole workspace, layer, backup or the audit log itself
DOWNLOADS = frozenset({"/backup", "/export", "/collections/{collection_id}/export", "/audit/export"})

#: characters of each of a refusal's words that an audit row keeps (a detail may quote what the user
#: sent, a 20,000-character name among it)
MOST_REASON = 300


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def note(request: Request, **detail: Any) -> None:
    """Add ``detail`` to the audit row of this request."""
    notes: dict[str, Any] = getattr(request.state, "audit", None) or {}
    notes.update(detail)
    request.state.audit = notes


def refusal_note(problem: Mapping[str, Any]) -> dict[str, Any]:
    """What an audit row keeps of a refusal's problem document: its code, title and detail in Chinese
    and English (and the field or layer at fault, when named), each at most :data:`MOST_REASON`
    characters."""
    title_zh, _, title_en = str(problem.get("title", "")).partition(" / ")
    out: dict[str, Any] = {
        "code": problem.get("code"),
        "title_zh": title_zh,
        "title_en": title_en or title_zh,
        "detail_zh": problem.get("detail_zh", ""),
        "detail_en": problem.get("detail_en", ""),
    }
    out.update({key: problem[key] for key in ("field", "layer") if problem.get(key) is not None})
    return {k: shortened(v, most=MOST_REASON) if isinstance(v, str) else v for k, v in out.items()}


def reason(detail: Mapping[str, Any] | None) -> str | None:
    """Why the request of an audit row's ``detail`` was refused, as '中文 / English'; None if it was not.
    For an unexpected error, what its user was told and the error's class:
    '服务器内部错误，参考编号 …（KeyError） / Internal server error, reference … (KeyError)'."""
    refused = (detail or {}).get("refusal")
    if not isinstance(refused, Mapping):
        return None
    zh, en = refused.get("detail_zh", ""), refused.get("detail_en", "")
    error = (detail or {}).get("error")
    if error:
        return f"{zh}（{error}） / {en} ({error})"
    return f"{zh} / {en}"


def _actor(request: Request) -> User | None:
    """Who made the request: as the guard found them, or, for a request refused before it ran (a body
    over the size limit, JSON that is not Unicode), from its credentials."""
    if hasattr(request.state, "user"):
        return cast("User | None", request.state.user)
    try:
        return current_user(request)
    except Exception:  # (a cross-site or unknown token): nobody, as the guard would say
        return None


async def audit_middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Record every write request and every download with its actor, address, detail and outcome."""
    try:
        response = await call_next(request)
    except Exception as exc:
        # nobody anticipated it: the outermost handler answers it, after this middleware has returned;
        # the row is written now, with the answer that handler will send (answer_unexpected makes it once)
        if _audited(request):
            try:
                _record(request, await answer_unexpected(request, exc))
            except Exception:  # the handler answers it all the same (and says it in the log)
                log.exception("audit record failed for %s %s", request.method, request.url.path)
        raise
    if _audited(request):
        _record(request, response)
    return response


def _audited(request: Request) -> bool:
    """A write (sign-ins record themselves) or a download."""
    write = request.method not in _SAFE and request.url.path != "/auth/login"
    return write or (request.method == "GET" and route_template(request)[0] in DOWNLOADS)


def _record(request: Request, response: Response) -> None:
    user = _actor(request)
    detail = {"client": client_address(request), **(getattr(request.state, "audit", None) or {})}
    problem = getattr(request.state, "problem", None)  # set by the problem handlers
    if problem is not None and response.status_code >= 400:
        detail["refusal"] = refusal_note(problem)
    error = getattr(request.state, "error_class", None)  # set by the handler of unexpected errors
    if error is not None and response.status_code >= 500:
        detail["error"] = shortened(error, most=MOST_REASON)
    try:
        request.app.state.accounts.record(
            actor=user.name if user else "anonymous",
            role=user.role if user else None,
            method=request.method,
            path=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
            status=response.status_code,
            detail=detail,
        )
    except Exception:  # the audit must never turn a served request into an error
        log.exception("audit record failed for %s %s", request.method, request.url.path)
