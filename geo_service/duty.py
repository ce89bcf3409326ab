"""Duty rosters and opening hours in time: who is on duty when, what is open when.

Shifts come from the ``duty_shifts`` table (beat, squad, weekdays, start/end, day kind, validity).
Official holidays and adjusted working days come from ``chinese_calendar``; for years it does not
know, weekends count as holidays and the answer says so. Festival windows may be given in lunar dates
(``lunar_from``/``lunar_to`` as MM-DD, converted with ``lunardate``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import numpy as np
import pandas as pd
from lunardate import LunarDate

from geo_service.arrays import ragged_positions
from geo_service.errors import Conflict, InvalidInput
from geo_service.lazy import cached_property
from geo_service.timetext import YEARS, UnreadableTime, read_clock, read_time, with_year

__all__ = [
    "YEARS",
    "Shift",
    "ShiftTable",
    "calendar_known",
    "calendar_note_pairs",
    "calendar_notes",
    "day_kind",
    "day_minute",
    "festival_dates",
    "hour_start_notes",
    "hours_within_years",
    "in_supported_years",
    "local_times",
    "next_shift",
    "on_duty",
    "open_windows",
    "parse_hours",
    "parse_time",
    "parse_week_start",
    "past_festival_dates",
    "shifts_from_frame",
    "statutory_holidays",
]

TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Shift:
    """One weekly duty shift of a beat: minutes from midnight; ``end`` ≤ ``start`` crosses midnight."""

    beat: str
    squad: str
    weekdays: frozenset[int]  # 1 = Monday … 7 = Sunday
    start: int
    end: int
    day_kind: str = "any"  # any | workday | holiday
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    def label(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def _minutes(text: str, *, field: str) -> int:
    try:
        h, m = str(text).strip().split(":")
        value = int(h) * 60 + int(m)
    except ValueError:
        raise InvalidInput(f"时间「{text}」应为 HH:MM", f"Time '{text}' must be HH:MM", field=field) from None
    if not 0 <= value <= 24 * 60 or int(m) >= 60:
        raise InvalidInput(f"时间「{text}」超出范围", f"Time '{text}' is out of range", field=field)
    return value


def _weekdays(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in str(text or "1-7").split(","):
        a, _, b = part.strip().partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            lo = hi = 0
        if not (1 <= lo <= 7 and 1 <= hi <= 7):
            raise InvalidInput(f"星期「{text}」应为 1–7", f"Weekdays '{text}' must be 1–7", field="weekdays")
        days.update(range(lo, hi + 1) if lo <= hi else [*range(lo, 8), *range(1, hi + 1)])
    return frozenset(days)


def shifts_from_frame(frame: pd.DataFrame) -> tuple[Shift, ...]:
    """Shifts from rows of the ``duty_shifts`` layer (index = feature id). A row that cannot be read
    (stored before its layer checked it) is a conflict naming that row, not the request's fault."""
    out = []
    for fid, row in zip(frame.index, frame.to_dict("records"), strict=True):
        try:
            shift = Shift(
                beat=str(row["beat"]),
                squad=str(row["squad"]),
                weekdays=_weekdays(row.get("weekdays")),
                start=_minutes(row["start"], field="start"),
                end=_minutes(row["end"], field="end"),
                day_kind=str(row.get("day_kind") or "any"),
                valid_from=_date(row.get("valid_from")),
                valid_to=_date(row.get("valid_to")),
            )
            if shift.start == shift.end:  # as the layer refuses it now: 08:00-08:00 is no shift
                raise InvalidInput(
                    f"结束与开始相同（都是 {row['start']}；全天值班写 00:00 至 24:00）",
                    f"it ends when it starts ({row['start']}; all day is 00:00 to 24:00)",
                    field="end",
                )
        except InvalidInput as exc:
            raise Conflict(
                f"排班图层 duty_shifts 第 {fid} 条无法读取：{exc.zh}；请在图层中修正",
                f"Duty shift {fid} (layer duty_shifts) cannot be read: {exc.en}; correct it in the layer",
                layer="duty_shifts",
                feature=_plain(fid),
                field=exc.field,
            ) from None
        out.append(shift)
    return tuple(out)


def _plain(fid: Any) -> Any:
    return fid.item() if hasattr(fid, "item") else fid


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):  # a pandas Timestamp too
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidInput(
            f"日期「{value}」无法解析", f"Date '{value}' does not parse", field="valid_from/valid_to"
        ) from None


