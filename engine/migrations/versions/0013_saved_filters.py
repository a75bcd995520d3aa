"""saved worklist filters: per user, a named filter (office, process, state, case text,
sort) shown as a tab with its count on the worklist (issue 15.4); deleted with the user

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "saved_filter",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("office", sa.String(length=32), nullable=False),
        sa.Column("process_id", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("case_text", sa.String(length=100), nullable=True),
        sa.Column("sort", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE",
                                name=op.f("fk_saved_filter_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filter")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_saved_filter_user_id")),
    )
    op.create_index(op.f("ix_saved_filter_user_id"), "saved_filter", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_saved_filter_user_id"), table_name="saved_filter")
    op.drop_table("saved_filter")
