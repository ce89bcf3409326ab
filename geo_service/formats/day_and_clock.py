"""A date-time field given in two columns of a table, the day in one and the time of day in the other,
as 12345 exports write the time a case came in (受理日期 + 受理时刻, 来电日期 + 来电时间)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from geo_service.catalog import LayerSpec
from geo_service.formats.common import is_blank
from geo_service.timetext import UnreadableTime, read_clock, read_time

__all__ = ["join_day_and_clock"]


def join_day_and_clock(table: pd.DataFrame, spec: LayerSpec) -> pd.DataFrame:
    """``table`` with each datetime field the layer has given as a day column and a time-of-day column
    read as one column, in the time column's place, under the field's header the pair is named after.

    The pairs come from the field's headers (its title and aliases, see ``layers/*.yaml``): a header
    ``…时间`` pairs ``…日期`` with ``…时刻`` or with itself (受理日期 + 受理时刻 or 受理时间, for
    受理时间), ``…日期`` pairs itself with ``…时刻`` or ``…时间``, ``…time`` pairs ``…date`` with
    itself (report_date + report_time). The first pair the table has, in the order of the headers,
    is taken; none is taken where the joined column's header is already another column (which one
    would be meant is not for us to guess).

    Each row's day and time are written as one text (``2026-12-01 21:05``) for the field to read as
    any time: a row whose time column holds the whole date and time keeps it, a row without a time
    of day is its day (as ``2026/12/1`` alone is), and a part that cannot be read is refused with the
    row, naming both parts (``上报时间「2026-12-01 25:00」不是有效的日期或时刻``).
    """
    columns = {str(c).strip().lower(): c for c in table.columns}
    for f in spec.fields:
        if f.type != "datetime":
            continue
        for header, day, clocks in _pairs(f.headers()):
            day_col = columns.get(day.lower())
            clock_col = next((columns[c.lower()] for c in clocks if c.lower() in columns), None)
            if day_col is None or clock_col is None or day_col == clock_col:
                continue
            named = columns.get(header.strip().lower())
            if named is not None and named != clock_col:
                continue
            joined = [_at(d, c) for d, c in zip(table[day_col], table[clock_col], strict=True)]
            table = table.drop(columns=[day_col]).rename(columns={clock_col: header})
            table[header] = pd.Series(joined, index=table.index, dtype=object)
            columns = {str(c).strip().lower(): c for c in table.columns}
            break
    return table


def _pairs(headers: list[str]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(the joined column's header, the day's header, the time's headers) for each header of a field."""
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for header in headers:
        h = header.strip()
        if h.endswith("时间"):
            out.append((h, f"{h[:-2]}日期", (f"{h[:-2]}时刻", h)))
        elif h.endswith("日期"):
            out.append((f"{h[:-2]}时间", h, (f"{h[:-2]}时刻", f"{h[:-2]}时间")))
        elif h.lower().endswith("time"):
            out.append((h, f"{h[:-4]}date", (h,)))
    return out


def _at(day: Any, clock: Any) -> Any:
    """One row's day and time of day as one value for the field to read (see :func:`join_day_and_clock`)."""
    if is_blank(clock):
        return day
    if is_blank(day):
        return clock
    if isinstance(clock, dt.datetime) and clock.year > 1900:  # the whole date and time
        return clock
    if isinstance(clock, dt.datetime):  # a time of day as Excel keeps it, on its day 0 (1899-12-30)
        clock_text = clock.time().isoformat()
    elif isinstance(clock, dt.time):
        clock_text = clock.isoformat()
    else:
        clock_text = str(clock).strip()
        try:
            alone = read_clock(clock_text)
        except UnreadableTime:  # 25:00: said with its day below
            alone = (0, 0, 0)
        if alone is None:
            try:
                read_time(clock)
            except UnreadableTime:
                pass
            else:
                return clock  # the whole date and time in the time column
    try:
        day_text = read_time(day).date().isoformat()
    except UnreadableTime:
        day_text = str(day).strip()
    return f"{day_text} {clock_text}"
