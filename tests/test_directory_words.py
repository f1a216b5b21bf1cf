"""Directory follow-ups (issue 12): rejecting asks first, the pending count for the navigation,
and words, not codes, in directory pages and e-mails."""

import re

from sqlmodel import select

from app.models.outbox import OutboxMessage
from app.models.user import Role
from app.notify.mail import render
from app.services import directory_changes

HTML = {"Accept": "text/html"}


def test_reject_is_destructive_and_asks_first(client, world):
    page = client.get(
        f"/directory-changes/{world.own.change.id}", headers=HTML | world.headers(world.staff)
    ).text
    reject = page[page.rindex("<button", 0, page.index("/reject")) : page.index(">Reject<")]
    assert 'class="danger"' in reject and "hx-confirm=" in reject
    approve = page[page.rindex("<button", 0, page.index("/approve")) : page.index(">Approve")]
    assert "danger" not in approve


def test_pending_count_is_one_cheap_statement(make, world, db, counted):
    before = directory_changes.pending_count(session=db)
    make.directory_change(world.own.director)
    rejected = make.directory_change(world.own.director)
    rejected.status = "rejected"
    db.add(rejected)
    db.commit()
    with counted() as seen:
        assert directory_changes.pending_count(session=db) == before + 1
    assert len(seen) == 1


def test_pages_say_roles_kinds_and_statuses_in_words(client, make, db):
    make.institution("WRD", name="Words College", kind="community_college", status="leaving")
    make.liaison("WRD", roles=("backup_liaison", "e_resources"), name="Bea Backup")
    _, staff = make.signed_in(Role.consortium_staff)
    pages = [
        client.get(path, headers=HTML | staff).text
        for path in ("/liaisons?institution=WRD", "/institutions/WRD/liaisons", "/institutions/WRD")
    ]
    text = re.sub(r"<[^>]+>", " ", " ".join(pages))  # what people read, not attributes
    assert "Backup liaison" in text and "E-resources" in text
    assert "backup_liaison" not in text and "e_resources" not in text
    assert "Community college" in pages[2] and "community_college" not in text
    listing = client.get("/institutions?q=Words", headers=HTML | staff).text
    assert 'data-label="Kind"' in listing and "Community college" in listing


def test_directory_emails_use_words_and_names(client, make, world, db):
    make.institution("MLW", name="Mail Words University")
    change = make.directory_change(
        make.user(Role.liaison, "MLW", email="req@mlw.example.edu"), kind="add"
    )
    staff = world.headers(world.staff)
    response = client.post(
        f"/directory-changes/{change.id}/reject", json={"reason": "Duplicate"}, headers=staff
    )
    assert response.status_code == 200, response.text
    person = make.liaison("MLW", roles=("director",), email="dir@mlw.example.edu")
    assert client.post(f"/liaisons/{person.id}/invitation", headers=staff).status_code == 201
    for template, to in (("directory/decision", "req@"), ("directory/invitation", "dir@")):
        (message,) = [
            m
            for m in db.exec(select(OutboxMessage).where(OutboxMessage.template == template))
            if any(r.startswith(to) for r in m.recipients)
        ]
        text = render(message.template, message.context).text
        assert "Mail Words University" in text, text
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", re.sub(r"http\S+", "", text)), text
    assert "to add a contact" in render("directory/decision", _ctx(db, "req@")).text
    assert "library director" in render("directory/invitation", _ctx(db, "dir@")).text


def _ctx(db, to):
    for m in db.exec(select(OutboxMessage)):
        if any(r.startswith(to) for r in m.recipients):
            return m.context
    raise AssertionError(to)
