"""The inbound-mail page in a real browser: staff read refused mail in plain words, switch to
accepted mail, on a desktop and a phone; axe-core finds no serious violation."""

import json

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.core.db import build_engine
from app.models.outbox import OutboxMessage
from app.models.ticket import Ticket
from app.services import mail_in
from tests.live_server import sign_in
from tests.test_browser import DESKTOP, PHONE, axe_violations
from tests.test_mail_in import message

pytestmark = pytest.mark.browser

STAFF = "staff@consortium.example.org"
LIAISON = "liaison@uiu.example.edu"


@pytest.fixture(scope="module")
def mail(live_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Mail received by the live server's portal: a refused one and a reply; returns the
    number of the ticket replied to."""
    [path] = tmp_path_factory.getbasetemp().glob("live[0-9]*/live.db")
    engine = build_engine(f"sqlite:///{path}")
    with Session(engine, expire_on_commit=False) as session:
        ticket = session.exec(
            select(Ticket)
            .where(Ticket.institution == "UIU", Ticket.status != "closed")
            .where(Ticket.merged_into.is_(None))
            .order_by(Ticket.id)
        ).first()
        sent = session.exec(
            select(OutboxMessage.message_id).where(
                OutboxMessage.dedupe_key.startswith(f"ticket:{ticket.id}:")
            )
        ).first()
        raws = [
            message("stranger@elsewhere.example.com", subject="Our catalogue is down"),
            message(LIAISON, body="Still happening this morning.", in_reply_to=sent)
            if sent
            else message(LIAISON, subject=f"Re: [{ticket.number}] x", body="Still happening."),
        ]
        for raw in raws:
            mail_in.receive(session=session, raw=raw)
        number = ticket.number
    engine.dispose()
    return number


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_staff_read_what_came_in_by_mail(live_server: str, page: Page, mail: str, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/inbound-mail")
    table = page.locator("table.inbound-mail")
    expect(table).to_contain_text("stranger@elsewhere.example.com")
    expect(table).to_contain_text("Refused")
    expect(table).to_contain_text("is not a portal user or a contact in the member directory")
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=2)
    page.get_by_role("link", name="Accepted").click()
    expect(page.locator("table.inbound-mail")).to_contain_text(f"Added as a reply to ticket {mail}")
    expect(page.get_by_role("link", name="Accepted")).to_have_attribute("aria-current", "page")
    assert axe_violations(page) == []
