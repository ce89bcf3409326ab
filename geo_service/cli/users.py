"""``geo-service users …``: the first admin and other accounts (there is no default password)."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys

from geo_service.auth.accounts import AccountStore, account_url, user_change
from geo_service.catalog import load_catalog
from geo_service.cli.audit import record_cli
from geo_service.cli.workspace import _common, _settings
from geo_service.errors import InvalidInput
from geo_service.store import open_store
from geo_service.store.base import Store
from geo_service.write_checks import REFERENCES_LOCK

__all__ = ["register"]


def _accounts(args: argparse.Namespace) -> AccountStore:
    settings = _settings(args)
    # open the workspace first, so that a new GeoPackage is created as one (with every layer)
    open_store(settings, load_catalog(settings.layers_dir)).close()
    return AccountStore(account_url(str(settings.workspace), settings.database_url))


def _read_password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    try:
        first = getpass.getpass("密码 / password: ")
        again = getpass.getpass("再次输入 / again: ")
    except EOFError:  # no terminal and nothing on stdin
        raise InvalidInput(
            "没有读到密码（可用 --password-stdin 或 --no-password）",
            "No password was read (use --password-stdin or --no-password)",
            field="password",
        ) from None
    if first != again:
        print("两次输入不一致 / passwords differ", file=sys.stderr)
        raise SystemExit(2)
    return first


def _days(text: str) -> int:
    """Days a token lives: 1 to 366, as the API allows (argparse reports anything else)."""
    value = int(text)
    if not 1 <= value <= 366:
        raise ValueError(text)
    return value


def _known_crew(store: Store, crew: str) -> None:
    if crew not in {str(v) for v in store.read_frame("crews")["crew"].dropna()}:
        raise InvalidInput(
            f"班组「{crew}」不在班组图层中", f"Crew '{crew}' is not in the crews layer", field="crew"
        )


def _add(args: argparse.Namespace) -> int:
    if args.role == "crew" and not args.crew:  # before asking for a password
        raise InvalidInput("作业人员账户需要指定班组（--crew）", "A crew account needs --crew", field="crew")
    settings = _settings(args)
    store = open_store(settings, load_catalog(settings.layers_dir))
    accounts = AccountStore(account_url(str(settings.workspace), settings.database_url))
    try:
        password = _read_password(args)
        with store.exclusive(REFERENCES_LOCK):  # as the API does: no crew delete between check and write
            if args.crew is not None:
                _known_crew(store, args.crew)
            user = accounts.add_user(args.name, args.role, password=password, crew=args.crew)
        created = {"role": user.role, "crew": user.crew, "password": password is not None}
        record_cli(accounts, f"users add {user.name}", {"user": user.name, "created": created})
    finally:
        accounts.close()
        store.close()
    print(f"已创建用户 {user.name}（{user.role}）/ created user {user.name} ({user.role})")
    return 0


def _token(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    try:
        token = accounts.issue_token(args.name, label=args.label, ttl=dt.timedelta(days=args.days))
        issued = {"user": args.name, "kind": "api", "label": args.label, "days": args.days}
        record_cli(accounts, f"users token {args.name}", {"issued": issued})
    finally:
        accounts.close()
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    try:
        for u in accounts.list_users():
            print(f"{u.name:20} {u.role:10} {u.crew or '':12} {'disabled' if u.disabled else ''}")
    finally:
        accounts.close()
    return 0


def _tokens(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    try:
        listed = accounts.list_tokens(args.name)
    finally:
        accounts.close()
    for t in listed:
        print(f"{t['id']}  {t['kind']:8} {t['expires_at'] or '':32} {t['label'] or ''}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    try:
        revoked = accounts.revoke_user_token(args.name, args.token_id)
        record_cli(accounts, f"users revoke {args.name} {args.token_id}", {"revoked": revoked})
    finally:
        accounts.close()
    print(f"已吊销 {args.name} 的令牌 {args.token_id} / revoked token {args.token_id} of {args.name}")
    return 0


def _change(args: argparse.Namespace) -> int:
    """``users disable``, ``users enable`` and ``users password``: the account upkeep the API's PATCH
    does, for when the service cannot be reached."""
    accounts = _accounts(args)
    try:
        before = accounts.get_user(args.name)
        password = None
        if args.users_command == "password":
            password = _read_password(args)
            if password is None:
                raise InvalidInput("需要新密码", "A new password is needed", field="password")
            after = accounts.update_user(args.name, password=password)
        else:
            after = accounts.update_user(args.name, disabled=args.users_command == "disable")
        changes = user_change(before, after, password=password is not None)  # as the API's PATCH says it
        record_cli(
            accounts, f"users {args.users_command} {args.name}", {"user": args.name, "changes": changes}
        )
    finally:
        accounts.close()
    said = {
        "password": ("已更改密码", "password changed"),
        "disable": ("已停用", "disabled"),
        "enable": ("已启用", "enabled"),
    }
    zh, en = said[args.users_command]
    print(
        f"{args.name}：{zh}（其登录与令牌随之失效）/ {args.name}: {en} (its sessions and tokens end)"
        if args.users_command != "enable"
        else f"{args.name}：{zh} / {args.name}: {en}"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="账户管理 / accounts").add_subparsers(
        dest="users_command", required=True
    )
    p = users.add_parser("add", help="新增用户 / add a user")
    _common(p)
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=["admin", "planner", "dispatcher", "crew", "viewer"])
    p.add_argument("--crew", help="作业班组（crew 角色必填）")
    p.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码")
    p.add_argument("--no-password", action="store_true", help="仅用 API 令牌登录")
    p.set_defaults(func=_add)
    p = users.add_parser("token", help="签发 API 令牌 / issue an API token")
    _common(p)
    p.add_argument("name")
    p.add_argument("--label")
    p.add_argument("--days", type=_days, default=90, help="1-366")
    p.set_defaults(func=_token)
    p = users.add_parser("list", help="用户列表 / list users")
    _common(p)
    p.set_defaults(func=_list)
    p = users.add_parser("tokens", help="用户未过期的令牌 / a user's tokens")
    _common(p)
    p.add_argument("name")
    p.set_defaults(func=_tokens)
    p = users.add_parser("revoke", help="吊销用户的一个令牌 / revoke one of a user's tokens")
    _common(p)
    p.add_argument("name")
    p.add_argument("token_id", help="users tokens 列出的编号 / the id users tokens lists")
    p.set_defaults(func=_revoke)
    for command, helptext in (
        ("disable", "停用账户（登录与令牌随之失效）/ disable an account"),
        ("enable", "重新启用账户 / enable an account again"),
        ("password", "重设密码（登录与令牌随之失效）/ set a new password"),
    ):
        p = users.add_parser(command, help=helptext)
        _common(p)
        p.add_argument("name")
        if command == "password":
            p.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码")
            p.set_defaults(no_password=False)
        p.set_defaults(func=_change)
