"""Limit/offset pagination: `{data, count, next}` plus a `Link: rel="next"` header."""

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, select
from sqlmodel import Session

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    data: list[T]
    count: int
    next: str | None = None


@dataclass
class PageParams:
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0


@dataclass
class Window:
    """One page of rows and the total they were taken from."""

    items: list
    total: int


def fetch(session: Session, stmt: Select, params: PageParams) -> Window:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(session.scalars(stmt.limit(params.limit).offset(params.offset)))
    return Window(items=items, total=total or 0)


def page_of_list(items: list, params: PageParams, request: Request, response: Response) -> Page:
    """A page of a list already in memory (e.g. one ticket's comments)."""
    shown = items[params.offset : params.offset + params.limit]
    return page(Window(items=shown, total=len(items)), params, request, response)


def page(window: Window, params: PageParams, request: Request, response: Response) -> Page:
    following = params.offset + params.limit
    next_url = None
    if following < window.total:
        next_url = str(request.url.include_query_params(offset=following, limit=params.limit))
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return Page(data=window.items, count=window.total, next=next_url)
