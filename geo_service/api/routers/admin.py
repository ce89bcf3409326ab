"""Administration: users and roles, the audit log and its export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field

from geo_service.api.audit import note, reason, user_change
from geo_service.api.deps import Body, Offset, parse_moment
from geo_service.api.downloads import content_disposition
from geo_service.errors import InvalidInput
from geo_service.formats.cells import quoted_formula
from geo_service.write_checks import REFERENCES_LOCK

__all__ = ["router"]

router = APIRouter(tags=["admin 管理"])


class NewUser(Body):
    name: str = Field(min_length=1, max_length=64)
    role: str
    password: str | None = Field(default=None, min_length=8, max_length=200)
    crew: str | None = None


class UserChange(Body):
    role: str | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
    crew: str | None = None


def _user_json(u: Any) -> dict[str, Any]:
    return {"name": u.name, "role": u.role, "crew": u.crew, "disabled": u.disabled}


@router.get("/users", summary="用户列表 / List users")
def list_users(request: Request) -> dict[str, Any]:
    return {"users": [_user_json(u) for u in request.app.state.accounts.list_users()]}


def _known_crew(request: Request, crew: str | None) -> None:
    """A crew account's crew must be one of the crews layer (its routes are found by that name). Called
    with the store's reference lock held, together with the account write: a crew deleted meanwhile
    (which checks the accounts under the same lock) cannot slip between the check and the write."""
    if crew is None:
        return
    names = {str(v) for v in request.app.state.workspace.frame("crews")["crew"].dropna()}
    if crew not in names:
        raise InvalidInput(
            f"班组「{crew}」不在班组图层中", f"Crew '{crew}' is not in the crews layer", field="crew"
        )


def _crew_lock(request: Request) -> AbstractContextManager[object]:
    return request.app.state.workspace.store.exclusive(REFERENCES_LOCK)


@router.post("/users", status_code=201, summary="新增用户 / Add a user")
def add_user(request: Request, body: NewUser) -> dict[str, Any]:
    with _crew_lock(request):
        _known_crew(request, body.crew)
        user = request.app.state.accounts.add_user(
            body.name, body.role, password=body.password, crew=body.crew
        )
    note(
        request,
        user=user.name,
        created={"role": user.role, "crew": user.crew, "password": body.password is not None},
    )
    return _user_json(user)


@router.patch("/users/{name}", summary="修改用户（角色、停用、密码）/ Change a user")
def change_user(request: Request, name: str, body: UserChange) -> dict[str, Any]:
    accounts = request.app.state.accounts
    with _crew_lock(request):
        before = accounts.get_user(name)
        _known_crew(request, body.crew if body.crew is not None or body.role != "crew" else before.crew)
        user = accounts.update_user(
            name, role=body.role, disabled=body.disabled, password=body.password, crew=body.crew
        )
    note(request, user=name, changes=user_change(before, user, password=body.password is not None))
    return _user_json(user)


@router.get("/users/{name}/tokens", summary="用户的令牌 / A user's tokens")
def user_tokens(request: Request, name: str) -> dict[str, Any]:
    """The user's tokens not yet expired (sessions and API tokens), each with the id to revoke it by."""
    return {"user": name, "tokens": request.app.state.accounts.list_tokens(name)}


@router.delete(
    "/users/{name}/tokens/{token_id}", summary="吊销用户的一个令牌 / Revoke one of a user's tokens"
)
def revoke_user_token(request: Request, name: str, token_id: str) -> dict[str, Any]:
    """End one token (a lost laptop's), leaving the user's others and the account as they are."""
    revoked = request.app.state.accounts.revoke_user_token(name, token_id)
    note(request, revoked=revoked)
    return {"revoked": revoked}


