"""Bad input that hurt everyone (issue 10): a recurrence rule that pins a core, control
characters that break the feeds for good, dates at the ends of time, formulas in CSV exports,
a bare CR in vCard, and absolute URLs built from a forged Host header."""

import csv
import importlib
import io
import pkgutil
import re
import types
from datetime import datetime, timedelta
from typing import Union, get_args, get_origin
from zoneinfo import ZoneInfo

import feedparser
import pytest
from dateutil import rrule as dateutil_rrule
from dateutil.rrule import rrulestr
from icalendar import Calendar
from pydantic import BaseModel, ValidationError
from sqlmodel import select

import app.models
from app.core.config import get_settings
from app.core.errors import Invalid
from app.models.common import FormInput
from app.models.maintenance import Maintenance
from app.models.outbox import OutboxMessage
from app.models.user import Role
from app.notify.mail import render
from app.services import recurrence
from app.services.directory_exports import ImportReport, _parse
from app.services.maintenance_notices import WindowNotice, notify

BODY = {
    "title": "Alma monthly release",
    "starts_at": "2027-06-05T23:00:00-05:00",
    "ends_at": "2027-06-06T03:30:00-05:00",
    "services": ["alma"],
    "impact": "outage",
}
ZONE = ZoneInfo("America/Chicago")
FORGED = "forged.example"
FORMULA = '=HYPERLINK("http://evil.example","Click")'


def problem_fields(response) -> set[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return {e["field"] for e in response.json()["errors"]}


# --- 10: the work of expanding a recurrence rule is bounded -----------------------------------


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=1", "time of day (BYHOUR)"),
        ("FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;COUNT=2", "more often than daily"),
        ("FREQ=HOURLY;COUNT=3", "more often than daily"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=2", "only 0 of its 2 windows within ten"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20990101T000000Z", "more than ten years"),
        ("FREQ=YEARLY;BYEASTER=0;COUNT=2", "BYEASTER is not a part"),
        ("FREQ=WEEKLY;COUNT=2;UNTIL=20270801", "both COUNT and UNTIL"),
        ("FREQ=WEEKLY", "never ends; give it a COUNT or an UNTIL (at most 104 windows)"),
        ("FREQ=WEEKLY;COUNT=2\nFREQ=SECONDLY", "must be one line"),
    ],
)
def test_a_rule_that_would_walk_for_long_is_refused_in_plain_words(client, db, staff, rule, words):
    response = client.post("/maintenance", json={**BODY, "rrule": rule}, headers=staff)
    assert response.status_code == 422, response.text
    assert problem_fields(response) == {"rrule"}
    problem = response.json()
    assert words in problem["detail"] or words in str(problem["errors"])
    assert db.exec(select(Maintenance)).all() == []


def test_the_walk_over_candidate_days_is_bounded_whatever_the_rule(monkeypatch):
    """dateutil visits one day set per day walked; unbounded, this rule walks to the year 9999
    (~2.9 million days, seconds of CPU) to find that 30 February never comes."""
    visits = []
    ddayset = dateutil_rrule._iterinfo.ddayset

    def counted(self, year, month, day):
        visits.append(1)
        return ddayset(self, year, month, day)

    monkeypatch.setattr(dateutil_rrule._iterinfo, "ddayset", counted)
    with pytest.raises(Invalid):
        recurrence.occurrences(
            "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=2",
            datetime(2027, 1, 1, 23),
            limit=104,
            zone=ZONE,
        )
    bound = (recurrence.CYCLE_YEARS + 11) * 366
    assert 0 < len(visits) <= bound


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY;BYDAY=1SU;COUNT=12",
        "FREQ=MONTHLY;BYDAY=SA;BYSETPOS=-1;COUNT=24",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=2",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;WKST=SU;COUNT=30",
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO;COUNT=1",
        "FREQ=DAILY;INTERVAL=3;UNTIL=20270901T050000Z",
    ],
)
def test_the_bounded_walk_finds_what_dateutil_finds(rule):
    """The walk happens 400 Gregorian years later (same weekdays, same leap days): the dates
    found are the ones dateutil finds walking from the real start."""
    start = datetime(2027, 6, 5, 23, 0)
    found = recurrence.occurrences(rule, start, limit=104, zone=ZONE)
    if "UNTIL" in rule:
        text, _, until = rule.rpartition(";UNTIL=")
        last = datetime.strptime(until, "%Y%m%dT%H%M%SZ") - timedelta(hours=5)
        expected = [o for o in rrulestr(text, dtstart=start)[:200] if o <= last]
    else:
        expected = list(rrulestr(rule, dtstart=start))
    assert found == expected


