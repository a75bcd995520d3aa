"""Accounts, sessions, API tokens and login attempts (tables created by migration 0002);
idempotency keys of creating POSTs (migration 0011); saved worklist filters (migration 0013)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models import Base, BigId, UTCDateTime

ROLES = ("caseworker", "case_manager", "team_lead", "process_designer", "auditor", "dpo",
         "admin")  # dpo: data-protection officer (Art. 15 reports; values only there)
# Roles that work office queues: claim, complete and start cases.
WORKER_ROLES = frozenset({"caseworker", "case_manager", "team_lead"})


class User(Base):
    """A local account. Roles and offices live in their own rows."""

    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )
    office_rows: Mapped[list[UserOffice]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserOffice.office"
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)

    @property
    def offices(self) -> tuple[str, ...]:
        return tuple(o.office for o in self.office_rows)


class UserRole(Base):
    """One role of one user."""

    __tablename__ = "user_role"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class UserOffice(Base):
    """Membership of a user in an office (a user may belong to several)."""

    __tablename__ = "user_office"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    office: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class UserSession(Base):
    """A browser login; the cookie holds a random token, the row its SHA-256 hash."""

    __tablename__ = "user_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ApiToken(Base):
    """A bearer token for scripts, stored as its SHA-256 hash (tokens are 256-bit random)."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    """One password login attempt, kept for rate limiting (no password is ever stored)."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    success: Mapped[bool] = mapped_column(Boolean)


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` of a creating POST (``web.idempotency``): per user and route,
    the keyed HMAC of the request body and the first answer, kept 24 hours. The unique
    constraint makes concurrent duplicates wait for, then replay, the first one."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("actor", "scope", "key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(100))  # "POST /api/process-instances"
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256, never the body
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)  # ids and states, no case data
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SavedFilter(Base):
    """A worklist filter a user saved under a name (``web.saved_filters``): office, process,
    state (open, mine, overdue, due soon) and a text the case reference contains. Only its
    owner lists, counts, opens or deletes it."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    office: Mapped[str] = mapped_column(String(32))
    process_id: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))  # web.queries.STATES
    case_text: Mapped[str | None] = mapped_column(String(100))
    sort: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


__all__ = [
    "ROLES",
    "IdempotencyKey",
    "WORKER_ROLES",
    "ApiToken",
    "LoginAttempt",
    "SavedFilter",
    "User",
    "UserOffice",
    "UserRole",
    "UserSession",
]
