"""12345 case dispatch: each case to its beat, the squad on duty then, the responsible department
(权责清单), the nearest crew by travel time, with the chain of reasons; escalation instead of blanks;
probable duplicates flagged. Vectorised over batches of thousands of cases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.coverage import BeatIndex, assign_points_to_beats
from geo_service.crs import to_metric
from geo_service.duty import Shift, day_kind
from geo_service.network import RoadNetwork, snap
from geo_service.reach import nearest_sites

__all__ = ["CaseAssignment", "Categories", "Dispatched", "dispatch", "dispatch_batch", "workload"]

TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Categories:
    """The editable category table: minor class (小类) or code → major class, department, asset rule."""

    rows: pd.DataFrame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Categories:
        return cls(frame.reset_index(drop=True))

    def lookup(self, value: str) -> Mapping[str, Any] | None:
        hit = self.rows[(self.rows["minor"] == value) | (self.rows["code"] == value)]
        return None if hit.empty else hit.iloc[0].to_dict()

    @property
    def names(self) -> list[str]:
        return list(self.rows["minor"])


@dataclass(frozen=True)
class CaseAssignment:
    """Where one case goes, and why."""

    index: int
    ok: bool
    beat: str | None
    squad: str | None
    department: str | None
    category: str | None
    major: str | None
    crew: Mapping[str, Any] | None
    escalation: str | None
    duplicate_of: str | None
    reasons: tuple[str, ...]
    error: Mapping[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


class _ShiftTable:
    """The shifts as arrays, for asking "which shift of these beats runs then" of a million cases at once."""

    def __init__(self, shifts: Sequence[Shift], codes: np.ndarray) -> None:
        self.shifts = tuple(shifts)
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
        return (
            (self.valid_from[:, None] <= days[None, :])
            & (days[None, :] <= self.valid_to[:, None])
            & self.weekdays[:, weekday - 1]
            & ((self.kind[:, None] == 0) | (self.kind[:, None] == kind[None, :]))
        )

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
        m = minute[case]
        count = self.beat_ptr[beat + 1] - self.beat_ptr[beat]
        found = np.full(len(case), -1, dtype=np.int64)
        for k in range(int(count.max(initial=0))):  # the k-th shift of each pair's beat, in roster order
            i = np.flatnonzero((count > k) & (found < 0))
            s = self.by_beat[self.beat_ptr[beat[i]] + k]
            at = s * len(days) + today[i]
            start, end, mi = self.start[s], self.end[s], m[i]
            # a shift across midnight runs from its start today, or until its end from yesterday's start
            running = np.where(
                end > start,
                table[at] & (mi >= start) & (mi < end),
                (table[at] & (mi >= start)) | (table[at - 1] & (mi < end)),
            )
            found[i[running]] = s[running]
        # per case: the chosen beat's shift first, then the earliest in the roster
        never = 2 * len(self.shifts)
        rank = np.where(found >= 0, (beat != chosen[case]) * len(self.shifts) + found, never)
        first = np.flatnonzero(np.r_[True, case[1:] != case[:-1]])
        best = np.minimum.reduceat(rank, first)
        some = best < never
        out[case[first[some]]] = best[some] % len(self.shifts)
        return out


def _times(values: Any) -> pd.Series:
    """Report times as a tz-aware Series; naive times are Asia/Shanghai."""
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


def _day_minute(local: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Day (ordinal) and minute of the day of local times, from the wall-clock nanoseconds."""
    ns = local.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    minutes = ns // 60_000_000_000
    return minutes // 1440 + dt.date(1970, 1, 1).toordinal(), minutes % 1440


def _first_per(keys: np.ndarray, n: int, *order: np.ndarray) -> np.ndarray:
    """Position of the first row per key (after sorting by ``order``, last given first), -1 where none."""
    out = np.full(n, -1, dtype=np.int64)
    if len(keys) == 0:
        return out
    rank = np.lexsort((*order, keys)) if order else np.argsort(keys, kind="stable")
    k = keys[rank]
    first = np.r_[True, k[1:] != k[:-1]]
    out[k[first]] = rank[first]
    return out


