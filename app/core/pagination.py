"""Limit/offset pagination: `{data, count, next}` plus a `Link: rel="next"` header.

Lists read their rows as plain mappings with the total in the same statement (`fetch_rows`)
and turn them into their public models with `construct` (no validation: the database already
checked every value), so a page costs one statement and no ORM objects, whatever its size.
"""

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Integer, Select, bindparam, func, select
from sqlmodel import Session

from app.core.config import get_settings

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    data: list[T]
    count: int
    next: str | None = None


@dataclass
class PageParams:
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0


async def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0,
) -> PageParams:
    """`PageParams` as a dependency that needs no thread (a class dependency takes one)."""
    return PageParams(limit=limit, offset=offset)


@dataclass
class Window:
    """One page of rows and the total they were taken from."""

    items: list
    total: int


def fetch(session: Session, stmt: Select, params: PageParams) -> Window:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(session.scalars(stmt.limit(params.limit).offset(params.offset)))
    return Window(items=items, total=total or 0)


def fetch_rows(
    session: Session,
    stmt: Select,
    params: PageParams,
    build: Callable[[Mapping[str, Any]], Any] = dict,
    values: Mapping[str, Any] | None = None,
) -> Window:
    """One page of `stmt`'s rows as mappings (each passed through `build`), and the total, in
    one statement: the count is an uncorrelated scalar subquery the database runs once (an
    index-only count, unlike `count(*) OVER ()`, which reads every matching row). Only a page
    past the end, which has no row to carry the total, costs a second statement.

    With `values`, `stmt` is a statement built once per filter shape (`shaped`) whose
    `bindparam`s `values` fills: its paged and counted forms are built once too, so the
    request pays for neither building them nor their cache keys."""
    if values is None:
        paged, counted = _paged(stmt)
        bound: dict[str, Any] = {}
    else:
        paged, counted = _PAGED.get(stmt) or _PAGED.setdefault(stmt, _paged(stmt))
        bound = dict(values)
    rows = (
        session.execute(paged, {**bound, "_limit": params.limit, "_offset": params.offset})
        .mappings()
        .all()
    )
    total = rows[0]["_total"] if rows else (session.scalar(counted, bound) if params.offset else 0)
    return Window(items=[build(row) for row in rows], total=total or 0)


def _paged(stmt: Select) -> tuple[Select, Select]:
    """`stmt` with the total as a column and the page's bounds as parameters; and the count."""
    counted = select(func.count()).select_from(stmt.order_by(None).subquery())
    paged = (
        stmt.add_columns(counted.scalar_subquery().label("_total"))
        .limit(bindparam("_limit", type_=Integer))
        .offset(bindparam("_offset", type_=Integer))
    )
    return paged, counted


LIKE_ESCAPE = "/"


def like_escaped(text: str) -> str:
    """`text` for `contains(bindparam(...), escape=LIKE_ESCAPE)`, matched literally: what
    `autoescape=True` does, which only works on a value known when the statement is built."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


# Statements built once per filter shape, and their paged forms: a few dozen at most (each
# key is a fixed combination of filters and sort order, never a filter's value).
_SHAPES: dict[Hashable, Select] = {}
_PAGED: dict[Select, tuple[Select, Select]] = {}


def shaped(key: Hashable, build: Callable[[], Select]) -> Select:
    """The statement `build()` makes for `key`, built on first use. `key` must name every
    choice that changes the SQL (which filters apply, the sort); the values go in as
    `bindparam`s, given to `fetch_rows(..., values=...)`."""
    found = _SHAPES.get(key)
    if found is None:
        found = _SHAPES.setdefault(key, build())
    return found


def construct(model: type[M]) -> Callable[[Mapping[str, Any]], M]:
    """Builds `model` instances from mappings holding (at least) every field, without
    validation, the way `model_construct` does but at a fraction of its cost: the values come
    from the database, typed by the columns. Fields are stored in declaration order (the JSON
    key order); a missing field is a KeyError, not a silently shorter object."""
    names = tuple(model.model_fields)
    every = set(names)
    new = model.__new__
    set_attribute = object.__setattr__

    def build(row: Mapping[str, Any]) -> M:
        obj = new(model)
        set_attribute(obj, "__dict__", {name: row[name] for name in names})
        set_attribute(obj, "__pydantic_fields_set__", every)
        set_attribute(obj, "__pydantic_extra__", None)
        set_attribute(obj, "__pydantic_private__", None)
        return obj

    return build


def columns(table: type, model: type, **others: Any) -> list:
    """The columns of `table` that `model` shows, labelled by field name, plus `others`
    (expressions for the fields that are not plain columns)."""
    return list(_labelled(table, model, others) if others else _plain_columns(table, model))


@cache
def _plain_columns(table: type, model: type) -> tuple:
    """Labelled once: an expression is immutable, so every statement can share it."""
    return tuple(_labelled(table, model, {}))


def _labelled(table: type, model: type, others: Mapping[str, Any]) -> list:
    found = []
    for name in model.model_fields:
        if name in others:
            found.append(others[name].label(name))
        elif name in table.model_fields and hasattr(table, name):
            found.append(getattr(table, name).label(name))
    return found


def page_of_list(items: list, params: PageParams, request: Request, response: Response) -> Page:
    """A page of a list already in memory (e.g. one ticket's comments)."""
    shown = items[params.offset : params.offset + params.limit]
    return page(Window(items=shown, total=len(items)), params, request, response)


def page(window: Window, params: PageParams, request: Request, response: Response) -> Page:
    following = params.offset + params.limit
    next_url = None
    if following < window.total:
        next_url = next_link(request, response, offset=following, limit=params.limit)
    return Page.model_construct(data=window.items, count=window.total, next=next_url)


def next_link(
    request: Request, response: Response, without: tuple[str, ...] = (), **params: object
) -> str:
    """The absolute URL of the next page, also sent as `Link: rel="next"`: this request's path
    and query, less `without`, with `params` set, under the configured public address
    (`PORTAL_BASE_URL`), never the Host header a client chose."""
    url = request.url.remove_query_params(without).include_query_params(**params)
    following = get_settings().base_url + url.path + (f"?{url.query}" if url.query else "")
    response.headers["Link"] = f'<{following}>; rel="next"'
    return following
