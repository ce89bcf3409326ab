"""Storage failures said to people: a full disk, a workspace that cannot be written.

SQLite ("database or disk is full", "attempt to write a readonly database", "disk I/O error") and
PostgreSQL (SQLSTATE 53100 "could not extend file", 25006 "read-only transaction") report these
as driver errors; :func:`storage_failure` turns them into :class:`~geo_service.errors.StorageFull`
(507) or :class:`~geo_service.errors.StorageUnwritable` (503), naming the workspace by its own name
only (the file's name, not its folder; "the PostGIS database", not its address). The stores call it
where their transactions end; the API's error table and the command line call it for driver errors
raised elsewhere (the accounts tables beside the layers).
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from geo_service.errors import StorageFull, StorageUnwritable, StoreUnavailable

__all__ = ["WorkspaceName", "storage_failure", "workspace_name"]

# SQLite's primary result codes (an extended code carries its primary code in the low byte)
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL = 8, 10, 13
# PostgreSQL's SQLSTATE: disk_full, insufficient_resources, read_only_sql_transaction
_PG_FULL, _PG_READONLY = {"53100", "53000"}, {"25006"}

_FULL_WORDS = ("database or disk is full", "could not extend file", "no space left on device")
_READONLY_WORDS = ("readonly database", "read-only transaction", "read-only file system")
_IO_WORDS = ("disk i/o error",)


@dataclass(frozen=True)
class WorkspaceName:
    """How messages name a workspace: its file's name for a GeoPackage, else the PostGIS database."""

    zh: str
    en: str


def workspace_name(workspace: Path | str | None, database_url: str | None = None) -> WorkspaceName:
    """The workspace as messages name it: ``「jiaozuo.gpkg」`` (never its folder), or the PostGIS
    database (never its address or user)."""
    if database_url:
        return WorkspaceName("PostGIS 数据库", "the PostGIS database")
    if workspace is None:
        return WorkspaceName("工作空间", "the workspace")
    name = Path(workspace).name
    return WorkspaceName(f"工作空间文件「{name}」", f"the workspace file '{name}'")


def _kind(exc: BaseException) -> str | None:
    """'full', 'readonly', 'io' or None, from a driver error (or one SQLAlchemy wraps)."""
    orig = getattr(exc, "orig", None)  # sqlalchemy.exc.DBAPIError wraps the driver's error
    if isinstance(orig, BaseException) and orig is not exc:
        found = _kind(orig)
        if found is not None:
            return found
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.Error) and isinstance(code, int):
        primary = code & 0xFF
        if primary == _SQLITE_FULL:
            return "full"
        if primary == _SQLITE_READONLY:
            return "readonly"
        if primary == _SQLITE_IOERR:
            return "io"
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return "full"
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return "readonly"
    state = getattr(exc, "sqlstate", None)
    if state in _PG_FULL:
        return "full"
    if state in _PG_READONLY:
        return "readonly"
    text = str(exc).lower()
    if any(word in text for word in _FULL_WORDS):
        return "full"
    if any(word in text for word in _READONLY_WORDS):
        return "readonly"
    if any(word in text for word in _IO_WORDS):
        return "io"
    return None


def storage_failure(exc: BaseException, name: WorkspaceName) -> StoreUnavailable | None:
    """The domain error a driver error means, or None when it is no storage failure.

    Parameters
    ----------
    exc
        A ``sqlite3`` error, a psycopg error, a SQLAlchemy ``DBAPIError`` wrapping either, or an
        ``OSError`` (no space left, a read-only file system, no permission).
    name
        The workspace as messages name it (:func:`workspace_name`).

    Examples
    --------
    >>> err = storage_failure(sqlite3.OperationalError("database or disk is full"),
    ...                       workspace_name("/srv/geo/jiaozuo.gpkg"))
    >>> type(err).__name__, err.en.split(";")[0]
    ('StorageFull', "The disk holding the workspace file 'jiaozuo.gpkg' is full")
    """
    kind = _kind(exc)
    if kind == "full":
        return StorageFull(
            f"{name.zh}所在的磁盘已满，本次写入已撤销，未写入任何内容；请管理员释放磁盘空间后重试",
            f"The disk holding {name.en} is full; the write was undone and nothing was written. "
            "An administrator must free disk space, then try again",
        )
    if kind == "readonly":
        return StorageUnwritable(
            f"{name.zh}是只读的，无法写入，本次写入已撤销，未写入任何内容；请管理员检查其权限、"
            "文件属性或所在磁盘",
            f"{name.en[0].upper()}{name.en[1:]} is read-only and cannot be written; the write was undone "
            "and nothing was written. An administrator must check its permissions, attributes or disk",
        )
    if kind == "io":
        return StorageUnwritable(
            f"读写{name.zh}时发生磁盘错误（disk I/O error），未写入任何内容；请管理员检查文件属性"
            "（如不可修改标记）与磁盘",
            f"A disk error (disk I/O error) occurred reading or writing {name.en}; nothing was written. "
            "An administrator must check the file's attributes (such as the immutable flag) and the disk",
        )
    return None