@dataclass(frozen=True)
class Dispatched:
    """A batch's answers as columns (one entry per case); :meth:`answer` builds one case's answer with
    its chain of reasons, :meth:`answers` all of them."""

    error: np.ndarray  # None, or "unknown-category" | "future" | "before-roster"
    beat: np.ndarray
    squad: np.ndarray
    shift: np.ndarray  # label of the shift on duty
    department: np.ndarray
    category: np.ndarray  # the minor class
    major: np.ndarray
    category_department: np.ndarray
    asset: np.ndarray  # name of the asset whose owner takes the case
    asset_m: np.ndarray
    escalation: np.ndarray
    duplicate_of: np.ndarray
    crew: np.ndarray  # the nearest crew by driving time from its depot (None when none reaches the case)
    crew_depot: np.ndarray
    crew_minutes: np.ndarray
    raw_category: np.ndarray
    when: Any  # time of each case (local, Asia/Shanghai)
    roster_start: dt.date | None
    category_names: tuple[str, ...]
    duplicate_m: float
    duplicate_h: float

    def __len__(self) -> int:
        return len(self.error)

    def answer(self, i: int) -> CaseAssignment:
        code = self.error[i]
        if code == "unknown-category":
            raw = self.raw_category[i]
            return _error(
                i,
                code,
                f"类别「{raw}」不在权责清单中（可用：{'、'.join(self.category_names)}）",
                f"Category '{raw}' is not in the table ({', '.join(self.category_names)})",
            )
        if code == "future":
            when = self.when[i].isoformat()
            return _error(
                i, code, f"上报时间 {when} 晚于当前时间", f"Reported at {when}, which is in the future"
            )
        if code == "before-roster":
            return _error(
                i,
                code,
                f"上报时间早于排班起始日 {self.roster_start}",
                f"Reported before the roster starts ({self.roster_start})",
            )
        dep = self.category_department[i]
        reasons = [f"类别 {self.major[i]}/{self.category[i]} 由{dep}负责 / category → {dep}"]
        if self.asset[i] is not None:
            reasons.append(
                f"位于{self.asset[i]}（{self.asset_m[i]:.0f} 米内），按资产归属由{self.department[i]}处理"
                " / on an asset: its owner"
            )
        if self.beat[i] is None:
            reasons.append(
                f"不在任何网格内，转{self.escalation[i]} / in no beat: escalated to the district duty office"
            )
        elif self.squad[i] is None:
            reasons.append(
                f"网格 {self.beat[i]} 此时无人值班，转{self.escalation[i]} / nobody on duty: escalated"
            )
        else:
            reasons.append(f"网格 {self.beat[i]} 由{self.squad[i]}值班（{self.shift[i]}）/ squad on duty")
        if self.duplicate_of[i] is not None:
            reasons.append(
                f"疑似重复：{self.duplicate_m:.0f} 米、{self.duplicate_h:.0f} 小时内已有同类案件 "
                f"{self.duplicate_of[i]} / probable duplicate"
            )
        crew = self._crew(i)
        if crew is not None:
            reasons.append(f"最近班组 {crew['crew']}（约 {crew['minutes']:.0f} 分钟）/ nearest crew")
        return CaseAssignment(
            i,
            True,
            self.beat[i],
            self.squad[i],
            self.department[i],
            self.category[i],
            self.major[i],
            crew,
            self.escalation[i],
            self.duplicate_of[i],
            tuple(reasons),
        )

    def _crew(self, i: int) -> dict[str, Any] | None:
        if self.crew[i] is None:
            return None
        return {"crew": self.crew[i], "depot": self.crew_depot[i], "minutes": float(self.crew_minutes[i])}

    def answers(self) -> list[CaseAssignment]:
        return [self.answer(i) for i in range(len(self))]


def dispatch(cases: gpd.GeoDataFrame, **kwargs: Any) -> list[CaseAssignment]:
    """Assign every case (rows with ``category``, ``reported_at``, point geometry in EPSG:4326); see
    :func:`dispatch_batch` for the arguments. A case that cannot be assigned (unknown category, a time
    in the future or before any roster) gets ``ok=False`` with an error naming why; the others are
    answered, each with its chain of reasons."""
    return dispatch_batch(cases, **kwargs).answers()


