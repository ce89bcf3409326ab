"""A layer's history read back from a moment: what changed after it, oldest first."""

from __future__ import annotations

import datetime as dt

from geo_service.store.base import Change, Store

__all__ = ["changes_since"]


def changes_since(store: Store, layer: str, moment: dt.datetime) -> list[Change]:
    """The layer's changes after ``moment``, oldest first (read newest first, page by page: a recent
    moment reads a short page)."""
    limit = 1000
    while True:
        changes = store.history(layer, limit=limit)
        if len(changes) < limit or changes[-1].at <= moment:
            break
        limit *= 4
    return [c for c in reversed(changes) if c.at > moment]
