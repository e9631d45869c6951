"""Negotiated compression and conditional requests for the responses the cache did not answer.

Pure ASGI, placed inside the response cache: Metrics(Cache(Compression(app))). For each
response it decides, from the request's Accept-Encoding and the response's own headers,
whether to send it in br, zstd or gzip:

- only allow-listed types (JSON, text, JS, CSS, SVG), never an event stream, a body that is
  already encoded, a 206, a `Cache-Control: no-transform`, or when the cache turned
  compression off for this route (`scope["banrimkwae.compression"] is False`);
- a complete body below `min_size` stays as it is; a large one is compressed in a worker
  thread so the event loop keeps serving; a streamed body (`more_body`) is compressed chunk
  by chunk, each chunk flushed so the client sees it at once;
- `Vary: Accept-Encoding` on every response that could have been compressed, identity too.

Conditional requests: a GET or HEAD 200 with a complete body gets a strong ETag (a digest of
the identity body, one tag per coding; an ETag set by the app is kept), and a request whose
If-None-Match matches gets 304 with the headers RFC 9110 §15.4.5 keeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from banrimkwae.perf.responses.codecs import DYNAMIC_LEVELS, compress, stream_compressor
from banrimkwae.perf.responses.negotiation import SERVER_PREFERENCE, choose_encoding
from banrimkwae.perf.responses.validators import (
    etag_for_encoding,
    if_none_match,
    not_modified_headers,
    strong_etag,
)

# The scope key through which an outer layer (the response cache's policy) turns it off.
SCOPE_SWITCH = "banrimkwae.compression"
# Below this the bytes saved barely exceed the header announcing them (docs/responses.md).
DEFAULT_MIN_SIZE = 256
# Above this a body is compressed in a worker thread: at the dynamic levels it would hold the
# event loop for half a millisecond or more, several times the thread hand-off
# (measured in bench/compression.py --thread; docs/responses.md).
DEFAULT_THREAD_THRESHOLD = 128 * 1024

_COMPRESSIBLE_TYPES = frozenset(
    (
        "application/json",
        "application/javascript",
        "application/ecmascript",
        "application/xml",
        "image/svg+xml",
    )
)
_CONDITIONAL_METHODS = frozenset(("GET", "HEAD"))
# Statuses whose body must not be re-encoded: partial content, and no content at all.
_UNTOUCHED_STATUSES = frozenset((204, 206, 304))
_type_cache: dict[bytes, bool] = {}


def compressible(content_type: bytes) -> bool:
    """Whether a response of this Content-Type is worth compressing."""
    known = _type_cache.get(content_type)
    if known is not None:
        return known
    media = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
    if media == "text/event-stream":
        answer = False
    else:
        answer = (
            media in _COMPRESSIBLE_TYPES
            or media.startswith("text/")
            or (media.startswith("application/") and media.endswith(("+json", "+xml")))
        )
    if len(_type_cache) < 128:
        _type_cache[content_type] = answer
    return answer


class CompressionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        min_size: int = DEFAULT_MIN_SIZE,
        levels: Mapping[str, int] = DYNAMIC_LEVELS,
        encodings: Sequence[str] = SERVER_PREFERENCE,
        thread_threshold: int = DEFAULT_THREAD_THRESHOLD,
        etags: bool = True,
    ) -> None:
        self.app = app
        self.min_size = min_size
        self.levels = dict(levels)
        self.encodings = tuple(encodings)
        self.thread_threshold = thread_threshold
        self.etags = etags

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept_encoding: bytes | None = None
        condition: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept_encoding = value
            elif name == b"if-none-match":
                condition = value
        enabled = scope.get(SCOPE_SWITCH) is not False
        encoding = choose_encoding(accept_encoding, self.encodings) if enabled else None
        method = scope["method"]
        conditional = self.etags and method in _CONDITIONAL_METHODS
        responder = _Responder(
            self, send, encoding, enabled, conditional, condition, head=method == "HEAD"
        )
        await self.app(scope, receive, responder.send)


class _Responder:
    """One response's state: the held start message, then the body path chosen for it."""

    __slots__ = (
        "compressor",
        "condition",
        "conditional",
        "enabled",
        "encoding",
        "head",
        "middleware",
        "passthrough",
        "send_downstream",
        "start",
    )

    def __init__(
        self,
        middleware: CompressionMiddleware,
        send: Send,
        encoding: str | None,
        enabled: bool,
        conditional: bool,
        condition: bytes | None,
        *,
        head: bool,
    ) -> None:
        self.middleware = middleware
        self.head = head
        self.send_downstream = send
        self.encoding = encoding
        self.enabled = enabled
        self.conditional = conditional
        self.condition = condition
        self.start: Message | None = None
        self.passthrough = False
        self.compressor: Any = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._on_start(message)
            if self.passthrough:
                await self.send_downstream(message)
            return
        if kind != "http.response.body" or self.passthrough:
            if self.start is not None:
                # A body this middleware cannot see (http.response.pathsend): let it through.
                held, self.start = self.start, None
                self.passthrough = True
                await self.send_downstream(held)
            await self.send_downstream(message)
            return
        if self.compressor is not None:
            await self._send_chunk(message)
            return
        start = self.start
        assert start is not None, "a body before the response start"
        self.start = None
        if message.get("more_body", False):
            await self._start_stream(start, message)
        else:
            await self._send_whole(start, message.get("body", b""))

    def _on_start(self, message: Message) -> None:
        status: int = message["status"]
        headers = message.get("headers", ())
        transformable = self.enabled and status not in _UNTOUCHED_STATUSES
        typed = encoded = no_transform = False
        for name, value in headers:
            if name == b"content-type":
                typed = compressible(value)
            elif name == b"content-encoding":
                encoded = True
            elif name == b"cache-control":
                no_transform = b"no-transform" in value.lower()
        self.enabled = transformable and typed and not encoded and not no_transform
        # Validators only for 200s (other statuses are not the representation).
        self.conditional = self.conditional and status == 200
        if not self.enabled and not self.conditional:
            self.passthrough = True
            return
        self.start = message

    async def _send_whole(self, start: Message, body: bytes) -> None:
        middleware = self.middleware
        headers = list(start.get("headers", ()))
        declared = _content_length(headers)
        # HEAD: the app declared the GET body's length and sent nothing. Its encoded length is
        # unknown, so Content-Length goes; the coding and Vary are what GET would send.
        # A HEAD without the body (what servers usually get) cannot be tagged from it.
        head_only = self.head and not body
        size = (declared or 0) if head_only else len(body)
        coding = self.encoding if self.enabled and size >= middleware.min_size else None
        etag = _header(headers, b"etag")
        if self.conditional and etag is None and not head_only:
            etag = strong_etag(body)
        encoded = body
        if coding is not None and not head_only:
            if len(body) > middleware.thread_threshold:
                encoded = await anyio.to_thread.run_sync(
                    compress, body, coding, middleware.levels.get(coding)
                )
            else:
                encoded = compress(body, coding, middleware.levels.get(coding))
            if len(encoded) >= len(body):
                coding, encoded = None, body
        if self.enabled and size >= middleware.min_size:
            _add_vary(headers)
        if etag is not None and not etag.startswith(b"W/"):
            _set_header(headers, b"etag", etag_for_encoding(etag, coding))
        if coding is not None:
            headers.append((b"content-encoding", coding.encode("ascii")))
            if head_only:
                _drop_header(headers, b"content-length")
            else:
                _set_header(headers, b"content-length", str(len(encoded)).encode("ascii"))
        if (
            self.conditional
            and etag is not None
            and self.condition is not None
            and if_none_match(self.condition, etag)
        ):
            await self.send_downstream(
                {**start, "status": 304, "headers": not_modified_headers(headers)}
            )
            await self.send_downstream({"type": "http.response.body", "body": b""})
            return
        await self.send_downstream({**start, "headers": headers})
        await self.send_downstream({"type": "http.response.body", "body": encoded})

    async def _start_stream(self, start: Message, first: Message) -> None:
        headers = list(start.get("headers", ()))
        declared = _content_length(headers)
        small = declared is not None and declared < self.middleware.min_size
        if self.enabled and not small:
            _add_vary(headers)
            if self.encoding is not None:
                coding = self.encoding
                self.compressor = stream_compressor(coding, self.middleware.levels.get(coding))
                _drop_header(headers, b"content-length")
                _drop_header(headers, b"etag")
                headers.append((b"content-encoding", coding.encode("ascii")))
        await self.send_downstream({**start, "headers": headers})
        if self.compressor is None:
            self.passthrough = True
            await self.send_downstream(first)
        else:
            await self._send_chunk(first)

    async def _send_chunk(self, message: Message) -> None:
        compressor = self.compressor
        data: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if len(data) > self.middleware.thread_threshold:
            out = await anyio.to_thread.run_sync(compressor.chunk, data)
        else:
            out = compressor.chunk(data) if data else b""
        if not more:
            out += compressor.finish()
        await self.send_downstream({"type": "http.response.body", "body": out, "more_body": more})


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _set_header(headers: list[tuple[bytes, bytes]], name: bytes, value: bytes) -> None:
    _drop_header(headers, name)
    headers.append((name, value))


def _drop_header(headers: list[tuple[bytes, bytes]], name: bytes) -> None:
    headers[:] = [(key, value) for key, value in headers if key != name]


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    value = _header(headers, b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def _add_vary(headers: list[tuple[bytes, bytes]]) -> None:
    """Merge Accept-Encoding into Vary: into the existing field when there is one."""
    for index, (name, value) in enumerate(headers):
        if name == b"vary":
            members = {member.strip().lower() for member in value.split(b",")}
            if b"*" not in members and b"accept-encoding" not in members:
                headers[index] = (name, value + b", Accept-Encoding")
            return
    headers.append((b"vary", b"Accept-Encoding"))
