"""process designer drafts: BPMN and form files edited in the browser modeler

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "designer_draft",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("process_id", sa.String(length=200), nullable=True),
        sa.Column("bpmn_name", sa.String(length=300), nullable=False),
        sa.Column("bpmn", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(length=40), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.Column("import_report", sa.JSON(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("deployed_version", sa.Integer(), nullable=True),
        sa.Column("deployed_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_designer_draft")),
    )
    op.create_index(op.f("ix_designer_draft_updated_at"), "designer_draft", ["updated_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_designer_draft_updated_at"), table_name="designer_draft")
    op.drop_table("designer_draft")
