"""Test harness: schema from migrations, every test in a rolled-back transaction.

The suite runs on a fresh SQLite file by default and on PostgreSQL when `TEST_DATABASE_URL`
names one (its schema is dropped and rebuilt by the migrations first).
"""

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="portal-tests-"))
DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.db'}"
os.environ.update(
    PORTAL_ENVIRONMENT="test",
    PORTAL_DATABASE_URL=DATABASE_URL,
    PORTAL_SECRET_KEY=secrets.token_urlsafe(48),
    PORTAL_LOG_LEVEL="WARNING",
)

import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.core import migrations  # noqa: E402
from app.core.db import build_engine, get_session  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models.user import Role  # noqa: E402
from tests import factories  # noqa: E402

pytest_plugins = ["tests.live_server"]


def is_postgres(url: str = DATABASE_URL) -> bool:
    return url.startswith("postgresql")


def reset_database(url: str) -> None:
    """An empty database, then the migrations: the only way the schema is built."""
    if is_postgres(url):
        engine = build_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    migrations.upgrade(url)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    reset_database(DATABASE_URL)
    engine = build_engine(DATABASE_URL)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine):
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def db(connection) -> Iterator[Session]:
    """The test's own session; commits inside it only release SAVEPOINTs."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.fixture(scope="session")
def app() -> FastAPI:
    return create_app()


@pytest.fixture
def client(app: FastAPI, connection) -> Iterator[TestClient]:
    def session_in_test_transaction() -> Iterator[Session]:
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            yield session

    app.dependency_overrides[get_session] = session_in_test_transaction
    with TestClient(app, base_url="http://testserver") as client:
        yield client
    app.dependency_overrides.clear()


@pytest.fixture
def make(db: Session) -> factories.Factory:
    return factories.Factory(db)


@pytest.fixture
def world(make: factories.Factory) -> factories.World:
    """Two libraries with a user per role, their records, staff and admin (see `World`)."""
    return make.world()


@pytest.fixture
def staff(make: factories.Factory) -> dict[str, str]:
    """Bearer headers of a consortium staff member (who may triage, schedule and edit)."""
    return make.signed_in(Role.consortium_staff)[1]


_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


@pytest.fixture
def counted(connection):
    """`with counted() as seen:` collects the SQL statements (not transaction control) the
    block executes."""

    @contextmanager
    def collect() -> Iterator[list[str]]:
        seen: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany) -> None:
            if not statement.lstrip().upper().startswith(_CONTROL):
                seen.append(statement)

        event.listen(connection, "before_cursor_execute", record)
        try:
            yield seen
        finally:
            event.remove(connection, "before_cursor_execute", record)

    return collect
