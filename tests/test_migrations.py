"""Migrations are the only way the schema is built: they round-trip and match the models."""

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from alembic import command
from app.core import migrations
from tests.conftest import DATABASE_URL, is_postgres


@pytest.fixture
def scratch_url(tmp_path):
    """An empty database of the suite's kind, dropped afterwards."""
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = make_url(DATABASE_URL)
    name = f"{url.database}_migrations"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(scratch_url):
    migrations.upgrade(scratch_url)
    built = _tables(scratch_url)
    assert {"institution", "user_account", "audit_entry"} <= built
    migrations.downgrade("base", scratch_url)
    assert not {t for t in _tables(scratch_url) if "_fts" not in t}
    migrations.upgrade(scratch_url)
    assert _tables(scratch_url) == built


def test_models_and_migrations_do_not_drift(scratch_url):
    migrations.upgrade(scratch_url)
    command.check(migrations.alembic_config(scratch_url))  # raises on any difference
