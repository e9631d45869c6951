"""The list envelope `{"data", "links", "meta"}` of the API and of the platform's endpoints.

One definition for both: the resort's keyset pages and the admin API's offset pages answer
the same shape. `links` are relative (path and query), and the same next/prev links go out
in an RFC 8288 `Link` header, so a client can page without parsing the body.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Links(BaseModel):
    self: str = Field(description="This page.")
    next: str | None = Field(default=None, description="The next page; null on the last one.")
    prev: str | None = Field(default=None, description="The previous page; null on the first.")


def _absent(value: object) -> bool:
    return value is None


class Meta(BaseModel):
    """About the page. Fields that do not apply to a list are left out, never null."""

    limit: int = Field(description="The most items a page holds.")
    count: int = Field(description="Items on this page.")
    offset: int | None = Field(
        default=None, exclude_if=_absent, description="Items skipped (offset-paged lists only)."
    )
    total: int | None = Field(
        default=None,
        exclude_if=_absent,
        description="Items of the whole list: with count=exact or count=estimate only.",
    )
    total_method: Literal["exact", "estimate"] | None = Field(
        default=None,
        exclude_if=_absent,
        description="How total was found: exact (COUNT) or estimate (planner statistics).",
    )


class Page(BaseModel, Generic[T]):
    """The project's list envelope: data, links (relative), meta."""

    data: list[T]
    links: Links
    meta: Meta


def link_header(links: Links) -> str | None:
    """The RFC 8288 Link field value for the next and prev links, or None when neither."""
    parts = [
        f'<{target}>; rel="{relation}"'
        for relation, target in (("next", links.next), ("prev", links.prev))
        if target is not None
    ]
    return ", ".join(parts) or None


__all__ = ["Links", "Meta", "Page", "link_header"]
