"""Recurrence rules (RFC 5545 RRULE) expanded with a bound on the work, not only on the result.

dateutil walks the calendar one period (a day, a week, a month …) at a time and stops only at a
result past UNTIL, at COUNT, or after the year 9999. A rule whose filters seldom or never match
(`FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=1`) therefore walks for minutes, whatever COUNT,
UNTIL or our own limit on the results say. Two things bound the walk here:

- rules repeat at most daily and take their time of day from the start (no BYHOUR, BYMINUTE,
  BYSECOND): a day is the smallest period walked;
- the walk happens in a frame moved forward by whole 400-year Gregorian cycles (146,097 days, a
  whole number of weeks, so every date keeps its weekday and every year its leap day) until the
  horizon ends in the last cycle before 9999; dateutil's own end of time then stops any rule
  after at most `CYCLE_YEARS` + the horizon of days (~150,000 candidate days, ~0.2 s).
  BYEASTER (a dateutil extension, not RFC 5545) does not repeat with the cycle and is refused.

`occurrences` is the one entry point: maintenance series use it, and so can any later slice.
"""

from datetime import MAXYEAR, date, datetime, timedelta
from itertools import islice
from typing import NoReturn
from zoneinfo import ZoneInfo

from dateutil.parser import isoparse
from dateutil.rrule import rrulestr

from app.core.errors import FieldError, Invalid

HORIZON = timedelta(days=3653)  # ten years: no occurrence may lie further from the start
HORIZON_WORDS = "ten years"
CYCLE_YEARS = 400
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
PARTS = (
    "FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO",
    "BYMONTH", "BYSETPOS", "WKST",
)  # fmt: skip
TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")


def occurrences(
    rule: str,
    start: datetime,
    *,
    limit: int,
    zone: ZoneInfo,
    field: str = "rrule",
    noun: str = "window",
) -> list[datetime]:
    """The occurrences of `rule` from `start` (naive wall-clock time in `zone`), in order.

    Refused (422 on `field`, in plain words): a rule that does not parse, repeats more often than
    daily, sets a time of day, never ends, makes more than `limit` occurrences, reaches further
    than the horizon, or makes none. `noun` names an occurrence in those messages.
    """
    parts = _parts(rule, field)
    until = _until(parts.pop("UNTIL", None), zone, field)
    if "COUNT" in parts and until is not None:
        _refuse(field, "gives both COUNT and UNTIL; keep one of them")
    if "COUNT" not in parts and until is None:
        _refuse(field, f"never ends; give it a COUNT or an UNTIL (at most {limit} {noun}s)")
    horizon_end = _plus(start, HORIZON)
    shift = CYCLE_YEARS * max(0, (MAXYEAR - horizon_end.year) // CYCLE_YEARS)
    text = ";".join(f"{key}={value}" for key, value in parts.items())
    try:
        recurrence = rrulestr(text, dtstart=_moved(start, shift))
        if until is not None:  # past the horizon it is refused below; walk no further
            recurrence = recurrence.replace(until=_moved(min(until, horizon_end), shift))
        found = [_moved(o, -shift) for o in islice(recurrence, limit + 1)]
    except (ValueError, TypeError, OverflowError) as exc:
        _refuse(field, f"is not valid RFC 5545 ({exc or 'it does not parse'})")
    if len(found) > limit:
        _refuse(field, f"makes more than {limit} {noun}s; give it a COUNT or an UNTIL")
    if "COUNT" in parts and len(found) < int(parts["COUNT"]):
        _refuse(
            field,
            f"makes only {len(found)} of its {parts['COUNT']} {noun}s within {HORIZON_WORDS}",
        )
    if (until is not None and until > horizon_end) or any(o > horizon_end for o in found):
        _refuse(field, f"goes on for more than {HORIZON_WORDS}")
    if not found:
        _refuse(field, f"makes no {noun}")
    return found


def _parts(rule: str, field: str) -> dict[str, str]:
    """`KEY=VALUE;…` checked part by part, so the walk only ever sees what is bounded."""
    text = rule.strip().removeprefix("RRULE:")
    if not text or any(ch.isspace() for ch in text):
        _refuse(field, "is not valid RFC 5545: write one rule such as FREQ=WEEKLY;COUNT=4")
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        key, sign, value = piece.partition("=")
        key = key.upper()
        if not sign or not value:
            _refuse(field, f"is not valid RFC 5545: “{piece}” is not KEY=VALUE")
        if key in TIME_PARTS:
            _refuse(field, f"sets a time of day ({key}); each repeat starts at the first's time")
        if key not in PARTS:
            _refuse(field, f"is not valid RFC 5545: {key} is not a part this portal accepts")
        if key in parts:
            _refuse(field, f"gives {key} twice")
        parts[key] = value.upper()
    frequency = parts.get("FREQ")
    if frequency in ("SECONDLY", "MINUTELY", "HOURLY"):
        _refuse(field, f"repeats more often than daily (FREQ={frequency}); the most is daily")
    if frequency not in FREQUENCIES:
        _refuse(field, f"is not valid RFC 5545: FREQ must be one of {', '.join(FREQUENCIES)}")
    if "COUNT" in parts and not parts["COUNT"].isdigit():
        _refuse(field, "is not valid RFC 5545: COUNT must be a whole number")
    return parts


def _until(value: str | None, zone: ZoneInfo, field: str) -> datetime | None:
    """UNTIL as naive wall-clock time in `zone` (given in UTC with Z, or as local time)."""
    if value is None:
        return None
    try:
        moment = isoparse(value)
    except (ValueError, OverflowError):
        _refuse(field, f"is not valid RFC 5545: UNTIL={value} is not a date or a time")
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(zone)
        except OverflowError:
            _refuse(field, f"is not valid RFC 5545: UNTIL={value} is out of range")
    return moment.replace(tzinfo=None)


def _plus(moment: datetime, span: timedelta) -> datetime:
    try:
        return moment + span
    except OverflowError:
        return datetime.max


def _moved(moment: datetime, years: int) -> datetime:
    """The same date and time `years` later: a multiple of 400, so 29 February exists too."""
    return moment.replace(year=moment.year + years)


def _refuse(field: str, reason: str) -> NoReturn:
    raise Invalid(f"The recurrence rule {reason}.", [FieldError(field, reason)])


# --- the repeat choices of a form --------------------------------------------------------------

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def rule_from_choices(
    frequency: str,
    start: datetime,
    *,
    weekdays: list[str] | None = None,
    monthday: int | None = None,
    count: int | None = None,
    until: date | None = None,
) -> str:
    """The RRULE a person means by "weekly on Tuesday and Thursday, 10 times" (the form's repeat
    choices), so nobody has to write RFC 5545. `start` is the first window's local time: a
    weekly rule without days repeats on its weekday, a monthly one on its day of the month.
    `until` is a date: its windows are included. The rule still goes through `occurrences`."""
    parts = [f"FREQ={frequency.upper()}"]
    if frequency == "weekly":
        days = sorted(set(weekdays or []) or {WEEKDAYS[start.weekday()]}, key=WEEKDAYS.index)
        parts.append(f"BYDAY={','.join(days)}")
    if frequency == "monthly":
        parts.append(f"BYMONTHDAY={monthday or start.day}")
    if count is not None:
        parts.append(f"COUNT={count}")
    if until is not None:
        parts.append(f"UNTIL={until:%Y%m%d}T235959")
    return ";".join(parts)
