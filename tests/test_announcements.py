"""Announcements: sending (one message per person, list headers, two parts), bad input that
writes nothing, the archive and its feed, acknowledgements and reminders, redistribution."""

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import feedparser
import httpx
import pytest
from sqlmodel import func, select

from app.core.middleware import loggable_path
from app.demo import DEMO_PASSWORD
from app.models.announcement import Acknowledgement, Announcement, Redistribution
from app.models.list import Delivery, Subscription
from app.models.outbox import OutboxMessage
from app.models.user import Role
from app.notify.mail import build, render
from app.services import announcements, markdown
from app.services.institutions import today


@pytest.fixture
def staff(make):
    return make.signed_in(Role.consortium_staff)[1]


def sent(db, template: str = "announcements/message") -> list[OutboxMessage]:
    return list(db.exec(select(OutboxMessage).where(OutboxMessage.template == template)).all())


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_one_message_per_person_across_overlapping_lists_with_list_headers(client, db, make, staff):
    make.mailing_list("liaisons-x", roles=("liaison",), name="Liaisons X")
    make.mailing_list("directors-x", roles=("director",), name="Directors X")
    college = make.institution("OVER")
    both = make.liaison(college.code, roles=("liaison", "director"), email="both@over.edu")
    make.liaison(college.code, roles=("backup_liaison",), email="backup@over.edu")
    other = make.institution("OVR2")
    make.liaison(other.code, roles=("director",), email="dir@ovr2.edu")

    response = client.post(
        "/announcements",
        json={
            "subject": "Release notes",
            "body": "**Read** [this](https://example.org).",
            "lists": ["liaisons-x", "directors-x"],
        },
        headers=staff,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "sent" and response.json()["recipients"] == 2
    messages = sent(db)
    assert sorted(m.recipients[0] for m in messages) == ["both@over.edu", "dir@ovr2.edu"]

    mine = next(m for m in messages if m.recipients == [both.email])
    email = wire(mine)
    assert email["List-Id"].startswith('"Liaisons X" <liaisons-x.')
    assert email["List-Unsubscribe"] == f"<{mine.unsubscribe_url}>"
    assert "/unsubscribe/" in mine.unsubscribe_url
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "**Read**" in text and "<strong>Read</strong>" in html
    assert 'rel="noopener nofollow"' in html


def test_script_and_event_handlers_are_stripped_everywhere(client, db, make, staff):
    make.mailing_list("safe-list", roles=("liaison",))
    make.liaison(roles=("liaison",), email="reader@safe.edu")
    body = (
        "Hello <script>alert('x')</script> <img src=x onerror=alert(1)> "
        '<b onclick="steal()">bold</b> [link](javascript:alert(2))'
    )
    response = client.post(
        "/announcements",
        json={"subject": "Careful", "body": body, "lists": ["safe-list"]},
        headers=staff,
    )
    assert response.status_code == 201
    page = client.get(
        f"/announcements/{response.json()['id']}", headers={**staff, "Accept": "text/html"}
    )
    html = sent(db)[0].context["body_html"]
    article = page.text.split('<div class="prose">', 1)[1].split("</article>", 1)[0]
    for rendered in (article, html, str(markdown.render(body))):
        lowered = rendered.lower()
        assert "<script" not in lowered and "alert('x')" not in lowered
        assert "onerror" not in lowered and "onclick" not in lowered
        assert 'href="javascript' not in lowered
    assert "<b>bold</b>" in html


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lists": ["empty-list"]}, "lists"),
        ({"lists": ["no-such-list"]}, "lists"),
        ({"send_at": "2020-01-01T10:00:00-06:00"}, "send_at"),
        ({"acknowledge_by": "2020-01-01"}, "acknowledge_by"),
        ({"action_required": True}, "acknowledge_by"),
        (
            {
                "send_at": (datetime.now(UTC) + timedelta(days=10)).isoformat(),
                "acknowledge_by": (datetime.now(UTC) + timedelta(days=5)).date().isoformat(),
            },
            "acknowledge_by",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    client, db, make, staff, change, field
):
    make.mailing_list("full-list", roles=("liaison",))
    make.mailing_list("empty-list", roles=("billing",))
    make.liaison(roles=("liaison",))
    body = {"subject": "Hi", "body": "Text", "lists": ["full-list"], **change}
    response = client.post("/announcements", json=body, headers=staff)
    assert response.status_code == 422, response.text
    assert field in {e["field"].split(".")[-1] for e in response.json()["errors"]}
    assert count(db, Announcement) == 0 and sent(db) == []


def test_an_empty_compose_form_previews_nothing_and_raises_no_error(client, staff):
    """The preview runs when the page opens: with nothing written yet it must not answer with
    an error, whose alert and field message would pull the focus away from the subject a
    person has started typing."""
    for body in ("", "   "):
        shown = client.post(
            "/announcements/preview", json={"body": body}, headers={**staff, "HX-Request": "true"}
        )
        assert shown.status_code == 200, shown.text
        assert "field-error" not in shown.text and "flash-error" not in shown.text


def test_library_roles_cannot_send(client, make):
    make.mailing_list("full-list", roles=("liaison",))
    _, headers = make.signed_in(Role.director)
    body = {"subject": "Hi", "body": "Text", "lists": ["full-list"]}
    assert client.post("/announcements", json=body, headers=headers).status_code == 403


def test_scheduled_then_sent_by_the_job_and_hidden_from_members_until_then(client, db, make, staff):
    make.mailing_list("later-list", roles=("liaison",))
    make.liaison(roles=("liaison",), email="later@lib.edu")
    when = datetime.now(UTC) + timedelta(hours=2)
    response = client.post(
        "/announcements",
        json={
            "subject": "Later",
            "body": "Soon",
            "lists": ["later-list"],
            "send_at": when.isoformat(),
        },
        headers=staff,
    )
    assert response.status_code == 201 and response.json()["status"] == "scheduled"
    _, member = make.signed_in(Role.liaison)
    assert client.get(response.headers["location"], headers=member).status_code == 404
    assert sent(db) == []
    row = db.get(Announcement, response.json()["id"])
    row.send_at = datetime.now(UTC) - timedelta(minutes=1)
    db.add(row)
    db.commit()
    announcements.send_due(db, datetime.now(UTC))
    db.commit()
    assert [m.recipients for m in sent(db)] == [["later@lib.edu"]]
    assert client.get(response.headers["location"], headers=member).json()["status"] == "sent"
    assert (
        client.patch(response.headers["location"], json={"subject": "x"}, headers=staff).status_code
        == 409
    )


def test_archive_search_permanent_url_and_atom_feed(client, make, staff):
    group = make.mailing_list("archive-list", roles=("liaison",), name="Archive list")
    make.announcement((group,), subject="Courier schedule for May", body="Trucks run Tuesdays.")
    make.announcement((group,), subject="Primo VE notes", body="New facets.")
    _, member = make.signed_in(Role.library_staff)
    found = client.get("/announcements?q=tuesdays&list=archive-list", headers=member).json()
    assert [a["subject"] for a in found["data"]] == ["Courier schedule for May"]
    permanent = found["data"][0]["url"]
    assert client.get(permanent, headers=member).json()["subject"] == "Courier schedule for May"
    feed = client.get("/lists/archive-list/feed.atom", headers=member)
    assert feed.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(feed.content)
    assert {e.title for e in parsed.entries} == {"Courier schedule for May", "Primo VE notes"}
    assert client.get("/lists/archive-list/feed.atom").status_code == 401


def test_acknowledgement_by_a_lead_and_refused_for_another_library(client, db, make):
    group = make.mailing_list("ack-list", roles=("liaison",))
    own = make.institution("ACKO", name="Ack Own College")
    other = make.institution("ACKT", name="Ack Other College")
    make.liaison(own.code, roles=("liaison",))
    make.liaison(other.code, roles=("liaison",))
    notice = make.announcement((group,), acknowledge_by=today() + timedelta(days=7))
    _, own_lead = make.signed_in(Role.liaison, own.code)
    _, other_lead = make.signed_in(Role.director, other.code)
    _, own_staff = make.signed_in(Role.library_staff, own.code)
    url = f"/announcements/{notice.id}/acknowledgements"

    refused = client.post(url, json={"institution": own.code}, headers=other_lead)
    assert refused.status_code == 404
    assert client.post(url, json={}, headers=own_staff).status_code == 403
    assert count(db, Acknowledgement) == 0

    done = client.post(url, json={}, headers=own_lead)
    assert done.status_code == 201, done.text
    assert done.json()["institution"] == own.code and done.json()["acknowledged"]
    assert client.get(url, headers=own_lead).status_code == 403  # the board is for staff
    _, staff = make.signed_in(Role.consortium_staff)
    board = client.get(url, headers=staff).json()["data"]
    assert [(r["institution"], r["acknowledged"]) for r in board] == [
        (other.code, False),
        (own.code, True),
    ]


def test_reminders_go_before_the_date_only_to_libraries_that_have_not_acknowledged(db, make):
    group = make.mailing_list("remind-list", roles=("liaison",))
    done, late = make.institution("RDON"), make.institution("RLAT")
    make.liaison(done.code, roles=("liaison",), email="done@lib.edu")
    make.liaison(late.code, roles=("liaison",), email="late@lib.edu")
    make.announcement(
        (group,), acknowledge_by=today() + timedelta(days=2), acknowledged=(done.code,)
    )
    make.announcement((group,), acknowledge_by=today() + timedelta(days=20), subject="Far off")
    announcements.send_reminders(db, datetime.now(UTC))
    announcements.send_reminders(db, datetime.now(UTC))  # a second run adds nothing
    db.commit()
    assert [m.recipients for m in sent(db, "announcements/reminder")] == [["late@lib.edu"]]


def test_a_lead_passes_it_on_to_their_own_staff_by_role_with_a_note(client, db, make):
    group = make.mailing_list("pass-list", roles=("liaison",))
    college = make.institution("PASS")
    user, headers = make.signed_in(Role.liaison, college.code)
    make.liaison(college.code, roles=("fulfillment",), email="circ@pass.edu")
    make.liaison(college.code, roles=("cataloging",), email="cat@pass.edu")
    make.liaison(roles=("fulfillment",), email="elsewhere@other.edu")
    notice = make.announcement((group,), subject="Courier change")
    response = client.post(
        f"/announcements/{notice.id}/redistributions",
        json={"roles": ["fulfillment"], "note": "Please read before Monday."},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["recipients"] == 1
    forwarded = sent(db, "announcements/redistributed")
    assert [m.recipients for m in forwarded] == [["circ@pass.edu"]]
    assert forwarded[0].context["note"] == "Please read before Monday."
    assert forwarded[0].reply_to == user.email
    assert db.exec(select(Redistribution)).one().institution == college.code
    nobody = client.post(
        f"/announcements/{notice.id}/redistributions", json={"roles": ["billing"]}, headers=headers
    )
    assert nobody.status_code == 422 and count(db, Redistribution) == 1


def test_home_shows_recent_announcements_and_open_acknowledgements(client, make):
    group = make.mailing_list("home-list", roles=("liaison",))
    college = make.institution("HOME")
    make.liaison(college.code, roles=("liaison",))
    make.announcement((group,), subject="Open notice", acknowledge_by=today() + timedelta(days=4))
    _, headers = make.signed_in(Role.liaison, college.code)
    # The home page loads each widget on its own (issue 12): this one is /home/announcements.
    page = client.get("/home/announcements", headers={**headers, "Accept": "text/html"})
    assert "Recent announcements" in page.text
    assert "Waiting for your library" in page.text and "Open notice" in page.text


# --- interest-group posts and their moderation -------------------------------------------------


def _member(make, code: str, slug: str = "ig-list"):
    """A signed-in liaison who is on the interest-group list `slug` (by the directory)."""
    make.mailing_list(
        slug, roles=("liaison",), name="Resource sharing group", kind="interest_group"
    )
    make.institution(code)
    user, headers = make.signed_in(Role.liaison, code)
    make.liaison(code, roles=("liaison",), email=user.email)
    return user, headers


def test_a_members_post_waits_for_staff_then_is_sent_like_any_announcement(client, db, make, staff):
    poster, headers = _member(make, "IGP1")
    make.liaison(roles=("liaison",), email="reader@ig.edu")
    _, outsider = make.signed_in(Role.liaison)
    body = {"subject": "ILL tip", "body": "Try **this**.", "lists": ["ig-list"]}
    posted = client.post("/announcements", json=body, headers=headers)
    assert posted.status_code == 201, posted.text
    assert posted.json()["status"] == "pending" and posted.json()["recipients"] == 0
    url = posted.headers["location"]
    announcements.send_due(db, datetime.now(UTC))  # the clock does not send a post
    db.commit()
    assert sent(db) == []
    assert client.get(url, headers=headers).json()["status"] == "pending"  # the poster sees it
    assert client.get(url, headers=outsider).status_code == 404  # nobody else does
    queue = client.get("/announcements?status=pending", headers=staff).json()["data"]
    assert [a["subject"] for a in queue] == ["ILL tip"]

    approve = {"decision": "approve"}
    assert client.post(f"{url}/moderation", json=approve, headers=headers).status_code == 403
    approved = client.post(f"{url}/moderation", json=approve, headers=staff)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "sent" and approved.json()["recipients"] == 2
    assert sorted(m.recipients[0] for m in sent(db)) == sorted([poster.email, "reader@ig.edu"])
    assert client.get(url, headers=outsider).json()["status"] == "sent"
    again = client.post(f"{url}/moderation", json=approve, headers=staff)
    assert again.status_code == 409 and len(sent(db)) == 2


def test_a_rejected_post_needs_a_reason_and_the_poster_is_told_by_mail(client, db, make, staff):
    poster, headers = _member(make, "IGP2")
    make.liaison(roles=("liaison",), email="reader2@ig.edu")
    body = {"subject": "Off topic", "body": "For sale: a bicycle.", "lists": ["ig-list"]}
    url = client.post("/announcements", json=body, headers=headers).headers["location"]

    no_reason = client.post(f"{url}/moderation", json={"decision": "reject"}, headers=staff)
    assert no_reason.status_code == 422
    assert {e["field"].split(".")[-1] for e in no_reason.json()["errors"]} == {"reason"}
    assert client.get(url, headers=staff).json()["status"] == "pending"

    reason = "This list is for resource sharing questions."
    rejected = client.post(
        f"{url}/moderation", json={"decision": "reject", "reason": reason}, headers=staff
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected" and rejected.json()["review_reason"] == reason
    assert sent(db) == []  # no member got it
    told = sent(db, "announcements/rejected")
    assert [m.recipients for m in told] == [[poster.email]]
    text = render(told[0].template, told[0].context)
    assert reason in str(text)
    page = client.get(url, headers={**headers, "Accept": "text/html"})
    assert "turned this post down" in page.text and reason in page.text


def test_announcement_lists_stay_one_way_and_only_members_post(client, db, make):
    _, headers = _member(make, "IGP3")
    make.mailing_list("one-way", roles=("liaison",), name="CARLI announcements")
    make.mailing_list(
        "other-ig", roles=("director",), name="Directors' group", kind="interest_group"
    )
    make.liaison(roles=("director",))
    refused = client.post(
        "/announcements",
        json={"subject": "Hi", "body": "Text", "lists": ["one-way"]},
        headers=headers,
    )
    assert refused.status_code == 403
    assert "CARLI announcements only carries announcements" in refused.json()["detail"]
    not_member = client.post(
        "/announcements",
        json={"subject": "Hi", "body": "Text", "lists": ["other-ig"]},
        headers=headers,
    )
    assert not_member.status_code == 403
    assert "Only members of Directors' group" in not_member.json()["detail"]
    scheduled = client.post(
        "/announcements",
        json={
            "subject": "Hi",
            "body": "Text",
            "lists": ["ig-list"],
            "send_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "acknowledge_by": (today() + timedelta(days=3)).isoformat(),
        },
        headers=headers,
    )
    assert scheduled.status_code == 422
    fields = {e["field"].split(".")[-1] for e in scheduled.json()["errors"]}
    assert fields == {"send_at", "acknowledge_by"}
    assert count(db, Announcement) == 0 and sent(db) == []


# --- the daily digest --------------------------------------------------------------------------


def test_the_daily_digest_one_message_a_day_nothing_means_nothing_required_still_delivers(
    client, db, make, staff
):
    chatty = make.mailing_list("digest-x", roles=("liaison",), name="Digest X")
    make.mailing_list("must-x", roles=("director",), name="Must X", required=True)
    digest = make.liaison(roles=("liaison",), email="digest@dg.edu")
    nothing = make.liaison(roles=("liaison", "director"), email="none@dg.edu")
    make.liaison(roles=("liaison",), email="each@dg.edu")
    db.add(Subscription(list_id=chatty.id, liaison_id=digest.id, delivery=Delivery.digest))
    db.add(Subscription(list_id=chatty.id, liaison_id=nothing.id, delivery=Delivery.none))
    db.commit()
    old = make.announcement((chatty,), subject="Last week")
    old.sent_at = datetime.now(UTC) - timedelta(days=3)
    db.add(old)
    db.commit()

    for subject, slug in [("First", "digest-x"), ("Second", "digest-x"), ("Must read", "must-x")]:
        response = client.post(
            "/announcements",
            json={"subject": subject, "body": "Text", "lists": [slug]},
            headers=staff,
        )
        assert response.status_code == 201, response.text
    each = sorted((m.recipients[0], m.context["subject"]) for m in sent(db))
    assert each == [
        ("each@dg.edu", "First"),
        ("each@dg.edu", "Second"),
        ("none@dg.edu", "Must read"),  # "nothing" on one list; the required list still delivers
    ]

    period = datetime.now(UTC) + timedelta(minutes=1)
    announcements.send_digests(db, period)
    announcements.send_digests(db, period)  # the same day twice: still one
    db.commit()
    digests = sent(db, "announcements/digest")
    assert [m.recipients for m in digests] == [["digest@dg.edu"]]
    assert [i["subject"] for i in digests[0].context["items"]] == ["First", "Second"]
    text = str(render(digests[0].template, digests[0].context))
    assert "First" in text and "Second" in text and "Last week" not in text

    announcements.send_digests(db, period + timedelta(days=1))  # a day with nothing new
    db.commit()
    assert len(sent(db, "announcements/digest")) == 1


# --- one click from the e-mail to acknowledge --------------------------------------------------


def test_the_action_required_message_carries_a_per_person_acknowledge_link(client, db, make, staff):
    make.mailing_list("ack-mail", roles=("liaison", "fulfillment"))
    college = make.institution("AKML")
    lead = make.liaison(college.code, roles=("liaison",), email="lead@akml.edu")
    make.liaison(college.code, roles=("fulfillment",), email="circ@akml.edu")
    response = client.post(
        "/announcements",
        json={
            "subject": "Confirm your fiscal contact",
            "body": "Please confirm.",
            "lists": ["ack-mail"],
            "acknowledge_by": (today() + timedelta(days=10)).isoformat(),
        },
        headers=staff,
    )
    assert response.status_code == 201, response.text
    by_person = {m.recipients[0]: m for m in sent(db)}
    link = by_person["lead@akml.edu"].context["acknowledge_url"]
    expected = announcements.acknowledge_token(response.json()["id"], lead.id)
    assert link.endswith(f"/announcements/{response.json()['id']}/acknowledge/{expected}")
    assert by_person["circ@akml.edu"].context["acknowledge_url"] is None  # not a library lead
    mail = wire(by_person["lead@akml.edu"])
    assert link in mail.get_body(("plain",)).get_content()
    assert link in mail.get_body(("html",)).get_content()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    assert loggable_path(path) == f"/announcements/{response.json()['id']}/acknowledge/[redacted]"


def wire(message: OutboxMessage) -> EmailMessage:
    """The message as a receiver parses it off the wire."""
    built = build(message, render(message.template, message.context))
    return message_from_bytes(built.as_bytes(), policy=policy.default)


def _bearer(base: str, email: str) -> dict[str, str]:
    token = httpx.post(f"{base}/auth/token", data={"username": email, "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_one_click_acknowledge_through_real_http_without_a_session(live_server: str):
    """GET only asks; POST acknowledges for the person's library, no cookie or CSRF token;
    a tampered link, another person's, or one for another announcement is a 404 and writes
    nothing."""
    staff = _bearer(live_server, "staff@consortium.example.org")
    notice = httpx.get(f"{live_server}/announcements?limit=200", headers=staff).json()["data"]
    notice = next(a for a in notice if a["action_required"] and a["status"] == "sent")
    other_notice = next(
        a
        for a in httpx.get(f"{live_server}/announcements?limit=200", headers=staff).json()["data"]
        if a["id"] != notice["id"] and a["status"] == "sent"
    )
    board_url = f"{live_server}/announcements/{notice['id']}/acknowledgements?limit=200"

    def board() -> dict[str, bool]:
        rows = httpx.get(board_url, headers=staff).json()["data"]
        return {r["institution"]: r["acknowledged"] for r in rows}

    before = board()
    code = next(c for c, done in before.items() if not done)
    people = httpx.get(f"{live_server}/institutions/{code}/liaisons", headers=staff).json()
    people = people["data"] if isinstance(people, dict) else people
    lead = next(p for p in people if {"liaison", "director"} & set(p["roles"]) and p["active"])
    other = next(p for p in people if p["id"] != lead["id"])
    token = announcements.acknowledge_token(notice["id"], lead["id"])
    path = f"{live_server}/announcements/{notice['id']}/acknowledge/{token}"

    page = httpx.get(path)
    assert page.status_code == 200 and "Acknowledge for" in page.text
    assert board() == before  # a GET (a link preview) changes nothing

    signature = token.split(".", 1)[1]
    for bad in (
        f"/announcements/{notice['id']}/acknowledge/{lead['id']}.{signature[:-2]}xx",
        f"/announcements/{notice['id']}/acknowledge/{other['id']}.{signature}",
        f"/announcements/{other_notice['id']}/acknowledge/{token}",
        f"/announcements/{notice['id']}/acknowledge/not-a-token",
    ):
        assert httpx.post(live_server + bad).status_code == 404, bad
        assert httpx.get(live_server + bad).status_code == 404, bad
    assert board() == before

    done = httpx.post(path)
    assert done.status_code == 200, done.text
    assert "Acknowledged" in done.text
    assert board() == {**before, code: True}
    assert httpx.post(path).status_code == 200  # again: harmless, still one
    assert board() == {**before, code: True}
