"""foundation: users, institutions, audit, auth

Revision ID: 0001
Revises:
Create Date: 2026-11-28 11:54:27.549824
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "institution",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("website", sa.String(length=300), nullable=True),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("alma_code", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_institution")),
        sa.UniqueConstraint("alma_code", name=op.f("uq_institution_alma_code")),
    )
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.create_index("ix_institution_status_name", ["status", "name"], unique=False)

    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index("ix_login_failure_key_at", ["key", "at"], unique=False)

    op.create_table(
        "revoked_token",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_token")),
    )
    with op.batch_alter_table("revoked_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revoked_token_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "user_account",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_user_account_institution_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_account_institution"), ["institution"], unique=False
        )

    op.create_table(
        "audit_entry",
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor"], ["user_account.id"], name=op.f("fk_audit_entry_actor_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_entry_entity", ["entity_type", "entity_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_entity")

    op.drop_table("audit_entry")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_account_institution"))

    op.drop_table("user_account")
    with op.batch_alter_table("revoked_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_token_expires_at"))

    op.drop_table("revoked_token")
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failure_key_at")

    op.drop_table("login_failure")
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.drop_index("ix_institution_status_name")

    op.drop_table("institution")
