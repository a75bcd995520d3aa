"""incidents: exception type and full text apart from the auditor-visible message

``process_instance.error`` holds a message built by Lotse from the exception type and the
element ("ValueError in script of Task_X"), never an exception's own text, which may quote
task data. The original text goes to ``error_detail`` (administrators only: CLI
``lotse incident``); pseudonymisation clears it. Existing incidents move their text there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instance") as b:
        b.add_column(sa.Column("error_type", sa.String(100), nullable=True))
        b.add_column(sa.Column("error_detail", sa.Text(), nullable=True))
    # incidents recorded before: their text may quote task data, so it moves to the detail
    op.execute("UPDATE process_instance SET error_detail = error, error = "
               "'incident recorded before migration 0010 (full text: lotse incident)' "
               "WHERE error IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("process_instance") as b:
        b.drop_column("error_detail")
        b.drop_column("error_type")
