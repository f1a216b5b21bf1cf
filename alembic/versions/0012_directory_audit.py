"""directory and audit: future appointments, confirmation reminders, invitations, audit filters

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The audit page filters by who and by what, newest first.
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_actor_at", ["actor", "at"], unique=False)
        batch_op.create_index("ix_audit_entry_action_at", ["action", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_action_at")
        batch_op.drop_index("ix_audit_entry_actor_at")
