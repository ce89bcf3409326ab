"""The audit log's row for a write made on the server's command line (an import, a rewind, an account)."""

from __future__ import annotations

import getpass
from collections.abc import Mapping

from geo_service.auth.accounts import CLI_ACTOR, AccountStore

__all__ = ["record_cli"]


def record_cli(accounts: AccountStore, command: str, detail: Mapping[str, object]) -> None:
    """One row, by the system account that ran ``geo-service <command>``."""
    accounts.record(
        actor=f"{CLI_ACTOR}:{getpass.getuser()}",
        role=None,
        method="CLI",
        path=f"geo-service {command}",
        status=0,
        detail=dict(detail),
    )
