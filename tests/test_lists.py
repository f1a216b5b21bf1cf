"""Lists: membership that follows the directory, manual changes, delivery choices, CSV, and the
RFC 8058 one-click unsubscribe link (a real HTTP POST without a session)."""

import csv
import io
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from app.demo import DEMO_PASSWORD
from app.models.audit import AuditEntry
from app.models.liaison import Appointment
from app.models.list import Delivery, Subscription
from app.models.outbox import OutboxMessage
from app.models.user import Role
from app.services import lists
from app.services.institutions import today


@pytest.fixture
def staff(make):
    return make.signed_in(Role.consortium_staff)[1]


def emails(client, staff, slug: str) -> set[str]:
    response = client.get(f"/lists/{slug}/members", headers=staff)
    assert response.status_code == 200, response.text
    return {m["email"] for m in response.json()["data"]}


def test_membership_follows_an_appointment_from_its_first_day_to_its_end(client, db, make, staff):
    college = make.institution("MEMB")
    make.mailing_list("memb-liaisons", roles=("liaison",))
    new = make.liaison(college.code, roles=("liaison",), started_on=today(), email="new@memb.edu")
    later = make.liaison(
        college.code,
        roles=("backup_liaison",),
        started_on=today() + timedelta(days=3),
        email="later@memb.edu",
    )
    assert emails(client, staff, "memb-liaisons") == {"new@memb.edu"}

    # The appointment ends today: off the list today; a liaison appointed tomorrow is not on yet.
    appointment = db.exec(select(Appointment).where(Appointment.liaison_id == new.id)).one()
    appointment.ended_on = today()
    db.add(appointment)
    db.add(
        Appointment(
            liaison_id=later.id,
            institution=college.code,
            role="liaison",
            started_on=today() + timedelta(days=1),
        )
    )
    db.commit()
    assert emails(client, staff, "memb-liaisons") == set()


def test_an_audience_rule_narrowed_to_institution_kinds(client, make, staff):
    uni = make.institution("UNIV", kind="public_university")
    cc = make.institution("CCOL", kind="community_college")
    make.liaison(uni.code, roles=("director",), email="dir@univ.edu")
    make.liaison(cc.code, roles=("director",), email="dir@ccol.edu")
    make.mailing_list("cc-directors", roles=("director",), institution_kinds=["community_college"])
    assert emails(client, staff, "cc-directors") == {"dir@ccol.edu"}


def test_the_list_of_lists_counts_members_by_the_members_rule(client, db, make, staff):
    """The counts on /lists are read for every list at once; they must agree with each
    list's own members, whatever the rule (roles, kinds, by hand, ended appointments)."""
    uni = make.institution("UNIX", kind="public_university")
    cc = make.institution("CCOX", kind="community_college")
    make.liaison(uni.code, roles=("director", "billing"))
    make.liaison(cc.code, roles=("director",))
    make.liaison(cc.code, roles=("billing",), ended_on=today() - timedelta(days=1))
    by_hand = make.liaison(uni.code, roles=("cataloging",))
    make.mailing_list("count-directors", roles=("director",))
    make.mailing_list(
        "count-cc", roles=("director", "billing"), institution_kinds=["community_college"]
    )
    hand = make.mailing_list("count-hand", roles=())
    make.mailing_list("count-billing", roles=("billing",))
    db.add(Subscription(list_id=hand.id, liaison_id=by_hand.id, manual=True))
    db.commit()
    listed = client.get("/lists?limit=200", headers=staff).json()["data"]
    counts = {m["slug"]: m["members"] for m in listed}
    for found in lists.lists_by_slug(db, list(counts)):
        assert counts[found.slug] == len(lists.members(db, [found])), found.slug
    assert counts["count-hand"] == 1 and counts["count-cc"] == 1


def test_staff_add_and_remove_by_hand_audited_and_csv_export(client, db, make, staff):
    make.mailing_list("hand-list", roles=())
    person = make.liaison(roles=("billing",), name="=Bill Payer", email="bill@hand.edu")
    added = client.post("/lists/hand-list/members", json={"liaison": person.id}, headers=staff)
    assert added.status_code == 201, added.text
    assert added.json()["source"] == "manual"
    exported = client.get("/lists/hand-list/members?format=csv", headers=staff)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows == [
        {
            "name": "'=Bill Payer",
            "email": "bill@hand.edu",
            "institution": person.institution,
            "source": "manual",
            "delivery": "each",
        }
    ]
    removed = client.delete(f"/lists/hand-list/members/{person.id}", headers=staff)
    assert removed.status_code == 200 and removed.json()["delivery"] == "none"
    actions = db.exec(select(AuditEntry.action).where(AuditEntry.entity_id == "hand-list")).all()
    assert {"subscribe", "unsubscribe"} <= set(actions)


