"""Dates and times as dispatchers and Chinese spreadsheets write them, read in one place for every
layer (a datetime or date field of any declaration) and for 12345 case intake.

Read: ISO 8601 and the unambiguous Chinese forms with the year first — ``2026-12-01 21:00``,
``2026/12/1 9:05``, ``2026.12.1``, ``2026年12月1日 21:00``, ``2026年12月1日21时05分``,
``2026/12/1 下午9:05`` — full-width digits and punctuation too; a spreadsheet cell that is a real
date-time as it is; a day written as eight digits, ``20261201`` (yyyymmdd, as clerks type dates into
spreadsheets), as text or as the number a spreadsheet makes of it, when it is a real day (``20260230``
is refused as no date). Refused, saying why and which forms are taken: day-first or month-first forms
(``12/01/2026``) and two-digit years (ambiguous), other numbers (an Excel serial day or seconds since
1970 are nobody's way of writing a time, and reading them would be a guess), true and false (a JSON
boolean, a spreadsheet's TRUE: said to be one, not read as the number 1), anything else.

The time is returned as written (naive unless it carries a zone); the caller decides the zone
(Beijing) and the years it answers for.
"""

from __future__ import annotations

import datetime as dt
import numbers
import re
import unicodedata
from typing import Any

import numpy as np

__all__ = ["EXAMPLES_EN", "EXAMPLES_ZH", "UnreadableTime", "read_clock", "read_time", "with_year"]

EXAMPLES_ZH = "2026-12-01 21:00、2026/12/1 21:00、2026年12月1日 21:00"
EXAMPLES_EN = "2026-12-01 21:00, 2026/12/1 21:00 or 2026年12月1日 21:00"
_DATE_EXAMPLES_ZH = "2026-12-01、2026/12/1、2026年12月1日"
_DATE_EXAMPLES_EN = "2026-12-01, 2026/12/1 or 2026年12月1日"

_DATE = re.compile(
    r"(?P<y>\d{4})\s*(?P<s1>[-/.年])\s*(?P<m>\d{1,2})\s*(?P<s2>[-/.月])\s*(?P<d>\d{1,2})\s*[日号]?"
)
_CLOCK = re.compile(
    r"(?P<half>上午|早上|早晨|清晨|凌晨|中午|下午|傍晚|晚上|夜里|夜间|深夜|半夜|AM|PM)?\s*"
    r"(?:(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d{1,6})?)?"
    r"|(?P<h2>\d{1,2})\s*[时点]\s*(?:(?P<halfhour>半)|(?P<mi2>\d{1,2})\s*分?)?\s*(?:(?P<s2>\d{1,2})\s*秒)?"
    r"|(?P<h3>\d{1,2})(?=\s*[AP]M))"  # 3pm
    r"\s*(?P<half2>AM|PM)?",
    re.IGNORECASE,
)
# the hours (of a 12-hour clock, and of the 24-hour one) each word of the day goes with, and what 12
# o'clock is in it: the day's start (0), noon (12), the day's end (24), or nothing (None)
_HALVES: dict[str, tuple[range, range, range, int | None]] = {
    # word: (hours of the 12-hour clock read as they are, hours to which 12 is added, 24-hour hours, 12)
    "凌晨": (range(0, 12), range(0), range(0), 0),  # 凌晨12点: the day's start
    "AM": (range(0, 12), range(0), range(0), 0),  # 12 AM
    "上午": (range(1, 12), range(0), range(0), 12),  # 上午12点: noon, the morning's end
    "早上": (range(1, 12), range(0), range(0), None),
    "早晨": (range(1, 12), range(0), range(0), None),
    "清晨": (range(1, 12), range(0), range(0), None),
    "中午": (range(11, 12), range(1, 4), range(13, 15), 12),  # 中午1点: 13:00
    "下午": (range(0), range(1, 12), range(13, 24), 12),
    "PM": (range(0), range(1, 12), range(13, 24), 12),  # 12 PM: noon
    "傍晚": (range(0), range(4, 9), range(16, 21), None),
    # 晚上12点: the day's end (24:00; 晚上12点半 is 00:30 of the next day). 晚上1点 to 5点 are the small
    # hours, of this night or the next: said to be unclear, not guessed (see ``night``)
    "晚上": (range(0), range(6, 12), range(18, 24), 24),
    "夜里": (range(0), range(6, 12), range(18, 24), 24),
    "夜间": (range(0), range(6, 12), range(18, 24), 24),
    "深夜": (range(0), range(9, 12), range(21, 24), 24),
    "半夜": (range(0), range(0), range(0), 24),
}
_AMBIGUOUS = re.compile(r"\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{2,4}(\D.*)?")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_COMPACT = re.compile(r"\d{8}")  # 20261201: yyyymmdd


