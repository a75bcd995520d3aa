"""Drafts of the process designer (table created by migration 0007)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base, BigId, UTCDateTime


class Draft(Base):
    """A BPMN model being edited in the browser, with its form (and decision) files.

    ``bpmn`` is the model text exactly as last saved (an imported file as uploaded, decoded
    with its own ``encoding``), so vendor extensions survive until the modeler rewrites it.
    ``files`` maps companion file names (JSON Schema forms, UI schemas, DMN) to their text.
    """

    __tablename__ = "designer_draft"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(300))
    process_id: Mapped[str | None] = mapped_column(String(200))
    bpmn_name: Mapped[str] = mapped_column(String(300))
    bpmn: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(40), default="UTF-8")
    files: Mapped[dict] = mapped_column(JSON, default=dict)
    origin: Mapped[str] = mapped_column(String(20))  # new | import | version
    source: Mapped[str | None] = mapped_column(String(300))  # uploaded file or "pid v3"
    import_report: Mapped[dict | None] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    deployed_version: Mapped[int | None] = mapped_column(Integer)
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
