"""``geo-service backup create|restore FILE``: whole-workspace backups between either store."""

from __future__ import annotations

import argparse
from pathlib import Path

from geo_service.auth.accounts import AccountStore, account_url
from geo_service.backup import create_backup, restore_backup
from geo_service.cli.workspace import _common, _open
from geo_service.errors import InvalidInput

__all__ = ["register"]


def _create(args: argparse.Namespace) -> int:
    settings, store = _open(args)
    accounts = AccountStore(account_url(str(settings.workspace), settings.database_url))
    try:
        Path(args.file).write_bytes(create_backup(store, accounts))
    finally:
        accounts.close()
        store.close()
    print(f"已写出备份 / backup written: {args.file}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():  # before the workspace is opened (and made)
        raise InvalidInput(f"找不到备份文件「{source}」", f"No backup file '{source}'", field="file")
    settings, store = _open(args, create=True)
    accounts = AccountStore(account_url(str(settings.workspace), settings.database_url))
    try:
        counts = restore_backup(source.read_bytes(), store, accounts)
    finally:
        accounts.close()
        store.close()
    print(f"已恢复 / restored: {sum(counts.values())} features in {len(counts)} layers")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    backup = sub.add_parser("backup", help="备份与恢复 / backups").add_subparsers(
        dest="backup_command", required=True
    )
    p = backup.add_parser("create", help="备份整个工作空间 / back up the whole workspace")
    _common(p)
    p.add_argument("file")
    p.set_defaults(func=_create)
    p = backup.add_parser("restore", help="恢复到空工作空间 / restore into an empty workspace")
    _common(p)
    p.add_argument("file")
    p.set_defaults(func=_restore)
