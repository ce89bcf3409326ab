"""Workload over a period: cases per beat and per squad on duty, and cases per hour of the day beside
the beats on duty then."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.assignment.dispatch import area_first
from geo_service.coverage import BeatIndex, assign_points_to_beats
from geo_service.crs import to_metric
from geo_service.duty import TZ, Shift, ShiftTable, day_minute, local_times

__all__ = ["workload"]


def workload(
    cases: gpd.GeoDataFrame,
    *,
    beats: BeatIndex,
    shifts: Sequence[Shift],
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    crs: str = "EPSG:4547",
) -> dict[str, Any]:
    """Cases per squad and per beat over a period, and cases per hour of day against the beats on duty
    in that hour of the period's days.

    A case counts for the beat that takes it, as in dispatch: the beat whose squad was on duty there
    when it was reported (area beats before road beats), else the area beat before a road beat; and
    for that squad ("（无人值班）" when nobody was, "（无网格）" outside every beat).
    ``by_hour`` lists the hours of the day the window from ``start`` to ``end`` touches: every hour,
    0 to 23, when it touches them all (a day or more, or no window: the days of the cases), else
    only its own, in its order (20:00 to 02:00: 20, 21, 22, 23, 0, 1). ``beats_on_duty`` is the
    average, over the days on which that hour is in the window, of the beats on duty in it, a beat
    on duty half the hour counting half.
    """
    # a window's naive ends are Beijing time, as the cases' are
    start, end = (t if t is None or t.tzinfo else t.replace(tzinfo=TZ) for t in (start, end))
    n = len(cases)
    xy = shapely.get_coordinates(to_metric(cases.geometry.to_numpy(), crs)) if n else np.zeros((0, 2))
    local = (
        local_times(cases["reported_at"]).dt.tz_convert(TZ)
        if n
        else pd.Series([], dtype=f"datetime64[ns, {TZ.key}]")
    )
    day, minute = day_minute(local)
    hour = minute // 60
    p, b = assign_points_to_beats(xy, beats)
    chosen = area_first(p, b, beats.is_line, n)  # the beat that takes each case, as dispatch chooses it
    table = ShiftTable.of(shifts, beats.codes)
    duty = table.on_duty(p, b, chosen, day, minute)
    beat = np.full(n, "（无网格）", dtype=object)
    beat[chosen >= 0] = beats.codes[chosen[chosen >= 0]]
    # a case a squad took counts for that squad's beat (an area beat nobody is on duty in may leave
    # it to a road beat's squad), as dispatch answers and stores it
    beat[duty >= 0] = table.beat_code[duty[duty >= 0]]
    squad = np.where(chosen >= 0, "（无人值班）", "（无网格）").astype(object)
    squad[duty >= 0] = table.squad[duty[duty >= 0]]
    # the days of the period, and the minutes of each hour of each day each beat is on duty
    if start is not None and end is not None:
        first_day = start.astimezone(TZ).date().toordinal()
        last_day = (end - dt.timedelta(microseconds=1)).astimezone(TZ).date().toordinal()
    elif n:
        first_day, last_day = int(day.min()), int(day.max())
    else:
        first_day = last_day = 0
    days = np.arange(first_day, last_day + 1)
    asked = _hours_in(days, start, end)  # [day, hour]: the hour of that day is in the window
    on_duty = np.zeros(24)
    runs = table.applies(np.arange(first_day - 1, last_day + 1))  # [shift, day], from the day before
    slot = np.arange(24) * 60
    plain = table.end > table.start
    # minutes of each hour of the day on duty: on the shift's own day, and its morning part the day after
    today = np.clip(
        np.minimum(np.where(plain, table.end, 1440)[:, None], slot + 60)
        - np.maximum(table.start[:, None], slot),
        0,
        60,
    )
    morning = np.where(plain[:, None], 0, np.clip(np.minimum(table.end[:, None], slot + 60) - slot, 0, 60))
    known = table.beat >= 0
    for block in range(0, len(days), 16):  # a beat with two squads at once is on duty once: cap per beat
        d = slice(block + 1, min(block + 17, len(days) + 1))
        per_day = (
            runs[known, d, None] * today[known, None, :]
            + runs[known, d.start - 1 : d.stop - 1, None] * (morning[known, None, :])
        )  # [shift, day, hour]
        minutes = np.zeros((len(beats.codes), per_day.shape[1], 24))
        np.add.at(minutes, table.beat[known], per_day)
        on_duty += (np.minimum(minutes, 60) * asked[None, d.start - 1 : d.stop - 1, :]).sum(axis=(0, 1)) / 60
    on_duty /= np.maximum(asked.sum(axis=0), 1)
    per_hour = np.bincount(hour, minlength=24)
    order = np.flatnonzero(asked.ravel()) % 24  # the window's hours, as they come
    hours = list(range(24)) if asked.any(axis=0).all() else list(dict.fromkeys(order.tolist()))
    return {
        "cases": n,
        "days": len(days),
        "by_squad": pd.Series(squad).value_counts().to_dict(),
        "by_beat": pd.Series(beat).value_counts().to_dict(),
        "by_hour": [
            {"hour": h, "cases": int(per_hour[h]), "beats_on_duty": round(float(on_duty[h]), 1)}
            for h in hours
        ],
    }


def _hours_in(days: np.ndarray, start: dt.datetime | None, end: dt.datetime | None) -> np.ndarray:
    """[day, hour]: whether that hour of that day (Beijing time) overlaps the window; every hour of
    every day without one."""
    if start is None or end is None:
        return np.ones((len(days), 24), dtype=bool)
    if not len(days):
        return np.zeros((0, 24), dtype=bool)
    midnight = dt.datetime.combine(dt.date.fromordinal(int(days[0])), dt.time(), TZ)
    # minutes from the first day's midnight: of the window's ends, and of each hour's start
    s, e = ((t - midnight).total_seconds() / 60 for t in (start, end))
    slot = np.arange(len(days))[:, None] * 1440.0 + np.arange(24)[None, :] * 60
    return (slot < e) & (slot + 60 > s)
