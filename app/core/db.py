"""Engine, sessions and the column types every model shares."""

import re
from collections.abc import AsyncIterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from app.core.config import get_settings
from app.core.errors import Conflict, FieldError

# Alembic batch mode on SQLite needs every constraint to have a predictable name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite: how long a transaction waits for another's write lock before "database is locked".
BUSY_TIMEOUT_SECONDS = 30
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT)\b", re.IGNORECASE)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC out, on SQLite (stored naive) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def result_processor(self, dialect, coltype):
        """The driver's conversion and ours in one call a value, not three: a list of 50 rows
        reads a hundred of these (issue 11, bench/README.md)."""
        parse = self.impl_instance.result_processor(dialect, coltype)

        def process(value) -> datetime | None:
            if value is None:
                return None
            if parse is not None:
                value = parse(value)
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

        return process


class EnumString(TypeDecorator):
    """A `StrEnum` stored as its plain string value (no native enum type); loads as the enum."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int = 32) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value, dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def result_processor(self, dialect, coltype):
        """A dictionary look-up a value (calling the enum class costs ten times more); an
        unknown value still raises, as `enum(value)` does."""
        members, enum = self.enum._value2member_map_, self.enum
        read = self.impl_instance.result_processor(dialect, coltype)

        def process(value: str | None):
            if value is None:
                return None
            if read is not None:
                value = read(value)
            member = members.get(value)
            return member if member is not None else enum(value)

        return process


# Planner settings for the portal's own sessions (bench/README.md, "Search at a million"):
# - no JIT: it pays off for analytical queries, not for short ones, and compiling cost a
#   search with a filter 36 ms before it ran;
# - random reads priced as on an SSD or a cached database (PostgreSQL's default, 4, is for
#   spinning disks): at 4 a search with a filter counted its matches by hashing every document
#   that has the words (1.2 s at a million tickets) instead of probing each ticket the filter
#   leaves (80-120 ms).
POSTGRES_OPTIONS = "-c jit=off -c random_page_cost=1.1"


def build_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":  # PostgreSQL
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            connect_args={"options": POSTGRES_OPTIONS},
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # No limit on connections (a SQLite connection is an open file): a request must never wait
    # for one, least of all on the event loop, where async dependencies run their queries and
    # a wait would stall the requests holding the connections it waits for.
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
        pool_size=20,
        max_overflow=-1,
    )

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN: SAVEPOINTs and transactional DDL then work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")
        conn.info["sqlite_tx"] = "fresh"

    @event.listens_for(engine, "before_cursor_execute")
    def _sqlite_write_lock(conn: Connection, cursor, statement: str, *_args) -> None:
        """SQLite's transactions begin deferred: readers never wait (WAL). At the first write
        of a transaction that has read, the write lock is taken with `BEGIN IMMEDIATE` on a
        fresh snapshot instead of upgrading the read one.

        An upgrade fails at once with "database is locked", whatever the busy timeout, when
        another connection committed since the transaction's first read (its snapshot is
        stale), which under a few parallel writers is most of the time. `BEGIN IMMEDIATE`
        waits its turn instead. What the transaction read before stays read (its reads saw
        the database as of their time, as each statement does under PostgreSQL's READ
        COMMITTED, which the services are written for: their checks that must hold at the
        write are in the write, e.g. `UPDATE … WHERE state = …`, or a unique constraint).
        """
        state = conn.info.get("sqlite_tx")
        if state in (None, "writing"):
            return  # outside a transaction we began, or it holds the write lock already
        if not _WRITE.match(statement):
            conn.info["sqlite_tx"] = "reading"
            return
        conn.info["sqlite_tx"] = "writing"
        if state == "reading":
            raw = conn.connection.dbapi_connection
            raw.execute("COMMIT")  # it has only read: nothing is lost
            raw.execute("BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _sqlite_end(conn: Connection) -> None:
        conn.info.pop("sqlite_tx", None)

    return engine


@lru_cache
def get_engine() -> Engine:
    return build_engine(get_settings().database_url)


def reads_without_waiting(session: Session) -> bool:
    """Whether a read on `session` may run in the event loop: the session holds a connection
    already, or takes one without waiting (SQLite's pool has no limit). A hand-off to a thread
    and back costs more than a few short statements (DESIGN.md §8, bench/README.md), but the
    loop must never wait for a pooled connection: the requests holding them need the loop to
    give them back."""
    return session.in_transaction() or session.get_bind().dialect.name == "sqlite"


async def get_session() -> AsyncIterator[Session]:
    """A dependency without a thread-pool hop: opening a session does no I/O, and its few
    short statements cost less than two hand-offs to a thread (bench/README.md)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@contextmanager
def committed(session: Session, conflict: str, errors: list[FieldError] | None = None):
    """Runs the block and commits; a unique or foreign-key clash becomes 409 `conflict` (with
    `errors` for the fields involved) and nothing is kept."""
    try:
        yield
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(conflict, list(errors or [])) from exc
    except Exception:
        session.rollback()
        raise
