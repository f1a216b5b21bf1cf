"""ticket queue indexes: the priority queue of open tickets at a million rows

The priority queue lists open tickets oldest first within each priority. Open tickets are the
newest few, so walking `ix_ticket_priority_created` from the oldest ticket and filtering on
status passed every closed ticket first (about 5 s at a million, issue 11). With status before
priority, each (status, priority) pair is one ordered range the query reads only the page of.
The SLA queue of open tickets likewise reads one range of (status, sla_due_at) per status.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_status_priority_created",
            ["status", "priority", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ticket_status_sla_due", ["status", "sla_due_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_status_sla_due")
        batch_op.drop_index("ix_ticket_status_priority_created")
