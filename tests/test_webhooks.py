"""Webhooks (issue 15): the event fan-out (`publish`), who receives what, the checks on a target
address (SSRF, https in production), secrets, administration and the delivery log."""

import pytest
from sqlmodel import select

from app.core.config import get_settings
from app.core.errors import Invalid
from app.models.audit import AuditEntry
from app.models.user import Role
from app.models.webhook import Webhook, WebhookCreate, WebhookDelivery, WebhookUpdate
from app.services import webhooks

PUBLIC_URL = "https://93.184.215.14/hooks"  # a global address literal: no lookup, never called


@pytest.fixture
def admin(make):
    return make.user(Role.consortium_admin, name="Ada Admin")


def _hook(db, admin, events=("ticket.created",), institution=None, url=PUBLIC_URL, **values):
    data = WebhookCreate(
        name=values.pop("name", "Reports sync"),
        url=url,
        events=list(events),
        institution=institution,
        **values,
    )
    return webhooks.create_webhook(session=db, actor=admin, data=data)


def _queued(db, hook) -> list[WebhookDelivery]:
    return list(db.exec(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)))


# --- publish: who receives what ------------------------------------------------------------


def test_publish_queues_one_delivery_per_subscriber_in_the_callers_transaction(db, admin, make):
    a = _hook(db, admin, events=["ticket.created", "ticket.updated"], name="A")
    b = _hook(db, admin, events=["ticket.created"], name="B")
    other = _hook(db, admin, events=["maintenance.announced"], name="Other")
    paused = _hook(db, admin, events=["ticket.created"], name="Paused", active=False)
    payload = {"number": "2026-00042", "subject": "Primo is down", "sla": None}

    assert webhooks.publish(db, "ticket.created", lambda: payload, institution=None) == 2
    assert db.in_transaction()  # queued, not committed: the caller's commit sends it
    db.rollback()
    assert not _queued(db, a)  # rolled back with the change that caused it

    assert webhooks.publish(db, "ticket.created", lambda: payload) == 2
    db.commit()
    rows = _queued(db, a) + _queued(db, b)
    assert [(r.event, r.payload, r.state.value, r.attempts) for r in rows] == [
        ("ticket.created", payload, "pending", 0)
    ] * 2
    assert len({r.message_id for r in rows}) == 2
    assert all(r.message_id.startswith("msg_") for r in rows)
    assert not _queued(db, other) and not _queued(db, paused)


def test_a_private_record_reaches_only_unbound_webhooks_and_its_own_librarys(db, admin, make):
    own, other = make.institution(), make.institution()
    unbound = _hook(db, admin, name="Consortium")
    mine = _hook(db, admin, institution=own.code, name="Ours")
    theirs = _hook(db, admin, institution=other.code, name="Theirs")

    assert webhooks.publish(db, "ticket.created", lambda: {"n": 1}, institution=own.code) == 2
    db.commit()
    assert len(_queued(db, unbound)) == len(_queued(db, mine)) == 1
    assert not _queued(db, theirs)  # another library's private record never reaches it


def test_what_every_member_sees_reaches_every_subscriber(db, admin, make):
    own, other = make.institution(), make.institution()
    hooks = [
        _hook(db, admin, events=["incident.*"], name="All"),
        _hook(db, admin, events=["incident.created"], institution=own.code, name="Ours"),
        _hook(db, admin, events=["incident.created"], institution=other.code, name="Theirs"),
    ]
    assert hooks[0].events == ["incident.created", "incident.updated", "incident.resolved"]
    assert webhooks.publish(db, "incident.created", lambda: {"id": 3}) == 3


def test_publish_costs_two_statements_and_one_when_nobody_subscribes(db, admin, counted):
    with counted() as seen:
        assert webhooks.publish(db, "directory.changed", lambda: {"id": 1}) == 0
    assert len(seen) == 1
    _hook(db, admin, events=["directory.changed"], name="A")
    _hook(db, admin, events=["directory.changed"], name="B")
    with counted() as seen:
        assert webhooks.publish(db, "directory.changed", lambda: {"id": 1}) == 2
    assert len(seen) == 2  # the subscribers, then one multi-row insert


