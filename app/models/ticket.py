"""Problem reports: tickets, their comments, events, watchers, attachments and number counter."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import pydantic
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from sqlalchemy import JSON, Index, Text
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.core.pagination import Page
from app.models.common import MAX_ID, FormInput

MAX_TEXT = 20_000  # characters: a long report with a pasted log, never a 5 MB dump
MIN_SUBJECT = 5  # "x" or "help" tells the desk nothing
UserId = Annotated[int, Field(ge=1, le=MAX_ID)]

# The questions a good report answers; the filing form starts with them in the description box.
REPORT_TEMPLATE = """What happened?

What did you expect instead?

Who is affected (one patron, one desk, the whole library)?

Steps to reproduce, and what you already tried:
"""
PROMPTS = tuple(line for line in REPORT_TEMPLATE.splitlines() if line.strip())

# What a person reads beside a field the form got wrong: one plain sentence per field, never a
# validator's wording. Errors with their own plain words (unsafe characters, the template check)
# keep them.
FIELD_MESSAGES = {
    "subject": f"Enter a subject of at least {MIN_SUBJECT} characters (at most 200)",
    "description": f"Describe the problem (at most {MAX_TEXT:,} characters; attach long logs "
    "as a file)",
    "category": "Choose a category from the list",
    "priority": "Choose a priority from the list",
    "product": "Choose a product from the list",
    "environment": "Choose production or sandbox",
    "status": "Choose a status from the list",
    "institution": "Enter the library's institution code (up to 8 letters and digits)",
    "assignee": "Choose a consortium staff member from the list",
    "vendor_case": "Enter the Ex Libris case number (at most 40 characters)",
    "watchers": "Choose watchers from the list (at most 50)",
    "contains_patron_data": "Tick the box or leave it empty",
    "incident": "Choose one of the current incidents",
    "reason": "Say in a sentence why (at most 2,000 characters)",
    "body": f"Write your reply first (at most {MAX_TEXT:,} characters)",
    "internal": "Tick the box or leave it empty",
    "legal_hold": "Tick the box or leave it empty",  # retention (helper g)
}
KEEP_OWN_WORDS = {"unsafe_character", "plain"}


def unanswered(description: str | None) -> list[str]:
    """The template's questions the description still holds with nothing written under them."""
    if not description:
        return []
    lines = [line.strip() for line in description.splitlines() if line.strip()]
    missing = []
    for i, line in enumerate(lines):
        if line in PROMPTS and (i + 1 == len(lines) or lines[i + 1] in PROMPTS):
            missing.append(line)
    return missing


def plain_errors(model: str, errors: list, data: object) -> ValidationError:
    """The errors again, each in the plain words of `FIELD_MESSAGES`, one per field."""
    seen: set[tuple] = set()
    details: list[InitErrorDetails] = []
    for e in errors:
        loc = tuple(e["loc"][:1]) or ("body",)
        if loc in seen:
            continue
        seen.add(loc)
        field = str(loc[0])
        if e["type"] in KEEP_OWN_WORDS:
            message = e["msg"]
        elif e["type"] == "extra_forbidden":
            message = "This form has no such field; leave it out"
        else:
            message = FIELD_MESSAGES.get(field, "Check this value")
        details.append(
            InitErrorDetails(
                type=PydanticCustomError("plain", message), loc=loc, input=e.get("input")
            )
        )
    return ValidationError.from_exception_data(model, details)


def _answered_template(data: object) -> list[dict]:
    """An error when the description still holds the template's questions unanswered."""
    if not isinstance(data, dict) or not isinstance(data.get("description"), str):
        return []
    missing = unanswered(data["description"])
    if not missing:
        return []
    if len(missing) == len(PROMPTS):
        message = (
            "Answer the questions in the description (what happened, what you expected, who is "
            "affected, what you tried) before filing"
        )
    else:
        quoted = ", ".join(f"“{q}”" for q in missing)
        message = f"Answer {quoted} in the description, or delete the question"
    return [{"type": "plain", "loc": ("description",), "msg": message, "input": None}]


