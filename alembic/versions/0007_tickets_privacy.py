"""tickets: what library users see changes only with public content; the queue in SLA order

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The next deadline of a running SLA clock: the response target until someone answered, then
# the resolution target; none while the ticket waits (pending_*) or is done.
SLA_DUE = """
UPDATE ticket SET sla_due_at = CASE
    WHEN status IN ('resolved', 'closed') OR sla_paused_at IS NOT NULL THEN NULL
    WHEN first_response_at IS NULL AND response_due_at IS NOT NULL
         AND (resolution_due_at IS NULL OR response_due_at < resolution_due_at)
        THEN response_due_at
    ELSE resolution_due_at END
"""

# SQLite's batch mode rebuilds the table, which drops the search-index triggers on it (0004):
# they are put back as they were.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS ticket_fts_ai AFTER INSERT ON ticket BEGIN
        INSERT INTO ticket_fts(rowid, subject, body, note)
        VALUES (new.id * 4294967296, new.subject, new.description, ''); END""",
    """CREATE TRIGGER IF NOT EXISTS ticket_fts_au AFTER UPDATE OF subject, description ON ticket
        BEGIN
        DELETE FROM ticket_fts WHERE rowid = old.id * 4294967296;
        INSERT INTO ticket_fts(rowid, subject, body, note)
        VALUES (new.id * 4294967296, new.subject, new.description, ''); END""",
    """CREATE TRIGGER IF NOT EXISTS ticket_fts_ad AFTER DELETE ON ticket BEGIN
        DELETE FROM ticket_fts WHERE rowid = old.id * 4294967296; END""",
]


def _restore_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("public_updated_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("sla_due_at", UTCDateTime(), nullable=True))
    # Until now every change counted as public: start both clocks where the full ones stand.
    op.execute("UPDATE ticket SET public_version = version, public_updated_at = updated_at")
    op.execute(SLA_DUE)
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.alter_column("public_version", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("public_updated_at", existing_type=UTCDateTime(), nullable=False)
        batch_op.create_index(
            "ix_ticket_institution_public_updated",
            ["institution", "public_updated_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_ticket_sla_due", ["sla_due_at", "id"], unique=False)
    _restore_triggers()


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_sla_due")
        batch_op.drop_index("ix_ticket_institution_public_updated")
        batch_op.drop_column("sla_due_at")
        batch_op.drop_column("public_updated_at")
        batch_op.drop_column("public_version")
    _restore_triggers()
