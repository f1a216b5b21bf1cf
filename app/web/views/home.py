"""The home page: which widgets each person gets, and what each widget shows.

The page itself only lays out placeholders; every widget is its own request
(`/home/<name>`, loaded by htmx or opened as a plain page) with a fixed number of SQL
statements. Each figure links to the list behind it, built from the same filters that counted
it, so the number on the home page is the number the list shows.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.pagination import PageParams
from app.models.directory_change import ChangeStatus
from app.models.maintenance import MaintenanceStatus
from app.models.outbox import OutboxState
from app.models.ticket import TicketPriority, TicketStatus
from app.models.user import User
from app.services import (
    directory_changes,
    directory_confirmations,
    incidents,
    institutions,
    liaisons,
    mail_in,
    maintenance,
    outbox,
    webhooks,
)
from app.services import home as service
from app.services import tickets as ticket_service
from app.services.tickets import TicketFilters, TicketSort, TicketView
from app.web import charts
from app.web.views import announcements, duties

WAITING = TicketFilters(statuses=[TicketStatus.pending_library], sort=TicketSort.updated)
SYSTEM_DOWN = TicketFilters(priority=TicketPriority.system_down, view=TicketView.open)


@dataclass(frozen=True)
class Queue:
    """One count on the home page and the ticket list it opens."""

    key: str
    label: str
    filters: TicketFilters
    alarm: bool = False  # a non-zero count here is bad news (shown in the warning colour)


def ticket_link(f: TicketFilters) -> str:
    """The `/tickets` address whose list shows exactly the tickets `f` selects."""
    params: list[tuple[str, str]] = []
    if f.view is not TicketView.all:
        params.append(("view", f.view.value))
    params += [("status", s.value) for s in f.statuses or []]
    for name in ("institution", "priority", "category", "assignee", "q"):
        value = getattr(f, name)
        if value is not None:
            params.append((name, str(getattr(value, "value", value))))
    if f.sort is not TicketSort.created_desc:
        params.append(("sort", f.sort.value))
    return "/tickets?" + urlencode(params) if params else "/tickets"


def queues(user: User) -> list[Queue]:
    """The counts a person's tickets widget shows, most pressing first."""
    if user.is_staff:
        found = [
            Queue("system_down", "System down", SYSTEM_DOWN, alarm=True),
            Queue(
                "breaching",
                "Breaching their response or resolution time",
                TicketFilters(view=TicketView.breaching),
                alarm=True,
            ),
        ]
        found.append(
            Queue(
                "due_soon",
                "Due within 4 business hours",
                TicketFilters(view=TicketView.due_soon),
                alarm=True,
            )
        )
        found.append(Queue("unassigned", "Unassigned", TicketFilters(view=TicketView.unassigned)))
        found.append(Queue("mine", "Assigned to you", TicketFilters(view=TicketView.mine)))
        return found
    own = "Open tickets of your library" if user.is_library_lead else "Your open tickets"
    return [
        Queue("waiting", "Waiting for your answer", WAITING, alarm=True),
        Queue("open", own, TicketFilters(view=TicketView.open)),
    ]


# --- the widgets ------------------------------------------------------------------------------


def _tickets(session: Session, user: User) -> dict[str, Any]:
    found = queues(user)
    counts = service.ticket_counts(
        session=session, actor=user, queues={q.key: q.filters for q in found}
    )
    items = [
        {"label": q.label, "count": counts[q.key], "href": ticket_link(q.filters), "alarm": q.alarm}
        for q in found
    ]
    return {"queues": items}


def _attention(session: Session, user: User) -> dict[str, Any]:
    """Staff: what needs someone now, a system down first."""
    urgent = [
        SYSTEM_DOWN,
        TicketFilters(view=TicketView.breaching),
        TicketFilters(view=TicketView.due_soon),
    ]
    found = service.urgent_tickets(session=session, actor=user, queues=urgent, first=SYSTEM_DOWN)
    week_ago = utcnow() - timedelta(days=7)
    refused = mail_in.refused_since(session=session, actor=user, since=week_ago)
    return {"urgent": found, "now": utcnow(), "refused_mail": refused}


