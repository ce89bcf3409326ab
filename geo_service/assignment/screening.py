"""Candidates for new stall sites judged by the siting rules before any is chosen: a place the rules
forbid (on a main road, at an intersection, on a green belt, too close to a site, in another district)
is left out, with the rule and why in both languages, so that site selection never picks it."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo_service.assignment.planning import input_id
from geo_service.errors import InvalidInput
from geo_service.siting.checker import DISTRICT_RULE, SitingContext, check_site

__all__ = ["PLACE_RULE_KINDS", "screen_candidates", "too_close"]

#: rules about where a site is, which a candidate place must pass; the others (hours, goods, stall
#: density, a secondary road's conditions on stalls and hours) are about how the site is set up later
PLACE_RULE_KINDS = frozenset({"road_setback", "poi_setback", "no_overlap", "spacing"})


def _properties(candidates: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    plain = candidates.drop(columns=candidates.geometry.name)
    plain = plain[[c for c in plain.columns if not str(c).startswith("_")]].astype(object)
    return [
        {k: v for k, v in row.items() if v is not None}
        for row in plain.where(plain.notna(), None).to_dict("records")
    ]


def screen_candidates(
    ctx: SitingContext,
    candidates: gpd.GeoDataFrame,
    *,
    layer: str = "stall_sites",
    district: str | None = None,
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """The candidates that pass the place rules of ``layer`` (error severity) and lie in ``district``
    (when given), and for each one left out: its number (index label), ``name``, and ``rules``, each with
    ``rule``, ``title_zh``/``title_en`` and ``reason_zh``/``reason_en``; ``id``, the id it was given.

    Parameters
    ----------
    ctx
        The workspace's siting context (``geo_service.siting.siting_context``).
    candidates
        Points or zones (EPSG:4326), index = candidate number; their properties (``district`` …) are
        checked as given.
    layer
        The site layer whose rules apply.
    district
        Only candidates in this district are kept (the district rule, as a write of a site filed under
        it would be judged).
    """
    kinds = {r.id: r.kind for r in ctx.rules.for_layer(layer)}
    keep = np.ones(len(candidates), dtype=bool)
    left_out = []
    for k, (label, geom, props) in enumerate(
        zip(candidates.index, candidates.geometry.to_numpy(), _properties(candidates), strict=True)
    ):
        if district is not None:
            props["district"] = district
        try:
            report = check_site(ctx, layer, geom, props)
        except InvalidInput as e:  # a property the rules read (hours …) that is no value: say whose
            raise InvalidInput(
                f"候选点 {label}（candidates[{k}]）：{e.zh}",
                f"Candidate {label} (candidates[{k}]): {e.en}",
                feature=f"candidates[{k}]",
                field=e.field or "candidates",
                details=e.details,
            ) from e
        broken = [
            v
            for v in report.violations
            if v.severity == "error"
            and (v.rule_id == DISTRICT_RULE or kinds.get(v.rule_id) in PLACE_RULE_KINDS)
        ]
        if not broken:
            continue
        keep[k] = False
        left_out.append(
            {
                "candidate": int(label),
                "id": input_id(candidates, k),
                "name": props.get("name"),
                "rules": [
                    {
                        "rule": v.rule_id,
                        "title_zh": v.title_zh,
                        "title_en": v.title_en,
                        "reason_zh": v.message_zh,
                        "reason_en": v.message_en,
                    }
                    for v in broken
                ],
            }
        )
    return candidates[keep], left_out


def too_close(
    ctx: SitingContext, chosen: gpd.GeoDataFrame, *, layer: str = "stall_sites", crs: str
) -> list[dict[str, Any]]:
    """Pairs of the new sites ``chosen`` (index labels) nearer each other than a spacing rule of ``layer``
    among its own sites allows: each candidate was judged against the stored sites alone, so two new ones
    may crowd each other. Each pair: ``a``, ``b``, ``distance_m``, ``rule`` and ``limit_m``."""
    from geo_service.crs import to_metric

    rules = [
        r for r in ctx.rules.for_layer(layer) if r.kind == "spacing" and layer in r.params.get("layers", ())
    ]
    if not rules or len(chosen) < 2:
        return []
    limit = max(float(r.params["distance_m"]) for r in rules)
    rule = next(r.id for r in rules if float(r.params["distance_m"]) == limit)
    geoms = to_metric(chosen.geometry.to_numpy(), crs)
    labels = [int(i) for i in chosen.index]
    pairs = []
    for i in range(len(geoms)):
        d = shapely.distance(geoms[i], geoms[i + 1 :])
        for j in np.flatnonzero(d < limit):
            pairs.append(
                {
                    "a": labels[i],
                    "b": labels[i + 1 + int(j)],
                    "distance_m": round(float(d[j]), 1),
                    "rule": rule,
                    "limit_m": limit,
                }
            )
    return pairs
