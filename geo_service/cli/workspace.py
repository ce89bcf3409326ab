"""Workspace commands: serve, demo, layers, import, export."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from geo_service.catalog import load_catalog
from geo_service.cli.audit import record_cli
from geo_service.errors import InvalidInput
from geo_service.settings import Settings
from geo_service.store import open_store

__all__ = ["register"]


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "workspace", None):
        overrides["workspace"] = Path(args.workspace)
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return Settings(**overrides)


def _open(args: argparse.Namespace, *, create: bool = False):
    """The settings and the store the arguments name. Only the commands that fill a workspace
    (``create``: demo, import, backup restore) may start a new GeoPackage: a mistyped ``--workspace``
    must not answer questions from an empty one."""
    settings = _settings(args)
    if not create and settings.database_url is None and not Path(settings.workspace).is_file():
        raise InvalidInput(
            f"工作空间文件「{settings.workspace}」不存在（新建请用 demo、import 或 backup restore）",
            f"No workspace file '{settings.workspace}' (demo, import or backup restore make one)",
            field="--workspace",
        )
    return settings, open_store(settings, load_catalog(settings.layers_dir))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from geo_service.api.app import create_app

    settings = _settings(args)
    if args.workers > 1 and settings.database_url is None:
        raise InvalidInput(
            "多个进程（--workers）须使用 PostGIS（--database-url 或 GEO_DATABASE_URL）；GeoPackage 只供一个进程写入",
            "Several workers (--workers) need PostGIS (--database-url or GEO_DATABASE_URL); a GeoPackage is "
            "written by one process",
            field="--workers",
        )
    if args.demo:
        store = open_store(settings, load_catalog(settings.layers_dir))
        try:
            if store.count("roads") == 0:
                from geo_service.seeding import load_demo

                print(
                    "正在生成焦作示例工作空间（示意数据，非测绘成果）… / building the Jiaozuo demo workspace"
                )
                load_demo(store)
        finally:
            store.close()
    # uvicorn would believe X-Forwarded-For from 127.0.0.1 (its default): anyone on the server could then
    # choose the address the audit log and sign-in throttling see. The app believes only the proxies
    # GEO_TRUSTED_PROXIES names (create_app adds the middleware), so uvicorn's own handling is off.
    if args.workers > 1:
        # each worker builds its app from the environment: hand it what the command line said
        os.environ["GEO_DATABASE_URL"] = str(settings.database_url)
        os.environ["GEO_WORKSPACE"] = str(settings.workspace)
        uvicorn.run(
            "geo_service.api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=False,
        )
    else:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, proxy_headers=False)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from geo_service.seeding import load_demo

    _, store = _open(args, create=True)
    try:
        counts = load_demo(store, seed=args.seed)
    finally:
        store.close()
    print(json.dumps(counts, ensure_ascii=False))
    return 0


def _layers(args: argparse.Namespace) -> int:
    settings = _settings(args)
    for spec in load_catalog(settings.layers_dir).values():
        geom = "/".join(spec.geometry_types) or "table"
        print(f"{spec.name:24} {geom:22} {spec.title['zh']} / {spec.title['en']}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from geo_service.auth.accounts import AccountStore, account_url
    from geo_service.auth.crews import guard_crew_accounts
    from geo_service.formats import read_rows
    from geo_service.imports import import_frame
    from geo_service.workspace import Workspace

    path = Path(args.file)
    if not path.is_file():
        print(f"错误 / error: 文件不存在 / no such file: {path}", file=sys.stderr)
        return 2
    settings, store = _open(args, create=True)
    accounts = AccountStore(account_url(str(settings.workspace), settings.database_url))
    try:
        spec = store.catalog[args.layer]
        sheet = read_rows(path.read_bytes(), filename=path.name, spec=spec, source_crs=args.crs)
        ws = Workspace(store, settings)
        guard_crew_accounts(ws, accounts)  # a replaced crews layer keeps the crews accounts name
        done = import_frame(
            ws,
            args.layer,
            sheet,
            actor=args.actor,
            mode=args.mode,
            override=[v.strip() for v in args.override.split(",") if v.strip()],
            reason=args.reason,
        )
        # a write: in the audit log, as the service's imports are (by the system account that ran it)
        record_cli(
            accounts,
            f"import {args.layer} --mode {args.mode}",
            {
                "layer": args.layer,
                "file": path.name,
                "history_actor": args.actor,
                "reason": args.reason,
                **{k: getattr(done, k) for k in ("count", "created", "updated", "unchanged", "deleted")},
            },
        )
    finally:
        accounts.close()
        store.close()
    print(
        f"已导入 {done.count} 行到 {args.layer}：新增 {done.created}，修改 {done.updated}，未变 {done.unchanged}，"
        f"删除 {done.deleted} / imported {done.count} rows into {args.layer}: {done.created} new, "
        f"{done.updated} changed, {done.unchanged} unchanged, {done.deleted} deleted"
    )
    for note in done.notices:
        print(note)
    return 0


def _export(args: argparse.Namespace) -> int:
    from geo_service.exported import export_frame
    from geo_service.formats import write_features, write_workspace

    out = Path(args.out)
    if out.exists() and not args.force:  # an earlier export may be someone's edited copy
        raise InvalidInput(
            f"文件 {out} 已存在；换一个文件名，或加 --force 覆盖",
            f"{out} already exists; choose another name, or add --force to overwrite it",
            field="out",
        )
    _, store = _open(args)
    try:
        layers = [args.layer] if args.layer else list(store.catalog)
        frames = {n: export_frame(store, n) for n in layers}  # ids, versions and the moment, as the API's
    finally:
        store.close()
    if args.layer:
        data, _ = write_features(frames[args.layer], fmt=args.format, layer=args.layer)
    else:
        data = write_workspace(frames, fmt=args.format if args.format != "geojson" else "zip-geojson")
    out.write_bytes(data)
    print(f"已写出 / written: {args.out}")
    return 0


def _rewind(args: argparse.Namespace) -> int:
    from geo_service.auth.accounts import AccountStore, account_url
    from geo_service.auth.crews import guard_crew_accounts
    from geo_service.duty import parse_time
    from geo_service.rewind import rewind_layer
    from geo_service.workspace import Workspace

    to = parse_time(args.to, field="to", past=True)
    if to is None:
        print(
            "错误 / error: --to 不能为空 / --to must name a moment, such as 2026-12-06T09:00", file=sys.stderr
        )
        return 2
    settings, store = _open(args)
    accounts = AccountStore(account_url(str(settings.workspace), settings.database_url))
    try:
        ws = Workspace(store, settings)
        guard_crew_accounts(ws, accounts)  # a crew an account names is not deleted by going back
        done = rewind_layer(ws, args.layer, to, actor=args.actor, reason=args.reason, dry_run=args.dry_run)
        if not done.dry_run:
            record_cli(
                accounts,
                f"rewind {args.layer} --to {args.to}",
                {
                    "layer": args.layer,
                    "to": done.to.isoformat(),
                    "history_actor": args.actor,
                    "reason": args.reason,
                    "reverted": list(done.reverted),
                    "restored": list(done.restored),
                    "deleted": list(done.deleted),
                },
            )
    finally:
        accounts.close()
        store.close()
    head = "将" if done.dry_run else "已"
    print(
        f"{args.layer} {head}回到 {done.to:%Y-%m-%d %H:%M}：恢复原状 {len(done.reverted)}，找回 {len(done.restored)}，"
        f"删除 {len(done.deleted)}，未变 {done.unchanged}"
        + ("（试运行，未写入）" if done.dry_run else "")
        + f" / {args.layer} {'would go' if done.dry_run else 'went'} back to {done.to.isoformat()}: "
        f"{len(done.reverted)} reverted, {len(done.restored)} restored, {len(done.deleted)} deleted, "
        f"{done.unchanged} unchanged" + (" (dry run, nothing written)" if done.dry_run else "")
    )
    for label, ids in (("reverted", done.reverted), ("restored", done.restored), ("deleted", done.deleted)):
        if ids:
            print(f"  {label}: {', '.join(map(str, ids))}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", help="GeoPackage 文件（默认 GEO_WORKSPACE 或 var/jiaozuo.gpkg）")
    p.add_argument("--database-url", help="postgresql+psycopg://… (PostGIS)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="启动服务 / start the service")
    _common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--demo", action="store_true", help="空工作空间先写入焦作示例数据 / seed the demo if empty"
    )
    p.set_defaults(func=_serve)

    p = sub.add_parser("demo", help="生成焦作示例工作空间 / build the Jiaozuo demo workspace")
    _common(p)
    p.add_argument("--seed", type=int, default=2027)
    p.set_defaults(func=_demo)

    p = sub.add_parser("layers", help="列出图层声明 / list the declared layers")
    _common(p)
    p.set_defaults(func=_layers)

    p = sub.add_parser("import", help="导入文件到图层 / import a file into a layer")
    _common(p)
    p.add_argument("layer")
    p.add_argument("file")
    p.add_argument("--crs", default="EPSG:4326", help="EPSG 代码、gcj02 或 bd09")
    p.add_argument("--mode", choices=["append", "replace"], default="append")
    p.add_argument("--override", default="", help="越过的选址规则编号（逗号分隔）/ siting rules overridden")
    p.add_argument("--reason", help="理由，记入历史 / reason, kept in the history")
    p.add_argument("--actor", default="cli")
    p.set_defaults(func=_import)

    p = sub.add_parser(
        "rewind",
        help="将图层回退到某一时刻（撤销误导入；改动均记入历史）/ put a layer back as it stood at a moment",
    )
    _common(p)
    p.add_argument("layer")
    p.add_argument("--to", required=True, help="时刻，如 2026-12-06T09:00（北京时间）/ the moment")
    p.add_argument("--reason", help="理由，记入历史 / reason, kept in the history")
    p.add_argument("--dry-run", action="store_true", help="只列出将做的改动 / only list what would change")
    p.add_argument("--actor", default="cli")
    p.set_defaults(func=_rewind)

    p = sub.add_parser("export", help="导出图层或工作空间 / export a layer or the workspace")
    _common(p)
    p.add_argument("--layer")
    p.add_argument("--format", choices=["geojson", "gpkg", "csv", "xlsx", "zip-geojson"], default="gpkg")
    p.add_argument("--force", action="store_true", help="覆盖已有文件 / overwrite an existing file")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_export)