YEARS = (1901, 2099)  # the years the lunar and holiday calendars can answer for


class UnreadableTime(ValueError):
    """A value that is not a date and time as written here; :meth:`sentences` says why, in Chinese
    and English, with the forms taken. ``kind``: ``ambiguous``, ``invalid`` (2026/2/30, 25:00),
    ``number``, ``boolean``, ``years`` (outside :data:`YEARS`), ``night`` (晚上3点: which night?) or
    ``unknown``."""

    def __init__(self, kind: str, value: Any) -> None:
        super().__init__(f"{kind}: {value!r}")
        self.kind = kind
        self.value = value

    def sentences(self, subject_zh: str, subject_en: str, *, date: bool = False) -> tuple[str, str]:
        """Why the value of ``subject`` (上报时间 / Report time) is refused, as whole sentences;
        ``date``: a date is asked for (the examples are dates)."""
        shown = (
            str(self.value).lower() if self.kind == "boolean" else str(self.value)[:40]
        )  # as JSON writes it
        ex_zh, ex_en = (_DATE_EXAMPLES_ZH, _DATE_EXAMPLES_EN) if date else (EXAMPLES_ZH, EXAMPLES_EN)
        what_zh, what_en = ("日期", "a date") if date else ("日期时间", "a date and time")
        head_zh, head_en = f"{subject_zh}「{shown}」", f"{subject_en} '{shown}'"
        if self.kind == "ambiguous":
            return (
                f"{head_zh}的年月日顺序不明确，请把四位年份写在前面（如 {ex_zh}）",
                f"{head_en} is ambiguous (which is the day, which the month?); put the four-digit year "
                f"first ({ex_en})",
            )
        if self.kind == "night":
            return (
                f"{head_zh}不明确：凌晨的时刻请写成如「凌晨3点」或 03:00，并写明是哪一天",
                f"{head_en} is unclear: write the small hours as, say, 凌晨3点 or 03:00, on the day they "
                "fall on",
            )
        if self.kind == "invalid":
            return (
                f"{head_zh}不是有效的日期或时刻",
                f"{head_en} is not a valid date or time of day",
            )
        if self.kind == "years":
            return (
                f"{head_zh}超出支持范围（{YEARS[0]}–{YEARS[1]} 年：节假日与农历日历只到这些年份）",
                f"{head_en} is outside the years supported ({YEARS[0]}-{YEARS[1]}: the holiday and lunar "
                "calendars cover those)",
            )
        if self.kind == "number":
            return (
                f"{head_zh}是一个数字，不是{what_zh}；请写成 {ex_zh}（北京时间）或 ISO 8601"
                "（Excel 中请把该列设为日期格式）",
                f"{head_en} is a number, not {what_en}; write {ex_en} (Beijing time) or ISO 8601 "
                "(in Excel, format the column as dates)",
            )
        if self.kind == "boolean":
            return (
                f"{head_zh}是布尔值（真/假），不是{what_zh}；请写成 {ex_zh}（北京时间）或 ISO 8601",
                f"{head_en} is a boolean (true/false), not {what_en}; write {ex_en} (Beijing time) or ISO 8601",
            )
        return (
            f"{head_zh}无法识别，请写成 {ex_zh}（北京时间）或 ISO 8601",
            f"{head_en} is not understood; write {ex_en} (Beijing time) or ISO 8601",
        )


def read_time(value: Any) -> dt.datetime:
    """A date and time from a cell or a JSON value, as written (naive unless it has a zone).

    Raises
    ------
    UnreadableTime
        For anything that is not a date-time object or text in one of the forms above (numbers and
        blanks too: the caller says what a blank means).

    Examples
    --------
    >>> read_time("2026年12月1日 21:00").isoformat()
    '2026-12-01T21:00:00'
    >>> read_time("２０２６/１２/１ 下午9:05").isoformat()
    '2026-12-01T21:05:00'
    >>> read_time(20261201).isoformat(), read_time("20261201").isoformat()
    ('2026-12-01T00:00:00', '2026-12-01T00:00:00')
    """
    if isinstance(value, dt.datetime):  # pd.Timestamp too: a spreadsheet cell that is a date-time
        to_py = getattr(value, "to_pydatetime", None)
        return to_py() if to_py is not None else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, bool | np.bool_):  # before numbers: True is the int 1 to Python
        raise UnreadableTime("boolean", value)
    if isinstance(value, numbers.Real):  # numpy's numbers too
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            raise UnreadableTime("number", value) from None
        if 10_000_000 <= number <= 99_999_999 and number.is_integer():  # 20261201 (20261201.0 too)
            return _compact(str(int(number)), value)
        raise UnreadableTime("number", value)
    if not isinstance(value, str):
        raise UnreadableTime("unknown", value)
    return _from_text(value)


