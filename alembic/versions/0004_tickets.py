"""tickets: problem reports, comments, events, attachments

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Full-text search lives in `ticket_fts`, outside the models (autogenerate skips `*_fts`).
# One document per ticket and per comment, kept in sync by triggers. On SQLite the rowid carries
# the ticket (ticket id * 2^32, plus the comment's id for a comment) and an internal note's text
# sits in its own column, so a search reads only the index: never the stored rows.
SQLITE_FTS = [
    """CREATE VIRTUAL TABLE ticket_fts USING fts5(
        subject, body, note, tokenize='porter unicode61')""",
    """CREATE TRIGGER ticket_fts_ai AFTER INSERT ON ticket BEGIN
        INSERT INTO ticket_fts(rowid, subject, body, note)
        VALUES (new.id * 4294967296, new.subject, new.description, ''); END""",
    """CREATE TRIGGER ticket_fts_au AFTER UPDATE OF subject, description ON ticket BEGIN
        DELETE FROM ticket_fts WHERE rowid = old.id * 4294967296;
        INSERT INTO ticket_fts(rowid, subject, body, note)
        VALUES (new.id * 4294967296, new.subject, new.description, ''); END""",
    """CREATE TRIGGER ticket_fts_ad AFTER DELETE ON ticket BEGIN
        DELETE FROM ticket_fts WHERE rowid = old.id * 4294967296; END""",
    """CREATE TRIGGER ticket_comment_fts_ai AFTER INSERT ON ticket_comment BEGIN
        INSERT INTO ticket_fts(rowid, subject, body, note)
        VALUES (new.ticket_id * 4294967296 + new.id, '',
                CASE WHEN new.internal THEN '' ELSE new.body END,
                CASE WHEN new.internal THEN new.body ELSE '' END); END""",
    """CREATE TRIGGER ticket_comment_fts_au AFTER UPDATE OF body, internal, ticket_id
        ON ticket_comment BEGIN
        DELETE FROM ticket_fts WHERE rowid = old.ticket_id * 4294967296 + old.id;
        INSERT INTO ticket_fts(rowid, subject, body, note)
        VALUES (new.ticket_id * 4294967296 + new.id, '',
                CASE WHEN new.internal THEN '' ELSE new.body END,
                CASE WHEN new.internal THEN new.body ELSE '' END); END""",
    """CREATE TRIGGER ticket_comment_fts_ad AFTER DELETE ON ticket_comment BEGIN
        DELETE FROM ticket_fts WHERE rowid = old.ticket_id * 4294967296 + old.id; END""",
]
SQLITE_FTS_DROP = [
    *(
        f"DROP TRIGGER IF EXISTS {name}"
        for name in (
            "ticket_fts_ai",
            "ticket_fts_au",
            "ticket_fts_ad",
            "ticket_comment_fts_ai",
            "ticket_comment_fts_au",
            "ticket_comment_fts_ad",
        )
    ),
    "DROP TABLE IF EXISTS ticket_fts",
]
POSTGRES_FTS = [
    """CREATE TABLE ticket_fts (
        doc bigint PRIMARY KEY,
        ticket_id integer NOT NULL,
        internal boolean NOT NULL,
        document tsvector NOT NULL)""",
    "CREATE INDEX ix_ticket_fts_document ON ticket_fts USING gin (document)",
    "CREATE INDEX ix_ticket_fts_ticket ON ticket_fts (ticket_id)",
    """CREATE FUNCTION ticket_fts_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM ticket_fts WHERE doc = 2 * OLD.id;
            RETURN OLD;
        END IF;
        INSERT INTO ticket_fts (doc, ticket_id, internal, document)
        VALUES (2 * NEW.id, NEW.id, false,
                setweight(to_tsvector('english', NEW.subject), 'A')
                || to_tsvector('english', NEW.description))
        ON CONFLICT (doc) DO UPDATE SET document = EXCLUDED.document;
        RETURN NEW;
    END $$""",
    """CREATE FUNCTION ticket_fts_comment() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM ticket_fts WHERE doc = 2 * OLD.id + 1;
            RETURN OLD;
        END IF;
        INSERT INTO ticket_fts (doc, ticket_id, internal, document)
        VALUES (2 * NEW.id + 1, NEW.ticket_id, NEW.internal, to_tsvector('english', NEW.body))
        ON CONFLICT (doc) DO UPDATE SET ticket_id = EXCLUDED.ticket_id,
            internal = EXCLUDED.internal, document = EXCLUDED.document;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER ticket_fts_sync AFTER INSERT OR DELETE OR UPDATE OF subject, description
        ON ticket FOR EACH ROW EXECUTE FUNCTION ticket_fts_ticket()""",
    """CREATE TRIGGER ticket_comment_fts_sync
        AFTER INSERT OR DELETE OR UPDATE OF body, internal, ticket_id
        ON ticket_comment FOR EACH ROW EXECUTE FUNCTION ticket_fts_comment()""",
]
POSTGRES_FTS_DROP = [
    "DROP TRIGGER IF EXISTS ticket_comment_fts_sync ON ticket_comment",
    "DROP TRIGGER IF EXISTS ticket_fts_sync ON ticket",
    "DROP FUNCTION IF EXISTS ticket_fts_comment()",
    "DROP FUNCTION IF EXISTS ticket_fts_ticket()",
    "DROP TABLE IF EXISTS ticket_fts",
]


def _fts(sqlite: list[str], postgres: list[str]) -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": sqlite, "postgresql": postgres}.get(dialect, []):
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "ticket_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_ticket_counter")),
    )
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=12), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.Column("requester", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("vendor_case", sa.String(length=40), nullable=True),
        sa.Column("contains_patron_data", sa.Boolean(), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("first_response_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("response_due_at", UTCDateTime(), nullable=True),
        sa.Column("resolution_due_at", UTCDateTime(), nullable=True),
        sa.Column("sla_paused_at", UTCDateTime(), nullable=True),
        sa.Column("response_left", sa.Integer(), nullable=True),
        sa.Column("resolution_left", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee"], ["user_account.id"], name=op.f("fk_ticket_assignee_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["institution"], ["institution.code"], name=op.f("fk_ticket_institution_institution")
        ),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["ticket.id"], name=op.f("fk_ticket_merged_into_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["requester"], ["user_account.id"], name=op.f("fk_ticket_requester_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
        sa.UniqueConstraint("number", name=op.f("uq_ticket_number")),
    )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_assignee_status_created",
            ["assignee", "status", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ticket_category_created", ["category", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_category_priority_created",
            ["category", "priority", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_ticket_created", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_ticket_institution_created", ["institution", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_institution_status_created",
            ["institution", "status", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ticket_priority_created", ["priority", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_requester_created", ["requester", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_status_created", ["status", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_status_resolution_due", ["status", "resolution_due_at"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_status_response_due", ["status", "response_due_at"], unique=False
        )
        batch_op.create_index("ix_ticket_updated", ["updated_at", "id"], unique=False)

    op.create_table(
        "ticket_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_attachment_ticket_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["user_account.id"],
            name=op.f("fk_ticket_attachment_uploaded_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachment")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_ticket_attachment_storage_key")),
    )
    with op.batch_alter_table("ticket_attachment", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_attachment_ticket", ["ticket_id", "id"], unique=False)

    op.create_table(
        "ticket_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author"], ["user_account.id"], name=op.f("fk_ticket_comment_author_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_comment_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comment")),
    )
    with op.batch_alter_table("ticket_comment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_comment_ticket_created", ["ticket_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "ticket_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor"], ["user_account.id"], name=op.f("fk_ticket_event_actor_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_event_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_event")),
    )
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_event_ticket_at", ["ticket_id", "at", "id"], unique=False)

    op.create_table(
        "ticket_watcher",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_watcher_ticket_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_ticket_watcher_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("ticket_id", "user_id", name=op.f("pk_ticket_watcher")),
    )
    with op.batch_alter_table("ticket_watcher", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_watcher_user", ["user_id", "ticket_id"], unique=False)
    _fts(SQLITE_FTS, POSTGRES_FTS)


def downgrade() -> None:
    _fts(SQLITE_FTS_DROP, POSTGRES_FTS_DROP)
    with op.batch_alter_table("ticket_watcher", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_watcher_user")

    op.drop_table("ticket_watcher")
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_event_ticket_at")

    op.drop_table("ticket_event")
    with op.batch_alter_table("ticket_comment", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_comment_ticket_created")

    op.drop_table("ticket_comment")
    with op.batch_alter_table("ticket_attachment", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_attachment_ticket")

    op.drop_table("ticket_attachment")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_updated")
        batch_op.drop_index("ix_ticket_status_response_due")
        batch_op.drop_index("ix_ticket_status_resolution_due")
        batch_op.drop_index("ix_ticket_status_created")
        batch_op.drop_index("ix_ticket_requester_created")
        batch_op.drop_index("ix_ticket_priority_created")
        batch_op.drop_index("ix_ticket_institution_status_created")
        batch_op.drop_index("ix_ticket_institution_created")
        batch_op.drop_index("ix_ticket_created")
        batch_op.drop_index("ix_ticket_category_priority_created")
        batch_op.drop_index("ix_ticket_category_created")
        batch_op.drop_index("ix_ticket_assignee_status_created")

    op.drop_table("ticket")
    op.drop_table("ticket_counter")
