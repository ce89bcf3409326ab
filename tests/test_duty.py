"""Duty rosters: shifts by weekday and hour, official holidays, midnight, lunar festival windows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from geo_service.duty import day_kind, festival_dates, next_shift, on_duty, open_windows, shifts_from_frame
from geo_service.errors import Conflict, InvalidInput

TZ = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


SHIFTS = shifts_from_frame(
    pd.DataFrame(
        [
            {
                "beat": "A",
                "squad": "一中队",
                "weekdays": "1-7",
                "start": "07:00",
                "end": "12:00",
                "day_kind": "any",
            },
            {
                "beat": "A",
                "squad": "一中队",
                "weekdays": "1-7",
                "start": "19:00",
                "end": "24:00",
                "day_kind": "any",
            },
            {
                "beat": "B",
                "squad": "二中队",
                "weekdays": "1-5",
                "start": "08:00",
                "end": "18:00",
                "day_kind": "workday",
            },
            {
                "beat": "C",
                "squad": "三中队",
                "weekdays": "5",
                "start": "22:00",
                "end": "02:00",
                "day_kind": "any",
            },
        ]
    )
)


def beats(moment):
    return sorted(s.beat for s in on_duty(SHIFTS, moment))


def test_on_duty_by_hour():
    assert beats(at("2026-12-01T07:00")) == ["A"]  # Tuesday
    assert beats(at("2026-12-01T10:30")) == ["A", "B"]
    assert beats(at("2026-12-01T12:00")) == ["B"]  # 12:00 is the end, exclusive
    assert beats(at("2026-12-01T23:59")) == ["A"]  # to 24:00
    assert beats(at("2026-12-01T03:00")) == []


def test_shift_crossing_midnight():
    assert beats(at("2026-12-04T23:00")) == ["A", "C"]  # Friday night
    assert beats(at("2026-12-05T01:30")) == ["C"]  # Saturday 01:30 is still Friday's shift
    assert beats(at("2026-12-05T23:00")) == ["A"]  # no Saturday shift for C


def test_official_holidays_and_adjusted_workdays():
    assert day_kind(dt.date(2025, 10, 1)) == ("holiday", True)  # National Day, a Wednesday
    assert beats(at("2025-10-01T10:00")) == ["A"]
    assert day_kind(dt.date(2025, 9, 28))[0] == "workday"  # an adjusted working Sunday
    # ... which runs the Monday-to-Friday roster: B (workdays 1-5) is on duty, as in the batch table
    assert beats(at("2025-09-28T10:00")) == ["A", "B"]
    assert beats(at("2025-09-27T10:00")) == ["A"]  # an ordinary Saturday
    assert day_kind(dt.date(2099, 1, 3)) == ("holiday", False)  # beyond the calendar: weekends


def test_next_shift():
    start, shift = next_shift(SHIFTS, "B", at("2026-12-04T19:00"))  # Friday evening
    assert start == at("2026-12-07T08:00")
    assert shift.squad == "二中队"
    assert next_shift(SHIFTS, "nobody", at("2026-12-04T19:00")) is None


def test_lunar_festival_window():
    props = {"lunar_from": "12-15", "lunar_to": "01-16", "hours": "07:00-22:00"}
    assert festival_dates(props, around=dt.date(2026, 12, 5)) == (dt.date(2027, 1, 22), dt.date(2027, 2, 21))
    windows = open_windows(props, at("2027-02-05T00:00"), at("2027-02-07T00:00"))
    assert windows == [
        (at("2027-02-05T07:00"), at("2027-02-05T22:00")),
        (at("2027-02-06T07:00"), at("2027-02-06T22:00")),
    ]
    assert open_windows(props, at("2026-12-05T00:00"), at("2026-12-06T00:00")) == []
    # a point valid only for the 2027 festival: in 2026 it is named with its 2027 dates, not an empty window
    dated = {**props, "valid_from": "2027-01-22", "valid_to": "2027-02-21"}
    for day in (dt.date(2026, 1, 10), dt.date(2026, 2, 20), dt.date(2026, 7, 1)):
        assert festival_dates(dated, around=day) == (dt.date(2027, 1, 22), dt.date(2027, 2, 21)), day
    assert festival_dates(dated, around=dt.date(2027, 6, 1)) == (
        dt.date.max,
        dt.date.min,
    )  # its dates are over


def test_bad_times():
    with pytest.raises(InvalidInput):
        open_windows({"hours": "07:00-22:00"}, at("2026-12-02T00:00"), at("2026-12-01T00:00"))
    for bad in ({"weekdays": "1-9"}, {"weekdays": "x"}, {"end": "24:30"}, {"valid_from": "someday"}):
        row = {"beat": "A", "squad": "x", "weekdays": "1-5", "start": "07:00", "end": "08:00", **bad}
        with pytest.raises(Conflict) as err:  # a stored row: named, not blamed on the request
            shifts_from_frame(pd.DataFrame([row], index=[7]))
        assert err.value.feature == 7
        assert err.value.layer == "duty_shifts"


def test_shift_table_is_kept_while_roster_and_beats_are_the_same():
    """A workspace's roster (a tuple) and beat codes give the same table batch after batch; a new
    roster (the layer edited) or a list gives a new one, with that roster's squads."""
    import dataclasses

    import numpy as np

    from geo_service.duty import ShiftTable

    codes = np.array(["A", "B", "C"], dtype=object)
    first = ShiftTable.of(SHIFTS, codes)
    assert ShiftTable.of(SHIFTS, codes) is first
    assert list(first.squad) == ["一中队", "一中队", "二中队", "三中队", None]
    assert list(first.label)[-2:] == ["22:00-02:00", None]
    edited = (*SHIFTS[:3], dataclasses.replace(SHIFTS[3], squad="四中队"))
    again = ShiftTable.of(edited, codes)
    assert again is not first
    assert again.squad[3] == "四中队"
    assert ShiftTable.of(list(SHIFTS), codes) is not ShiftTable.of(list(SHIFTS), codes)
    assert ShiftTable.of(SHIFTS, codes.copy()) is not first


