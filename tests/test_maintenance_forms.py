"""Issue 12 (maintenance and incidents): forms in plain words, the repeat choices, warnings
before saving, cancel rules, the page's upcoming list, zones across a clock change, incident
edits and resolving linked tickets, and who hears of what (C2, C4, C8)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from app.models.audit import AuditEntry
from app.models.liaison import Appointment, ContactRole
from app.models.maintenance import Maintenance, MaintenanceSeries
from app.models.outbox import OutboxMessage
from app.models.ticket import Ticket, TicketComment
from app.models.user import NoticePreference, Role

HTMX = {"HX-Request": "true"}
BODY = {
    "title": "Alma monthly release",
    "starts_at": "2027-06-05T23:00",
    "ends_at": "2027-06-06T03:30",
    "services": ["alma", "primo_ve"],
}
# What a person must never read beside a field.
JARGON = ("Field required", "Input should", "starts_at", "does not parse", "unpack", "regex", "^[")


def errors_of(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def window_notices(db, kind: str | None = None) -> list[OutboxMessage]:
    rows = db.exec(select(OutboxMessage).where(OutboxMessage.template == "maintenance/window"))
    return [m for m in rows.all() if kind is None or m.context["kind"] == kind]


# --- forms: every error at once, in plain words ------------------------------------------------


def test_an_empty_schedule_form_gets_every_error_at_once_in_plain_words(client, db, staff):
    form = {"title": "", "starts_at": "next tuesday", "ends_at": "", "services": "", "impact": ""}
    found = errors_of(client.post("/maintenance", json=form, headers=staff))
    assert set(found) == {"title", "starts_at", "ends_at", "services", "impact"}
    assert found["impact"] == "Choose the impact: none, degraded or outage"
    assert found["title"].startswith("Enter a title")
    assert found["starts_at"].startswith("Enter the start as a date and a time")
    assert found["ends_at"].startswith("Enter the end as a date and a time")
    assert found["services"] == "Choose at least one service"
    for message in found.values():
        assert not any(word in message for word in JARGON), message
    assert db.exec(select(Maintenance)).all() == []


def test_an_end_before_the_start_is_said_beside_the_end_with_the_other_errors(client, staff):
    form = {**BODY, "ends_at": "2027-06-05T22:00", "services": ""}
    found = errors_of(client.post("/maintenance", json=form, headers=staff))
    assert found == {
        "ends_at": "Enter the end time; it must be after the start",
        "services": "Choose at least one service",
    }
    # An edit that moves the start past the end says so the same way.
    edit = {"starts_at": "2027-06-06T05:00", "ends_at": "2027-06-06T04:00"}
    window = client.post("/maintenance", json=BODY, headers=staff).json()
    found = errors_of(client.patch(f"/maintenance/{window['id']}", json=edit, headers=staff))
    assert found == {"ends_at": "Enter the end time; it must be after the start"}


def test_htmx_form_errors_arrive_beside_every_field(client, staff):
    form = {"title": "", "starts_at": "", "ends_at": "", "services": ""}
    response = client.post("/maintenance", json=form, headers={**staff, **HTMX})
    assert response.status_code == 422
    for name in ("title", "starts_at", "ends_at", "services"):
        assert f'id="error-{name}"' in response.text
    assert "Enter the end" in response.text and "Field required" not in response.text


def test_incident_forms_speak_plainly_too(client, make):
    _, staff = make.signed_in(Role.consortium_staff)
    found = errors_of(client.post("/incidents", json={"title": "", "services": ""}, headers=staff))
    assert set(found) == {"title", "services", "body"}
    assert found["body"].startswith("Say what is happening")
    incident = make.incident()
    found = errors_of(
        client.patch(f"/incidents/{incident.id}", json={"services": ["nope"]}, headers=staff)
    )
    assert found["services"].startswith("There is no service called nope")


def test_the_schedule_form_defaults_to_no_impact_lists_libraries_by_name(client, make, staff):
    make.institution("UIU", name="University of Illinois Urbana-Champaign")
    make.institution("GONE", name="Closed College", status="former")
    page = client.get("/maintenance/new", headers={**staff, "Accept": "text/html"}).text
    assert '<option value="none" selected>No impact</option>' in page
    assert "University of Illinois Urbana-Champaign" in page and 'value="UIU"' in page
    assert "Closed College" not in page
    assert 'data-member-filter="member-list"' in page  # the filter box over the list
    assert 'name="repeat"' in page and 'name="repeat_weekdays"' in page
    assert "For experts: a recurrence rule" in page  # the raw rule behind a disclosure


# --- the repeat choices write the RRULE ---------------------------------------------------------


def test_weekly_on_tuesday_and_thursday_ten_times(client, db, staff):
    body = {
        **BODY,
        "starts_at": "2027-01-05T22:00",  # a Tuesday
        "ends_at": "2027-01-05T23:30",
        "repeat": "weekly",
        "repeat_weekdays": ["TH", "TU"],
        "repeat_count": "10",
    }
    created = client.post("/maintenance", json=body, headers=staff)
    assert created.status_code == 201, created.text
    ids = created.json()["windows"]
    assert len(ids) == 10
    windows = db.exec(select(Maintenance).where(Maintenance.id.in_(ids))).all()
    local = sorted(w.starts_at.astimezone(UTC) - timedelta(hours=6) for w in windows)
    assert {d.strftime("%a") for d in local} == {"Tue", "Thu"}
    assert {d.strftime("%H:%M") for d in local} == {"22:00"}
    series = db.get(MaintenanceSeries, windows[0].series_id)
    assert series.rrule == "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=10"


def test_monthly_on_a_day_until_a_date(client, db, staff):
    body = {
        **BODY,
        "starts_at": "2027-01-15T21:00",
        "ends_at": "2027-01-15T23:00",
        "repeat": "monthly",
        "repeat_monthday": 15,
        "repeat_until": "2027-06-15",
    }
    created = client.post("/maintenance", json=body, headers=staff).json()
    windows = db.exec(select(Maintenance).where(Maintenance.id.in_(created["windows"]))).all()
    assert sorted(w.starts_at.date().month for w in windows) == [1, 2, 3, 4, 5, 6]
    series = db.get(MaintenanceSeries, windows[0].series_id)
    assert series.rrule == "FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20270615T235959"


@pytest.mark.parametrize(
    ("choices", "field", "words"),
    [
        ({"repeat": "weekly"}, "repeat_count", "Say how many times it happens"),
        (
            {"repeat": "daily", "repeat_count": 3, "repeat_until": "2027-07-01"},
            "repeat_until",
            "not both",
        ),
        ({"repeat": "daily", "repeat_count": 500}, "repeat_count", "At most 104 windows"),
        ({"repeat": "daily", "repeat_until": "2030-01-01"}, "repeat_until", "more than 104"),
        ({"repeat": "daily", "repeat_until": "2027-01-01"}, "repeat_until", "on or after"),
        ({"repeat": "fortnightly", "repeat_count": 2}, "repeat", "daily, weekly or monthly"),
        (
            {"repeat": "weekly", "repeat_weekdays": "XX", "repeat_count": 2},
            "repeat_weekdays",
            "days",
        ),
        ({"repeat": "weekly", "rrule": "FREQ=DAILY;COUNT=2"}, "rrule", "not both"),
    ],
)
def test_repeat_choices_that_do_not_work_are_said_beside_them(
    client, db, staff, choices, field, words
):
    found = errors_of(client.post("/maintenance", json={**BODY, **choices}, headers=staff))
    assert field in found and words in found[field], found
    assert not any(word in found[field] for word in ("FREQ", "RFC", "COUNT", "UNTIL"))
    assert db.exec(select(Maintenance)).all() == []


# --- warnings before saving -----------------------------------------------------------------


def test_the_form_check_warns_of_overlap_and_short_notice_before_saving(client, db, make, staff):
    soon = datetime.now(UTC) + timedelta(days=2)
    other = make.window(starts_at=soon, hours=3, services=("alma",), title="Sandbox refresh")
    draft = {
        "title": "",
        "starts_at": (soon + timedelta(hours=1)).isoformat(),
        "ends_at": (soon + timedelta(hours=2)).isoformat(),
        "services": ["", "alma"],
    }
    before = len(db.exec(select(Maintenance)).all())
    response = client.post("/maintenance/check", json=draft, headers={**staff, **HTMX})
    assert response.status_code == 200
    assert "Short notice" in response.text and "7 days" in response.text
    assert "Sandbox refresh" in response.text and "on Alma." in response.text
    assert len(db.exec(select(Maintenance)).all()) == before  # a check writes nothing
    # The window being edited does not overlap itself; another service does not overlap.
    mine = {**draft, "window_id": other.id}
    assert "Overlap" not in client.post("/maintenance/check", json=mine, headers=staff).text
    elsewhere = {**draft, "services": "network"}
    assert "Overlap" not in client.post("/maintenance/check", json=elsewhere, headers=staff).text
    far = {**draft, "starts_at": "2030-01-01T01:00", "ends_at": "2030-01-01T02:00"}
    assert "warnings" not in client.post("/maintenance/check", json=far, headers=staff).text
    liaison = make.signed_in(Role.liaison)[1]
    assert client.post("/maintenance/check", json=draft, headers=liaison).status_code == 403


def test_the_form_asks_for_the_check_as_it_changes(client, make, staff):
    page = client.get("/maintenance/new", headers={**staff, "Accept": "text/html"}).text
    assert 'hx-post="/maintenance/check"' in page
    assert 'hx-trigger="change from:#window-form' in page


# --- cancel ---------------------------------------------------------------------------------


def test_an_ended_window_cannot_be_cancelled_and_is_not_offered(client, make, staff):
    ended = make.window(starts_at=datetime.now(UTC) - timedelta(days=2))
    response = client.delete(f"/maintenance/{ended.id}", headers=staff)
    assert response.status_code == 409
    assert "already ended" in response.json()["detail"]
    assert client.get(f"/maintenance/{ended.id}").json()["status"] == "completed"
    page = client.get(f"/maintenance/{ended.id}", headers={**staff, "Accept": "text/html"}).text
    assert "Cancel window" not in page
    upcoming = make.window()
    page = client.get(f"/maintenance/{upcoming.id}", headers={**staff, "Accept": "text/html"})
    assert 'class="danger" hx-delete="/maintenance/' in page.text
    assert "hx-confirm=" in page.text


# --- the list opens on upcoming windows -----------------------------------------------------


def test_the_page_opens_on_upcoming_windows_and_json_keeps_every_window(client, make):
    now = datetime.now(UTC)
    past = make.window(starts_at=now - timedelta(days=5), title="Old release")
    live = make.window(starts_at=now - timedelta(hours=1), title="Running now")
    later = make.window(starts_at=now + timedelta(days=5), title="Next release")
    html = {"Accept": "text/html"}
    page = client.get("/maintenance", headers=html).text
    assert "Running now" in page and "Next release" in page and "Old release" not in page
    assert "See past windows" in page
    past_page = client.get("/maintenance?when=past", headers=html).text
    assert "Old release" in past_page and "Next release" not in past_page
    every = client.get("/maintenance").json()
    assert [w["id"] for w in every["data"]] == [past.id, live.id, later.id]
    assert [w["id"] for w in client.get("/maintenance?when=upcoming").json()["data"]] == [
        live.id,
        later.id,
    ]
    fragment = client.get("/maintenance?when=all", headers=HTMX).text
    assert "Old release" in fragment and "Next release" in fragment


def test_lists_show_service_names_and_impact_words(client, make):
    make.window(services=("alma", "primo_ve"), title="Named")
    make.incident(services=("primo_ve",), title="Slow searches")
    html = {"Accept": "text/html"}
    page = client.get("/maintenance", headers=html).text
    assert "Alma, Primo VE" in page and "alma, primo_ve" not in page
    assert ">Outage<" in page
    incidents = client.get("/incidents", headers=html).text
    assert "Primo VE" in incidents and "primo_ve</td>" not in incidents


# --- C2: each end of a window names its own zone --------------------------------------------


def test_a_window_across_the_spring_change_names_each_zone(client, db, make, staff):
    from app.services.feeds import local_range

    start = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 01:00 CST
    end = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)  # 04:00 CDT
    assert local_range(start, end) == "Sun 2026-03-08 01:00 CST – 04:00 CDT"
    assert local_range(end, end + timedelta(hours=1)) == "Sun 2026-03-08 04:00 – 05:00 CDT"
    code = make.institution().code
    make.liaison(code, ("liaison",))
    window = make.window(starts_at=start, hours=2, institutions=(code,), title="Clocks")
    page = client.get(f"/maintenance/{window.id}", headers={"Accept": "text/html"}).text
    assert "01:00 CST" in page and "04:00 CDT" in page
    listed = client.get("/maintenance?when=all", headers={"Accept": "text/html"}).text
    assert "01:00 CST – 04:00 CDT" in listed
    client.patch(f"/maintenance/{window.id}", json={"impact": "degraded"}, headers=staff)
    (notice,) = window_notices(db, "changed")
    assert notice.context["when"] == "Sun 2026-03-08 01:00 CST – 04:00 CDT"
    atom = client.get("/feeds/status.atom").text
    assert "01:00 CST – 04:00 CDT" in atom


# --- C4: incidents are edited; resolving resolves linked tickets ------------------------------


def test_staff_edit_an_incidents_title_and_services_and_it_is_audited(client, db, make):
    _, staff = make.signed_in(Role.consortium_staff)
    incident = make.incident(services=("primo_ve",), title="Primo slow")
    response = client.patch(
        f"/incidents/{incident.id}",
        json={"title": "Primo VE and Alma slow", "services": ["alma", "primo_ve"]},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["title"] == "Primo VE and Alma slow"
    assert data["services"] == ["alma", "primo_ve"]
    assert len(data["updates"]) == 1  # the timeline stays as written
    (entry,) = db.exec(
        select(AuditEntry).where(
            AuditEntry.entity_type == "incident", AuditEntry.action == "update"
        )
    ).all()
    assert entry.before == {"title": "Primo slow", "services": ["primo_ve"]}
    assert entry.after == {"title": "Primo VE and Alma slow", "services": ["alma", "primo_ve"]}
    for role in (Role.liaison, Role.director, Role.library_staff):
        headers = make.signed_in(role)[1]
        refused = client.patch(f"/incidents/{incident.id}", json={"title": "x"}, headers=headers)
        assert refused.status_code == 403
    assert client.patch(f"/incidents/{incident.id}", json={"title": "x"}).status_code == 401
    page = client.get(f"/incidents/{incident.id}/edit", headers={**staff, "Accept": "text/html"})
    assert page.status_code == 200 and 'hx-patch="/incidents/' in page.text


def test_resolving_an_incident_resolves_its_linked_tickets_with_a_reply(client, db, make):
    staff_user, staff = make.signed_in(Role.consortium_staff)
    incident = make.incident(title="Primo slow")
    tickets = [make.ticket(subject=f"Search broken {n}") for n in range(2)]
    done = make.ticket(subject="Already fixed")
    for ticket in [*tickets, done]:
        linked = client.post(
            f"/incidents/{incident.id}/tickets", json={"ticket": ticket.number}, headers=staff
        )
        assert linked.status_code == 201
    client.patch(f"/tickets/{done.number}", json={"status": "resolved"}, headers=staff)
    page = client.get(f"/incidents/{incident.id}", headers={**staff, "Accept": "text/html"})
    assert 'name="resolve_tickets"' in page.text and tickets[0].number in page.text
    path = f"/incidents/{incident.id}/updates"
    refused = client.post(
        path,
        json={
            "status": "resolved",
            "body": "Fixed.",
            "resolve_tickets": "true",
            "ticket_reply": "",
        },
        headers=staff,
    )
    assert errors_of(refused) == {"ticket_reply": "Write the reply the linked tickets get"}
    reply = "The index was rebuilt; searches work again."
    response = client.post(
        path,
        json={
            "status": "resolved",
            "body": "Fixed.",
            "resolve_tickets": "true",
            "ticket_reply": reply,
        },
        headers=staff,
    )
    assert response.status_code == 201, response.text
    for ticket in tickets:
        db.refresh(ticket)
        assert ticket.status == "resolved"
        comments = db.exec(select(TicketComment).where(TicketComment.ticket_id == ticket.id)).all()
        assert [c.body for c in comments] == [reply]
        assert comments[0].author == staff_user.id and not comments[0].internal
    assert db.exec(select(TicketComment).where(TicketComment.ticket_id == done.id)).all() == []
    (entry,) = db.exec(select(AuditEntry).where(AuditEntry.action == "resolve_tickets")).all()
    assert sorted(entry.after["tickets"]) == sorted(t.number for t in tickets)


def test_resolving_without_the_box_leaves_linked_tickets_alone(client, db, make):
    _, staff = make.signed_in(Role.consortium_staff)
    incident = make.incident()
    ticket = make.ticket()
    client.post(f"/incidents/{incident.id}/tickets", json={"ticket": ticket.number}, headers=staff)
    client.post(
        f"/incidents/{incident.id}/updates",
        json={"status": "resolved", "body": "Fixed.", "ticket_reply": "Unused"},
        headers=staff,
    )
    assert db.get(Ticket, ticket.id).status == "new"


# --- C8: who hears of what ------------------------------------------------------------------


def test_one_email_per_address_whatever_the_roles(client, db, make, staff):
    code, other = make.institution().code, make.institution().code
    person = make.liaison(code, ("liaison", "backup_liaison", "director"))
    # The same person, written with other capitals, at a second library.
    twin = make.liaison(other, ("liaison",), email=person.email.upper())
    client.post("/maintenance", json={**BODY, "institutions": [code, other]}, headers=staff)
    sent = [m.recipients[0].lower() for m in window_notices(db, "announced")]
    assert sent == [person.email.lower()]
    assert twin.email != person.email


def test_former_members_and_appointments_not_yet_begun_hear_nothing(client, db, make, staff):
    current = make.institution().code
    former = make.institution(status="former").code
    now_on = make.liaison(current, ("liaison",))
    make.liaison(current, ("director",), started_on=date.today() + timedelta(days=10))
    make.liaison(former, ("liaison",))
    client.post("/maintenance", json=BODY, headers=staff)  # every member
    assert [m.recipients[0] for m in window_notices(db, "announced")] == [now_on.email]
    client.post(
        "/incidents", json={"title": "Down", "services": ["alma"], "body": "x"}, headers=staff
    )
    sent = db.exec(select(OutboxMessage).where(OutboxMessage.template == "incidents/update")).all()
    assert [m.recipients[0] for m in sent] == [now_on.email]


def test_people_who_turned_a_notice_off_do_not_get_it(client, db, make, staff):
    code = make.institution().code
    quiet_user = make.user(Role.liaison, code)
    quiet = make.liaison(code, ("liaison",), email=quiet_user.email, account=quiet_user.id)
    loud = make.liaison(code, ("director",))
    db.add(NoticePreference(user_id=quiet_user.id, kind="maintenance", email=False))
    db.commit()
    client.post("/maintenance", json={**BODY, "institutions": [code]}, headers=staff)
    assert [m.recipients[0] for m in window_notices(db, "announced")] == [loud.email]
    client.post(
        "/incidents", json={"title": "Down", "services": ["alma"], "body": "x"}, headers=staff
    )
    sent = db.exec(select(OutboxMessage).where(OutboxMessage.template == "incidents/update")).all()
    assert sorted(m.recipients[0] for m in sent) == sorted([quiet.email, loud.email])
    # …and the account page's own switch turns incident notices off too.
    db.add(NoticePreference(user_id=quiet_user.id, kind="incident", email=False))
    db.commit()
    incident = client.post(
        "/incidents", json={"title": "Again", "services": ["alma"], "body": "y"}, headers=staff
    ).json()
    again = db.exec(select(OutboxMessage).where(OutboxMessage.template == "incidents/update"))
    mine = [m for m in again.all() if m.context["incident"]["id"] == incident["id"]]
    assert [m.recipients[0] for m in mine] == [loud.email]


def test_libraries_dropped_from_a_window_are_told(client, db, make, staff):
    from app.notify.mail import render

    kept, dropped = make.institution().code, make.institution().code
    stays = make.liaison(kept, ("liaison",))
    goes = make.liaison(dropped, ("liaison",))
    window = client.post(
        "/maintenance", json={**BODY, "institutions": [kept, dropped]}, headers=staff
    ).json()
    client.patch(f"/maintenance/{window['id']}", json={"institutions": [kept]}, headers=staff)
    assert [m.recipients[0] for m in window_notices(db, "changed")] == [stays.email]
    (told,) = window_notices(db, "dropped")
    assert told.recipients == [goes.email]
    rendered = render(told.template, told.context)
    assert rendered.subject.startswith("No longer affects your library: Alma monthly release")
    assert "no longer affects your library" in rendered.text
    assert "Services: Alma, Primo VE\nImpact: Outage\nChanged: libraries affected" in rendered.text


def test_a_short_windows_reminder_start_and_end_are_one_notice(db, make):
    from app.services.maintenance_notices import send_reminders_and_transitions

    code = make.institution().code
    make.liaison(code, ("liaison",))
    now = datetime.now(UTC)
    short = make.window(
        starts_at=now + timedelta(hours=2),
        hours=2,
        institutions=(code,),
        created_at=now - timedelta(days=10),
    )
    send_reminders_and_transitions(db, now)
    (reminder,) = window_notices(db, "reminder")
    assert reminder.context["coalesced"] is True
    # It starts, then ends: no further e-mail.
    short.starts_at, short.ends_at = now - timedelta(minutes=5), now + timedelta(hours=1)
    db.add(short)
    db.commit()
    send_reminders_and_transitions(db, now)
    short.starts_at, short.ends_at = now - timedelta(hours=2), now - timedelta(minutes=5)
    db.add(short)
    db.commit()
    send_reminders_and_transitions(db, now)
    assert [m.context["kind"] for m in window_notices(db)] == ["reminder"]


def test_a_person_appointed_at_two_affected_libraries_gets_one_change_notice(client, db, make):
    _, staff = make.signed_in(Role.consortium_staff)
    first, second = make.institution().code, make.institution().code
    person = make.liaison(first, ("liaison",))
    db.add(
        Appointment(
            liaison_id=person.id,
            institution=second,
            role=ContactRole.director,
            started_on=date(2024, 1, 1),
        )
    )
    db.commit()
    window = client.post(
        "/maintenance", json={**BODY, "institutions": [first, second]}, headers=staff
    ).json()
    client.patch(f"/maintenance/{window['id']}", json={"impact": "degraded"}, headers=staff)
    assert [m.recipients[0] for m in window_notices(db, "announced")] == [person.email]
    assert [m.recipients[0] for m in window_notices(db, "changed")] == [person.email]


def test_a_short_window_announced_at_short_notice_gets_no_reminder(client, db, make, staff):
    from app.notify.mail import render
    from app.services.maintenance_notices import send_reminders_and_transitions

    code = make.institution().code
    make.liaison(code, ("liaison",))
    soon = datetime.now(UTC) + timedelta(hours=5)
    body = {
        **BODY,
        "starts_at": soon.isoformat(),
        "ends_at": (soon + timedelta(hours=1)).isoformat(),
        "institutions": [code],
    }
    assert client.post("/maintenance", json=body, headers=staff).status_code == 201
    send_reminders_and_transitions(db, datetime.now(UTC))
    (announced,) = window_notices(db)
    assert announced.context["kind"] == "announced" and announced.context["coalesced"] is True
    text = render(announced.template, announced.context).text
    assert "this is the only e-mail you get about it" in text
