"""A small origin application for the response cache's tests, and the client around it.

The origin is plain ASGI. It records which tables each answer "read" and "wrote" in the
request's RequestStats, as the query tracker does for SQL, counts its calls per path, and
answers per path:
  GET  /items?...          a JSON list (compressible), reads table items
  GET  /items/{n}          one item, reads items, scoped to its group (n % 2)
  POST /items/{n}          writes items, scoped to n's group; POST /items writes unscoped
  GET|POST /stays/{g}?start=&end=   reads|writes table stays, scoped to group g's nights
                           [start, end) (cache_scope_days); without them, to all of g
  GET  /me                 the caller's own data (Authorization: Bearer guest-<n>)
  GET  /cookie             sets a cookie;   GET /private   Cache-Control: private
  GET  /nostore            no-store;        GET /missing   404
  GET  /flaky              500 while `failing` is set
  GET  /big                a body larger than the cache's max_body
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from banrimkwae.perf.cache.invalidation import cache_scope, cache_scope_days
from banrimkwae.perf.cache.middleware import ResponseCacheMiddleware
from banrimkwae.perf.cache.policies import PolicyHolder, PolicySet, compile_rows_checked
from banrimkwae.perf.cache.store import ResponseStore
from banrimkwae.perf.metrics.context import (
    RequestStats,
    begin_request,
    current_request_stats,
    end_request,
    record_identity,
)


@dataclass
class Origin:
    calls: Counter[str] = field(default_factory=Counter)
    version: int = 0
    failing: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        self.calls[f"{method} {path}"] += 1
        stats = current_request_stats()
        assert stats is not None
        headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
        status = 200
        body: Any
        if path.startswith("/items"):
            parts = path.split("/")
            if len(parts) > 2:
                cache_scope("group", int(parts[2]) % 2)
            if method == "POST":
                stats.tables_written = {"items"}
                self.version += 1
                body = {"version": self.version}
            else:
                stats.tables_read = {"items"}
                query = scope["query_string"].decode()
                body = {
                    "version": self.version,
                    "path": path,
                    "query": query,
                    "data": [{"id": i, "name": f"item {i}"} for i in range(40)],
                }
        elif path.startswith("/stays/"):
            query = dict(
                pair.split("=") for pair in scope["query_string"].decode().split("&") if pair
            )
            if "start" in query:
                start, end = (
                    dt.date.fromisoformat(query["start"]),
                    dt.date.fromisoformat(query["end"]),
                )
                cache_scope_days("group", path.split("/")[2], start, end)
            else:
                cache_scope("group", path.split("/")[2])
            if method == "POST":
                stats.tables_written = {"stays"}
                self.version += 1
            else:
                stats.tables_read = {"stays"}
            body = {"version": self.version, "path": path}
        elif path == "/me":
            user = identify(scope)
            if user is None:
                status, body = 401, {"title": "unauthorized"}
            else:
                record_identity(user_id=int(user.split("-")[1]))
                stats.tables_read = {"guests"}
                body = {"me": user, "secret": f"private data of {user}"}
        elif path == "/cookie":
            headers.append((b"set-cookie", b"session=1"))
            body = {"cookie": True}
        elif path == "/private":
            headers.append((b"cache-control", b"private"))
            body = {"private": True}
        elif path == "/nostore":
            headers.append((b"cache-control", b"no-store"))
            body = {"nostore": True}
        elif path == "/flaky":
            status = 500 if self.failing else 200
            body = {"version": self.version}
        elif path == "/big":
            body = {"blob": "x" * 5000}
        else:
            status, body = 404, {"title": "not found"}
        raw = json.dumps(body).encode()
        headers.append((b"content-length", str(len(raw)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization" and value.startswith(b"Bearer guest-"):
            return value[7:].decode()
    return None


def identify(scope: Scope) -> str | None:
    """The test host's identity check: `Bearer guest-<n>` is guest n; anything else fails."""
    user = _bearer(scope)
    return user if user is not None and user[6:].isdigit() else None


class WithStats:
    """What MetricsMiddleware does for the cache: a RequestStats current for each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = begin_request(RequestStats("test"))
        try:
            await self.app(scope, receive, send)
        finally:
            end_request(token)


POLICY_ROWS: list[dict[str, Any]] = [
    {"endpoint_pattern": "/items", "http_methods": ["GET"], "cache_ttl_seconds": 60},
    {
        "endpoint_pattern": "/items/{n}",
        "http_methods": ["GET"],
        "cache_ttl_seconds": 60,
        "cache_strategy": "tagged",
    },
    {
        "endpoint_pattern": "/stays/{g}",
        "http_methods": ["GET"],
        "cache_ttl_seconds": 60,
        "cache_strategy": "tagged",
    },
    {
        "endpoint_pattern": "/me",
        "http_methods": ["GET"],
        "cache_ttl_seconds": 60,
        "cache_strategy": "hierarchical",
    },
    *(
        {"endpoint_pattern": p, "http_methods": ["GET"], "cache_ttl_seconds": 60}
        for p in ("/cookie", "/private", "/nostore", "/missing", "/big")
    ),
    {
        "endpoint_pattern": "/flaky",
        "http_methods": ["GET"],
        "cache_ttl_seconds": 60,
        "stale_if_error_seconds": 600,
    },
]


def policies(rows: list[dict[str, Any]] | None = None) -> PolicyHolder:
    compiled, errors = compile_rows_checked(rows if rows is not None else POLICY_ROWS)
    assert errors == []
    return PolicyHolder(PolicySet(compiled))


@asynccontextmanager
async def cached_client(
    store: ResponseStore,
    *,
    origin: Origin | None = None,
    holder: PolicyHolder | None = None,
    identify_with: Callable[[Scope], str | None] | None = identify,
    **options: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, Origin, ResponseCacheMiddleware]]:
    origin = origin or Origin()
    cache = ResponseCacheMiddleware(
        origin, store, holder or policies(), identify=identify_with, **options
    )
    transport = httpx.ASGITransport(app=WithStats(cache))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, origin, cache
    await cache.refresher.drain()
