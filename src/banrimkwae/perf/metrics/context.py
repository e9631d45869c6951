"""Per-request measurements shared between the middleware and the SQLAlchemy listeners.

The middleware puts a `RequestStats` in a context variable; everything that runs for that
request (handlers, dependencies, SQLAlchemy's cursor events, which fire in the same asyncio
task) finds it there and adds to it. Concurrent requests each see their own.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class RequestStats:
    request_id: str
    query_count: int = 0
    query_time_ms: float = 0.0
    cache_hit: bool = False
    cache_layer: str | None = None
    user_id: int | None = None
    client_id: int | None = None
    # The query tracker's record of this request (banrimkwae.perf.queries.RequestQueries):
    # time and rows per fingerprint and slow statements, folded in under the route template
    # by QueryTracker.finish_request when the request ends. None until a statement runs.
    queries: Any = None
    # The response cache's invalidation inputs: tables read and written (the query tracker,
    # from statement fingerprints), and scopes and tags the application declared
    # (banrimkwae.perf.cache.invalidation). None until something is recorded.
    tables_read: set[str] | None = None
    tables_written: set[str] | None = None
    cache_scopes: list[str] | None = None
    cache_tags: set[str] | None = None


_current: ContextVar[RequestStats | None] = ContextVar("banrimkwae_request_stats", default=None)


def current_request_stats() -> RequestStats | None:
    """The measurements of the request being served, or None outside a request."""
    return _current.get()


def begin_request(stats: RequestStats) -> object:
    """Make `stats` current; returns a token for `end_request`."""
    return _current.set(stats)


def end_request(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def record_identity(*, user_id: int | None = None, client_id: int | None = None) -> None:
    """Called by the application's auth layer once it knows who is calling."""
    stats = _current.get()
    if stats is not None:
        if user_id is not None:
            stats.user_id = user_id
        if client_id is not None:
            stats.client_id = client_id


def record_cache(*, hit: bool, layer: str | None) -> None:
    """Called by the response cache: whether it answered, and from which layer."""
    stats = _current.get()
    if stats is not None:
        stats.cache_hit = hit
        stats.cache_layer = layer
