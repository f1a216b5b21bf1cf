"""The settings every connection of the portal's engine runs with, on the database under test."""

from sqlalchemy import text

from tests.conftest import is_postgres


def test_connections_are_set_up_for_short_queries(engine):
    with engine.connect() as conn:
        if is_postgres():
            # JIT compiling cost a filtered search 36 ms before it ran, and random reads
            # priced as on a spinning disk made it hash a million documents (bench/README.md).
            assert conn.execute(text("SHOW jit")).scalar_one() == "off"
            assert float(conn.execute(text("SHOW random_page_cost")).scalar_one()) == 1.1
        else:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
