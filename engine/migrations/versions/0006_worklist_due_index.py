"""worklist index for sorting by due date

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_human_task_office_state_due", "human_task",
                    ["office", "state", "due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_human_task_office_state_due", table_name="human_task")
