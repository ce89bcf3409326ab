"""The siting checker: every violation of a zone or point, with the geometry of the conflict.

``SitingContext.build`` indexes the context layers once (metric CRS, STRtrees per road class, POI
kind and restricted-area kind); ``check_site`` answers for one geometry in a few milliseconds.

Semantics (what the PostGIS oracle in ``tests/test_siting_postgis.py`` checks):

- a setback of ``d`` metres (roads, points, other sites) is broken when the zone comes *closer* than
  ``d`` to the feature (``ST_Distance < d``; zones exactly ``d`` away pass); the conflict geometry is
  the part of the zone inside the ``d`` buffer, or the zone's nearest point when the zone only grazes
  the buffer;
- an area restriction is broken when the interiors overlap (``ST_Relate(zone, area, 'T********')``;
  sharing an edge is not an overlap); the conflict geometry is ``ST_Intersection(zone, area)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping

from geo_service.crs import from_metric, to_metric
from geo_service.districts import DistrictIndex
from geo_service.duty import festival_dates, parse_hours
from geo_service.errors import InvalidInput
from geo_service.siting.rules import Rule, RuleSet

__all__ = [
    "DISTRICT_RULE",
    "SITE_LAYERS",
    "SitingContext",
    "SitingReport",
    "Violation",
    "batch_spacing",
    "check_all",
    "check_site",
]

SITE_LAYERS = ("stall_sites", "festival_sales_points")
#: the id under which a site that does not lie in its district is reported (not a rule of the file: the
#: write path refuses such a site whatever is overridden, see ``geo_service.write_checks``)
DISTRICT_RULE = "district"
_KIND_ZH = {
    "blind_path": "盲道",
    "green_belt": "绿化带",
    "parking": "停车位",
    "fire_lane": "消防通道",
    "carriageway": "车行道",
}
_CHECK_RADIUS = 200.0  # no road within this distance: road rules cannot be checked
_QUAD_SEGS = 16  # buffer resolution for the drawn conflict (the decision itself uses exact distances)


@dataclass(frozen=True)
class Violation:
    """One broken rule: what, why (zh/en), on whose authority, and where (EPSG:4326, may be None)."""

    rule_id: str
    severity: str
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str
    source: str
    geometry: shapely.Geometry | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (GeoJSON geometry or None)."""
        return {
            "rule": self.rule_id,
            "severity": self.severity,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "source": self.source,
            "geometry": None if self.geometry is None or self.geometry.is_empty else mapping(self.geometry),
        }


@dataclass(frozen=True)
class SitingReport:
    """The answer for one zone: violations, rules that could not be checked (with reasons), rules run."""

    layer: str
    violations: tuple[Violation, ...]
    unchecked: tuple[Mapping[str, str], ...] = ()
    rules_checked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True only when nothing is broken and nothing was left unchecked."""
        return not self.violations and not self.unchecked

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form; see ``geo_service.siting.report`` for GeoJSON."""
        return {
            "layer": self.layer,
            "ok": self.ok,
            "violations": [v.as_dict() for v in self.violations],
            "unchecked": list(self.unchecked),
            "rules_checked": list(self.rules_checked),
        }


@dataclass(frozen=True)
class _Group:
    geoms: np.ndarray
    tree: shapely.STRtree
    labels: np.ndarray
    ids: np.ndarray


def _group(frame: gpd.GeoDataFrame, crs: str, label: str | None = None) -> _Group:
    geoms = to_metric(frame.geometry.to_numpy(), crs) if len(frame) else np.array([], dtype=object)
    labels = frame[label].to_numpy(dtype=object) if label and label in frame else np.full(len(frame), None)
    return _Group(geoms, shapely.STRtree(geoms), labels, frame.index.to_numpy())


def _by(frame: gpd.GeoDataFrame, column: str, crs: str) -> dict[str, _Group]:
    if not len(frame):
        return {}
    return {k: _group(frame[frame[column] == k], crs, "name") for k in frame[column].dropna().unique()}


