"""maintenance: services, windows, incidents

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.core.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERVICES = [
    ("alma", "Alma", "Ex Libris Alma: staff work, circulation, acquisitions, fulfillment.", 10),
    ("primo_ve", "Primo VE", "The discovery interface patrons search.", 20),
    ("ishare_catalog", "I-Share catalog", "The shared union catalog and requesting.", 30),
    ("analytics", "Alma Analytics", "Reports and dashboards.", 40),
    ("carli_files", "CARLI file service", "File transfers (patron loads, exports).", 50),
    ("network", "Network", "Connectivity between member libraries and the consortium.", 60),
    ("carli_website", "CARLI website", "The consortium's public website.", 70),
]


def upgrade() -> None:
    op.create_table(
        "service",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_service")),
    )
    op.create_table(
        "maintenance_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_maintenance_series_created_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_series")),
    )
    op.create_table(
        "maintenance",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("impact", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_maintenance_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["maintenance_series.id"],
            name=op.f("fk_maintenance_series_id_maintenance_series"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance")),
    )
    with op.batch_alter_table("maintenance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_maintenance_ends_at"), ["ends_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_maintenance_series_id"), ["series_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_maintenance_updated_at"), ["updated_at"], unique=False)
        batch_op.create_index(
            "ix_maintenance_starts_at_ends_at", ["starts_at", "ends_at"], unique=False
        )
    op.create_table(
        "maintenance_service",
        sa.Column("maintenance_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["maintenance_id"],
            ["maintenance.id"],
            name=op.f("fk_maintenance_service_maintenance_id_maintenance"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service"], ["service.slug"], name=op.f("fk_maintenance_service_service_service")
        ),
        sa.PrimaryKeyConstraint("maintenance_id", "service", name=op.f("pk_maintenance_service")),
    )
    with op.batch_alter_table("maintenance_service", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_service_service"), ["service"], unique=False
        )
    op.create_table(
        "maintenance_institution",
        sa.Column("maintenance_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_maintenance_institution_institution_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["maintenance_id"],
            ["maintenance.id"],
            name=op.f("fk_maintenance_institution_maintenance_id_maintenance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "maintenance_id", "institution", name=op.f("pk_maintenance_institution")
        ),
    )
    with op.batch_alter_table("maintenance_institution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_institution_institution"), ["institution"], unique=False
        )
    op.create_table(
        "incident",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("impact", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_incident_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_updated_at"), ["updated_at"], unique=False)
        batch_op.create_index(
            "ix_incident_status_started_at", ["status", "started_at"], unique=False
        )
    op.create_table(
        "incident_service",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_service_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service"], ["service.slug"], name=op.f("fk_incident_service_service_service")
        ),
        sa.PrimaryKeyConstraint("incident_id", "service", name=op.f("pk_incident_service")),
    )
    with op.batch_alter_table("incident_service", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_service_service"), ["service"], unique=False)
    op.create_table(
        "incident_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author"], ["user_account.id"], name=op.f("fk_incident_update_author_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_update_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_update")),
    )
    with op.batch_alter_table("incident_update", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_update_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_update_incident_id"), ["incident_id"], unique=False
        )
    op.create_table(
        "incident_ticket",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=8), nullable=False),
        sa.Column("linked_by", sa.Integer(), nullable=True),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_ticket_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.code"],
            name=op.f("fk_incident_ticket_institution_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"],
            ["user_account.id"],
            name=op.f("fk_incident_ticket_linked_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_incident_ticket_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("incident_id", "ticket_id", name=op.f("pk_incident_ticket")),
    )
    with op.batch_alter_table("incident_ticket", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_ticket_ticket_id"), ["ticket_id"], unique=False
        )
    seeded = sa.table(
        "service",
        sa.column("slug", sa.String),
        sa.column("name", sa.String),
        sa.column("description", sa.String),
        sa.column("position", sa.Integer),
        sa.column("created_at", sa.DateTime),
    )
    op.execute(
        sa.insert(seeded).values(
            [
                {
                    "slug": slug,
                    "name": name,
                    "description": description,
                    "position": position,
                    "created_at": sa.func.current_timestamp(),
                }
                for slug, name, description, position in SERVICES
            ]
        )
    )


def downgrade() -> None:
    for table, indexes in (
        ("incident_ticket", ["ix_incident_ticket_ticket_id"]),
        ("incident_update", ["ix_incident_update_incident_id", "ix_incident_update_created_at"]),
        ("incident_service", ["ix_incident_service_service"]),
        ("incident", ["ix_incident_status_started_at", "ix_incident_updated_at"]),
        ("maintenance_institution", ["ix_maintenance_institution_institution"]),
        ("maintenance_service", ["ix_maintenance_service_service"]),
        (
            "maintenance",
            [
                "ix_maintenance_starts_at_ends_at",
                "ix_maintenance_updated_at",
                "ix_maintenance_series_id",
                "ix_maintenance_ends_at",
            ],
        ),
        ("maintenance_series", []),
        ("service", []),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
