"""Case intake: report times as dispatchers and spreadsheets write them, and what was wrong with each
case of a batch before it is dispatched (so that one bad row costs that row only).

Times: ISO 8601 and the unambiguous Chinese forms with the year first — ``2026-12-01 21:00``,
``2026/12/1 9:05``, ``2026.12.1``, ``2026年12月1日 21:00``, ``2026年12月1日21时05分``, ``下午9:05`` —
read as Beijing time unless they carry a zone; full-width digits and punctuation are fine. Day-first
or month-first forms (``12/01/2026``) and two-digit years are refused as ambiguous. A spreadsheet cell
that is a real date-time is taken as it is.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo_service.duty import TZ, in_supported_years
from geo_service.errors import InvalidInput

__all__ = ["Intake", "case_times", "is_blank", "parse_case_time"]

_EXAMPLES_ZH = "2026-12-01 21:00、2026/12/1 21:00、2026年12月1日 21:00"
_EXAMPLES_EN = "2026-12-01 21:00, 2026/12/1 21:00 or 2026年12月1日 21:00"
_DATE = re.compile(
    r"(?P<y>\d{4})\s*(?P<s1>[-/.年])\s*(?P<m>\d{1,2})\s*(?P<s2>[-/.月])\s*(?P<d>\d{1,2})\s*[日号]?"
)
_CLOCK = re.compile(
    r"(?P<half>上午|早上|凌晨|中午|下午|晚上|AM|PM)?\s*"
    r"(?:(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d{1,6})?)?"
    r"|(?P<h2>\d{1,2})\s*[时点]\s*(?:(?P<mi2>\d{1,2})\s*分?)?\s*(?:(?P<s2>\d{1,2})\s*秒)?)"
    r"\s*(?P<half2>AM|PM)?",
    re.IGNORECASE,
)
_AMBIGUOUS = re.compile(r"\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{2,4}(\D.*)?")


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


def is_blank(value: Any) -> bool:
    """None, NaN/NaT or text of spaces only (full-width ones too)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def parse_case_time(value: Any, *, field: str = "reported_at") -> dt.datetime:
    """A case's report time from a cell or a JSON value, in Beijing time.

    Raises
    ------
    InvalidInput
        Naming ``field``, in Chinese and English, with the forms accepted; for a blank value too (the
        caller decides what a missing time means).

    Examples
    --------
    >>> parse_case_time("2026年12月1日 21:00").isoformat()
    '2026-12-01T21:00:00+08:00'
    >>> parse_case_time("2026/12/1 下午9:05").isoformat()
    '2026-12-01T21:05:00+08:00'
    """
    if isinstance(value, dt.datetime):  # pd.Timestamp too: a spreadsheet cell that is a date-time
        when = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    elif isinstance(value, dt.date):
        when = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str) and not is_blank(value):
        when = _from_text(value, field)
    elif is_blank(value):
        raise InvalidInput("缺少上报时间", "no report time given", field=field)
    else:  # a number (an Excel serial day shown without a date format), a list, …
        raise _not_understood(value, field)
    try:
        in_supported_years(when, field=field)  # a naive time as written (Beijing's offset in 1800 was odd)
    except InvalidInput as e:
        raise InvalidInput(f"上报{e.zh}", f"Report {e.en[:1].lower()}{e.en[1:]}", field=field) from None
    return (when.replace(tzinfo=TZ) if when.tzinfo is None else when).astimezone(TZ)


def _from_text(value: str, field: str) -> dt.datetime:
    text = unicodedata.normalize("NFKC", value).strip()  # full-width digits, colons, slashes and spaces
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        pass
    date = _DATE.match(text)
    if (
        date is None
        or (date["s1"] == "年") != (date["s2"] == "月")
        or (date["s1"] != "年" and date["s1"] != date["s2"])
    ):
        if _AMBIGUOUS.fullmatch(text):
            raise InvalidInput(
                f"上报时间「{value[:40]}」的年月日顺序不明确，请把四位年份写在前面（如 {_EXAMPLES_ZH}）",
                f"Report time '{value[:40]}' is ambiguous (which is the day, which the month?); "
                f"put the four-digit year first ({_EXAMPLES_EN})",
                field=field,
            )
        raise _not_understood(value, field)
    rest = text[date.end() :].strip().removeprefix("T").strip()
    hour = minute = second = 0
    if rest:
        clock = _CLOCK.fullmatch(rest)
        if clock is None:
            raise _not_understood(value, field)
        hour = int(clock["h"] or clock["h2"])
        minute = int(clock["mi"] or clock["mi2"] or 0)
        second = int(clock["s"] or clock["s2"] or 0)
        half = (clock["half"] or clock["half2"] or "").upper()
        if half:
            if not 1 <= hour <= 12:
                raise _not_understood(value, field)
            if half in ("下午", "晚上", "PM") or (half == "中午" and hour < 11):
                hour = hour % 12 + 12
            elif half in ("上午", "早上", "凌晨", "AM"):
                hour %= 12
    try:
        return dt.datetime(int(date["y"]), int(date["m"]), int(date["d"]), hour, minute, second)
    except ValueError:  # 2026/2/30, 25:00
        raise InvalidInput(
            f"上报时间「{value[:40]}」不是有效的日期或时刻",
            f"Report time '{value[:40]}' is not a valid date or time of day",
            field=field,
        ) from None


def _not_understood(value: Any, field: str) -> InvalidInput:
    shown = str(value)[:40]
    return InvalidInput(
        f"上报时间「{shown}」无法识别，请写成 {_EXAMPLES_ZH}（北京时间）或 ISO 8601",
        f"Report time '{shown}' is not understood; write {_EXAMPLES_EN} (Beijing time) or ISO 8601",
        field=field,
    )


def case_times(
    values: Iterable[Any], *, received: dt.datetime
) -> tuple[list[dt.datetime], list[tuple[str, str] | None], list[bool]]:
    """Each case's report time; a blank one is ``received`` (the moment the batch came in, as for a
    case typed in without a time), a bad one is ``received`` too but named in the problems.

    Returns the times, per case (zh, en) of why its time was refused or None, and which were assumed.
    """
    times: list[dt.datetime] = []
    problems: list[tuple[str, str] | None] = []
    assumed: list[bool] = []
    for value in values:
        blank = is_blank(value)
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