@dataclass(frozen=True)
class SitingContext:
    """Indexed context layers in the metric CRS, built once per version of the layers it reads."""

    rules: RuleSet
    crs: str
    roads: Mapping[str, _Group]
    pois: Mapping[str, _Group]
    areas: Mapping[str, _Group]
    sites: Mapping[str, _Group]
    all_roads: _Group
    districts: DistrictIndex | None = None

    @classmethod
    def build(
        cls, frames: Mapping[str, gpd.GeoDataFrame], rules: RuleSet, *, crs: str = "EPSG:4547"
    ) -> SitingContext:
        """Index ``roads``, ``pois``, ``restricted_areas`` and the site layers (EPSG:4326 frames).

        Parameters
        ----------
        frames
            Layer name → GeoDataFrame, index = feature id.
        rules
            The rule set (from ``load_rules``).
        crs
            The metric CRS of the workspace.
        """
        roads, pois, areas = frames["roads"], frames["pois"], frames["restricted_areas"]
        return cls(
            rules=rules,
            crs=crs,
            roads=_by(roads, "road_class", crs),
            pois=_by(pois, "kind", crs),
            areas=_by(areas, "kind", crs),
            sites={n: _group(frames[n], crs, "name") for n in SITE_LAYERS if n in frames},
            all_roads=_group(roads, crs, "name"),
            districts=DistrictIndex.build(frames["districts"], crs=crs) if "districts" in frames else None,
        )

    def with_sites(self, frames: Mapping[str, gpd.GeoDataFrame]) -> SitingContext:
        """The same context with the site layers re-indexed (cheap: a write to a site layer needs only this)."""
        return replace(
            self, sites={n: _group(frames[n], self.crs, "name") for n in SITE_LAYERS if n in frames}
        )


def _closer(group: _Group | None, zone: shapely.Geometry, distance: float) -> np.ndarray:
    """Indices of the group's features strictly closer than ``distance`` to the zone."""
    if group is None or len(group.geoms) == 0:
        return np.array([], dtype=np.int64)
    idx = group.tree.query(zone, predicate="dwithin", distance=distance)
    return idx[shapely.distance(zone, group.geoms[idx]) < distance]


def _overlapping(group: _Group | None, zone: shapely.Geometry) -> np.ndarray:
    """Indices of the group's features whose interior the zone enters."""
    if group is None or len(group.geoms) == 0:
        return np.array([], dtype=np.int64)
    idx = group.tree.query(zone, predicate="intersects")
    return idx[shapely.relate_pattern(zone, group.geoms[idx], "T********")]


def _inside_buffer(zone: shapely.Geometry, others: np.ndarray, d: float) -> shapely.Geometry:
    """The part of the zone closer than ``d`` to ``others`` (its nearest point if it only grazes)."""
    conflict = shapely.intersection(zone, shapely.union_all(shapely.buffer(others, d, quad_segs=_QUAD_SEGS)))
    polygonal = shapely.get_dimensions(zone) == 2
    if conflict.is_empty or (polygonal and conflict.area == 0):
        # within d by exact distance but outside the polygonal buffer's chords
        lines = shapely.shortest_line(zone, others)
        conflict = shapely.union_all(shapely.get_point(lines, 0))
    return conflict


def _violation(
    rule: Rule,
    conflict_m: shapely.Geometry | None,
    crs: str,
    *,
    named: Sequence[str] = (),
    unnamed: int = 0,
    message: tuple[str, str] | None = None,
    **values: Any,
) -> Violation:
    """The rule broken, with the conflicting part (metric, shown in EPSG:4326) and the things ``named``
    that the site comes too close to (a planner asks which school), the first five, and how many more
    have no name; ``message`` (zh, en) says what the rule's own words do not."""
    geom = None
    if conflict_m is not None and not conflict_m.is_empty:
        geom = from_metric(np.array([conflict_m], dtype=object), crs)[0]
    zh, en = message or (rule.text("zh", **values), rule.text("en", **values))
    if named:
        more_zh, more_en = ("等", ", …") if len(named) > 5 else ("", "")
        if unnamed:
            more_zh += f"，另有 {unnamed} 处未命名"
            more_en += f", and {unnamed} without a name"
        zh += f"（{'、'.join(named[:5])}{more_zh}）"
        en += f" ({', '.join(named[:5])}{more_en})"
    return Violation(
        rule.id,
        rule.severity,
        rule.title.get("zh", rule.id),
        rule.title.get("en", rule.id),
        zh,
        en,
        rule.source,
        geom,
    )


