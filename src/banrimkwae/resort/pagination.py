"""The list envelope `{"data", "links", "meta"}` every list endpoint answers with.

Offset pagination for now; keyset cursors replace it without changing the envelope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from banrimkwae.perf.responses import relative_link

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 10_000


class Links(BaseModel):
    self: str
    next: str | None = None
    prev: str | None = None


class Meta(BaseModel):
    limit: int
    offset: int
    count: int


class Page(BaseModel, Generic[T]):
    data: list[T]
    links: Links
    meta: Meta


class PageParams(BaseModel):
    limit: int
    offset: int


def _page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(_page_params)]


def page_of(rows: Sequence[T], request: Request, params: PageParams) -> Page[T]:
    """Build the envelope from up to `limit + 1` rows (the extra row says a next page exists)."""
    has_next = len(rows) > params.limit
    data = list(rows[: params.limit])
    url = request.url
    next_link = relative_link(url.include_query_params(offset=params.offset + params.limit))
    prev_link = relative_link(url.include_query_params(offset=max(params.offset - params.limit, 0)))
    return Page[T](
        data=data,
        links=Links(
            self=relative_link(url),
            next=next_link if has_next else None,
            prev=prev_link if params.offset > 0 else None,
        ),
        meta=Meta(limit=params.limit, offset=params.offset, count=len(data)),
    )
