"""Accounts people run themselves (issue 10, points 1, 4, 6, 7): invitations that cannot take
an account over, forgotten passwords, "my account", and account administration."""

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from app.core.db import utcnow
from app.models.audit import AuditEntry
from app.models.auth import PasswordReset, UserSession
from app.models.directory import DirectoryInvitation
from app.models.outbox import OutboxMessage
from app.models.user import Role, User
from app.services import users
from app.services.access import Notice
from tests.factories import PASSWORD
from tests.test_auth import _bearer, _page_csrf, login

NEW_PASSWORD = "Prairie-Stacks-2031"


def _mail(db, template: str, to: str) -> list[OutboxMessage]:
    rows = db.exec(select(OutboxMessage).where(OutboxMessage.template == template)).all()
    return [m for m in rows if to in m.recipients]


def _token_of(message: OutboxMessage) -> str:
    return message.context["url"].rsplit("/", 1)[-1]


def _works(client, token: str) -> bool:
    return client.get("/auth/me", headers=_bearer(token)).status_code == 200


# --- 1. invitations ---------------------------------------------------------------------------


def _invite(client, staff, person) -> str:
    response = client.post(f"/liaisons/{person.id}/invitation", headers=staff)
    assert response.status_code == 201
    return response.json()["url"]


def test_a_newer_invitation_voids_the_older_link(client, make, db):
    """Point 1: posting a password to link 1 after link 2 was sent took the account over."""
    make.institution("INV")
    person = make.liaison("INV", roles=("director",), email="ida@inv.example.edu")
    _, staff = make.signed_in(Role.consortium_staff)
    first = _invite(client, staff, person)
    second = _invite(client, staff, person)
    assert client.get(first, headers={"Accept": "text/html"}).status_code == 404
    assert client.post(first, data={"password": NEW_PASSWORD}).status_code == 404
    assert db.exec(select(User).where(User.email == "ida@inv.example.edu")).first() is None
    done = client.post(second, data={"password": NEW_PASSWORD}, follow_redirects=False)
    assert done.status_code == 303


def test_accepting_an_invitation_voids_every_other_link_for_the_person(client, make, db):
    make.institution("INV")
    person = make.liaison("INV", roles=("liaison",), email="lee@inv.example.edu")
    _, staff = make.signed_in(Role.consortium_staff)
    url = _invite(client, staff, person)
    # A link issued before issuing voided older ones (still in the table).
    db.add(
        DirectoryInvitation(
            liaison_id=person.id,
            token_hash="f" * 64,
            expires_at=utcnow() + timedelta(hours=5),
            created_by=make.user(Role.consortium_staff).id,
        )
    )
    db.commit()
    assert client.post(url, data={"password": NEW_PASSWORD}, follow_redirects=False).is_redirect
    left = db.exec(
        select(DirectoryInvitation).where(
            DirectoryInvitation.liaison_id == person.id, DirectoryInvitation.used_at.is_(None)
        )
    ).all()
    assert left == []


def test_reinviting_someone_with_an_account_sends_a_reset_and_keeps_the_password(client, make, db):
    make.institution("INV")
    person = make.liaison("INV", roles=("liaison",), email="rae@inv.example.edu")
    account = make.user(Role.liaison, "INV", email="rae@inv.example.edu")
    token = make.token(account)
    _, staff = make.signed_in(Role.consortium_staff)
    response = client.post(f"/liaisons/{person.id}/invitation", headers=staff)
    assert response.status_code == 201
    body = response.json()
    assert body["password_reset"] is True and "/invitations/" not in body["url"]
    assert db.exec(select(DirectoryInvitation)).all() == []  # no link that sets a password
    mail = _mail(db, "account/reinvited", "rae@inv.example.edu")
    assert len(mail) == 1 and "/password-reset/" in mail[0].context["url"]
    db.refresh(account)
    signed_in = client.post("/auth/token", data={"username": account.email, "password": PASSWORD})
    assert signed_in.status_code == 200  # the password is untouched
    assert _works(client, token)
    page = client.post(f"/liaisons/{person.id}/invitation", headers={**staff, "HX-Request": "true"})
    assert "already has an account" in page.text


def test_an_old_invitation_cannot_replace_an_existing_accounts_password(client, make, db):
    make.institution("INV")
    person = make.liaison("INV", roles=("liaison",), email="sol@inv.example.edu")
    _, staff = make.signed_in(Role.consortium_staff)
    url = _invite(client, staff, person)
    make.user(Role.liaison, "INV", email="sol@inv.example.edu")  # opened meanwhile
    refused = client.post(url, data={"password": NEW_PASSWORD})
    assert refused.status_code == 409 and "already have an account" in refused.text
    assert (
        client.post(
            "/auth/token", data={"username": "sol@inv.example.edu", "password": PASSWORD}
        ).status_code
        == 200
    )


