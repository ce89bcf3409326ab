"""Crew members' accounts name a feature of the crews layer: the layer keeps them from dangling."""

from __future__ import annotations

from geo_service.auth.accounts import AccountStore
from geo_service.workspace import OutsideReferrer, Workspace

__all__ = ["guard_crew_accounts"]


def guard_crew_accounts(ws: Workspace, accounts: AccountStore) -> None:
    """Refuse deleting or renaming a crew that user accounts still name (a 409 naming them), on every
    path that writes the crews layer (API, OGC API, imports, CLI)."""
    ws.outside_referrers.append(
        OutsideReferrer(
            layer="crews",
            key="crew",
            title={"zh": "用户账户", "en": "User accounts"},
            holders=accounts.crew_members,
        )
    )
