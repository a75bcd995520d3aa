"""Domain tables (on the engine's metadata, migrated with it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base, UTCDateTime


class Referral(Base):
    """A referral from a case to an office for a purpose, with its SLA dates and state."""

    __tablename__ = "referral"
    __table_args__ = (Index("ix_referral_office_state", "office", "state"),)
    referral_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    case_id: Mapped[str | None] = mapped_column(String(100), index=True)
    office: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str | None] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(32))
    sender_instance_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_ack: Mapped[datetime] = mapped_column(UTCDateTime())
    due_result: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(40))
    consent_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(Text)