def dispatch_batch(
    cases: gpd.GeoDataFrame,
    *,
    beats: BeatIndex,
    shifts: Sequence[Shift],
    categories: Categories,
    districts: gpd.GeoDataFrame,
    assets: gpd.GeoDataFrame | None = None,
    open_cases: gpd.GeoDataFrame | None = None,
    network: RoadNetwork | None = None,
    depots: gpd.GeoDataFrame | None = None,
    crews: pd.DataFrame | None = None,
    now: dt.datetime | None = None,
    duplicate_m: float = 50.0,
    duplicate_h: float = 24.0,
    crs: str = "EPSG:4547",
    xy: np.ndarray | None = None,
) -> Dispatched:
    """The whole batch at once, as columns: beats by the coverage engine's grid, shifts by array
    lookups per (case, beat), categories and districts by table joins, duplicates by binary searches
    over cases sorted by category, cell and time (:func:`_recent_near`), the nearest crew from one
    search out of the depots. ``xy`` (metric coordinates, n × 2) may stand in for the geometry of a
    large batch."""
    now = now or dt.datetime.now(TZ)
    n = len(cases)
    if xy is None:
        pm = to_metric(cases.geometry.to_numpy(), crs)
        xy = shapely.get_coordinates(pm) if n else np.zeros((0, 2))
    times = _times(cases["reported_at"])
    local = times.dt.tz_convert(TZ)
    day, minute = _day_minute(local)
    stamp = times.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9  # seconds since the epoch (UTC)
    # categories: the first row of the table whose minor class or code matches
    first_row: dict[str, int] = {}
    for k, (minor, code) in enumerate(zip(categories.rows["minor"], categories.rows["code"], strict=True)):
        first_row.setdefault(str(minor), k)
        first_row.setdefault(str(code), k)
    raw = cases["category"].to_numpy(dtype=object)
    # a few distinct values: factorised as they are, then as text (201 and "201" are the same category)
    codes, values = pd.factorize(raw, use_na_sentinel=False)
    texts, canonical = np.unique(np.array([str(v) for v in values], dtype=object), return_inverse=True)
    raw_code = canonical[codes]
    cat = np.array([first_row.get(v, -1) for v in texts], dtype=np.int64)[raw_code]
    rows = categories.rows
    pick = np.maximum(cat, 0)
    roster_start = min((s.valid_from for s in shifts if s.valid_from), default=None)
    error = np.full(n, None, dtype=object)
    before = (day < roster_start.toordinal()) if roster_start else np.zeros(n, dtype=bool)
    error[before] = "before-roster"
    error[stamp > (now + dt.timedelta(minutes=5)).timestamp()] = "future"
    error[cat < 0] = "unknown-category"
    # beats: area beats before road beats, then in the order the index gives them
    p, b = assign_points_to_beats(xy, beats)
    chosen = np.full(n, -1, dtype=np.int64)
    first = _first_per(p, n, np.arange(len(p)), beats.is_line[b])
    chosen[first >= 0] = b[first[first >= 0]]
    # shifts: the first running shift of the chosen beat, else of any beat containing the case
    duty = _ShiftTable(shifts, beats.codes).on_duty(p, b, chosen, day, minute)
    has = duty >= 0
    beat = np.full(n, None, dtype=object)
    beat[chosen >= 0] = beats.codes[chosen[chosen >= 0]].astype(object)
    squad = np.full(n, None, dtype=object)
    shift_label = np.full(n, None, dtype=object)
    s_of = duty[has]
    beat[has] = np.array([s.beat for s in shifts], dtype=object)[s_of]
    squad[has] = np.array([s.squad for s in shifts], dtype=object)[s_of]
    shift_label[has] = np.array([s.label() for s in shifts], dtype=object)[s_of]
    # escalation to the district duty office (the district is looked up for those cases only)
    nobeat = chosen < 0
    offduty = ~nobeat & ~has
    ask = np.flatnonzero(nobeat | offduty)
    # offices: the districts', then those of the beats' districts, then the city's; chosen by number
    names = [str(v) for v in districts["name"]]
    beat_district, beat_names = pd.factorize(
        pd.Series(beats.districts, dtype=object).fillna("市").astype(str)
    )
    offices = np.array([f"{name}值班室" for name in [*names, *beat_names, "市"]], dtype=object)
    office = np.where(nobeat[ask], len(offices) - 1, len(names) + beat_district[np.maximum(chosen[ask], 0)])
    left = np.arange(len(ask))
    for k, shape in enumerate(to_metric(districts.geometry.to_numpy(), crs)):
        shapely.prepare(shape)
        inside = shapely.contains_xy(shape, xy[ask[left], 0], xy[ask[left], 1])
        office[left[inside]] = k
        left = left[~inside]
    escalation = np.full(n, None, dtype=object)
    escalation[ask] = offices[office]
    # department: the category's, or the owner of an asset the case is on when the table says so
    cat_dep = rows["department"].to_numpy(dtype=object)[pick]
    department = cat_dep.copy()
    asset_name = np.full(n, None, dtype=object)
    asset_m = np.full(n, np.nan)
    if assets is not None and len(assets) and "asset_layer" in rows:
        wants = rows["asset_layer"].fillna("").astype(str).to_numpy()[pick] != ""
        reach = pd.to_numeric(rows["asset_within_m"], errors="coerce").fillna(0).to_numpy()[pick]
        ag = to_metric(assets.geometry.to_numpy(), crs)
        ask = np.flatnonzero(wants & (cat >= 0))
        (qi, qk), qd = shapely.STRtree(ag).query_nearest(
            shapely.points(xy[ask]), return_distance=True, all_matches=False, max_distance=200
        )
        near = qd <= reach[ask[qi]]
        case_i, asset_k = ask[qi[near]], qk[near]
        owners = (
            assets["owner"].to_numpy(dtype=object)
            if "owner" in assets
            else np.full(len(assets), None, object)
        )
        asset_name[case_i] = assets["name"].to_numpy(dtype=object)[asset_k]
        asset_m[case_i] = qd[near]
        department[case_i] = np.where(pd.isna(owners[asset_k]), cat_dep[case_i], owners[asset_k])
    dup = _duplicates(
        xy,
        np.where(cat >= 0, cat, -1 - raw_code),
        first_row,
        stamp,
        open_cases,
        crs,
        duplicate_m,
        duplicate_h,
    )
    crew, crew_depot, crew_minutes = _nearest_crews(xy, network, depots, crews, crs)
    ok = error == None  # noqa: E711
    for column in (beat, squad, shift_label, department, escalation, dup, asset_name, crew, crew_depot):
        column[~ok] = None
    crew_minutes[~ok] = np.nan
    return Dispatched(
        error,
        beat,
        squad,
        shift_label,
        department,
        rows["minor"].to_numpy(dtype=object)[pick],
        rows["major"].to_numpy(dtype=object)[pick],
        cat_dep,
        asset_name,
        asset_m,
        escalation,
        dup,
        crew,
        crew_depot,
        crew_minutes,
        raw,
        local.array,
        roster_start,
        tuple(categories.names),
        duplicate_m,
        duplicate_h,
    )