# --- 11: control characters refused at the edge, and feeds robust to older rows ---------------


def input_models() -> list[type]:
    for module in pkgutil.iter_modules(app.models.__path__):
        importlib.import_module(f"app.models.{module.name}")
    found, stack = [], [FormInput]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.append(sub)
            stack.append(sub)
    return found


def request_models_of(module) -> list[type]:
    return [
        v
        for k, v in vars(module).items()
        if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == module.__name__
        if k.endswith(("Create", "Update", "Request", "Decision", "Rejection"))
        and not getattr(v, "model_config", {}).get("table")
    ]


def test_every_request_body_model_is_a_form_input():
    modules = [
        importlib.import_module(f"app.models.{m.name}")
        for m in pkgutil.iter_modules(app.models.__path__)
    ]
    bodies = [m for module in modules for m in request_models_of(module)]
    assert len(bodies) >= 10
    assert [m.__name__ for m in bodies if not issubclass(m, FormInput)] == []


def _takes_an_int(annotation) -> bool:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_takes_an_int(a) for a in args)
    if get_origin(annotation) is list:
        return _takes_an_int(args[0])
    return annotation is int


def test_every_whole_number_an_input_model_takes_fits_the_database():
    """A number past a 64-bit integer reached SQLite (OverflowError, a 500): every int field of
    every input model has bounds, so the answer is a 422 naming it."""
    checked, unbounded = 0, []
    for model in input_models():
        for name, info in model.model_fields.items():
            if not _takes_an_int(info.annotation):
                continue
            checked += 1
            try:
                model.model_validate({name: 2**63})
            except ValidationError as caught:
                if any(e["loc"] and e["loc"][0] == name for e in caught.errors()):
                    continue
            unbounded.append(f"{model.__name__}.{name}")
    assert checked >= 5
    assert unbounded == []


def test_a_directory_change_naming_a_huge_id_is_a_422(client, make):
    liaison = make.user(Role.liaison)
    change = {"kind": "update", "liaison_id": 2**63, "liaison": {"phone": "217-555-0100"}}
    response = client.post("/directory-changes", json=change, headers=make.headers(liaison))
    assert response.status_code == 422, response.text


