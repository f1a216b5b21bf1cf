"""The feeds calendar programs and feed readers poll: iCalendar (RFC 5545) for maintenance
windows, Atom (RFC 4287) for windows and incident updates. Both are pure writers over rows the
caller found (`app.services.status`, one statement); the routes cache what they render
(`app.web.caching`).

Both formats are written directly rather than through `icalendar` / `feedgen`: they are a few
lines per entry, and the libraries' object trees cost 20–80 ms for a calendar of a few hundred
windows, where this costs a few. `tests/test_feeds.py` reads the output with the `icalendar`
parser and feedparser.

Every absolute URL comes from the configured public address (`PORTAL_BASE_URL`), never from a
request's Host header. Text passes through `without_unsafe`: rows written before input was
checked may hold control characters, which XML cannot carry and calendars choke on."""

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from app.core.config import get_settings
from app.models.common import without_unsafe
from app.models.incident import IncidentPublic, IncidentStatus
from app.models.labels import label
from app.models.maintenance import MaintenancePublic, MaintenanceStatus
from app.models.service import Impact

FEED_ENTRIES = 50
ATOM_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # `updated` of a feed with no entry


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
    windows: Sequence[MaintenancePublic],
    *,
    host: str,
    base_url: str,
    names: dict[str, str] | None = None,
) -> bytes:
    """RFC 5545, times in UTC: a stable UID per window, SEQUENCE, STATUS:CANCELLED. `names`:
    the services' names (slug → name) for the descriptions."""
    settings = get_settings()
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{_text(f'-//{settings.consortium_name}//Liaison Portal//EN')}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(f'{settings.consortium_name} maintenance')}",
        f"X-WR-TIMEZONE:{_text(settings.timezone)}",
    ]
    for window in windows:
        lines += _event(window, host=host, base_url=base_url, names=names or {})
    lines.append("END:VCALENDAR")
    return b"".join(map(_fold, lines))


def _event(
    window: MaintenancePublic, *, host: str, base_url: str, names: dict[str, str]
) -> list[str]:
    services = ", ".join(names.get(s, s) for s in window.services)
    description = without_unsafe(
        f"When: {local_range(window.starts_at, window.ends_at)}\nServices: {services}\n"
        f"Impact: {label(Impact(window.impact))}\n\n"
        f"{window.description}"
    ).strip()
    cancelled = window.status == MaintenanceStatus.cancelled
    updated = _utc(window.updated_at)
    return [
        "BEGIN:VEVENT",
        f"UID:maintenance-{window.id}@{host}",
        f"DTSTAMP:{updated}",
        f"CREATED:{_utc(window.created_at)}",
        f"LAST-MODIFIED:{updated}",
        f"SEQUENCE:{window.sequence}",
        f"DTSTART:{_utc(window.starts_at)}",
        f"DTEND:{_utc(window.ends_at)}",
        f"SUMMARY:{_text(without_unsafe(window.title))}",
        f"DESCRIPTION:{_text(description)}",
        f"URL:{base_url}/maintenance/{window.id}",
        f"CATEGORIES:{','.join(map(_text, window.services))}",
        "TRANSP:TRANSPARENT",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "END:VEVENT",
    ]


def _text(value: str) -> str:
    """An RFC 5545 TEXT value (3.3.11): backslash, semicolon, comma and line breaks escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _utc(value: datetime) -> str:
    v = value.astimezone(UTC)  # fields, not strftime: half the cost, four times a window
    return f"{v.year:04}{v.month:02}{v.day:02}T{v.hour:02}{v.minute:02}{v.second:02}Z"


def _fold(line: str) -> bytes:
    """One content line, folded at 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    data = line.encode()
    if len(data) <= 75:
        return data + b"\r\n"
    parts, start, limit = [], 0, 75
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # a continuation byte: cut before its character
            end -= 1
        parts.append(data[start:end])
        start, limit = end, 74  # a continuation line starts with a space
    parts.append(data[start:])
    return b"\r\n ".join(parts) + b"\r\n"


# --- Atom -------------------------------------------------------------------------------------


def atom_feed(
    windows: Sequence[MaintenancePublic],
    incidents: Sequence[IncidentPublic],
    *,
    names: dict[str, str],
    base_url: str,
) -> bytes:
    """RFC 4287, newest first: one entry per window (its newest version) and per incident
    update, the `FEED_ENTRIES` newest of them."""
    settings = get_settings()
    host = host_of(base_url)
    entries: list[tuple[datetime, str]] = []
    for w in windows:
        prefix = "Cancelled: " if w.status == MaintenanceStatus.cancelled else "Maintenance: "
        when = local_range(w.starts_at, w.ends_at)
        summary = (
            f"{when}. Services: {', '.join(names.get(s, s) for s in w.services)}. "
            f"Impact: {label(Impact(w.impact))}. {w.description}"
        )
        entries.append(
            (
                w.updated_at,
                _entry(
                    id=f"tag:{host},2026:maintenance/{w.id}",
                    title=f"{prefix}{without_unsafe(w.title)} ({when})",
                    link=f"{base_url}/maintenance/{w.id}",
                    summary=without_unsafe(summary).strip(),
                    published=w.created_at,
                    updated=w.updated_at,
                    categories=["maintenance", *w.services],
                ),
            )
        )
    for incident in incidents:
        for update in incident.updates:
            entries.append(
                (
                    update.created_at,
                    _entry(
                        id=f"tag:{host},2026:incident/{incident.id}/update/{update.id}",
                        title=(
                            f"{without_unsafe(incident.title)}: "
                            f"{label(IncidentStatus(update.status)).lower()}"
                        ),
                        link=f"{base_url}/incidents/{incident.id}",
                        summary=without_unsafe(update.body),
                        published=update.created_at,
                        updated=update.created_at,
                        categories=["incident", update.status],
                    ),
                )
            )
    entries.sort(key=lambda e: e[0], reverse=True)
    entries = entries[:FEED_ENTRIES]
    name = escape(without_unsafe(settings.consortium_name))
    head = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
        f"  <id>tag:{escape(host)},2026:status</id>\n"
        f"  <title>{name}: maintenance and incidents</title>\n"
        f"  <updated>{(entries[0][0] if entries else ATOM_EPOCH).isoformat()}</updated>\n"
        f"  <author>\n    <name>{name}</name>\n  </author>\n"
        f'  <link href={quoteattr(f"{base_url}/feeds/status.atom")} rel="self"/>\n'
        f'  <link href={quoteattr(f"{base_url}/status")} rel="alternate"/>\n'
    )
    return (head + "".join(entry for _, entry in entries) + "</feed>\n").encode()


def _entry(
    *,
    id: str,
    title: str,
    link: str,
    summary: str,
    published: datetime,
    updated: datetime,
    categories: list[str],
) -> str:
    terms = "".join(f"    <category term={quoteattr(term)}/>\n" for term in categories)
    return (
        "  <entry>\n"
        f"    <id>{escape(id)}</id>\n"
        f"    <title>{escape(title)}</title>\n"
        f"    <updated>{updated.isoformat()}</updated>\n"
        f'    <link href={quoteattr(link)} rel="alternate"/>\n'
        f"    <summary>{escape(summary)}</summary>\n"
        f"{terms}"
        f"    <published>{published.isoformat()}</published>\n"
        "  </entry>\n"
    )
