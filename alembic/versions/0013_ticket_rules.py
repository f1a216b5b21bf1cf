"""tickets: auto-close, merged replies, watchers, patron-data flags

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A reply sent to a merged ticket joins the surviving one and remembers where it was sent.
    with op.batch_alter_table("ticket_comment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("via", sa.String(length=12), nullable=True))
    # The scheduled auto-close looks for tickets resolved long enough ago.
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_status_resolved", ["status", "resolved_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_status_resolved")
    with op.batch_alter_table("ticket_comment", schema=None) as batch_op:
        batch_op.drop_column("via")
