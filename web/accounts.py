"""Accounts: users, password logins with rate limiting, browser sessions and API tokens.

Plain functions over ``engine.db.Database``; no Flask here, so the CLI and the web app
share them. Every write runs in its own unit of work.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, delete, func, select, update
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
from web.queries import reading as _reading

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
                now: datetime | None = None, by: Principal | None = None) -> Principal:
    """Create an active account; raise ``UserExists`` if the name is taken. ``by`` (an
    administrator, operations console or API) is audited as ``auth.user_created``."""
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
        if by is not None:
            _audit_account(s, "auth.user_created", by, name, roles=roles, offices=offices)
        return principal(user)


def _audit_account(s: Session, event_type: str, by: Principal, name: str, **details) -> None:
    """An administrator's change of an account: names, roles and office codes only (never
    a password, its hash or a display name)."""
    add_at_commit(s, AuditEvent(at=utcnow(), event_type=event_type, actor=by.name,
                                details={"user": name, **details}))


class SelfLockout(Conflict):
    """An administrator may not disable their own account or take their own admin role
    (someone must be left who can undo it)."""

    code = "SELF_LOCKOUT"


def _user(s: Session, name: str) -> User:
    key = (name or "").strip().lower() if isinstance(name, str) else ""
    # a name no account can have is not looked up (nor sent to the database: NUL bytes)
    user = s.scalar(select(User).where(User.name == key)) if NAME_RE.fullmatch(key) else None
    if user is None:
        raise UserNotFound(f"user '{name}' not found", user=name)
    return user


def get_user(db: Database, name: str) -> Principal:
    """The account ``name`` (active or not)."""
    with db.reader() as s:
        return principal(_user(s, name))


def account(db: Database, name: str) -> dict:
    """One account as a plain dict (name, display name, roles, offices, active, created,
    password changed); never the password hash."""
    with db.reader() as s:
        u = _user(s, name)
        return {"name": u.name, "display_name": u.display_name, "roles": sorted(u.roles),
                "offices": list(u.offices), "active": bool(u.active),
                "created_at": u.created_at, "password_changed_at": u.password_changed_at}


def set_access(db: Database, name: str, *, roles: Iterable[str], offices: Iterable[str],
               known_offices: Iterable[str] | None = None,
               by: Principal | None = None) -> dict:
    """Replace the roles and offices of an account (one unit of work; audited as
    ``auth.user_changed`` with the old and new roles and offices when ``by`` is given).
    The account's sessions and tokens keep working with the new rights."""
    roles, offices = check_roles_offices(roles, offices, known_offices)
    with db.unit_of_work() as s:
        user = _user(s, name)
        if by is not None and user.id == by.id and "admin" in user.roles \
                and "admin" not in roles:
            raise SelfLockout("Sie können sich die Rolle admin nicht selbst nehmen / you "
                              "cannot take the admin role from yourself", user=user.name)
        before = {"roles": sorted(user.roles), "offices": list(user.offices)}
        user.role_rows = ([r for r in user.role_rows if r.role in roles]
                          + [UserRole(role=r) for r in roles if r not in user.roles])
        user.office_rows = ([o for o in user.office_rows if o.office in offices]
                            + [UserOffice(office=o) for o in offices
                               if o not in user.offices])
        uid, uname = user.id, user.name
        if by is not None:
            _audit_account(s, "auth.user_changed", by, uname, before=before,
                           roles=roles, offices=offices)
    _forget(db, user_id=uid)
    return account(db, uname)


def get_active_user(db: Database, name: str) -> Principal:
    """The active account ``name``; ``InvalidInput`` when it is disabled."""
    with db.reader() as s:
        user = _user(s, name)
        if not user.active:
            raise InvalidInput(f"Konto '{user.name}' ist gesperrt / user '{user.name}' is "
                               "disabled")
        return principal(user)


