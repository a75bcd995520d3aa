"""SQLAlchemy 2 typed models. Alembic migrations in ``engine/migrations`` create them."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def core_table(model: type[Base]) -> Table:
    """The Core table of a mapped class, for Core statements (one executemany, no ORM
    batching by keys). ``DeclarativeBase`` types ``__table__`` as a ``FromClause``; a
    declarative class with ``__tablename__`` always has a ``Table``."""
    t = model.__table__
    assert isinstance(t, Table)
    return t


class SpecBlob(Base):
    """A parsed process spec (with its called subprocess specs), stored once per content hash."""

    __tablename__ = "spec_blob"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str] = mapped_column(Text)


class JsonData(Base):
    """Task data, stored once per content hash."""

    __tablename__ = "json_data"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str] = mapped_column(Text)


class ProcessDefinition(Base):
    """One deployed version of one executable process."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("process_id", "version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    spec_hash: Mapped[str] = mapped_column(ForeignKey("spec_blob.hash"))
    # {"file name": "file text"} for every BPMN, DMN and form file of the deployment.
    source_files: Mapped[dict] = mapped_column(JSON)
    # {"<lane name>": "<office code>"} as resolved at deploy time.
    lane_offices: Mapped[dict] = mapped_column(JSON)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deployed_by: Mapped[str | None] = mapped_column(String(100))
    # Message names whose arrival starts this process (message start events).
    start_messages: Mapped[list] = mapped_column(JSON, default=list)


class ProcessInstance(Base):
    """A running or finished case process."""

    __tablename__ = "process_instance"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    case_ref: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # running|completed|error|cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(100))
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Bumped on every save: lets an in-process cache know whether its copy is current.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    next_seq: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    error_element: Mapped[str | None] = mapped_column(String(200))
    # The exception's class and its full text (may quote task data: administrators only,
    # never audit or auditor pages); ``error`` is Lotse's own message without values.
    error_type: Mapped[str | None] = mapped_column(String(100))
    error_detail: Mapped[str | None] = mapped_column(Text)
    error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The non-task attributes of the top workflow (subprocesses: WorkflowState rows). Kept on
    # this row so that a step writes the instance once, not the instance and a state row.
    wf_body: Mapped[str | None] = mapped_column(Text)
    # The end of this instance's audit stream (engine.audit): entries written while the
    # instance row is locked chain here instead of through the global head.
    audit_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    audit_hash: Mapped[str | None] = mapped_column(String(64))


class WorkflowState(Base):
    """The non-task attributes of one subprocess (key: its task guid).

    Rows with key "" are from before migration 0009 moved the top workflow onto the
    instance row; the loader still reads them.
    """

    __tablename__ = "workflow_state"
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(36), primary_key=True)
    body: Mapped[str] = mapped_column(Text)


class TaskRow(Base):
    """One SpiffWorkflow task; data by hash. ``seq`` keeps creation order for loading."""

    __tablename__ = "task"
    __table_args__ = (Index("ix_task_instance_seq", "instance_id", "seq"),)
    guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE")
    )
    workflow_key: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(Integer)
    state: Mapped[int] = mapped_column(Integer)
    spec_name: Mapped[str] = mapped_column(String(300))
    props: Mapped[str] = mapped_column(Text)
    data_hash: Mapped[str] = mapped_column(String(64))


class HumanTask(Base):
    """Worklist projection of user/manual tasks, answered without loading any workflow."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_office_state_created", "office", "state", "created_at", "id"),
        Index("ix_human_task_office_state_due", "office", "state", "due_at", "id"),
        Index("ix_human_task_assignee_state", "assignee", "state"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the Spiff task guid
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    process_id: Mapped[str] = mapped_column(String(200))
    case_ref: Mapped[str | None] = mapped_column(String(100))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    office: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(12))  # READY|COMPLETED|CANCELLED|ERROR
    assignee: Mapped[str | None] = mapped_column(String(100))
    form: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(100))


class AuditEvent(Base):
    """Append-only record of what happened. Ids and field names, never personal values."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("stream", "seq", name="uq_audit_event_stream_seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    event_type: Mapped[str] = mapped_column(String(60), index=True)
    actor: Mapped[str | None] = mapped_column(String(100))
    office: Mapped[str | None] = mapped_column(String(32))
    instance_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    definition_id: Mapped[int | None] = mapped_column(BigInteger)
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    hash: Mapped[str | None] = mapped_column(String(64))
    # The chain the entry belongs to: 0 = the global chain (head: AuditHead), otherwise the
    # id of the process instance whose stream it extends (head: ProcessInstance.audit_*).
    stream: Mapped[int] = mapped_column(BigInteger, default=0)
    # Position in its chain and the hash of the entry before it (engine.audit).
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The end of the global audit chain (one row); locked while its entries are chained."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """How far a chain was last verified (``engine.audit.verify``): stream 0 is the global
    chain, any other the instance stream of that id. An incremental verification starts
    here; the full one ignores it."""

    __tablename__ = "audit_checkpoint"
    stream: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Message(Base):
    """A thrown message (outbox): written with the step that threw it, delivered once."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_status_created", "status", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    event: Mapped[str] = mapped_column(Text)  # serialized SpiffWorkflow BpmnEvent
    corr_key: Mapped[str | None] = mapped_column(String(40))
    corr_value: Mapped[str | None] = mapped_column(String(200))
    sender_instance_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))  # pending|delivered|unmatched
    reason: Mapped[str | None] = mapped_column(Text)
    target_instance_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class MessageSubscription(Base):
    """A waiting message catch event, with the correlation values its instance holds."""

    __tablename__ = "message_subscription"
    __table_args__ = (
        Index("ix_message_subscription_name_referral", "name", "referral_id"),
        Index("ix_message_subscription_name_case", "name", "case_id"),
    )
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    referral_id: Mapped[str | None] = mapped_column(String(200))
    case_id: Mapped[str | None] = mapped_column(String(200))


class ClockSetting(Base):
    """Outside production: the offset of the engine clock from system time (one row)."""

    __tablename__ = "clock_setting"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset_seconds: Mapped[float] = mapped_column(default=0.0)
