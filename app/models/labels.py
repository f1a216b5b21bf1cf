"""Display names: what a person reads instead of an enum value, slug or code.

Every value a page or e-mail shows goes through `label()` (the Jinja filter `label`); a list
of values through `labels()` ("Alma and Primo VE"). One mapping per enum, keyed by the enum
class, so the same value may read differently in two places (`Impact.none` is "No impact",
`Delivery.none` is "No e-mail"). `tests/test_shell.py` checks that every member of every
StrEnum in `app.models` has a name here; a new enum adds its mapping below.

Plain strings (a value read back from JSON, an audit action, a service slug) are looked up in
`BY_VALUE`; anything unknown still reads as words ("some_value" → "Some value"), never as a
slug.
"""

from collections.abc import Iterable
from enum import Enum
from typing import Any

from app.models.announcement import AnnouncementStatus, ModerationDecision, Review
from app.models.audit import AuditFormat
from app.models.directory_change import ChangeKind, ChangeStatus
from app.models.duty import AppliesTo, DutyAction, TaskState
from app.models.event import EventKind, EventStatus, RsvpAnswer
from app.models.inbound_mail import InboundOutcome
from app.models.incident import IncidentStatus
from app.models.institution import InstitutionKind, InstitutionStatus
from app.models.liaison import ContactRole, ExportFormat
from app.models.list import Delivery, ListKind, MemberSource
from app.models.maintenance import MaintenanceStatus, Repeat
from app.models.outbox import OutboxState
from app.models.service import Impact, ServiceStatus
from app.models.ticket import (
    TicketCategory,
    TicketEnvironment,
    TicketEventKind,
    TicketPriority,
    TicketProduct,
    TicketStatus,
)
from app.models.user import Role