def list_users(db: Database, *, office: str | None = None,
               s: Session | None = None) -> list[dict]:
    """All accounts (optionally of one office) as plain dicts, in one statement (in the
    reader session ``s`` when given)."""
    q = (select(User.id, User.name, User.display_name, User.active, UserRole.role,
                UserOffice.office)
         .outerjoin(UserRole, UserRole.user_id == User.id)
         .outerjoin(UserOffice, UserOffice.user_id == User.id)
         .order_by(User.name))
    if office is not None:
        q = q.where(User.id.in_(select(UserOffice.user_id).where(UserOffice.office == office)))
    out: dict[int, dict] = {}
    with _reading(db, s) as rs:
        for uid, name, display, active, role, off in rs.execute(q):
            u = out.get(uid)
            if u is None:
                u = out[uid] = {"name": name, "display_name": display, "roles": set(),
                                "offices": set(), "active": active}
            if role is not None:
                u["roles"].add(role)
            if off is not None:
                u["offices"].add(off)
    return [{**u, "roles": sorted(u["roles"]), "offices": sorted(u["offices"])}
            for u in out.values()]


def set_password(db: Database, name: str, password: str, *, now: datetime | None = None,
                 by: Principal | None = None) -> None:
    """Replace the password and end every browser session of the user (audited as
    ``auth.password_reset`` when an administrator ``by`` does it)."""
    pw_hash = hash_password(password)
    with db.unit_of_work() as s:
        user = _user(s, name)
        user.password_hash = pw_hash
        user.password_changed_at = now or utcnow()
        s.execute(delete(UserSession).where(UserSession.user_id == user.id))
        uid = user.id
        if by is not None:
            _audit_account(s, "auth.password_reset", by, user.name)
    _forget(db, user_id=uid)  # after the commit: a reader in between would cache the old


def set_active(db: Database, name: str, active: bool, *,
               by: Principal | None = None) -> None:
    """Enable or disable an account; disabling ends its sessions and revokes its tokens.
    An administrator ``by`` cannot disable their own account (``SelfLockout``); their
    change is audited as ``auth.user_enabled`` / ``auth.user_disabled``."""
    with db.unit_of_work() as s:
        user = _user(s, name)
        if by is not None and not active and user.id == by.id:
            raise SelfLockout("Sie können Ihr eigenes Konto nicht sperren / you cannot "
                              "disable your own account", user=user.name)
        user.active = active
        uid = user.id
        revoked = 0
        if not active:
            s.execute(delete(UserSession).where(UserSession.user_id == user.id))
            for tok in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                        ApiToken.revoked_at.is_(None))):
                tok.revoked_at = utcnow()
                revoked += 1
        if by is not None:
            _audit_account(s, "auth.user_enabled" if active else "auth.user_disabled", by,
                           user.name, **({} if active else {"tokens_revoked": revoked}))
    _forget(db, user_id=uid)


# ---------------------------------------------------------------- login
# Audited as the actor of a login by a name that is no account (the typed text may be a
# password typed into the wrong field: it is never stored).
UNKNOWN_ACTOR = "unbekannt/unknown"
# Back-off starts after this many failures of one (address, name) and doubles per further
# failure (1 s, 2 s, 4 s ...) up to ``window``; failures older than this do not count.
FAILURE_MEMORY = timedelta(hours=24)


def _attempt_key(name: str, known: bool) -> str:
    """What a login attempt stores as its name: the account name, or for a name that is no
    account a hash of the typed text (throttling needs to tell names apart, not read them)."""
    return name if known else "h:" + _sha(name)[:40]


