"""``geo-service siting-check``: the siting report for every existing site."""

from __future__ import annotations

import argparse
import json

from geo_service.cli.workspace import _common, _open
from geo_service.formats.cells import quoted_table
from geo_service.siting import SITE_LAYERS, check_all, report_table, siting_context
from geo_service.workspace import Workspace

__all__ = ["register"]


def _check(args: argparse.Namespace) -> int:
    settings, store = _open(args)
    try:
        ws = Workspace(store, settings)
        layers = [args.layer] if args.layer else list(SITE_LAYERS)
        rows = check_all(siting_context(ws), {n: ws.frame(n) for n in layers})
    finally:
        store.close()
    if args.csv:
        # BOM: Excel opens Chinese; a site's name that begins with = is text, not a formula
        quoted_table(report_table(rows)).to_csv(args.csv, index=False, encoding="utf-8-sig")
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            mark = "✓" if r["ok"] else "✗"
            print(f"{mark} {r['layer']}#{r['id']} {r['name']}")
            for v in r["violations"]:
                print(f"    [{v['rule']}] {v['message_zh']} / {v['message_en']}")
            for u in r["unchecked"]:
                print(f"    [{u['rule']}] 未检查 / unchecked: {u['reason_zh']}")
    return 0 if all(r["ok"] for r in rows) else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("siting-check", help="选址规则检查报告 / siting report for existing sites")
    _common(p)
    p.add_argument("--layer", choices=["stall_sites", "festival_sales_points"])
    p.add_argument("--json", action="store_true")
    p.add_argument("--csv", metavar="PATH", help="每站点每规则一行的表 / one row per site per rule")
    p.set_defaults(func=_check)
