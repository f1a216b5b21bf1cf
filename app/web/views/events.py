"""What event pages need beside the data: rendered Markdown, the personal calendar link."""

from typing import Any

from sqlmodel import Session

from app.core.config import get_settings
from app.models.event import EventKind, RsvpAnswer
from app.services import events, lists, markdown
from app.web.render import View


def base_url() -> str:
    return get_settings().base_url.rstrip("/")


def listing(view: View) -> dict[str, Any]:
    key = lists.feed_key(view.user.id) if view.user else None
    return {"calendar_url": f"{base_url()}/events.ics?key={key}", "past": view.params.get("past")}


def detail(view: View) -> dict[str, Any]:
    event = view.params.get("event") or events.get_event(
        session=view.session, event_id=view.data.id
    )
    return {
        "description_html": markdown.render(event.description),
        "materials_html": markdown.render(event.materials),
        "answers": list(RsvpAnswer),
    }


def form(session: Session, event) -> dict[str, Any]:
    return {"event": event, "kinds": list(EventKind), "lists": lists.list_lists(session=session)}