def test_a_beat_with_no_shift_has_nobody_on_duty_in_a_batch():
    """A beat the roster does not name (X, listed between A and B) has nobody on duty, even in a batch
    with cases in other beats, never the next beat's shift (a bug of the batch lookup until 2026-12)."""
    import numpy as np

    from geo_service.duty import ShiftTable

    codes = np.array(["A", "X", "B", "C"], dtype=object)
    tuesday = dt.date(2026, 12, 1).toordinal()
    case = np.arange(3)
    beat = np.array([0, 1, 2])  # one case in each of A, X and B, at 10:00 on a working Tuesday
    got = ShiftTable(SHIFTS, codes).on_duty(case, beat, beat, np.full(3, tuesday), np.full(3, 600))
    assert [SHIFTS[s].squad if s >= 0 else None for s in got] == ["一中队", None, "二中队"]


def test_the_batch_table_runs_the_same_shifts_as_one_by_one():
    """``ShiftTable.applies`` equals ``_applies`` for every shift on every day of 2025 and 2027, make-up
    workdays, holidays and estimated years included."""
    import numpy as np

    from geo_service.duty import ShiftTable, _applies

    codes = np.array(["A", "B", "C"], dtype=object)
    days = np.array(
        [dt.date(y, 1, 1).toordinal() + k for y in (2025, 2027) for k in range(365)], dtype=np.int64
    )
    table = ShiftTable(SHIFTS, codes).applies(days)
    expected = np.array([[_applies(s, dt.date.fromordinal(int(d))) for d in days] for s in SHIFTS])
    assert np.array_equal(table, expected)
    assert table[2].sum() > 250  # B works every working day


