"""The siting checker: every violation of a zone or point, with the geometry of the conflict.

``SitingContext.build`` indexes the context layers once (metric CRS, STRtrees per road class, POI
kind and restricted-area kind); ``check_site`` answers for one geometry in a few milliseconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import mapping

from geo_service.crs import from_metric, to_metric
from geo_service.duty import festival_dates, parse_hours
from geo_service.errors import InvalidInput
from geo_service.siting.rules import Rule, RuleSet

__all__ = ["SitingContext", "SitingReport", "Violation", "check_all", "check_site"]

_KIND_ZH = {"blind_path": "盲道", "green_belt": "绿化带", "parking": "停车位", "fire_lane": "消防通道",
            "carriageway": "车行道"}
_CHECK_RADIUS = 200.0  # no road within this distance: road rules cannot be checked


@dataclass(frozen=True)
class Violation:
    rule_id: str
    severity: str
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str
    source: str
    geometry: shapely.Geometry | None  # EPSG:4326: the part in conflict

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule_id, "severity": self.severity, "title_zh": self.title_zh, "title_en": self.title_en,
                "message_zh": self.message_zh, "message_en": self.message_en, "source": self.source,
                "geometry": None if self.geometry is None or self.geometry.is_empty else mapping(self.geometry)}


@dataclass(frozen=True)
class SitingReport:
    layer: str
    violations: tuple[Violation, ...]
    unchecked: tuple[Mapping[str, str], ...] = ()
    rules_checked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations and not self.unchecked

    def as_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "ok": self.ok, "violations": [v.as_dict() for v in self.violations],
                "unchecked": list(self.unchecked), "rules_checked": list(self.rules_checked)}


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


@dataclass(frozen=True)
class SitingContext:
    rules: RuleSet
    crs: str
    roads: Mapping[str, _Group]
    pois: Mapping[str, _Group]
    areas: Mapping[str, _Group]
    sites: Mapping[str, _Group]
    all_roads: _Group = field(repr=False, default=None)  # type: ignore[assignment]

    @classmethod
    def build(cls, frames: Mapping[str, gpd.GeoDataFrame], rules: RuleSet, *, crs: str = "EPSG:4547") -> SitingContext:
        roads = frames["roads"]
        pois = frames["pois"]
        areas = frames["restricted_areas"]
        return cls(
            rules=rules, crs=crs,
            roads={c: _group(roads[roads["road_class"] == c], crs, "name") for c in roads["road_class"].unique()},
            pois={k: _group(pois[pois["kind"] == k], crs, "name") for k in pois["kind"].unique()},
            areas={k: _group(areas[areas["kind"] == k], crs, "name") for k in areas["kind"].unique()},
            sites={name: _group(frames[name], crs, "name") for name in ("stall_sites", "festival_sales_points")
                   if name in frames},
            all_roads=_group(roads, crs, "name"),
        )


def _near(group: _Group | None, geom: shapely.Geometry, distance: float) -> np.ndarray:
    if group is None or len(group.geoms) == 0:
        return np.array([], dtype=np.int64)
    return group.tree.query(geom, predicate="dwithin", distance=distance)


def _violation(rule: Rule, conflict_m: shapely.Geometry | None, crs: str, **values: Any) -> Violation:
    geom = None
    if conflict_m is not None and not conflict_m.is_empty:
        geom = from_metric(np.array([conflict_m], dtype=object), crs)[0]
    return Violation(rule.id, rule.severity, rule.title.get("zh", rule.id), rule.title.get("en", rule.id),
                     rule.text("zh", **values), rule.text("en", **values), rule.source, geom)


def _setback(ctx: SitingContext, rule: Rule, zone: shapely.Geometry, groups: list[_Group]) -> Violation | None:
    d = float(rule.params["distance_m"])
    hits = []
    for g in groups:
        idx = _near(g, zone, d)
        hits.extend(g.geoms[idx])
    if not hits:
        return None
    conflict = shapely.intersection(zone, shapely.union_all(shapely.buffer(np.asarray(hits, dtype=object), d)))
    if _negligible(zone, conflict):
        return None
    return _violation(rule, conflict if not conflict.is_empty else zone, ctx.crs)


def _negligible(zone: shapely.Geometry, conflict: shapely.Geometry) -> bool:
    """Touching along an edge is not a conflict for a zone; for a point, any contact is."""
    if zone.geom_type in ("Polygon", "MultiPolygon"):
        return conflict.area < 0.01
    return conflict.is_empty


def _hours_ok(hours: str | None, earliest: str, latest: str) -> bool:
    lo = parse_hours(f"{earliest}-{latest}")[0]
    return all(lo[0] <= a and b <= lo[1] for a, b in parse_hours(hours))


def check_site(ctx: SitingContext, layer: str, geometry: shapely.Geometry, properties: Mapping[str, Any], *,
               exclude_id: int | None = None, today: dt.date | None = None) -> SitingReport:
    """Check one zone or point (EPSG:4326) of ``layer`` against every rule that applies to it."""
    if geometry is None or geometry.is_empty:
        raise InvalidInput("没有可检查的几何", "No geometry to check", layer=layer, field="geometry")
    zone = to_metric(np.array([geometry], dtype=object), ctx.crs)[0]
    rules = ctx.rules.for_layer(layer)
    out: list[Violation] = []
    unchecked: list[dict[str, str]] = []
    has_roads = len(_near(ctx.all_roads, zone, _CHECK_RADIUS)) > 0
    for rule in rules:
        p = rule.params
        if rule.kind in ("road_setback", "road_conditions") and not has_roads:
            unchecked.append({"rule": rule.id, "reason_zh": f"{_CHECK_RADIUS:.0f} 米内没有道路，无法检查道路规则",
                              "reason_en": f"No road within {_CHECK_RADIUS:.0f} m: road rules cannot be checked"})
            continue
        if rule.kind == "road_setback":
            v = _setback(ctx, rule, zone, [ctx.roads[c] for c in p["road_classes"] if c in ctx.roads])
            if v:
                out.append(v)
        elif rule.kind == "road_conditions":
            near = [ctx.roads[c] for c in p["road_classes"] if c in ctx.roads]
            if any(len(_near(g, zone, float(p["distance_m"]))) for g in near):
                cap = properties.get("capacity") or 0
                if cap > p["max_capacity"] or not _hours_ok(properties.get("hours"), *p["hours"].split("-")):
                    v = _setback(ctx, rule, zone, near)
                    out.append(v or _violation(rule, zone, ctx.crs))
        elif rule.kind == "poi_setback":
            v = _setback(ctx, rule, zone, [ctx.pois[k] for k in p["poi_kinds"] if k in ctx.pois])
            if v:
                out.append(v)
        elif rule.kind == "no_overlap":
            for kind in p["area_kinds"]:
                g = ctx.areas.get(kind)
                idx = _near(g, zone, 0.0) if g is not None else []
                if len(idx):
                    conflict = shapely.intersection(zone, shapely.union_all(g.geoms[idx]))
                    if not _negligible(zone, conflict):
                        out.append(_violation(rule, conflict, ctx.crs, kind=kind, kind_zh=_KIND_ZH.get(kind, kind)))
        elif rule.kind == "spacing":
            d = float(p["distance_m"])
            for name in p["layers"]:
                g = ctx.sites.get(name)
                for i in _near(g, zone, d):
                    if name == layer and exclude_id is not None and int(g.ids[i]) == int(exclude_id):
                        continue
                    conflict = shapely.intersection(zone, shapely.buffer(g.geoms[i], d))
                    out.append(_violation(rule, conflict if not conflict.is_empty else zone, ctx.crs,
                                          other=g.labels[i] or g.ids[i]))
        elif rule.kind == "density":
            cap = properties.get("capacity")
            area = float(zone.area)
            if cap and area > 0 and area / cap < float(p["min_m2_per_stall"]):
                out.append(_violation(rule, zone, ctx.crs, capacity=cap, area=area))
        elif rule.kind == "hours":
            if not _hours_ok(properties.get("hours"), p["earliest"], p["latest"]):
                out.append(_violation(rule, None, ctx.crs))
        elif rule.kind == "lunar_window":
            out.extend(_lunar(ctx, rule, properties, today))
        elif rule.kind == "goods":
            goods = str(properties.get("goods") or "")
            items = [g.strip() for g in goods.replace("、", ",").replace("，", ",").split(",") if g.strip()]
            bad = [g for g in items if g not in p["allowed"]]
            if bad:
                out.append(_violation(rule, None, ctx.crs, goods="、".join(bad), allowed="、".join(p["allowed"])))
    return SitingReport(layer, tuple(out), tuple(unchecked), tuple(r.id for r in rules))


def _lunar(ctx: SitingContext, rule: Rule, props: Mapping[str, Any], today: dt.date | None) -> list[Violation]:
    start, end = props.get("valid_from"), props.get("valid_to")
    if start is None or end is None:
        return []
    allowed = festival_dates({"lunar_from": rule.params["lunar_from"], "lunar_to": rule.params["lunar_to"]},
                             around=start)
    if allowed[0] is not None and (start < allowed[0] or end > allowed[1]):
        return [_violation(rule, None, ctx.crs)]
    return []


def check_all(ctx: SitingContext, frames: Mapping[str, gpd.GeoDataFrame]) -> list[dict[str, Any]]:
    """A report row per site: its layer, id, name, violations and unchecked rules."""
    rows = []
    for layer in ("stall_sites", "festival_sales_points"):
        frame = frames.get(layer)
        if frame is None:
            continue
        for fid, row in frame.iterrows():
            props = {k: v for k, v in row.items() if k != "geometry"}
            rep = check_site(ctx, layer, row.geometry, props, exclude_id=int(fid))
            rows.append({"layer": layer, "id": int(fid), "name": props.get("name"), "ok": rep.ok,
                         "violations": [v.as_dict() for v in rep.violations], "unchecked": list(rep.unchecked)})
    return rows
