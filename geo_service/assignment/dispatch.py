"""12345 case dispatch: each case to its beat, the squad on duty then, the responsible department
(权责清单), the nearest available crew by travel time, with the chain of reasons; escalation instead of blanks;
probable duplicates flagged. Vectorised over batches of thousands of cases.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.assignment.crews import SNAP_M, CrewChoice, nearest_available_crews
from geo_service.assignment.duplicates import probable_duplicates, same_ticket
from geo_service.assignment.intake import Intake
from geo_service.coverage import BeatIndex, assign_points_to_beats
from geo_service.coverage.offices import duty_offices
from geo_service.crs import to_metric
from geo_service.duty import TZ, Shift, ShiftTable, day_minute, local_times
from geo_service.network import RoadNetwork

__all__ = [
    "CaseAssignment",
    "Categories",
    "Dispatched",
    "area_first",
    "dispatch",
    "dispatch_batch",
    "first_per",
]


_SLASH = re.compile(r"\s*/\s*")


@dataclass(frozen=True)
class Categories:
    """The editable category table: minor class (小类) or code → major class, department, asset rule."""

    rows: pd.DataFrame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Categories:
        return cls(frame.reset_index(drop=True))

    def lookup(self, value: str) -> Mapping[str, Any] | None:
        value = _SLASH.sub("/", str(value).strip())  # spaces around it (full-width too) are nobody's meaning
        major, _, minor = value.rpartition(
            "/"
        )  # 街面秩序/占道经营, as answers name it, is 占道经营 of 街面秩序
        hit = self.rows[(self.rows["minor"] == value) | (self.rows["code"] == value)]
        if hit.empty and major:
            hit = self.rows[(self.rows["minor"] == minor.strip()) & (self.rows["major"] == major.strip())]
        return None if hit.empty else hit.iloc[0].to_dict()

    @property
    def names(self) -> list[str]:
        """Each category as a refusal lists it: its code and its name (an Open311 client sends the code,
        a spreadsheet the name): ``0201 噪声扰民``."""
        return [f"{code} {minor}" for code, minor in zip(self.rows["code"], self.rows["minor"], strict=True)]


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
    error: Mapping[str, Any] | None = None
    row: int | None = None  # the spreadsheet row the case came from (header = row 1), for uploads
    same_ticket: bool = False  # duplicate_of has the case's 12345 ticket number: a duplicate for certain

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def first_per(keys: np.ndarray, n: int, *order: np.ndarray) -> np.ndarray:
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

    error: (
        np.ndarray
    )  # None, or "bad-location" | "bad-time" | "unknown-category" | "future" | "before-roster"
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
    crews: CrewChoice  # the nearest available crew by driving time from its depot
    raw_category: np.ndarray
    when: Any  # time of each case (local, Asia/Shanghai)
    roster_start: dt.date | None
    category_names: tuple[str, ...]
    duplicate_m: float
    duplicate_h: float
    location_problem: np.ndarray  # per case: (zh, en) of why its location was refused, or None
    time_problem: np.ndarray  # per case: (zh, en) of why its report time was refused, or None
    time_assumed: np.ndarray  # per case: no time was given, the time the batch was received stands in
    rows: np.ndarray  # per case: its spreadsheet row, or None (then named by its position)
    same_ticket: np.ndarray | None = None  # per case: its duplicate_of has its 12345 ticket number
    crewless: np.ndarray | None = None  # per case: its category's row says it sends no crew

    def __len__(self) -> int:
        return len(self.error)

    def name(self, i: int) -> tuple[str, str]:
        """How the answers name case ``i``: by its spreadsheet row, else by its position (from 1)."""
        row = self.rows[i]
        return (f"第 {row} 行", f"Row {row}") if row is not None else (f"第 {i + 1} 个案件", f"Case {i + 1}")

    def problems(self, i: int) -> list[tuple[str, str, str]]:
        """Why case ``i`` is refused, (code, zh, en) each, the one that decides ``error`` first: what is
        wrong with the case itself (location, time, category) all at once, so that a row is mended in
        one go; a time in the future or before the roster only when nothing else is wrong."""
        out = []
        if self.location_problem[i] is not None:
            out.append(("bad-location", *self.location_problem[i]))
        if self.time_problem[i] is not None:
            out.append(("bad-time", *self.time_problem[i]))
        if self.error[i] is not None and self.category[i] is None:
            raw = self.raw_category[i]
            if raw is None or (not isinstance(raw, str) and pd.isna(raw)) or not str(raw).strip():
                out.append(("unknown-category", "缺少类别", "no category"))
            else:
                out.append(
                    (
                        "unknown-category",
                        f"类别「{raw}」不在权责清单中（可用：{'、'.join(self.category_names)}）",
                        f"category '{raw}' is not in the table ({', '.join(self.category_names)})",
                    )
                )
        if out:
            return out
        if self.error[i] == "future":
            when = self.when[i].isoformat()
            return [
                ("future", f"上报时间 {when} 晚于当前时间", f"reported at {when}, which is in the future")
            ]
        if self.error[i] == "before-roster":
            return [
                (
                    "before-roster",
                    f"上报时间早于排班起始日 {self.roster_start}",
                    f"reported before the roster starts ({self.roster_start})",
                )
            ]
        return []

    def answer(self, i: int) -> CaseAssignment:
        row = None if self.rows[i] is None else int(self.rows[i])
        if self.error[i] is not None:
            problems = self.problems(i)
            who_zh, who_en = self.name(i)
            return CaseAssignment(
                i,
                False,
                beat=None,
                squad=None,
                department=None,
                category=None,
                major=None,
                crew=None,
                escalation=None,
                duplicate_of=None,
                reasons=(),
                error={
                    "code": problems[0][0],
                    "codes": [code for code, _, _ in problems],
                    "detail_zh": f"{who_zh}：" + "；".join(zh for _, zh, _ in problems),
                    "detail_en": f"{who_en}: " + "; ".join(en for _, _, en in problems),
                },
                row=row,
            )
        dep = self.category_department[i]
        category = f"{self.major[i]}/{self.category[i]}"
        reasons = []
        if self.time_assumed[i]:
            when = self.when[i].isoformat(timespec="minutes")
            reasons.append(
                f"未填上报时间，按收到时间 {when} 计 / no report time given: taken as received, {when}"
            )
        reasons.append(f"类别 {category} 由{dep}负责 / category {category}: {dep}")
        if self.asset[i] is not None:
            reasons.append(
                f"位于{self.asset[i]}（{self.asset_m[i]:.0f} 米内），按资产归属由{self.department[i]}处理"
                f" / on {self.asset[i]} (within {self.asset_m[i]:.0f} m): its owner, {self.department[i]}"
            )
        office = self.escalation[i]
        if self.beat[i] is None:
            reasons.append(f"不在任何网格内，转{office} / in no beat: escalated to {office}")
        elif self.squad[i] is None:
            reasons.append(
                f"网格 {self.beat[i]} 此时无人值班，转{office} / nobody on duty in beat {self.beat[i]}: "
                f"escalated to {office}"
            )
        else:
            reasons.append(
                f"网格 {self.beat[i]} 由{self.squad[i]}值班（{self.shift[i]}）/ beat {self.beat[i]}: "
                f"squad on duty {self.squad[i]} ({self.shift[i]})"
            )
        if self.duplicate_of[i] is not None and self.same_ticket is not None and self.same_ticket[i]:
            reasons.append(
                f"重复：与{_label_zh(self.duplicate_of[i])}为同一工单编号 / duplicate: the same ticket "
                f"number as {self.duplicate_of[i]}"
            )
        elif self.duplicate_of[i] is not None:
            reasons.append(
                f"疑似重复：{self.duplicate_m:.0f} 米、{self.duplicate_h:.0f} 小时内已有同类案件"
                f"（{_label_zh(self.duplicate_of[i])}）/ probable duplicate of {self.duplicate_of[i]} "
                f"(same category within {self.duplicate_m:.0f} m and {self.duplicate_h:.0f} h)"
            )
        crew = self._crew(i)
        if crew is not None:
            if crew["passed_over"] is not None:
                reasons.append(
                    f"最近场站 {crew['passed_over']} 的班组此时均不可派（忙碌、休班或停用）/ "
                    f"every crew at the nearest depot, {crew['passed_over']}, is busy, off duty or out of service"
                )
            reasons.append(
                f"最近可派班组 {crew['crew']}（约 {crew['minutes']:.0f} 分钟）/ nearest available crew "
                f"{crew['crew']} (about {crew['minutes']:.0f} min)"
            )
        elif self.crews.none_free[i]:
            reasons.append("此时没有可派班组（均忙碌、休班或停用）/ no crew is available at this time")
        elif self.crewless is not None and self.crewless[i]:
            reasons.append(
                "权责清单中此类案件不派作业班组 / the category table sends no crew for this kind of case"
            )
        elif self.crews.off_road[i]:
            reasons.append(
                f"{SNAP_M:.0f} 米内没有可行车的道路，未推荐班组 / no drivable street within {SNAP_M:.0f} m: "
                "no crew suggested"
            )
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
            None,
            row,
            bool(self.same_ticket is not None and self.same_ticket[i] and self.duplicate_of[i] is not None),
        )

    def _crew(self, i: int) -> dict[str, Any] | None:
        c = self.crews
        if c.crew[i] is None:
            return None
        return {
            "crew": c.crew[i],
            "depot": c.depot[i],
            "minutes": float(c.minutes[i]),
            "passed_over": c.passed_over[i],
        }

    def answers(self) -> list[CaseAssignment]:
        return [self.answer(i) for i in range(len(self))]


def dispatch(cases: gpd.GeoDataFrame, **kwargs: Any) -> list[CaseAssignment]:
    """Assign every case (rows with ``category``, ``reported_at``, point geometry in EPSG:4326); see
    :func:`dispatch_batch` for the arguments. A case that cannot be assigned (unknown category, a time
    in the future or before any roster, a problem found at intake) gets ``ok=False`` with an error naming why; the others are
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
    tickets: Mapping[str, tuple[int, str]] | None = None,
    network: RoadNetwork | None = None,
    depots: gpd.GeoDataFrame | None = None,
    crews: pd.DataFrame | None = None,
    now: dt.datetime | None = None,
    duplicate_m: float = 50.0,
    duplicate_h: float = 24.0,
    crs: str = "EPSG:4547",
    xy: np.ndarray | None = None,
    intake: Intake | None = None,
) -> Dispatched:
    """The whole batch at once, as columns: beats by the coverage engine's grid, shifts by array
    lookups per (case, beat), categories and districts by table joins, duplicates by one sort of
    the cases keyed by category, cell and time (``duplicates.recent_near``), the nearest crew from
    one search out of the depots. ``xy`` (metric coordinates, n × 2) may stand in for the geometry of a
    large batch. ``intake``: what was found wrong with each case before (its location, e.g. outside the
    service area, or its report time), the rows the cases came from, which times were assumed; a case
    with a problem is answered with it (all its problems at once), its ``xy`` is not read."""
    now = now or dt.datetime.now(TZ)
    n = len(cases)
    intake = intake or Intake()
    location_problem, misplaced = _per_case(intake.location_problems, n)
    time_problem, mistimed = _per_case(intake.time_problems, n)
    case_rows = np.full(n, None, dtype=object)
    if intake.rows is not None:
        case_rows[:] = list(intake.rows)
    time_assumed = np.zeros(n, dtype=bool)
    if intake.time_assumed is not None:
        time_assumed[:] = np.asarray(intake.time_assumed, dtype=bool)
    if xy is None:
        geoms = cases.geometry.to_numpy().copy()
        geoms[misplaced] = shapely.Point(np.nan, np.nan)
        pm = to_metric(geoms, crs)
        xy = shapely.get_coordinates(pm, include_z=False) if n else np.zeros((0, 2))
    if misplaced.any():
        xy = np.where(misplaced[:, None], np.nan, xy)
    times = local_times(cases["reported_at"])
    local = times.dt.tz_convert(TZ)
    day, minute = day_minute(local)
    stamp = times.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9  # seconds since the epoch (UTC)
    # categories: the first row of the table whose minor class or code matches
    first_row: dict[str, int] = {}
    majors = categories.rows["major"] if "major" in categories.rows else [None] * len(categories.rows)
    for k, (minor, code, major) in enumerate(
        zip(categories.rows["minor"], categories.rows["code"], majors, strict=True)
    ):
        first_row.setdefault(str(minor), k)
        first_row.setdefault(str(code), k)
        if major is not None and not pd.isna(major):  # 街面秩序/占道经营: as the answers' reasons name it
            first_row.setdefault(f"{major}/{minor}", k)
    raw = cases["category"].to_numpy(dtype=object)
    # a few distinct values: factorised as they are, then as text (201 and "201" are the same category)
    codes, values = pd.factorize(raw)  # without looking for blanks twice (they are rare: see below)
    if (codes < 0).any():  # blanks (None, NaN) as values of their own
        codes, values = pd.factorize(raw, use_na_sentinel=False)
    # as text without surrounding spaces (full-width ones too): " 噪声扰民 " from a spreadsheet is 噪声扰民,
    # and "街面秩序 / 占道经营" is 街面秩序/占道经营
    texts, canonical = np.unique(
        np.array([_SLASH.sub("/", str(v).strip()) for v in values], dtype=object), return_inverse=True
    )
    raw_code = canonical[codes]
    cat = np.array([first_row.get(v, -1) for v in texts], dtype=np.int64)[raw_code]
    rows = categories.rows
    pick = np.maximum(cat, 0)
    table = ShiftTable.of(shifts, beats.codes)
    roster_start = table.valid_since
    error = np.full(n, None, dtype=object)
    before = (day < roster_start.toordinal()) if roster_start else np.zeros(n, dtype=bool)
    future = stamp > (now + dt.timedelta(minutes=5)).timestamp()
    unknown = cat < 0
    before &= ~mistimed  # a time that could not be read is neither
    future &= ~mistimed
    error[before] = "before-roster"
    error[future] = "future"
    error[unknown] = "unknown-category"
    error[mistimed] = "bad-time"
    error[misplaced] = "bad-location"
    refused = before | future | unknown | misplaced | mistimed
    failed = np.flatnonzero(refused)
    # beats: area beats before road beats, then in the order the index gives them
    located = np.flatnonzero(np.isfinite(xy).all(axis=1))
    if len(located) == n:
        p, b = assign_points_to_beats(xy, beats)
    else:  # cases with no usable point are in no beat
        p, b = assign_points_to_beats(xy[located], beats)
        p = located[p]
    chosen = area_first(p, b, beats.is_line, n)
    # shifts: the first running shift of the chosen beat, else of any beat containing the case
    duty = table.on_duty(p, b, chosen, day, minute)
    has = duty >= 0
    # the beat: the shift's on duty, else the chosen one's; squad and shift: the one on duty, or None
    n_shifts = len(table.shifts)
    on = np.where(has, duty, n_shifts)
    beat = table.beat_code[on]
    nobody = np.flatnonzero(~has & (chosen >= 0))  # in a beat, nobody on duty: that beat
    beat[nobody] = beats.codes[chosen[nobody]]
    squad = table.squad[on]
    shift_label = table.label[on]
    # escalation to the district duty office (the district is looked up for those cases only)
    nobeat = chosen < 0
    offduty = ~nobeat & ~has
    ask = np.flatnonzero(nobeat | offduty)
    # the district's office, on a border the office of the beat's district, else the city's (as who-covers)
    beat_district = np.full(len(ask), None, dtype=object)
    held = ~nobeat[ask]
    beat_district[held] = np.asarray(beats.districts, dtype=object)[chosen[ask][held]]
    office = duty_offices(xy[ask], beat_district, districts, crs=crs)
    escalation = np.full(n, None, dtype=object)
    escalation[ask] = office
    # department: the category's, or the owner of an asset the case is on when the table says so
    cat_dep = rows["department"].to_numpy(dtype=object)[pick]
    department = cat_dep.copy()
    asset_name = np.full(n, None, dtype=object)
    asset_m = np.full(n, np.nan)
    if assets is not None and len(assets) and "asset_layer" in rows:
        wants = rows["asset_layer"].fillna("").astype(str).to_numpy()[pick] != ""
        reach = pd.to_numeric(rows["asset_within_m"], errors="coerce").fillna(0).to_numpy()[pick]
        ag = to_metric(assets.geometry.to_numpy(), crs)
        ask = np.flatnonzero(wants & (cat >= 0) & ~refused)
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
    # an upload's duplicates name the earlier row as its answers do (row N), a JSON batch's: case N
    case_names = None if intake.rows is None else [_batch_label(r, i) for i, r in enumerate(case_rows)]
    kind = np.where(cat >= 0, cat, -1 - raw_code)  # the same category: the same row (unknown: the same text)
    dup = probable_duplicates(
        xy,
        kind,
        first_row,
        stamp,
        open_cases,
        crs,
        duplicate_m,
        duplicate_h,
        asked=~refused,
        names=case_names,
    )
    ticket = np.zeros(n, dtype=bool)
    if "case_no" in cases:  # the same ticket again (a 12345 export loaded twice) is a duplicate outright
        stored = {
            no: (fid, first_row.get(category, -(10**9))) for no, (fid, category) in (tickets or {}).items()
        }
        again = same_ticket(
            cases["case_no"].to_numpy(dtype=object),
            stored,
            kind,
            asked=~refused,
            names=case_names,
        )
        ticket = pd.notna(again)
        ticket[failed] = False
        dup = np.where(ticket, again, dup)
    sent = nearest_available_crews(xy, stamp, network, depots, crews, crs)
    # a category whose table row says no crew (a noise complaint goes to the squad, a gas leak to the gas
    # company) is given none; a blank says nothing, and the crew is suggested as before the column was
    crewless = np.zeros(n, dtype=bool)
    if "sends_crew" in rows:
        crewless = (rows["sends_crew"].to_numpy(dtype=object)[pick] == False) & ~unknown  # noqa: E712
        sent.crew[crewless] = None
        sent.depot[crewless] = None
        sent.minutes[crewless] = np.nan
        sent.passed_over[crewless] = None
        sent.none_free[crewless] = False
        sent.off_road[crewless] = False
    for column in (beat, squad, shift_label, department, escalation, dup, asset_name, sent.crew, sent.depot):
        column[failed] = None
    minor = rows["minor"].to_numpy(dtype=object)[pick]
    minor[unknown] = None  # no category matched: none is named
    sent.minutes[failed] = np.nan
    sent.passed_over[failed] = None
    sent.none_free[failed] = False
    sent.off_road[failed] = False
    return Dispatched(
        error,
        beat,
        squad,
        shift_label,
        department,
        minor,
        rows["major"].to_numpy(dtype=object)[pick],
        cat_dep,
        asset_name,
        asset_m,
        escalation,
        dup,
        sent,
        raw,
        local.array,
        roster_start,
        tuple(categories.names),
        duplicate_m,
        duplicate_h,
        location_problem,
        time_problem,
        time_assumed,
        case_rows,
        ticket,
        crewless & ~refused,
    )


