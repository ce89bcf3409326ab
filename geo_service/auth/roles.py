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

__all__ = ["ACTION_NAMES", "ACTION_ROLES", "ROLES", "ROLE_NAMES_ZH", "can"]

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


#: role → its name as the bureau says it
ROLE_NAMES_ZH = {
    "admin": "管理员",
    "planner": "规划人员",
    "dispatcher": "调度员",
    "crew": "作业班组",
    "viewer": "查看人员",
}

#: action → what it is, (Chinese, English), for refusals
ACTION_NAMES = {
    "read": ("查看图层与地图", "reading layers and maps"),
    "plan": (
        "进行规划计算（选址、摊贩分配、假设分析）",
        "planning computations (site choice, vendors, what-if)",
    ),
    "siting:override": ("越过选址规则（经批准的例外）", "overriding siting rules (approved exceptions)"),
    "dispatch": ("派发案件", "dispatching cases"),
    "plans:write": ("保存除雪预案", "saving snow plans"),
    "crew:own-routes": ("查看班组路线", "viewing crew routes"),
    "admin": ("进行系统管理", "administration"),
}


def can(role: str, action: str) -> bool:
    """True if ``role`` may do ``action``."""
    return role == "admin" or role in ACTION_ROLES.get(action, frozenset())
