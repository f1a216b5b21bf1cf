"""Incidents: unplanned problems, their timeline of updates, and the tickets linked to them."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, bindparam, func, or_
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, NotFound
from app.core.pagination import PageParams, Window, columns, construct, fetch_rows, shaped
from app.models.incident import (
    Incident,
    IncidentCreate,
    IncidentEdit,
    IncidentPublic,
    IncidentService,
    IncidentStatus,
    IncidentTicket,
    IncidentTicketCreate,
    IncidentUpdate,
    IncidentUpdateCreate,
    IncidentUpdatePublic,
)
from app.models.labels import label
from app.models.ticket import CommentCreate, Ticket, TicketStatus, TicketUpdate
from app.models.user import User
from app.notify.outbox import enqueue
from app.services import audit, webhooks
from app.services.access import Notice, require_staff
from app.services.maintenance_notices import notice_recipients
from app.services.service_catalogue import check_services, names_of, service_names
from app.services.tickets import queries as tickets
from app.services.tickets import workflow


def publish(session: Session, incidents: Sequence[Incident]) -> list[IncidentPublic]:
    """The public shape, with how many libraries reported each (one grouped query)."""
    ids = [i.id for i in incidents]
    reports = dict(
        session.exec(
            select(
                IncidentTicket.incident_id, func.count(func.distinct(IncidentTicket.institution))
            )
            .where(IncidentTicket.incident_id.in_(ids))
            .group_by(IncidentTicket.incident_id)
        ).all()
        if ids
        else []
    )
    return [
        IncidentPublic.model_validate(
            i,
            from_attributes=True,
            update={
                "updates": sorted(i.updates, key=lambda u: (u.created_at, u.id or 0), reverse=True),
                "reports": reports.get(i.id, 0),
            },
        )
        for i in incidents
    ]


def open_incidents(*, session: Session) -> list[IncidentPublic]:
    stmt = (
        select(Incident)
        .where(Incident.status != IncidentStatus.resolved)
        .order_by(Incident.started_at.desc(), Incident.id.desc())
    )
    return publish(session, session.exec(stmt).all())


def incidents_since(*, session: Session, since: datetime) -> list[IncidentPublic]:
    stmt = (
        select(Incident)
        .where(or_(Incident.resolved_at.is_(None), Incident.resolved_at >= since))
        .where(Incident.started_at >= since)
        .order_by(Incident.started_at.desc())
    )
    return publish(session, session.exec(stmt).all())


def list_incidents(
    *, session: Session, status: IncidentStatus | None = None, page: PageParams
) -> Window:
    """Newest first, as `IncidentPublic`, in three statements whatever the page size: the
    incidents (with the total and how many libraries reported each), their updates, their
    services. Every statement is built once (`pagination.shaped`, bound ids)."""
    stmt = shaped(("incidents", bool(status)), lambda: _list_statement(bool(status)))
    window = fetch_rows(session, stmt, page, values={"status": status or None})
    window.items = _incidents(session, window.items)
    return window


def _list_statement(status: bool) -> Select:
    reports = (
        select(func.count(func.distinct(IncidentTicket.institution)))
        .where(IncidentTicket.incident_id == Incident.id)
        .scalar_subquery()
    )
    stmt = select(*columns(Incident, IncidentPublic, reports=reports))
    if status:
        stmt = stmt.where(Incident.status == bindparam("status"))
    return stmt.order_by(Incident.started_at.desc(), Incident.id.desc())


# A page's related rows, by the page's incident ids.
_UPDATES_OF = (
    select(IncidentUpdate.incident_id, *columns(IncidentUpdate, IncidentUpdatePublic))
    .where(IncidentUpdate.incident_id.in_(bindparam("ids", expanding=True)))
    .order_by(IncidentUpdate.created_at.desc(), IncidentUpdate.id.desc())
)
_SERVICES_OF = (
    select(IncidentService.incident_id, IncidentService.service)
    .where(IncidentService.incident_id.in_(bindparam("ids", expanding=True)))
    .order_by(IncidentService.service)
)


def _incidents(session: Session, rows) -> list[IncidentPublic]:
    """Incident rows as `IncidentPublic`, with one statement for all their updates (newest
    first) and one for their services."""
    updates: dict[int, list] = {row["id"]: [] for row in rows}
    services: dict[int, list[str]] = {row["id"]: [] for row in rows}
    if updates:
        ids = {"ids": list(updates)}
        for update in session.execute(_UPDATES_OF, ids).mappings():
            updates[update["incident_id"]].append(_build_update(update))
        for incident_id, service in session.execute(_SERVICES_OF, ids):
            services[incident_id].append(service)
    return [
        _build_incident({**row, "services": services[row["id"]], "updates": updates[row["id"]]})
        for row in rows
    ]


_build_incident = construct(IncidentPublic)
_build_update = construct(IncidentUpdatePublic)


def get_incident(*, session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"No incident has the id {incident_id}.")
    return incident


def create_incident(*, session: Session, actor: User, data: IncidentCreate) -> Incident:
    require_staff(actor, "open incidents")
    check_services(session, data.services)
    now = utcnow()
    started = data.started_at or now
    incident = Incident(
        title=data.title,
        impact=data.impact,
        status=data.status,
        started_at=started,
        resolved_at=now if data.status == IncidentStatus.resolved else None,
        created_by=actor.id,
        service_links=[IncidentService(service=s) for s in dict.fromkeys(data.services)],
        updates=[IncidentUpdate(status=data.status, body=data.body, author=actor.id)],
    )
    session.add(incident)
    session.flush()
    _notify(session, incident, incident.updates[0])
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="incident",
        entity_id=str(incident.id),
        after={**audit.snapshot(incident), "services": incident.services},
    )
    _publish(session, incident, "incident.created")
    session.commit()
    return incident


def add_update(
    *, session: Session, actor: User, incident: Incident, data: IncidentUpdateCreate
) -> Incident:
    """A new timeline entry; a resolved incident takes none (open a new one instead)."""
    require_staff(actor, "post incident updates")
    if incident.status == IncidentStatus.resolved:
        raise Conflict(
            "This incident is resolved and takes no more updates; open a new incident.",
            [FieldError("status", "the incident is already resolved")],
        )
    before = audit.snapshot(incident)
    now = utcnow()
    update = IncidentUpdate(status=data.status, body=data.body, author=actor.id, created_at=now)
    incident.updates.append(update)
    incident.status = data.status
    if data.impact is not None:
        incident.impact = data.impact
    if data.status == IncidentStatus.resolved:
        incident.resolved_at = now
    incident.updated_at = now
    session.add(incident)
    old, new = audit.changes(before, audit.snapshot(incident))
    audit.record(
        session,
        actor=actor,
        action="update",
        entity_type="incident",
        entity_id=str(incident.id),
        before=old,
        after={**new, "update": data.body},
    )
    session.flush()
    _notify(session, incident, update)
    resolved = data.status == IncidentStatus.resolved
    _publish(session, incident, "incident.resolved" if resolved else "incident.updated")
    session.commit()
    if data.status == IncidentStatus.resolved and data.resolve_tickets and data.ticket_reply:
        resolve_linked_tickets(
            session=session, actor=actor, incident=incident, reply=data.ticket_reply
        )
    return incident


def edit_incident(
    *, session: Session, actor: User, incident: Incident, data: IncidentEdit
) -> Incident:
    """Corrects the title or the services (a resolved incident too); the timeline stays."""
    require_staff(actor, "edit incidents")
    before = {**audit.snapshot(incident), "services": incident.services}
    values = data.model_dump(exclude_unset=True)
    if values.get("services") is not None:
        wanted = check_services(session, sorted(set(values["services"])))
        if wanted != incident.services:
            incident.service_links = [IncidentService(service=s) for s in wanted]
    if values.get("title") is not None:
        incident.title = values["title"]
    old, new = audit.changes(before, {**audit.snapshot(incident), "services": incident.services})
    if not new:
        return incident
    incident.updated_at = utcnow()
    session.add(incident)
    audit.record(
        session,
        actor=actor,
        action="update",
        entity_type="incident",
        entity_id=str(incident.id),
        before=old,
        after={k: v for k, v in new.items() if k != "updated_at"},
    )
    _publish(session, incident, "incident.updated")
    session.commit()
    return incident


def linked_tickets(session: Session, incident: Incident) -> list[Ticket]:
    """The tickets libraries linked to the incident, oldest number first."""
    stmt = (
        select(Ticket)
        .join(IncidentTicket, IncidentTicket.ticket_id == Ticket.id)
        .where(IncidentTicket.incident_id == incident.id)
        .order_by(Ticket.number)
    )
    return list(session.exec(stmt).all())


def resolve_linked_tickets(
    *, session: Session, actor: User, incident: Incident, reply: str
) -> list[str]:
    """Each linked ticket still open gets `reply` and is resolved, through the ticket workflow
    (its rules, timeline, notices and audit); returns the numbers resolved. A ticket the
    workflow refuses (merged, closed) is left as it is."""
    done = []
    for ticket in linked_tickets(session, incident):
        if ticket.merged_into is not None or ticket.status in (
            TicketStatus.resolved,
            TicketStatus.closed,
        ):
            continue
        workflow.add_comment(
            session=session, actor=actor, ticket=ticket, data=CommentCreate(body=reply)
        )
        workflow.update_ticket(
            session=session,
            actor=actor,
            ticket=ticket,
            data=TicketUpdate(status=TicketStatus.resolved),
        )
        done.append(ticket.number)
    if done:
        audit.record(
            session,
            actor=actor,
            action="resolve_tickets",
            entity_type="incident",
            entity_id=str(incident.id),
            after={"tickets": done},
        )
        session.commit()
    return done


def link_ticket(
    *, session: Session, actor: User, incident: Incident, data: IncidentTicketCreate
) -> Incident:
    """ "Me too": a library links a ticket its user may see (the tickets slice's rule, so a
    ticket they may not see stays unknown); staff may link any ticket."""
    row = session.execute(
        select(Ticket.id, Ticket.institution).where(
            Ticket.number == data.ticket, tickets.visible(actor)
        )
    ).first()
    if row is None:
        raise NotFound(f"No ticket has the number {data.ticket}.")
    if session.get(IncidentTicket, (incident.id, row.id)) is None:
        session.add(
            IncidentTicket(
                incident_id=incident.id,
                ticket_id=row.id,
                institution=row.institution,
                linked_by=actor.id,
            )
        )
        audit.record(
            session,
            actor=actor,
            action="link",
            entity_type="incident",
            entity_id=str(incident.id),
            after={"ticket": data.ticket},
        )
        session.commit()
    return incident


def _publish(session: Session, incident: Incident, event: str) -> None:
    """Queues `event` for webhooks in this transaction: the incident as
    `GET /incidents/{id}` answers it (public, so every subscriber gets it)."""
    webhooks.publish(
        session, event, lambda: publish(session, [incident])[0].model_dump(mode="json")
    )


def _notify(session: Session, incident: Incident, update: IncidentUpdate) -> None:
    """Every member library's contacts hear of each update, in the caller's transaction (an
    incident has no institution list: it affects whoever uses the service)."""
    url = f"{get_settings().portal_url.rstrip('/')}/incidents/{incident.id}"
    context = {
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "impact": incident.impact.value,
            "services": incident.services,
        },
        "services": names_of(incident.services, service_names(session)),
        "impact": label(incident.impact),
        "status": update.status.value,
        "status_words": label(update.status),
        "body": update.body,
        "url": url,
    }
    for person in notice_recipients(session, Notice.incident):
        enqueue(
            session,
            to=person.email,
            template="incidents/update",
            context={**context, "name": person.name},
            dedupe_key=f"incident:{incident.id}:{update.id}:{person.email}",
        )
