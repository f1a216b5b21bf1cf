"""The application factory."""

from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from app.api import (
    account,
    announcements,
    api_clients,
    audit,
    auth,
    canned_replies,
    directory_changes,
    duties,
    events,
    health,
    incidents,
    institutions,
    liaisons,
    lists,
    maintenance,
    reports,
    retention,
    service_catalogue,
    status,
    tickets,
    users,
    webhooks,
)
from app.core import logging as portal_logging
from app.core.config import get_settings
from app.core.middleware import BodyLimit, DeferredCookie, RequestContext, SecurityHeaders
from app.ui.pages import admin, api_docs
from app.ui.pages import announcements as announcements_pages
from app.ui.pages import api_clients as api_clients_pages
from app.ui.pages import auth as auth_pages
from app.ui.pages import canned_replies as canned_replies_pages
from app.ui.pages import directory_changes as directory_changes_pages
from app.ui.pages import duties as duties_pages
from app.ui.pages import events as events_pages
from app.ui.pages import home as home_pages
from app.ui.pages import inbound_mail as inbound_mail_pages
from app.ui.pages import incidents as incidents_pages
from app.ui.pages import institutions as institutions_pages
from app.ui.pages import invitations as invitations_pages
from app.ui.pages import liaisons as liaisons_pages
from app.ui.pages import lists as lists_pages
from app.ui.pages import maintenance as maintenance_pages
from app.ui.pages import shell as shell_pages
from app.ui.pages import status as status_pages
from app.ui.pages import tickets as tickets_pages
from app.ui.pages import users as users_pages
from app.ui.pages import webhooks as webhooks_pages
from app.web import dispatch, problems
from app.web.deps import require_scope

STATIC_DIR = Path(__file__).parent / "ui" / "static"
# In order of precedence: UI-only pages first (`/institutions/new` is not an institution code).
ROUTERS = (
    admin.router,
    api_clients_pages.router,
    auth_pages.router,
    canned_replies_pages.router,
    home_pages.router,
    inbound_mail_pages.router,
    institutions_pages.router,
    liaisons_pages.router,
    directory_changes_pages.router,
    duties_pages.router,
    invitations_pages.router,
    incidents_pages.router,
    maintenance_pages.router,
    status_pages.router,
    shell_pages.router,
    tickets_pages.router,
    users_pages.router,
    webhooks_pages.router,
    lists_pages.router,
    announcements_pages.router,
    events_pages.router,
    account.router,
    api_clients.router,
    announcements.router,
    audit.router,
    auth.router,
    canned_replies.router,
    directory_changes.router,
    duties.router,
    events.router,
    health.router,
    incidents.router,
    institutions.router,
    liaisons.router,
    lists.router,
    maintenance.router,
    reports.router,
    retention.router,
    service_catalogue.router,
    status.router,
    tickets.router,
    users.router,
    webhooks.router,
)


def create_app() -> FastAPI:
    settings = get_settings()
    portal_logging.configure(settings.log_level)
    gated = settings.environment == "production" and not settings.public_api_docs
    app = FastAPI(
        # In production the API documents are for signed-in people (app.ui.pages.api_docs).
        docs_url=None if gated else "/docs",
        redoc_url=None if gated else "/redoc",
        openapi_url=None if gated else "/openapi.json",
        title=f"{settings.consortium_name} Liaison Portal",
        version="0.1.0",
        description=(
            "One set of endpoints for liaisons (HTML pages), consortium tools (JSON) and staff. "
            "Send `Accept: application/json` (or nothing) for JSON, `Accept: text/html` for a "
            "page; htmx requests (`HX-Request: true`) get a fragment."
        ),
    )
    app.add_middleware(DeferredCookie)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        # An attachment plus its multipart envelope; the route checks the file's own size.
        larger={
            r"/tickets/[^/]+/attachments": settings.ticket_attachment_max_bytes + 64 * 1024,
            r"/tasks/\d+/completion": settings.ticket_attachment_max_bytes + 64 * 1024,  # duties
        },
    )
    app.add_middleware(SecurityHeaders, hsts=settings.environment == "production")
    app.add_middleware(RequestContext)
    problems.install(app)
    # UI pages first: `/institutions/new` must not be read as an institution code.
    for router in ROUTERS:
        # API clients: every route needs the scope its path and method imply.
        app.include_router(router, dependencies=[Depends(require_scope)])
    if gated:
        app.include_router(api_docs.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    dispatch.narrow(app)  # routers that cannot match a path are skipped at once
    app.openapi = lambda: _openapi(app)
    return app


def _openapi(app: FastAPI) -> dict:
    """The generated document, plus the problem+json schemas that error responses refer to.

    What the app-wide handlers answer is documented here, for every route: FastAPI's own 422
    (`HTTPValidationError` JSON) becomes our problem+json 422, and a JSON body may get a 400
    (malformed JSON).
    """
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        paths = schema.get("paths", {})
        for item in paths.values():
            for operation in item.values():
                responses = operation.get("responses", {})
                if "HTTPValidationError" in str(responses.get("422", {}).get("content")):
                    responses["422"] = problems.problem_responses(422)[422]
                if "application/json" in operation.get("requestBody", {}).get("content", {}):
                    responses.setdefault("400", problems.problem_responses(400)[400])
        if "HTTPValidationError" not in str(paths):
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
        for model in (problems.Problem, problems.FieldProblem):
            definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
            definition.pop("$defs", None)
            components[model.__name__] = definition
        app.openapi_schema = api_clients.document_scopes(schema)
    return app.openapi_schema
