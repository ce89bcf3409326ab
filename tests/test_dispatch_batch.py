"""The vectorised batch dispatch against the per-case rules of ``duty.py`` on thousands of random cases
(holidays and adjusted working days from the Chinese calendar, shifts across midnight, validity windows)."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.assignment.dispatch import Categories, dispatch_batch
from geo_service.coverage import BeatIndex, assign_points_to_beats
from geo_service.crs import to_metric
from geo_service.demo.duty import case_categories
from geo_service.duty import on_duty, shifts_from_frame
from tests.test_coverage import DISTRICT, SHIFTS, grid_beats, ll

TZ = dt.timezone(dt.timedelta(hours=8))


def random_shifts(rng: np.random.Generator, codes: list[str]):
    rows = []
    for code in codes:
        for _ in range(rng.integers(1, 4)):
            start = int(rng.integers(0, 48)) * 30
            end = (start + int(rng.integers(2, 20)) * 30) % 1440  # some cross midnight
            days = sorted(rng.choice(np.arange(1, 8), size=int(rng.integers(3, 8)), replace=False))
            row = {
                "beat": code,
                "squad": f"{code}-{len(rows)}",
                "weekdays": ",".join(map(str, days)),
                "start": f"{start // 60:02d}:{start % 60:02d}",
                "end": f"{end // 60:02d}:{end % 60:02d}",
                "day_kind": rng.choice(["any", "workday", "holiday"]),
            }
            if (
                rng.random() < 0.2
            ):  # a shift starting in the middle of the holiday (the roster starts earlier)
                row["valid_from"] = "2026-10-03"
            if rng.random() < 0.2:
                row["valid_to"] = "2027-02-15"
            rows.append(row)
    rows[0]["valid_from"] = "2026-01-01"  # the roster's start
    return shifts_from_frame(pd.DataFrame(rows))


def test_batch_equals_the_per_case_rules():
    rng = np.random.default_rng(5)
    frame = grid_beats()
    index = BeatIndex.build(frame)
    shifts = random_shifts(rng, list(frame["code"]))
    n = 4000
    pts = [shapely.Point(*ll(x, y)) for x, y in rng.uniform(-20, 330, size=(n, 2))]
    # half around National Day 2026 (holidays on weekdays, working Sundays and Saturdays), half over the winter
    start = dt.datetime(2026, 9, 25, tzinfo=TZ)
    minutes = np.where(
        rng.random(n) < 0.5, rng.integers(0, 17 * 24 * 60, n), rng.integers(0, 160 * 24 * 60, n)
    )
    when = [start + dt.timedelta(minutes=int(m)) for m in minutes]
    cases = gpd.GeoDataFrame({"category": "噪声扰民", "reported_at": when}, geometry=pts, crs=4326)
    got = dispatch_batch(
        cases,
        beats=index,
        shifts=shifts,
        categories=Categories.from_frame(case_categories()),
        districts=DISTRICT,
        now=dt.datetime(2027, 6, 1, tzinfo=TZ),
    )
    p, b = assign_points_to_beats(to_metric(np.array(pts, dtype=object)), index)
    members: dict[int, list[int]] = {}
    for i, k in zip(p, b, strict=True):
        members.setdefault(int(i), []).append(int(k))
    checked_on, checked_off = 0, 0
    for i in range(n):
        ks = members.get(i, [])
        if got.error[i] == "before-roster":
            continue
        area = [k for k in ks if not index.is_line[k]]
        chosen = (area or ks or [None])[0]
        codes = {str(index.codes[k]) for k in ks}
        running = [s for s in on_duty(shifts, when[i]) if s.beat in codes]
        duty = [s for s in running if chosen is not None and s.beat == index.codes[chosen]] or running
        if chosen is None:
            assert got.beat[i] is None, i
            assert got.escalation[i] in ("甲区值班室", "市值班室"), i
        elif duty:
            assert (got.beat[i], got.squad[i], got.shift[i]) == (
                duty[0].beat,
                duty[0].squad,
                duty[0].label(),
            ), i
            checked_on += 1
        else:
            assert got.squad[i] is None, i
            assert got.beat[i] == index.codes[chosen], i
            assert got.escalation[i], i
            checked_off += 1
    assert checked_on > 500
    assert checked_off > 500


def test_duplicates_name_the_first_report_they_lead_back_to():
    """Each duplicate names the most recent earlier case in reach, or, when that one is itself a
    duplicate of the batch's, the first report it leads back to (case 3 → case 2 → case 1: case 1)."""
    t = dt.datetime(2026, 12, 1, 10, tzinfo=TZ)
    rows = [
        ("油烟污染", (50, 50), t),
        ("油烟污染", (55, 50), t + dt.timedelta(hours=1)),
        ("油烟污染", (60, 50), t + dt.timedelta(hours=2)),
        ("油烟污染", (60, 50), t + dt.timedelta(hours=30)),
        ("噪声扰民", (60, 50), t + dt.timedelta(hours=3)),
    ]
    cases = gpd.GeoDataFrame(
        {"category": [c for c, _, _ in rows], "reported_at": [w for _, _, w in rows]},
        geometry=[shapely.Point(*ll(*xy)) for _, xy, _ in rows],
        crs=4326,
    )
    opened = gpd.GeoDataFrame(
        {"category": ["噪声扰民"], "reported_at": [t]},
        geometry=[shapely.Point(*ll(70, 50))],
        crs=4326,
        index=[41],
    )
    got = dispatch_batch(
        cases,
        beats=BeatIndex.build(grid_beats()),
        shifts=(),
        districts=DISTRICT,
        categories=Categories.from_frame(case_categories()),
        open_cases=opened,
        now=dt.datetime(2027, 1, 1, tzinfo=TZ),
    )
    assert list(got.duplicate_of) == [
        None,
        "case 1",
        "case 1",
        None,
        "incident 41",
    ]  # case 4: 28 h after case 3


