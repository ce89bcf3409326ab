"""Bounded input and bounded work.

* ``body_limit_middleware`` refuses a request body beyond the configured size with 413, whether the
  client announced its length or streams it, before a route reads it.
* ``UnicodeGuard`` refuses a JSON body holding text that is not Unicode (a lone surrogate escape)
  with 400, before a store or an answer fails to encode it.
* ``run_bounded`` runs a heavy computation on a small worker pool with a time budget: over budget the
  client gets 503 problem+json with ``Retry-After`` instead of a hung worker.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.api.problems import problem_response, remember_problem
from geo_service.budget import ComputationTimeout, budget, check_budget
from geo_service.errors import InvalidInput
from geo_service.formats.common import MAX_JSON_DEPTH, json_too_deep

__all__ = ["BodyLimit", "ComputationTimeout", "UnicodeGuard", "run_bounded"]

T = TypeVar("T")
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="geo-compute")


async def run_bounded(fn: Callable[..., T], *args: Any, timeout_s: float, **kwargs: Any) -> T:
    """Run ``fn`` on the computation pool within a budget of ``timeout_s``: the caller gets
    ``ComputationTimeout`` then, and the work itself stops at its next :func:`check_budget` (so it
    neither holds a worker nor stores an answer nobody is waiting for)."""
    loop = asyncio.get_running_loop()
    asked = time.monotonic()  # the budget runs from now, also while the work waits for a worker

    def within_budget() -> T:
        with budget(timeout_s, since=asked):
            check_budget()  # waited in the queue past its budget: the caller has its answer already
            return fn(*args, **kwargs)

    future = loop.run_in_executor(_POOL, within_budget)
    try:
        return await asyncio.wait_for(future, timeout=timeout_s)
    except TimeoutError:
        raise ComputationTimeout.after(timeout_s) from None


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body (``upload_bytes`` for multipart uploads)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        limit = self.upload_bytes if ctype.startswith("multipart/") else self.max_bytes
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        mb = limit / (1024 * 1024)
        body = {
            "code": "too-large",
            "title": "内容过大 / Payload too large",
            "detail": f"请求体超过 {mb:g} MB 的上限 / The request body exceeds the {mb:g} MB limit",
            "detail_zh": f"请求体超过 {mb:g} MB 的上限",
            "detail_en": f"The request body exceeds the {mb:g} MB limit",
            "instance": scope.get("path"),
        }
        remember_problem(scope, body)
        response = problem_response(413, body)
        await response(scope, receive, send)


# a UTF-16 surrogate escape in JSON text that is not half of a pair: no Unicode character, and no store
# (nor a UTF-8 answer) can hold it
_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE = re.compile(_HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW)


_INLINE_BYTES = 256 * 1024  # bodies checked in the event loop; larger ones in a worker thread


def _lone_surrogate(value: Any) -> str | None:
    """The first string (or key) in parsed JSON that holds a lone surrogate, shown escaped (walked
    without recursion: nesting is as deep as the sender likes)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item.encode("utf-8", "backslashreplace").decode("utf-8")[:60]
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _refusal(body: bytes) -> InvalidInput | None:
    """Why a JSON body is refused before any endpoint reads it: nested too deep for the parsers (and the
    code after them) to follow, or holding text that is not Unicode (a lone ``\\ud83d`` escape, half an
    emoji, which a store or the answer could not write out). None for a body that is fine, or not JSON
    (the endpoint says so)."""
    lone = _LONE.search(body)
    if not lone and body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return None  # the common case, decided without parsing
    try:
        doc = json.loads(body)
    except RecursionError:
        doc = None
        deep = True
    except ValueError:
        return None
    else:
        deep = json_too_deep(doc)
    if deep:
        return InvalidInput(
            f"JSON 嵌套超过 {MAX_JSON_DEPTH} 层",
            f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep",
            field="body",
        )
    found = _lone_surrogate(doc) if lone else None
    if found is None:
        return None
    return InvalidInput(
        f"文本含有无效字符（孤立的 UTF-16 代理项）：{found}",
        f"The text holds an invalid character (a lone UTF-16 surrogate): {found}",
        field="body",
    )


class UnicodeGuard:
    """ASGI middleware: a JSON body with text that is not Unicode (a lone ``\\ud83d`` escape, half an
    emoji) or nested too deep is a 400 before any endpoint sees it, instead of a 500 when a store or
    the answer tries to write it out, or a parser gives up (``_refusal``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        ctype = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip()
        if not (ctype in (b"", b"application/json") or ctype.endswith(b"+json")):  # none: read as JSON
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        # a large body is parsed off the event loop: 25 MB of GeoJSON takes a second or two
        refusal = _refusal(body) if len(body) < _INLINE_BYTES else await run_in_threadpool(_refusal, body)
        if refusal is not None:
            problem = {**refusal.as_dict(), "instance": scope.get("path")}
            remember_problem(scope, problem)
            response = problem_response(400, problem)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}]), send)


def _replay(messages: list[Message]) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return {"type": "http.disconnect"}

    return receive