def _batch_label(row: Any, i: int) -> str:
    """How ``duplicate_of`` names case ``i`` of a batch: ``row N`` for a spreadsheet's row (as the
    answers name it), else ``case N`` (its position, from 1)."""
    return f"row {int(row)}" if row is not None else f"case {i + 1}"


def _label_zh(label: str) -> str:
    """A ``duplicate_of`` label in Chinese: row 5 → 第 5 行, case 2 → 第 2 个案件, incident 17 → 案件 17."""
    kind, _, number = label.partition(" ")
    return {"row": f"第 {number} 行", "case": f"第 {number} 个案件", "incident": f"案件 {number}"}.get(
        kind, label
    )


def _per_case(values: Sequence[tuple[str, str] | None] | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-case problems as an object column, and where there is one."""
    out = np.full(n, None, dtype=object)
    if values is None:
        return out, np.zeros(n, dtype=bool)
    out[:] = list(values)
    return out, np.array([v is not None for v in out], dtype=bool)


def area_first(p: np.ndarray, b: np.ndarray, is_line: np.ndarray, n: int) -> np.ndarray:
    """Per point, the beat that takes it among its memberships (``p``, ``b``): the first area beat,
    else the first road beat, in the order given; -1 for a point in none. As ``first_per(p, n,
    arange, is_line[b])``, by a minimum per run where ``p`` comes sorted (as the coverage engine
    gives it)."""
    chosen = np.full(n, -1, dtype=np.int64)
    if len(p) == 0:
        return chosen
    step = p[1:] - p[:-1]
    if np.all(step > 0):  # each point in one beat at most
        chosen[p] = b
        return chosen
    if np.any(step < 0):
        first = first_per(p, n, np.arange(len(p)), is_line[b])
        chosen[first >= 0] = b[first[first >= 0]]
        return chosen
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    rank = np.minimum.reduceat(is_line[b] * len(p) + np.arange(len(p)), starts)
    chosen[p[starts]] = b[rank % len(p)]
    return chosen