def test_times_naive_zoned_and_mixed_are_read_as_beijing_time():
    rows = [
        "2026-12-01 10:00",
        "2026-12-01T02:00:00Z",
        dt.datetime(2026, 12, 1, 10),
        dt.datetime(2026, 12, 1, 10, tzinfo=TZ),
        "2026-12-01T03:00:00+01:00",
    ]
    cases = gpd.GeoDataFrame(
        {"category": "噪声扰民", "reported_at": rows},
        geometry=[shapely.Point(*ll(150, 50))] * len(rows),
        crs=4326,
    )
    got = dispatch_batch(
        cases,
        beats=BeatIndex.build(grid_beats()),
        shifts=SHIFTS,
        districts=DISTRICT,
        categories=Categories.from_frame(case_categories()),
        now=dt.datetime(2027, 1, 1, tzinfo=TZ),
    )
    assert [str(t)[:19] for t in got.when] == ["2026-12-01 10:00:00"] * len(rows)
    assert list(got.squad) == ["S1"] * len(rows)


def _recent_near_brute(xy, group, t, n, dist_m, window_s):
    """The most recent earlier point of the same group within both limits, by looking at every pair:
    earlier in time, or at the same time a stored point (index n and up) or one of the batch before
    it; among equally recent ones a point of the batch before a stored one, then the higher index."""
    best = np.full(n, -1)
    index = np.arange(len(t))
    for i in range(n):
        lag = t[i] - t
        before = (lag > 0) | ((lag == 0) & ((index < i) | (index >= n)))
        ok = (group == group[i]) & before & (lag <= window_s)
        ok &= np.hypot(xy[:, 0] - xy[i, 0], xy[:, 1] - xy[i, 1]) <= dist_m
        cand = np.flatnonzero(ok)
        if len(cand):
            best[i] = cand[np.lexsort((cand, cand < n, t[cand]))[-1]]
    return best