def _waiting(session: Session, user: User) -> dict[str, Any]:
    """A library: the tickets waiting for its answer, the longest waiting first."""
    window = ticket_service.list_tickets(session=session, actor=user, filters=WAITING, limit=5)
    return {"waiting": window.items, "total": window.total, "href": ticket_link(WAITING)}


def _directory(session: Session, user: User) -> dict[str, Any]:
    pending = directory_changes.counts(session=session, actor=user)[ChangeStatus.pending.value]
    changes = {"count": pending, "href": "/directory-changes?status=pending"}
    if user.is_staff:
        gaps = directory_confirmations.gaps(session=session, actor=user)
        return {
            "changes": changes,
            "vacant": [g for g in gaps if g.vacant],
            "stale": [g for g in gaps if g.stale],
            "gaps_href": "/reports/directory-gaps",
        }
    code = user.institution
    people = liaisons.institution_contacts(session=session, code=code)
    last = directory_confirmations.last_confirmation(session=session, code=code)
    confirmed_at = last.confirmed_at if last else None
    due, state = service.confirmation_due(confirmed_at)
    return {
        "changes": changes,
        "own_vacant": liaisons.vacant_seats(role for p in people for role in p.roles),
        "confirmed_at": confirmed_at,
        "confirm_due": due,
        "confirm_state": state,
        "contacts_href": f"/institutions/{code}/liaisons",
    }


def maintenance_window(now: datetime) -> tuple[datetime, datetime]:
    """From now (to the minute, as the list's filter takes it) to the same time in 7 days."""
    start = now.astimezone(get_settings().tz).replace(second=0, microsecond=0)
    return start, start + timedelta(days=7)


def _maintenance(session: Session, user: User) -> dict[str, Any]:
    """Maintenance now and in the next 7 days; a library's own and every member's."""
    since, until = maintenance_window(utcnow())
    code = None if user.is_staff else user.institution
    window = maintenance.list_windows(
        session=session,
        institution=code,
        since=since,
        until=until,
        page=PageParams(limit=20, offset=0),
    )
    end_of_today = since.replace(hour=0, minute=0) + timedelta(days=1)
    params = {"since": since.strftime("%Y-%m-%dT%H:%M"), "until": until.strftime("%Y-%m-%dT%H:%M")}
    if code:
        params["institution"] = code
    items = window.items
    return {
        "now_windows": [w for w in items if w.status is MaintenanceStatus.in_progress],
        "today_windows": [
            w
            for w in items
            if w.status is not MaintenanceStatus.in_progress and w.starts_at < end_of_today
        ],
        "later_windows": [w for w in items if w.starts_at >= end_of_today],
        "total": window.total,
        "more": window.total - len(items),
        "href": "/maintenance?" + urlencode(params),
    }


def _incidents(session: Session, user: User) -> dict[str, Any]:
    return {"open_incidents": incidents.open_incidents(session=session)}


def _mail(session: Session, user: User) -> dict[str, Any]:
    counts = outbox.counts(session=session, actor=user)
    hooks = webhooks.undelivered(session=session, actor=user)
    return {
        "failed": counts[OutboxState.failed],
        "dead": counts[OutboxState.dead],
        "hooks_failed": hooks[OutboxState.failed],
        "hooks_dead": hooks[OutboxState.dead],
    }


def _members(session: Session, user: User) -> dict[str, Any]:
    return {"member_counts": institutions.count_by_status(session=session)}


