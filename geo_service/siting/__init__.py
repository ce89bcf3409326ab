"""Siting rules for stall zones and festival points: rules as data, an explainable checker, and the
check that runs on every write to those layers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geo_service.siting.checker import (
    SITE_LAYERS,
    SitingContext,
    SitingReport,
    Violation,
    check_all,
    check_site,
)
from geo_service.siting.report import report_features, report_summary, report_table
from geo_service.siting.rules import Rule, RuleSet, load_rules

__all__ = [
    "SITE_LAYERS",
    "Rule",
    "RuleSet",
    "SitingContext",
    "SitingReport",
    "Violation",
    "check_all",
    "check_on_write",
    "check_site",
    "load_rules",
    "report_features",
    "report_summary",
    "report_table",
    "rules_path",
    "siting_context",
]


def rules_path(settings: Any) -> Path:
    """The workspace's rule file: ``<layers_dir>/rules/siting.yaml``."""
    return Path(settings.layers_dir) / "rules" / "siting.yaml"


def siting_context(ws: Any) -> SitingContext:
    """The indexed context of a workspace, cached until a layer it reads changes version.

    Parameters
    ----------
    ws
        A ``geo_service.workspace.Workspace`` (``frame``, ``cached``, ``settings``, ``catalog``).
    """
    path = rules_path(ws.settings)
    try:  # the city edits the rule file: a new modification time reloads it
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = 0
    # one version of the rule file stays cached: an edited file's indexes replace the old ones
    rules = ws.cached(
        f"siting:rules:{stamp}", (), lambda: load_rules(path, catalog=ws.catalog), family="siting:rules"
    )
    context = tuple(n for n in rules.layers_read if n not in SITE_LAYERS)
    sites = tuple(n for n in rules.layers_read if n in SITE_LAYERS)
    # the road/POI/area indexes survive writes to the site layers; only the (small) site index is rebuilt
    base = ws.cached(
        f"siting:base:{stamp}",
        context,
        lambda: SitingContext.build({n: ws.frame(n) for n in context}, rules, crs=ws.settings.metric_crs),
        family="siting:base",
    )
    return ws.cached(
        f"siting:context:{stamp}",
        rules.layers_read,
        lambda: base.with_sites({n: ws.frame(n) for n in sites}),
        family="siting:context",
    )


def check_on_write(
    ws: Any,
    layer: str,
    geometry: Any,
    properties: Any,
    *,
    exclude_id: int | None = None,
    override_rules: set[str] | frozenset[str] = frozenset(),
    exclude_layer: bool = False,
) -> SitingReport:
    """The check a write to a site layer must pass.

    Overridden rules are still reported (the caller decides, and records the reason in the history);
    ``override_rules`` is accepted so that the hook's signature is stable.

    Parameters
    ----------
    ws
        The workspace.
    layer, geometry, properties
        The feature about to be written (EPSG:4326 geometry, validated properties).
    exclude_id
        Its own id on replace/update, so it is not its own neighbour.
    """
    return check_site(
        siting_context(ws), layer, geometry, properties, exclude_id=exclude_id, exclude_layer=exclude_layer
    )
