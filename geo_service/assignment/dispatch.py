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
from scipy.spatial import cKDTree

from geo_service.coverage import BeatIndex, assign_points_to_beats
from geo_service.crs import to_metric
from geo_service.duty import Shift, _applies
from geo_service.network import RoadNetwork, network_distances, snap

__all__ = ["CaseAssignment", "Categories", "dispatch", "workload"]

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


def _on_duty_matrix(shifts: Sequence[Shift], beats_of_case: list[list[str]], when: Sequence[dt.datetime]
                    ) -> list[list[Shift]]:
    """Shifts running at each case's time among its beats: dates grouped, minutes compared in numpy."""
    local = [w.astimezone(TZ) for w in when]
    minutes = np.array([t.hour * 60 + t.minute for t in local])
    days = np.array([t.date() for t in local])
    out: list[list[Shift]] = [[] for _ in local]
    for day in np.unique(days):
        rows = np.flatnonzero(days == day)
        prev = day - dt.timedelta(days=1)
        for s in shifts:
            today, yesterday = _applies(s, day), _applies(s, prev)
            if not (today or yesterday):
                continue
            m = minutes[rows]
            if s.end > s.start:
                active = today & (m >= s.start) & (m < s.end)
            else:
                active = (today & (m >= s.start)) | (yesterday & (m < s.end))
            for r in rows[np.asarray(active, dtype=bool)]:
                if s.beat in beats_of_case[r]:
                    out[r].append(s)
    return out