def _bad_value(annotation, text: str):
    """`text` in the shape a field takes: a string, a list of them, a dict of them."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, types.UnionType) and args:
        return _bad_value(args[0], text)
    if get_origin(annotation) is list:
        return [text]
    if annotation is dict or get_origin(annotation) is dict:
        return {"name": text}
    if annotation is str or (get_origin(annotation) is None and _is_str(annotation)):
        return text
    if get_args(annotation) and _is_str(get_args(annotation)[0]):  # Annotated[str, …]
        return text
    return None


def _is_str(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, str)


@pytest.mark.parametrize("character", ["\x00", "\x0b", "\x1b", "\x7f", "\x85", "\u202e"])
def test_every_text_field_of_every_input_model_refuses_control_characters(character):
    checked = 0
    for model in input_models():
        for name, info in model.model_fields.items():
            value = _bad_value(info.annotation, f"Alma{character}release")
            if value is None:
                continue
            with pytest.raises(ValidationError) as caught:
                model.model_validate({name: value})
            errors = [e for e in caught.value.errors() if e["loc"] and e["loc"][0] == name]
            assert errors, f"{model.__name__}.{name} took {character!r}"
            checked += 1
    assert checked >= 30


def test_a_control_character_is_a_422_naming_the_field_in_plain_words(client, db, staff):
    response = client.post("/maintenance", json={**BODY, "title": "Alma\x0brelease"}, headers=staff)
    assert response.status_code == 422
    assert problem_fields(response) == {"title"}
    (error,) = response.json()["errors"]
    assert error["message"] == (
        "contains a character that is not allowed (a control character, U+000B)"
    )
    assert db.exec(select(Maintenance)).all() == []


def test_line_breaks_only_where_text_may_run_over_lines(client, staff):
    two_lines = {**BODY, "description": "First line.\r\nSecond\tline."}
    assert client.post("/maintenance", json=two_lines, headers=staff).status_code == 201
    response = client.post("/maintenance", json={**BODY, "title": "Alma\nrelease"}, headers=staff)
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "must be one line (no line breaks or tabs)"


def test_every_feed_survives_rows_written_before_the_check(client, db, make):
    """Rows already stored with control characters: every feed still answers and parses."""
    window = make.window(title="Alma\x0b release\x1b", description="Why\x0c not\x85.")
    incident = make.incident(title="Primo\x0b slow")
    incident.updates[0].body = "Looking\x0b into it\x08."
    db.add(incident)
    db.commit()

    atom = client.get("/feeds/status.atom")
    assert atom.status_code == 200
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    titles = [e.title for e in parsed.entries]
    assert any(t.startswith("Maintenance: Alma release (") for t in titles)
    assert "Primo slow: investigating" in titles
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", atom.text)

    ics = client.get("/maintenance.ics")
    assert ics.status_code == 200
    (event,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(event["summary"]) == "Alma release"
    assert "Why not." in str(event["description"])
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", ics.text)

    code = make.institution().code
    make.liaison(code, ("liaison",), name="Lee\x0b Liaison")
    window.institution_links = []
    notify(db, window, WindowNotice.announced)
    rows = db.exec(select(OutboxMessage)).all()
    mail = render(rows[-1].template, rows[-1].context)
    assert "Alma release" in mail.subject and "Hello Lee Liaison," in mail.text
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", mail.subject + mail.text + mail.html)


# --- 12: dates at the ends of time are a 4xx, never a 500 -------------------------------------


@pytest.mark.parametrize("month", ["9999-12", "0000-01", "0001-01"])
def test_a_month_at_the_ends_of_time_is_a_problem_not_a_500(client, month):
    response = client.get(f"/maintenance/calendar?month={month}")
    assert response.status_code == 422
    assert problem_fields(response) == {"month"}
    assert "between the years 1900 and 2999" in response.json()["detail"]
    page = client.get(f"/maintenance/calendar?month={month}", headers={"Accept": "text/html"})
    assert page.status_code == 422 and "between the years 1900 and 2999" in page.text


def test_the_month_view_still_shows_the_last_month_in_range(client):
    page = client.get("/maintenance/calendar?month=2999-12", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "December 2999" in page.text


@pytest.mark.parametrize(
    "query",
    [
        "since=9999-12-31T23:00:00",
        "since=9999-12-31T23:59:59-05:00",
        "until=0001-01-01T00:00:00%2B05:00",
        "until=0001-01-01T00:00:00",
    ],
)
def test_a_list_filter_at_the_ends_of_time_is_a_problem_not_a_500(client, query):
    response = client.get(f"/maintenance?{query}")
    assert response.status_code == 422, response.text
    assert problem_fields(response) == {query.split("=")[0]}


def test_a_window_in_year_9999_is_refused(client, make, staff):
    late = {**BODY, "starts_at": "9999-12-31T20:00:00", "ends_at": "9999-12-31T23:00:00"}
    response = client.post("/maintenance", json=late, headers=staff)
    assert response.status_code == 422
    assert problem_fields(response) == {"starts_at", "ends_at"}
    window = make.window()
    response = client.patch(
        f"/maintenance/{window.id}", json={"ends_at": "9999-12-31T23:59:59Z"}, headers=staff
    )
    assert response.status_code == 422
    assert problem_fields(response) == {"ends_at"}


# --- 14: CSV exports cannot smuggle formulas; vCard escapes a bare CR -------------------------


def test_csv_export_cells_never_start_a_formula_and_import_back(client, make):
    make.institution("CSV")
    make.liaison(
        "CSV",
        roles=("liaison",),
        name=FORMULA,
        title="@SUM(1+1)",
        phone="+1 217 555 0100",
    )
    make.liaison("CSV", roles=("billing",), name="-2+3", title="\tTabbed", email="b@csv.edu")
    _, staff = make.signed_in(Role.consortium_staff)
    exported = client.get("/liaisons?institution=CSV&format=csv", headers=staff)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    cells = [c for row in rows for c in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    by_name = {r["name"]: r for r in rows}
    assert by_name[f"'{FORMULA}"]["title"] == "'@SUM(1+1)"
    assert by_name[f"'{FORMULA}"]["phone"] == "'+1 217 555 0100"
    assert by_name["'-2+3"]["title"] == "'\tTabbed"

    parsed = _parse(exported.text.encode(), ImportReport(dry_run=True))
    assert {row["name"] for _, row in parsed} == {FORMULA, "-2+3"}


def test_vcard_escapes_a_bare_cr_so_no_property_can_be_injected(client, make):
    make.institution("VCF")
    make.liaison("VCF", roles=("liaison",), name="Val Card", title="Head\rEMAIL:evil@x.example")
    make.liaison("VCF", roles=("billing",), name="Vic\r\nCard\x0b", email="vic@vcf.edu")
    _, staff = make.signed_in(Role.consortium_staff)
    response = client.get("/liaisons?institution=VCF&format=vcard", headers=staff)
    assert response.status_code == 200
    body = response.text
    assert not re.search(r"\r(?!\n)", body) and not re.search(r"(?<!\r)\n", body)
    lines = body.replace("\r\n ", "").split("\r\n")
    assert "TITLE:Head\\nEMAIL:evil@x.example" in lines
    assert "FN:Vic\\nCard" in lines
    assert not [line for line in lines if line.startswith("EMAIL") and "evil" in line]


# --- 15: absolute URLs come from PORTAL_BASE_URL, never the Host header -----------------------


def test_a_forged_host_header_never_reaches_an_absolute_url(client, make):
    base = get_settings().base_url
    host = base.split("//", 1)[1].split("/", 1)[0].split(":", 1)[0]
    for n in range(3):
        make.window(title=f"Window {n}")
    make.incident()
    code = make.institution().code
    make.liaison(code, ("liaison",))
    requester = make.user(Role.library_staff, institution=code)
    make.ticket(requester)
    make.ticket(requester)
    _, staff = make.signed_in(Role.consortium_staff)
    forged = {"Host": FORGED}
    page = {**forged, **staff, "Accept": "text/html"}
    answers = {
        "list": client.get("/maintenance?limit=1", headers=forged),
        "atom": client.get("/feeds/status.atom", headers=forged),
        "ics": client.get("/maintenance.ics", headers=forged),
        "tickets": client.get("/tickets?limit=1", headers={**forged, **staff}),
        "people": client.get(f"/liaisons?institution={code}", headers=page),
        "windows page": client.get("/maintenance?limit=1", headers=page),
    }
    for name, response in answers.items():
        assert response.status_code == 200, name
        everything = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
        assert FORGED not in everything, name

    listed = answers["list"]
    assert listed.json()["next"] == f"{base}/maintenance?offset=1&limit=1"
    assert listed.headers["link"] == f'<{base}/maintenance?offset=1&limit=1>; rel="next"'

    tickets = answers["tickets"]
    assert tickets.json()["next"].startswith(f"{base}/tickets?")
    assert tickets.headers["link"] == f'<{tickets.json()["next"]}>; rel="next"'
    assert 'href="/liaisons?institution=' in answers["people"].text

    feed = feedparser.parse(answers["atom"].content)
    links = [feed.feed.link] + [e.link for e in feed.entries]
    assert links and all(link.startswith(f"{base}/") for link in links)
    assert all(e.id.startswith(f"tag:{host},") for e in feed.entries)

    events = Calendar.from_ical(answers["ics"].content).walk("VEVENT")
    assert len(events) == 3
    assert all(str(e["url"]).startswith(f"{base}/maintenance/") for e in events)
    assert all(str(e["uid"]).endswith(f"@{host}") for e in events)


JARGON = ("Field required", "Input should", "String should", "pattern", "^[", "Value error")


def test_every_form_error_is_in_plain_words_and_all_come_at_once(client, staff):
    """Pydantic's messages never reach a person: a missing field, a wrong type, an address
    with letters from outside the allowed set, a number out of range."""
    response = client.post(
        "/lists", json={"slug": "Liste-é", "name": 7, "roles": ["nobody"]}, headers=staff
    )
    assert response.status_code == 422, response.text
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert {"slug", "name", "roles.0"} <= set(errors)
    assert errors["slug"] == "This is not in the expected form."
    assert errors["name"] == "Enter text here."
    assert errors["roles.0"] == "Choose one of the offered options."
    missing = client.post("/institutions", json={}, headers=staff).json()["errors"]
    assert missing and all(e["message"] == "Fill this in." for e in missing)
    for message in [*errors.values(), *(e["message"] for e in missing)]:
        assert not any(word in message for word in JARGON), message
    summary = client.post("/institutions", json={}, headers=staff).json()["detail"]
    assert summary.endswith("answers need correcting; each message says how.")
    assert "code" not in summary and "name" not in summary  # no field names in the summary
