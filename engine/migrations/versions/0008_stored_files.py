"""uploaded files of form fields (V-14): bytes, detected media type, checksum, case link

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stored_file",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", BigId, nullable=False),
        sa.Column("case_ref", sa.String(length=100), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("field", sa.String(length=200), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=50), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=True),
        sa.Column("uploaded_at", _utc(), nullable=False),
        sa.Column("used_by_task", sa.String(length=36), nullable=True),
        sa.Column("used_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name=op.f("fk_stored_file_instance_id_process_instance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_file")),
    )
    op.create_index(op.f("ix_stored_file_instance_id"), "stored_file", ["instance_id"],
                    unique=False)
    op.create_index(op.f("ix_stored_file_case_ref"), "stored_file", ["case_ref"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_stored_file_case_ref"), table_name="stored_file")
    op.drop_index(op.f("ix_stored_file_instance_id"), table_name="stored_file")
    op.drop_table("stored_file")