def _setback(
    ctx: SitingContext, rule: Rule, zone: shapely.Geometry, groups: list[_Group]
) -> Violation | None:
    d = float(rule.params["distance_m"])
    near = [(g, i) for g in groups for i in _closer(g, zone, d)]
    if not near:
        return None
    hits = np.asarray([g.geoms[i] for g, i in near], dtype=object)
    # the nearest first: the one to move away from
    near.sort(key=lambda gi: shapely.distance(zone, gi[0].geoms[gi[1]]))
    labelled = [isinstance(g.labels[i], str) and bool(g.labels[i]) for g, i in near]
    named = list(dict.fromkeys(str(g.labels[i]) for (g, i), has in zip(near, labelled, strict=True) if has))
    return _violation(
        rule, _inside_buffer(zone, hits, d), ctx.crs, named=named, unnamed=labelled.count(False)
    )


def _hours_ok(hours: str | None, earliest: str, latest: str) -> bool:
    lo, hi = parse_hours(f"{earliest}-{latest}")[0]
    return all(lo <= a and b <= hi for a, b in parse_hours(hours))


def _unchecked(rule: Rule, zh: str, en: str) -> dict[str, str]:
    return {"rule": rule.id, "reason_zh": zh, "reason_en": en}


_CONTEXT = {
    "road_setback": ("road_classes", "roads", "道路"),
    "road_conditions": ("road_classes", "roads", "道路"),
    "poi_setback": ("poi_kinds", "pois", "兴趣点"),
    "no_overlap": ("area_kinds", "areas", "限制区域"),
}


def _missing_context(ctx: SitingContext, rule: Rule) -> dict[str, str] | None:
    """A rule whose context features are absent from the whole workspace cannot be checked (e.g. no POIs
    imported yet): say so rather than pass every zone."""
    if rule.kind not in _CONTEXT:
        return None
    param, attr, zh = _CONTEXT[rule.kind]
    groups: Mapping[str, _Group] = getattr(ctx, attr)
    kinds = list(rule.params[param])
    if any(k in groups and len(groups[k].geoms) for k in kinds):
        return None
    listed = ", ".join(map(str, kinds))
    return _unchecked(
        rule,
        f"工作空间中没有{zh}（{listed}），无法检查",
        f"No {attr} of kind {listed} in the workspace: cannot be checked",
    )