def authenticate(db: Database, name: str, password: str, *, remote_addr: str | None,
                 max_failures: int = 5, window: timedelta = timedelta(minutes=15),
                 address_max_failures: int = 200,
                 now: datetime | None = None) -> Principal:
    """Check a password login, recording the attempt; raise LoginFailed or LoginThrottled.

    Throttling is per (address, name): after ``max_failures`` failures in a row the next
    attempt must wait 1 s, then 2 s, 4 s ... at most ``window``; an attempt refused while
    waiting is not recorded, so it does not extend the wait. Other names behind the same
    address (a municipal NAT) are not affected, unless the address as a whole failed
    ``address_max_failures`` times within ``window`` (password spraying)."""
    now = now or utcnow()
    name = (name or "").strip().lower()[:100]
    # Record the attempt in its own committed transaction, then raise outside of it.
    with db.unit_of_work() as s:
        user = s.scalar(select(User).where(User.name == name)) if name else None
        key = _attempt_key(name, user is not None)
        actor = name if user is not None else UNKNOWN_ACTOR
        if _throttled(s, key, remote_addr, now, max_failures=max_failures, window=window,
                      address_max_failures=address_max_failures):
            result: Principal | str = "throttled"
            add_at_commit(s, AuditEvent(at=now, event_type="auth.login_throttled",
                                        actor=actor))
        else:
            stored = user.password_hash if user is not None and user.active else None
            ok = _verify(stored, password or "")
            s.add(LoginAttempt(name=key, remote_addr=remote_addr, at=now, success=ok))
            add_at_commit(s, AuditEvent(at=now, actor=actor,
                                        event_type="auth.login" if ok else "auth.login_failed"))
            if ok:
                # _verify is False without a stored hash, which needs an active user
                assert user is not None and stored is not None
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
    assert isinstance(result, Principal)  # the two other outcomes raised above
    return result


def backoff(failures: int, max_failures: int, window: timedelta) -> timedelta:
    """How long after the last failure the next attempt must wait (0 below the limit)."""
    if failures < max_failures:
        return timedelta(0)
    step = failures - max_failures
    cap = window.total_seconds()
    return timedelta(seconds=cap if step >= 32 else min(2.0 ** step, cap))


def _throttled(s: Session, key: str, remote_addr: str | None, now: datetime, *,
               max_failures: int, window: timedelta, address_max_failures: int) -> bool:
    pair = LoginAttempt.name == key
    pair &= (LoginAttempt.remote_addr == remote_addr if remote_addr is not None
             else LoginAttempt.remote_addr.is_(None))
    last_ok = s.scalar(select(func.max(LoginAttempt.at)).where(
        pair, LoginAttempt.success.is_(True)))
    start = now - FAILURE_MEMORY
    if last_ok is not None and last_ok > start:
        start = last_ok
    failures, last_failure = s.execute(
        select(func.count(), func.max(LoginAttempt.at)).select_from(LoginAttempt).where(
            pair, LoginAttempt.success.is_(False), LoginAttempt.at > start)).one()
    if last_failure is not None and now < last_failure + backoff(failures, max_failures,
                                                                 window):
        return True
    if remote_addr is None:
        return False
    by_addr = s.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.remote_addr == remote_addr, LoginAttempt.success.is_(False),
        LoginAttempt.at > now - window))
    return (by_addr or 0) >= address_max_failures  # count() is never NULL


# ---------------------------------------------------------------- who is asking
# A session's "last seen" and a token's "last used" are written at most once a minute.
TOUCH_EVERY = timedelta(minutes=1)
DEFAULT_AUTH_CACHE_SECONDS = 5.0


@dataclass
class _Cached:
    principal: Principal
    loaded: float  # AuthCache.clock() when read from the database
    row_id: str | int  # session id (hash) or token id
    touched: datetime  # last_seen_at / last_used_at as known to this process
    created: datetime | None = None  # the session's / token's creation (absolute lifetime)


