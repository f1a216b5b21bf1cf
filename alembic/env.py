"""Migrations run with the portal's own engine settings; the URL can be overridden per run."""

from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import app.models  # noqa: F401  (registers every table)
from alembic import context
from app.core.config import get_settings
from app.core.db import EnumString, UTCDateTime, build_engine

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = build_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _render_item(kind: str, obj, autogen_context):
    """Our column types by their plain SQLAlchemy names, so migrations never import models."""
    if kind != "type":
        return False
    if isinstance(obj, AutoString | EnumString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if isinstance(obj, UTCDateTime):
        autogen_context.imports.add("from app.core.db import UTCDateTime")
        return "UTCDateTime()"
    return False


def _include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Full-text search tables (SQLite FTS5 shadow tables) live outside the models."""
    return not (type_ == "table" and reflected and compare_to is None and "_fts" in name)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run against a database.")
run_migrations()
