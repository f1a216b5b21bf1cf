"""What duty pages need beside the data: rendered instructions, the occurrences to pick from,
the board's filters and sorts, the form's choices, the home partial; and the board's CSV."""

from typing import Any

from fastapi import Response
from sqlmodel import Session

from app.core.pagination import PageParams
from app.models.duty import AppliesTo, Duty, TaskState
from app.models.institution import InstitutionKind
from app.models.labels import label
from app.models.liaison import ContactRole
from app.models.user import User
from app.services import duties, spreadsheet, uploads
from app.services.duties import TaskFilter, TaskSort
from app.web.render import EXPORT_MEDIA, View

FILTER_LABELS = {
    TaskFilter.open: "Open",
    TaskFilter.overdue: "Overdue",
    TaskFilter.done: "Done",
    TaskFilter.not_applicable: "Not applicable",
}
SORT_LABELS = {
    TaskSort.name: "Library name",
    TaskSort.institution: "Code",
    TaskSort.state: "State",
    TaskSort.completed_at: "Completed",
}
# What the file picker offers (the server still reads the type from the content).
ACCEPT = ".pdf,.png,.jpg,.jpeg,.gif,.txt,application/pdf,image/png,image/jpeg,image/gif,text/plain"


def listing(view: View) -> dict[str, Any]:
    return {"today_date": duties.today()}


def _duty(view: View) -> Duty:
    return (
        view.params["duty"]
        if "duty" in view.params
        else duties.get_duty(session=view.session, duty_id=view.data.id)
    )


def detail(view: View) -> dict[str, Any]:
    duty = _duty(view)
    return {
        "instructions": duties.instructions_html(duty),
        "opened": duties.occurrences_of(session=view.session, duty=duty),
        "listed_names": duties.institution_names(session=view.session, codes=duty.institutions),
    }


def board(view: View) -> dict[str, Any]:
    duty: Duty = view.params["duty"]
    return {
        "duty": duty,
        "opened": duties.occurrences_of(session=view.session, duty=duty),
        "filters": FILTER_LABELS,
        "sorts": SORT_LABELS,
    }


def task(view: View) -> dict[str, Any]:
    """The task page: instructions, its files (a download link only for those who may), and
    the completion controls."""
    duty = duties.get_duty(session=view.session, duty_id=view.data.duty)
    files = duties.attachments
    listed = (
        files.list_attachments(session=view.session, actor=view.user, task_id=view.data.id)
        if view.data.attachments
        else []
    )
    leads = view.user.is_staff or (
        view.user.is_library_lead and view.user.institution == view.data.institution
    )
    return {
        "instructions": duties.instructions_html(duty),
        "is_confirmation": duty.action is not None,
        "attachments": listed,
        "may_attach": leads,
        "attachment_limit": uploads.human_size(files.max_bytes()),
        "accept": ACCEPT,
    }


def institution_tasks(view: View) -> dict[str, Any]:
    code = view.params["code"].upper()
    return {
        "code": code,
        "institution_name": duties.institution_names(session=view.session, codes=[code]).get(
            code, code
        ),
        "filters": FILTER_LABELS,
    }


def form(duty: Duty | None) -> dict[str, Any]:
    """The define / edit form's choices."""
    return {
        "duty": duty,
        "roles": {role: label(role) for role in ContactRole},
        "applies": {
            AppliesTo.all: "Every active member",
            AppliesTo.kind: "Members of some kinds",
            AppliesTo.list: "Only the libraries listed",
        },
        "kinds": list(InstitutionKind),
    }


def home(session: Session, user: User) -> dict[str, Any]:
    """The home partial: a library's tasks due and overdue; for staff, the open boards."""
    if user.is_staff:
        return {"duty_boards": duties.open_boards(session=session)}
    if user.institution and user.is_library_lead:
        return {"due_tasks": duties.due_tasks(session=session, code=user.institution)}
    return {}


# --- the board as CSV (`?format=csv`) ---------------------------------------------------------


def _board_csv(view: View) -> Response:
    p = view.params
    found = duties.board(
        session=view.session,
        actor=view.user,
        duty=p["duty"],
        page=PageParams(limit=100_000, offset=0),
        due_on=p.get("due_on"),
        state=p.get("state"),
        q=p.get("q"),
        sort=p.get("sort") or TaskSort.name,
        descending=bool(p.get("desc")),
    )
    rows = [
        (
            t.institution,
            t.institution_name,
            t.due_on.isoformat(),
            "Overdue" if t.overdue else label(TaskState(t.state)),
            t.completed_at.isoformat() if t.completed_at else "",
            t.note or t.reason or "",
            t.attachments,
        )
        for t in found.window.items
    ]
    body = spreadsheet.csv_text(
        ("Code", "Library", "Due", "State", "Completed at", "Note or reason", "Files attached"),
        rows,
    )
    name = f"duty-{p['duty'].id}-{found.due_on.isoformat() if found.due_on else 'none'}.csv"
    return Response(
        body,
        media_type=f"{EXPORT_MEDIA['csv']}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


BOARD = {"csv": _board_csv}


def feeds(session: Session, user: User) -> dict[str, Any]:
    """The calendar links the person may manage: their own (at a library) and their library's
    (its director or liaison)."""
    scopes: list[tuple[str, str | None, str]] = []
    if user.institution:
        scopes.append(("personal", None, "My tasks"))
        if user.is_library_lead:
            scopes.append((user.institution, user.institution, f"All {user.institution} tasks"))
    return {
        "feeds": [
            {
                "scope": scope,
                "label": label,
                "feed": duties.active_feed(session=session, actor=user, institution=code),
            }
            for scope, code, label in scopes
        ],
        "new_url": None,
    }