LABELS: dict[type[Enum], dict[str, str]] = {
    # --- tickets
    TicketStatus: {
        "new": "New",
        "open": "Open",
        "pending_library": "Waiting for the library",
        "pending_vendor": "Waiting for the vendor",
        "resolved": "Resolved",
        "closed": "Closed",
    },
    TicketPriority: {
        "low": "Low",
        "normal": "Normal",
        "high": "High",
        "system_down": "System down",
    },
    TicketCategory: {
        "access_login": "Access and sign-in",
        "discovery_primo": "Discovery (Primo VE)",
        "fulfillment": "Fulfillment",
        "resource_sharing": "Resource sharing",
        "acquisitions": "Acquisitions",
        "cataloging": "Cataloging",
        "analytics_reports": "Analytics and reports",
        "delivery": "Delivery",
        "configuration": "Configuration",
        "directory": "Directory",
        "project": "Project",
        "other": "Other",
    },
    TicketProduct: {
        "alma": "Alma",
        "primo_ve": "Primo VE",
        "ishare_catalog": "I-Share catalog",
        "analytics": "Alma Analytics",
        "carli_files": "CARLI file service",
        "network": "Network",
        "other": "Other",
    },
    TicketEnvironment: {"production": "Production", "sandbox": "Sandbox"},
    TicketEventKind: {
        "created": "Opened",
        "status": "Status changed",
        "assignment": "Assigned",
        "priority": "Priority changed",
        "comment": "Comment",
        "merge": "Merged",
        "change": "Changed",
        "attachment": "Attachment",
        "redaction": "Redacted",
    },
    # --- status, maintenance, incidents
    ServiceStatus: {
        "operational": "Operational",
        "maintenance": "Maintenance",
        "degraded": "Degraded",
        "outage": "Outage",
    },
    Impact: {"none": "No impact", "degraded": "Degraded", "outage": "Outage"},
    MaintenanceStatus: {
        "scheduled": "Scheduled",
        "in_progress": "In progress",
        "completed": "Completed",
        "cancelled": "Cancelled",
    },
    Repeat: {"daily": "Every day", "weekly": "Every week", "monthly": "Every month"},
    IncidentStatus: {
        "investigating": "Investigating",
        "identified": "Cause identified",
        "monitoring": "Monitoring",
        "resolved": "Resolved",
    },
    # --- directory
    InstitutionKind: {
        "public_university": "Public university",
        "private_college": "Private college or university",
        "community_college": "Community college",
        "library_or_museum": "Library or museum",
        "other": "Other",
    },
    InstitutionStatus: {
        "prospective": "Prospective",
        "joining": "Joining",
        "active": "Active",
        "leaving": "Leaving",
        "former": "Former member",
    },
    ContactRole: {
        "director": "Director",
        "liaison": "Liaison",
        "backup_liaison": "Backup liaison",
        "fulfillment": "Fulfillment",
        "resource_sharing": "Resource sharing",
        "acquisitions": "Acquisitions",
        "cataloging": "Cataloging",
        "systems": "Systems",
        "analytics": "Analytics",
        "e_resources": "E-resources",
        "billing": "Billing",
        "delivery": "Delivery",
    },
    AuditFormat: {"json": "JSON", "csv": "Spreadsheet (CSV)"},
    ExportFormat: {"json": "JSON", "csv": "Spreadsheet (CSV)", "vcard": "Address book (vCard)"},
    ChangeKind: {"add": "Add a person", "update": "Update a person", "end": "Remove a person"},
    ChangeStatus: {"pending": "Waiting for review", "approved": "Approved", "rejected": "Declined"},
    # --- people
    Role: {
        "consortium_admin": "Consortium administrator",
        "consortium_staff": "Consortium staff",
        "director": "Library director",
        "liaison": "Liaison",
        "library_staff": "Library staff",
    },
    # --- duties
    TaskState: {"open": "Open", "done": "Done", "not_applicable": "Not applicable"},
    AppliesTo: {
        "all": "Every member library",
        "kind": "Libraries of one kind",
        "list": "Chosen libraries",
    },
    DutyAction: {"directory_confirmation": "Confirm the directory entry"},
    # --- communications
    AnnouncementStatus: {
        "scheduled": "Scheduled",
        "sent": "Sent",
        "cancelled": "Cancelled",
        "pending": "Waiting for approval",
        "rejected": "Declined",
    },
    Review: {"pending": "Waiting for approval", "approved": "Approved", "rejected": "Declined"},
    ModerationDecision: {"approve": "Approve", "reject": "Decline"},
    ListKind: {"announcement": "Announcement list", "interest_group": "Interest group"},
    Delivery: {"each": "Every message", "digest": "Daily digest", "none": "No e-mail"},
    MemberSource: {"directory": "From the directory", "manual": "Added by hand"},
    EventKind: {"meeting": "Meeting", "webinar": "Webinar", "training": "Training"},
    EventStatus: {
        "upcoming": "Upcoming",
        "in_progress": "Happening now",
        "past": "Past",
        "cancelled": "Cancelled",
    },
    RsvpAnswer: {"yes": "Attending", "no": "Not attending", "maybe": "Maybe"},
    OutboxState: {
        "pending": "Waiting to send",
        "sending": "Sending",
        "sent": "Sent",
        "failed": "Failed, will retry",
        "dead": "Gave up",
    },
    InboundOutcome: {  # reply and file by e-mail (issue 15)
        "replied": "Added as a reply",
        "filed": "Filed as a new report",
        "ignored": "Ignored",
        "rejected": "Refused",
    },
}

# A plain string's name: the first mapping that knows it.
BY_VALUE: dict[str, str] = {}
# Roles first: a list's or a redistribution's roles are stored as plain strings.
for _names in (LABELS[ContactRole], *LABELS.values()):
    for _value, _name in _names.items():
        BY_VALUE.setdefault(_value, _name)


