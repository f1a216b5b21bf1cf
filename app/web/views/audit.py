"""What the audit page shows beside the entries: plain words for actions and records, names
instead of account numbers, a link to each record, and the filters' choices; and its CSV file."""

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from fastapi import Response
from sqlmodel import Session, select

from app.models import labels
from app.models.audit import AuditEntryPublic
from app.models.user import User
from app.services import audit
from app.services.spreadsheet import csv_text
from app.web.render import EXPORT_MEDIA, View

# Action → the words a sentence uses ("Ann Able changed institution UIU").
ACTIONS = {
    "create": "created",
    "update": "changed",
    "delete": "deleted",
    "end": "ended",
    "request": "requested",
    "approve": "approved",
    "reject": "rejected",
    "confirm": "confirmed the directory of",
    "invite": "invited to sign in",
    "resend_invitation": "sent a new invitation to",
    "revoke_invitation": "revoked the invitation of",
    "accept_invitation": "accepted an invitation for",
    "sign_in": "signed in",
    "sign_in_failed": "failed to sign in",
    "change_password": "changed the password of",
    "reset_password": "reset the password of",
    "sign_out_everywhere": "signed out everywhere",
    "import": "imported",
    "cancel": "cancelled",
    "retry": "retried",
    "discard": "discarded",
    "post": "posted",
    "link": "linked",
    "acknowledge": "acknowledged",
    "redistribute": "sent again",
    "notice_preference": "changed the notices of",
    "attach": "attached a file to",
    "purge": "purged",
    "legal_hold": "put a legal hold on",
    "lift_legal_hold": "lifted the legal hold on",
    "rotate_secret": "issued a new secret for",
    "revoke": "revoked",
    "resolve_tickets": "resolved the tickets linked to",
}
# Record type → its name in words, and the page it lives on.
RECORDS = {
    "institution": ("Institution", "/institutions/{}"),
    "liaison": ("Directory entry", "/liaisons/{}"),
    "directory_change": ("Directory change request", "/directory-changes/{}"),
    "user": ("Account", "/users/{}"),
    "ticket": ("Ticket", "/tickets/{}"),
    "maintenance": ("Maintenance window", "/maintenance/{}"),
    "incident": ("Incident", "/incidents/{}"),
    "announcement": ("Announcement", "/announcements/{}"),
    "list": ("Mailing list", "/lists/{}"),
    "event": ("Event", "/events/{}"),
    "duty": ("Duty", "/duties/{}"),
    "task": ("Duty task", "/tasks/{}"),
    "outbox_message": ("E-mail", "/admin/mail/{}"),
    "task_feed": ("Calendar feed", None),
    "api_client": ("API client", "/api-clients/{}"),
    "retention_policy": ("Retention policy", "/retention"),
}
# Fields that hold an account's id: shown as the person's name.
PERSON_FIELDS = {
    "account", "actor", "requester", "assignee", "author", "decided_by", "confirmed_by",
    "created_by", "password_reset_for", "user_id", "owner",
}  # fmt: skip
# Fields whose values are codes from a fixed list: shown in words.
CODE_FIELDS = {
    "role", "roles", "status", "kind", "priority", "category", "impact", "ended", "product",
    "environment", "services", "state", "responsible", "action",
}  # fmt: skip
HIDDEN = {"created_at", "updated_at"}
_CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def words(code: str) -> str:
    """`backup_liaison` → `Backup liaison`."""
    return code.replace("_", " ").capitalize()


def action_words(action: str) -> str:
    return ACTIONS.get(action, words(action).lower())


def record_words(entity_type: str) -> str:
    return RECORDS.get(entity_type, (words(entity_type), None))[0]


def record_link(entity_type: str, entity_id: str) -> str | None:
    pattern = RECORDS.get(entity_type, (None, None))[1]
    return pattern.format(entity_id) if pattern and entity_id else None


def shown(key: str, value: Any, names: dict[int, str]) -> str:
    """One value as a person reads it: names for accounts, words for codes, "—" for none."""
    if value is None or value == "" or value == []:
        return "—"
    if key in PERSON_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return names.get(value, "a deleted account")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(shown(key, v, names) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{words(k)}: {shown(k, v, names)}" for k, v in value.items())
    if key in CODE_FIELDS and isinstance(value, str) and _CODE.match(value):
        return labels.label(value)
    return str(value)


def _people_in(entries: Iterable[AuditEntryPublic]) -> set[int]:
    ids: set[int] = set()
    for e in entries:
        for values in (e.before or {}, e.after or {}):
            for key, value in values.items():
                if key in PERSON_FIELDS:
                    ids.update(value if isinstance(value, list) else [value])
    return ids


def describe(session: Session, entries: list[AuditEntryPublic]) -> list[dict[str, Any]]:
    """Each entry as the page shows it (one statement for every name on the page)."""
    names = audit.user_names(session, _people_in(entries))
    described = []
    for e in entries:
        keys = [k for k in {**(e.before or {}), **(e.after or {})} if k not in HIDDEN]
        changes = []
        for key in keys:
            old, new = (e.before or {}).get(key), (e.after or {}).get(key)
            if e.before and e.after:
                changes.append((words(key), shown(key, old, names), shown(key, new, names)))
            elif (new if e.after else old) is not None:
                changes.append((words(key), None, shown(key, new if e.after else old, names)))
        described.append(
            {
                "entry": e,
                "action": action_words(e.action),
                "record": record_words(e.entity_type),
                "link": record_link(e.entity_type, e.entity_id),
                "changes": changes,
            }
        )
    return described


def page(view: View) -> dict[str, Any]:
    """The filters' choices and the described entries (three statements in all)."""
    people = view.session.exec(select(User.name).order_by(User.name).limit(2000)).all()
    return {
        "entries": describe(view.session, list(view.data.data)),
        "people": sorted(set(people)),
        "actions": sorted(ACTIONS.items(), key=lambda item: item[1]),
        "records": sorted(((k, v[0]) for k, v in RECORDS.items()), key=lambda item: item[1]),
    }


# --- the CSV file ------------------------------------------------------------------------------

CSV_COLUMNS = ("when", "who", "action", "record", "key", "changes", "request")


def _filters(params: dict[str, Any]) -> audit.AuditFilter:
    names = ("entity_type", "entity_id", "actor", "who", "action", "date_from", "date_to")
    return audit.AuditFilter(**{n: params.get(n) for n in names})


def _csv(view: View) -> Response:
    """Every matching entry (not one page), each cell safe to open in a spreadsheet."""
    entries = audit.export_entries(session=view.session, filters=_filters(view.params))
    rows = []
    for d in describe(view.session, entries):
        e = d["entry"]
        changes = "; ".join(
            f"{k}: {new}" if old is None else f"{k}: {old} → {new}" for k, old, new in d["changes"]
        )
        rows.append(
            [
                e.at.isoformat(),
                e.actor_name,
                d["action"],
                d["record"],
                e.entity_id,
                changes,
                e.request_id or "",
            ]
        )
    name = f"audit-{date.today().isoformat()}.csv"
    return Response(
        csv_text(CSV_COLUMNS, rows),
        media_type=f"{EXPORT_MEDIA['csv']}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


EXPORTS = {"csv": _csv}
