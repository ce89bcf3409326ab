"""Coverage: who covers a place at an hour, gaps and overlaps of the beat layer, duty coverage of
sites, walking coverage of demand, what-if.

Pure functions over frames of the declared layers (EPSG:4326) and a road network; geometry work in
the metric CRS. No HTTP, no SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo_service.coverage.membership import BeatIndex, assign_points_to_beats
from geo_service.coverage.offices import CITY_OFFICE, district_shapes, duty_offices
from geo_service.coverage.season import site_season
from geo_service.coverage.week import WeekCoverage, beat_coverage_week
from geo_service.crs import from_metric, to_metric, transformer
from geo_service.duty import (
    TZ,
    Shift,
    calendar_note_pairs,
    next_shift,
    on_duty,
    open_windows,
)
from geo_service.errors import InvalidInput
from geo_service.geometry import polygonal
from geo_service.lazy import cached_property
from geo_service.network import RoadNetwork, Snap, snap
from geo_service.reach import NearestSites, nearest_sites, service_areas

__all__ = [
    "BeatCoverage",
    "BeatIndex",
    "SiteReach",
    "WalkingCoverage",
    "WeekCoverage",
    "WhoCovers",
    "assign_points_to_beats",
    "beat_coverage",
    "beat_coverage_week",
    "site_duty_coverage",
    "walking_coverage",
    "what_if",
    "who_covers",
]


@dataclass(frozen=True)
class WhoCovers:
    """The answer to "who covers this place at this moment"."""

    at: dt.datetime
    district: str | None
    beats: tuple[Mapping[str, Any], ...]
    on_duty: tuple[Mapping[str, Any], ...]
    next_shift: Mapping[str, Any] | None
    nearest: Mapping[str, Mapping[str, Any] | None]
    reasons: tuple[str, ...] = field(default_factory=tuple)  # each "中文 / English"
    reasons_zh: tuple[str, ...] = field(default_factory=tuple)  # the same, one language (for pages)
    reasons_en: tuple[str, ...] = field(default_factory=tuple)
    # the duty office a case here goes to when no squad takes it (as dispatch escalates), or None
    escalation: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "district": self.district,
            "beats": list(self.beats),
            "on_duty": list(self.on_duty),
            "next_shift": self.next_shift,
            "escalation": self.escalation,
            "nearest": dict(self.nearest),
            "reasons": list(self.reasons),
            "reasons_zh": list(self.reasons_zh),
            "reasons_en": list(self.reasons_en),
        }


NEXT_SHIFT_DAYS = 92  # how far ahead who-covers looks for the next shift (a roster that starts next season)
WALK_SNAP_M = 300.0  # a site or a home further than this from every street is reached by no walk
AT_SITE_M = 1.0  # a place this near a site (or in it) is at it: 0 m on foot

T = TypeVar("T")


@dataclass(frozen=True)
class SiteReach:
    """One site layer on the walking network: from any street node, the nearest site and the walk to it.

    Built once per version of the roads and the site layer; then a point's nearest site is a snap and
    a few array lookups.
    """

    ids: np.ndarray
    names: np.ndarray
    field: NearestSites
    seasons: tuple[Mapping[str, Any], ...] = ()  # per site: its dates (lunar and solar), if it has any
    shapes: np.ndarray | None = None  # the sites themselves (metric): a place within a metre of one is at it
    hours: tuple[str | None, ...] = ()  # per site: its opening hours (``07:00-22:00``), if the layer has them
    # each site's season as seen on a day, once asked (who-covers asks about the same few sites all day)
    # (``dataclasses.field``: ``field`` is the reach, above)
    _seen: dict[tuple[int, dt.date], dict[str, Any]] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )
    # each site's opening windows of a day (POSIX seconds), once asked; None when its hours do not read
    _open: dict[tuple[int, dt.date], tuple[tuple[float, float], ...] | None] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def _daily(self, kept: dict[tuple[int, dt.date], T], k: int, day: dt.date, make: Callable[[], T]) -> T:
        """What ``make`` says of site ``k`` on ``day``, kept in ``kept`` once asked."""
        if (k, day) not in kept:
            if len(kept) > 4 * len(self.ids) + 64:  # (days go by: the old ones are let go)
                kept.clear()
            kept[k, day] = make()
        return kept[k, day]

    def season(self, k: int, day: dt.date) -> dict[str, Any]:
        """:func:`site_season` of site ``k`` on ``day``, worked out once per site and day (a copy)."""
        seen = self._daily(self._seen, k, day, lambda: site_season(self.seasons[k], day=day))
        return dict(seen)

    def open_at(self, k: int, at: dt.datetime) -> bool | None:
        """Whether site ``k`` is open in the minute from ``at`` (in season, if it has dates, and within
        its hours, a night past midnight too), as :func:`open_windows` says of that minute; from the
        site's windows of the day, worked out once per site and day. None: its hours do not read
        (stored before they were checked)."""
        day = at.astimezone(TZ).date()
        windows = self._daily(self._open, k, day, lambda: self._windows(k, day))
        if windows is None:
            return None
        t = at.timestamp()
        return any(a < t + 60.0 and t < b for a, b in windows)

    def _windows(self, k: int, day: dt.date) -> tuple[tuple[float, float], ...] | None:
        """Site ``k``'s open windows on ``day`` and a minute more (a minute asked from 23:59:30 runs into
        the next day), in POSIX seconds; None when its hours do not read."""
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=TZ)
        timetable = {**(self.seasons[k] if self.seasons else {}), "hours": self.hours[k]}
        try:
            found = open_windows(timetable, midnight, midnight + dt.timedelta(days=1, minutes=1))
        except InvalidInput:
            return None
        return tuple((a.timestamp(), b.timestamp()) for a, b in found)

    @cached_property
    def _boxes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each site's bounds widened by :data:`AT_SITE_M`: min x, min y, max x, max y."""
        bounds = shapely.bounds(self.shapes).reshape(-1, 4)
        return (
            bounds[:, 0] - AT_SITE_M,
            bounds[:, 1] - AT_SITE_M,
            bounds[:, 2] + AT_SITE_M,
            bounds[:, 3] + AT_SITE_M,
        )

    def at_site(self, point_m: shapely.Point) -> int | None:
        """The site a metric point lies in or within :data:`AT_SITE_M` of (the nearest, when several), or
        None. (The sites' bounds are compared first, in numpy: one place asked about is near few sites,
        and this is cheaper than a tree query for the few hundred a layer has.)"""
        if self.shapes is None or not len(self.shapes):
            return None
        x0, y0, x1, y1 = self._boxes
        x, y = shapely.get_coordinates(point_m)[0]
        near = np.flatnonzero((x0 <= x) & (x <= x1) & (y0 <= y) & (y <= y1))
        if not len(near):
            return None
        distance = shapely.distance(self.shapes[near], point_m)
        within = distance <= AT_SITE_M
        return int(near[within][np.argmin(distance[within])]) if within.any() else None

    @classmethod
    def build(
        cls,
        network: RoadNetwork,
        sites: gpd.GeoDataFrame,
        *,
        crs: str = "EPSG:4547",
        max_snap_m: float = WALK_SNAP_M,
    ) -> SiteReach:
        shapes = to_metric(sites.geometry.to_numpy(), crs) if len(sites) else np.array([], dtype=object)
        anchors = shapely.point_on_surface(shapes) if len(sites) else shapes
        names = (
            sites["name"].to_numpy(dtype=object)
            if "name" in sites
            else np.full(len(sites), None, dtype=object)
        )
        dated = [c for c in ("lunar_from", "lunar_to", "valid_from", "valid_to") if c in sites]
        seasons = tuple(
            {k: v for k, v in row.items() if v is not None and not (isinstance(v, float) and v != v)}
            for row in sites[dated].astype(object).where(sites[dated].notna(), None).to_dict("records")
        )
        hours = (
            tuple(h if isinstance(h, str) and h.strip() else None for h in sites["hours"])
            if "hours" in sites
            else ()
        )
        field = nearest_sites(network, anchors, max_snap_m=max_snap_m)
        return cls(
            sites.index.to_numpy(),
            names,
            field,
            seasons if dated else (),
            np.asarray(shapes, dtype=object),
            hours,
        )

    def nearest(
        self,
        point_m: shapely.Point,
        *,
        snapped: Snap | None = None,
        max_snap_m: float = WALK_SNAP_M,
        at: dt.datetime | None = None,
    ) -> dict[str, Any] | None:
        """The nearest site on foot from a metric point (``snapped``: its snap to the same network, when
        the caller has it), or why there is none (``None``: the layer has no sites). A place within a
        site (or a metre of a point site) is at it: 0 m. With ``at``, a site that has dates says whether
        it is in season then, and from when to when (a festival point in December is named with the
        dates it opens in January; one whose dates are over, with the window it had): see
        :func:`site_season`."""
        if len(self.ids) == 0:
            return None
        inside = self.at_site(point_m)
        if inside is not None:  # the one it lies in (the nearest, when within a metre of several)
            k, cost = inside, 0.0
        else:
            where = snapped or snap(
                self.field.network, np.array([point_m], dtype=object), max_distance=max_snap_m
            )
            if where.segment[0] < 0:
                return {
                    "reason_zh": f"{max_snap_m:.0f} 米内没有可步行的道路",
                    "reason_en": f"No walkable street within {max_snap_m:.0f} m",
                }
            costs, site = self.field.query(where)
            if site[0] < 0:
                return {"reason_zh": "步行不可达", "reason_en": "Not reachable on foot"}
            k, cost = int(site[0]), float(costs[0])
        out = {"id": int(self.ids[k]), "name": self.names[k], "walk_m": round(cost, 1)}
        if at is not None and self.seasons and self.seasons[k]:
            out.update(self.season(k, at.astimezone(TZ).date()))
        if at is not None and self.hours:
            out["hours"] = self.hours[k]
            out["open_now"] = self.open_at(k, at)  # (None, unknown, for hours that do not read)
        return out