def humanize(value: str) -> str:
    """`public_university` → `Public university`: the last resort, never a slug."""
    text = value.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def label(value: Any, kind: type[Enum] | dict[str, str] | None = None) -> str:
    """The display name of an enum member (or of a plain value, looked up in `kind` if given)."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        names = LABELS.get(type(value), {})
        text = value.value if isinstance(value.value, str) else str(value.value)
        return names.get(text) or humanize(text)
    text = str(value)
    if isinstance(kind, dict):
        return kind.get(text) or humanize(text)
    if kind is not None:
        return LABELS.get(kind, {}).get(text) or humanize(text)
    return BY_VALUE.get(text) or humanize(text)


def join_words(words: Iterable[str], conjunction: str = "and") -> str:
    """["Alma", "Primo VE", "Network"] → "Alma, Primo VE and Network"."""
    items = [w for w in words if w]
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def labels(values: Iterable[Any] | None, conjunction: str | None = "and") -> str:
    """Several values in plain English: "Alma and Primo VE"; with `conjunction=None` a
    comma list ("Liaison, Backup liaison")."""
    names = [label(v) for v in values or ()]
    return join_words(names, conjunction) if conjunction else ", ".join(n for n in names if n)


def filesize(size: int | float | None) -> str:
    """ "312 bytes", "4.2 KB", "1.3 MB": one decimal place, never "0.0 KB"."""
    if size is None:
        return ""
    amount = float(size)
    if amount < 1024:
        return "1 byte" if int(amount) == 1 else f"{int(amount)} bytes"
    for unit in ("KB", "MB", "GB"):
        amount /= 1024
        if amount < 1024 or unit == "GB":
            break
    return f"{amount:.1f}".removesuffix(".0") + f" {unit}"


def field_label(path: str | None) -> str:
    """A form field's name from an error's path: `body.liaison.email` → `Email`."""
    last = str(path or "").rsplit(".", 1)[-1]
    return humanize(last) if last and not last.isdigit() else "This field"


def extract(key: Any, mapping: dict) -> Any:
    """`values|map("extract", names)`: each value's entry in `mapping`, else its display name."""
    return mapping.get(key) if key in mapping else label(key)


MAIL_KINDS = {
    "account/welcome": "Welcome and invitation",
    "account/reinvited": "New invitation",
    "account/reset": "Password reset",
    "announcements/message": "Announcement",
    "announcements/digest": "Daily digest",
    "announcements/reminder": "Acknowledgement reminder",
    "announcements/rejected": "Post turned down",
    "announcements/redistributed": "Announcement passed on",
    "events/invitation": "Event invitation",
    "outbox/test": "Test message",
    "tickets/reply": "Ticket reply",
    "tickets/status": "Ticket status",
    "tickets/assigned": "Ticket assigned",
    "tickets/urgent": "Urgent ticket",
    "directory/invitation": "Directory confirmation",
    "directory/decision": "Change request decided",
    "duties/digest": "Duties reminder",
    "incidents/update": "Incident update",
    "maintenance/window": "Maintenance notice",
}

# What each webhook event means, for the subscription form and the delivery log.
WEBHOOK_EVENTS = {
    "ticket.created": "A problem report is filed",
    "ticket.updated": "A problem report changes",
    "ticket.commented": "A problem report gets a public reply",
    "maintenance.announced": "Maintenance is announced",
    "maintenance.changed": "Announced maintenance changes",
    "maintenance.cancelled": "Maintenance is cancelled",
    "incident.created": "An incident is reported",
    "incident.updated": "An incident is updated",
    "incident.resolved": "An incident is resolved",
    "directory.changed": "The member directory changes",
    "announcement.sent": "An announcement is sent",
    "task.completed": "A library completes a duty task",
    "webhook.test": "Test event",
}


def mail_kind(template: str | None) -> str:
    """What kind of e-mail a message is, from its template (`tickets/reply` → `Ticket reply`)."""
    text = str(template or "")
    return MAIL_KINDS.get(text) or humanize(text.replace("/", " "))
