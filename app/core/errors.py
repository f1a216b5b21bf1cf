"""Domain errors. Services raise them; `app.web.problems` turns them into responses."""

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class DomainError(Exception):
    detail: str
    errors: list[FieldError] = field(default_factory=list)

    status = 400
    title = "Bad request"


class NotAuthenticated(DomainError):
    status = 401
    title = "Not authenticated"


class PermissionDenied(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class PreconditionFailed(DomainError):
    status = 412
    title = "Precondition failed"


class Invalid(DomainError):
    """A request that is well-formed but breaks a rule (e.g. a lifecycle transition)."""

    status = 422
    title = "Invalid request"


@dataclass
class TooManyRequests(DomainError):
    retry_after: int = 60

    status = 429
    title = "Too many requests"