def _reach(
    network: RoadNetwork | None, sites: gpd.GeoDataFrame | SiteReach | None, crs: str
) -> SiteReach | None:
    if sites is None or network is None or isinstance(sites, SiteReach):
        return sites
    return SiteReach.build(network, sites, crs=crs)


def _district(x: float, y: float, beat_district: object, districts: gpd.GeoDataFrame, crs: str) -> str | None:
    """The district of a place (metric ``x``, ``y``), as its duty office is found (the same shapes, the
    same rule): the district holding it; on a border, the district of the beat that takes it when that
    is one of the districts meeting there (else the first of them); None outside every district."""
    names, shapes = district_shapes(districts, crs)  # (made once per frame)
    holding = np.flatnonzero(shapely.contains_xy(shapes, x, y))
    if len(holding):
        return names[holding[0]]
    meeting = [names[i] for i in np.flatnonzero(shapely.intersects_xy(shapes, x, y))]
    if not meeting:
        return None
    return str(beat_district) if beat_district in meeting else meeting[0]


def who_covers(
    lon: float,
    lat: float,
    at: dt.datetime,
    *,
    beats: BeatIndex,
    shifts: Sequence[Shift],
    districts: gpd.GeoDataFrame,
    network: RoadNetwork | None = None,
    stall_sites: gpd.GeoDataFrame | SiteReach | None = None,
    festival_points: gpd.GeoDataFrame | SiteReach | None = None,
    crs: str = "EPSG:4547",
) -> WhoCovers:
    """Beats containing the place (road beats within their reach), squads on duty at ``at``, the next
    shift if nobody is, the district, and the nearest stall site and festival point on foot.

    The site layers may come as frames, or as :class:`SiteReach` built once beforehand (what the
    service does: a request then costs a few array lookups, not a shortest-path search)."""
    x, y = transformer("EPSG:4326", crs).transform(lon, lat)
    pm = shapely.points([(x, y)])
    hit = beats.beats_at(x, y)
    codes = [str(beats.codes[b]) for b in hit]
    order = sorted(hit, key=lambda b: bool(beats.is_line[b]))  # stable: in the index's order
    beat_district = beats.districts[order[0]] if order else None  # of the beat that takes it
    district = _district(x, y, beat_district, districts, crs)
    running = on_duty([s for s in shifts if s.beat in codes], at)
    notes: list[tuple[str, str]] = []  # (zh, en)
    if district is None:
        notes.append(("该点不在任何行政区内", "the place is outside every district"))
    # the office a case here is escalated to, by dispatch's own rule: the district holding the place,
    # on a border (or outside every district) that of the beat that takes it (area beats first)
    escalation = None
    if not codes or not running:
        escalation = str(duty_offices(np.array([[x, y]]), [beat_district], districts, crs=crs)[0])
        # in English the kind of office only: its name (``escalation``) is Chinese, given beside the reasons
        office_en = "the city duty office" if escalation == CITY_OFFICE else "the district duty office"
    if not codes:
        notes.append(
            (f"该点不在任何网格内，请转{escalation}", f"no beat covers the place: escalate to {office_en}")
        )
    elif not running:
        notes.append(
            (
                f"此时网格无人值班，请转{escalation}",
                f"nobody is on duty in the beat at this time: escalate to {office_en}",
            )
        )
    day = at.astimezone(TZ).date()
    notes += calendar_note_pairs(day, day)
    nxt = None
    if codes and not running:
        options = [
            r
            for r in (next_shift(shifts, c, at, horizon_days=NEXT_SHIFT_DAYS) for c in codes)
            if r is not None
        ]
        if options:
            start, s = min(options, key=lambda r: r[0])
            nxt = {"beat": s.beat, "squad": s.squad, "starts": start.isoformat(), "shift": s.label()}
        else:
            notes.append(
                (
                    f"此后 {NEXT_SHIFT_DAYS} 天内网格没有排班",
                    f"the beat has no shift in the next {NEXT_SHIFT_DAYS} days",
                )
            )
    beat_rows = tuple(
        {
            "code": str(beats.codes[b]),
            "name": str(beats.names[b]),
            "squad": str(beats.squads[b]),
            "kind": "road" if beats.is_line[b] else "area",
            "on_duty": any(s.beat == beats.codes[b] for s in running),
        }
        for b in hit
    )
    duty = tuple({"beat": s.beat, "squad": s.squad, "shift": s.label()} for s in running)
    reaches = {
        "stall_site": _reach(network, stall_sites, crs),
        "festival_point": _reach(network, festival_points, crs),
    }
    where = snap(network, pm, max_distance=WALK_SNAP_M) if network is not None else None
    nearest = {
        k: None
        if r is None
        else r.nearest(pm[0], snapped=where if r.field.network is network else None, at=at)
        for k, r in reaches.items()
    }
    return WhoCovers(
        at,
        district,
        beat_rows,
        duty,
        nxt,
        nearest,
        tuple(f"{zh} / {en}" for zh, en in notes),
        tuple(zh for zh, _ in notes),
        tuple(en for _, en in notes),
        escalation,
    )