# YEARS (1901-2099): the years the lunar and holiday calendars can answer for (geo_service.timetext)


def in_supported_years(moment: dt.datetime | dt.date, *, field: str = "at") -> dt.datetime | dt.date:
    """``moment`` itself, or a refusal naming ``field`` when it falls outside :data:`YEARS` (a time's
    year in Beijing: 2100-01-01T00:00+14:00 is still 2099 there)."""
    try:
        year = (
            moment.astimezone(TZ).year if isinstance(moment, dt.datetime) and moment.tzinfo else moment.year
        )
    except OverflowError:  # the first or last day a datetime can hold, moved past it
        year = moment.year
    if not YEARS[0] <= year <= YEARS[1]:
        # as written (a zone's offset before 1901 is its local mean time, +08:05:43 here: not shown)
        shown = moment.strftime("%Y-%m-%d %H:%M") if isinstance(moment, dt.datetime) else moment.isoformat()
        raise InvalidInput(
            f"时间 {shown} 超出支持范围（{YEARS[0]}–{YEARS[1]} 年）",
            f"Time {shown} is outside the years supported ({YEARS[0]}-{YEARS[1]})",
            field=field,
        )
    return moment


def parse_time(
    value: str | None, *, field: str = "at", window_end: bool = False, past: bool = False
) -> dt.datetime | None:
    """A time typed by a user (None for nothing), in Beijing time: the forms dispatchers write
    (``timetext.read_time``: ISO 8601, ``2026/12/1 21:00``, ``2026年12月1日 21:00``, …), or a clock alone
    (``12:30``, ``下午3:05``; ``24:00`` is midnight at the day's end) for that time today, or a day
    without its year (``12月1日 15:00``) for the nearest such day (in January, 12月28日 is last December's);
    with ``past`` (a moment looked back to: "since 23:00" just after midnight) the latest such time not
    ahead.
    A time without a zone is Beijing's. Refused naming ``field`` when it does not read or falls outside
    :data:`YEARS`. The end of a window (``window_end``, not itself in it) may be the first moment after
    the last supported year."""
    if value is None or not value.strip():
        return None
    now = dt.datetime.now(TZ)
    try:
        clock = read_clock(value)
        if clock is not None:
            out = today_at(clock, past=past, now=now)
        elif with_year(value, now.year) is not None:  # 12月1日 15:00: the nearest such day
            out = _nearest_year(value, now, past=past)
        else:
            out = read_time(value)
    except UnreadableTime as exc:
        exc.value = value  # as typed, not with the year put in
        zh, en = exc.sentences("时间", "Time")
        if exc.kind != "invalid":  # the forms taken: also a clock alone, today's
            zh, en = (
                f"{zh}；也可只写时刻，如 12:30（今天），或不写年份，如 12月1日 15:00（离现在最近的那一天）",
                f"{en}; or a time of day alone, such as 12:30 (today), or a day without its year, such as "
                "12月1日 15:00 (the nearest such day)",
            )
        raise InvalidInput(zh, en, field=field) from None
    if out.tzinfo is None:
        out = out.replace(tzinfo=TZ)
    if window_end and out.astimezone(TZ) == dt.datetime(YEARS[1] + 1, 1, 1, tzinfo=TZ):
        return out.astimezone(TZ)
    in_supported_years(out, field=field)
    return out.astimezone(TZ)  # the roster and the calendars are Beijing's


def _nearest_year(value: str, now: dt.datetime, *, past: bool) -> dt.datetime:
    """A day written without its year (12月28日 21:00) in the year that puts it nearest to ``now`` (in
    January, last December's); with ``past``, the latest one not ahead of ``now``. A day no year near
    has (2月29日 out of leap years) is read in this year, and refused as no date."""
    candidates = []
    for year in (now.year - 1, now.year, now.year + 1):
        try:
            candidates.append(read_time(with_year(value, year)).replace(tzinfo=TZ))
        except UnreadableTime:
            continue
    if past:
        candidates = [c for c in candidates if c <= now]
    if not candidates:
        return read_time(with_year(value, now.year))  # the reason it is no date
    return min(candidates, key=lambda c: abs(c - now)).replace(tzinfo=None)


