"""The FastAPI app factory.

``create_app(settings)`` builds the app; the store is opened in the lifespan (nothing connects at
import time), kept on ``app.state`` and closed on exit. Every module in ``geo_service.api.routers``
that defines ``router`` is included.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from geo_service import __version__
from geo_service.api import routers
from geo_service.api.audit import audit_middleware
from geo_service.api.limits import BodyLimit, UnicodeGuard
from geo_service.api.paths import STATIC_DIR
from geo_service.api.problems import install_problem_handlers
from geo_service.api.security import (
    AuthError,
    SecurityHeaders,
    auth_problem,
    guard,
    page_policy,
)
from geo_service.auth.accounts import AccountStore, account_url
from geo_service.auth.crews import guard_crew_accounts
from geo_service.auth.throttle import LoginThrottle
from geo_service.catalog import load_catalog
from geo_service.errors import BadDeclaration
from geo_service.maps.base import tile_sources
from geo_service.settings import Settings, environment_settings
from geo_service.store import open_store
from geo_service.walks import warm as warm_searches
from geo_service.workspace import Workspace

__all__ = ["STATIC_DIR", "create_app"]


def _router_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(routers.__path__) if not m.name.startswith("_"))


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], dt.datetime] | None = None
) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        Defaults to ``Settings()`` read from ``GEO_*`` environment variables; bad ones, or a layer
        declaration that cannot be loaded, stop the start with one line each on stderr and exit status
        2, as the command line says them (``uvicorn --factory geo_service.api:create_app``), see
        :func:`geo_service.settings.environment_settings`.
    clock
        What time it is (an aware datetime) for what the answers say of today (a festival point's
        season, and the validators of answers that carry it); the system clock by default.
    """
    from_environment = settings is None
    settings = settings or environment_settings()
    try:
        catalog = load_catalog(settings.layers_dir)  # a bad declaration stops the start here
    except BadDeclaration as exc:
        if not from_environment:
            raise
        print(exc.as_line(), file=sys.stderr)  # as geo-service says it: one line, not a traceback
        raise SystemExit(2) from None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings, catalog)
        app.state.workspace = Workspace(store, settings, clock=clock)
        warm_searches()  # the service areas' compiled search: loaded (or compiled) now, not at a user's request
        app.state.accounts = AccountStore(
            account_url(str(settings.workspace), settings.database_url), cache_s=settings.auth_cache_s
        )
        guard_crew_accounts(app.state.workspace, app.state.accounts)
        # failed sign-ins counted where every worker of the service sees them
        app.state.login_throttle.ledger = app.state.accounts.sign_in_ledger()
        try:
            yield
        finally:
            app.state.accounts.close()
            store.close()

    app = FastAPI(
        title="geo-service 城市管理空间规划服务",
        version=__version__,
        description="焦作市城市管理局空间图层、覆盖、分派、选址、除雪路线与地图服务。"
        " Layers, coverage, assignment, siting, snow routes and maps for an urban-management bureau.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(guard)],
    )
    app.state.settings = settings
    app.state.login_throttle = LoginThrottle(
        limit=settings.login_attempts,
        window_s=settings.login_window_s,
        address_limit=settings.login_address_attempts,
    )
    app.state.catalog = catalog
    install_problem_handlers(app)
    app.add_exception_handler(AuthError, auth_problem)  # type: ignore[arg-type]
    app.add_middleware(UnicodeGuard)
    app.add_middleware(SecurityHeaders, policy=page_policy(tile_sources(settings)))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes)
    # around the limits: a write they refuse (too large, not Unicode) is audited, with why, as others are
    app.middleware("http")(audit_middleware)
    if settings.trusted_proxies:  # outermost: everything after it sees the client the proxy names
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for name in _router_modules():
        module = importlib.import_module(f"{routers.__name__}.{name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    return app
