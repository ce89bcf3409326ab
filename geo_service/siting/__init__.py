"""Siting rules for stall zones and festival points: rules as data, an explainable checker, and the
check that runs on every write to those layers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geo_service.siting.checker import SitingContext, SitingReport, Violation, check_all, check_site
from geo_service.siting.rules import Rule, RuleSet, load_rules

__all__ = ["Rule", "RuleSet", "SitingContext", "SitingReport", "Violation", "check_all", "check_on_write",
           "check_site", "load_rules", "rules_path", "siting_context"]


def rules_path(settings: Any) -> Path:
    return Path(settings.layers_dir) / "rules" / "siting.yaml"


def siting_context(ws: Any) -> SitingContext:
    """The context of a workspace, cached until a layer it reads changes."""
    rules = ws.cached("siting:rules", (), lambda: load_rules(rules_path(ws.settings), catalog=ws.catalog))
    return ws.cached("siting:context", rules.layers_read,
                     lambda: SitingContext.build({n: ws.frame(n) for n in rules.layers_read}, rules,
                                                 crs=ws.settings.metric_crs))


def check_on_write(ws: Any, layer: str, geometry: Any, properties: Any, *, exclude_id: int | None = None,
                   override_rules: set[str] | frozenset[str] = frozenset()) -> SitingReport:
    """The check a write to a site layer must pass (overridden rules are still reported)."""
    return check_site(siting_context(ws), layer, geometry, properties, exclude_id=exclude_id)
