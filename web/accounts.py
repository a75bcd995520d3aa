"""Accounts: users, password logins with rate limiting, browser sessions and API tokens.

Plain functions over ``engine.db.Database``; no Flask here, so the CLI and the web app
share them. Every write runs in its own unit of work.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.audit import add_at_commit
from engine.db import Database
from engine.errors import Conflict, InvalidInput, LotseError, NotFound
from engine.models import AuditEvent
from web.models import (
    ROLES,
    WORKER_ROLES,
    ApiToken,
    LoginAttempt,
    User,
    UserOffice,
    UserRole,
    UserSession,
)

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,99}")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
_dummy_hash: str | None = None


class UserExists(Conflict):
    code = "USER_EXISTS"


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"


class LoginFailed(LotseError):
    code = "LOGIN_FAILED"


class LoginThrottled(LotseError):
    code = "LOGIN_THROTTLED"


@dataclass(frozen=True)
class Principal:
    """The logged-in user as the web layer sees it (detached from any session)."""

    id: int
    name: str
    display_name: str | None
    roles: frozenset[str]
    offices: tuple[str, ...]

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_worker(self) -> bool:
        """Works office queues (claims and completes tasks)."""
        return bool(self.roles & WORKER_ROLES)

    @property
    def work_offices(self) -> frozenset[str]:
        """Offices whose tasks this user may see and work (empty for non-workers)."""
        return frozenset(self.offices) if self.is_worker else frozenset()

    def leads(self, office: str | None) -> bool:
        return "team_lead" in self.roles and office in self.offices


def principal(user: User) -> Principal:
    """A detached snapshot of ``user``."""
    return Principal(user.id, user.name, user.display_name, user.roles, user.offices)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- passwords
def use_fast_hashing() -> None:
    """Cheap argon2 parameters, for test suites only (never called by the app)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _dummy_hash = None


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    global _dummy_hash
    if stored is None:
        # Same work for unknown users, so timing does not reveal which names exist.
        _dummy_hash = _dummy_hash or _hasher.hash(secrets.token_hex(8))
        stored, ok = _dummy_hash, False
    else:
        ok = True
    try:
        return _hasher.verify(stored, password) and ok
    except (VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------- users
def check_roles_offices(roles: Iterable[str], offices: Iterable[str],
                        known_offices: Iterable[str] | None) -> tuple[list[str], list[str]]:
    """Validate roles and office codes; return them sorted and de-duplicated."""
    roles, offices = sorted(set(roles)), sorted(set(offices))
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise InvalidInput(f"unknown role(s) {', '.join(bad)} (known: {', '.join(ROLES)})")
    if not roles:
        raise InvalidInput("a user needs at least one role")
    if known_offices is not None:
        known = set(known_offices)
        bad = [o for o in offices if o not in known]
        if bad:
            raise InvalidInput(f"unknown office code(s) {', '.join(bad)}")
    if set(roles) & WORKER_ROLES and not offices:
        raise InvalidInput("caseworkers, case managers and team leads need an office")
    return roles, offices


def create_user(db: Database, name: str, *, roles: Iterable[str], offices: Iterable[str] = (),
                password: str | None = None, password_hash: str | None = None,
                display_name: str | None = None, known_offices: Iterable[str] | None = None,
                now: datetime | None = None) -> Principal:
    """Create an active account; raise ``UserExists`` if the name is taken."""
    name = (name or "").strip().lower()
    if not NAME_RE.fullmatch(name):
        raise InvalidInput("user name: 2-100 characters a-z 0-9 . _ - (starting with a letter "
                           "or digit)")
    roles, offices = check_roles_offices(roles, offices, known_offices)
    now = now or utcnow()
    pw_hash = hash_password(password) if password is not None else password_hash
    with db.unit_of_work() as s:
        if s.scalar(select(User.id).where(User.name == name)) is not None:
            raise UserExists(f"user '{name}' exists already", user=name)
        user = User(name=name, display_name=display_name, password_hash=pw_hash, active=True,
                    created_at=now, password_changed_at=now if pw_hash else None,
                    role_rows=[UserRole(role=r) for r in roles],
                    office_rows=[UserOffice(office=o) for o in offices])
        s.add(user)
        s.flush()
        return principal(user)


def _user(s: Session, name: str) -> User:
    user = s.scalar(select(User).where(User.name == (name or "").strip().lower()))
    if user is None:
        raise UserNotFound(f"user '{name}' not found", user=name)
    return user


def get_user(db: Database, name: str) -> Principal:
    """The account ``name`` (active or not)."""
    with db.reader() as s:
        return principal(_user(s, name))


def list_users(db: Database, *, office: str | None = None) -> list[dict]:
    """All accounts (optionally of one office) as plain dicts."""
    q = select(User).order_by(User.name)
    if office is not None:
        q = q.where(User.id.in_(select(UserOffice.user_id).where(UserOffice.office == office)))
    with db.reader() as s:
        return [{"name": u.name, "display_name": u.display_name, "roles": sorted(u.roles),
                 "offices": list(u.offices), "active": u.active} for u in s.scalars(q)]


def set_password(db: Database, name: str, password: str, *, now: datetime | None = None) -> None:
    """Replace the password and end every browser session of the user."""
    pw_hash = hash_password(password)
    with db.unit_of_work() as s:
        user = _user(s, name)
        user.password_hash = pw_hash
        user.password_changed_at = now or utcnow()
        s.execute(delete(UserSession).where(UserSession.user_id == user.id))


def set_active(db: Database, name: str, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions and revokes its tokens."""
    with db.unit_of_work() as s:
        user = _user(s, name)
        user.active = active
        if not active:
            s.execute(delete(UserSession).where(UserSession.user_id == user.id))
            for tok in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                        ApiToken.revoked_at.is_(None))):
                tok.revoked_at = utcnow()


# ---------------------------------------------------------------- login
def authenticate(db: Database, name: str, password: str, *, remote_addr: str | None,
                 max_failures: int = 5, window: timedelta = timedelta(minutes=15),
                 now: datetime | None = None) -> Principal:
    """Check a password login, recording the attempt; raise LoginFailed or LoginThrottled."""
    now = now or utcnow()
    name = (name or "").strip().lower()[:100]
    since = now - window
    # Record the attempt in its own committed transaction, then raise outside of it.
    with db.unit_of_work() as s:
        if _throttled(s, name, remote_addr, since, max_failures):
            s.add(LoginAttempt(name=name, remote_addr=remote_addr, at=now, success=False))
            result: Principal | str = "throttled"
            add_at_commit(s, AuditEvent(at=now, event_type="auth.login_throttled", actor=name))
        else:
            user = s.scalar(select(User).where(User.name == name)) if name else None
            stored = user.password_hash if user is not None and user.active else None
            ok = _verify(stored, password or "")
            s.add(LoginAttempt(name=name, remote_addr=remote_addr, at=now, success=ok))
            add_at_commit(s, AuditEvent(at=now, actor=name,
                                        event_type="auth.login" if ok else "auth.login_failed"))
            if ok:
                if _hasher.check_needs_rehash(stored):
                    user.password_hash = _hasher.hash(password)
                s.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=30)))
                result = principal(user)
            else:
                result = "failed"
    if result == "throttled":
        raise LoginThrottled("too many failed logins; try again later")
    if result == "failed":
        raise LoginFailed("user name or password is wrong")
    return result


def _throttled(s: Session, name: str, remote_addr: str | None, since: datetime,
               max_failures: int) -> bool:
    last_ok = s.scalar(select(func.max(LoginAttempt.at))
                       .where(LoginAttempt.name == name, LoginAttempt.success.is_(True)))
    start = max(since, last_ok) if last_ok is not None else since
    by_name = s.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.name == name, LoginAttempt.success.is_(False), LoginAttempt.at > start))
    if by_name >= max_failures:
        return True
    if remote_addr is None:
        return False
    by_addr = s.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.remote_addr == remote_addr, LoginAttempt.success.is_(False),
        LoginAttempt.at > since))
    return by_addr >= max_failures * 4


# ---------------------------------------------------------------- browser sessions
def open_session(db: Database, user_id: int, *, now: datetime | None = None) -> str:
    """Start a browser session; returns the secret token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    with db.unit_of_work() as s:
        s.add(UserSession(id=_sha(token), user_id=user_id, created_at=now, last_seen_at=now))
    return token


def resolve_session(db: Database, token: str | None, *, idle: timedelta,
                    now: datetime | None = None) -> Principal | None:
    """The user of a live session (touching it), or None when unknown, idle or disabled."""
    if not token or not isinstance(token, str):
        return None
    now = now or utcnow()
    key = _sha(token)
    with db.reader() as s:
        row = s.get(UserSession, key)
        if row is None:
            return None
        user = s.get(User, row.user_id)
        idle_out = now - row.last_seen_at > idle
        stale = now - row.last_seen_at > timedelta(seconds=30)
        found = principal(user) if user is not None and user.active else None
    if found is None or idle_out:
        close_session(db, token)
        return None
    if stale:  # write at most twice a minute per session
        with db.unit_of_work() as s:
            row = s.get(UserSession, key)
            if row is not None:
                row.last_seen_at = now
    return found


def close_session(db: Database, token: str | None) -> None:
    """End a browser session (logout)."""
    if not token or not isinstance(token, str):
        return
    with db.unit_of_work() as s:
        s.execute(delete(UserSession).where(UserSession.id == _sha(token)))


def prune_sessions(db: Database, *, idle: timedelta, now: datetime | None = None) -> int:
    """Delete sessions idle for longer than ``idle``; returns how many."""
    now = now or utcnow()
    with db.unit_of_work() as s:
        res = s.execute(delete(UserSession).where(UserSession.last_seen_at < now - idle))
        return res.rowcount or 0


# ---------------------------------------------------------------- API tokens
TOKEN_PREFIX = "lotse_"


def issue_token(db: Database, name: str, *, label: str | None = None,
                now: datetime | None = None) -> str:
    """Create a bearer token for ``name``; the token is shown once and stored hashed."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.unit_of_work() as s:
        user = _user(s, name)
        if not user.active:
            raise InvalidInput(f"user '{user.name}' is disabled")
        s.add(ApiToken(user_id=user.id, token_hash=_sha(token), label=label,
                       created_at=now or utcnow()))
    return token


def resolve_token(db: Database, token: str | None, *,
                  now: datetime | None = None) -> Principal | None:
    """The active user a bearer token belongs to, or None."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = now or utcnow()
    with db.reader() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _sha(token)))
        if row is None or row.revoked_at is not None:
            return None
        user = s.get(User, row.user_id)
        if user is None or not user.active:
            return None
        found, tok_id = principal(user), row.id
        stale = row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1)
    if stale:
        with db.unit_of_work() as s:
            row = s.get(ApiToken, tok_id)
            if row is not None:
                row.last_used_at = now
    return found


def revoke_tokens(db: Database, name: str) -> int:
    """Revoke every token of ``name``; returns how many."""
    n = 0
    with db.unit_of_work() as s:
        user = _user(s, name)
        for tok in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                    ApiToken.revoked_at.is_(None))):
            tok.revoked_at = utcnow()
            n += 1
    return n
