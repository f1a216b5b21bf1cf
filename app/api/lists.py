"""Mailing lists: `/lists`, `/lists/{slug}`, its members (staff, CSV) and each member's own
delivery choice. Membership follows the directory (see `app.services.lists`)."""

from fastapi import APIRouter, Request, Response, status

from app.core.pagination import Page, page_of_list
from app.models.list import (
    MailingListCreate,
    MailingListPublic,
    MailingListUpdate,
    MemberAdd,
    MemberPublic,
    PreferencePublic,
    PreferenceUpdate,
)
from app.services import announcements, lists
from app.web.deps import (
    CurrentUser,
    FeedReader,
    IdPath,
    MailingListDep,
    Paging,
    SessionDep,
    StaffUser,
)
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import lists as views

router = APIRouter(route_class=SharedRoute, tags=["lists"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 422)
ATOM = "application/atom+xml"
saved = shared("lists/detail.html", block="detail", event="list-saved", context=views.detail)


@router.get("/lists", response_model=Page[MailingListPublic], responses=READ)
@shared("lists/list.html", block="results", context=views.listing)
def list_lists(
    session: SessionDep, user: CurrentUser, request: Request, response: Response, paging: Paging
):
    """Every list with today's member count. Members."""
    return page_of_list(lists.list_lists(session=session), paging, request, response)


@router.post(
    "/lists",
    status_code=status.HTTP_201_CREATED,
    response_model=MailingListPublic,
    responses=WRITE,
)
@saved
def create_list(
    data: MailingListCreate, session: SessionDep, user: CurrentUser, response: Response
):
    """A new list; its audience rule (`roles`, `institution_kinds`) makes its members. Staff."""
    created = lists.create_list(session=session, actor=user, data=data)
    response.headers["Location"] = f"/lists/{created.slug}"
    return lists.public(session, created)


@router.get("/lists/{slug}", response_model=MailingListPublic, responses=READ)
@shared("lists/detail.html", block="detail", context=views.detail)
def get_list(mailing_list: MailingListDep, session: SessionDep, user: CurrentUser):
    return lists.public(session, mailing_list)


@router.patch("/lists/{slug}", response_model=MailingListPublic, responses=WRITE)
@saved
def update_list(
    data: MailingListUpdate, mailing_list: MailingListDep, session: SessionDep, user: CurrentUser
):
    """Edits the list or its audience rule (membership follows at once). Staff."""
    lists.update_list(session=session, actor=user, mailing_list=mailing_list, data=data)
    return lists.public(session, mailing_list)


@router.get("/lists/{slug}/members", response_model=Page[MemberPublic], responses=READ)
@shared(
    "lists/members.html",
    block="results",
    context=views.members,
    exports={"csv": views.members_csv},
)
def list_members(
    mailing_list: MailingListDep,
    session: SessionDep,
    user: StaffUser,
    request: Request,
    response: Response,
    paging: Paging,
):
    """Everyone on the list today (from the directory or added by hand), with their delivery
    choice. Staff; `?format=csv` for a spreadsheet."""
    people = [m.public() for m in lists.members(session, [mailing_list])]
    return page_of_list(people, paging, request, response)


@router.post(
    "/lists/{slug}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberPublic,
    responses=WRITE,
)
@shared("lists/member.html", block="member", event="list-members-changed")
def add_member(
    data: MemberAdd, mailing_list: MailingListDep, session: SessionDep, user: CurrentUser
):
    """Adds a person by hand, whatever the rule says (audited). Staff."""
    member = lists.subscribe(
        session=session, actor=user, mailing_list=mailing_list, liaison_id=data.liaison
    )
    return member.public()


@router.delete("/lists/{slug}/members/{liaison_id}", response_model=MemberPublic, responses=WRITE)
@shared("lists/member.html", block="member", event="list-members-changed")
def remove_member(
    liaison_id: IdPath, mailing_list: MailingListDep, session: SessionDep, user: CurrentUser
):
    """Takes a person off the list (audited); a required list refuses (409). Staff."""
    member = lists.unsubscribe(
        session=session, actor=user, mailing_list=mailing_list, liaison_id=liaison_id
    )
    return member.public()


@router.put("/lists/{slug}/preference", response_model=PreferencePublic, responses=WRITE)
@shared("lists/preference.html", block="preference", event="preference-saved")
def set_preference(
    data: PreferenceUpdate, mailing_list: MailingListDep, session: SessionDep, user: CurrentUser
):
    """How the signed-in person gets this list: each message, a daily digest, or nothing
    (a required list cannot be turned off: 422)."""
    return lists.set_preference(
        session=session, actor=user, mailing_list=mailing_list, delivery=data.delivery
    )


@router.get(
    "/lists/{slug}/feed.atom",
    response_class=Response,
    responses={200: {"content": {ATOM: {"schema": {"type": "string"}}}}, **READ},
)
def list_feed(slug: str, session: SessionDep, user: FeedReader):
    """The list's announcements as an Atom feed (RFC 4287). Members: signed in, or with their
    personal `key`."""
    mailing_list = lists.get_list(session=session, slug=slug)
    body = announcements.atom(session=session, mailing_list=mailing_list, base_url=views.base_url())
    return Response(body, media_type=ATOM)
