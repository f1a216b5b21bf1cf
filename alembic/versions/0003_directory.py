"""directory: people, appointments, change requests

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# At most one current liaison and one current director per institution (both dialects).
CURRENT_SEAT = sa.text("ended_on IS NULL AND role IN ('liaison', 'director')")


def upgrade() -> None:
    op.create_table(
        "liaison",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.Column("account", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account"], ["user_account.id"], name=op.f("fk_liaison_account_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["institution"], ["institution.code"], name=op.f("fk_liaison_institution_institution")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liaison")),
        sa.UniqueConstraint("email", name=op.f("uq_liaison_email")),
    )
    with op.batch_alter_table("liaison", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_liaison_account"), ["account"], unique=False)
        batch_op.create_index("ix_liaison_institution_name", ["institution", "name"], unique=False)

    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("liaison_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_appointment_institution_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["liaison_id"], ["liaison.id"], name=op.f("fk_appointment_liaison_id_liaison")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment")),
    )
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.create_index("ix_appointment_liaison_id", ["liaison_id"], unique=False)
        batch_op.create_index(
            "ix_appointment_role_current", ["role", "ended_on", "liaison_id"], unique=False
        )
        batch_op.create_index(
            "uq_appointment_seat",
            ["institution", "role"],
            unique=True,
            sqlite_where=CURRENT_SEAT,
            postgresql_where=CURRENT_SEAT,
        )

    op.create_table(
        "directory_change",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("liaison_id", sa.Integer(), nullable=True),
        sa.Column("liaison", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requester", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_directory_change_decided_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_directory_change_institution_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["liaison_id"], ["liaison.id"], name=op.f("fk_directory_change_liaison_id_liaison")
        ),
        sa.ForeignKeyConstraint(
            ["requester"],
            ["user_account.id"],
            name=op.f("fk_directory_change_requester_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_change")),
    )
    with op.batch_alter_table("directory_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_directory_change_institution_created_at",
            ["institution", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_directory_change_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "directory_confirmation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["confirmed_by"],
            ["user_account.id"],
            name=op.f("fk_directory_confirmation_confirmed_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_directory_confirmation_institution_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_confirmation")),
    )
    with op.batch_alter_table("directory_confirmation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_directory_confirmation_institution_at",
            ["institution", "confirmed_at"],
            unique=False,
        )

    op.create_table(
        "directory_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("liaison_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_directory_invitation_created_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["liaison_id"],
            ["liaison.id"],
            name=op.f("fk_directory_invitation_liaison_id_liaison"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_directory_invitation_token_hash")),
    )
    with op.batch_alter_table("directory_invitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_invitation_liaison_id"), ["liaison_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("directory_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_invitation_liaison_id"))
    op.drop_table("directory_invitation")
    with op.batch_alter_table("directory_confirmation", schema=None) as batch_op:
        batch_op.drop_index("ix_directory_confirmation_institution_at")
    op.drop_table("directory_confirmation")
    with op.batch_alter_table("directory_change", schema=None) as batch_op:
        batch_op.drop_index("ix_directory_change_status_created_at")
        batch_op.drop_index("ix_directory_change_institution_created_at")
    op.drop_table("directory_change")
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_index("uq_appointment_seat")
        batch_op.drop_index("ix_appointment_role_current")
        batch_op.drop_index("ix_appointment_liaison_id")
    op.drop_table("appointment")
    with op.batch_alter_table("liaison", schema=None) as batch_op:
        batch_op.drop_index("ix_liaison_institution_name")
        batch_op.drop_index(batch_op.f("ix_liaison_account"))
    op.drop_table("liaison")