class PlainErrors:
    """Every error of a request body at once, in plain words beside its field."""

    @model_validator(mode="wrap")
    @classmethod
    def _plain(cls, data: Any, handler: Any) -> Any:
        extra = _answered_template(data) if getattr(cls, "check_template", False) else []
        try:
            value = handler(data)
        except ValidationError as exc:
            raise plain_errors(cls.__name__, [*extra, *exc.errors()], data) from None
        if extra:
            raise plain_errors(cls.__name__, extra, data)
        return value


class TicketPriority(StrEnum):
    """Ex Libris' scale; `system_down` is counted around the clock."""

    low = "low"
    normal = "normal"
    high = "high"
    system_down = "system_down"


class TicketStatus(StrEnum):
    new = "new"
    open = "open"
    pending_library = "pending_library"
    pending_vendor = "pending_vendor"
    resolved = "resolved"
    closed = "closed"

    @property
    def paused(self) -> bool:
        return self in (TicketStatus.pending_library, TicketStatus.pending_vendor)

    @property
    def done(self) -> bool:
        return self in (TicketStatus.resolved, TicketStatus.closed)


class TicketCategory(StrEnum):
    access_login = "access_login"
    discovery_primo = "discovery_primo"
    fulfillment = "fulfillment"
    resource_sharing = "resource_sharing"
    acquisitions = "acquisitions"
    cataloging = "cataloging"
    analytics_reports = "analytics_reports"
    delivery = "delivery"
    configuration = "configuration"
    directory = "directory"
    project = "project"
    other = "other"


class TicketProduct(StrEnum):
    """What the problem is in; the slugs match the status page's services."""

    alma = "alma"
    primo_ve = "primo_ve"
    ishare_catalog = "ishare_catalog"
    analytics = "analytics"
    carli_files = "carli_files"
    network = "network"
    other = "other"


class TicketEnvironment(StrEnum):
    production = "production"
    sandbox = "sandbox"


class TicketEventKind(StrEnum):
    created = "created"
    status = "status"
    assignment = "assignment"
    priority = "priority"
    comment = "comment"
    merge = "merge"
    change = "change"
    attachment = "attachment"
    redaction = "redaction"


# --- tables -----------------------------------------------------------------------------------


class TicketCounter(SQLModel, table=True):
    """The last number given out per year; bumped inside the creating transaction."""

    __tablename__ = "ticket_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class TicketBase(SQLModel):
    """What a library reports; the table and `TicketCreate` share it. `TicketPublic` lists its
    fields itself, in the published order of the contract."""

    subject: str = Field(min_length=MIN_SUBJECT, max_length=200)
    description: str = Field(min_length=1, max_length=MAX_TEXT, sa_type=Text)
    category: TicketCategory = Field(sa_type=EnumString(TicketCategory, 32))
    priority: TicketPriority = Field(
        default=TicketPriority.normal, sa_type=EnumString(TicketPriority, 16)
    )
    product: TicketProduct = Field(
        default=TicketProduct.alma, sa_type=EnumString(TicketProduct, 32)
    )
    environment: TicketEnvironment = Field(
        default=TicketEnvironment.production, sa_type=EnumString(TicketEnvironment, 16)
    )
    contains_patron_data: bool = False


