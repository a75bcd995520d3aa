"""timers, messages, clock, incidents, referrals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("process_definition") as b:
        b.add_column(sa.Column("start_messages", sa.JSON(), nullable=False,
                               server_default="[]"))
    with op.batch_alter_table("process_instance") as b:
        b.add_column(sa.Column("error_element", sa.String(200), nullable=True))
        b.add_column(sa.Column("error_at", UTC, nullable=True))
    op.create_table(
        "message",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("corr_key", sa.String(40), nullable=True),
        sa.Column("corr_value", sa.String(200), nullable=True),
        sa.Column("sender_instance_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("target_instance_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("delivered_at", UTC, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
    )
    op.create_index("ix_message_name", "message", ["name"])
    op.create_index("ix_message_status_created", "message", ["status", "created_at"])
    op.create_table(
        "message_subscription",
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("referral_id", sa.String(200), nullable=True),
        sa.Column("case_id", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE",
                                name=op.f("fk_message_subscription_instance_id_process_instance")),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_message_subscription")),
    )
    op.create_index("ix_message_subscription_instance_id", "message_subscription",
                    ["instance_id"])
    op.create_index("ix_message_subscription_name_referral", "message_subscription",
                    ["name", "referral_id"])
    op.create_index("ix_message_subscription_name_case", "message_subscription",
                    ["name", "case_id"])
    op.create_table(
        "clock_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offset_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clock_setting")),
    )
    op.create_table(
        "referral",
        sa.Column("referral_id", sa.String(100), nullable=False),
        sa.Column("case_id", sa.String(100), nullable=True),
        sa.Column("office", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("sender_instance_id", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", UTC, nullable=False),
        sa.Column("due_ack", UTC, nullable=False),
        sa.Column("due_result", UTC, nullable=False),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_referral")),
    )
    op.create_index("ix_referral_case_id", "referral", ["case_id"])
    op.create_index("ix_referral_office_state", "referral", ["office", "state"])


def downgrade() -> None:
    op.drop_table("referral")
    op.drop_table("clock_setting")
    op.drop_table("message_subscription")
    op.drop_table("message")
    with op.batch_alter_table("process_instance") as b:
        b.drop_column("error_at")
        b.drop_column("error_element")
    with op.batch_alter_table("process_definition") as b:
        b.drop_column("start_messages")
