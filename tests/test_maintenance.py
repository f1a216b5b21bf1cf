"""Maintenance windows over the API: rules, bad input, recurrence, notices, roles, views."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from app.models.maintenance import Maintenance, MaintenanceStatus
from app.models.outbox import OutboxMessage
from app.models.user import Role
from app.services.maintenance import expand

FUTURE = "2027-06-05T23:00:00-05:00"  # a Saturday night, CDT
BODY = {
    "title": "Alma monthly release",
    "starts_at": FUTURE,
    "ends_at": "2027-06-06T03:30:00-05:00",
    "services": ["alma", "primo_ve"],
    "impact": "outage",
}


def messages(db, kind: str) -> list[OutboxMessage]:
    """The window notices of one kind (announced, changed, …) in the outbox."""
    rows = db.exec(select(OutboxMessage).where(OutboxMessage.template == "maintenance/window"))
    return [m for m in rows.all() if m.context["kind"] == kind]


def test_staff_schedule_a_window_and_get_201_location_and_derived_status(client, staff):
    response = client.post("/maintenance", json=BODY, headers=staff)
    assert response.status_code == 201, response.text
    data = response.json()
    assert response.headers["location"] == f"/maintenance/{data['id']}"
    assert data["status"] == "scheduled"
    assert data["services"] == ["alma", "primo_ve"]
    assert data["institutions"] == []
    assert data["starts_at"] == "2027-06-06T04:00:00Z"
    assert data["warnings"] == []
    assert data["sequence"] == 0
    assert client.get(f"/maintenance/{data['id']}").json()["title"] == "Alma monthly release"


def test_naive_times_are_read_in_the_consortium_zone(client, staff):
    body = {**BODY, "starts_at": "2027-01-09T23:00", "ends_at": "2027-01-10T01:00"}
    data = client.post("/maintenance", json=body, headers=staff).json()
    assert data["starts_at"] == "2027-01-10T05:00:00Z"  # 23:00 CST
    assert data["ends_at"] == "2027-01-10T07:00:00Z"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"ends_at": "2027-06-05T22:00:00-05:00"}, "ends_at", "it must be after the start"),
        ({"services": ["alma", "nope"]}, "services", "Unknown service: nope"),
        ({"services": []}, "services", "Choose at least one service"),
        ({"institutions": ["ZZZZ9"]}, "institutions", "Unknown institution"),
        ({"rrule": "FREQ=SOMETIMES"}, "rrule", "not valid RFC 5545"),
        ({"rrule": "FREQ=DAILY"}, "rrule", "never ends"),
        ({"rrule": "FREQ=DAILY;COUNT=500"}, "rrule", "more than 104 windows"),
        ({"starts_at": "2027-03-14T02:30"}, "starts_at", "does not exist"),
        ({"impact": "apocalypse"}, "impact", "impact"),
    ],
)
def test_bad_input_is_a_problem_and_nothing_is_written(client, db, staff, change, field, words):
    before = len(db.exec(select(Maintenance)).all())
    response = client.post("/maintenance", json={**BODY, **change}, headers=staff)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert words in problem["detail"] or words in str(problem["errors"])
    assert field in {e["field"] for e in problem["errors"]}
    assert len(db.exec(select(Maintenance)).all()) == before
    assert messages(db, "announced") == []


def test_a_recurring_series_makes_windows_editable_one_by_one(client, staff):
    body = {
        **BODY,
        "starts_at": "2027-01-03T00:00",
        "ends_at": "2027-01-03T03:30",
        "rrule": "FREQ=MONTHLY;BYDAY=1SU;COUNT=6",
    }
    created = client.post("/maintenance", json=body, headers=staff).json()
    assert len(created["windows"]) == 6
    listed = client.get("/maintenance", params={"service": "alma", "limit": 10}).json()["data"]
    starts = [w["starts_at"] for w in listed]
    # First Sundays, midnight in Chicago: CST (-6) until March 14, CDT (-5) after.
    assert starts == [
        "2027-01-03T06:00:00Z",
        "2027-02-07T06:00:00Z",
        "2027-03-07T06:00:00Z",
        "2027-04-04T05:00:00Z",
        "2027-05-02T05:00:00Z",
        "2027-06-06T05:00:00Z",
    ]
    assert {w["series"] for w in listed} == {created["series"]}
    third = listed[2]["id"]
    moved = client.patch(
        f"/maintenance/{third}", json={"starts_at": "2027-03-07T01:00"}, headers=staff
    )
    assert moved.status_code == 200
    assert client.delete(f"/maintenance/{listed[3]['id']}", headers=staff).status_code == 200
    after = {w["id"]: w for w in client.get("/maintenance").json()["data"]}
    assert after[third]["starts_at"] == "2027-03-07T07:00:00Z"
    assert after[listed[3]["id"]]["status"] == "cancelled"
    assert after[listed[4]["id"]]["status"] == "scheduled"
    assert after[listed[1]["id"]]["starts_at"] == "2027-02-07T06:00:00Z"


def test_expand_keeps_local_wall_clock_time_across_both_dst_changes():
    start = datetime(2027, 10, 31, 8, 0, tzinfo=UTC)  # Sunday 03:00 CDT
    got = expand("FREQ=WEEKLY;COUNT=2", start, start + timedelta(hours=2))
    assert got[1] == (
        datetime(2027, 11, 7, 9, 0, tzinfo=UTC),  # 03:00 CST, after clocks fell back
        datetime(2027, 11, 7, 11, 0, tzinfo=UTC),
    )
    spring = datetime(2027, 3, 7, 8, 0, tzinfo=UTC)  # Sunday 02:00 CST
    until = expand("RRULE:FREQ=WEEKLY;UNTIL=20270322T000000Z", spring, spring + timedelta(hours=1))
    # 02:00 on March 14 does not exist: the window starts at 03:00 CDT (08:00Z) instead.
    assert [s for s, _ in until] == [
        spring,
        datetime(2027, 3, 14, 8, 0, tzinfo=UTC),
        datetime(2027, 3, 21, 7, 0, tzinfo=UTC),
    ]


def test_overlap_and_short_notice_are_warnings_not_refusals(client, make, staff):
    soon = datetime.now(UTC) + timedelta(days=2)
    existing = make.window(starts_at=soon, hours=3, services=("alma",), title="Sandbox refresh")
    body = {
        **BODY,
        "starts_at": (soon + timedelta(hours=1)).isoformat(),
        "ends_at": (soon + timedelta(hours=2)).isoformat(),
    }
    response = client.post("/maintenance", json=body, headers=staff)
    assert response.status_code == 201
    warnings = response.json()["warnings"]
    assert any("7 days" in w for w in warnings)
    assert any(
        "Sandbox refresh" in w and f"#{existing.id}" in w and w.endswith("on Alma.")
        for w in warnings
    )
    other = {**body, "services": ["network"]}
    assert not any(
        "overlaps" in w
        for w in client.post("/maintenance", json=other, headers=staff).json()["warnings"]
    )


def test_notices_on_announce_material_change_and_cancel_but_not_on_a_typo(client, db, make, staff):
    uiu = make.institution("NTC")
    liaison = make.liaison(uiu.code, ("liaison", "systems"))
    director = make.liaison(uiu.code, ("director",))
    make.liaison(uiu.code, ("cataloging",))
    make.liaison(uiu.code, ("backup_liaison",), ended_on=date(2025, 1, 1))
    elsewhere = make.liaison(roles=("liaison",))
    body = {**BODY, "institutions": "NTC"}
    window = client.post("/maintenance", json=body, headers=staff).json()
    announced = messages(db, "announced")
    assert sorted(m.recipients[0] for m in announced) == sorted([liaison.email, director.email])
    assert elsewhere.email not in {m.recipients[0] for m in announced}
    attachment = announced[0].attachments[0]
    assert attachment["content_type"] == "text/calendar"
    assert f"maintenance-{window['id']}@" in attachment["content"]

    client.patch(f"/maintenance/{window['id']}", json={"description": "Typo fixed"}, headers=staff)
    assert messages(db, "changed") == []
    again = client.patch(
        f"/maintenance/{window['id']}", json={"impact": "degraded"}, headers=staff
    ).json()
    assert again["sequence"] == 2
    changed = messages(db, "changed")
    assert len(changed) == 2 and changed[0].context["changed"] == ["impact"]
    client.delete(f"/maintenance/{window['id']}", headers=staff)
    assert len(messages(db, "cancelled")) == 2


def test_reminder_and_transition_job_enqueues_once(db, make):
    from app.notify.jobs import registered
    from app.services.maintenance_notices import send_reminders_and_transitions

    assert send_reminders_and_transitions in [job.fn for job in registered()]

    code = make.institution().code
    make.liaison(code, ("backup_liaison",))
    now = datetime.now(UTC)
    announced = {"created_at": now - timedelta(days=10)}  # before the reminder's lead
    make.window(starts_at=now + timedelta(hours=3), institutions=(code,), title="Soon", **announced)
    # Longer than the reminder's lead: they also get their start and end notices.
    make.window(starts_at=now - timedelta(minutes=10), hours=30, institutions=(code,), title="Now")
    make.window(
        starts_at=now - timedelta(hours=30, minutes=20),
        hours=30,
        institutions=(code,),
        title="Done",
    )
    make.window(starts_at=now + timedelta(days=9), institutions=(code,), title="Later")
    for _ in range(2):
        send_reminders_and_transitions(db, now)
    assert [m.context["window"]["title"] for m in messages(db, "reminder")] == ["Soon"]
    assert [m.context["window"]["title"] for m in messages(db, "started")] == ["Now"]
    assert [m.context["window"]["title"] for m in messages(db, "ended")] == ["Done"]


def test_cancel_keeps_the_window_listed_as_cancelled(client, make, staff):
    window = make.window()
    response = client.delete(f"/maintenance/{window.id}", headers=staff)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    listed = client.get("/maintenance", params={"status": "cancelled"}).json()["data"]
    assert [w["id"] for w in listed] == [window.id]
    refused = client.patch(f"/maintenance/{window.id}", json={"title": "x"}, headers=staff)
    assert refused.status_code == 422


CLOCK_START = datetime(2027, 6, 6, 5, tzinfo=UTC)
CLOCK_END = CLOCK_START + timedelta(hours=2)
SECOND = timedelta(seconds=1)
# (the clock, cancelled?, the window's status): the rule `Maintenance.status_at` and the
# `status` filter of `list_windows` must both follow.
WINDOW_STATUS = [
    pytest.param(CLOCK_START - SECOND, False, "scheduled", id="a second before it starts"),
    pytest.param(CLOCK_START, False, "in_progress", id="as it starts"),
    pytest.param(CLOCK_END - SECOND, False, "in_progress", id="a second before it ends"),
    pytest.param(CLOCK_END, False, "completed", id="as it ends"),
    pytest.param(CLOCK_START - timedelta(days=1), True, "cancelled", id="cancelled, before"),
    pytest.param(CLOCK_START + timedelta(hours=1), True, "cancelled", id="cancelled, during"),
    pytest.param(CLOCK_END + timedelta(days=1), True, "cancelled", id="cancelled, after"),
]


@pytest.mark.parametrize(("clock", "cancelled", "expected"), WINDOW_STATUS)
def test_window_status_follows_the_clock_alike_in_python_and_sql(
    db, make, clock, cancelled, expected
):
    from app.core.pagination import PageParams
    from app.services.maintenance import list_windows

    cancelled_at = CLOCK_START - timedelta(days=2) if cancelled else None
    window = make.window(starts_at=CLOCK_START, hours=2, cancelled_at=cancelled_at)
    assert window.status_at(clock) == expected
    for status in MaintenanceStatus:
        found = list_windows(session=db, status=status, now=clock, page=PageParams())
        assert [w.id for w in found.items] == ([window.id] if status == expected else []), status


def test_list_filters_by_status_service_and_institution(client, make):
    now = datetime.now(UTC)
    code = make.institution().code
    past = make.window(starts_at=now - timedelta(days=3), services=("network",))
    live = make.window(starts_at=now - timedelta(hours=1), services=("alma",), institutions=(code,))
    later = make.window(
        starts_at=now + timedelta(days=3),
        services=("alma",),
        institutions=("UIU",) if False else (),
    )

    def ids(**params):
        return [w["id"] for w in client.get("/maintenance", params=params).json()["data"]]

    assert ids(status="completed") == [past.id]
    assert ids(status="in_progress") == [live.id]
    assert ids(status="scheduled") == [later.id]
    assert ids(service="alma") == [live.id, later.id]
    assert ids(institution=code) == [past.id, live.id, later.id]
    other = make.institution().code
    assert ids(institution=other) == [past.id, later.id]


@pytest.mark.parametrize("role", [None, Role.liaison, Role.director, Role.library_staff])
def test_reads_are_public_and_writes_need_consortium_staff(client, make, role):
    window = make.window()
    headers = make.signed_in(role)[1] if role else {}
    for path in ("/maintenance", f"/maintenance/{window.id}", "/maintenance.ics", "/services"):
        assert client.get(path, headers=headers).status_code == 200, path
    expected = 403 if role else 401
    writes = [
        ("POST", "/maintenance", BODY),
        ("PATCH", f"/maintenance/{window.id}", {"title": "Mine now"}),
        ("DELETE", f"/maintenance/{window.id}", None),
        ("POST", "/services", {"slug": "ezproxy", "name": "EZproxy"}),
    ]
    for method, path, body in writes:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == expected, (method, path, response.text)
    assert client.get(f"/maintenance/{window.id}").json()["status"] == "scheduled"


def test_staff_add_a_service(client, staff):
    response = client.post("/services", json={"slug": "EZproxy", "name": "EZproxy"}, headers=staff)
    assert response.status_code == 201
    assert response.json() == {
        "slug": "ezproxy",
        "name": "EZproxy",
        "description": None,
        "status": "operational",
    }
    assert "ezproxy" in [s["slug"] for s in client.get("/services").json()["data"]]
    assert (
        client.post("/services", json={"slug": "ezproxy", "name": "x"}, headers=staff).status_code
        == 422
    )


def test_htmx_write_shows_warnings_and_triggers_an_event(client, staff):
    soon = datetime.now(UTC) + timedelta(days=1)
    body = {
        **BODY,
        "starts_at": soon.isoformat(),
        "ends_at": (soon + timedelta(hours=1)).isoformat(),
    }
    response = client.post("/maintenance", json=body, headers={**staff, "HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["hx-trigger"] == "maintenance-saved"
    assert "Saved, with warnings" in response.text and "7 days" in response.text
    error = client.post(
        "/maintenance", json={**body, "services": ["nope"]}, headers={**staff, "HX-Request": "true"}
    )
    assert error.status_code == 422
    assert 'id="error-services"' in error.text


def test_forms_and_month_view(client, make, staff):
    window = make.window(starts_at=datetime(2027, 2, 6, 6, tzinfo=UTC), title="February refresh")
    cancelled = make.window(starts_at=datetime(2027, 2, 13, 6, tzinfo=UTC), title="Called off")
    client.delete(f"/maintenance/{cancelled.id}", headers=staff)
    html = {**staff, "Accept": "text/html"}
    month = client.get("/maintenance/calendar?month=2027-02", headers=html)
    assert month.status_code == 200
    assert "February refresh" in month.text and "Called off</a> (cancelled)" in month.text
    edit = client.get(f"/maintenance/{window.id}/edit", headers=html)
    assert 'value="2027-02-06T00:00"' in edit.text  # local time in the form
    assert client.get("/maintenance/new", headers=html).status_code == 200
    liaison = make.signed_in(Role.liaison)[1]
    assert (
        client.get("/maintenance/new", headers={**liaison, "Accept": "text/html"}).status_code
        == 403
    )
    assert client.get("/maintenance/calendar?month=2027-13").status_code == 422


@pytest.mark.parametrize(
    ("kind", "opening", "sentence"),
    [
        (
            "announced",
            "Scheduled maintenance",
            "The consortium has scheduled maintenance that affects your library.",
        ),
        (
            "changed",
            "Maintenance changed",
            "A maintenance window that affects your library has changed.",
        ),
        (
            "cancelled",
            "Maintenance cancelled",
            "A maintenance window that affected your library has been cancelled: nothing will "
            "be down.",
        ),
        (
            "reminder",
            "Reminder: maintenance",
            "A reminder: this maintenance window starts soon. It is short and soon, so this is "
            "the only e-mail you get about it: none when it starts and ends.",
        ),
        ("started", "Maintenance started", "This maintenance window has started."),
        (
            "ended",
            "Maintenance ended",
            "This maintenance window has ended; services should be back. If something is still "
            "wrong, report a problem.",
        ),
    ],
)
def test_every_notice_kind_renders_its_own_subject_and_sentence(db, make, kind, opening, sentence):
    from app.notify.mail import render
    from app.services.maintenance_notices import WindowNotice, notify

    code = make.institution().code
    liaison = make.liaison(code, ("liaison",))
    window = make.window(institutions=(code,), title="Alma & Primo release", description="Why.")
    notify(db, window, WindowNotice(kind), changed=["impact"])
    (message,) = messages(db, kind)
    assert message.recipients == [liaison.email]
    assert message.dedupe_key == f"maintenance/{kind}:{window.id}:0:{liaison.email}"
    rendered = render(message.template, message.context)
    assert rendered.subject.startswith(f"{opening}: Alma & Primo release (")
    assert f"Hello {liaison.name},\n\n{sentence}\n\nAlma & Primo release\nWhen: " in rendered.text
    assert "Services: Alma\nImpact: Outage\nChanged: impact\nWhy.\n\nDetails: http" in rendered.text
    assert f"<p>{sentence}</p>" in rendered.html
    assert "Alma &amp; Primo release" in rendered.html
    assert "Then, at the same time of day" not in rendered.text


def test_changing_services_and_institutions_keeps_one_row_each(client, make):
    _, staff = make.signed_in(Role.consortium_staff)
    code, other = make.institution().code, make.institution().code
    window = make.window(services=("alma",), institutions=(code,))
    body = {"services": ["alma", "primo_ve"], "institutions": f"{code}, {other.lower()}"}
    data = client.patch(f"/maintenance/{window.id}", json=body, headers=staff).json()
    assert data["services"] == ["alma", "primo_ve"]
    assert data["institutions"] == sorted([code, other])
    data = client.patch(
        f"/maintenance/{window.id}",
        json={"services": "primo_ve", "institutions": ""},
        headers=staff,
    ).json()
    assert (data["services"], data["institutions"], data["sequence"]) == (["primo_ve"], [], 2)
    bad = client.patch(f"/maintenance/{window.id}", json={"services": ["nope"]}, headers=staff)
    assert bad.status_code == 422
    assert client.get(f"/maintenance/{window.id}").json()["services"] == ["primo_ve"]


def test_a_series_is_announced_once_per_contact_with_every_window(client, db, make):
    from icalendar import Calendar

    from app.notify.mail import render

    _, staff = make.signed_in(Role.consortium_staff)
    code = make.institution().code
    make.liaison(code, ("liaison",))
    body = {**BODY, "institutions": [code], "rrule": "FREQ=WEEKLY;COUNT=4"}
    created = client.post("/maintenance", json=body, headers=staff).json()
    (message,) = messages(db, "announced")
    calendar = Calendar.from_ical(message.attachments[0]["content"])
    uids = {str(e["uid"]).split("@")[0] for e in calendar.walk("VEVENT")}
    assert uids == {f"maintenance-{i}" for i in created["windows"]}
    assert len(message.context["occurrences"]) == 3
    assert "Then, at the same time of day" in render(message.template, message.context).text