def _error(i: int, code: str, zh: str, en: str) -> CaseAssignment:
    return CaseAssignment(
        i,
        False,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        (),
        {"code": code, "detail_zh": zh, "detail_en": en},
    )


def _assets(pm: np.ndarray, assets: gpd.GeoDataFrame | None, crs: str) -> list[dict[str, Any] | None]:
    out: list[dict[str, Any] | None] = [None] * len(pm)
    if assets is None or len(assets) == 0:
        return out
    ag = to_metric(assets.geometry.to_numpy(), crs)
    idx, dist = shapely.STRtree(ag).query_nearest(
        pm, return_distance=True, all_matches=False, max_distance=200
    )
    for i, k, d in zip(idx[0], idx[1], dist, strict=True):
        out[int(i)] = {
            "name": assets["name"].iloc[k],
            "owner": assets["owner"].iloc[k] if "owner" in assets else None,
            "distance": float(d),
            "id": int(assets.index[k]),
        }
    return out


def _duplicates(
    xy: np.ndarray,
    kind: np.ndarray,
    first_row: Mapping[str, int],
    stamp: np.ndarray,
    open_cases: gpd.GeoDataFrame | None,
    crs: str,
    dist_m: float,
    hours: float,
) -> np.ndarray:
    """For each case, the label of an earlier case of the same category within ``dist_m`` and ``hours``
    (in the batch, ``row N``, or open, ``incident ID``); the most recent such case when there are several."""
    n = len(xy)  # kind: the same category is the same row of the table (or, unknown, the same text)
    labels_n = n
    t = stamp
    if open_cases is not None and len(open_cases):
        oxy = shapely.get_coordinates(to_metric(open_cases.geometry.to_numpy(), crs))
        xy = np.vstack([xy, oxy])
        kind = np.concatenate(
            [
                kind,
                open_cases["category"].astype(str).map(first_row).fillna(-(10**9)).to_numpy(dtype=np.int64),
            ]
        )
        t = np.concatenate(
            [t, _times(open_cases["reported_at"]).to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9]
        )
        open_ids = open_cases.index.to_numpy()
    out = np.full(n, None, dtype=object)
    best = _recent_near(xy, np.unique(kind, return_inverse=True)[1], t, n, dist_m, hours * 3600)
    hit = np.flatnonzero(best >= 0)
    src = best[hit]
    out[hit] = [f"row {j + 1}" if j < labels_n else f"incident {int(open_ids[j - labels_n])}" for j in src]
    return out


