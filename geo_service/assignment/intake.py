"""Case intake: report times as dispatchers and spreadsheets write them, and what was wrong with each
case of a batch before it is dispatched (so that one bad row costs that row only).

Times: as :mod:`geo_service.timetext` reads them for every layer (ISO 8601 and the unambiguous Chinese
forms with the year first — ``2026-12-01 21:00``, ``2026/12/1 9:05``, ``2026.12.1``,
``2026年12月1日 21:00``, ``2026年12月1日21时05分``, ``2026/12/1 下午9:05``; full-width digits and
punctuation are fine), read as Beijing time unless they carry a zone. Day-first or month-first forms
(``12/01/2026``) and two-digit years are refused as ambiguous, a number as no time, true or false as a
boolean (not as the number 1). A spreadsheet cell that is a real date-time is taken as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from geo_service.duty import TZ, in_supported_years
from geo_service.errors import InvalidInput
from geo_service.formats.common import is_blank
from geo_service.timetext import UnreadableTime, read_time

__all__ = ["Intake", "case_times", "parse_case_time"]


@dataclass(frozen=True)
class Intake:
    """What intake learnt of each case of a batch before dispatch (one entry per case).

    ``rows``: the spreadsheet row a case came from (header = row 1), or None where the cases are
    named by their position. ``location_problems`` and ``time_problems``: why a case's location or
    report time could not be read, (zh, en), or None. ``time_assumed``: no report time was given and
    the time the batch was received stands in for it."""

    rows: Sequence[int | None] | None = None
    location_problems: Sequence[tuple[str, str] | None] | None = None
    time_problems: Sequence[tuple[str, str] | None] | None = None
    time_assumed: Sequence[bool] | None = None


def parse_case_time(value: Any, *, field: str = "reported_at") -> dt.datetime:
    """A case's report time from a cell or a JSON value, in Beijing time (read by
    :func:`geo_service.timetext.read_time`, as every layer's times are).

    Raises
    ------
    InvalidInput
        Naming ``field``, in Chinese and English, with the forms accepted; for a blank value too (the
        caller decides what a missing time means), and for a number (an Excel serial day, seconds since
        1970: not a time as anybody writes one).

    Examples
    --------
    >>> parse_case_time("2026年12月1日 21:00").isoformat()
    '2026-12-01T21:00:00+08:00'
    >>> parse_case_time("2026/12/1 下午9:05").isoformat()
    '2026-12-01T21:05:00+08:00'
    """
    if is_blank(value) and not isinstance(value, float):  # (NaN sent as a number: said to be one below)
        raise InvalidInput("缺少上报时间", "no report time given", field=field)
    try:
        when = read_time(value)
    except UnreadableTime as e:
        zh, en = e.sentences("上报时间", "Report time")
        raise InvalidInput(zh, en, field=field) from None
    try:
        in_supported_years(when, field=field)  # a naive time as written (Beijing's offset in 1800 was odd)
    except InvalidInput as e:
        raise InvalidInput(f"上报{e.zh}", f"Report {e.en[:1].lower()}{e.en[1:]}", field=field) from None
    return (when.replace(tzinfo=TZ) if when.tzinfo is None else when).astimezone(TZ)


def case_times(
    values: Iterable[Any], *, received: dt.datetime, nan_is_blank: bool = True
) -> tuple[list[dt.datetime], list[tuple[str, str] | None], list[bool]]:
    """Each case's report time; a blank one is ``received`` (the moment the batch came in, as for a
    case typed in without a time), a bad one is ``received`` too but named in the problems. Without
    ``nan_is_blank`` (JSON, where NaN is a number someone sent, not an empty cell) NaN is a bad one.

    Returns the times, per case (zh, en) of why its time was refused or None, and which were assumed.
    """
    times: list[dt.datetime] = []
    problems: list[tuple[str, str] | None] = []
    assumed: list[bool] = []
    for value in values:
        blank = is_blank(value) and (nan_is_blank or not isinstance(value, float))
        problem = None
        when = received
        if not blank:
            try:
                when = parse_case_time(value)
            except InvalidInput as e:
                problem = (e.zh, e.en[:1].lower() + e.en[1:])
                when = received
        times.append(when)
        problems.append(problem)
        assumed.append(blank)
    return times, problems, assumed