@dataclass(frozen=True)
class BeatCoverage:
    """Gaps, overlaps and mismatched edges of the beat layer (at one moment, or all beats)."""

    at: dt.datetime | None
    gaps: tuple[Mapping[str, Any], ...]  # district, geometry (4326), area_m2
    overlaps: tuple[Mapping[str, Any], ...]  # beats, geometry, area_m2
    mismatches: tuple[Mapping[str, Any], ...]  # beats, geometry of the sliver between neighbours
    figures: tuple[Mapping[str, Any], ...]  # per district: area, covered, uncovered, double_covered (m²)


def beat_coverage(
    beats: gpd.GeoDataFrame,
    shifts: Sequence[Shift],
    districts: gpd.GeoDataFrame,
    *,
    at: dt.datetime | None = None,
    min_gap_m2: float = 100.0,
    crs: str = "EPSG:4547",
    edge_tolerance_m: float = 5.0,
    only: Collection[str] | None = None,
    mismatches: Sequence[Mapping[str, Any]] | None = None,
) -> BeatCoverage:
    """Check the polygon beats as a whole; with ``at`` only beats with a shift running then count,
    with ``only`` only the beats of those codes. Mismatched edges are the layer's drawing, whoever is on
    duty (``mismatches``: as :func:`edge_mismatches` found them already)."""
    polys = beats[~beats.geom_type.isin(["LineString", "MultiLineString"])]
    if mismatches is None:
        mismatches = edge_mismatches(polys, crs=crs, tolerance_m=edge_tolerance_m)
    if at is not None:
        running = {s.beat for s in on_duty(shifts, at)}
        polys = polys[polys["code"].isin(running)]
    if only is not None:
        polys = polys[polys["code"].isin(list(only))]
    geoms = to_metric(polys.geometry.to_numpy(), crs)
    codes = polys["code"].to_numpy(dtype=object)
    dgeoms = to_metric(districts.geometry.to_numpy(), crs)
    overlaps = []
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    pair = a < b
    for i, j in zip(a[pair], b[pair], strict=True):
        # the area two beats share (where they only touch, an overlay leaves lines and points too)
        inter = polygonal(_cleaned(shapely.intersection(geoms[i], geoms[j])), min_area=_NOISE_M2)
        if inter is not None and inter.area >= 1.0:
            overlaps.append(
                {
                    "beats": [str(codes[i]), str(codes[j])],
                    "area_m2": round(float(inter.area), 1),
                    "geometry": from_metric(np.array([inter], dtype=object), crs)[0],
                }
            )
    covered = shapely.union_all(geoms) if len(geoms) else shapely.Polygon()
    gaps, figures = [], []
    overlap_union = (
        shapely.union_all(
            np.array(
                [shapely.intersection(geoms[i], geoms[j]) for i, j in zip(a[pair], b[pair], strict=True)],
                dtype=object,
            )
        )
        if pair.any()
        else shapely.Polygon()
    )
    for name, dg in zip(districts["name"], dgeoms, strict=True):
        hole = _cleaned(shapely.difference(dg, covered))
        parts = [
            p for p in shapely.get_parts(hole) if p.area >= max(min_gap_m2, _NOISE_M2)
        ]  # (not films of rounding)
        for p in parts:
            gaps.append(
                {
                    "district": str(name),
                    "area_m2": round(float(p.area), 1),
                    "geometry": from_metric(np.array([p], dtype=object), crs)[0],
                }
            )
        inside = shapely.intersection(dg, covered).area
        figures.append(
            {
                "district": str(name),
                "area_m2": round(float(dg.area), 1),
                "covered_m2": round(float(inside), 1),
                "uncovered_m2": round(float(dg.area - inside), 1),
                "double_covered_m2": round(float(shapely.intersection(dg, overlap_union).area), 1),
            }
        )
    return BeatCoverage(at, tuple(gaps), tuple(overlaps), tuple(mismatches), tuple(figures))