def dispatch(cases: gpd.GeoDataFrame, *, beats: BeatIndex, shifts: Sequence[Shift], categories: Categories,
             districts: gpd.GeoDataFrame, assets: gpd.GeoDataFrame | None = None, open_cases: gpd.GeoDataFrame | None = None,
             network: RoadNetwork | None = None, depots: gpd.GeoDataFrame | None = None,
             crews: pd.DataFrame | None = None, now: dt.datetime | None = None, duplicate_m: float = 50.0,
             duplicate_h: float = 24.0, crs: str = "EPSG:4547") -> list[CaseAssignment]:
    """Assign every case (rows with ``category``, ``reported_at``, point geometry in EPSG:4326).

    A case that cannot be assigned (unknown category, a time in the future or before any roster) gets
    ``ok=False`` with an error naming why; the others are answered.
    """
    now = now or dt.datetime.now(TZ)
    n = len(cases)
    pm = to_metric(cases.geometry.to_numpy(), crs)
    when = [pd.Timestamp(t).to_pydatetime() if not isinstance(t, dt.datetime) else t for t in cases["reported_at"]]
    when = [t if t.tzinfo else t.replace(tzinfo=TZ) for t in when]
    roster_start = min((s.valid_from for s in shifts if s.valid_from), default=None)
    p, b = assign_points_to_beats(pm, beats)
    beats_of: list[list[int]] = [[] for _ in range(n)]
    for i, k in zip(p, b, strict=True):
        beats_of[int(i)].append(int(k))
    codes_of = [[str(beats.codes[k]) for k in ks] for ks in beats_of]
    running = _on_duty_matrix(shifts, codes_of, when)
    dgeoms = to_metric(districts.geometry.to_numpy(), crs)
    dtree = shapely.STRtree(dgeoms)
    dp, dd = dtree.query(pm, predicate="intersects")
    district = np.full(n, None, dtype=object)
    district[dp] = districts["name"].to_numpy(dtype=object)[dd]
    asset_hit = _assets(pm, assets, crs)
    dup = _duplicates(pm, cases["category"].to_numpy(dtype=object), when, open_cases, crs, duplicate_m, duplicate_h)
    crew_of = _nearest_crews(pm, network, depots, crews, crs)
    out = []
    for i in range(n):
        cat = categories.lookup(str(cases["category"].iloc[i]))
        if cat is None:
            out.append(_error(i, "unknown-category", f"类别「{cases['category'].iloc[i]}」不在权责清单中（可用：{'、'.join(categories.names)}）",
                              f"Category '{cases['category'].iloc[i]}' is not in the table ({', '.join(categories.names)})"))
            continue
        if when[i] > now + dt.timedelta(minutes=5):
            out.append(_error(i, "future", f"上报时间 {when[i].isoformat()} 晚于当前时间", f"Reported at {when[i].isoformat()}, "
                              "which is in the future"))
            continue
        if roster_start and when[i].astimezone(TZ).date() < roster_start:
            out.append(_error(i, "before-roster", f"上报时间早于排班起始日 {roster_start}",
                              f"Reported before the roster starts ({roster_start})"))
            continue
        reasons = []
        department = cat["department"]
        reasons.append(f"类别 {cat['major']}/{cat['minor']} 由{department}负责 / category → {department}")
        if cat.get("asset_layer") and asset_hit[i] is not None and asset_hit[i]["distance"] <= float(cat.get("asset_within_m") or 0):
            a = asset_hit[i]
            department = a["owner"] or department
            reasons.append(f"位于{a['name']}（{a['distance']:.0f} 米内），按资产归属由{department}处理 / on an asset: its owner")
        area_beats = [k for k in beats_of[i] if not beats.is_line[k]]
        chosen = (area_beats or beats_of[i] or [None])[0]
        beat = None if chosen is None else str(beats.codes[chosen])
        squad = None
        escalation = None
        duty = [s for s in running[i] if s.beat == beat] or running[i]
        if beat is None:
            escalation = f"{district[i] or '市'}值班室"
            reasons.append(f"不在任何网格内，转{escalation} / in no beat: escalated to the district duty office")
        elif not duty:
            escalation = f"{district[i] or beats.districts[chosen]}值班室"
            reasons.append(f"网格 {beat} 此时无人值班，转{escalation} / nobody on duty: escalated")
        else:
            beat, squad = duty[0].beat, duty[0].squad
            reasons.append(f"网格 {beat} 由{squad}值班（{duty[0].label()}）/ squad on duty")
        if dup[i] is not None:
            reasons.append(f"疑似重复：{duplicate_m:.0f} 米、{duplicate_h:.0f} 小时内已有同类案件 {dup[i]} / probable duplicate")
        if crew_of[i] is not None:
            reasons.append(f"最近班组 {crew_of[i]['crew']}（约 {crew_of[i]['minutes']:.0f} 分钟）/ nearest crew")
        out.append(CaseAssignment(i, True, beat, squad, department, cat["minor"], cat["major"], crew_of[i], escalation,
                                  dup[i], tuple(reasons)))
    return out


def _error(i: int, code: str, zh: str, en: str) -> CaseAssignment:
    return CaseAssignment(i, False, None, None, None, None, None, None, None, None, (),
                          {"code": code, "detail_zh": zh, "detail_en": en})


def _assets(pm: np.ndarray, assets: gpd.GeoDataFrame | None, crs: str) -> list[dict[str, Any] | None]:
    out: list[dict[str, Any] | None] = [None] * len(pm)
    if assets is None or len(assets) == 0:
        return out
    ag = to_metric(assets.geometry.to_numpy(), crs)
    idx, dist = shapely.STRtree(ag).query_nearest(pm, return_distance=True, all_matches=False, max_distance=200)
    for i, k, d in zip(idx[0], idx[1], dist, strict=True):
        out[int(i)] = {"name": assets["name"].iloc[k], "owner": assets["owner"].iloc[k] if "owner" in assets else None,
                       "distance": float(d), "id": int(assets.index[k])}
    return out