def test_publish_refuses_an_event_we_do_not_offer(db):
    with pytest.raises(ValueError, match=r"ticket\.deleted"):
        webhooks.publish(db, "ticket.deleted", lambda: {})


# --- the target address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("https://10.1.2.3/hook", "10.1.2.3"),
        ("https://192.168.0.10/hook", "192.168.0.10"),
        ("https://172.16.5.4/hook", "172.16.5.4"),
        ("http://[::1]:9000/hook", "::1"),
        ("http://[::ffff:127.0.0.1]/hook", "127.0.0.1"),
        ("http://0.0.0.0/hook", "0.0.0.0"),  # noqa: S104
        ("http://localhost:9000/hook", "127.0.0.1"),  # a name resolving inside
    ],
)
def test_an_address_inside_our_network_is_refused(db, admin, url, shown):
    with pytest.raises(Invalid) as refused:
        _hook(db, admin, url=url)
    [error] = refused.value.errors
    assert error.field == "url"
    assert "inside our own network" in error.message
    assert shown in error.message or (shown == "127.0.0.1" and "::1" in error.message)
    assert db.exec(select(Webhook)).first() is None  # nothing written


def test_an_admin_may_allow_an_address_inside_our_network(db, admin):
    hook = _hook(db, admin, url="http://127.0.0.1:9000/hook", allow_private=True)
    assert hook.allow_private
    with pytest.raises(Invalid, match="inside our own network"):  # and take it back
        webhooks.update_webhook(
            session=db, actor=admin, webhook=hook, data=WebhookUpdate(allow_private=False)
        )


def test_production_wants_https(db, admin, monkeypatch):
    monkeypatch.setattr(get_settings(), "environment", "production")
    with pytest.raises(Invalid) as refused:
        _hook(db, admin, url="http://93.184.215.14/hooks")
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("url", "must start with https:// (events are not sent unencrypted)")
    ]
    assert _hook(db, admin).url == PUBLIC_URL


def test_every_error_at_once_and_nothing_written(db, admin):
    with pytest.raises(Invalid) as refused:
        _hook(db, admin, url="ftp://example.org/x", events=["ticket.deleted"], institution="ZZZ")
    assert {e.field for e in refused.value.errors} == {"url", "events", "institution"}
    assert "ticket.deleted" in refused.value.detail
    assert db.exec(select(Webhook)).first() is None


# --- secrets and audit ----------------------------------------------------------------------


def test_the_secret_is_a_standard_webhooks_secret_kept_out_of_the_audit_trail(db, admin):
    hook = _hook(db, admin)
    assert hook.secret.startswith("whsec_") and len(hook.secret) > 40
    old = hook.secret
    new = webhooks.rotate_secret(session=db, actor=admin, webhook=hook)
    assert new != old and hook.secret == new
    trail = db.exec(select(AuditEntry).where(AuditEntry.entity_type == "webhook")).all()
    assert {e.action for e in trail} >= {"create", "rotate_secret"}
    for entry in trail:
        assert old not in str(entry.before) + str(entry.after)
        assert new not in str(entry.before) + str(entry.after)
    assert "secret" not in webhooks.public(hook).model_dump()


# --- over HTTP ------------------------------------------------------------------------------

NEW = {"name": "Reports sync", "url": PUBLIC_URL, "events": ["ticket.created", "incident.*"]}


