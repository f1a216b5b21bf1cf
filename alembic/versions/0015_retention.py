"""retention: a policy per ticket category, legal hold, purged tickets

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Dropping a column makes SQLite's batch mode rebuild the table, which drops the search-index
# triggers on it (0004): they are put back as they were (as in 0007).
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
    op.create_table(
        "retention_policy",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_retention_policy_updated_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_retention_policy")),
    )
    # Adding columns is an ALTER on SQLite too (no rebuild): the triggers stay.
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("purged_at", UTCDateTime(), nullable=True))
    _restore_triggers()


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
        batch_op.drop_column("legal_hold")
    _restore_triggers()
    op.drop_table("retention_policy")
