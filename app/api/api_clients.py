"""API clients: `/api-clients` (consortium admins only), audited.

A client's secret is answered once, by the create and rotate routes, and never again.
`DELETE` revokes the client at once (it and its history stay). `document_scopes` adds the
client-credentials scheme and each operation's scope to the OpenAPI document.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from app.core.pagination import Page, page
from app.models.api_client import (
    ApiClient,
    ApiClientCreate,
    ApiClientPublic,
    ApiClientUpdate,
    ApiClientWithSecret,
)
from app.services import api_clients as service
from app.web.deps import CurrentUser, IdPath, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import api_clients as views

router = APIRouter(route_class=SharedRoute, prefix="/api-clients", tags=["api-clients"])
READ = problem_responses(401, 403, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 413, 422)
saved = shared(
    "api_clients/detail.html", block="detail", event="api-client-saved", context=views.detail
)


def load_client(client_id: IdPath, session: SessionDep, user: CurrentUser) -> ApiClient:
    return service.get_client(session=session, actor=user, client_id=client_id)


ApiClientDep = Annotated[ApiClient, Depends(load_client)]


@router.get("", response_model=Page[ApiClientPublic], responses=READ)
@shared("api_clients/list.html", block="results", context=views.listing)
def list_api_clients(
    session: SessionDep, user: CurrentUser, request: Request, response: Response, paging: Paging
):
    window = service.list_clients(session=session, actor=user, page=paging)
    return page(window, paging, request, response)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ApiClientWithSecret, responses=WRITE
)
@saved
def create_api_client(
    data: ApiClientCreate, session: SessionDep, user: CurrentUser, response: Response
):
    """The answer holds `client_secret`: store it now, it is never shown again."""
    client, secret = service.create_client(session=session, actor=user, data=data)
    response.headers["Location"] = f"/api-clients/{client.id}"
    response.headers["Cache-Control"] = "no-store"
    return ApiClientWithSecret(**service.public(client).model_dump(), client_secret=secret)


@router.get("/{client_id}", response_model=ApiClientPublic, responses=READ)
@shared("api_clients/detail.html", block="detail", context=views.detail)
def get_api_client(client: ApiClientDep):
    return service.public(client)


@router.patch("/{client_id}", response_model=ApiClientPublic, responses=WRITE)
@saved
def update_api_client(
    data: ApiClientUpdate, client: ApiClientDep, session: SessionDep, user: CurrentUser
):
    """Name and scopes; scopes taken away stop working at once."""
    client = service.update_client(session=session, actor=user, client=client, data=data)
    return service.public(client)


@router.post("/{client_id}/rotation", response_model=ApiClientWithSecret, responses=WRITE)
@saved
def rotate_api_client_secret(
    client: ApiClientDep, session: SessionDep, user: CurrentUser, response: Response
):
    """A new `client_secret`, shown once; the previous one works until
    `previous_secret_expires_at` (the overlap period)."""
    secret = service.rotate_secret(session=session, actor=user, client=client)
    response.headers["Cache-Control"] = "no-store"
    return ApiClientWithSecret(**service.public(client).model_dump(), client_secret=secret)


@router.delete("/{client_id}", response_model=ApiClientPublic, responses=WRITE)
@saved
def revoke_api_client(client: ApiClientDep, session: SessionDep, user: CurrentUser):
    """Revokes at once: its secrets and every token it holds stop working."""
    return service.public(service.revoke(session=session, actor=user, client=client))


# --- the OpenAPI document -------------------------------------------------------------------

CLIENT_SCHEME = "ClientCredentials"
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


def document_scopes(schema: dict[str, Any]) -> dict[str, Any]:
    """Declares the client-credentials scheme with every grantable scope, and adds to each
    operation the scope a client needs (beside the bearer scheme people use). An operation
    open to anyone keeps an empty requirement, so it still reads as public."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[CLIENT_SCHEME] = {
        "type": "oauth2",
        "description": (
            "API clients: `grant_type=client_credentials` at `/auth/token`. Bound to an "
            "institution, a client sees what that library sees; each operation needs the "
            "scope listed for it."
        ),
        "flows": {"clientCredentials": {"tokenUrl": "/auth/token", "scopes": service.SCOPES}},
    }
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            scope = service.scope_for(path, method) if method in METHODS else None
            if scope is None:
                continue
            security = operation.get("security") or [{}]
            operation["security"] = [*security, {CLIENT_SCHEME: [scope]}]
    return schema
