"""Siting reports as a table (one row per site per rule) and as GeoJSON the map can draw."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from geo_service.siting.checker import SitingReport

__all__ = ["report_features", "report_summary", "report_table"]


def report_features(report: SitingReport, *, site: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The violations of one report as a GeoJSON FeatureCollection (conflict geometry, may be null).

    Parameters
    ----------
    report
        A ``check_site`` answer.
    site
        Optional properties to copy into every feature (e.g. the site's layer, id and name).
    """
    extra = dict(site or {})
    return {
        "type": "FeatureCollection",
        "features": [_feature(v.as_dict(), extra) for v in report.violations],
    }


def _feature(violation: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in violation.items() if k != "geometry"}
    return {"type": "Feature", "geometry": violation.get("geometry"), "properties": {**extra, **props}}


def report_table(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per site per rule checked: ``status`` is ``pass``, ``fail`` or ``unchecked``.

    Parameters
    ----------
    rows
        ``check_all`` rows.

    Returns
    -------
    pandas.DataFrame
        Columns layer, id, name, rule, status, message_zh, message_en, source.
    """
    out = []
    for r in rows:
        failed: dict[str, Any] = {}
        for v in r["violations"]:
            failed.setdefault(v["rule"], []).append(v)
        skipped = {u["rule"]: u for u in r["unchecked"]}
        for rule in r.get("rules_checked") or sorted({*failed, *skipped}):
            base = {"layer": r["layer"], "id": r["id"], "name": r["name"], "rule": rule}
            if rule in failed:
                vs = failed[rule]
                out.append(
                    {
                        **base,
                        "status": "fail",
                        "message_zh": "；".join(v["message_zh"] for v in vs),
                        "message_en": "; ".join(v["message_en"] for v in vs),
                        "source": vs[0]["source"],
                    }
                )
            elif rule in skipped:
                out.append(
                    {
                        **base,
                        "status": "unchecked",
                        "message_zh": skipped[rule]["reason_zh"],
                        "message_en": skipped[rule]["reason_en"],
                        "source": "",
                    }
                )
            else:
                out.append({**base, "status": "pass", "message_zh": "", "message_en": "", "source": ""})
    return pd.DataFrame(
        out, columns=["layer", "id", "name", "rule", "status", "message_zh", "message_en", "source"]
    )


def report_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts for the whole report plus every violation as one GeoJSON FeatureCollection.

    Returns
    -------
    dict
        ``checked``, ``failing``, ``unchecked``, ``by_rule`` (violations per rule) and ``features``.
    """
    by_rule: dict[str, int] = {}
    features = []
    for r in rows:
        for v in r["violations"]:
            by_rule[v["rule"]] = by_rule.get(v["rule"], 0) + 1
            features.append(_feature(v, {"layer": r["layer"], "id": r["id"], "name": r["name"]}))
    return {
        "checked": len(rows),
        "failing": sum(bool(r["violations"]) for r in rows),
        "unchecked": sum(bool(r["unchecked"]) for r in rows),
        "by_rule": by_rule,
        "features": {"type": "FeatureCollection", "features": features},
    }
