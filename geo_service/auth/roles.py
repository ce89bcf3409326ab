"""Roles and what each may do.

=========== =====================================================================
admin       everything: users, settings, audit, backups, every layer
planner     stall sites, festival points and their context layers; siting rules and overrides;
            planning computations (site selection, vendors, what-if)
dispatcher  cases, duty rosters, beats, crews, depots, bridges; dispatch; snow plans
crew        its own crew's routes and route maps
viewer      read layers and maps
=========== =====================================================================

Which role may edit a layer is part of the layer declaration (``editors:``); admin always may.
"""

from __future__ import annotations

__all__ = ["ACTION_ROLES", "ROLES", "can"]

ROLES = ("admin", "planner", "dispatcher", "crew", "viewer")

#: action → roles allowed (admin is allowed everything).
ACTION_ROLES: dict[str, frozenset[str]] = {
    "read": frozenset({"planner", "dispatcher", "viewer"}),
    "plan": frozenset({"planner"}),  # planning computations that store nothing
    "siting:override": frozenset({"planner"}),
    "dispatch": frozenset({"dispatcher"}),
    "plans:write": frozenset({"dispatcher"}),
    "crew:own-routes": frozenset({"crew", "dispatcher", "planner", "viewer"}),
    "admin": frozenset(),
}


def can(role: str, action: str) -> bool:
    """True if ``role`` may do ``action``."""
    return role == "admin" or role in ACTION_ROLES.get(action, frozenset())
