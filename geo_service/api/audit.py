"""The audit log of requests: every write, accepted or refused, and every download of a whole workspace,
layer, backup or audit log, with who made it, from which address, what it changed and the status it got.

A route says what it changed with :func:`note` (never a password or token); the middleware adds the
client's address (as the trusted proxies name it, see ``GEO_TRUSTED_PROXIES``) and records the row.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response

from geo_service.api.security import route_template
from geo_service.auth import User
from geo_service.auth.accounts import user_change

__all__ = ["DOWNLOADS", "audit_middleware", "client_address", "note", "user_change"]

log = logging.getLogger("geo_service.audit")
_SAFE = {"GET", "HEAD", "OPTIONS"}

#: reads that are audited too: they hand out a whole workspace, layer, backup or the audit log itself
DOWNLOADS = frozenset({"/backup", "/export", "/collections/{collection_id}/export", "/audit/export"})


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def note(request: Request, **detail: Any) -> None:
    """Add ``detail`` to the audit row of this request."""
    notes: dict[str, Any] = getattr(request.state, "audit", None) or {}
    notes.update(detail)
    request.state.audit = notes


async def audit_middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Record every write request and every download with its actor, address, detail and outcome."""
    response = await call_next(request)
    write = request.method not in _SAFE and request.url.path != "/auth/login"  # sign-ins record themselves
    download = request.method == "GET" and route_template(request)[0] in DOWNLOADS
    if write or download:
        user: User | None = getattr(request.state, "user", None)
        detail = {"client": client_address(request), **(getattr(request.state, "audit", None) or {})}
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
    return response