def today_at(clock: tuple[int, int, int], *, past: bool, now: dt.datetime) -> dt.datetime:
    """The time of day ``clock`` on the day of ``now`` in Beijing (24:00: the midnight ending it); with
    ``past``, a day earlier when that is still ahead of ``now``."""
    now = now.astimezone(TZ)
    hour, minute, second = clock
    out = dt.datetime.combine(now.date(), dt.time(0), tzinfo=TZ) + dt.timedelta(
        hours=hour, minutes=minute, seconds=second
    )
    return out - dt.timedelta(days=1) if past and out > now else out


def parse_week_start(value: str, *, field: str = "start") -> dt.date | dt.datetime:
    """Where hour-by-hour coverage starts, typed by a user: a day (``2026-12-07``, its midnight) or any
    time :func:`parse_time` reads (``2026年12月7日``, ``2026/12/7 08:00``, ``20261207``), refused naming
    ``field`` when it does not read or falls outside :data:`YEARS`."""
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        moment = parse_time(value, field=field)
        if moment is None:
            raise InvalidInput("需要开始时间", "A start is needed", field=field) from None
        return moment
    in_supported_years(day, field=field)
    return day


def hours_within_years(begin: dt.date | dt.datetime, hours: int, *, field: str = "hours") -> None:
    """Refuse hour-by-hour coverage from ``begin`` whose last hour starts after :data:`YEARS`."""
    first = begin if isinstance(begin, dt.datetime) else dt.datetime.combine(begin, dt.time(0), tzinfo=TZ)
    last = (first + dt.timedelta(hours=hours - 1)).astimezone(TZ)  # the start of the last hour asked for
    if last.year > YEARS[1]:
        raise InvalidInput(
            f"逐小时范围超出支持的年份：最后一小时始于 {last:%Y-%m-%d %H:%M}，须在 {YEARS[1]} 年内",
            f"The hours run past the years supported: the last one starts {last:%Y-%m-%d %H:%M}, "
            f"after {YEARS[1]}",
            field=field,
        )


def hour_start_notes(asked: dt.date | dt.datetime, start: dt.datetime) -> list[str]:
    """A note when hour-by-hour coverage asked to start at ``asked`` starts at the hour before it."""
    if not isinstance(asked, dt.datetime) or asked == start:
        return []
    return [
        f"逐小时检查从整点算起：{start.astimezone(TZ):%Y-%m-%d %H:%M}（所给 {asked.astimezone(TZ):%H:%M}）/ "
        f"hours are counted from the hour: {start.astimezone(TZ):%Y-%m-%d %H:%M} "
        f"({asked.astimezone(TZ):%H:%M} was given)"
    ]


@lru_cache(maxsize=8192)  # the library scans its whole table on every call (about 20 µs)
def day_kind(day: dt.date) -> tuple[str, bool]:
    """("workday" | "holiday", known) — ``known`` is False where the calendar has no data for the year
    (the State Council publishes each year's schedule late in the year before): then the statutory
    holidays (see :func:`statutory_holidays`) and weekends are holidays, and no weekend is a make-up
    workday."""
    try:
        return ("workday" if chinese_calendar.is_workday(day) else "holiday"), True
    except NotImplementedError:
        if day.isoweekday() > 5 or day in statutory_holidays(day.year):
            return "holiday", False
        return "workday", False


def calendar_known(day: dt.date) -> bool:
    """Whether the holiday calendar knows ``day``'s year (else :func:`day_kind` estimates)."""
    return day_kind(day)[1]


def calendar_notes(first: dt.date, last: dt.date) -> list[str]:
    """One note (both languages) for each year from ``first`` to ``last`` whose holiday schedule is
    estimated (see :func:`day_kind`), for answers that depend on it."""
    return [f"{zh} / {en}" for zh, en in calendar_note_pairs(first, last)]