class AuthCache:
    """Per-process memory of resolved sessions and tokens, keyed by the SHA-256 of the secret.

    An entry answers for at most ``ttl`` seconds after it was read from the database; then
    the next request reads it again. So a token revoked, a session ended or an account
    disabled by *another* process (CLI, another gunicorn worker) is refused within ``ttl``
    seconds; changes made through ``web.accounts`` in this process drop the entries at once.
    ``ttl`` 0 turns the cache off. Unknown secrets are never cached. ``clock`` is the seam
    tests move (monotonic seconds).
    """

    def __init__(self, ttl: float = DEFAULT_AUTH_CACHE_SECONDS, *,
                 clock=time.monotonic, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> _Cached | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and self.clock() - hit.loaded > self.ttl:
                del self._entries[key]
                return None
            return hit

    def put(self, key: str, entry: _Cached) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = self.clock()
                for k in [k for k, e in self._entries.items() if now - e.loaded > self.ttl]:
                    del self._entries[k]
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = entry

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def drop_user(self, user_id: int) -> None:
        with self._lock:
            for k in [k for k, e in self._entries.items() if e.principal.id == user_id]:
                del self._entries[k]

    def __len__(self) -> int:
        return len(self._entries)


_caches: weakref.WeakKeyDictionary[Database, AuthCache] = weakref.WeakKeyDictionary()


def auth_cache(db: Database, ttl: float | None = None) -> AuthCache:
    """The cache of resolved sessions and tokens of ``db`` in this process (created on first
    use; ``ttl`` sets its lifetime in seconds)."""
    cache = _caches.get(db)
    if cache is None:
        cache = _caches[db] = AuthCache(DEFAULT_AUTH_CACHE_SECONDS if ttl is None else ttl)
    elif ttl is not None:
        cache.ttl = ttl
    return cache


def _forget(db: Database, *, key: str | None = None, user_id: int | None = None) -> None:
    cache = _caches.get(db)
    if cache is None:
        return
    if key is not None:
        cache.drop(key)
    if user_id is not None:
        cache.drop_user(user_id)


def _who(db: Database, lead, where) -> tuple | None:
    """One statement: ``lead`` columns of the session/token row joined to its user, plus
    every role and office of that user (outer joins: roles x offices rows, a handful)."""
    q = (select(*lead, User.id, User.name, User.display_name, User.active,
                UserRole.role, UserOffice.office)
         .join(User, User.id == lead[0].class_.user_id)
         .outerjoin(UserRole, UserRole.user_id == User.id)
         .outerjoin(UserOffice, UserOffice.user_id == User.id)
         .where(where))
    with db.reader() as s:
        rows = s.execute(q).all()
    if not rows:
        return None
    n = len(lead)
    first = rows[0]
    uid, name, display, active = first[n:n + 4]
    roles = frozenset(r[n + 4] for r in rows if r[n + 4] is not None)
    offices = tuple(sorted({r[n + 5] for r in rows if r[n + 5] is not None}))
    return tuple(first[:n]), Principal(uid, name, display, roles, offices), bool(active)


# ---------------------------------------------------------------- browser sessions
def open_session(db: Database, user_id: int, *, now: datetime | None = None) -> str:
    """Start a browser session; returns the secret token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    with db.unit_of_work() as s:
        s.add(UserSession(id=_sha(token), user_id=user_id, created_at=now, last_seen_at=now))
    return token


def resolve_session(db: Database, token: str | None, *, idle: timedelta,
                    now: datetime | None = None, cache: AuthCache | None = None,
                    max_age: timedelta | None = None) -> Principal | None:
    """The user of a live session, or None when unknown, idle, older than ``max_age``
    (absolute lifetime) or disabled (then the session row is deleted). "Last seen" is
    written when older than a minute. With ``cache``, a session read within its ttl
    answers without a query."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    now = now or utcnow()
    key = _sha(token)
    hit = cache.get(key) if cache is not None else None
    if hit is not None and max_age is not None and hit.created is not None \
            and now - hit.created > max_age:
        close_session(db, token)
        return None
    if hit is not None and now - hit.touched <= idle:
        if now - hit.touched > TOUCH_EVERY:
            _touch_session(db, key, now)
            hit.touched = now
        return hit.principal
    found = _who(db, (UserSession.id, UserSession.last_seen_at, UserSession.created_at),
                 UserSession.id == key)
    if found is None:
        return None
    (_, last_seen, created), who, active = found
    if not active or now - last_seen > idle or (max_age is not None
                                               and now - created > max_age):
        close_session(db, token)
        return None
    if now - last_seen > TOUCH_EVERY:
        _touch_session(db, key, now)
        last_seen = now
    if cache is not None:
        cache.put(key, _Cached(who, cache.clock(), key, last_seen, created))
    return who


def _touch_session(db: Database, key: str, now: datetime) -> None:
    with db.unit_of_work() as s:
        s.execute(update(UserSession).where(UserSession.id == key).values(last_seen_at=now))


def close_session(db: Database, token: str | None) -> None:
    """End a browser session (logout)."""
    if not token or not isinstance(token, str):
        return
    key = _sha(token)
    with db.unit_of_work() as s:
        s.execute(delete(UserSession).where(UserSession.id == key))
    _forget(db, key=key)


def prune_sessions(db: Database, *, idle: timedelta, now: datetime | None = None) -> int:
    """Delete sessions idle for longer than ``idle``; returns how many."""
    now = now or utcnow()
    with db.unit_of_work() as s:
        res = s.execute(delete(UserSession).where(UserSession.last_seen_at < now - idle))
        # a DELETE's result is a CursorResult (Session.execute is typed as returning Result)
        return cast(CursorResult[Any], res).rowcount or 0


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


def resolve_token(db: Database, token: str | None, *, now: datetime | None = None,
                  cache: AuthCache | None = None,
                  max_age: timedelta | None = None) -> Principal | None:
    """The active user a bearer token belongs to, or None (also when it was issued more
    than ``max_age`` ago: expired). One statement (token, user, roles and offices joined);
    none when ``cache`` holds the token from within its ttl. "Last used" is written when
    older than a minute."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = now or utcnow()
    key = _sha(token)
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        found = _who(db, (ApiToken.id, ApiToken.revoked_at, ApiToken.last_used_at,
                          ApiToken.created_at), ApiToken.token_hash == key)
        if found is None:
            return None
        (tok_id, revoked_at, last_used, created), who, active = found
        if revoked_at is not None or not active:
            return None
        hit = _Cached(who, cache.clock() if cache is not None else 0.0, tok_id,
                      last_used or datetime.min.replace(tzinfo=UTC), created)
        if cache is not None:
            cache.put(key, hit)
    if max_age is not None and hit.created is not None and now - hit.created > max_age:
        return None
    if now - hit.touched > TOUCH_EVERY:
        with db.unit_of_work() as s:
            s.execute(update(ApiToken).where(ApiToken.id == hit.row_id)
                      .values(last_used_at=now))
        hit.touched = now
    return hit.principal


def revoke_tokens(db: Database, name: str) -> int:
    """Revoke every token of ``name``; returns how many."""
    n = 0
    with db.unit_of_work() as s:
        user = _user(s, name)
        for tok in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                    ApiToken.revoked_at.is_(None))):
            tok.revoked_at = utcnow()
            n += 1
        uid = user.id
    _forget(db, user_id=uid)
    return n


def list_tokens(db: Database, name: str, *, max_age: timedelta | None = None) -> list[dict]:
    """The tokens of ``name`` (never the secret), newest first."""
    with db.reader() as s:
        user = _user(s, name)
        rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                         .order_by(ApiToken.id.desc())).all()
        return [{"id": t.id, "user": user.name, "label": t.label, "created_at": t.created_at,
                 "expires_at": t.created_at + max_age if max_age is not None else None,
                 "last_used_at": t.last_used_at, "revoked_at": t.revoked_at} for t in rows]


class TokenNotFound(NotFound):
    code = "TOKEN_NOT_FOUND"


def revoke_token(db: Database, token_id: int, *, by: Principal | None = None,
                 owner: str | None = None) -> dict:
    """Revoke one token by its id. ``by`` (None: the operator's CLI) must own it or be an
    admin; anyone else gets ``TokenNotFound``, as for an id that does not exist. With
    ``owner`` (the operations console's user page) a token of another user is not found
    either."""
    if not isinstance(token_id, int) or not 0 < token_id <= 2**63 - 1:
        raise TokenNotFound(f"token {token_id} not found", token_id=token_id)
    with db.unit_of_work() as s:
        tok = s.get(ApiToken, token_id)
        if tok is None or (by is not None and tok.user_id != by.id and not by.has("admin")):
            raise TokenNotFound(f"token {token_id} not found", token_id=token_id)
        if owner is not None and tok.user_id != _user(s, owner).id:
            raise TokenNotFound(f"token {token_id} not found", token_id=token_id)
        if tok.revoked_at is None:
            tok.revoked_at = utcnow()
        uid, revoked = tok.user_id, tok.revoked_at
        add_at_commit(s, AuditEvent(at=utcnow(), event_type="auth.token_revoked",
                                    actor=by.name if by is not None else None,
                                    details={"token_id": token_id}))
    _forget(db, user_id=uid)
    return {"id": token_id, "revoked_at": revoked}