def _activity(session: Session, user: User) -> dict[str, Any]:
    weeks = service.weekly_activity(session=session, actor=user)
    labels = [f"Week of {w.week:%b} {w.week.day}" for w in weeks]
    chart = charts.bar_chart(
        id="chart-activity",
        title="Tickets opened and resolved per week",
        description=(
            f"The last {len(weeks)} weeks: {sum(w.opened for w in weeks)} tickets opened, "
            f"{sum(w.resolved for w in weeks)} resolved."
        ),
        labels=[f"{w.week:%b} {w.week.day}" for w in weeks],
        series=[
            charts.Series("Opened", "series-opened", [w.opened for w in weeks]),
            charts.Series("Resolved", "series-resolved", [w.resolved for w in weeks]),
        ],
    )
    return {"chart": chart, "row_labels": labels, "first_column": "Week", "extra": None}


def _sla(session: Session, user: User) -> dict[str, Any]:
    months = service.monthly_sla(session=session, actor=user)
    met = [m.met for m in months]
    resolved = [m.resolved for m in months]
    chart = charts.bar_chart(
        id="chart-sla",
        title="Response and resolution times met, per month",
        description=(
            f"The last {len(months)} months: {sum(met)} of {sum(resolved)} resolved tickets "
            "met both their response and resolution times."
        ),
        labels=[f"{m.month:%b %Y}" for m in months],
        series=[charts.Series("Met", "series-met", [m.percent for m in months])],
        unit="%",
        maximum=100,
    )
    return {
        "chart": chart,
        "row_labels": [f"{m.month:%B %Y}" for m in months],
        "first_column": "Month",
        "extra": {
            "heading": "Tickets that met both, of those resolved",
            "cells": [f"{m.met} of {m.resolved}" for m in months],
        },
    }


@dataclass(frozen=True)
class Widget:
    name: str  # its address: /home/<name>
    title: str  # the heading shown while it loads
    build: Callable[[Session, User], dict[str, Any]]
    template: str = ""

    @property
    def file(self) -> str:
        return self.template or f"home/_{self.name}.html"


TICKETS = Widget("tickets", "Tickets", _tickets)
WIDGETS = {
    w.name: w
    for w in (
        TICKETS,
        Widget("attention", "Needs attention now", _attention),
        Widget("waiting", "Waiting for your answer", _waiting),
        Widget("maintenance", "Maintenance now and this week", _maintenance),
        Widget("directory", "Directory", _directory),
        Widget("incidents", "Open incidents", _incidents),
        Widget("mail", "E-mail and webhooks not delivered", _mail),
        Widget("duties", "Duties", duties.home, "home/_duties.html"),
        Widget("activity", "Tickets per week", _activity, "home/_chart.html"),
        Widget("sla", "Response times met", _sla, "home/_chart.html"),
        Widget("announcements", "Announcements", announcements.home, "home/_communications.html"),
        Widget("members", "Members at a glance", _members),
    )
}


def widgets_for(user: User) -> list[Widget]:
    """Each role's widgets, in reading order."""
    if user.is_staff:
        names = ["attention", "tickets", "directory", "maintenance", "incidents"]
        names += ["mail"] if user.is_admin else []
        names += ["duties", "activity", "sla", "announcements", "members"]
    elif user.is_library_lead:
        names = ["waiting", "tickets", "maintenance", "directory", "duties", "announcements"]
    else:
        names = ["waiting", "tickets", "maintenance", "announcements"]
    return [WIDGETS[n] for n in names]


def dashboard(session: Session, user: User) -> dict[str, Any]:
    """The page: who is signed in, and the placeholders of their widgets."""
    own = (
        institutions.get_institution(session=session, code=user.institution)
        if user.institution
        else None
    )
    return {"institution": own, "widgets": widgets_for(user)}


def widget(session: Session, user: User, name: str) -> tuple[Widget, dict[str, Any]]:
    """One widget's template and context; a widget this person does not get is 404."""
    found = WIDGETS.get(name)
    if found is None or found not in widgets_for(user):
        raise NotFound("There is no such part of your home page.")
    return found, {"widget": found, **found.build(session, user)}