def calendar_note_pairs(first: dt.date, last: dt.date) -> list[tuple[str, str]]:
    """:func:`calendar_notes` as (Chinese, English) pairs, for a page that shows one language."""
    return [
        (
            f"节假日日历未收录 {year} 年的调休安排，按法定节日与周末推算",
            f"the {year} holiday schedule is not in the calendar yet: statutory holidays and weekends are assumed",
        )
        for year in range(first.year, last.year + 1)
        if not calendar_known(dt.date(year, 6, 1))
    ]


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> frozenset[dt.date]:
    """The days off the law fixes for ``year`` (全国年节及纪念日放假办法, as revised in 2024): New
    Year's Day; the Spring Festival (lunar New Year's Eve to the third day); Qingming (the solar term,
    as chinese-calendar works it out for 1900-2100); Labour Day, 1-2 May; the Dragon Boat and
    Mid-Autumn festivals; National Day, 1-3 October. The yearly schedule moves days around these; it
    is not known in advance."""
    days = {dt.date(year, 1, 1), dt.date(year, 5, 1), dt.date(year, 5, 2)}
    days |= {dt.date(year, 10, d) for d in (1, 2, 3)}
    try:
        new_year = LunarDate(year, 1, 1).to_solar_date()
        days |= {new_year + dt.timedelta(days=k) for k in range(-1, 3)}  # New Year's Eve is the day before
        days.add(LunarDate(year, 5, 5).to_solar_date())
        days.add(LunarDate(year, 8, 15).to_solar_date())
    except ValueError:  # 2100, the day after the last supported one: the lunar calendar ends in 2099
        pass
    days |= {
        d
        for d, name in chinese_calendar.get_solar_terms(dt.date(year, 4, 1), dt.date(year, 4, 30))
        if name == "清明"
    }
    return frozenset(days)


def _applies(shift: Shift, day: dt.date) -> bool:
    """Whether ``shift`` runs on ``day``. A make-up workday (调休: a Saturday or Sunday worked in
    exchange for a holiday) runs the Monday-to-Friday roster: a shift for any weekday applies, as well
    as the shifts for that Saturday or Sunday themselves."""
    if (shift.valid_from and day < shift.valid_from) or (shift.valid_to and day > shift.valid_to):
        return False
    kind = day_kind(day)[0]
    weekday = day.isoweekday()
    makeup = weekday > 5 and kind == "workday"
    if weekday not in shift.weekdays and not (makeup and not shift.weekdays.isdisjoint(_MON_TO_FRI)):
        return False
    return shift.day_kind == "any" or shift.day_kind == kind


_MON_TO_FRI = frozenset(range(1, 6))


def _active(shift: Shift, at: dt.datetime) -> bool:
    local = at.astimezone(TZ)
    minute = local.hour * 60 + local.minute
    day = local.date()
    if shift.end > shift.start:
        return _applies(shift, day) and shift.start <= minute < shift.end
    # the shift crosses midnight: its evening part today, its morning part from yesterday's start
    return (_applies(shift, day) and minute >= shift.start) or (
        _applies(shift, day - dt.timedelta(days=1)) and minute < shift.end
    )


def on_duty(shifts: Iterable[Shift], at: dt.datetime) -> list[Shift]:
    """The shifts running at ``at``."""
    return [s for s in shifts if _active(s, at)]


def next_shift(
    shifts: Iterable[Shift], beat: str, at: dt.datetime, *, horizon_days: int = 14
) -> tuple[dt.datetime, Shift] | None:
    """The next start of a shift of ``beat`` after ``at`` (within ``horizon_days``)."""
    local = at.astimezone(TZ)
    best: tuple[dt.datetime, Shift] | None = None
    for s in (s for s in shifts if s.beat == beat):
        for k in range(horizon_days + 1):
            day = local.date() + dt.timedelta(days=k)
            start = dt.datetime.combine(day, dt.time(0), tzinfo=TZ) + dt.timedelta(minutes=s.start)
            if start > local and _applies(s, day):
                if best is None or start < best[0]:
                    best = (start, s)
                break
    return best


@lru_cache(maxsize=1024)
def _hours(text: str | None) -> tuple[tuple[int, int], ...]:
    """:func:`parse_hours`, kept per text (a site's hours are read on every who-covers answer)."""
    return tuple(parse_hours(text))


def parse_hours(text: str | None) -> list[tuple[int, int]]:
    """Opening hours like ``07:00-22:00`` or ``06:00-11:00,15:00-20:00`` → minute windows from the
    day's midnight; one that ends before it starts runs past midnight (a night market, ``18:00-02:00``
    → (1080, 1560)), as a duty shift does."""
    if not text:
        return [(0, 1440)]
    out = []
    for part in str(text).split(","):
        a, _, b = part.partition("-")
        start, end = _minutes(a, field="hours"), _minutes(b, field="hours")
        if end == start:
            raise InvalidInput(
                f"营业时段「{part}」的结束须晚于开始（全天营业请写 00:00-24:00）",
                f"Opening hours '{part}' must end after they start (00:00-24:00 for all day)",
                field="hours",
            )
        out.append((start, end if end > start else end + 1440))
    return out