# --- 6. forgotten passwords -------------------------------------------------------------------


def test_forgot_password_answers_the_same_whether_or_not_the_address_exists(client, make, db):
    user = make.user(Role.liaison)
    known = client.post("/password-reset", data={"email": user.email})
    unknown = client.post("/password-reset", data={"email": "nobody@nowhere.example.edu"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(user.email, "") == unknown.text.replace(
        "nobody@nowhere.example.edu", ""
    )
    assert len(_mail(db, "account/reset", user.email)) == 1
    assert _mail(db, "account/reset", "nobody@nowhere.example.edu") == []
    reset = db.exec(select(PasswordReset).where(PasswordReset.user_id == user.id)).one()
    token = _token_of(_mail(db, "account/reset", user.email)[0])
    assert token not in reset.token_hash and len(reset.token_hash) == 64  # only a hash kept


def test_the_sign_in_page_links_to_forgot_password(client):
    assert 'href="/password-reset"' in client.get("/login").text


def test_a_reset_link_works_once_and_ends_every_sign_in(client, make, db):
    user = make.user(Role.liaison)
    old_token = make.token(user)
    client.post("/password-reset", data={"email": user.email})
    url = "/password-reset/" + _token_of(_mail(db, "account/reset", user.email)[0])
    assert client.get(url, headers={"Accept": "text/html"}).status_code == 200
    weak = client.post(url, data={"password": "short"})
    assert weak.status_code == 422 and "at least 12" in weak.text
    done = client.post(url, data={"password": NEW_PASSWORD})
    assert done.status_code == 200 and "new password is set" in done.text
    assert not _works(client, old_token)
    assert client.post(url, data={"password": NEW_PASSWORD + "x"}).status_code == 404
    old = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert old.status_code == 401
    new = client.post("/auth/token", data={"username": user.email, "password": NEW_PASSWORD})
    assert new.status_code == 200


def test_an_expired_or_superseded_reset_link_does_not_work(client, make, db):
    user = make.user(Role.liaison)
    client.post("/password-reset", data={"email": user.email})
    first = _token_of(_mail(db, "account/reset", user.email)[0])
    client.post("/password-reset", data={"email": user.email})
    assert client.get(f"/password-reset/{first}").status_code == 404  # superseded
    second = db.exec(select(PasswordReset).where(PasswordReset.user_id == user.id)).one()
    second.expires_at = utcnow() - timedelta(minutes=1)
    db.add(second)
    db.commit()
    latest = _token_of(_mail(db, "account/reset", user.email)[-1])
    assert (
        client.post(f"/password-reset/{latest}", data={"password": NEW_PASSWORD}).status_code == 404
    )


def test_reset_requests_from_one_address_are_slowed_down(client, make):
    user = make.user(Role.liaison)
    answers = [
        client.post("/password-reset", data={"email": user.email}).status_code for _ in range(5)
    ]
    assert answers[:3] == [200, 200, 200] and 429 in answers[3:]


# --- 6. my account ----------------------------------------------------------------------------


def test_my_account_shows_details_notices_and_sign_ins(client, make):
    user = make.user(Role.liaison)
    headers = make.headers(user)
    make.token(user)  # a second sign-in
    body = client.get("/account", headers=headers).json()
    assert (body["email"], body["name"]) == (user.email, user.name)
    assert body["notices"] == {kind.value: True for kind in Notice}
    assert len(body["sessions"]) == 2
    assert sum(s["current"] for s in body["sessions"]) == 1
    page = client.get("/account", headers={**headers, "Accept": "text/html"})
    assert "Change your password" in page.text and "Sign out everywhere" in page.text


def test_people_change_their_name_phone_and_notice_choices(client, make, db):
    user = make.user(Role.liaison)
    headers = make.headers(user)
    response = client.patch(
        "/account",
        json={"name": "Lou Renamed", "phone": "217-555-0100", "notices": {"maintenance": False}},
        headers=headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["phone"]) == ("Lou Renamed", "217-555-0100")
    assert body["notices"]["maintenance"] is False and body["notices"]["incident"] is True
    assert users.notice_opt_outs(db, Notice.maintenance) == {user.id}
    assert users.notice_opt_outs(db, Notice.incident) == set()
    unknown = client.patch("/account", json={"notices": {"gossip": True}}, headers=headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "notices.gossip"
    role = client.patch("/account", json={"role": "consortium_admin"}, headers=headers)
    assert role.status_code == 422  # not a field people set themselves
    db.refresh(user)
    assert user.role is Role.liaison


def test_changing_the_password_needs_the_current_one_and_ends_other_sign_ins(client, make):
    user = make.user(Role.liaison)
    headers = make.headers(user)
    other = make.token(user)
    wrong = client.post(
        "/account/password",
        json={"current_password": "not-my-password", "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "current_password"
    assert _works(client, other)
    done = client.post(
        "/account/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert done.status_code == 200
    assert not _works(client, other)
    assert client.get("/auth/me", headers=headers).status_code == 401  # bearer: sign in again
    new = client.post("/auth/token", data={"username": user.email, "password": NEW_PASSWORD})
    assert new.status_code == 200


def test_a_browser_that_changes_its_password_stays_signed_in(client, make):
    user = make.user(Role.liaison)
    login(client, user.email)
    before = client.cookies.get("portal_token")
    csrf = _page_csrf(client)
    response = client.post(
        "/account/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert response.status_code == 200 and "Your account is saved" in response.text
    assert client.cookies.get("portal_token") != before
    assert client.get("/auth/me").status_code == 200
    assert not _works(client, before)


def test_signing_out_one_sign_in_and_everywhere(client, make, db):
    user = make.user(Role.liaison)
    headers, laptop, phone = make.headers(user), make.token(user), make.token(user)
    sid = next(
        s["id"]
        for s in client.get("/account", headers=_bearer(laptop)).json()["sessions"]
        if s["current"]
    )
    stranger = make.headers(make.user(Role.liaison))
    assert client.delete(f"/account/sessions/{sid}", headers=stranger).status_code == 404
    assert _works(client, laptop)
    assert client.delete(f"/account/sessions/{sid}", headers=headers).status_code == 204
    assert not _works(client, laptop) and _works(client, phone)
    assert client.delete("/account/sessions", headers=headers).status_code == 204
    assert not _works(client, phone)
    assert client.get("/auth/me", headers=headers).status_code == 401
    live = db.exec(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    ).all()
    assert live == []


# --- 7. account administration ----------------------------------------------------------------


@pytest.mark.parametrize(
    "role", [Role.consortium_staff, Role.director, Role.liaison, Role.library_staff]
)
def test_only_consortium_admins_administer_accounts(client, make, role):
    target = make.user(Role.library_staff)
    headers = make.headers(make.user(role))
    assert client.get("/users", headers=headers).status_code == 403
    assert client.get(f"/users/{target.id}", headers=headers).status_code == 403
    patch = client.patch(f"/users/{target.id}", json={"active": False}, headers=headers)
    assert patch.status_code == 403
    page = client.get("/users/new", headers={**headers, "Accept": "text/html"})
    assert page.status_code == 403


def test_an_admin_creates_an_account_and_the_person_chooses_a_password(client, make, db):
    make.institution("ACC")
    _, admin = make.signed_in(Role.consortium_admin)
    response = client.post(
        "/users",
        json={"email": "Nia@Acc.example.edu", "name": "Nia New", "role": "liaison",
              "institution": "ACC"},
        headers=admin,
    )  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/users/{body['id']}"
    assert (body["email"], body["active"]) == ("nia@acc.example.edu", True)
    welcome = _mail(db, "account/welcome", "nia@acc.example.edu")
    assert len(welcome) == 1
    url = "/password-reset/" + _token_of(welcome[0])
    assert client.post(url, data={"password": NEW_PASSWORD}).status_code == 200
    signed_in = client.post(
        "/auth/token", data={"username": "nia@acc.example.edu", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 200
    audit = db.exec(
        select(AuditEntry).where(AuditEntry.entity_type == "user", AuditEntry.action == "create")
    ).all()
    assert any(a.entity_id == str(body["id"]) and "password_hash" not in a.after for a in audit)
    bad = client.post(
        "/users",
        json={"email": "x@acc.example.edu", "name": "X", "role": "liaison"},
        headers=admin,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "institution"


def test_deactivation_ends_every_sign_in_and_reactivation_lets_them_back(client, make, db):
    target = make.user(Role.liaison)
    token = make.token(target)
    _, admin = make.signed_in(Role.consortium_admin)
    off = client.patch(f"/users/{target.id}", json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
    assert not _works(client, token)
    refused = client.post("/auth/token", data={"username": target.email, "password": PASSWORD})
    assert refused.status_code == 401
    assert not _works(client, token)
    on = client.patch(f"/users/{target.id}", json={"active": True}, headers=admin)
    assert on.json()["active"] is True
    assert not _works(client, token)  # revoked sign-ins stay revoked
    again = client.post("/auth/token", data={"username": target.email, "password": PASSWORD})
    assert again.status_code == 200
    actions = db.exec(
        select(AuditEntry.after).where(
            AuditEntry.entity_type == "user", AuditEntry.entity_id == str(target.id)
        )
    ).all()
    assert {"active": False} in actions and {"active": True} in actions


def test_an_admin_changes_roles_and_the_institution_follows(client, make):
    target = make.user(Role.library_staff)
    _, admin = make.signed_in(Role.consortium_admin)
    lead = client.patch(f"/users/{target.id}", json={"role": "director"}, headers=admin)
    assert (lead.json()["role"], lead.json()["institution"]) == ("director", target.institution)
    staff = client.patch(f"/users/{target.id}", json={"role": "consortium_staff"}, headers=admin)
    assert (staff.json()["role"], staff.json()["institution"]) == ("consortium_staff", None)
    back = client.patch(f"/users/{target.id}", json={"role": "liaison"}, headers=admin)
    assert back.status_code == 422 and back.json()["errors"][0]["field"] == "institution"


def test_nobody_changes_their_own_role_or_deactivates_themselves(client, make):
    me, headers = make.signed_in(Role.consortium_admin)
    make.user(Role.consortium_admin)  # not the last admin: the rule is about oneself
    role = client.patch(f"/users/{me.id}", json={"role": "consortium_staff"}, headers=headers)
    assert role.status_code == 409 and "own role" in role.json()["detail"]
    off = client.patch(f"/users/{me.id}", json={"active": False}, headers=headers)
    assert off.status_code == 409
    assert client.patch(
        f"/users/{me.id}", json={"phone": "217-555-0111"}, headers=headers
    ).is_success


def test_the_last_active_admin_stays_one(client, make, db):
    for admin in db.exec(select(User).where(User.role == Role.consortium_admin)).all():
        admin.active = False
        db.add(admin)
    db.commit()
    first, first_headers = make.signed_in(Role.consortium_admin)
    second, second_headers = make.signed_in(Role.consortium_admin)
    demoted = client.patch(
        f"/users/{second.id}", json={"role": "consortium_staff"}, headers=first_headers
    )
    assert demoted.status_code == 200
    for change in ({"role": "consortium_staff"}, {"active": False}):
        refused = client.patch(f"/users/{first.id}", json=change, headers=first_headers)
        assert refused.status_code == 409
    make.user(Role.consortium_admin)
    promoted_back = client.patch(
        f"/users/{second.id}", json={"role": "consortium_admin"}, headers=first_headers
    )
    assert promoted_back.status_code == 200
    last = client.patch(f"/users/{first.id}", json={"active": False}, headers=second_headers)
    assert last.status_code == 200


def test_the_account_pages_render(client, make):
    target = make.user(Role.liaison, name="Paige Listed")
    admin = make.headers(make.user(Role.consortium_admin))
    html = {**admin, "Accept": "text/html"}
    listing = client.get("/users?q=paige", headers=html)
    assert listing.status_code == 200 and "Paige Listed" in listing.text
    detail = client.get(f"/users/{target.id}", headers=html)
    assert "Deactivate" in detail.text and "hx-confirm" in detail.text
    assert client.get("/users/new", headers=html).status_code == 200
    nav = client.get("/", headers=html).text
    assert 'href="/users"' in nav and 'href="/account"' in nav


# --- also: who reads change requests ----------------------------------------------------------


def test_library_staff_do_not_read_their_institutions_change_requests(client, world):
    """Only the director and liaison (who file them) and consortium staff read them."""
    change = world.own.change
    staff_headers = world.headers(world.own.library_staff)
    listing = client.get("/directory-changes", headers=staff_headers)
    assert listing.status_code == 200 and listing.json()["count"] == 0
    assert client.get(f"/directory-changes/{change.id}", headers=staff_headers).status_code == 403
    lead = world.headers(world.own.liaison)
    assert client.get("/directory-changes", headers=lead).json()["count"] >= 1
    assert client.get(f"/directory-changes/{change.id}", headers=lead).status_code == 200


# --- in a real browser ------------------------------------------------------------------------


def test_my_account_in_a_browser(live_server, page):
    """Sign in through the form (login CSRF pair and all), save a detail, and sign out
    everywhere: the browser lands on the sign-in page."""
    from playwright.sync_api import expect

    from tests.live_server import sign_in

    sign_in(page, live_server, "liaison@uiu.example.edu")
    page.get_by_role("link", name=re.compile("UIU")).click()
    expect(page).to_have_url(f"{live_server}/account")
    page.fill("#f-phone", "217-555-0177")
    page.get_by_role("button", name="Save details").click()
    expect(page.locator("#flash")).to_contain_text("Your account is saved")
    expect(page.locator("#f-phone")).to_have_value("217-555-0177")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page).to_have_url(f"{live_server}/login")
    page.goto(f"{live_server}/account")
    expect(page).to_have_url(re.compile(r"/login\?next=/account$"))