def _from_text(value: str) -> dt.datetime:
    text = unicodedata.normalize("NFKC", value).strip()  # full-width digits, colons, slashes and spaces
    if _COMPACT.fullmatch(text):
        return _compact(text, value)
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
            raise UnreadableTime("ambiguous", value)
        if _NUMBER.fullmatch(text):  # 46357 (an Excel serial day as text), 1764594000
            raise UnreadableTime("number", value)
        raise UnreadableTime("unknown", value)
    rest = text[date.end() :].strip().removeprefix("T").strip()
    hour, minute, second = _clock(rest, value) if rest else (0, 0, 0)
    try:
        day = dt.datetime(int(date["y"]), int(date["m"]), int(date["d"]))
        if hour == 24:  # 24:00, 晚上12点: the midnight that ends the day (晚上12点半: just after it)
            return day + dt.timedelta(days=1, minutes=minute, seconds=second)
        return day.replace(hour=hour, minute=minute, second=second)
    except (ValueError, OverflowError):  # 2026/2/30, 25:00, 24:30
        raise UnreadableTime("invalid", value) from None


def _clock(text: str, value: Any) -> tuple[int, int, int]:
    """(hour, minute, second) of a time of day as written after a date (``21:05``, ``下午9:05``,
    ``21时05分``, ``下午3点半``, ``3pm``), or :class:`UnreadableTime`. Each word of the day goes with
    its own hours (:data:`_HALVES`): twelve o'clock is noon in 上午, 中午, 下午 and PM, the day's start
    in 凌晨 and AM, and its end at night (晚上12点: 24, 晚上12点半: 24:30); an hour of the 24-hour clock
    goes with a word that agrees with it (晚上21点, 凌晨0点30); 晚上1点 to 5点 are refused as unclear,
    and so is a word with an hour it does not have (上午15点, 早上12点)."""
    clock = _CLOCK.fullmatch(text)
    if clock is None or (clock["half"] and clock["half2"]):
        raise UnreadableTime("unknown", value)
    hour = int(clock["h"] or clock["h2"] or clock["h3"])
    minute = 30 if clock["halfhour"] else int(clock["mi"] or clock["mi2"] or 0)
    second = int(clock["s"] or clock["s2"] or 0)
    half = (clock["half"] or clock["half2"] or "").upper()
    if not half:
        if hour == 24 and (minute or second):  # 24:30 is nobody's time
            raise UnreadableTime("invalid", value)
        return hour, minute, second
    as_is, plus_twelve, day_clock, twelve = _HALVES[half]
    if hour == 12 and twelve is not None:
        return twelve, minute, second
    if hour in as_is or hour in day_clock:  # 凌晨0点30, 上午9点, 晚上21点
        return hour, minute, second
    if hour in plus_twelve:  # 下午3点, 晚上9点
        return hour + 12, minute, second
    if half in ("晚上", "夜里", "夜间", "深夜", "半夜") and 1 <= hour <= 5:
        raise UnreadableTime("night", value)  # 半夜3点: this night's or last night's?
    raise UnreadableTime("unknown", value)  # 上午15点, 早上12点


def read_clock(value: str) -> tuple[int, int, int] | None:
    """A time of day written alone (``12:30``, ``１２：３０``, ``下午3:05``, ``21时``; ``24:00`` is the
    end of a day) as (hour, minute, second), or None when the text is no clock (a date, say). Which
    day it is on is for the caller to say."""
    text = unicodedata.normalize("NFKC", value).strip()
    if _CLOCK.fullmatch(text) is None:
        return None
    if re.fullmatch(r"24\s*(:\s*00(\s*:\s*00)?|[时点])", text):
        return 24, 0, 0
    hour, minute, second = _clock(text, value)
    if hour > 24 or minute > 59 or second > 59:  # (24 is 晚上12点, and 晚上12点半 is 24:30)
        raise UnreadableTime("invalid", value)
    return hour, minute, second


_MONTH_DAY = re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*[日号]")


def with_year(value: str, year: int) -> str | None:
    """``value`` with ``year`` put before it when it is a day written without one (``12月1日 15:00``,
    as a dispatcher types a day of this year), else None. Which year is meant is the caller's to say."""
    text = unicodedata.normalize("NFKC", value).strip()
    return f"{year}年{text}" if _MONTH_DAY.match(text) else None


def _compact(digits: str, value: Any) -> dt.datetime:
    """The day eight digits (yyyymmdd) name, or :class:`UnreadableTime` (``invalid``) when they name
    none (20260230, 20261301)."""
    try:
        return dt.datetime(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise UnreadableTime("invalid", value) from None