def _recent_near(
    xy: np.ndarray, group: np.ndarray, t: np.ndarray, n: int, dist_m: float, window_s: float
) -> np.ndarray:
    """For each of the first ``n`` points, the index of the most recent earlier point of the same group
    within ``dist_m`` and ``window_s`` (strictly earlier, at most ``window_s`` before; the higher
    index among equally recent ones), -1 when there is none.

    Points are bucketed in square cells of twice the distance, by group, and sorted by cell and then
    time, so that a point's candidates lie in four cells (its own, and the neighbours on the side of
    the half it is in) and, within each, just before its own time: four binary searches per point,
    then a step back over the few in the window that are too far away.
    """
    best = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return best
    size = 2.0 * dist_m
    lo = xy.min(axis=0)
    c = np.floor((xy - lo) / size).astype(np.int64) + 1  # a margin: neighbours never wrap to another row
    nx, ny = int(c[:, 0].max()) + 2, int(c[:, 1].max()) + 2
    cell = (group * ny + c[:, 1]) * nx + c[:, 0]
    times, rank = np.unique(t, return_inverse=True)  # the exact order of the times, as integers
    # per time: the rank of the earliest time within the window before it (sorted needles: fast)
    oldest = np.searchsorted(times, times - window_s, side="left")
    span = len(times) + 1
    key = cell * span + rank
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    # the points asked about, in key order, so that each search below runs over increasing keys (fast);
    # how far back in time order each one's window reaches; the side of its cell its neighbours lie on
    mine = order < n
    asked, asked_key = order[mine], sorted_key[mine]
    reach = asked_key % span - oldest[asked_key % span]
    upper = (xy[:n] - lo) / size - (c[:n] - 1) >= 0.5
    sx = np.where(upper[:, 0], 1, -1)[asked]
    sy = np.where(upper[:, 1], nx, -nx)[asked]
    best_t = np.full(n, -np.inf)
    for shift, values in (
        (None, (0,)),
        (sx, (-1, 1)),
        (sy, (-nx, nx)),
        (sx + sy, (-nx - 1, -nx + 1, nx - 1, nx + 1)),
    ):
        for value in values:
            sel = slice(None) if shift is None else shift == value
            needle = asked_key[sel] + value * span
            at = np.searchsorted(sorted_key, needle, side="left") - 1  # the last strictly earlier
            floor = needle - reach[sel]  # keys from here on are in the cell and the window
            ok = at >= 0
            ok[ok] = sorted_key[at[ok]] >= floor[ok]
            i, at, floor = asked[sel][ok], at[ok], floor[ok]
            while len(i):
                j = order[at]
                near = np.hypot(xy[j, 0] - xy[i, 0], xy[j, 1] - xy[i, 1]) <= dist_m
                take = near & ((t[j] > best_t[i]) | ((t[j] == best_t[i]) & (j > best[i])))
                best[i[take]], best_t[i[take]] = j[take], t[j[take]]
                # the most recent one here is too far away: step back to the one before, if in the window
                i, at, floor = i[~near], at[~near] - 1, floor[~near]
                ok = at >= 0
                ok[ok] = sorted_key[at[ok]] >= floor[ok]
                i, at, floor = i[ok], at[ok], floor[ok]
    return best


