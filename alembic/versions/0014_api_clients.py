"""API clients: client credentials, scopes, secrets

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("principal", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("previous_secret_hash", sa.String(length=64), nullable=True),
        sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("rotated_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner"], ["user_account.id"], name=op.f("fk_api_client_owner_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["principal"], ["user_account.id"], name=op.f("fk_api_client_principal_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_api_client_institution_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_client")),
        sa.UniqueConstraint("principal", name=op.f("uq_api_client_principal")),
    )
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.create_index("ix_api_client_owner", ["owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.drop_index("ix_api_client_owner")
    op.drop_table("api_client")
