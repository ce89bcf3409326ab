"""``geo-service backup create|restore FILE``: whole-workspace backups between either store.

``restore`` reads and checks the whole file before the workspace is opened, restores all of it or
nothing, installs the backup's declaration of each layer this machine does not declare (new files in the
layers folder, taken back if the restore fails), says whether the backup's siting rules and layer
declarations differ from this machine's, and is recorded in the audit log as ``CLI``.

``create`` never overwrites: given a directory it writes a dated file into it (``--keep N`` then
removes all but the N newest dated backups there, for a nightly timer); given a file name that exists it
refuses. The file appears whole or not at all (written aside, then linked into place).
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import os
import re
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from geo_service.auth.accounts import AccountStore, account_url
from geo_service.backup import create_backup, read_backup, restore_backup
from geo_service.backup.declarations import install_declarations, remove_declarations
from geo_service.backup.restoring import refuse_busy
from geo_service.catalog import load_catalog
from geo_service.cli.audit import record_cli
from geo_service.cli.workspace import _common, _open, _settings
from geo_service.errors import InvalidInput
from geo_service.siting import rules_path

__all__ = ["DATED", "register"]

DATED = re.compile(r"^geo-service-backup-\d{8}-\d{6}(-\d+)?\.zip$")  # names `create DIR` gives
_TZ = ZoneInfo("Asia/Shanghai")


def _checked_target(file: str, keep: int | None) -> tuple[Path, bool]:
    """(where the backup goes, whether that is a directory to date it in), refusing what would overwrite
    a file or cannot be written, before the workspace is read."""
    path = Path(file)
    if path.is_dir():
        return path, True
    if keep is not None:
        raise InvalidInput(
            "--keep 只能与目录一起使用（按日期命名的备份写入该目录）",
            "--keep needs a directory (dated backups are written into it), not a file name",
            field="--keep",
        )
    if path.exists():
        raise InvalidInput(
            f"备份文件「{path}」已存在，不会覆盖；请换个文件名，或给出一个目录以写入按日期命名的备份",
            f"The backup file '{path}' exists and is not overwritten; give another name, or a directory "
            "to write a dated backup into",
            field="file",
        )
    if not path.parent.is_dir():
        raise InvalidInput(
            f"目录「{path.parent}」不存在",
            f"No directory '{path.parent}' to write the backup into",
            field="file",
        )
    return path, False


def _place(data: bytes, target: Path, dated: bool) -> Path:
    """Write ``data`` beside its destination, then link it into place: a crash leaves no half backup, and
    a file that appeared meanwhile is not overwritten (a dated name then takes the next free suffix). A
    write that fails (a full disk) leaves nothing behind and is said as such."""
    folder = target if dated else target.parent
    part: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=".geo-service-backup-", suffix=".part", delete=False
        ) as f:
            part = Path(f.name)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return _linked(part, target, folder, dated)
    except OSError as exc:
        raise _cannot_write(folder, exc) from None
    finally:
        if part is not None:
            part.unlink(missing_ok=True)  # gone already when it was moved into place


def _linked(part: Path, target: Path, folder: Path, dated: bool) -> Path:
    """``part`` under its final name: ``target``, or the first free dated name in ``folder``."""
    stamp = dt.datetime.now(_TZ).strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        final = folder / f"geo-service-backup-{stamp}{'' if n == 1 else f'-{n}'}.zip" if dated else target
        try:
            _link(part, final)
            return final
        except FileExistsError:
            if not dated:
                raise InvalidInput(
                    f"备份文件「{target}」已存在，不会覆盖",
                    f"The backup file '{target}' exists and is not overwritten",
                    field="file",
                ) from None
    raise InvalidInput("同一秒内备份过多", "Too many backups within one second", field="file")


def _cannot_write(folder: Path, exc: OSError) -> InvalidInput:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InvalidInput(
            f"磁盘已满，未写出备份（未写完的文件已删除）：{folder}",
            f"The disk is full: no backup was written into {folder} (the partial file was removed)",
            field="file",
        )
    return InvalidInput(
        f"无法在「{folder}」写入备份（{exc.strerror or exc}），未写出备份",
        f"Cannot write the backup into '{folder}' ({exc.strerror or exc}); no backup was written",
        field="file",
    )


def _link(part: Path, final: Path) -> None:
    """``part`` also named ``final``, which must not exist yet (FileExistsError). Where the file system has no
    hard links, ``final`` is claimed empty first and then replaced."""
    try:
        os.link(part, final)
    except FileExistsError:
        raise
    except OSError:
        os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        try:
            os.replace(part, final)
        except OSError:
            final.unlink(missing_ok=True)  # the empty file claimed for it
            raise


def _prune(folder: Path, keep: int, written: Path) -> list[Path]:
    """Remove all but the ``keep`` newest dated backups in ``folder`` (other files are left alone, and so
    is the one just ``written``, even if files dated later lie there: a clock that was wrong)."""
    dated = sorted(
        (p for p in folder.iterdir() if DATED.match(p.name) and p.is_file() and p != written),
        key=lambda p: (p.name[19:34], int(p.stem[35:] or 1)),  # the stamp, then the same second's suffix
    )
    gone = dated[: max(len(dated) - (keep - 1), 0)]  # the one just written is one of the kept
    for p in gone:
        p.unlink()
    return gone


def _create(args: argparse.Namespace) -> int:
    if args.keep is not None and args.keep < 1:
        raise InvalidInput("--keep 至少为 1", "--keep must be at least 1", field="--keep")
    target, dated = _checked_target(args.file, args.keep)
    settings, store = _open(args)
    accounts = AccountStore(account_url(str(settings.workspace), settings.database_url))
    try:
        data = create_backup(store, accounts, rules_file=rules_path(settings))
    finally:
        accounts.close()
        store.close()
    written = _place(data, target, dated)
    print(f"已写出备份 / backup written: {written}")
    if dated and args.keep is not None:
        for p in _prune(target, args.keep, written):
            print(f"已删除旧备份 / old backup removed: {p}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():  # before the workspace is opened (and made)
        raise InvalidInput(f"找不到备份文件「{source}」", f"No backup file '{source}'", field="file")
    settings = _settings(args)
    # read and checked whole before the workspace is opened: a damaged file makes no workspace file
    backup = read_backup(
        source.read_bytes(), load_catalog(settings.layers_dir), settings=settings, adopt=True
    )
    made = settings.database_url is None and not Path(settings.workspace).exists()
    if backup.adopted and not made:
        # a workspace in use is refused before a declaration is installed: opened with one, it would get
        # the new layer's empty table
        _, existing = _open(args)
        try:
            refuse_busy(existing)
        finally:
            existing.close()
    # the layers this machine does not declare: their declarations from the backup, as new files, so that
    # the workspace is opened (and the service starts) with them
    installed = install_declarations(backup, settings.layers_dir)
    try:
        settings, store = _open(args, create=True)
    except BaseException:
        remove_declarations(installed)
        raise
    try:
        accounts = AccountStore(account_url(str(settings.workspace), settings.database_url))
        try:
            done = restore_backup(backup, store, accounts, settings=settings)
            record_cli(
                accounts,
                "backup restore",
                {
                    "file": str(source.resolve()),
                    "features": done.features,
                    "rules": done.rules.status,
                    "declarations_installed": [str(p) for p in installed],
                },
            )
        finally:
            accounts.close()
    except BaseException:
        store.close()
        if made:  # a refused restore into a new file leaves no empty workspace behind
            _remove_workspace(Path(settings.workspace))
        remove_declarations(installed)
        raise
    store.close()
    print(
        f"已恢复 {done.features} 个要素，{len(done.counts)} 个图层 / restored: {done.features} features in "
        f"{len(done.counts)} layers"
    )
    for notice in done.notices:
        print(notice)
    return 0


def _remove_workspace(path: Path) -> None:
    """A GeoPackage this command made, with SQLite's files beside it."""
    for p in (path, *(path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm"))):
        p.unlink(missing_ok=True)


def register(sub: argparse._SubParsersAction) -> None:
    backup = sub.add_parser("backup", help="备份与恢复 / backups").add_subparsers(
        dest="backup_command", required=True
    )
    p = backup.add_parser("create", help="备份整个工作空间 / back up the whole workspace")
    _common(p)
    p.add_argument(
        "file", help="新文件名，或目录（写入按日期命名的备份）/ a new file, or a directory for a dated backup"
    )
    p.add_argument(
        "--keep",
        type=int,
        help="只保留目录中最新的 N 个日期备份 / keep only the N newest dated backups in the directory",
    )
    p.set_defaults(func=_create)
    p = backup.add_parser("restore", help="恢复到空工作空间 / restore into an empty workspace")
    _common(p)
    p.add_argument("file")
    p.set_defaults(func=_restore)