def _nearest_crews(
    xy: np.ndarray,
    network: RoadNetwork | None,
    depots: gpd.GeoDataFrame | None,
    crews: pd.DataFrame | None,
    crs: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(crew, depot, minutes) of the crew whose depot is nearest each case by driving time: one search
    out of every depot at once (``reach.nearest_sites``), then a snap and a few lookups per case; the
    first crew listed for a depot stands for it."""
    n = len(xy)
    crew, depot, minutes = np.full(n, None, dtype=object), np.full(n, None, dtype=object), np.full(n, np.nan)
    if network is None or depots is None or crews is None or len(crews) == 0 or n == 0:
        return crew, depot, minutes
    first_crew = crews.drop_duplicates("depot").set_index("depot")["crew"]
    staffed = depots[depots["name"].isin(first_crew.index)]
    if len(staffed) == 0:
        return crew, depot, minutes
    field = nearest_sites(
        network, to_metric(staffed.geometry.to_numpy(), crs), max_snap_m=500, from_sites=True
    )
    cost, k = field.query(snap(network, shapely.points(xy), max_distance=500))
    found = np.flatnonzero(k >= 0)
    names = staffed["name"].to_numpy(dtype=object)
    depot[found] = names[k[found]]
    crew[found] = first_crew.reindex(names).to_numpy(dtype=object)[k[found]]
    minutes[found] = np.round(cost[found] / 60, 1)
    return crew, depot, minutes


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

    A case counts for the beat that takes it (area beats before road beats, as in dispatch) and for the
    squad on duty there when it was reported ("（无人值班）" when nobody was, "（无网格）" outside every
    beat). ``beats_on_duty`` is the average over the days from ``start`` to ``end`` (by default the
    days of the cases) of the beats on duty in that hour, a beat on duty half the hour counting half.
    """
    n = len(cases)
    xy = shapely.get_coordinates(to_metric(cases.geometry.to_numpy(), crs)) if n else np.zeros((0, 2))
    local = (
        _times(cases["reported_at"]).dt.tz_convert(TZ)
        if n
        else pd.Series([], dtype=f"datetime64[ns, {TZ.key}]")
    )
    day, minute = _day_minute(local)
    hour = minute // 60
    p, b = assign_points_to_beats(xy, beats)
    first = _first_per(p, n, np.arange(len(p)), beats.is_line[b])
    chosen = np.full(n, -1, dtype=np.int64)
    chosen[first >= 0] = b[first[first >= 0]]
    table = _ShiftTable(shifts, beats.codes)
    duty = table.on_duty(p, b, chosen, day, minute)
    beat = np.full(n, "（无网格）", dtype=object)
    beat[chosen >= 0] = beats.codes[chosen[chosen >= 0]]
    squad = np.where(chosen >= 0, "（无人值班）", "（无网格）").astype(object)
    squad[duty >= 0] = np.array([s.squad for s in shifts], dtype=object)[duty[duty >= 0]]
    # the days of the period, and the minutes of each hour of each day each beat is on duty
    if start is not None and end is not None:
        first_day = start.astimezone(TZ).date().toordinal()
        last_day = (end - dt.timedelta(microseconds=1)).astimezone(TZ).date().toordinal()
    elif n:
        first_day, last_day = int(day.min()), int(day.max())
    else:
        first_day = last_day = 0
    days = np.arange(first_day, last_day + 1)
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
        on_duty += np.minimum(minutes, 60).sum(axis=(0, 1)) / 60
    on_duty /= max(len(days), 1)
    per_hour = np.bincount(hour, minlength=24)
    return {
        "cases": n,
        "days": len(days),
        "by_squad": pd.Series(squad).value_counts().to_dict(),
        "by_beat": pd.Series(beat).value_counts().to_dict(),
        "by_hour": [
            {"hour": h, "cases": int(per_hour[h]), "beats_on_duty": round(float(on_duty[h]), 1)}
            for h in range(24)
        ],
    }