def test_years_the_calendar_does_not_know_yet_use_the_statutory_holidays():
    """chinese-calendar knows each year once the State Council has published it. For a year it does
    not know, the days the law fixes are holidays (checked against the library for years it knows:
    every one is a day off there), weekends too, and the answer says the calendar was estimated."""
    import chinese_calendar

    from geo_service.duty import calendar_known, statutory_holidays

    for year in (2025, 2026):
        law = statutory_holidays(year)
        assert len(law) == 13
        assert all(chinese_calendar.is_holiday(d) for d in law), sorted(law)
    # Qingming falls a day later in the 20th century than the 21st-century formula says (1950: 5 April)
    assert dt.date(1950, 4, 5) in statutory_holidays(1950)
    assert dt.date(1950, 4, 4) not in statutory_holidays(1950)
    assert dt.date(2027, 4, 5) in statutory_holidays(2027)
    assert day_kind(dt.date(2027, 1, 1)) == ("holiday", False)  # New Year's Day, a Friday
    assert day_kind(dt.date(2027, 2, 8)) == ("holiday", False)  # third day of the lunar new year
    assert day_kind(dt.date(2027, 1, 4)) == ("workday", False)
    assert not calendar_known(dt.date(2027, 1, 4))
    assert calendar_known(dt.date(2026, 1, 4))
    assert beats(at("2027-01-01T10:00")) == ["A"]  # B works on workdays only


def test_who_covers_finds_a_roster_that_starts_next_season_and_says_when_there_is_none():
    """helper-37: a beat whose only shift starts in three months gave next_shift null and no word why
    (only the next 14 days were looked at)."""
    import datetime as dt

    from geo_service.coverage import NEXT_SHIFT_DAYS
    from geo_service.duty import Shift, next_shift

    at = dt.datetime(2026, 12, 1, 10, tzinfo=TZ)
    later = Shift(
        "JF-13", "解放一中队", frozenset(range(1, 8)), 7 * 60, 19 * 60, valid_from=dt.date(2027, 3, 1)
    )
    start, _ = next_shift([later], "JF-13", at, horizon_days=NEXT_SHIFT_DAYS)
    assert start == dt.datetime(2027, 3, 1, 7, tzinfo=TZ)
    ended = Shift(
        "JF-13", "解放一中队", frozenset(range(1, 8)), 7 * 60, 19 * 60, valid_to=dt.date(2026, 11, 30)
    )
    assert next_shift([ended], "JF-13", at, horizon_days=NEXT_SHIFT_DAYS) is None


def test_a_night_market_runs_past_midnight():
    """helper-37: stall hours 18:00-02:00 were refused as 'ends before it starts', though duty shifts
    may cross midnight."""
    props = {"hours": "18:00-02:00"}
    day = dt.datetime(2026, 12, 1, tzinfo=TZ)
    got = open_windows(props, day, day + dt.timedelta(days=1))
    assert got == [
        (day, day + dt.timedelta(hours=2)),
        (day + dt.timedelta(hours=18), day + dt.timedelta(days=1)),
    ]
    assert open_windows({"hours": "07:00-22:00"}, day, day + dt.timedelta(days=1)) == [
        (day + dt.timedelta(hours=7), day + dt.timedelta(hours=22))
    ]
    with pytest.raises(InvalidInput, match="00:00-24:00"):
        open_windows({"hours": "06:00-06:00"}, day, day + dt.timedelta(days=1))


def test_a_clock_alone_is_read_as_dispatchers_mean_it():
    """helper-53/54: "12:30" is today's; full-width and 下午 forms too; 24:00 ends the day; a moment
    looked back to ("since 23:00" just after midnight) is the latest one not ahead."""
    from geo_service.duty import today_at
    from geo_service.timetext import UnreadableTime, read_clock

    assert read_clock("12:30") == (12, 30, 0)
    assert read_clock("１２：３０") == (12, 30, 0)
    assert read_clock("下午3:05") == (15, 5, 0)
    assert read_clock("21时") == (21, 0, 0)
    assert read_clock("24:00") == (24, 0, 0)
    assert read_clock("2026-12-01") is None
    assert read_clock("2026/12/1 10:00") is None
    with pytest.raises(UnreadableTime):
        read_clock("25:00")
    just_after_midnight = dt.datetime(2026, 12, 6, 0, 30, tzinfo=TZ)
    assert today_at((23, 0, 0), past=False, now=just_after_midnight) == dt.datetime(
        2026, 12, 6, 23, tzinfo=TZ
    )
    assert today_at((23, 0, 0), past=True, now=just_after_midnight) == dt.datetime(2026, 12, 5, 23, tzinfo=TZ)
    assert today_at((0, 15, 0), past=True, now=just_after_midnight) == dt.datetime(
        2026, 12, 6, 0, 15, tzinfo=TZ
    )
    assert today_at((24, 0, 0), past=False, now=just_after_midnight) == dt.datetime(2026, 12, 7, tzinfo=TZ)


