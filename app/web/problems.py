"""Errors: RFC 9457 problem+json for JSON clients, fragments for htmx, pages for browsers."""

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from app.core.context import request_id_var
from app.core.errors import DomainError, NotAuthenticated, TooManyRequests
from app.web.render import Representation, add_vary, html, representation

log = logging.getLogger("app.errors")
PROBLEM_JSON = "application/problem+json"


class FieldProblem(BaseModel):
    field: str
    message: str
    location: str | None = None


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] = []


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        s: {"description": HTTPStatus(s).phrase, "content": {PROBLEM_JSON: schema}}
        for s in statuses
    }


def respond(
    request: Request,
    problem: Problem,
    headers: dict[str, str] | None = None,
) -> Response:
    headers = dict(headers or {})
    kind = representation(request)
    if kind is Representation.json:
        response: Response = JSONResponse(
            problem.model_dump(exclude_none=True), problem.status, headers, media_type=PROBLEM_JSON
        )
    elif problem.status == 401:
        target = "/login?next=" + quote(_return_path(request), safe="/")
        if kind is Representation.fragment:
            response = Response(status_code=401, headers={**headers, "HX-Redirect": target})
        else:
            response = RedirectResponse(target, status_code=303)
    elif kind is Representation.fragment:
        headers["HX-Reswap"] = "none"
        response = html(
            request,
            "errors/fragment.html",
            status_code=problem.status,
            headers=headers,
            problem=problem,
        )
    else:
        response = html(
            request,
            "errors/page.html",
            status_code=problem.status,
            headers=headers,
            problem=problem,
        )
    add_vary(response)
    return response


def _return_path(request: Request) -> str:
    current = request.headers.get("hx-current-url")
    if current:
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def make_problem(
    request: Request, status: int, detail: str, title: str | None = None, **kw
) -> Problem:
    return Problem(
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=request_id_var.get(),
        **kw,
    )


async def domain_error(request: Request, exc: DomainError) -> Response:
    headers = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = (
            'Bearer error="invalid_token"' if _has_credentials(request) else "Bearer"
        )
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    errors = [FieldProblem(field=e.field, message=e.message) for e in exc.errors]
    problem = make_problem(request, exc.status, exc.detail, exc.title, errors=errors)
    return respond(request, problem, headers)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    raw = exc.errors()
    malformed = [e for e in raw if e.get("type") == "json_invalid"]
    if malformed:
        reason = (malformed[0].get("ctx") or {}).get("error", "")
        detail = f"The request body is not valid JSON{': ' + reason if reason else ''}."
        return respond(request, make_problem(request, 400, detail, "Malformed JSON"))
    errors = []
    for e in raw:
        loc = [str(p) for p in e.get("loc", ())]
        location = (
            loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else None
        )
        field = ".".join(loc[1:] if location else loc) or (location or "body")
        errors.append(FieldProblem(field=field, message=_plain(e), location=location))
    count = len({e.field for e in errors})
    detail = (
        "One answer needs correcting; its message says how."
        if count == 1
        else f"{count} answers need correcting; each message says how."
    )
    problem = make_problem(request, 422, detail, "Invalid request", errors=errors)
    return respond(request, problem)


# Pydantic's own messages ("Field required", "String should match pattern '^[a-z…'") in words a
# librarian reads; a model's own validators already speak plainly and keep their words.
PLAIN = {
    "missing": "Fill this in.",
    "string_type": "Enter text here.",
    "string_too_short": "Enter at least {min_length} characters.",
    "string_too_long": "Use at most {max_length} characters.",
    "string_pattern_mismatch": "This is not in the expected form.",
    "int_parsing": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "float_parsing": "Enter a number.",
    "bool_parsing": "Choose yes or no.",
    "greater_than_equal": "Enter {ge} or more.",
    "less_than_equal": "Enter {le} or less.",
    "greater_than": "Enter more than {gt}.",
    "less_than": "Enter less than {lt}.",
    "date_parsing": "Enter a date, like 2026-12-31.",
    "date_from_datetime_parsing": "Enter a date, like 2026-12-31.",
    "datetime_parsing": "Enter a date and time, like 2026-12-31 09:00.",
    "datetime_from_date_parsing": "Enter a date and time, like 2026-12-31 09:00.",
    "timezone_aware": "Give the time with its time zone.",
    "enum": "Choose one of the offered options.",
    "literal_error": "Choose one of the offered options.",
    "list_type": "Choose from the list.",
    "too_long": "Choose at most {max_length}.",
    "too_short": "Choose at least {min_length}.",
    "url_parsing": "Enter a web address, like https://library.example.edu.",
    "url_scheme": "Enter a web address starting with https://.",
    "extra_forbidden": "This is not something this form takes.",
    "value_error": "{error}",
    "assertion_error": "{error}",
}


def _plain(error: dict) -> str:
    """One validation error in plain words (see `PLAIN`)."""
    template = PLAIN.get(error.get("type", ""))
    if template is None:
        return error.get("msg", "This is not valid.")
    context = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    try:
        return template.format(**context)
    except KeyError:
        return error.get("msg", "This is not valid.").removeprefix("Value error, ")


async def http_error(request: Request, exc: HTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"Nothing is at {request.url.path}."
    return respond(request, make_problem(request, exc.status_code, detail), exc.headers)


async def data_error(request: Request, exc: DataError) -> Response:
    """PostgreSQL refuses NUL characters in text, wherever they came from (query, path, body):
    that is the client's input, not our failure. Any other data error is a bug: 500, logged."""
    if "NUL (0x00)" not in str(exc.orig):
        raise exc
    detail = "Text may not contain NUL (0x00) characters."
    return respond(request, make_problem(request, 422, detail, "Invalid request"))


async def server_error(request: Request, exc: Exception) -> Response:
    request_id = getattr(request.state, "request_id", None)
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    problem = make_problem(request, 500, "Something went wrong on our side; it has been logged.")
    problem.request_id = request_id
    return respond(request, problem)


def _has_credentials(request: Request) -> bool:
    return bool(request.headers.get("authorization") or request.cookies)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(DataError, data_error)
    app.add_exception_handler(Exception, server_error)