def test_the_secret_is_answered_once(client, make, db):
    _, headers = make.signed_in(Role.consortium_admin)
    created = client.post("/webhooks", json=NEW, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/webhooks/{body['id']}"
    assert created.headers["cache-control"] == "no-store"
    assert body["secret"].startswith("whsec_")
    assert body["events"] == [
        "ticket.created",
        "incident.created",
        "incident.updated",
        "incident.resolved",
    ]
    page = {"Accept": "text/html", **headers}
    for url in ("/webhooks", f"/webhooks/{body['id']}"):
        for extra in ({}, page):
            again = client.get(url, headers={**headers, **extra})
            assert again.status_code == 200
            assert body["secret"] not in again.text and "whsec_" not in again.text
    rotated = client.post(f"/webhooks/{body['id']}/rotation", headers=headers)
    assert rotated.json()["secret"] not in (body["secret"], None)
    assert db.get(Webhook, body["id"]).secret == rotated.json()["secret"]


def test_bad_input_gets_every_error_in_words_and_writes_nothing(client, make, db):
    _, headers = make.signed_in(Role.consortium_admin)
    bad = {**NEW, "url": "http://169.254.169.254/latest/meta-data/", "events": ["ticket.gone"]}
    response = client.post("/webhooks", json=bad, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} == {"url", "events"}
    assert "This address" not in problem["detail"]
    assert "the address points inside our own network (169.254.169.254)" in problem["detail"]
    assert db.exec(select(Webhook)).first() is None
    form = client.post("/webhooks", json=bad, headers={"HX-Request": "true", **headers})
    assert "inside our own network" in form.text


def test_only_consortium_admins_manage_webhooks(client, make, db, admin):
    hook = _hook(db, admin)
    for role in (Role.consortium_staff, Role.liaison, Role.director, Role.library_staff):
        _, headers = make.signed_in(role)
        assert client.get(f"/webhooks/{hook.id}", headers=headers).status_code == 403
        assert client.delete(f"/webhooks/{hook.id}", headers=headers).status_code == 403
        assert client.post(f"/webhooks/{hook.id}/test", headers=headers).status_code == 403
        assert client.get("/webhooks/new", headers=headers).status_code == 403
    assert client.get("/webhooks").status_code == 401
    assert db.get(Webhook, hook.id) is not None


def test_delete_asks_first_and_takes_the_log_along(client, make, db, admin):
    hook_id = _hook(db, admin).id
    webhooks.publish(db, "ticket.created", lambda: {"n": 1})
    db.commit()
    headers = make.headers(admin)
    page = client.get(f"/webhooks/{hook_id}", headers={"Accept": "text/html", **headers})
    assert 'class="danger" hx-delete="/webhooks/' in page.text and "hx-confirm=" in page.text
    gone = client.delete(f"/webhooks/{hook_id}", headers={"HX-Request": "true", **headers})
    assert (gone.status_code, gone.headers["hx-redirect"]) == (204, "/webhooks")
    db.expunge_all()
    assert db.get(Webhook, hook_id) is None
    assert db.exec(select(WebhookDelivery)).first() is None
    trail = db.exec(select(AuditEntry.action).where(AuditEntry.entity_type == "webhook")).all()
    assert "delete" in trail
    assert client.get(f"/webhooks/{hook_id}", headers=headers).status_code == 404


def test_the_delivery_log_redelivery_and_test_event_over_http(client, make, db, admin):
    hook = _hook(db, admin, name="One")
    other = _hook(db, admin, name="Two")
    headers = make.headers(admin)
    test = client.post(f"/webhooks/{hook.id}/test", headers=headers)
    assert test.status_code == 202
    queued = test.json()
    assert (queued["event"], queued["state"], queued["log"]) == ("webhook.test", "pending", [])
    log = client.get(f"/webhooks/{hook.id}/deliveries", headers=headers).json()
    assert [d["message_id"] for d in log["data"]] == [queued["message_id"]]
    page = client.get(f"/webhooks/{hook.id}/deliveries", headers={"Accept": "text/html", **headers})
    assert "Test event" in page.text and "Waiting to be sent" in page.text
    assert "webhook.test" not in page.text  # plain words, not the event's name
    # Another webhook's delivery is not this webhook's.
    wrong = f"/webhooks/{other.id}/deliveries/{queued['id']}/redelivery"
    assert client.post(wrong, headers=headers).status_code == 404
    again = client.post(
        f"/webhooks/{hook.id}/deliveries/{queued['id']}/redelivery", headers=headers
    )
    assert (again.status_code, again.json()["state"]) == (202, "pending")


def test_the_add_form_names_events_in_plain_words(client, make):
    _, headers = make.signed_in(Role.consortium_admin)
    page = client.get("/webhooks/new", headers={"Accept": "text/html", **headers})
    assert page.status_code == 200
    assert "A problem report gets a public reply" in page.text
    assert 'value="ticket.commented"' in page.text
    assert 'name="allow_private"' in page.text


def test_the_setting_lets_every_webhook_reach_inside(db, admin, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)
    hook = _hook(db, admin, url="http://10.0.0.7/hook")
    assert hook.url == "http://10.0.0.7/hook" and not hook.allow_private