def check_site(
    ctx: SitingContext,
    layer: str,
    geometry: shapely.Geometry,
    properties: Mapping[str, Any],
    *,
    exclude_id: int | None = None,
    today: dt.date | None = None,
    exclude_layer: bool = False,
) -> SitingReport:
    """Check one zone or point against every rule that applies to its layer.

    Parameters
    ----------
    ctx
        The indexed context (``SitingContext.build``).
    layer
        ``stall_sites`` or ``festival_sales_points`` (any layer named in a rule's ``applies_to``).
    geometry
        The zone or point in EPSG:4326.
    properties
        Its attributes (capacity, hours, goods, valid_from/valid_to, lunar_from/lunar_to …).
    exclude_id
        The feature's own id when it is being replaced (not a neighbour of itself).
    exclude_layer
        The layer's stored sites are no neighbours either (the whole layer is being replaced).
    today
        Anchor for festival windows without dates (default: today).

    Returns
    -------
    SitingReport
        Violations with conflict geometry (EPSG:4326) and the rules that could not be checked.
    """
    if geometry is None or geometry.is_empty:
        raise InvalidInput("没有可检查的几何", "No geometry to check", layer=layer, field="geometry")
    zone = to_metric(np.array([geometry], dtype=object), ctx.crs)[0]
    rules = ctx.rules.for_layer(layer)
    out: list[Violation] = []
    unchecked: list[dict[str, str]] = []
    district = _district(ctx, geometry, properties)
    if district is not None:
        out.append(district)
    has_roads = len(_closer(ctx.all_roads, zone, _CHECK_RADIUS)) > 0
    for rule in rules:
        p = rule.params
        if rule.kind in ("road_setback", "road_conditions") and not has_roads:
            unchecked.append(
                _unchecked(
                    rule,
                    f"{_CHECK_RADIUS:.0f} 米内没有道路，无法检查道路规则",
                    f"No road within {_CHECK_RADIUS:.0f} m: road rules cannot be checked",
                )
            )
        elif (missing := _missing_context(ctx, rule)) is not None:
            unchecked.append(missing)
        elif rule.kind in ("road_setback", "poi_setback"):
            kinds, groups = (
                (p["road_classes"], ctx.roads) if rule.kind == "road_setback" else (p["poi_kinds"], ctx.pois)
            )
            v = _setback(ctx, rule, zone, [groups[k] for k in kinds if k in groups])
            out.extend([v] if v else [])
        elif rule.kind == "road_conditions":
            near = [ctx.roads[c] for c in p["road_classes"] if c in ctx.roads]
            if any(len(_closer(g, zone, float(p["distance_m"]))) for g in near):
                cap = properties.get("capacity") or 0
                if cap > p["max_capacity"] or not _hours_ok(properties.get("hours"), *p["hours"].split("-")):
                    out.append(_setback(ctx, rule, zone, near))  # type: ignore[arg-type]
        elif rule.kind == "no_overlap":
            for kind in p["area_kinds"]:
                g = ctx.areas.get(kind)
                idx = _overlapping(g, zone)
                if len(idx):
                    conflict = shapely.intersection(zone, shapely.union_all(g.geoms[idx]))  # type: ignore[union-attr]
                    out.append(
                        _violation(rule, conflict, ctx.crs, kind=kind, kind_zh=_KIND_ZH.get(kind, kind))
                    )
        elif rule.kind == "spacing":
            out.extend(_spacing(ctx, rule, zone, layer, exclude_id, exclude_layer))
        elif rule.kind == "density":
            cap = properties.get(p.get("field", "capacity"))
            area = float(zone.area)
            if shapely.get_dimensions(zone) < 2:
                unchecked.append(
                    _unchecked(
                        rule,
                        "点位没有面积，无法检查摊位密度",
                        "A point has no area: stall density cannot be checked",
                    )
                )
            elif cap and area / cap < float(p["min_m2_per_stall"]):
                out.append(_violation(rule, zone, ctx.crs, capacity=cap, area=area))
        elif rule.kind == "hours":
            if not _hours_ok(properties.get(p.get("field", "hours")), p["earliest"], p["latest"]):
                out.append(_violation(rule, None, ctx.crs))
        elif rule.kind == "lunar_window":
            _lunar(ctx, rule, properties, today or dt.date.today(), out, unchecked)
        elif rule.kind == "goods":
            goods = str(properties.get(p.get("field", "goods")) or "")
            items = [g.strip() for g in goods.replace("、", ",").replace("，", ",").split(",") if g.strip()]
            bad = [g for g in items if g not in p["allowed"]]
            if bad:
                out.append(
                    _violation(rule, None, ctx.crs, goods="、".join(bad), allowed="、".join(p["allowed"]))
                )
    checked = (DISTRICT_RULE,) if ctx.districts is not None and len(ctx.districts) else ()
    return SitingReport(layer, tuple(out), tuple(unchecked), (*checked, *(r.id for r in rules)))


def _district(
    ctx: SitingContext, geometry: shapely.Geometry, properties: Mapping[str, Any]
) -> Violation | None:
    """A site outside the city's districts, or outside the district it is filed under (``district``)."""
    if ctx.districts is None or not len(ctx.districts):
        return None
    named = properties.get("district")
    placement = ctx.districts.place([geometry])[0]
    wrong = ctx.districts.mismatch(placement, str(named) if named else None)
    if wrong is None:
        return None
    return Violation(
        DISTRICT_RULE,
        "error",
        "所在城区",
        "District",
        wrong[0],
        wrong[1],
        "行政区图层 districts（按面积最大部分判定）/ the districts layer (by the largest part)",
        None,
    )


def _spacing(
    ctx: SitingContext,
    rule: Rule,
    zone: shapely.Geometry,
    layer: str,
    exclude_id: int | None,
    exclude_layer: bool = False,
) -> list[Violation]:
    d = float(rule.params["distance_m"])
    out = []
    for name in rule.params["layers"]:
        g = ctx.sites.get(name)
        if name == layer and exclude_layer:
            continue
        for i in _closer(g, zone, d):
            if name == layer and exclude_id is not None and int(g.ids[i]) == int(exclude_id):  # type: ignore[union-attr]
                continue
            other = g.geoms[i : i + 1]  # type: ignore[union-attr]
            label = g.labels[i] or g.ids[i]  # type: ignore[union-attr]
            out.append(_violation(rule, _inside_buffer(zone, other, d), ctx.crs, other=label))
    return out


