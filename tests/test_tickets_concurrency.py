"""Ticket numbers stay unique and gap-free when many are filed at once.

These tests commit for real (threads and processes need their own connections), so each one
cleans up after itself. Several processes need PostgreSQL; threads run on either database.
"""

import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import String, cast, delete, text
from sqlmodel import Session, col, select

from app.core.db import build_engine
from app.core.errors import Invalid
from app.models.audit import AuditEntry
from app.models.institution import Institution
from app.models.outbox import OutboxMessage
from app.models.ticket import Ticket, TicketCounter, TicketCreate, TicketEvent
from app.models.user import Role, User
from app.services import tickets
from tests.conftest import DATABASE_URL, is_postgres

PER_WORKER = 5


def _file(user_id: int, count: int, url: str = DATABASE_URL) -> list[str]:
    """Files `count` tickets in their own sessions, the way separate requests would."""
    engine = build_engine(url)
    numbers = []
    try:
        for i in range(count):
            with Session(engine, expire_on_commit=False) as session:
                user = session.get(User, user_id)
                data = TicketCreate(subject=f"Load {i}", description="x", category="other")
                numbers.append(tickets.create_ticket(session=session, actor=user, data=data).number)
    finally:
        engine.dispose()
    return numbers


def _file_in_process(user_id: int) -> list[str]:
    return _file(user_id, PER_WORKER, os.environ["PORTAL_DATABASE_URL"])


@pytest.fixture
def filer(engine):
    """A committed library and user; everything filed in the test is removed afterwards."""
    with Session(engine, expire_on_commit=False) as session:
        session.add(Institution(code="CONC", name="Concurrency College", alma_code="01CARLI_CONC"))
        session.commit()
        user = User(email="filer@conc.example.edu", name="Filer", role=Role.liaison,
                    institution="CONC")  # fmt: skip
        session.add(user)
        session.commit()
    yield user
    with Session(engine) as session:
        ids = select(Ticket.id).where(Ticket.institution == "CONC")
        numbers = list(session.exec(select(Ticket.number).where(Ticket.institution == "CONC")))
        session.exec(delete(TicketEvent).where(col(TicketEvent.ticket_id).in_(ids)))
        filed = cast(OutboxMessage.recipients, String).like(f"%{user.email}%")  # "report filed"
        session.exec(delete(OutboxMessage).where(filed))
        session.exec(delete(AuditEntry).where(col(AuditEntry.entity_id).in_(numbers)))
        session.exec(delete(Ticket).where(Ticket.institution == "CONC"))
        session.exec(delete(TicketCounter))
        session.exec(delete(User).where(User.id == user.id))
        session.exec(delete(Institution).where(Institution.code == "CONC"))
        session.commit()


def _assert_gap_free(numbers: list[str]) -> None:
    assert len(numbers) == len(set(numbers)), "a number was given out twice"
    serials = sorted(int(n.split("-")[1]) for n in numbers)
    assert serials == list(range(serials[0], serials[0] + len(serials))), "a number was skipped"


def test_threads_filing_at_once_get_gap_free_numbers(filer):
    with ThreadPoolExecutor(max_workers=6) as pool:
        batches = list(pool.map(lambda _: _file(filer.id, PER_WORKER), range(6)))
    _assert_gap_free([n for batch in batches for n in batch])


def test_a_failed_filing_gives_its_number_back(engine, filer):
    [first] = _file(filer.id, 1)
    with Session(engine) as session:
        user = session.get(User, filer.id)
        data = TicketCreate(subject="Broken", description="x", category="other", watchers=[999999])
        with pytest.raises(Invalid):
            tickets.create_ticket(session=session, actor=user, data=data)
    [second] = _file(filer.id, 1)
    _assert_gap_free([first, second])


@pytest.mark.skipif(not is_postgres(), reason="several processes need PostgreSQL")
def test_processes_filing_at_once_get_gap_free_numbers(engine, filer):
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        batches = pool.map(_file_in_process, [filer.id] * 3)
    with ThreadPoolExecutor(max_workers=3) as threads:
        batches += list(threads.map(lambda _: _file(filer.id, PER_WORKER), range(3)))
    numbers = [n for batch in batches for n in batch]
    assert len(numbers) == 6 * PER_WORKER
    _assert_gap_free(numbers)
    with engine.connect() as conn:
        last = conn.execute(text("SELECT max(last) FROM ticket_counter")).scalar_one()
    assert last == max(int(n.split("-")[1]) for n in numbers)