def test_times_typed_the_way_people_say_them():
    """helper-62: 晚上12点 was read as noon (the noon roster, silently); 下午3点半, 凌晨0点30, 3pm, a day
    without its year and 24:00 after a date were refused. Twelve o'clock at night ends the day; in the
    morning's and afternoon's words it is noon; in the small hours' it starts the day."""
    from geo_service.duty import parse_time
    from geo_service.timetext import UnreadableTime, read_clock, read_time

    day = dt.datetime(2026, 12, 1)
    cases = {
        "2026年12月1日 晚上12点": day + dt.timedelta(days=1),
        "2026/12/1 晚上12:00": day + dt.timedelta(days=1),
        "2026年12月1日 半夜12点": day + dt.timedelta(days=1),
        "2026年12月1日 凌晨12点": day,
        "2026-12-01 12:00 AM": day,
        "2026-12-01 12:00 PM": day.replace(hour=12),
        "2026年12月1日 中午12点": day.replace(hour=12),
        "2026年12月1日 上午12点": day.replace(hour=12),
        "2026年12月1日 中午1点": day.replace(hour=13),
        "2026年12月1日 下午3点半": day.replace(hour=15, minute=30),
        "2026年12月1日 凌晨0点30": day.replace(minute=30),
        "2026年12月1日 晚上21点": day.replace(hour=21),
        "2026-12-01 3pm": day.replace(hour=15),
        "2026-12-01T24:00": day + dt.timedelta(days=1),
        "2026年12月1日 24时": day + dt.timedelta(days=1),
        "2026-12-31 24:00": dt.datetime(2027, 1, 1),
    }
    assert {text: read_time(text) for text in cases} == cases
    for text in (
        "2026年12月1日 上午15点",
        "2026-12-01 24:30",
        "2026-12-01 PM 3:00 PM",
        "2026年12月1日 凌晨15点",
    ):
        with pytest.raises(UnreadableTime):
            read_time(text)
    assert read_clock("晚上12点") == (24, 0, 0)
    assert read_clock("下午3点半") == (15, 30, 0)
    # a day without its year is the nearest such day (in January, 12月28日 is last December's); looked
    # back to, the latest one not ahead; refusals quote what was typed (helper-63)
    from geo_service.duty import _nearest_year

    january = dt.datetime(2027, 1, 5, 10, tzinfo=TZ)
    assert _nearest_year("12月28日 21:00", january, past=False) == dt.datetime(2026, 12, 28, 21)
    assert _nearest_year("1月3日 09:00", january, past=False) == dt.datetime(2027, 1, 3, 9)
    assert _nearest_year("1月6日 09:00", january, past=True) == dt.datetime(2026, 1, 6, 9)
    now = dt.datetime.now(TZ)
    at = parse_time("12月1日 15:00")
    assert (at.month, at.day, at.hour) == (12, 1, 15)
    assert abs(at - now) < dt.timedelta(days=184)
    assert parse_time("12月31日 23:00", past=True) <= now
    with pytest.raises(InvalidInput) as refused:
        parse_time("2月30日 10:00")
    assert "「2月30日 10:00」" in refused.value.zh
    # the small hours at night are not guessed (半夜3点 was read as 15:00)
    for text in ("2026年12月1日 半夜3点", "2026年12月1日 晚上1点", "深夜2点"):
        with pytest.raises(UnreadableTime) as unclear:
            read_time(text) if "年" in text else read_clock(text)
        assert unclear.value.kind == "night"
    assert read_time("2026年12月1日 晚上12点半") == dt.datetime(2026, 12, 2, 0, 30)
    assert read_clock("晚上12点半") == (24, 30, 0)
    for text in ("2026年12月1日 傍晚12点", "2026年12月1日 早上12点", "2026-12-01 24:30"):
        with pytest.raises(UnreadableTime):
            read_time(text)