def festival_dates(props: Mapping[str, Any], *, around: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The solar window of a site: its lunar MM-DD fields (the festival nearest ``around``: the first
    one not over by then) within its solar ``valid_from``/``valid_to``, or those dates alone. A window
    the lunar calendar cannot place (its years are 1900-2099) is empty: (``date.max``, ``date.min``)."""
    valid_from, valid_to = _date(props.get("valid_from")), _date(props.get("valid_to"))
    # a field left empty reads from a frame as NaN, which is not "no window"
    lunar = _lunar_fields(props)
    if lunar is None:
        return valid_from, valid_to
    for lunar_year in (around.year - 1, around.year, around.year + 1):
        window = _lunar_window(lunar_year, *lunar)
        if window is None:
            continue
        start, end = window
        first, last = max(start, valid_from or start), min(end, valid_to or end)
        if end >= around and first <= last:  # not over yet, and within the site's dates
            return first, last
    return dt.date.max, dt.date.min


def _lunar_fields(props: Mapping[str, Any]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """A site's lunar window fields as (month, day) pairs, or None without both (a field left empty
    reads from a frame as NaN)."""
    lf, lt = (
        v if isinstance(v, str) and v.strip() else None
        for v in (props.get("lunar_from"), props.get("lunar_to"))
    )
    if not (lf and lt):
        return None
    fm, fd = (int(x) for x in str(lf).split("-"))
    tm, td = (int(x) for x in str(lt).split("-"))
    return (fm, fd), (tm, td)


def _lunar_window(
    lunar_year: int, begin: tuple[int, int], end: tuple[int, int]
) -> tuple[dt.date, dt.date] | None:
    """The solar dates of a lunar window that begins in ``lunar_year`` (and ends in the next when its
    end comes before its beginning, 腊月十五 to 正月十六), or None in a year the lunar calendar does not
    hold."""
    end_year = lunar_year + 1 if end < begin else lunar_year
    try:
        return _lunar(lunar_year, *begin), _lunar(end_year, *end)
    except ValueError:
        return None


def past_festival_dates(props: Mapping[str, Any], *, before: dt.date) -> tuple[dt.date, dt.date] | None:
    """The site's last window over before ``before`` (a day): for a site whose dates have ended, what
    :func:`festival_dates` no longer names. ``None`` when it had none (or its dates are open-ended)."""
    valid_from, valid_to = _date(props.get("valid_from")), _date(props.get("valid_to"))
    lunar = _lunar_fields(props)
    if lunar is None:
        if valid_from is None or valid_to is None or valid_to >= before or valid_from > valid_to:
            return None
        return valid_from, valid_to
    latest = min(before - dt.timedelta(days=1), valid_to or before)
    for lunar_year in (latest.year, latest.year - 1, latest.year - 2):  # the newest first
        window = _lunar_window(lunar_year, *lunar)
        if window is None:
            continue
        start, end = window
        first, last = max(start, valid_from or start), min(end, valid_to or end)
        if first <= last < before:
            return first, last
    return None


@lru_cache(maxsize=4096)
def _lunar(year: int, month: int, day: int) -> dt.date:
    """The solar date of a lunar day; the 30th of a month of 29 days is its last day. (Kept: every
    who-covers answer and coverage map asks for the same few festival windows.)"""
    try:
        return LunarDate(year, month, day).to_solar_date()
    except ValueError:
        if day != 30:
            raise
        return LunarDate(year, month, 29).to_solar_date()


def open_windows(
    props: Mapping[str, Any], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The hours a site is open between ``start`` and ``end`` (validity window × daily hours)."""
    if end <= start:
        raise InvalidInput("时间窗的结束须晚于开始", "The time window must end after it starts", field="end")
    if props.get("status", "open") != "open":
        return []
    local_day = start.astimezone(TZ).date()
    first, last = festival_dates(props, around=local_day)
    hours = _hours(props.get("hours"))
    out = []
    day = local_day - dt.timedelta(days=1)  # the night before may run into the window
    while (midnight := dt.datetime.combine(day, dt.time(0), tzinfo=TZ)) < end:
        if (first is None or day >= first) and (last is None or day <= last):
            for a, b in hours:
                lo = max(midnight + dt.timedelta(minutes=a), start)
                hi = min(midnight + dt.timedelta(minutes=b), end)
                if lo < hi:
                    out.append((lo, hi))
        day += dt.timedelta(days=1)
    return out


