"""duties: recurring duties, tasks per institution, calendar feed tokens

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duty",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("responsible", sa.String(length=32), nullable=False),
        sa.Column("applies_to", sa.String(length=8), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=True),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("institutions", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_duty_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty")),
    )
    op.create_table(
        "duty_occurrence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("duty_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["duty_id"],
            ["duty.id"],
            name=op.f("fk_duty_occurrence_duty_id_duty"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_occurrence")),
        sa.UniqueConstraint("duty_id", "due_on", name="uq_duty_occurrence_duty_id_due_on"),
    )
    with op.batch_alter_table("duty_occurrence", schema=None) as batch_op:
        batch_op.create_index("ix_duty_occurrence_due_on", ["due_on"], unique=False)
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("duty_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("completed_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("opened_notice_on", sa.Date(), nullable=True),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.Column("overdue_notice_on", sa.Date(), nullable=True),
        sa.Column("escalated_on", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["completed_by"], ["user_account.id"], name=op.f("fk_task_completed_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["duty_id"], ["duty.id"], name=op.f("fk_task_duty_id_duty"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["institution"], ["institution.code"], name=op.f("fk_task_institution_institution")
        ),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["duty_occurrence.id"],
            name=op.f("fk_task_occurrence_id_duty_occurrence"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
        sa.UniqueConstraint(
            "occurrence_id", "institution", name="uq_task_occurrence_id_institution"
        ),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_institution_due_on", ["institution", "due_on"], unique=False)
        batch_op.create_index("ix_task_duty_id_due_on", ["duty_id", "due_on"], unique=False)
        batch_op.create_index("ix_task_state_due_on", ["state", "due_on"], unique=False)
    op.create_table(
        "task_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_task_feed_institution_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_task_feed_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_feed")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_task_feed_token_hash")),
    )
    with op.batch_alter_table("task_feed", schema=None) as batch_op:
        batch_op.create_index("ix_task_feed_owner", ["user_id", "institution"], unique=False)


def downgrade() -> None:
    op.drop_table("task_feed")
    op.drop_table("task")
    op.drop_table("duty_occurrence")
    op.drop_table("duty")
