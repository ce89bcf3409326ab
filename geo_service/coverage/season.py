"""Whether a dated site (a Spring Festival sales point) is open for business on a day, said in both
languages: in season, not yet (from when), or over (when it was)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from geo_service.duty import festival_dates, past_festival_dates

__all__ = ["site_season", "sites_season"]

_DATED = ("lunar_from", "lunar_to", "valid_from", "valid_to")


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else "…"


def site_season(props: Mapping[str, Any], *, day: dt.date) -> dict[str, Any]:
    """The season of a site with dates (solar ``valid_from``/``valid_to``, lunar ``lunar_from``/
    ``lunar_to``) as seen on ``day``.

    Returns ``in_season``; ``season``, the window as [first, last] ISO dates (``None`` for an open end):
    the one running or next to come, else the last one it had, else ``None``; ``season_state``, one of
    ``in_season``, ``upcoming``, ``ended``, ``none`` (no window within its dates); and ``season_zh`` /
    ``season_en`` saying so.

    >>> site_season({"lunar_from": "12-15", "lunar_to": "01-16", "valid_to": "2026-03-01"},
    ...             day=dt.date(2026, 12, 5))["season_en"]
    'Out of season: its window was 2026-02-02 to 2026-03-01; no later one is set'
    """
    first, last = festival_dates(props, around=day)
    if first is None or last is None or first <= last:
        if (first is None or first <= day) and (last is None or day <= last):
            state = "in_season"
        elif first is not None and day < first:
            state = "upcoming"
        else:
            state = "ended"  # solar dates, over
        window: tuple[dt.date | None, dt.date | None] | None = (first, last)
    else:  # festival_dates names no window to come: the last one it had, if any
        window = past_festival_dates(props, before=day)
        state = "ended" if window else "none"
    a, b = (_day(window[0]), _day(window[1])) if window else ("", "")
    zh, en = {
        "in_season": (f"开放期内：{a} 至 {b}", f"In season: {a} to {b}"),
        "upcoming": (f"未到开放期：{a} 开放，至 {b}", f"Out of season: opens {a}, until {b}"),
        "ended": (
            f"已过开放期：{a} 至 {b}，此后未再安排",
            f"Out of season: its window was {a} to {b}; no later one is set",
        ),
        "none": ("不在开放期：有效期内没有开放时段", "Out of season: no window within its dates"),
    }[state]
    return {
        "in_season": state == "in_season",
        "season": [d.isoformat() if d else None for d in window] if window else None,
        "season_state": state,
        "season_zh": zh,
        "season_en": en,
    }


def sites_season(sites: pd.DataFrame, *, day: dt.date) -> list[dict[str, Any]]:
    """:func:`site_season` of every row of a site layer's frame on ``day`` (a row without dates, or a
    frame without date fields, is in season: ``{"in_season": True}``)."""
    dated = [c for c in _DATED if c in sites]
    if not dated:
        return [{"in_season": True}] * len(sites)
    out = []
    for row in sites[dated].astype(object).where(sites[dated].notna(), None).to_dict("records"):
        props = {k: v for k, v in row.items() if v is not None}
        out.append(site_season(props, day=day) if props else {"in_season": True})
    return out