def shifts_by_beat(shifts: Sequence[Shift]) -> dict[str, list[Shift]]:
    out: dict[str, list[Shift]] = {}
    for s in shifts:
        out.setdefault(s.beat, []).append(s)
    return out


def local_times(values: Any) -> pd.Series:
    """Times as a tz-aware Series (Asia/Shanghai); naive times are read as Beijing time."""
    series = pd.Series(values).reset_index(drop=True)
    if not pd.api.types.is_datetime64_any_dtype(series):
        try:
            parsed = pd.to_datetime(series)
        except (ValueError, TypeError):
            parsed = None
        if parsed is None or not pd.api.types.is_datetime64_any_dtype(parsed):
            # naive and zoned times mixed, or offsets that differ from row to row: one by one
            stamps = [pd.Timestamp(v) for v in series]
            return pd.Series(
                [t.tz_localize(TZ) if t.tzinfo is None else t.tz_convert(TZ) for t in stamps],
                dtype=f"datetime64[ns, {TZ.key}]",
            )
        series = parsed
    if series.dt.tz is None:
        series = series.dt.tz_localize(TZ)
    return series


# ShiftTable.of: (id of the roster, id of the codes) → (roster, codes, table), oldest first
_TABLES: dict[tuple[int, int], tuple[Sequence[Shift], np.ndarray, ShiftTable]] = {}