_NOISE_M2 = 0.01  # pieces smaller than this are rounding (two edges on one line meet in a film of 1e-9 m²)
_GRID_M = 0.001  # gaps and overlaps drawn to the millimetre


def _cleaned(geom: shapely.Geometry) -> shapely.Geometry:
    """An overlay's result to the millimetre: two edges along one line, a rounding apart, leave a spike
    of no width along it (a kilometre long on a 500 m² overlap), which this folds away."""
    return shapely.set_precision(geom, _GRID_M)


def edge_mismatches(
    beats: gpd.GeoDataFrame, *, crs: str = "EPSG:4547", tolerance_m: float = 5.0
) -> list[dict[str, Any]]:
    """Neighbouring polygon beats whose shared edge does not match: the slivers between two beats closer
    than ``tolerance_m`` (a strip of no-man's-land, covered by neither, nor by a third beat) or inside
    both (a strip covered twice), thinner than the tolerance and longer than four times it, at least
    1 m² in all. Where two edges meet exactly nothing is left but the little region round the end of
    their shared edge, which is short."""
    polys = beats[~beats.geom_type.isin(["LineString", "MultiLineString"])]
    geoms = to_metric(polys.geometry.to_numpy(), crs)
    if len(geoms) == 0:
        return []
    codes, tree, tol = polys["code"].to_numpy(dtype=object), shapely.STRtree(geoms), tolerance_m
    out = []
    near_a, near_b = tree.query(geoms, predicate="dwithin", distance=tol)
    keep = near_a < near_b
    for i, j in zip(near_a[keep], near_b[keep], strict=True):
        gi, gj = geoms[i], geoms[j]
        pair = shapely.union(gi, gj)
        near_both = shapely.intersection(shapely.buffer(gi, tol), shapely.buffer(gj, tol))
        between = shapely.intersection(shapely.difference(near_both, pair), shapely.convex_hull(pair))
        # what a third beat covers is no no-man's-land: at a T-junction (the corner two beats share lies
        # on a third's straight edge) the strip past the end of a shared edge lies in the other beat
        others = [k for k in tree.query(between) if k != i and k != j]
        if others:
            between = shapely.difference(between, shapely.union_all(geoms[others]))
        both = shapely.intersection(gi, gj)
        slivers = {
            kind: [
                p
                for p in shapely.get_parts(g)
                if p.area > _NOISE_M2 and p.length / 2 > 4 * tol and shapely.buffer(p, -tol / 2).is_empty
            ]
            for kind, g in (("gap", between), ("overlap", both))
        }
        slivers["gap"] = [p for p in slivers["gap"] if _between(p, gi, gj)]
        parts = slivers["gap"] + slivers["overlap"]
        area = float(sum(p.area for p in parts))
        if area < 1.0:
            continue
        out.append(
            {
                "beats": [str(codes[i]), str(codes[j])],
                "kind": "+".join(k for k in ("gap", "overlap") if slivers[k]),
                "area_m2": round(area, 1),
                "length_m": round(float(sum(p.length for p in parts)) / 2, 1),
                "geometry": from_metric(np.array([shapely.union_all(parts)], dtype=object), crs)[0],
            }
        )
    return out


