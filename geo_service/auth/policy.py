"""Which action a request needs, from its method and route template: one table for every route.

A route that no rule names needs ``admin`` for writes and ``read`` for reads, so a new route is never
open by accident; the access-matrix test walks every route of the app with every role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PUBLIC", "Requirement", "requirement"]

_SAFE = {"GET", "HEAD", "OPTIONS"}

PUBLIC = {("GET", "/health"), ("GET", "/auth/login"), ("POST", "/auth/login"), ("GET", "/favicon.ico")}
_PUBLIC_PREFIXES = ("/static/",)
_SELF = {"/auth/me", "/auth/logout", "/auth/tokens"}
_ADMIN_PREFIXES = ("/users", "/audit", "/backup")
_PLAN_WRITES = ("/planning/", "/siting/check", "/coverage/what-if")
_DISPATCH_WRITES = ("/dispatch/", "/requests.json")
# a crew's own: its routes, their maps and sheets, and its start page listing them
_CREW_ROUTES = ("/plans/snow/{plan_id}/crews/{crew}", "/maps/route/{plan_id}/{crew}", "/maps/crews/{crew}")


@dataclass(frozen=True)
class Requirement:
    """What a request needs: ``action`` (see roles.ACTION_ROLES), a layer to edit, or a crew to own."""

    action: str
    layer: str | None = None
    crew: str | None = None


def requirement(method: str, template: str, params: Mapping[str, str]) -> Requirement | None:
    """The requirement of a request, or None when it is public."""
    method = method.upper()
    if (method, template) in PUBLIC or template.startswith(_PUBLIC_PREFIXES):
        return None
    if template in _SELF or (template == "/" and method in _SAFE):
        # the landing page sends a browser to the user's own start page (any role); it answers a
        # program only for roles that read the layers (checked there)
        return Requirement("self")
    if template.startswith(_ADMIN_PREFIXES):
        return Requirement("admin")
    if template.startswith(_CREW_ROUTES) and method in _SAFE:
        return Requirement("crew:own-routes", crew=params.get("crew"))
    if method in _SAFE:
        return Requirement("read")
    if template.startswith("/collections/{collection_id}"):
        return Requirement("edit", layer=params.get("collection_id"))
    if template.startswith(_PLAN_WRITES):
        return Requirement("plan")
    if template.startswith(_DISPATCH_WRITES):
        return Requirement("dispatch")
    if template.startswith("/plans/"):
        return Requirement("plans:write")
    return Requirement("admin")