def test_library_roles_cannot_see_members(client, make):
    make.mailing_list("private-members")
    _, headers = make.signed_in(Role.liaison)
    assert client.get("/lists/private-members/members", headers=headers).status_code == 403


def test_a_required_list_cannot_be_turned_off_and_says_why(client, db, make):
    make.mailing_list("must-read", roles=("liaison",), required=True, name="Must read")
    user, headers = make.signed_in(Role.liaison)
    make.liaison(user.institution, roles=("liaison",), email=user.email)
    refused = client.put("/lists/must-read/preference", json={"delivery": "none"}, headers=headers)
    assert refused.status_code == 422
    assert "cannot be turned off" in refused.json()["detail"]
    assert db.exec(select(Subscription)).all() == []
    digest = client.put("/lists/must-read/preference", json={"delivery": "digest"}, headers=headers)
    assert digest.status_code == 200 and digest.json()["delivery"] == "digest"
    page = client.get("/lists/preferences", headers={**headers, "Accept": "text/html"})
    assert "cannot be turned off" in page.text


def _bearer(base: str, email: str) -> dict[str, str]:
    token = httpx.post(f"{base}/auth/token", data={"username": email, "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_one_click_unsubscribe_is_a_real_http_post_without_a_session(live_server: str):
    """RFC 8058: the mail program POSTs `List-Unsubscribe=One-Click` to the URL in the header,
    with no cookie and no CSRF token, over real HTTP; the person is off the list."""
    staff = _bearer(live_server, "staff@consortium.example.org")
    group = httpx.get(f"{live_server}/lists/ishare-fulfillment", headers=staff).json()
    people = httpx.get(
        f"{live_server}/lists/ishare-fulfillment/members?limit=200", headers=staff
    ).json()["data"]
    person = next(p for p in people if p["delivery"] == "each")
    token = lists.unsubscribe_token(group["id"], person["liaison"])

    answer = httpx.post(
        f"{live_server}/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    assert "You are unsubscribed" in answer.text
    after = httpx.get(
        f"{live_server}/lists/ishare-fulfillment/members?limit=200", headers=staff
    ).json()["data"]
    assert next(p for p in after if p["liaison"] == person["liaison"])["delivery"] == "none"
    # Posting again is harmless.
    again = httpx.post(f"{live_server}/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert again.status_code == 200


def test_the_unsubscribe_header_link_from_a_real_message(client, db, make, staff):
    """The message's List-Unsubscribe URL names its person; a tampered link or one altered to
    name another person is a 404 and changes nothing."""
    target = make.mailing_list("leavable", roles=("fulfillment",))
    person = make.liaison(roles=("fulfillment",), email="leaver@lib.edu")
    other = make.liaison(roles=("fulfillment",), email="stayer@lib.edu")
    response = client.post(
        "/announcements",
        json={"subject": "Notice", "body": "Hello", "lists": ["leavable"]},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    message = db.exec(
        select(OutboxMessage).where(OutboxMessage.template == "announcements/message")
    ).all()
    mine = next(m for m in message if m.recipients == ["leaver@lib.edu"])
    path = "/" + mine.unsubscribe_url.split("://", 1)[1].split("/", 1)[1]
    list_id, person_id, signature = path.rsplit("/", 1)[1].split(".")
    assert (int(list_id), int(person_id)) == (target.id, person.id)

    for bad in (
        f"/unsubscribe/{list_id}.{other.id}.{signature}",  # another person, same signature
        f"/unsubscribe/{list_id}.{person_id}.{signature[:-2]}xx",  # tampered
        "/unsubscribe/not-a-token",
    ):
        refused = client.post(bad, content=b"List-Unsubscribe=One-Click")
        assert refused.status_code == 404, bad
    assert db.exec(select(Subscription)).all() == []

    page = client.get(path)  # a link preview only asks
    assert page.status_code == 200 and "Leave" in page.text
    assert db.exec(select(Subscription)).all() == []
    done = client.post(path, content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200
    db.expire_all()
    assert db.get(Subscription, (target.id, person.id)).delivery is Delivery.none
    assert db.get(Subscription, (target.id, other.id)) is None