def _between(part: shapely.Geometry, a: shapely.Geometry, b: shapely.Geometry) -> bool:
    """Whether ``part`` lies between ``a`` and ``b`` (they are on opposite sides of it, more than 120°
    apart as seen from inside it), not beside both (outside the end of an edge they share)."""
    p = shapely.point_on_surface(part)
    here = shapely.get_coordinates(p)[0]
    to_a = shapely.get_coordinates(shapely.shortest_line(p, a))[1] - here
    to_b = shapely.get_coordinates(shapely.shortest_line(p, b))[1] - here
    norm = float(np.hypot(*to_a) * np.hypot(*to_b))
    return norm > 0 and float(to_a @ to_b) < -0.5 * norm


def site_duty_coverage(
    sites: Mapping[str, gpd.GeoDataFrame],
    beats: BeatIndex,
    shifts: Sequence[Shift],
    *,
    start: dt.datetime,
    end: dt.datetime,
    crs: str = "EPSG:4547",
) -> list[dict[str, Any]]:
    """Every (site, hour) in [start, end) when the site is open but no beat containing it is on duty."""
    if end <= start:
        raise InvalidInput("时间窗的结束须晚于开始", "The time window must end after it starts", field="end")
    if end - start > dt.timedelta(days=92):
        raise InvalidInput("时间窗最长 92 天", "The time window may be at most 92 days", field="end")
    out = []
    # the beats on duty at each moment probed (shared by all sites): the start of each hour and every
    # shift change within it, so a shift ending at 11:30 leaves its sites uncovered in the 11:00 hour
    running_at: dict[dt.datetime, set[str]] = {}
    changes: dict[int, list[int]] = {}  # hour of day -> minutes past it at which some shift starts or ends
    for sh in shifts:
        for m in (sh.start, sh.end):
            if m % 60:
                changes.setdefault((m // 60) % 24, []).append(m % 60)
    changes = {h: sorted(set(ms)) for h, ms in changes.items()}

    def running(at: dt.datetime) -> set[str]:
        beats_then = running_at.get(at)
        if beats_then is None:
            beats_then = running_at[at] = {sh.beat for sh in on_duty(shifts, at)}
        return beats_then

    for layer, frame in sites.items():
        if len(frame) == 0:
            continue
        beats_of = _site_beats(to_metric(frame.geometry.to_numpy(), crs), beats)
        for i, (fid, row) in enumerate(frame.iterrows()):
            props = row.to_dict()
            for ws, we in open_windows(props, start, end):
                hour = ws.astimezone(TZ).replace(minute=0, second=0, microsecond=0)  # the roster's hours
                while hour < we:
                    probes = [max(hour, ws)] + [
                        t
                        for m in changes.get(hour.hour, ())
                        if ws <= (t := hour + dt.timedelta(minutes=m)) < we
                    ]
                    mine = beats_of.get(i, set())
                    if any(not (mine & running(t)) for t in probes):
                        out.append(
                            {
                                "layer": layer,
                                "id": int(fid),
                                "name": props.get("name"),
                                "hour": hour.isoformat(),
                                "beats": sorted(mine),
                                **(
                                    {"reason_zh": "不在任何网格内", "reason_en": "in no beat"}
                                    if not mine
                                    else {
                                        "reason_zh": "所在网格此时（或此小时内部分时间）无人值班",
                                        "reason_en": "nobody is on duty in its beats (for all or part of "
                                        "the hour)",
                                    }
                                ),
                            }
                        )
                    hour += dt.timedelta(hours=1)
    return out


def _site_beats(sites: np.ndarray, beats: BeatIndex) -> dict[int, set[str]]:
    """Per site (metric geometries), the codes of the beats it lies in: a point's, as for any place; a
    stall zone's, every polygon beat it shares ground with (at least 1 m²: not one it only touches) and
    every road beat within reach of it. A site over two beats is covered while either is on duty."""
    out: dict[int, set[str]] = {}
    points = np.flatnonzero(shapely.get_type_id(sites) == 0)
    p, b = assign_points_to_beats(sites[points], beats)
    for i, k in zip(points[p], b, strict=True):
        out.setdefault(int(i), set()).add(str(beats.codes[k]))
    areas = np.flatnonzero(shapely.get_type_id(sites) != 0)
    if len(areas) == 0:
        return out
    zones = sites[areas]
    s, k = beats.tree.query(zones, predicate="dwithin", distance=float(beats.reach.max(initial=0.0)))
    line = beats.is_line[k]
    near = shapely.distance(zones[s], beats.geoms[k]) <= beats.reach[k]
    shared = np.zeros(len(k), dtype=bool)
    ground = shapely.area(shapely.intersection(zones[s[~line]], beats.geoms[k[~line]]))
    shared[~line] = ground >= np.minimum(1.0, shapely.area(zones[s[~line]]) / 2)
    taken = (line & near) | shared
    for i, j in zip(areas[s[taken]], k[taken], strict=True):
        out.setdefault(int(i), set()).add(str(beats.codes[j]))
    return out


def _anchors(geoms: Any, crs: str) -> np.ndarray:
    """Where walks start from sites (any geometry, EPSG:4326): a point on each, in the metric CRS."""
    geoms = np.asarray(geoms, dtype=object)
    return shapely.point_on_surface(to_metric(geoms, crs)) if len(geoms) else np.array([], dtype=object)


@dataclass(frozen=True)
class WalkingCoverage:
    """Walking access of demand to sites."""

    max_walk_m: float
    total_population: int
    served_population: int
    served_share: float
    distance_m: np.ndarray  # per demand point, to the nearest site on foot (inf if beyond reach)
    clusters: tuple[Mapping[str, Any], ...]  # unserved demand grouped for a planner
    areas: Any  # ServiceAreas (metric)
    site_population: np.ndarray  # per site: the people it is the nearest site on foot for, within reach

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_walk_m": self.max_walk_m,
            "total_population": self.total_population,
            "served_population": self.served_population,
            "served_share": round(self.served_share, 4),
            "unserved_clusters": list(self.clusters),
        }


def _clusters(
    points_m: np.ndarray, weights: np.ndarray, *, radius_m: float, widest_m: float, crs: str
) -> list[dict[str, Any]]:
    """Unserved demand points in groups a planner can read: points within ``radius_m`` of each other
    chained together, and a chain wider than ``widest_m`` from its centre (a new site in its middle could
    not reach it all) cut in two, again and again, along its main spread. Each group with its people, its
    centre and its hull (``radius_m / 2`` around its points)."""
    placed = ~shapely.is_empty(points_m)  # a home without a place (an empty point) is in no group
    xy = np.column_stack([shapely.get_x(points_m[placed]), shapely.get_y(points_m[placed])]).reshape(-1, 2)
    weights = np.asarray(weights)[placed]
    if len(xy) == 0:
        return []
    pairs = cKDTree(xy).query_pairs(radius_m, output_type="ndarray")
    n = len(xy)
    graph = (
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        if len(pairs)
        else coo_matrix((n, n))
    )
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    chains = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    out = []
    for members in (group for chain in chains for group in _compact(xy, chain, widest_m)):
        hull = shapely.convex_hull(shapely.multipoints(xy[members])).buffer(radius_m / 2)
        centre = from_metric(np.array([shapely.Point(xy[members].mean(axis=0))], dtype=object), crs)[0]
        out.append(
            {
                "population": int(weights[members].sum()),
                "points": len(members),
                "centre": [round(centre.x, 6), round(centre.y, 6)],
                "geometry": from_metric(np.array([hull], dtype=object), crs)[0],
            }
        )
    return sorted(out, key=lambda c: -c["population"])


def _compact(xy: np.ndarray, members: np.ndarray, widest_m: float) -> list[np.ndarray]:
    """``members`` cut in two halves along their main spread (the principal axis) until no group
    reaches further than ``widest_m`` from its centre. The cut depends only on where the homes are, not
    on their order: the axis points its larger part east or north, and ties go by position."""
    done, todo = [], [members]
    while todo:
        group = todo.pop()
        pts = xy[group] - xy[group].mean(axis=0)
        if len(group) < 2 or np.max(np.hypot(pts[:, 0], pts[:, 1])) <= widest_m:
            done.append(group)
            continue
        axis = np.linalg.eigh(pts.T @ pts)[1][:, -1]
        big = int(np.argmax(np.abs(axis) + np.array([1e-12, 0.0])))  # east on a tie
        axis = axis if axis[big] > 0 else -axis
        order = np.lexsort((xy[group, 1], xy[group, 0], np.round(pts @ axis, 6)))
        half = len(group) // 2
        todo += [group[order[:half]], group[order[half:]]]
    return done


def walking_coverage(
    network: RoadNetwork,
    sites: gpd.GeoSeries | np.ndarray,
    demand: gpd.GeoDataFrame,
    *,
    max_walk_m: float = 500.0,
    cluster_radius_m: float = 350.0,
    with_areas: bool = True,
    crs: str = "EPSG:4547",
) -> WalkingCoverage:
    """Share of the population within ``max_walk_m`` on foot of a site; unserved demand in clusters."""
    if max_walk_m <= 0:
        raise InvalidInput("步行距离应大于 0", "The walking distance must be above 0", field="max_walk_m")
    anchors = _anchors(sites.to_numpy() if hasattr(sites, "to_numpy") else sites, crs)
    dm = to_metric(demand.geometry.to_numpy(), crs)
    pop = demand["population"].fillna(0).to_numpy(dtype=float)
    field = nearest_sites(network, anchors, max_snap_m=WALK_SNAP_M, limit=max_walk_m)
    dist, nearest = field.query(snap(network, dm, max_distance=WALK_SNAP_M))
    served = dist <= max_walk_m
    total = int(pop.sum())
    served_pop = int(pop[served].sum())
    by_site = np.bincount(nearest[served], weights=pop[served], minlength=len(anchors)).astype(np.int64)
    clusters = _clusters(
        dm[~served],
        pop[~served],
        radius_m=cluster_radius_m,
        widest_m=max_walk_m,
        crs=crs,
    )
    # (the polygons outlined as each range of sites is walked: the areas are asked for to be drawn)
    areas = (
        service_areas(network, anchors, max_cost=max_walk_m, polygons=True)
        if with_areas and len(anchors)
        else None
    )
    return WalkingCoverage(
        max_walk_m,
        total,
        served_pop,
        served_pop / total if total else 0.0,
        dist,
        tuple(clusters),
        areas,
        by_site,
    )


def what_if(
    network: RoadNetwork,
    sites: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    add: Sequence[shapely.Geometry] = (),
    remove: Sequence[int] = (),
    move: Mapping[int, shapely.Geometry] | None = None,
    max_walk_m: float = 500.0,
    crs: str = "EPSG:4547",
    districts: gpd.GeoDataFrame | None = None,
) -> dict[str, Any]:
    """The change in served population if sites were added, moved or removed (nothing is saved). New
    places outside every one of ``districts`` (when given, and not empty) are noted."""
    move = dict(move or {})
    for name, ids in (("remove", list(remove)), ("move", list(move))):
        unknown = [i for i in ids if i not in sites.index]
        if unknown:
            raise InvalidInput(
                f"没有编号为 {unknown[0]} 的开放站点", f"No open site with id {unknown[0]}", field=name
            )
    both = sorted(set(remove) & set(move))
    if both:
        raise InvalidInput(
            f"站点 {both[0]} 既要移动又要撤销，请只选一种",
            f"Site {both[0]} is both moved and removed; choose one",
            field="move",
        )
    # new places no walk can start from (no street as near as walking_coverage asks): they serve no one
    placed = _anchors([*add, *move.values()], crs)
    stranded = np.flatnonzero(snap(network, placed, max_distance=WALK_SNAP_M).segment < 0)
    moved_ids = list(move)
    unreachable = [
        {"add": int(i)} if i < len(add) else {"move": int(moved_ids[i - len(add)])} for i in stranded
    ]
    before = walking_coverage(
        network, sites.geometry, demand, max_walk_m=max_walk_m, with_areas=False, crs=crs
    )
    geoms = sites.geometry.copy()
    for fid, g in move.items():
        geoms.loc[fid] = g
    geoms = geoms.drop(index=list(remove))
    after_geoms = np.concatenate([geoms.to_numpy(), np.asarray(list(add), dtype=object)])
    after = walking_coverage(network, after_geoms, demand, max_walk_m=max_walk_m, with_areas=False, crs=crs)
    notices = []
    if unreachable:
        notices.append(
            f"以下新位置 {WALK_SNAP_M:g} 米内没有可步行的道路，不服务任何人 / these new places have no "
            f"walkable street within {WALK_SNAP_M:g} m and serve no one: "
            + ", ".join(f"{k} {v}" for u in unreachable for k, v in u.items())
        )
    if districts is not None and len(districts) and (add or move):
        labels = [f"add {i}" for i in range(len(add))] + [f"move {k}" for k in move]
        places = np.asarray([*add, *move.values()], dtype=object)
        inside = set(shapely.STRtree(districts.geometry.to_numpy()).query(places, predicate="intersects")[0])
        outside = [label for i, label in enumerate(labels) if i not in inside]
        if outside:
            names = ", ".join(outside)
            notices.append(
                f"以下新位置不在任何行政区内：{names} / these new places are outside every district: {names}"
            )
    return {
        "max_walk_m": max_walk_m,
        "before": before.served_population,
        "after": after.served_population,
        "change": after.served_population - before.served_population,
        "before_share": round(before.served_share, 4),
        "after_share": round(after.served_share, 4),
        "total_population": before.total_population,
        "unreachable_sites": unreachable,
        "notices": notices,
    }


def gdf(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Result rows with a ``geometry`` key as a GeoDataFrame (EPSG:4326)."""
    if not rows:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=4326)
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=4326)
