"""One list endpoint's paging contract: parse its parameters, shape its SQL, answer its page.

A `ListSpec` declares what a list offers (its ordering, its fields, the relations it can
include, its limits). `spec.parameters` (built in parameters.py) is the FastAPI dependency
that parses `cursor`, `limit`, `count`, `fields`, `fields[<relation>]` and `include`, each
documented in OpenAPI with the names this list allows; every malformed value is a 400.
The repository hands its filtered SELECT to `PageRequest.fetch`, which adds the keyset seek,
the order, the limit and the loader options; the router answers `PageRequest.respond`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel, TypeAdapter, create_model
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only
from starlette.datastructures import URL
from starlette.responses import Response

from banrimkwae.perf.responses.counts import (
    AnySelect,
    CountMode,
    count_rows,
)
from banrimkwae.perf.responses.cursors import (
    Cursor,
    CursorCodec,
    Direction,
    filters_digest,
)
from banrimkwae.perf.responses.expansion import (
    Relation,
    loader_options,
    relation_paths,
)
from banrimkwae.perf.responses.fields import FieldSet, sparse_model
from banrimkwae.perf.responses.keyset import Ordering
from banrimkwae.perf.responses.links import relative_link
from banrimkwae.perf.responses.pagination import Links, Meta, Page, link_header

R = TypeVar("R")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ListSpec:
    """What one list endpoint offers. `codec` finds the cursor key for a request."""

    ordering: Ordering
    fields: FieldSet
    codec: Callable[[Request], CursorCodec]
    relations: Mapping[str, Relation] = field(default_factory=dict)
    default_limit: int = DEFAULT_LIMIT
    max_limit: int = MAX_LIMIT

    @property
    def paths(self) -> dict[str, Relation]:
        return relation_paths(self.relations)

    def response_model(self) -> type[BaseModel]:
        """The documented page: items with optional fields and their includable relations."""
        page: type[BaseModel] = Page[_item_model(self.fields, self.relations)]  # type: ignore[misc,assignment]
        return page

    @property
    def parameters(self) -> Callable[..., Awaitable[PageRequest]]:
        """The FastAPI dependency parsing (and documenting) this list's parameters."""
        # Imported here: the parameters module builds PageRequests, defined below.
        from banrimkwae.perf.responses.parameters import page_parameters

        return page_parameters(self)


@dataclass(slots=True)
class Slice(Generic[R]):
    """The rows of one page, in list order, and what the page needs to link onwards."""

    rows: list[R]
    has_more: bool
    total: int | None = None
    total_method: Any = None

    def map(self, convert: Callable[[R], Any]) -> Slice[Any]:
        return Slice(
            [convert(row) for row in self.rows], self.has_more, self.total, self.total_method
        )


