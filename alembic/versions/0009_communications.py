"""communications: lists, subscriptions, announcements, acknowledgements, events

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailing_list",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("institution_kinds", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailing_list")),
        sa.UniqueConstraint("slug", name=op.f("uq_mailing_list_slug")),
    )
    op.create_table(
        "announcement",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("action_required", sa.Boolean(), nullable=False),
        sa.Column("acknowledge_by", sa.Date(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("send_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("author", sa.Integer(), nullable=True),
        sa.Column("review", sa.String(length=16), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author"], ["user_account.id"], name=op.f("fk_announcement_author_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["user_account.id"],
            name=op.f("fk_announcement_reviewed_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement")),
    )
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_announcement_send_at"), ["send_at"], unique=False)
        batch_op.create_index("ix_announcement_sent_at", ["sent_at"], unique=False)

    op.create_table(
        "event",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("link", sa.String(length=1000), nullable=False),
        sa.Column("materials", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_event_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "acknowledgement",
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("liaison_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["liaison_id"], ["liaison.id"], name=op.f("fk_acknowledgement_liaison_id_liaison")
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_acknowledgement_announcement_id_announcement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_acknowledgement_institution_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_acknowledgement_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("announcement_id", "institution", name=op.f("pk_acknowledgement")),
    )
    op.create_table(
        "announcement_list",
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_announcement_list_announcement_id_announcement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["mailing_list.id"], name=op.f("fk_announcement_list_list_id_mailing_list")
        ),
        sa.PrimaryKeyConstraint("announcement_id", "list_id", name=op.f("pk_announcement_list")),
    )
    with op.batch_alter_table("announcement_list", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_announcement_list_list_id"), ["list_id"], unique=False)

    op.create_table(
        "event_list",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_list_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["mailing_list.id"], name=op.f("fk_event_list_list_id_mailing_list")
        ),
        sa.PrimaryKeyConstraint("event_id", "list_id", name=op.f("pk_event_list")),
    )
    with op.batch_alter_table("event_list", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_list_list_id"), ["list_id"], unique=False)

    op.create_table(
        "list_subscription",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("liaison_id", sa.Integer(), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["liaison_id"], ["liaison.id"], name=op.f("fk_list_subscription_liaison_id_liaison")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailing_list.id"],
            name=op.f("fk_list_subscription_list_id_mailing_list"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "liaison_id", name=op.f("pk_list_subscription")),
    )
    with op.batch_alter_table("list_subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_list_subscription_liaison_id"), ["liaison_id"], unique=False
        )

    op.create_table(
        "redistribution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_redistribution_announcement_id_announcement"),
        ),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_redistribution_institution_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_redistribution_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redistribution")),
    )
    with op.batch_alter_table("redistribution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_redistribution_announcement_id"), ["announcement_id"], unique=False
        )

    op.create_table(
        "rsvp",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_rsvp_event_id_event"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_rsvp_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("event_id", "user_id", name=op.f("pk_rsvp")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("list_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("list_id")

    op.drop_table("rsvp")
    with op.batch_alter_table("redistribution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redistribution_announcement_id"))

    op.drop_table("redistribution")
    with op.batch_alter_table("list_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_subscription_liaison_id"))

    op.drop_table("list_subscription")
    with op.batch_alter_table("event_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_list_list_id"))

    op.drop_table("event_list")
    with op.batch_alter_table("announcement_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_announcement_list_list_id"))

    op.drop_table("announcement_list")
    op.drop_table("acknowledgement")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_starts_at"))

    op.drop_table("event")
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.drop_index("ix_announcement_sent_at")
        batch_op.drop_index(batch_op.f("ix_announcement_send_at"))

    op.drop_table("announcement")
    op.drop_table("mailing_list")