def _entries(
    request: Request, actor: str | None, since: str | None, until: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = request.app.state.accounts.audit_log(
        actor=actor,
        since=parse_moment(since, name="since", past=True),
        until=parse_moment(until, name="until"),
        limit=limit,
        offset=offset,
    )
    return [
        {
            "id": r.id,
            "at": r.at,
            "actor": r.actor,
            "role": r.role,
            "method": r.method,
            "path": r.path,
            "status": r.status,
            "detail": r.detail,
            "reason": reason(r.detail),  # why it was refused, as the user was told (None: it was not)
        }
        for r in rows
    ]


_FILTERS = (
    "按操作人筛选（`actor`）：用户名精确匹配；`cli`（不区分大小写）为在服务器命令行上执行的全部记录"
    "（记为 `cli:<系统账户>`），`cli:root` 为某一系统账户的记录。`since`、`until` 限定时间。"
    "被拒绝的请求附有拒绝原因 `reason`（“中文 / English”，与用户看到的一致），详见 `detail.refusal`；"
    "因意外错误失败的请求（状态 500）另记错误类别 `detail.error`（不含错误信息），参考编号可在服务器日志中查到堆栈。"
    " Filter by `actor`: a user's name, exactly; `cli` (any case) every row made on the server's command"
    " line (recorded as `cli:<system account>`), `cli:root` those of one system account. `since` and"
    " `until` bound the time. A refused request says why in `reason` ('中文 / English', as its user was"
    " told; `detail.refusal` holds the code, title and detail in each language). A request that failed"
    " with an unexpected error (status 500) also names the error's class in `detail.error` (never its"
    " message); its reference finds the stack trace in the server's log."
)
Actor = Annotated[
    str | None,
    Query(
        max_length=200,
        description="用户名，或 cli（命令行的全部记录）、cli:<系统账户> / a user's name, or cli (every"
        " command-line row), cli:<system account>",
    ),
]


@router.get("/audit", summary="审计日志 / Audit log", description=_FILTERS)
def audit_log(
    request: Request,
    actor: Actor = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    offset: Offset = 0,
) -> dict[str, Any]:
    return {"entries": _entries(request, actor, since, until, limit, offset)}


@router.get("/audit/export", summary="导出审计日志 / Export the audit log", description=_FILTERS)
def audit_export(
    request: Request,
    f: str = "csv",
    actor: Actor = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    entries = _entries(request, actor, since, until, 1_000_000, 0)
    note(request, download="audit", rows=len(entries))
    # named for the moment it was taken, as the command line names its backups (a second download does
    # not overwrite the first); the JSON form had no name at all
    name = f"audit-{_stamp()}.{f}"
    if f == "json":
        return Response(
            json.dumps(entries, ensure_ascii=False),
            media_type="application/json",
            headers={"Content-Disposition": content_disposition(name, fallback=name)},
        )
    if f != "csv":
        raise InvalidInput(
            f"导出格式「{f}」不支持，可用 csv、json",
            f"Format '{f}' is not supported; use csv or json",
            field="f",
        )
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=["id", "at", "actor", "role", "method", "path", "status", "reason", "detail"]
    )
    writer.writeheader()
    for e in entries:
        row = {
            **e,
            "reason": e["reason"] or "",
            "detail": json.dumps(e["detail"], ensure_ascii=False) if e["detail"] else "",
        }
        # a failed login's user name is anyone's text: =HYPERLINK(…) must not be a formula in the admin's sheet
        writer.writerow({k: quoted_formula(v) for k, v in row.items()})
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(name, fallback=name)},
    )


@router.get("/backup", summary="下载整个工作空间备份 / Download a backup of the whole workspace")
def download_backup(request: Request) -> Response:
    from geo_service.backup import create_backup
    from geo_service.siting import rules_path

    data = create_backup(
        request.app.state.workspace.store,
        request.app.state.accounts,
        rules_file=rules_path(request.app.state.settings),
    )
    name = f"geo-service-backup-{_stamp()}.zip"  # as `geo-service backup create DIR` names them
    note(request, download="backup", bytes=len(data))
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(name, fallback=name)},
    )


@router.post(
    "/backup/restore",
    status_code=201,
    summary="恢复备份到空工作空间 / Restore a backup into an empty workspace",
)
async def upload_backup(request: Request, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    from geo_service.backup import restore_backup

    data = await file.read()
    # read, checked and loaded in a worker thread: a city's backup takes seconds
    done = await run_in_threadpool(
        restore_backup,
        data,
        request.app.state.workspace.store,
        request.app.state.accounts,
        settings=request.app.state.settings,
    )
    note(request, restored=done.features, rules=done.rules.status)
    return {
        "restored": dict(done.counts),
        "rules": done.rules.as_dict(),
        "declarations": done.declarations.as_dict(),
        "notices": done.notices,
    }


def _stamp() -> str:
    """Now in Beijing time, as a file name holds it: 20261206-150000."""
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y%m%d-%H%M%S")
