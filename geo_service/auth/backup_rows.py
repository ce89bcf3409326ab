"""The accounts part of a backup (``AccountStore.dump``), checked row by row before anything is restored:
a user without a name or role, a token named twice or a column the tables lack would otherwise fail
half-way through the restore."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from geo_service.auth.accounts import audit, tokens, users
from geo_service.auth.roles import ROLES
from geo_service.errors import InvalidInput

__all__ = ["checked_accounts"]

MEMBER = "accounts.json"

# each list of the dump: its table, the column that must be unique, and how a row is named
_PARTS: dict[str, tuple[sa.Table, str | None, str, str]] = {
    "users": (users, "name", "用户", "user"),
    "tokens": (tokens, "digest", "令牌", "token"),
    "audit": (audit, None, "审计记录", "audit row"),
}


def _bad(zh: str, en: str, *, field: str | None = None) -> InvalidInput:
    return InvalidInput(
        f"备份中的 {MEMBER}：{zh}",
        f"{MEMBER} in the backup: {en}",
        field=field or "file",
        details={"member": MEMBER},
    )


def checked_accounts(state: Any) -> dict[str, list[dict[str, Any]]]:
    """``state`` as :meth:`AccountStore.load` takes it, or ``InvalidInput`` naming the row and column.

    Examples
    --------
    >>> checked_accounts({"users": [{"role": "viewer", "created_at": "2026-12-06T09:00:00+08:00"}]})
    Traceback (most recent call last):
    ...
    geo_service.errors.InvalidInput: accounts.json in the backup: user 1 has no 'name'
    """
    if not isinstance(state, Mapping):
        raise _bad("应为对象（含 users、tokens、audit）", "should be an object (users, tokens, audit)")
    unknown = sorted(set(state) - set(_PARTS))
    if unknown:
        raise _bad(f"含未知部分 {unknown}", f"holds unknown parts {unknown}")
    out: dict[str, list[dict[str, Any]]] = {}
    for part, (table, unique, zh, en) in _PARTS.items():
        rows = state.get(part) or []
        if not isinstance(rows, list):
            raise _bad(f"{part} 应为列表", f"'{part}' should be a list")
        seen: set[Any] = set()
        for n, row in enumerate(rows, 1):
            if not isinstance(row, Mapping):
                raise _bad(f"第 {n} 个{zh}不是对象", f"{en} {n} is not an object")
            _check_row(table, row, f"第 {n} 个{zh}", f"{en} {n}")
            if unique is not None:
                if row[unique] in seen:
                    raise _bad(
                        f"第 {n} 个{zh}的 {unique}「{row[unique]}」重复",
                        f"{en} {n}: '{unique}' {row[unique]!r} occurs twice",
                        field=unique,
                    )
                seen.add(row[unique])
        out[part] = [dict(r) for r in rows]
    for n, user in enumerate(out["users"], 1):
        if user["role"] not in ROLES:
            raise _bad(
                f"第 {n} 个用户的角色「{user['role']}」无效",
                f"user {n} has the unknown role {user['role']!r}",
                field="role",
            )
    return out


def _check_row(table: sa.Table, row: Mapping[str, Any], zh: str, en: str) -> None:
    extra = sorted(set(row) - set(table.c.keys()))
    if extra:
        raise _bad(f"{zh}含未知列 {extra}", f"{en} has unknown columns {extra}", field=extra[0])
    for col in table.c:
        if table is audit and col.name == "id":  # numbered anew as the rows are appended
            continue
        value = row.get(col.name)
        if value is None:
            if not col.nullable and col.default is None:
                raise _bad(f"{zh}缺少 {col.name}", f"{en} has no '{col.name}'", field=col.name)
            continue
        if not _fits(col.type, value):
            raise _bad(
                f"{zh}的 {col.name} 值无效：{value!r:.60}",
                f"{en}: '{col.name}' cannot be {value!r:.60}",
                field=col.name,
            )
        if col.primary_key and isinstance(value, str) and not value.strip():
            raise _bad(f"{zh}的 {col.name} 为空", f"{en}: '{col.name}' is empty", field=col.name)


def _fits(kind: sa.types.TypeEngine[Any], value: Any) -> bool:
    if isinstance(kind, sa.Boolean):
        return isinstance(value, bool) or value in (0, 1)
    if isinstance(kind, sa.Integer):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(kind, sa.Float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(kind, sa.String):  # Text too
        return isinstance(value, str) and (kind.length is None or len(value) <= kind.length)
    return True
