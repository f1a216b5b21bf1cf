"""Account administration: `/users` (consortium admins only), audited.

Nobody changes their own role or deactivates themselves, and the last active consortium admin
stays one (409). Deactivating ends the account's every sign-in.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.core.pagination import Page, page
from app.models.common import OptionalFilter
from app.models.user import Role, User, UserAdminPublic, UserAdminUpdate, UserCreate
from app.services import users as service
from app.web.deps import CurrentUser, IdPath, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import users as views

router = APIRouter(route_class=SharedRoute, prefix="/users", tags=["users"])
READ = problem_responses(401, 403, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 413, 422)
saved = shared("users/detail.html", block="detail", event="user-saved", context=views.detail)


def load_user(user_id: IdPath, session: SessionDep, user: CurrentUser) -> User:
    return service.get_user(session=session, actor=user, user_id=user_id)


UserDep = Annotated[User, Depends(load_user)]


@router.get("", response_model=Page[UserAdminPublic], responses=READ)
@shared("users/list.html", block="results", context=views.listing)
def list_users(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=100, description="Name or e-mail.")] = None,
    role: Annotated[Role | None, OptionalFilter] = None,
    institution: Annotated[str | None, Query(max_length=8)] = None,
    active: Annotated[bool | None, OptionalFilter] = None,
):
    window = service.list_users(
        session=session, actor=user, page=paging, q=q, role=role,
        institution=institution, active=active,
    )  # fmt: skip
    return page(window, paging, request, response)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=UserAdminPublic, responses=WRITE
)
@saved
def create_user(data: UserCreate, session: SessionDep, user: CurrentUser, response: Response):
    """Without `password` the person is e-mailed a link to choose one."""
    created = service.create_user(
        session=session, actor=user, data=data, password=data.password, phone=data.phone
    )
    response.headers["Location"] = f"/users/{created.id}"
    return service.public(created)


@router.get("/{user_id}", response_model=UserAdminPublic, responses=READ)
@shared("users/detail.html", block="detail", context=views.detail)
def get_user(account: UserDep):
    return service.public(account)


@router.patch("/{user_id}", response_model=UserAdminPublic, responses=WRITE)
@saved
def update_user(
    data: UserAdminUpdate, account: UserDep, session: SessionDep, user: CurrentUser,
    response: Response,
):  # fmt: skip
    """Name, phone, role and institution; `active: false` deactivates, `true` reactivates."""
    account = service.update_user(session=session, actor=user, user=account, data=data)
    response.headers["Location"] = f"/users/{account.id}"
    return service.public(account)
