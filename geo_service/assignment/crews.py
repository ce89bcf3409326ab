"""The nearest available crew for each case, by driving time from its depot.

Whether a crew may be sent is read from the crews layer at the time each case came in:
``out_of_service`` (停用) and ``off_duty`` (休班) crews are never sent; a ``busy`` (忙碌) crew is sent
only to cases reported at or after its ``busy_until`` (never, without one); an ``available`` (可派)
crew with a ``busy_until`` is busy until then. A crew layer without these fields has every crew
available. The ``busy_until`` values cut time into at most crews + 1 spans with the same free crews;
the cases of each span are answered by one search out of the depots that have a free crew
(``reach.nearest_sites``, from the depots out: one-way streets matter), and within a depot the first
free crew listed goes. Where a nearer depot was passed over because none of its crews could go, the
answer says which.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.crs import to_metric
from geo_service.duty import TZ
from geo_service.network import RoadNetwork, Snap, snap_xy
from geo_service.reach import NearestSites, nearest_sites

__all__ = ["STATUSES", "CrewChoice", "free_from", "nearest_available_crews"]

STATUSES = ("available", "busy", "off_duty", "out_of_service")
NEVER_SENT = ("off_duty", "out_of_service")
SNAP_M = 500.0  # a case further than this from every drivable street is reached by no crew
_TIE_S = 1e-6  # seconds of driving: depots nearer by less are as near


@dataclass(frozen=True)
class CrewChoice:
    """Per case: the crew sent, its depot and driving minutes (None/NaN where no free crew reaches the
    case), the nearer depot passed over because none of its crews could go (None otherwise), and
    whether no crew at all was free at the case's time."""

    crew: np.ndarray
    depot: np.ndarray
    minutes: np.ndarray
    passed_over: np.ndarray
    none_free: np.ndarray
    off_road: np.ndarray  # per case: no drivable street within SNAP_M, so no crew can be suggested

    @classmethod
    def empty(cls, n: int) -> CrewChoice:
        none = np.full(n, None, dtype=object)
        return cls(
            none,
            none.copy(),
            np.full(n, np.nan),
            none.copy(),
            np.zeros(n, dtype=bool),
            np.zeros(n, dtype=bool),
        )


def free_from(crews: pd.DataFrame) -> np.ndarray:
    """Seconds since the epoch (UTC) from which each crew may be sent: ``-inf`` for a crew free now
    and from any time, ``inf`` for one never sent."""
    n = len(crews)
    out = np.full(n, -np.inf)
    status = (
        crews["status"].fillna("available").to_numpy(dtype=object)
        if "status" in crews
        else np.full(n, "available", dtype=object)
    )
    if "busy_until" in crews and crews["busy_until"].notna().any():
        until = crews["busy_until"].reset_index(drop=True)
        known = until.notna().to_numpy()
        # row by row (a crews layer is short): nanosecond arrays wrap outside the years 1677-2262
        out[known] = [_seconds(v) for v in until[known]]
    busy_for_good = (status == "busy") & ~np.isfinite(out)
    out[busy_for_good | np.isin(status, NEVER_SENT)] = np.inf
    return out


def _seconds(value: object) -> float:
    """Seconds since the epoch of a time (``-inf`` for an empty one); a time without a zone is Beijing
    time."""
    t = pd.Timestamp(value)
    if t is pd.NaT:
        return -np.inf
    return (t.tz_localize(TZ) if t.tzinfo is None else t).timestamp()


def nearest_available_crews(
    xy: np.ndarray,
    stamp: np.ndarray,
    network: RoadNetwork | None,
    depots: gpd.GeoDataFrame | None,
    crews: pd.DataFrame | None,
    crs: str,
) -> CrewChoice:
    """The crew to send to each case (metric points ``xy``, reported at ``stamp`` seconds since the
    epoch, UTC): see the module's description."""
    n = len(xy)
    out = CrewChoice.empty(n)
    if network is None or depots is None or crews is None or len(crews) == 0 or n == 0:
        return out
    crews = crews.reset_index(drop=True)
    free = free_from(crews)
    # spans of time with the same free crews: a crew is free in span e when its rank is at most e. E.g.
    # free from (-inf, 10:00, 12:00, 10:00, inf): cuts (10:00, 12:00), ranks (0, 1, 2, 1, 3); a case at
    # 09:00 is in span 0 (the first crew free), at 10:00 or 11:00 in span 1 (and the second and fourth),
    # from 12:00 on in span 2 (all but the last, never sent)
    cuts = np.unique(free[np.isfinite(free)])
    rank = np.where(free == -np.inf, 0, np.searchsorted(cuts, free, side="left") + 1)
    rank = np.where(free == np.inf, len(cuts) + 1, rank)
    span = np.searchsorted(cuts, stamp, side="right")
    names = depots["name"].to_numpy(dtype=object)
    depot_xy = to_metric(depots.geometry.to_numpy(), crs)
    crew_depot = crews["depot"].to_numpy(dtype=object)
    crew_name = crews["crew"].to_numpy(dtype=object)
    case_snap = snap_xy(network, xy, max_distance=SNAP_M)
    out.off_road[:] = case_snap.segment < 0
    fields: dict[tuple[int, ...], NearestSites] = {}

    def field(chosen: np.ndarray) -> NearestSites:
        key = tuple(np.flatnonzero(chosen).tolist())
        if key not in fields:
            fields[key] = nearest_sites(network, depot_xy[chosen], max_snap_m=SNAP_M, from_sites=True)
        return fields[key]

    crewed = np.isin(names, crew_depot)
    for e in np.unique(span):
        cases = np.flatnonzero(span == e)
        free_now = rank <= e
        first = pd.Series(crew_name[free_now]).groupby(crew_depot[free_now], sort=False).first()
        staffed = np.isin(names, first.index)
        if not staffed.any():
            out.none_free[cases] = True
            continue
        part = Snap(case_snap.segment[cases], case_snap.offset[cases], case_snap.distance[cases])
        cost, k = field(staffed).query(part)
        hit = k >= 0
        at = cases[hit]
        chosen = names[staffed][k[hit]]
        out.depot[at] = chosen
        out.crew[at] = first.reindex(chosen).to_numpy(dtype=object)
        out.minutes[at] = np.round(cost[hit] / 60, 1)
        if (staffed != crewed).any():  # a depot with crews, none free now: was it the nearer?
            cost_all, k_all = field(crewed).query(
                Snap(part.segment[hit], part.offset[hit], part.distance[hit])
            )
            # passed over only where strictly nearer: a depot as near as the chosen one was not passed
            nearer = (k_all >= 0) & (cost_all < cost[hit] - _TIE_S)
            out.passed_over[at[nearer]] = names[crewed][k_all[nearer]]
    return out
