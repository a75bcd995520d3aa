"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("office", sa.String(length=32), nullable=True),
        sa.Column("instance_id", sa.BigInteger(), nullable=True),
        sa.Column("definition_id", sa.BigInteger(), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_event_type"), ["event_type"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_instance_id"), ["instance_id"], unique=False
        )

    op.create_table(
        "json_data",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_json_data")),
    )
    op.create_table(
        "spec_blob",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_spec_blob")),
    )
    op.create_table(
        "process_definition",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("source_files", sa.JSON(), nullable=False),
        sa.Column("lane_offices", sa.JSON(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deployed_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["spec_hash"],
            ["spec_blob.hash"],
            name=op.f("fk_process_definition_spec_hash_spec_blob"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_definition")),
        sa.UniqueConstraint("process_id", "version", name=op.f("uq_process_definition_process_id")),
    )
    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_process_definition_content_hash"), ["content_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_process_definition_process_id"), ["process_id"], unique=False
        )

    op.create_table(
        "process_instance",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "definition_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("case_ref", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("next_timer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definition.id"],
            name=op.f("fk_process_instance_definition_id_process_definition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_instance")),
    )
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_process_instance_case_ref"), ["case_ref"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_process_instance_definition_id"), ["definition_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_process_instance_next_timer_at"), ["next_timer_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_process_instance_status"), ["status"], unique=False)

    op.create_table(
        "human_task",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("case_ref", sa.String(length=100), nullable=True),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("office", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("form", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_human_task_instance_id_process_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_human_task")),
    )
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.create_index("ix_human_task_assignee_state", ["assignee", "state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_human_task_instance_id"), ["instance_id"], unique=False
        )
        batch_op.create_index(
            "ix_human_task_office_state_created",
            ["office", "state", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "task",
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column(
            "instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("workflow_key", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("spec_name", sa.String(length=300), nullable=False),
        sa.Column("props", sa.Text(), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_task_instance_id_process_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("guid", name=op.f("pk_task")),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_instance_seq", ["instance_id", "seq"], unique=False)

    op.create_table(
        "workflow_state",
        sa.Column(
            "instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key", sa.String(length=36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_workflow_state_instance_id_process_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_id", "key", name=op.f("pk_workflow_state")),
    )


def downgrade() -> None:

    op.drop_table("workflow_state")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index("ix_task_instance_seq")

    op.drop_table("task")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_office_state_created")
        batch_op.drop_index(batch_op.f("ix_human_task_instance_id"))
        batch_op.drop_index("ix_human_task_assignee_state")

    op.drop_table("human_task")
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_process_instance_status"))
        batch_op.drop_index(batch_op.f("ix_process_instance_next_timer_at"))
        batch_op.drop_index(batch_op.f("ix_process_instance_definition_id"))
        batch_op.drop_index(batch_op.f("ix_process_instance_case_ref"))

    op.drop_table("process_instance")
    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_process_definition_process_id"))
        batch_op.drop_index(batch_op.f("ix_process_definition_content_hash"))

    op.drop_table("process_definition")
    op.drop_table("spec_blob")
    op.drop_table("json_data")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_instance_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_event_type"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))

    op.drop_table("audit_event")
