"""inbound mail: every message that came in by e-mail, and an index on outgoing Message-IDs

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_key", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ticket_number", sa.String(length=12), nullable=True),
        sa.Column("author", sa.Integer(), nullable=True),
        sa.Column("patron_data", sa.Boolean(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author"], ["user_account.id"], name=op.f("fk_inbound_mail_author_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mail")),
        sa.UniqueConstraint("message_key", name=op.f("uq_inbound_mail_message_key")),
    )
    with op.batch_alter_table("inbound_mail", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_mail_outcome_received", ["outcome", "received_at", "id"], unique=False
        )
    # An index only: SQLite's batch mode would rebuild the table for nothing.
    op.create_index("ix_outbox_message_message_id", "outbox_message", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message_message_id", table_name="outbox_message")
    with op.batch_alter_table("inbound_mail", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_mail_outcome_received")
    op.drop_table("inbound_mail")