@dataclass(slots=True)
class PageRequest:
    """A parsed page request of one list; `bind` checks the cursor against the filters."""

    spec: ListSpec
    url: URL
    codec: CursorCodec
    limit: int
    count: CountMode
    fields: tuple[str, ...] | None
    include: tuple[str, ...]
    relation_fields: dict[str, tuple[str, ...] | None]
    token: str | None
    cursor: Cursor | None = None
    digest: str = ""

    def bind(self, **filters: object) -> PageRequest:
        """Tie the page to the list's filters: a cursor made for other filters is a 400."""
        self.digest = filters_digest(filters)
        if self.token is not None:
            self.cursor = self.codec.decode(
                self.token, ordering=self.spec.ordering.name, filters=self.digest
            )
        return self

    @property
    def direction(self) -> str:
        return self.cursor.direction if self.cursor is not None else "next"

    def statement(self, filtered: AnySelect, *, entity: bool = True) -> AnySelect:
        """`filtered` with the seek, the order, limit + 1 and (for ORM entities) the loaders."""
        ordering = self.spec.ordering
        direction: Direction = "prev" if self.direction == "prev" else "next"
        order = _cached(self.spec, ("order", direction), lambda: ordering.order_by(direction))
        query = filtered.order_by(*order).limit(self.limit + 1)
        if self.cursor is not None:
            query = query.where(ordering.seek(self.cursor.values, direction))
        if entity:
            selection = (self.fields, self.include, tuple(sorted(self.relation_fields.items())))
            query = query.options(*_cached(self.spec, ("loaders", selection), self._loaders))
        return query

    def _loaders(self) -> list[Any]:
        columns = self.spec.fields.load_columns(self.fields)
        columns += [key.column for key in self.spec.ordering.keys if hasattr(key.column, "key")]
        for path in self.include:
            if "." not in path:
                columns += self.spec.paths[path].parent_columns()
        unique = list({column.key: column for column in columns}.values())
        options: list[Any] = [load_only(*unique)]
        options += loader_options(self.include, self.spec.relations, self.relation_fields)
        return options

    async def fetch(
        self, session: AsyncSession, filtered: AnySelect, *, entity: bool = True
    ) -> Slice[Any]:
        """Run the page (and its total when asked): ORM entities, or rows with `entity=False`."""
        query = self.statement(filtered, entity=entity)
        result = await session.execute(query)
        rows: list[Any] = list(result.scalars().all() if entity else result.all())
        has_more = len(rows) > self.limit
        rows = rows[: self.limit]
        if self.direction == "prev":
            rows.reverse()
        total, method = await count_rows(session, filtered, self.count)
        return Slice(rows, has_more, total, method)

    def respond(self, page: Slice[Any]) -> Response:
        """The JSON page with next/prev links in the body and in a `Link` header."""
        links = self._links(page)
        meta = Meta(
            limit=self.limit,
            count=len(page.rows),
            total=page.total,
            total_method=page.total_method,
        )
        # One validation and one dump for the whole page, as FastAPI's response_model does;
        # exclude_unset leaves out what fields= did not pick, at every level.
        items = _items_adapter(self.spec)
        raw = [self._raw(row, self.spec.fields, self.fields, "") for row in page.rows]
        data = items.dump_json(items.validate_python(raw), exclude_unset=True)
        body = b"".join(
            (
                b'{"data":',
                data,
                b',"links":',
                links.model_dump_json().encode(),
                b',"meta":',
                meta.model_dump_json().encode(),
                b"}",
            )
        )
        header = link_header(links)
        return Response(
            body, media_type="application/json", headers={"Link": header} if header else None
        )

    def _raw(
        self, row: Any, fieldset: FieldSet, names: Sequence[str] | None, prefix: str
    ) -> dict[str, Any]:
        """The selected values of `row`, and of the relations included under `prefix`."""
        item = {name: getattr(row, name) for name in names or fieldset.names}
        for path in self.include:
            if not path.startswith(prefix) or "." in path[len(prefix) :]:
                continue
            relation = self.spec.paths[path]
            name = path.rsplit(".", 1)[-1]
            related = getattr(row, relation.attribute.key)
            chosen = self.relation_fields.get(path)
            nested = f"{path}."
            if relation.many:
                item[name] = [
                    self._raw(child, relation.fields, chosen, nested) for child in related
                ]
            elif related is None:
                item[name] = None
            else:
                item[name] = self._raw(related, relation.fields, chosen, nested)
        return item

    def _links(self, page: Slice[Any]) -> Links:
        ordering = self.spec.ordering
        forward = self.direction == "next"
        has_next = page.has_more if forward else True
        has_prev = (self.cursor is not None) if forward else page.has_more
        next_link = prev_link = None
        if page.rows and has_next:
            values = ordering.values_of(page.rows[-1])
            next_link = self._link(Cursor(ordering.name, "next", values, self.digest))
        if page.rows and has_prev:
            values = ordering.values_of(page.rows[0])
            prev_link = self._link(Cursor(ordering.name, "prev", values, self.digest))
        return Links(self=relative_link(self.url), next=next_link, prev=prev_link)

    def _link(self, cursor: Cursor) -> str:
        return relative_link(self.url.include_query_params(cursor=self.codec.encode(cursor)))


# Loader options and ORDER BY clauses cost more to build than to run through SQLAlchemy's
# statement cache: built once per list and selection (bounded: a client can vary fields=).
_built: dict[tuple[int, Any], Any] = {}
_MAX_BUILT = 4096


def _cached(spec: ListSpec, key: Any, build: Callable[[], Any]) -> Any:
    full_key = (id(spec), key)
    found = _built.get(full_key)
    if found is None:
        found = build()
        if len(_built) < _MAX_BUILT:
            _built[full_key] = found
    return found


# One documented item model per (resource, relations): lists that share them share a name.
_item_models: dict[tuple[Any, ...], type[BaseModel]] = {}


_adapters: dict[int, TypeAdapter[list[Any]]] = {}


def _items_adapter(spec: ListSpec) -> TypeAdapter[list[Any]]:
    """Validates and writes a page's items; built once per list (specs live as long as the app)."""
    adapter = _adapters.get(id(spec))
    if adapter is None:
        item = _item_model(spec.fields, spec.relations)
        adapter = _adapters[id(spec)] = TypeAdapter(list[item])  # type: ignore[valid-type]
    return adapter


def _item_model(fieldset: FieldSet, relations: Mapping[str, Relation]) -> type[BaseModel]:
    base = sparse_model(fieldset.model)
    if not relations:
        return base
    identity = (fieldset.model, *((name, id(relation)) for name, relation in relations.items()))
    if identity in _item_models:
        return _item_models[identity]
    extra: dict[str, Any] = {}
    for name, relation in relations.items():
        target = _item_model(relation.fields, relation.nested)
        annotation: Any = list[target] if relation.many else target | None  # type: ignore[valid-type]
        extra[name] = (annotation, None)
    model: type[BaseModel] = create_model(
        f"{base.__name__}With{''.join(name.title().replace('_', '') for name in relations)}",
        __base__=base,
        **extra,
    )
    _item_models[identity] = model
    return model


__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "ListSpec", "PageRequest", "Slice"]
