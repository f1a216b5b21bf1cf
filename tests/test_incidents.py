"""Incidents: the timeline of updates, bad input, roles, and tickets linked to them ("me too")."""

import pytest
from sqlmodel import select

from app.models.incident import Incident
from app.models.ticket import Ticket
from app.models.user import Role

BODY = {"title": "Primo VE searches time out", "services": ["primo_ve"], "body": "Looking."}


def ticket(make, institution: str, number: str) -> Ticket:
    requester = make.user(Role.library_staff, institution)
    row = Ticket(
        number=number,
        subject="Searches fail",
        description="Nothing loads.",
        institution=institution,
        requester=requester.id,
        category="discovery_primo",
        priority="high",
        product="primo_ve",
        environment="production",
    )
    make.session.add(row)
    make.session.commit()
    return row


def test_the_timeline_runs_to_resolved_and_then_takes_no_more(client, make):
    _, staff = make.signed_in(Role.consortium_staff)
    created = client.post("/incidents", json=BODY, headers=staff)
    assert created.status_code == 201
    incident = created.json()
    assert created.headers["location"] == f"/incidents/{incident['id']}"
    assert incident["status"] == "investigating" and incident["impact"] == "degraded"
    path = f"/incidents/{incident['id']}/updates"
    for status in ("identified", "monitoring"):
        assert (
            client.post(path, json={"status": status, "body": status}, headers=staff).json()[
                "status"
            ]
            == status
        )
    outage = client.post(
        path, json={"status": "monitoring", "body": "worse", "impact": "outage"}, headers=staff
    )
    assert outage.json()["impact"] == "outage"
    done = client.post(path, json={"status": "resolved", "body": "Fixed."}, headers=staff).json()
    assert done["status"] == "resolved" and done["resolved_at"]
    assert [u["status"] for u in done["updates"]] == [
        "resolved",
        "monitoring",
        "monitoring",
        "identified",
        "investigating",
    ]
    refused = client.post(path, json={"status": "monitoring", "body": "again?"}, headers=staff)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert len(client.get(f"/incidents/{incident['id']}").json()["updates"]) == 5
    assert client.get("/status").json()["incidents"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"services": ["nope"]}, "services"),
        ({"body": ""}, "body"),
        ({"status": "panicking"}, "status"),
        ({"started_at": "2027-03-14T02:15"}, "started_at"),
    ],
)
def test_bad_incidents_are_refused_and_nothing_is_written(client, db, make, change, field):
    _, staff = make.signed_in(Role.consortium_staff)
    response = client.post("/incidents", json={**BODY, **change}, headers=staff)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}
    assert db.exec(select(Incident)).all() == []


@pytest.mark.parametrize("role", [None, Role.liaison, Role.director, Role.library_staff])
def test_incidents_are_public_to_read_and_staff_only_to_write(client, make, role):
    incident = make.incident(title="Readable by all")
    headers = make.signed_in(role)[1] if role else {}
    assert client.get("/incidents", headers=headers).json()["data"][0]["title"] == "Readable by all"
    assert client.get(f"/incidents/{incident.id}", headers=headers).status_code == 200
    expected = 403 if role else 401
    assert client.post("/incidents", json=BODY, headers=headers).status_code == expected
    update = {"status": "resolved", "body": "I say so"}
    assert (
        client.post(f"/incidents/{incident.id}/updates", json=update, headers=headers).status_code
        == expected
    )


def test_libraries_link_their_tickets_and_the_incident_counts_libraries(client, make):
    incident = make.incident()
    uiu, isu = make.institution().code, make.institution().code
    mine = ticket(make, uiu, "2026-90001")
    second = ticket(make, uiu, "2026-90002")
    theirs = ticket(make, isu, "2026-90003")
    _, liaison = make.signed_in(Role.liaison, uiu)
    path = f"/incidents/{incident.id}/tickets"
    assert client.post(path, json={"ticket": mine.number}, headers=liaison).json()["reports"] == 1
    assert client.post(path, json={"ticket": second.number}, headers=liaison).json()["reports"] == 1
    assert client.post(path, json={"ticket": mine.number}, headers=liaison).status_code == 201
    hidden = client.post(path, json={"ticket": theirs.number}, headers=liaison)
    assert hidden.status_code == 404, "another library's ticket must not be linkable (or seen)"
    _, staff = make.signed_in(Role.consortium_staff)
    assert client.post(path, json={"ticket": theirs.number}, headers=staff).json()["reports"] == 2
    assert client.post(path, json={"ticket": "2099-00000"}, headers=staff).status_code == 404
    assert client.post(path, json={"ticket": mine.number}).status_code == 401
    page = client.get(f"/incidents/{incident.id}", headers={"Accept": "text/html"})
    assert "2 libraries" in page.text


def test_every_update_notifies_liaisons_and_directors_once(client, db, make):
    from app.models.outbox import OutboxMessage
    from app.notify.mail import render

    code = make.institution().code
    liaison, director = make.liaison(code, ("liaison",)), make.liaison(code, ("director",))
    reader = make.liaison(code, ("delivery",))
    _, staff = make.signed_in(Role.consortium_staff)
    incident = client.post("/incidents", json=BODY, headers=staff).json()
    client.post(
        f"/incidents/{incident['id']}/updates",
        json={"status": "resolved", "body": "All good."},
        headers=staff,
    )
    sent = db.exec(select(OutboxMessage).where(OutboxMessage.template == "incidents/update")).all()
    mine = [m for m in sent if m.recipients[0] in (liaison.email, director.email)]
    assert len(mine) == 4
    assert reader.email not in {m.recipients[0] for m in sent}
    rendered = render(mine[-1].template, mine[-1].context)
    assert "Primo VE searches time out" in rendered.subject
    assert "All good." in rendered.text or "Looking." in rendered.text