def _duplicates(pm: np.ndarray, cats: np.ndarray, when: list[dt.datetime], open_cases: gpd.GeoDataFrame | None,
                crs: str, dist_m: float, hours: float) -> list[str | None]:
    """For each case, the id of an earlier case of the same category within dist_m and hours (batch or open)."""
    xy = shapely.get_coordinates(pm)
    t = np.array([w.timestamp() for w in when])
    labels = [f"row {i + 1}" for i in range(len(pm))]
    if open_cases is not None and len(open_cases):
        oxy = shapely.get_coordinates(to_metric(open_cases.geometry.to_numpy(), crs))
        xy = np.vstack([xy, oxy])
        cats = np.concatenate([cats, open_cases["category"].to_numpy(dtype=object)])
        t = np.concatenate([t, np.array([pd.Timestamp(x).timestamp() for x in open_cases["reported_at"]])])
        labels += [f"incident {int(f)}" for f in open_cases.index]
    out: list[str | None] = [None] * len(pm)
    if len(xy) < 2:
        return out
    pairs = cKDTree(xy).query_pairs(dist_m, output_type="ndarray")
    for a, b in pairs:
        for x, y in ((a, b), (b, a)):
            if x < len(pm) and cats[x] == cats[y] and 0 < t[x] - t[y] <= hours * 3600 and out[x] is None:
                out[x] = labels[y]
    return out


def _nearest_crews(pm: np.ndarray, network: RoadNetwork | None, depots: gpd.GeoDataFrame | None,
                   crews: pd.DataFrame | None, crs: str) -> list[dict[str, Any] | None]:
    if network is None or depots is None or crews is None or len(crews) == 0 or len(pm) == 0:
        return [None] * len(pm)
    by_depot = {name: group for name, group in crews.groupby("depot")}
    names = [n for n in depots["name"] if n in by_depot]
    if not names:
        return [None] * len(pm)
    dg = to_metric(depots.set_index("name").loc[names].geometry.to_numpy(), crs)
    cost = network_distances(network, snap(network, dg, max_distance=500), snap(network, pm, max_distance=500))
    out: list[dict[str, Any] | None] = []
    for i in range(len(pm)):
        k = int(np.argmin(cost[:, i]))
        if not np.isfinite(cost[k, i]):
            out.append(None)
            continue
        crew = by_depot[names[k]].iloc[0]
        out.append({"crew": crew["crew"], "depot": names[k], "minutes": round(float(cost[k, i]) / 60, 1)})
    return out


def workload(cases: gpd.GeoDataFrame, *, beats: BeatIndex, shifts: Sequence[Shift], crs: str = "EPSG:4547"
             ) -> dict[str, Any]:
    """Cases per squad and per beat, and cases per hour of day against beats on duty in that hour."""
    pm = to_metric(cases.geometry.to_numpy(), crs)
    p, b = assign_points_to_beats(pm, beats)
    first = pd.Series(b, index=p).groupby(level=0).first()
    beat = pd.Series([None] * len(cases), dtype=object)
    beat.iloc[first.index] = beats.codes[first.to_numpy()]
    squad_of = dict(zip(beats.codes, beats.squads, strict=True))
    squad = beat.map(squad_of)
    hours = pd.Series([pd.Timestamp(t).tz_convert(TZ).hour if pd.Timestamp(t).tzinfo else pd.Timestamp(t).hour
                       for t in cases["reported_at"]])
    per_hour = hours.value_counts().reindex(range(24), fill_value=0)
    monday = dt.datetime(2026, 11, 30, tzinfo=TZ)  # a plain working Monday for the weekly profile
    duty_hour = [len({s.beat for s in shifts if _applies(s, monday.date()) and (
        s.start <= h * 60 < (s.end if s.end > s.start else 1440))}) for h in range(24)]
    return {"cases": len(cases),
            "by_squad": squad.fillna("（无网格）").value_counts().to_dict(),
            "by_beat": beat.fillna("（无网格）").value_counts().to_dict(),
            "by_hour": [{"hour": h, "cases": int(per_hour[h]), "beats_on_duty": duty_hour[h]} for h in range(24)]}
