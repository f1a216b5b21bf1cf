"""The feeds calendar programs and feed readers poll: iCalendar (RFC 5545) for maintenance
windows, Atom (RFC 4287) for windows and incident updates. Both are pure writers over rows the
caller (or one query here) found; the routes cache what they render (`app.web.caching`).

Every absolute URL comes from the configured public address (`PORTAL_BASE_URL`), never from a
request's Host header. Text passes through `without_unsafe`: rows written before input was
checked may hold control characters, which XML cannot carry and calendars choke on."""

from collections.abc import Sequence
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from icalendar import Calendar, Event, vText
from sqlmodel import Session, select

from app.core.config import get_settings
from app.models.common import without_unsafe
from app.models.incident import Incident, IncidentStatus, IncidentUpdate
from app.models.labels import label
from app.models.maintenance import Maintenance
from app.models.service import Impact, Service

FEED_ENTRIES = 50


def local_range(start: datetime, end: datetime) -> str:
    """`Sat 2027-06-05 23:00 – 03:30 CDT` in the consortium's zone (the end's date when it
    differs). Across a change of the clocks each end names its own zone:
    `Sun 2026-03-08 01:00 CST – 04:00 CDT`."""
    zone = get_settings().tz
    a, b = start.astimezone(zone), end.astimezone(zone)
    tail = f"{b:%H:%M %Z}" if a.date() == b.date() else f"{b:%a %Y-%m-%d %H:%M %Z}"
    head = f"{a:%a %Y-%m-%d %H:%M}" + (f" {a:%Z}" if a.tzname() != b.tzname() else "")
    return f"{head} – {tail}"


def host_of(base_url: str) -> str:
    """The host name of a URL, for UIDs and tag URIs."""
    return base_url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]


# --- iCalendar --------------------------------------------------------------------------------


def calendar(
    windows: Sequence[Maintenance],
    *,
    host: str,
    base_url: str,
    names: dict[str, str] | None = None,
) -> bytes:
    """RFC 5545, times in UTC: a stable UID per window, SEQUENCE, STATUS:CANCELLED. `names`:
    the services' names (slug → name) for the descriptions."""
    settings = get_settings()
    cal = Calendar()
    cal.add("prodid", f"-//{settings.consortium_name}//Liaison Portal//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{settings.consortium_name} maintenance")
    cal.add("x-wr-timezone", settings.timezone)
    for window in windows:
        cal.add_component(_event(window, host=host, base_url=base_url, names=names or {}))
    return cal.to_ical()


def _event(window: Maintenance, *, host: str, base_url: str, names: dict[str, str]) -> Event:
    event = Event()
    event.add("uid", f"maintenance-{window.id}@{host}")
    event.add("dtstamp", window.updated_at)
    event.add("created", window.created_at)
    event.add("last-modified", window.updated_at)
    event.add("sequence", window.sequence)
    event.add("dtstart", window.starts_at)
    event.add("dtend", window.ends_at)
    event.add("summary", without_unsafe(window.title))
    services = ", ".join(names.get(s, s) for s in window.services)
    event.add(
        "description",
        without_unsafe(
            f"When: {local_range(window.starts_at, window.ends_at)}\nServices: {services}\n"
            f"Impact: {label(Impact(window.impact))}\n\n"
            f"{window.description}"
        ).strip(),
    )
    event.add("url", f"{base_url}/maintenance/{window.id}")
    event.add("categories", window.services)
    event.add("transp", vText("TRANSPARENT"))
    event.add("status", "CANCELLED" if window.cancelled_at else "CONFIRMED")
    return event


# --- Atom -------------------------------------------------------------------------------------


def atom_feed(*, session: Session, base_url: str) -> bytes:
    """RFC 4287: one entry per window (its newest version) and per incident update."""
    settings = get_settings()
    windows = session.exec(
        select(Maintenance).order_by(Maintenance.updated_at.desc()).limit(FEED_ENTRIES)
    ).all()
    updates = session.exec(
        select(IncidentUpdate, Incident)
        .join(Incident, Incident.id == IncidentUpdate.incident_id)
        .order_by(IncidentUpdate.created_at.desc())
        .limit(FEED_ENTRIES)
    ).all()
    names = dict(session.exec(select(Service.slug, Service.name)).all())
    host = host_of(base_url)
    feed = FeedGenerator()
    feed.id(f"tag:{host},2026:status")
    feed.title(f"{settings.consortium_name}: maintenance and incidents")
    feed.author({"name": settings.consortium_name})
    feed.link(href=f"{base_url}/feeds/status.atom", rel="self")
    feed.link(href=f"{base_url}/status", rel="alternate")
    feed.language("en")
    entries: list[tuple[datetime, dict]] = []
    for w in windows:
        prefix = "Cancelled: " if w.cancelled_at else "Maintenance: "
        when = local_range(w.starts_at, w.ends_at)
        entries.append(
            (
                w.updated_at,
                {
                    "id": f"tag:{host},2026:maintenance/{w.id}",
                    "title": f"{prefix}{without_unsafe(w.title)} ({when})",
                    "link": f"{base_url}/maintenance/{w.id}",
                    "summary": without_unsafe(
                        f"{when}. Services: {', '.join(names.get(s, s) for s in w.services)}. "
                        f"Impact: {label(Impact(w.impact))}. "
                        f"{w.description}"
                    ).strip(),
                    "published": w.created_at,
                    "category": ["maintenance", *w.services],
                },
            )
        )
    for update, incident in updates:
        entries.append(
            (
                update.created_at,
                {
                    "id": f"tag:{host},2026:incident/{incident.id}/update/{update.id}",
                    "title": (
                        f"{without_unsafe(incident.title)}: "
                        f"{label(IncidentStatus(update.status)).lower()}"
                    ),
                    "link": f"{base_url}/incidents/{incident.id}",
                    "summary": without_unsafe(update.body),
                    "published": update.created_at,
                    "category": ["incident", update.status],
                },
            )
        )
    entries.sort(key=lambda e: e[0], reverse=True)
    feed.updated(entries[0][0] if entries else datetime(2026, 1, 1, tzinfo=UTC))
    for updated, values in reversed(entries[:FEED_ENTRIES]):
        entry = feed.add_entry()
        entry.id(values["id"])
        entry.title(values["title"])
        entry.link(href=values["link"], rel="alternate")
        entry.summary(values["summary"])
        entry.published(values["published"])
        entry.updated(updated)
        for term in values["category"]:
            entry.category(term=term)
    return feed.atom_str(pretty=True)
