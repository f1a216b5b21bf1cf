"""The audit page (issue 12, I1): filters, names not numbers, links, sign-ins, CSV, SQL count."""

import csv
import io
from datetime import UTC, datetime

from sqlmodel import select

from app.models.audit import AuditEntry
from app.models.user import Role
from app.services import audit
from tests.factories import PASSWORD

HTML = {"Accept": "text/html"}


def _entry(db, actor, action="update", entity_type="institution", entity_id="OWN", **values):
    entry = audit.record(
        db, actor=actor, action=action, entity_type=entity_type, entity_id=entity_id, **values
    )
    db.commit()
    return entry


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["data"]]


def test_filters_by_who_what_which_record_and_when(client, make, db):
    _, headers = make.signed_in(Role.consortium_staff)
    ann = make.user(Role.consortium_staff, name="Ann Auditor")
    ben = make.user(Role.consortium_staff, name="Ben Builder")
    a = _entry(db, ann, "update", "institution", "UIU")
    b = _entry(db, ben, "create", "liaison", "7")
    c = _entry(db, ann, "delete", "liaison", "7")
    c.at = datetime(2025, 3, 3, 12, tzinfo=UTC)  # long ago, on a known day
    db.add(c)
    db.commit()
    get = lambda **p: _ids(client.get("/audit", params=p, headers=headers))  # noqa: E731
    assert set(get(actor=ann.id)) == {a.id, c.id}
    assert set(get(who="ann aud")) == {a.id, c.id}  # part of the name, any case
    assert get(action="create") == [b.id]
    assert set(get(entity_type="liaison", entity_id="7")) == {b.id, c.id}
    assert get(**{"from": "2025-03-03", "to": "2025-03-03"}) == [c.id]
    assert c.id not in get(**{"from": "2025-03-04"})
    assert get(who="Ann", action="update", entity_type="institution") == [a.id]
    assert client.get("/audit", params={"from": "not a day"}, headers=headers).status_code == 422


def test_the_page_shows_names_words_and_links_not_ids_and_codes(client, make, db):
    staff, headers = make.signed_in(Role.consortium_staff)
    make.institution("NMS")
    account = make.user(Role.liaison, "NMS", name="Lena Linked")
    _entry(
        db,
        staff,
        "update",
        "liaison",
        "41",
        before={"roles": ["liaison"], "account": None},
        after={"roles": ["backup_liaison"], "account": account.id},
    )
    page = client.get("/audit", headers=HTML | headers).text
    assert "Backup liaison" in page and "backup_liaison" not in page
    assert "Lena Linked" in page and f"user {account.id}" not in page
    assert 'href="/liaisons/41"' in page  # the entry links to the record it is about
    assert "Directory entry 41" in page and "Changed" in page


def test_a_person_page_names_the_linked_account(client, make, db):
    _, headers = make.signed_in(Role.consortium_staff)
    make.institution("ACC")
    user = make.user(Role.liaison, "ACC", name="Ada Account")
    person = make.liaison("ACC", roles=("liaison",), account=user.id)
    page = client.get(f"/liaisons/{person.id}", headers=HTML | headers).text
    assert "Ada Account" in page and "Linked (user" not in page


def test_sign_ins_and_failures_are_recorded_without_the_password(client, make, db):
    user = make.user(Role.consortium_staff, email="sig@test.example.edu", name="Sig Nin")
    ok = client.post("/auth/token", data={"username": "Sig@Test.example.edu", "password": PASSWORD})
    assert ok.status_code == 200
    wrong = "Wrong-Horse-Battery-1"
    bad = client.post("/auth/token", data={"username": " SIG@test.example.edu", "password": wrong})
    assert bad.status_code == 401
    nobody = client.post("/auth/token", data={"username": "who@x.example", "password": wrong})
    assert nobody.status_code == 401
    entries = [  # this test's own (a committed run of another test may have left others)
        e
        for e in db.exec(select(AuditEntry).where(AuditEntry.action.like("sign_in%"))).all()
        if e.entity_id == str(user.id) or (e.after or {}).get("email") == "who@x.example"
    ]
    by_action = {}
    for e in entries:
        by_action.setdefault(e.action, []).append(e)
    (signed_in,) = by_action["sign_in"]
    assert signed_in.actor == user.id and signed_in.entity_id == str(user.id)
    failed = sorted(by_action["sign_in_failed"], key=lambda e: e.id)
    assert [e.after["email"] for e in failed] == [" SIG@test.example.edu", "who@x.example"]
    assert failed[0].entity_id == str(user.id) and failed[1].entity_id == ""
    assert all(e.actor is None for e in failed)
    for e in entries:
        assert wrong not in repr(e.model_dump()) and PASSWORD not in repr(e.model_dump())
    _, headers = make.signed_in(Role.consortium_staff)
    page = client.get("/audit?action=sign_in_failed", headers=HTML | headers).text
    assert "Failed to sign in" in page and "who@x.example" in page


def test_csv_export_is_every_match_and_injection_safe(client, make, db):
    _, headers = make.signed_in(Role.consortium_staff)
    evil = make.user(Role.consortium_staff, name='=HYPERLINK("http://x.example")')
    for n in range(3):
        _entry(db, evil, "update", "institution", f"C{n}", after={"name": f"+SUM({n})"})
    response = client.get("/audit?format=csv&entity_type=institution&limit=1", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["when", "who", "action", "record", "key", "changes", "request"]
    mine = [r for r in rows[1:] if r[4].startswith("C")]
    assert len(mine) == 3  # the whole answer, not one page
    for row in mine:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
        assert row[1].startswith("'=HYPERLINK") and row[2] == "changed"


def test_the_page_costs_the_same_statements_at_any_page_size(client, make, db, counted):
    _, headers = make.signed_in(Role.consortium_staff)
    people = [make.user(Role.consortium_staff) for _ in range(6)]
    for p in people:
        _entry(db, p, "update", "liaison", str(p.id), before={"account": None},
               after={"account": p.id})  # fmt: skip
    counts = {}
    for limit in (2, 5):
        with counted() as seen:
            response = client.get(f"/audit?limit={limit}", headers=HTML | headers)
        assert response.status_code == 200
        counts[limit] = len(seen)
    assert counts[2] == counts[5]


def test_only_consortium_staff_read_the_audit_trail(client, world):
    for user in (world.own.director, world.own.liaison, world.own.library_staff):
        assert client.get("/audit", headers=world.headers(user)).status_code == 403
    assert (
        client.get("/audit?format=csv", headers=world.headers(world.own.director)).status_code
        == 403
    )
    assert client.get("/audit").status_code == 401