class Ticket(TicketBase, table=True):
    __audit_key__ = "number"  # its audit entries are filed under the number, not the id
    # Each index serves a list query: its filter columns first, then the sort order.
    __table_args__ = (
        Index("ix_ticket_created", "created_at", "id"),
        Index("ix_ticket_updated", "updated_at", "id"),
        Index("ix_ticket_status_created", "status", "created_at", "id"),
        Index("ix_ticket_institution_created", "institution", "created_at", "id"),
        Index("ix_ticket_institution_status_created", "institution", "status", "created_at", "id"),
        Index("ix_ticket_requester_created", "requester", "created_at", "id"),
        Index("ix_ticket_assignee_status_created", "assignee", "status", "created_at", "id"),
        Index("ix_ticket_priority_created", "priority", "created_at", "id"),
        # The priority queue of open tickets: one range per status and priority (migration 0019).
        Index("ix_ticket_status_priority_created", "status", "priority", "created_at", "id"),
        Index("ix_ticket_category_created", "category", "created_at", "id"),
        Index("ix_ticket_category_priority_created", "category", "priority", "created_at", "id"),
        Index("ix_ticket_status_resolution_due", "status", "resolution_due_at"),
        Index("ix_ticket_status_response_due", "status", "response_due_at"),
        Index("ix_ticket_status_resolved", "status", "resolved_at"),  # the auto-close job
        # What library users sort by (their updated_at), always within their institution.
        Index("ix_ticket_institution_public_updated", "institution", "public_updated_at", "id"),
        # The staff queue in SLA order: only tickets whose clock runs have a due time.
        Index("ix_ticket_sla_due", "sla_due_at", "id"),
        Index("ix_ticket_status_sla_due", "status", "sla_due_at", "id"),  # the open queue (0019)
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=12, unique=True)
    institution: str = Field(max_length=8, foreign_key="institution.code")
    requester: int = Field(foreign_key="user_account.id")
    assignee: int | None = Field(default=None, foreign_key="user_account.id")
    status: TicketStatus = Field(default=TicketStatus.new, sa_type=EnumString(TicketStatus, 16))
    vendor_case: str | None = Field(default=None, max_length=40)
    merged_into: int | None = Field(default=None, foreign_key="ticket.id")
    # Two clocks: `version`/`updated_at` move with every change (what staff see);
    # `public_version`/`public_updated_at` only with what library users may see, so an internal
    # note changes neither their ETag nor their `updated_at` nor their sort order.
    version: int = 1
    public_version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    public_updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    first_response_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The SLA clock: due times while it runs; while paused, the counted minutes still left.
    response_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    response_left: int | None = None
    resolution_left: int | None = None
    # The next deadline while the clock runs (the queue's SLA order); None when paused or done.
    sla_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Retention (issue 15, helper g): a legal hold keeps the ticket from the purge; `purged_at`
    # is when its text, replies and files were purged (number, dates and category stay).
    legal_hold: bool = False
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TicketComment(SQLModel, table=True):
    __tablename__ = "ticket_comment"
    __table_args__ = (Index("ix_ticket_comment_ticket_created", "ticket_id", "created_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id")
    author: int = Field(foreign_key="user_account.id")
    body: str = Field(sa_type=Text)
    internal: bool = False
    # A reply sent to a ticket that had been merged into this one: that ticket's number.
    via: str | None = Field(default=None, max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TicketEvent(SQLModel, table=True):
    """What happened to a ticket; `data` holds ids and enum values, never free text."""

    __tablename__ = "ticket_event"
    __table_args__ = (Index("ix_ticket_event_ticket_at", "ticket_id", "at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id")
    actor: int | None = Field(default=None, foreign_key="user_account.id")
    kind: TicketEventKind = Field(sa_type=EnumString(TicketEventKind, 16))
    internal: bool = False
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TicketWatcher(SQLModel, table=True):
    __tablename__ = "ticket_watcher"
    __table_args__ = (Index("ix_ticket_watcher_user", "user_id", "ticket_id"),)

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True)
    user_id: int = Field(
        foreign_key="user_account.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )


class TicketAttachment(SQLModel, table=True):
    """The file lives on disk under the attachment directory, named by `storage_key`."""

    __tablename__ = "ticket_attachment"
    __table_args__ = (Index("ix_ticket_attachment_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id")
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=64, unique=True)
    uploaded_by: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- request bodies ---------------------------------------------------------------------------


class TicketCreate(PlainErrors, FormInput, TicketBase):
    check_template: ClassVar[bool] = True

    institution: str | None = Field(
        default=None, max_length=8, description="Consortium staff filing for a library."
    )
    watchers: list[UserId] = Field(default_factory=list, max_length=50)
    incident: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description='"We are affected too": links the new ticket to this open incident.',
    )


def _id_list(value: object) -> object:
    """A plain form sends one checked box as a single value, and its always-present hidden
    `none` marker (so that unticking every box still says "nobody") beside the ids."""
    if isinstance(value, str | int):
        value = [value]
    if isinstance(value, list):
        value = [v for v in value if v not in ("none", "")]
    return value


class TicketUpdate(PlainErrors, FormInput):
    check_template: ClassVar[bool] = True

    subject: str | None = Field(default=None, min_length=MIN_SUBJECT, max_length=200)
    description: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    category: TicketCategory | None = None
    priority: TicketPriority | None = None
    status: TicketStatus | None = None
    product: TicketProduct | None = None
    environment: TicketEnvironment | None = None
    assignee: UserId | None = None
    vendor_case: str | None = Field(default=None, max_length=40)
    contains_patron_data: bool | None = None
    watchers: list[UserId] | None = Field(default=None, max_length=50)
    reason: str | None = Field(
        default=None,
        max_length=2000,
        description="Why a ticket is closed before anyone worked on it (required then); kept "
        "as a reply.",
    )
    legal_hold: bool | None = Field(  # retention (issue 15, helper g)
        default=None,
        description="Consortium staff: a legal hold keeps the ticket from the retention purge.",
    )

    @field_validator("subject", "description", "category", "priority", "status", "product")
    @classmethod
    def _required(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be empty")
        return value

    @field_validator("watchers", mode="before")
    @classmethod
    def _form_list(cls, value: object) -> object:
        return _id_list(value)


class CommentCreate(PlainErrors, FormInput):
    body: str = Field(min_length=1, max_length=MAX_TEXT)
    internal: bool = Field(default=False, description="An internal note: consortium staff only.")


class MergeRequest(FormInput):
    into: str = Field(min_length=1, max_length=12, description="The surviving ticket's number.")


class RedactRequest(FormInput):
    text: str = Field(min_length=3, max_length=2000, description="The passage to remove.")


class PatronCheck(BaseModel):
    """Text from the filing form or the reply box, checked before it is sent. htmx sends the
    whole form with it, so other fields are ignored rather than refused."""

    model_config = ConfigDict(extra="ignore")

    subject: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    body: str | None = Field(default=None, max_length=MAX_TEXT)


# --- responses --------------------------------------------------------------------------------


class Sla(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    response_due_at: datetime | None
    resolution_due_at: datetime | None
    response_breached: bool
    resolution_breached: bool
    paused: bool
    around_the_clock: bool


class TicketPublic(SQLModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    number: str
    subject: str
    description: str
    institution: str
    requester: int
    assignee: int | None
    category: TicketCategory
    priority: TicketPriority
    status: TicketStatus
    product: TicketProduct
    environment: TicketEnvironment
    vendor_case: str | None
    watchers: list[int]
    contains_patron_data: bool
    merged_into: str | None = None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    sla: Sla
    # Retention (issue 15, helper g).
    legal_hold: bool = pydantic.Field(
        default=False, description="Staff only (false for others): kept from the retention purge."
    )
    purged_at: datetime | None = pydantic.Field(
        default=None, description="When the retention policy purged its text, replies and files."
    )


COUNT_CAP = 10_000  # a list counts its matches exactly up to here, never an unbounded set


class TicketPage(Page[TicketPublic]):
    count_capped: bool = pydantic.Field(
        default=False,
        description=f"True when more than {COUNT_CAP:,} tickets match: `count` then says "
        f"{COUNT_CAP:,} and the list goes on (follow `next`).",
    )


class CommentPublic(SQLModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    id: int
    ticket: str
    author: int
    body: str
    internal: bool
    created_at: datetime
    via: str | None = pydantic.Field(
        default=None, description="Sent to this (merged) ticket and added here."
    )


class PatronMatch(BaseModel):
    """What in a write looked like patron data, in plain words."""

    kind: str = pydantic.Field(description="`email` or `barcode`.")
    description: str = pydantic.Field(examples=["looks like a library barcode or patron ID"])
    text: str = pydantic.Field(description="The matching text, as written.")


class TicketWritten(TicketPublic):
    """The ticket after a write, with what in the written text looked like patron data."""

    patron_data_matches: list[PatronMatch] = []


class CommentWritten(CommentPublic):
    """A reply or note after it was written, with what in it looked like patron data."""

    patron_data_matches: list[PatronMatch] = []


class EventPublic(SQLModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    id: int
    ticket: str
    actor: int | None
    kind: TicketEventKind
    data: dict[str, Any]
    at: datetime


class AttachmentPublic(SQLModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    id: int
    ticket: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: int
    created_at: datetime
    url: str
