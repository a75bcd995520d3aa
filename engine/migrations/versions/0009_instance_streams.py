"""per-instance audit streams; the top workflow state on the instance row

A completion used to lock the one global audit head (every write in the system waited for
it) and write the instance row, a workflow_state row and the head row. Now entries of a
step chain into their instance's own stream, whose head sits on the (already locked and
written) instance row, and the top workflow's state is a column of that row too.

Existing entries stay in the global chain (stream 0) and hash exactly as before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instance") as b:
        b.add_column(sa.Column("wf_body", sa.Text(), nullable=True))
        b.add_column(sa.Column("audit_seq", sa.BigInteger(), nullable=False,
                               server_default="0"))
        b.add_column(sa.Column("audit_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("audit_event") as b:
        b.add_column(sa.Column("stream", sa.BigInteger(), nullable=False, server_default="0"))
        b.drop_constraint("uq_audit_event_seq", type_="unique")
        b.create_unique_constraint("uq_audit_event_stream_seq", ["stream", "seq"])
    op.execute(
        "UPDATE process_instance SET wf_body = (SELECT body FROM workflow_state "
        "WHERE workflow_state.instance_id = process_instance.id AND workflow_state.key = '')"
    )
    op.execute("DELETE FROM workflow_state WHERE key = ''")


def downgrade() -> None:
    op.execute(
        "INSERT INTO workflow_state (instance_id, key, body) "
        "SELECT id, '', wf_body FROM process_instance WHERE wf_body IS NOT NULL"
    )
    with op.batch_alter_table("audit_event") as b:
        b.drop_constraint("uq_audit_event_stream_seq", type_="unique")
        b.create_unique_constraint("uq_audit_event_seq", ["seq"])
        b.drop_column("stream")
    with op.batch_alter_table("process_instance") as b:
        b.drop_column("audit_hash")
        b.drop_column("audit_seq")
        b.drop_column("wf_body")
