"""Landing page, conformance classes and health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from geo_service import __version__
from geo_service.api.browser import home_for, wants_html
from geo_service.api.deps import WorkspaceDep
from geo_service.api.paths import STATIC_DIR
from geo_service.api.security import refusal
from geo_service.auth import can

__all__ = ["router"]

router = APIRouter(tags=["service 服务"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]


@router.get("/", summary="服务首页 / Landing page", response_model=None)
def landing(request: Request) -> RedirectResponse | dict[str, Any]:
    """The OGC API landing page; a browser is sent on to the user's own start page (a crew member's
    routes, the planner's or the dispatcher's map, the API docs)."""
    user = request.state.user
    if wants_html(request):
        return RedirectResponse(home_for(user), status_code=303)
    if not can(user.role, "read"):
        raise refusal(user, "read")
    base = str(request.base_url).rstrip("/")
    return {
        "title": "geo-service 城市管理空间规划服务",
        "description": "焦作市城市管理局 · 图层、覆盖、分派、选址、除雪路线与地图",
        "version": __version__,
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/"},
            {
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
                "href": f"{base}/openapi.json",
            },
            {"rel": "service-doc", "type": "text/html", "href": f"{base}/docs"},
            {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
            {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
        ],
    }


@router.get("/conformance", summary="符合的标准 / Conformance classes")
def conformance() -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}


@router.get("/health", summary="健康检查 / Health check")
def health(ws: WorkspaceDep) -> dict[str, Any]:
    store = type(ws.store).__name__
    return {"status": "ok", "store": store, "layers": len(ws.catalog)}


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    """Swagger UI from the service's own copy (works with no internet)."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="geo-service API",
        swagger_js_url="/static/swagger/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger/swagger-ui.css",
        swagger_favicon_url="/static/swagger/favicon-32x32.png",
        # no badge fetched from validator.swagger.io: the page works offline and within its CSP
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "swagger" / "favicon-32x32.png", media_type="image/png")
