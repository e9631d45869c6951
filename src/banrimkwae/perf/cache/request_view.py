"""What the response cache reads from a request before deciding anything, and the scope
of a request it makes itself (warming)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from starlette.types import Scope

CREDENTIAL_HEADERS = frozenset((b"authorization", b"cookie", b"x-api-key"))


class Target(NamedTuple):
    """A request the warmer can replay: a decoded path and a raw query string."""

    path: str
    query: bytes


@dataclass(slots=True)
class RequestView:
    """What the cache read from one request's headers."""

    accept_encoding: bytes | None = None
    if_none_match: bytes | None = None
    credentials: bool = False
    no_cache: bool = False
    client_id: bytes | None = None


def warm_scope(target: Target) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": target.path,
        "raw_path": target.path.encode("utf-8"),
        "root_path": "",
        "query_string": target.query,
        "headers": [(b"host", b"cache-warmer")],
        "client": None,
        "server": None,
        "state": {},
    }


def read_headers(scope: Scope) -> RequestView:
    request = RequestView()
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            request.accept_encoding = value
        elif name == b"if-none-match":
            request.if_none_match = value
        elif name in CREDENTIAL_HEADERS:
            request.credentials = True
        elif name == b"cache-control":
            request.no_cache = b"no-cache" in value.lower()
        elif name == b"x-client-id":
            request.client_id = value
    return request