def day_minute(local: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Day (ordinal) and minute of the day of local times, from the wall-clock nanoseconds."""
    ns = local.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    minutes = ns // 60_000_000_000
    return minutes // 1440 + dt.date(1970, 1, 1).toordinal(), minutes % 1440


class ShiftTable:
    """The shifts as arrays, for asking "which shift of these beats runs then" of a million cases at once.

    ``squad``, ``label`` and ``beat_code`` hold each shift's squad, "HH:MM-HH:MM" and beat, with a last
    ``None`` for "no shift" (index ``len(shifts)``)."""

    @classmethod
    def of(cls, shifts: Sequence[Shift], codes: np.ndarray) -> ShiftTable:
        """The table of a roster and beat codes, built once while both are the same objects (a
        workspace's cached roster and beat index) and kept for the next batch."""
        if not isinstance(shifts, tuple):  # a list may change under us: built afresh
            return cls(shifts, codes)
        key = (id(shifts), id(codes))
        hit = _TABLES.get(key)
        if hit is None or hit[0] is not shifts or hit[1] is not codes:
            hit = (shifts, codes, cls(shifts, codes))
            _TABLES[key] = hit
            while len(_TABLES) > 8:  # the oldest go
                del _TABLES[next(iter(_TABLES))]
        return hit[2]

    def __init__(self, shifts: Sequence[Shift], codes: np.ndarray) -> None:
        self.shifts = tuple(shifts)
        self.squad = np.array([*(s.squad for s in self.shifts), None], dtype=object)
        self.label = np.array([*(s.label() for s in self.shifts), None], dtype=object)
        self.beat_code = np.array([*(s.beat for s in self.shifts), None], dtype=object)
        self.valid_since = min((s.valid_from for s in self.shifts if s.valid_from), default=None)
        index = {str(c): k for k, c in enumerate(codes)}
        self.beat = np.array([index.get(s.beat, -1) for s in shifts], dtype=np.int64)
        self.start = np.array([s.start for s in shifts], dtype=np.int64)
        self.end = np.array([s.end for s in shifts], dtype=np.int64)
        self.weekdays = np.array(
            [[d in s.weekdays for d in range(1, 8)] for s in shifts], dtype=bool
        ).reshape(-1, 7)
        self.kind = np.array([{"any": 0, "workday": 1, "holiday": 2}.get(s.day_kind, 0) for s in shifts])
        self.valid_from = np.array([s.valid_from.toordinal() if s.valid_from else -(10**9) for s in shifts])
        self.valid_to = np.array([s.valid_to.toordinal() if s.valid_to else 10**9 for s in shifts])
        order = np.argsort(self.beat, kind="stable")  # shifts of a beat together, in roster order
        self.by_beat = order
        self.beat_ptr = np.searchsorted(self.beat[order], np.arange(len(codes) + 1))

    def applies(self, days: np.ndarray) -> np.ndarray:
        """[shift, day] — does the shift run on the day (ordinal)? As ``duty._applies``, one day kind per day."""
        dates = [dt.date.fromordinal(int(d)) for d in days]
        weekday = np.array([d.isoweekday() for d in dates], dtype=np.int64)
        kind = np.array([1 if day_kind(d)[0] == "workday" else 2 for d in dates])
        makeup = (weekday > 5) & (kind == 1)  # a weekend day worked runs the Monday-to-Friday roster too
        weekly = np.any(self.weekdays[:, :5], axis=1)  # the shift runs on some day Monday to Friday
        runs = self.weekdays[:, weekday - 1] | (makeup[None, :] & weekly[:, None])
        return (
            (self.valid_from[:, None] <= days[None, :])
            & (days[None, :] <= self.valid_to[:, None])
            & runs
            & ((self.kind[:, None] == 0) | (self.kind[:, None] == kind[None, :]))
        )

    @cached_property
    def _by_minute(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each (beat, minute of the day), the shifts covering that minute, in roster order (CSR:
        pointers by ``beat * 1440 + minute``, the shifts, and 1 where the minute is the morning after the
        shift's day). A shift runs from its start until its end, or midnight, on its days, and one
        across midnight also from midnight until its end on the day after."""
        n = len(self.shifts)
        plain = self.end > self.start
        shift = np.r_[np.arange(n), np.arange(n)]
        after = np.r_[np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)]
        lo = np.r_[self.start, np.zeros(n, dtype=np.int64)]
        hi = np.r_[np.where(plain, self.end, 1440), np.where(plain, 0, self.end)]
        keep = (hi > lo) & (self.beat[shift] >= 0)
        shift, after, lo, count = shift[keep], after[keep], lo[keep], (hi - lo)[keep]
        row = np.repeat(np.arange(len(shift)), count)
        key = self.beat[shift[row]] * 1440 + ragged_positions(lo, count)
        # by beat and minute, then in roster order: one sort of (key, shift, after) packed in an integer
        packed = np.sort((key * n + shift[row]) * 2 + after[row])
        key, rest = np.divmod(packed, 2 * n)
        ptr = np.r_[0, np.cumsum(np.bincount(key, minlength=(len(self.beat_ptr) - 1) * 1440))]
        return ptr, rest // 2, rest % 2

    def on_duty(
        self, case: np.ndarray, beat: np.ndarray, chosen: np.ndarray, day: np.ndarray, minute: np.ndarray
    ) -> np.ndarray:
        """Per case, the shift on duty at its (day ordinal, minute of day): the first running shift in
        roster order of its ``chosen`` beat, else the first of the other beats containing it (the pairs
        ``case``, ``beat``); -1 when nobody is."""
        n = len(day)
        out = np.full(n, -1, dtype=np.int64)
        if len(case) == 0 or len(self.shifts) == 0:
            return out
        if np.any(case[1:] < case[:-1]):
            order = np.argsort(case, kind="stable")
            case, beat = case[order], beat[order]
        days = np.arange(int(day.min()) - 1, int(day.max()) + 1)  # from the day before the first
        table = self.applies(days).ravel()  # [shift, day], flat
        today = (day - days[0])[case]
        ptr, cover, after = self._by_minute
        key = beat * 1440 + minute[case]
        first = ptr[key]
        count = ptr[key + 1] - first
        found = np.full(len(case), -1, dtype=np.int64)
        left = np.flatnonzero(count > 0)  # the pairs with no shift running yet, of those some shift covers
        for k in range(int(count.max(initial=0))):  # the k-th shift covering the minute, in roster order
            if k:
                left = left[count[left] > k]
            c = first[left] + k
            s = cover[c]
            running = table[
                s * len(days) + today[left] - after[c]
            ]  # does it run that day (or the one before)?
            found[left[running]] = s[running]
            left = left[~running]
        if len(case) == n and np.all(case[1:] > case[:-1]):  # each case in one beat: that beat's shift
            return found
        # per case: the chosen beat's shift first, then the earliest in the roster
        never = 2 * len(self.shifts)
        rank = np.where(found >= 0, (beat != chosen[case]) * len(self.shifts) + found, never)
        first = np.flatnonzero(np.r_[True, case[1:] != case[:-1]])
        best = np.minimum.reduceat(rank, first)
        some = best < never
        out[case[first[some]]] = best[some] % len(self.shifts)
        return out