def _lunar(
    ctx: SitingContext,
    rule: Rule,
    props: Mapping[str, Any],
    today: dt.date,
    out: list[Violation],
    unchecked: list[dict[str, str]],
) -> None:
    """The site's window (its lunar MM-DD fields, else its solar dates) must lie inside the rule's."""
    props = {k: _plain(props.get(k)) for k in ("lunar_from", "lunar_to", "valid_from", "valid_to")}
    anchor = props["valid_from"] or today
    try:
        if isinstance(anchor, str):
            anchor = dt.date.fromisoformat(anchor[:10])
        start, end = festival_dates(props, around=anchor)
    except (ValueError, TypeError):
        start = end = None
    if start is None or end is None:
        unchecked.append(
            _unchecked(
                rule,
                "缺少开放日期（农历或公历），无法检查春节时间窗",
                "No dates (lunar or solar): the festival window cannot be checked",
            )
        )
        return
    if start > end and props["valid_from"] and props["valid_to"]:
        # its dates hold none of its lunar days (June dates for 腊月十五–正月十六): it would never open.
        # (Dates with an open end anchor at today: a past point's window is merely over.)
        out.append(
            _violation(
                rule,
                None,
                ctx.crs,
                message=(
                    f"有效期 {props['valid_from']}–{props['valid_to']} 内没有农历 {props['lunar_from']}–"
                    f"{props['lunar_to']} 的日子，该点不会开放",
                    f"Its dates, {props['valid_from']} to {props['valid_to']}, hold none of its lunar days "
                    f"({props['lunar_from']} to {props['lunar_to']}): it would never open",
                ),
            )
        )
        return
    lo, hi = festival_dates(
        {"lunar_from": rule.params["lunar_from"], "lunar_to": rule.params["lunar_to"]}, around=start
    )
    if lo is not None and hi is not None and (start < lo or end > hi):
        out.append(_violation(rule, None, ctx.crs))


def _plain(value: Any) -> Any:
    """Frame cells as the writer would pass them: missing → None, timestamps → dates."""
    if value is None or (np.isscalar(value) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def check_all(
    ctx: SitingContext, frames: Mapping[str, gpd.GeoDataFrame], *, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Check every existing site; one row per site (layer, id, name, ok, violations, unchecked, rules).

    Parameters
    ----------
    ctx
        The indexed context.
    frames
        The site layers to report on (EPSG:4326, index = feature id); missing layers are skipped.
    """
    rows = []
    for layer in SITE_LAYERS:
        frame = frames.get(layer)
        if frame is None:
            continue
        props = [
            {k: _plain(v) for k, v in r.items()}
            for r in frame.drop(columns=frame.geometry.name).to_dict("records")
        ]
        for fid, geom, prop in zip(frame.index, frame.geometry.to_numpy(), props, strict=True):
            rep = check_site(ctx, layer, geom, prop, exclude_id=int(fid), today=today)
            rows.append(
                {
                    "layer": layer,
                    "id": int(fid),
                    "name": prop.get("name"),
                    "ok": rep.ok,
                    "violations": [v.as_dict() for v in rep.violations],
                    "unchecked": list(rep.unchecked),
                    "rules_checked": list(rep.rules_checked),
                }
            )
    return rows


def batch_spacing(
    ctx: SitingContext, layer: str, geometries: Sequence[shapely.Geometry], labels: Sequence[Any]
) -> list[tuple[int, Violation]]:
    """The spacing rules among the sites of one write (an import, a batch): (row, violation) for each
    row closer than a rule allows to an earlier row of the same write."""
    rules = [r for r in ctx.rules.for_layer(layer) if r.kind == "spacing" and layer in r.params["layers"]]
    if not rules or len(geometries) < 2:
        return []
    zones = to_metric(np.asarray(geometries, dtype=object), ctx.crs)
    tree = shapely.STRtree(zones)
    out = []
    for rule in rules:
        d = float(rule.params["distance_m"])
        left, right = tree.query(zones, predicate="dwithin", distance=d)
        later = (left > right) & (shapely.distance(zones[left], zones[right]) < d)
        for i, j in zip(left[later], right[later], strict=True):  # row i is too close to the earlier row j
            conflict = _inside_buffer(zones[i], zones[j : j + 1], d)
            out.append((int(i), _violation(rule, conflict, ctx.crs, other=labels[j])))
    return out