def test_same_minute_reports_are_duplicates_one_way():
    """Two reports of one place and category at the same minute, with no ticket number, were
    not linked (only a strictly earlier case counted). Now the later row of the batch names the
    earlier one, a stored case of that minute is named by the batch's, and nobody names itself or a
    case that names it back."""
    t = dt.datetime(2026, 12, 1, 21, tzinfo=TZ)
    rows = [
        ("噪声扰民", (50, 50), t),
        ("噪声扰民", (52, 50), t),  # the same minute, 2 m away
        ("噪声扰民", (54, 50), t),  # and a third
        ("油烟污染", (50, 50), t),  # another category: alone
        ("燃气安全", (150, 50), t),  # the same minute as a stored case
    ]
    cases = gpd.GeoDataFrame(
        {"category": [c for c, _, _ in rows], "reported_at": [w for _, _, w in rows]},
        geometry=[shapely.Point(*ll(*xy)) for _, xy, _ in rows],
        crs=4326,
    )
    stored = gpd.GeoDataFrame(
        {"category": ["燃气安全"], "reported_at": [t]},
        geometry=[shapely.Point(*ll(151, 50))],
        crs=4326,
        index=[7],
    )
    got = dispatch_batch(
        cases,
        beats=BeatIndex.build(grid_beats()),
        shifts=(),
        districts=DISTRICT,
        categories=Categories.from_frame(case_categories()),
        open_cases=stored,
        now=dt.datetime(2027, 1, 1, tzinfo=TZ),
    )
    # the third names the first report (the second is itself a duplicate of it: helper-39)
    assert list(got.duplicate_of) == [None, "case 1", "case 1", None, "incident 7"]
    from geo_service.assignment.duplicates import recent_near

    # the search itself: equal times, equal places; the stored point (index 2) counts for both
    xy = np.zeros((3, 2))
    assert list(recent_near(xy, np.zeros(3, int), np.zeros(3), 2, 1.0, 60.0)) == [2, 0]
    assert list(recent_near(xy[:2], np.zeros(2, int), np.zeros(2), 2, 1.0, 60.0)) == [-1, 0]


def test_duplicate_search_equals_brute_force():
    """Random cases crowded into a small square over a few days (so that many are in reach), with times
    on a coarse grid (ties), points exactly at the distance and the window, and extra points after
    the first n that are candidates but not asked about (open cases)."""
    from geo_service.assignment.duplicates import recent_near as _recent_near

    rng = np.random.default_rng(17)
    for trial in range(6):
        m, n = 1500, 1200
        xy = rng.uniform(0, 600, (m, 2))
        t = rng.integers(0, 4 * 24, m) * 1800.0 + 1.7e9  # half-hour steps over four days: many ties
        group = rng.integers(0, 3, m)
        # pairs placed exactly at the limits: 50 m apart (along x), 24 h apart, and just beyond both
        for k in range(0, 60, 4):
            xy[k + 1], t[k + 1], group[k + 1] = xy[k] + [50.0, 0.0], t[k] + 24 * 3600.0, group[k]
            xy[k + 2], t[k + 2], group[k + 2] = xy[k] + [50.0 + 1e-6, 0.0], t[k] + 3600.0, group[k]
            beyond = 1.0 if trial % 3 == 0 else 1e-3  # whole seconds (sorted packed) or not (argsorted)
            xy[k + 3], t[k + 3], group[k + 3] = xy[k] + [0.0, 30.0], t[k] + 24 * 3600.0 + beyond, group[k]
        if trial % 2:
            xy = xy[:, ::-1] * [1.0, 7.0]  # stretched: cells in one direction only
        got = _recent_near(xy, group, t, n, 50.0, 24 * 3600.0)
        want = _recent_near_brute(xy, group, t, n, 50.0, 24 * 3600.0)
        assert (want >= 0).sum() > 200
        assert np.array_equal(got, want), np.flatnonzero(got != want)[:10]


def test_duplicate_search_with_cells_wider_than_the_distance():
    """A distance so small against the extent (a tenth of a millimetre over a thousand kilometres, on
    both sides of zero) that cells of twice the distance would not fit the search's integer keys: the
    cells grow, and the answers stay those of the brute force. Points come in clusters, each around
    an anchor, so that many are in reach."""
    from geo_service.assignment.duplicates import recent_near

    rng = np.random.default_rng(23)
    m, n, d = 1500, 1000, 1e-4
    anchors = rng.uniform(-5e5, 5e5, (60, 2))
    xy = anchors[rng.integers(0, 60, m)] + rng.uniform(-d, d, (m, 2))
    t = rng.integers(0, 40, m) * 600.0
    group = rng.integers(0, 4, m)
    got = recent_near(xy, group, t, n, d, 3 * 3600.0)
    want = _recent_near_brute(xy, group, t, n, d, 3 * 3600.0)
    assert (want >= 0).sum() > 100
    assert np.array_equal(got, want), np.flatnonzero(got != want)[:10]
    # one point; none asked about
    assert list(recent_near(xy[:1], group[:1], t[:1], 1, d, 3600.0)) == [-1]
    assert len(recent_near(xy, group, t, 0, d, 3600.0)) == 0
