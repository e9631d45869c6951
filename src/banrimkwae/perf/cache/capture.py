"""The origin's answer on a cache miss, held until it is known whether it may be shared.

`Capture` is the `send` the origin gets: it holds the start and the body; a body beyond
`max_body` (or a stream that grows past it) goes on to the client as it comes and is not
stored. `shareable` says whether a held answer may be stored under a policy.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.types import Message, Send

from banrimkwae.perf.cache.entry import CachedResponse
from banrimkwae.perf.cache.policies import CachePolicy
from banrimkwae.perf.responses.codecs import DYNAMIC_LEVELS, compress
from banrimkwae.perf.responses.compression import compressible
from banrimkwae.perf.responses.negotiation import SERVER_PREFERENCE
from banrimkwae.perf.responses.validators import strong_etag

CACHEABLE_STATUSES = frozenset((200, 203, 204))
# Never stored with an entry: recomputed per answer, or describing one coding only.
_UNSTORED_HEADERS = frozenset(
    (
        b"content-length",
        b"content-encoding",
        b"transfer-encoding",
        b"date",
        b"age",
        b"etag",
        b"vary",
        b"cache-control",
        b"x-cache",
        b"surrogate-key",
        b"connection",
    )
)
X_CACHE = b"x-cache"


def shareable(status: int, headers: list[tuple[bytes, bytes]], policy: CachePolicy) -> bool:
    if status not in CACHEABLE_STATUSES:
        return False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"set-cookie":
            return False
        if lowered == b"cache-control":
            directives = value.lower()
            if b"no-store" in directives:
                return False
            if b"private" in directives and not policy.user_scoped:
                return False
        elif lowered == b"vary":
            varies = {v.strip().lower() for v in value.split(b",")}
            if varies - {b"accept-encoding", b""}:
                return False
        elif lowered == b"content-encoding" and value.lower() != b"identity":
            return False
    return True


async def empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class Capture:
    """The origin's response, held until it is known whether it may be stored.

    A body beyond `max_body`, or a streamed response, is passed on to the client as it
    comes (when there is a client) and not stored.
    """

    __slots__ = (
        "before_start",
        "body",
        "chunks",
        "headers",
        "max_body",
        "passed_through",
        "send",
        "size",
        "started",
        "status",
    )

    def __init__(
        self, send: Send | None, max_body: int, before_start: Callable[[], Awaitable[None]]
    ) -> None:
        self.send = send
        self.max_body = max_body
        self.before_start = before_start
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.started = False
        self.passed_through = False
        self.body = b""

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.started = True
            self.status = message["status"]
            self.headers = list(message.get("headers", ()))
            # A GET may write too: its tables are bumped before anything is answered.
            await self.before_start()
            return
        if kind != "http.response.body":
            if self.send is not None:
                await self.send(message)
            return
        if self.passed_through:
            if self.send is not None:
                await self.send(message)
            return
        chunk = message.get("body", b"")
        self.chunks.append(chunk)
        self.size += len(chunk)
        if self.size > self.max_body:
            await self._pass_through(more_body=message.get("more_body", False))
            return
        if not message.get("more_body", False):
            self.body = b"".join(self.chunks)
            self.chunks = []

    async def _pass_through(self, *, more_body: bool) -> None:
        self.passed_through = True
        if self.send is None:
            return
        headers = [*self.headers, (X_CACHE, b"BYPASS")]
        await self.send({"type": "http.response.start", "status": self.status, "headers": headers})
        await self.send(
            {"type": "http.response.body", "body": b"".join(self.chunks), "more_body": more_body}
        )
        self.chunks = []

    async def replay(self, send: Send) -> None:
        """Send a response that was held but not stored, as the origin made it."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [*self.headers, (X_CACHE, b"MISS")],
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def to_entry(
    policy: CachePolicy, capture: Capture, compute_ms: float, min_compress: int
) -> CachedResponse:
    """The entry for a shareable answer: stored headers, identity body, variants."""
    body = capture.body
    stored: list[tuple[bytes, bytes]] = []
    content_type = b""
    for name, value in capture.headers:
        lowered = name.lower()
        if lowered in _UNSTORED_HEADERS:
            continue
        if lowered == b"content-type":
            content_type = value
        stored.append((lowered, value))
    variants: dict[str, bytes] = {}
    if policy.compression_enabled and len(body) >= min_compress and compressible(content_type):
        for coding in SERVER_PREFERENCE:
            variants[coding] = compress(body, coding, DYNAMIC_LEVELS[coding])
    return CachedResponse(
        status=capture.status,
        headers=tuple(stored),
        body=body,
        variants=variants,
        etag=strong_etag(body),
        stored_at=time.time(),
        ttl=policy.ttl,
        stale_ttl=policy.stale_ttl,
        compute_ms=compute_ms,
        policy=policy.name,
        grace=policy.invalidation_grace,
    )
