"""Pending sign-in invitations (issue 12, A7): the list, sending again, revoking."""

from datetime import timedelta

from sqlmodel import select

from app.core.db import utcnow
from app.models.audit import AuditEntry
from app.models.directory import DirectoryInvitation
from app.models.outbox import OutboxMessage
from app.models.user import Role

HTML = {"Accept": "text/html"}
NEW_PASSWORD = "Prairie-Stacks-2031"


def _invite(client, staff, person) -> str:
    response = client.post(f"/liaisons/{person.id}/invitation", headers=staff)
    assert response.status_code == 201, response.text
    return response.json()["url"]


def _pending(client, headers, path="/invitations") -> list[dict]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_staff_list_pending_invitations_open_and_expired_not_accepted(client, make, db):
    make.institution("INV")
    _, staff = make.signed_in(Role.consortium_staff)
    open_one = make.liaison("INV", roles=("liaison",), name="Olga Open")
    stale = make.liaison("INV", roles=("director",), name="Ed Expired")
    done = make.liaison("INV", roles=("billing",), name="Al Accepted")
    _invite(client, staff, open_one)
    _invite(client, staff, stale)
    accepted = _invite(client, staff, done)
    assert client.post(accepted, data={"password": NEW_PASSWORD}).status_code in (200, 303)
    row = db.exec(
        select(DirectoryInvitation).where(DirectoryInvitation.liaison_id == stale.id)
    ).one()
    row.expires_at = utcnow() - timedelta(hours=1)
    db.add(row)
    db.commit()
    found = {i["name"]: i for i in _pending(client, staff)}
    assert set(found) == {"Olga Open", "Ed Expired"}
    assert found["Ed Expired"]["expired"] is True and found["Olga Open"]["expired"] is False
    assert found["Olga Open"]["institution"] == "INV" and found["Olga Open"]["created_by_name"]
    page = client.get("/invitations", headers=HTML | staff).text
    assert "Expired" in page and "Send again" in page
    # Revoke is destructive and asks first.
    assert 'class="danger" hx-delete="/invitations/' in page and "hx-confirm=" in page
    assert [i["name"] for i in _pending(client, staff, "/institutions/INV/invitations")]


def test_a_revoked_invitation_link_stops_working(client, make, db):
    make.institution("INV")
    _, staff = make.signed_in(Role.consortium_staff)
    person = make.liaison("INV", roles=("liaison",), name="Rita Revoked")
    url = _invite(client, staff, person)
    assert client.get(url, headers=HTML).status_code == 200  # works before
    (pending,) = _pending(client, staff)
    revoked = client.delete(f"/invitations/{pending['id']}", headers=staff)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert client.get(url, headers=HTML).status_code == 404
    assert client.post(url, data={"password": NEW_PASSWORD}).status_code == 404
    assert _pending(client, staff) == []
    assert client.delete(f"/invitations/{pending['id']}", headers=staff).status_code == 404
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "revoke_invitation")).one()
    assert entry.entity_id == str(person.id)
    fragment = client.delete(  # htmx gets the row back, saying so
        f"/invitations/{_pending_id(client, staff, person)}",
        headers={"HX-Request": "true"} | staff,
    )
    assert "Revoked" in fragment.text and "<tr" in fragment.text


def _pending_id(client, staff, person) -> int:
    _invite(client, staff, person)
    return _pending(client, staff)[0]["id"]


def test_sending_again_mails_a_new_link_and_the_old_one_stops(client, make, db):
    make.institution("INV")
    _, staff = make.signed_in(Role.consortium_staff)
    person = make.liaison("INV", roles=("liaison",), email="sam@inv.example.edu")
    old = _invite(client, staff, person)
    (pending,) = _pending(client, staff)
    again = client.post(f"/invitations/{pending['id']}/resend", headers=staff)
    assert again.status_code == 201
    new = again.json()["url"]
    assert new != old
    assert client.get(old, headers=HTML).status_code == 404
    assert client.get(new, headers=HTML).status_code == 200
    mails = db.exec(
        select(OutboxMessage).where(OutboxMessage.template == "directory/invitation")
    ).all()
    assert len([m for m in mails if "sam@inv.example.edu" in m.recipients]) == 2


def test_library_users_do_not_manage_invitations_and_never_see_another_librarys(
    client, make, world
):
    person = make.liaison(world.own.code, roles=("billing",), name="Nina Neighbourly")
    url = _invite(client, world.headers(world.staff), person)
    (pending,) = [
        i for i in _pending(client, world.headers(world.staff)) if i["liaison_id"] == person.id
    ]
    own = world.headers(world.own.director)
    other = world.headers(world.other.director)
    assert client.get(f"/institutions/{world.own.code}/invitations", headers=own).status_code == 403
    assert (
        client.get(f"/institutions/{world.own.code}/invitations", headers=other).status_code == 404
    )
    assert client.delete(f"/invitations/{pending['id']}", headers=other).status_code == 404
    assert client.post(f"/invitations/{pending['id']}/resend", headers=other).status_code == 404
    assert client.delete(f"/invitations/{pending['id']}", headers=own).status_code == 403
    assert client.get("/invitations", headers=own).status_code == 403
    assert client.get(url, headers=HTML).status_code == 200  # untouched by all of that
