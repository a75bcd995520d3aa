"""consents; referral consent id

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent",
        sa.Column("consent_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(100), nullable=False),
        sa.Column("person_ref", sa.String(40), nullable=True),
        sa.Column("recipient_office", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("includes_health", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_channel", sa.String(40), nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("consent_id", name=op.f("pk_consent")),
    )
    op.create_index("ix_consent_case_office", "consent",
                    ["case_id", "recipient_office", "status"])
    with op.batch_alter_table("referral") as b:
        b.add_column(sa.Column("consent_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral") as b:
        b.drop_column("consent_id")
    op.drop_table("consent")
