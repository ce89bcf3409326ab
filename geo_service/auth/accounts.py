"""Users, tokens and the audit log, kept beside the layers in the workspace's own database.

One SQLAlchemy Core implementation serves both stores: for the embedded store the tables live in the
workspace GeoPackage (SQLite), for PostGIS in the same database. Passwords are argon2id hashes; tokens
and sessions are kept only as SHA-256 digests.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError

from geo_service.auth.passwords import hash_password, new_token, token_digest, verify_password
from geo_service.auth.roles import ROLES
from geo_service.errors import Conflict, InvalidInput, NotFound, StoreUnavailable

__all__ = [
    "CLI_ACTOR",
    "AccountStore",
    "AuditEntry",
    "SignInLedger",
    "User",
    "account_url",
    "actor_filter",
    "user_change",
]

_TZ = ZoneInfo("Asia/Shanghai")
metadata = sa.MetaData(
    naming_convention={"pk": "pk_%(table_name)s", "ix": "ix_%(table_name)s_%(column_0_name)s"}
)

users = sa.Table(
    "geo_users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("crew", sa.String(64)),
    sa.Column("password_hash", sa.String(200)),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)
tokens = sa.Table(
    "geo_tokens",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # api | session
    sa.Column("label", sa.String(200)),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(40)),
)
audit = sa.Table(
    "geo_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16)),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text),
)

sign_in_streaks = sa.Table(
    "geo_sign_in_streaks",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("client", sa.String(64), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("last", sa.Float, nullable=False),
)
sign_in_failures = sa.Table(
    "geo_sign_in_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client", sa.String(64), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
)


@dataclass(frozen=True)
class User:
    """A signed-in user."""

    name: str
    role: str
    crew: str | None = None
    disabled: bool = False


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    role: str | None
    method: str
    path: str
    status: int
    detail: Mapping[str, Any] | None


def account_url(workspace: str | None, database_url: str | None) -> str:
    """The SQLAlchemy URL of the accounts tables for a workspace."""
    return database_url if database_url else f"sqlite:///{workspace}"


def _now() -> dt.datetime:
    return dt.datetime.now(_TZ)


class AccountStore:
    """Users, tokens and audit rows. ``cache_s`` bounds how long a token check is remembered."""

    def __init__(self, url: str, *, cache_s: float = 5.0) -> None:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs = {"connect_args": {"timeout": 30, "check_same_thread": False}}
        self.engine = sa.create_engine(url, **kwargs)
        self._cache: dict[str, tuple[float, User | None]] = {}
        self._cache_s = cache_s
        self._lock = threading.Lock()
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except OperationalError as exc:
            raise StoreUnavailable(
                "无法连接账户数据库", f"Cannot reach the accounts database: {exc.orig}"
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    # -- users ------------------------------------------------------------------------------------
    def add_user(self, name: str, role: str, *, password: str | None = None, crew: str | None = None) -> User:
        if (
            not name
            or len(name) > MOST_NAME
            or not name.replace("_", "").replace("-", "").replace(".", "").isalnum()
        ):
            raise InvalidInput(f"用户名「{name}」无效", f"User name '{name}' is invalid", field="name")
        if role not in ROLES:
            raise InvalidInput(
                f"角色「{role}」无效，应为 {', '.join(ROLES)}",
                f"Role '{role}' is not one of {ROLES}",
                field="role",
            )
        if role == "crew" and not crew:
            raise InvalidInput("作业人员账户需要指定班组", "A crew account needs its crew", field="crew")
        if role != "crew" and crew:
            raise _crew_of_another_role(role)
        if password is not None and len(password) < 8:
            raise InvalidInput("密码至少 8 位", "The password needs at least 8 characters", field="password")
        row = {
            "name": name,
            "role": role,
            "crew": crew,
            "disabled": False,
            "created_at": _now().isoformat(),
            "password_hash": hash_password(password) if password else None,
        }
        try:
            with self.engine.begin() as con:
                con.execute(users.insert().values(**row))
        except IntegrityError:
            raise Conflict(f"用户「{name}」已存在", f"User '{name}' exists already", field="name") from None
        return User(name, role, crew)

    def get_user(self, name: str) -> User:
        with self.engine.connect() as con:
            row = con.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"没有用户「{name}」", f"No user '{name}'", field="name")
        return User(row["name"], row["role"], row["crew"], bool(row["disabled"]))

    def list_users(self) -> list[User]:
        with self.engine.connect() as con:
            rows = con.execute(sa.select(users).order_by(users.c.name)).mappings().all()
        return [User(r["name"], r["role"], r["crew"], bool(r["disabled"])) for r in rows]

    def crew_members(self, crew: str) -> list[str]:
        """The accounts (enabled or not) that name ``crew``."""
        with self.engine.connect() as con:
            return list(
                con.execute(
                    sa.select(users.c.name).where(users.c.crew == crew).order_by(users.c.name)
                ).scalars()
            )

    def count_users(self) -> int:
        with self.engine.connect() as con:
            return int(con.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def update_user(
        self,
        name: str,
        *,
        role: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        crew: str | None = None,
    ) -> User:
        current = self.get_user(name)
        values: dict[str, Any] = {}
        if role is not None:
            if role not in ROLES:
                raise InvalidInput(
                    f"角色「{role}」无效", f"Role '{role}' is not one of {ROLES}", field="role"
                )
            values["role"] = role
        if (role or current.role) == "crew" and not (crew or current.crew):
            raise InvalidInput("作业人员账户需要指定班组", "A crew account needs its crew", field="crew")
        if (role or current.role) != "crew" and crew:
            raise _crew_of_another_role(role or current.role)
        stays_admin = (role or current.role) == "admin" and not (
            disabled if disabled is not None else current.disabled
        )
        if current.role == "admin" and not current.disabled and not stays_admin:
            others = [u for u in self.list_users() if u.role == "admin" and not u.disabled and u.name != name]
            if not others:
                raise Conflict(
                    f"「{name}」是唯一启用的管理员，不能降级或停用",
                    f"'{name}' is the only active admin: it cannot be demoted or disabled",
                    field="role" if role is not None else "disabled",
                )
        if disabled is not None:
            values["disabled"] = disabled
        if crew is not None:
            values["crew"] = crew
        elif role is not None and role != "crew" and current.crew is not None:
            values["crew"] = None  # only crew members name a crew: one who leaves the role leaves it
        if password is not None:
            if len(password) < 8:
                raise InvalidInput(
                    "密码至少 8 位", "The password needs at least 8 characters", field="password"
                )
            values["password_hash"] = hash_password(password)
        if values:
            with self.engine.begin() as con:
                con.execute(users.update().where(users.c.name == name).values(**values))
                if disabled or password is not None:  # a new password ends every session and token of the old
                    con.execute(tokens.delete().where(tokens.c.user_name == name))
        with self._lock:
            self._cache.clear()
        return self.get_user(name)

    # -- tokens -----------------------------------------------------------------------------------
    def issue_token(
        self, name: str, *, kind: str = "api", label: str | None = None, ttl: dt.timedelta | None = None
    ) -> str:
        user = self.get_user(name)
        if user.disabled:
            raise InvalidInput(f"用户「{name}」已停用", f"User '{name}' is disabled", field="name")
        token = new_token()
        expires = None if ttl is None else (_now() + ttl).isoformat()
        with self.engine.begin() as con:
            # expired tokens are of no use to anyone: gone as new ones come
            con.execute(tokens.delete().where(tokens.c.expires_at < _now().isoformat()))
            con.execute(
                tokens.insert().values(
                    digest=token_digest(token),
                    user_name=name,
                    kind=kind,
                    label=label,
                    created_at=_now().isoformat(),
                    expires_at=expires,
                )
            )
        return token

    def revoke_token(self, token: str) -> dict[str, Any] | None:
        """End a token; what it was (its user, kind, label and expiry, for the audit log), or None if
        it was not known."""
        digest = token_digest(token)
        with self.engine.begin() as con:
            row = (
                con.execute(
                    sa.select(tokens.c.user_name, tokens.c.kind, tokens.c.label, tokens.c.expires_at).where(
                        tokens.c.digest == digest
                    )
                )
                .mappings()
                .first()
            )
            con.execute(tokens.delete().where(tokens.c.digest == digest))
        with self._lock:
            self._cache.pop(digest, None)
        return (
            None
            if row is None
            else {"user": row["user_name"], **{k: row[k] for k in ("kind", "label", "expires_at")}}
        )

    def list_tokens(self, name: str) -> list[dict[str, Any]]:
        """A user's tokens that have not expired, newest first: each named by ``id`` (the start of its
        digest: enough to revoke it by, nothing to sign in with), its kind, label and dates."""
        self.get_user(name)  # 404 for no such user
        now = _now().isoformat()
        with self.engine.connect() as con:
            rows = (
                con.execute(
                    sa.select(tokens)
                    .where(tokens.c.user_name == name)
                    .where(sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now))
                    .order_by(tokens.c.created_at.desc())
                )
                .mappings()
                .all()
            )
        return [
            {
                "id": r["digest"][:TOKEN_ID_LENGTH],
                **{k: r[k] for k in ("kind", "label", "created_at", "expires_at")},
            }
            for r in rows
        ]

    def revoke_user_token(self, name: str, token_id: str) -> dict[str, Any]:
        """End the token of ``name`` whose id (see :meth:`list_tokens`) is ``token_id`` (a laptop lost:
        its token, not all the user's); what it was. 404 when the user has no such token."""
        self.get_user(name)
        with self.engine.begin() as con:
            rows = (
                con.execute(
                    sa.select(tokens.c.digest, tokens.c.kind, tokens.c.label, tokens.c.expires_at)
                    .where(tokens.c.user_name == name)
                    .where(tokens.c.digest.startswith(token_id, autoescape=True))
                )
                .mappings()
                .all()
            )
            if len(token_id) < TOKEN_ID_LENGTH or len(rows) != 1:
                raise NotFound(
                    f"用户「{name}」没有编号为 {token_id} 的令牌",
                    f"User '{name}' has no token {token_id}",
                    field="token",
                )
            con.execute(tokens.delete().where(tokens.c.digest == rows[0]["digest"]))
        with self._lock:
            self._cache.pop(rows[0]["digest"], None)
        return {"user": name, "id": token_id, **{k: rows[0][k] for k in ("kind", "label", "expires_at")}}

    def refused_sign_in(self, name: str) -> tuple[str, str, str]:
        """Why a sign-in as ``name`` failed, for the audit log only (the person signing in is told
        no more than "wrong user or password"): (code, Chinese, English)."""
        if not name:
            return "no-name", "未填写用户名或密码", "No user name or password given"
        with self.engine.connect() as con:
            row = con.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        if row is None:
            return "unknown-user", "没有这个用户名", "No account has this name"
        if row["disabled"]:
            return "account-disabled", "账户已停用", "The account is disabled"
        if not row["password_hash"]:
            return "no-password", "账户未设置密码", "The account has no password set"
        return "wrong-password", "密码错误（或未填写）", "Wrong password (or none given)"

    def refused_token(self, token: str) -> tuple[str, str]:
        """Why ``token`` signs nobody in, in Chinese and English: expired (say when), its account
        disabled, or not known (never issued, revoked, or ended by a new password)."""
        with self.engine.connect() as con:
            row = (
                con.execute(
                    sa.select(tokens.c.expires_at, users.c.disabled)
                    .join(users, tokens.c.user_name == users.c.name)
                    .where(tokens.c.digest == token_digest(token))
                )
                .mappings()
                .first()
            )
        if row is not None and row["disabled"]:
            return "该令牌的账户已停用", "The token's account is disabled"
        if row is not None and row["expires_at"] is not None:
            ended = dt.datetime.fromisoformat(row["expires_at"])
            if ended <= _now():
                when = f"{ended.astimezone(_BEIJING):%Y-%m-%d %H:%M}"
                return f"令牌已于 {when}（北京时间）过期，请重新登录或申请新令牌", (
                    f"The token expired at {when} (Beijing time): sign in again or ask for a new one"
                )
        return "令牌无效（未签发、已吊销，或因改密码而失效）", (
            "The token is not valid (never issued, revoked, or ended by a new password)"
        )

    def user_for_token(self, token: str) -> User | None:
        """The user a token belongs to, or None (unknown, expired, or user disabled)."""
        digest = token_digest(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            if hit is not None and now - hit[0] < self._cache_s:
                return hit[1]
        try:
            with self.engine.connect() as con:
                row = (
                    con.execute(
                        sa.select(users, tokens.c.expires_at)
                        .join(tokens, tokens.c.user_name == users.c.name)
                        .where(tokens.c.digest == digest)
                    )
                    .mappings()
                    .first()
                )
        except OperationalError as exc:
            raise StoreUnavailable(
                "账户数据库不可用", f"The accounts database is unavailable: {exc.orig}"
            ) from None
        user = None
        if (
            row is not None
            and not row["disabled"]
            and (row["expires_at"] is None or dt.datetime.fromisoformat(row["expires_at"]) > _now())
        ):
            user = User(row["name"], row["role"], row["crew"])
        with self._lock:
            if len(self._cache) >= _TOKEN_CACHE_MOST:  # bounded: a flood of made-up tokens must not grow it
                self._cache = {d: h for d, h in self._cache.items() if now - h[0] < self._cache_s}
                if len(self._cache) >= _TOKEN_CACHE_MOST:
                    self._cache.clear()
            self._cache[digest] = (now, user)
        return user

    def login(self, name: str, password: str, *, ttl: dt.timedelta = dt.timedelta(hours=12)) -> str | None:
        """A session token for a right name and password, else None."""
        with self.engine.connect() as con:
            row = con.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        if row is None or row["disabled"] or not row["password_hash"]:
            # one check against a hash made once, as long as a real one: an unknown name answers no
            # faster or slower than a wrong password (it hashed and checked, twice the time)
            verify_password(_dummy_hash(), password)
            return None
        if not verify_password(row["password_hash"], password):
            return None
        self._forget_ended_sessions()
        return self.issue_token(name, kind="session", ttl=ttl)

    def _forget_ended_sessions(self) -> None:
        """Delete session tokens past their expiry (each sign-in adds one: years of them otherwise)."""
        now = _now()
        with self.engine.begin() as con:
            rows = con.execute(
                sa.select(tokens.c.digest, tokens.c.expires_at).where(tokens.c.kind == "session")
            ).all()
            ended = [d for d, at in rows if at is not None and dt.datetime.fromisoformat(at) <= now]
            for lo in range(0, len(ended), 500):
                con.execute(tokens.delete().where(tokens.c.digest.in_(ended[lo : lo + 500])))

    # -- audit ------------------------------------------------------------------------------------
    def record(
        self,
        *,
        actor: str,
        role: str | None,
        method: str,
        path: str,
        status: int,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        with self.engine.begin() as con:
            con.execute(
                audit.insert().values(
                    at=_now().isoformat(),
                    actor=shortened(actor),  # (a sign-in tried with a 15 MB "name" must not fill the disk)
                    role=role,
                    method=method,
                    path=path[:500],
                    status=status,
                    detail=None if detail is None else json.dumps(detail, ensure_ascii=False, default=str),
                )
            )

    def audit_log(
        self,
        *,
        actor: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """The newest rows first; ``actor`` as :func:`actor_filter` reads it, ``since`` (inclusive) and
        ``until`` (exclusive) bound the time."""
        q = sa.select(audit).order_by(audit.c.id.desc())
        if actor:
            q = q.where(actor_filter(actor))
        if since:
            q = q.where(audit.c.at >= since.astimezone(_TZ).isoformat())
        if until:
            q = q.where(audit.c.at < until.astimezone(_TZ).isoformat())
        with self.engine.connect() as con:
            rows = con.execute(q.limit(limit).offset(offset)).mappings().all()
        return [
            AuditEntry(
                r["id"],
                r["at"],
                r["actor"],
                r["role"],
                r["method"],
                r["path"],
                r["status"],
                None if r["detail"] is None else json.loads(r["detail"]),
            )
            for r in rows
        ]

    # -- failed sign-ins ----------------------------------------------------------------------------
    def sign_in_ledger(self) -> SignInLedger:
        """Failed sign-ins counted in these tables: the throttle's ledger shared by every worker."""
        return SignInLedger(self.engine)

    # -- backups ----------------------------------------------------------------------------------
    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Users (with password hashes), API tokens (digests) and the audit log, for a backup."""
        with self.engine.connect() as con:
            return {
                "users": [dict(r) for r in con.execute(sa.select(users).order_by(users.c.name)).mappings()],
                "tokens": [
                    dict(r)
                    for r in con.execute(
                        sa.select(tokens).where(tokens.c.kind == "api").order_by(tokens.c.digest)
                    ).mappings()
                ],
                "audit": [dict(r) for r in con.execute(sa.select(audit).order_by(audit.c.id)).mappings()],
            }

    def load(self, state: Mapping[str, list[dict[str, Any]]]) -> None:
        """Restore :meth:`dump` output: users and tokens not present yet are added (existing accounts, such
        as the admin doing the restore, are kept as they are); the audit rows are appended."""
        with self.engine.begin() as con:
            names = set(con.execute(sa.select(users.c.name)).scalars())
            digests = set(con.execute(sa.select(tokens.c.digest)).scalars())
            new_users = [dict(r) for r in state.get("users") or [] if r["name"] not in names]
            new_tokens = [dict(r) for r in state.get("tokens") or [] if r["digest"] not in digests]
            rows = [{k: v for k, v in dict(r).items() if k != "id"} for r in state.get("audit") or []]
            for table, batch in ((users, new_users), (tokens, new_tokens), (audit, rows)):
                if batch:
                    con.execute(table.insert(), batch)
        with self._lock:
            self._cache.clear()


CLI_ACTOR = "cli"  # an audit row made on the server's command line names ``cli:<system account>``


def actor_filter(actor: str) -> sa.ColumnElement[bool]:
    """The audit rows an administrator means by ``actor``.

    ``cli`` (in any case, or ``cli:``) is every row made on the server's command line, whichever system
    account ran it (and a user named so, if there is one); ``cli:<account>`` the command line's rows of
    that system account (``CLI:root`` too). Anything else is a user's name, exactly. Only rows the
    command line wrote (method ``CLI``) count as its own: a sign-in tried with the name ``cli:root`` is
    not one.
    """
    head, _, account = actor.partition(":")
    if head.lower() != CLI_ACTOR:
        return audit.c.actor == actor
    on_the_command_line = audit.c.method == "CLI"
    if account:  # (a user's name never holds ':')
        return sa.and_(on_the_command_line, audit.c.actor == f"{CLI_ACTOR}:{account}")
    return sa.or_(on_the_command_line, audit.c.actor == head)


class SignInLedger:
    """A :class:`geo_service.auth.throttle.Ledger` in the accounts database: each failure is one
    statement's worth of rows, so workers counting at once count every failure; rows older than the
    window are dropped as failures come in."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert

    def streak(self, name: str, client: str, now: float, window_s: float) -> tuple[int, float]:
        t = sign_in_streaks
        with self.engine.connect() as con:
            row = con.execute(
                sa.select(t.c.count, t.c.last).where(t.c.name == name, t.c.client == client)
            ).first()
        if row is None or now - row[1] >= window_s:  # none, or a quiet window: forgotten
            return 0, 0.0
        return int(row[0]), float(row[1])

    def recent(self, client: str, now: float, window_s: float) -> list[float]:
        t = sign_in_failures
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(t.c.at).where(t.c.client == client, t.c.at > now - window_s).order_by(t.c.at)
            )
            return [float(at) for at in rows.scalars()]

    def failed(self, name: str, client: str, now: float, window_s: float) -> None:
        t = sign_in_streaks
        new = self._insert(t).values(name=name, client=client, count=1, last=now)
        # one more in a row, or the first of a new streak after a quiet window: in one statement, so two
        # workers counting the same pair at once both count
        renewed = sa.case((new.excluded.last - t.c.last >= window_s, 1), else_=t.c.count + 1)
        with (
            self.engine.begin() as con
        ):  # the failure: its own rows only (two workers never wait on each other)
            con.execute(
                new.on_conflict_do_update(
                    index_elements=[t.c.name, t.c.client], set_={"count": renewed, "last": new.excluded.last}
                )
            )
            con.execute(sign_in_failures.insert().values(client=client, at=now))
        try:  # then the rows past the window, apart: two workers clearing at once could deadlock
            with self.engine.begin() as con:
                con.execute(sign_in_failures.delete().where(sign_in_failures.c.at <= now - window_s))
                con.execute(t.delete().where(t.c.last <= now - window_s))
        except OperationalError:  # (a deadlock, a busy database): the next failure clears them
            pass

    def succeeded(self, name: str, client: str) -> None:
        t = sign_in_streaks
        with self.engine.begin() as con:
            con.execute(t.delete().where(t.c.name == name, t.c.client == client))


_TOKEN_CACHE_MOST = 10_000  # token checks remembered at once


@functools.cache
def _dummy_hash() -> str:
    return hash_password("timing-equaliser")


_BEIJING = ZoneInfo("Asia/Shanghai")
MOST_NAME = 64  # characters of a user name (and of the actor an audit row names)
TOKEN_ID_LENGTH = 12  # hex digits of a token's digest that name it to an administrator


def shortened(name: str, *, most: int = MOST_NAME) -> str:
    """``name`` as an audit row keeps it: at most ``most`` characters (:data:`MOST_NAME` for a name), a
    longer one cut with …"""
    return name if len(name) <= most else name[: most - 1] + "…"


def _crew_of_another_role(role: str) -> InvalidInput:
    """Only crew accounts name a crew (a viewer naming one kept the crew from being deleted)."""
    return InvalidInput(
        f"只有作业人员（crew）账户可以指定班组，{role} 账户不能",
        f"Only crew accounts name a crew; a {role} account cannot",
        field="crew",
    )


def user_change(before: User, after: User, *, password: bool) -> dict[str, Any]:
    """What a change of an account changed, as ``{field: {"from": …, "to": …}}`` (a new password is
    noted as set, never itself)."""
    changes: dict[str, Any] = {
        field: {"from": getattr(before, field), "to": getattr(after, field)}
        for field in ("role", "crew", "disabled")
        if getattr(before, field) != getattr(after, field)
    }
    if password:
        changes["password"] = "changed"
    return changes
