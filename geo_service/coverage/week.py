"""Beat coverage hour by hour through a week: which beats are on duty in each hour, and the gaps,
overlaps and per-district figures of each distinct set of beats on duty (computed once per set)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from geo_service.duty import TZ, Shift, on_duty
from geo_service.errors import InvalidInput

if TYPE_CHECKING:
    from geo_service.coverage import BeatCoverage

__all__ = ["WeekCoverage", "beat_coverage_week"]


@dataclass(frozen=True)
class WeekCoverage:
    """Hour by hour: ``hours`` (start, beats on duty all hour, beats on duty part of it, the index of
    their configuration); ``configurations`` (a :class:`BeatCoverage` per distinct set of beats on duty
    all hour, in order of first appearance; mismatched edges are not looked for: they are the layer's,
    not the hour's)."""

    start: dt.datetime
    hours: tuple[Mapping[str, Any], ...]
    configurations: tuple[tuple[frozenset[str], BeatCoverage], ...]

    def figures(self) -> list[dict[str, Any]]:
        """Per hour and district: covered, uncovered and double-covered m² by the beats on duty all hour."""
        out = []
        for h in self.hours:
            for f in self.configurations[h["configuration"]][1].figures:
                out.append({"hour": h["hour"], **f})
        return out


def _probes(hour: dt.datetime, shifts: Sequence[Shift]) -> list[dt.datetime]:
    """The hour's start and every shift start or end inside it."""
    inside = {m for s in shifts for m in (s.start, s.end) if hour.hour * 60 < m < hour.hour * 60 + 60}
    return [hour] + [
        hour.replace(minute=0) + dt.timedelta(minutes=m - hour.hour * 60) for m in sorted(inside)
    ]


def beat_coverage_week(
    beats: gpd.GeoDataFrame,
    shifts: Sequence[Shift],
    districts: gpd.GeoDataFrame,
    *,
    start: dt.date | dt.datetime,
    hours: int = 168,
    min_gap_m2: float = 100.0,
    crs: str = "EPSG:4547",
) -> WeekCoverage:
    """Coverage for each hour from ``start`` (a date means its midnight, Asia/Shanghai), 168 hours by
    default. A beat counts for an hour when it is on duty throughout it; beats on duty for part of the
    hour (a shift starting at 14:30) are listed as ``partly``. Holidays and adjusted working days follow
    the Chinese calendar, as the shifts' day kinds say."""
    from geo_service.coverage import beat_coverage

    if not 1 <= hours <= 24 * 31:
        raise InvalidInput("小时数应在 1 到 744 之间", "The number of hours must be 1 to 744", field="hours")
    if not isinstance(start, dt.datetime):
        start = dt.datetime.combine(start, dt.time(0), tzinfo=TZ)
    elif start.tzinfo is None:
        start = start.replace(tzinfo=TZ)
    start = start.astimezone(TZ).replace(minute=0, second=0, microsecond=0)
    configs: dict[frozenset[str], int] = {}
    rows = []
    for k in range(hours):
        hour = start + dt.timedelta(hours=k)
        sets = [frozenset(s.beat for s in on_duty(shifts, p)) for p in _probes(hour, shifts)]
        whole = frozenset.intersection(*sets)
        partly = frozenset.union(*sets) - whole
        idx = configs.setdefault(whole, len(configs))
        rows.append(
            {
                "hour": hour.isoformat(),
                "on_duty": sorted(whole),
                "partly": sorted(partly),
                "configuration": idx,
            }
        )
    # mismatched edges are the layer's drawing, not the hour's (see ``/coverage/beats``): not looked for
    computed = tuple(
        (
            codes,
            beat_coverage(
                beats, shifts, districts, only=codes, min_gap_m2=min_gap_m2, crs=crs, mismatches=()
            ),
        )
        for codes in configs
    )
    return WeekCoverage(start, tuple(rows), computed)
