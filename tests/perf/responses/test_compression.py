"""CompressionMiddleware called directly with hand-built scopes and tiny ASGI apps."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Sequence
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from banrimkwae.perf.responses.codecs import compress, decompress
from banrimkwae.perf.responses.compression import SCOPE_SWITCH, CompressionMiddleware
from banrimkwae.perf.responses.validators import etag_for_encoding, strong_etag

BODY = json.dumps(
    [{"id": n, "name": f"Room {n}", "view": "sea", "rate": "1200.00"} for n in range(100)]
).encode()
Headers = list[tuple[bytes, bytes]]


def app_sending(
    body: bytes | Sequence[bytes] = BODY,
    *,
    status: int = 200,
    headers: Headers | None = None,
    content_type: bytes = b"application/json",
) -> ASGIApp:
    """An app answering `body` (a list: streamed, one message per chunk)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        own: Headers = [(b"content-type", content_type), *(headers or [])]
        if isinstance(body, bytes):
            own.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": own})
        if isinstance(body, bytes):
            await send({"type": "http.response.body", "body": body})
            return
        for index, chunk in enumerate(body):
            more = index < len(body) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


class Response:
    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        start = messages[0]
        self.status: int = start["status"]
        self.headers: dict[bytes, bytes] = {}
        self.header_list: Headers = list(start["headers"])
        for name, value in start["headers"]:
            assert name not in self.headers, f"{name!r} sent twice"
            self.headers[name] = value
        self.chunks = [m.get("body", b"") for m in messages[1:]]
        self.body = b"".join(self.chunks)

    def decoded(self) -> bytes:
        coding = self.headers.get(b"content-encoding")
        return decompress(self.body, coding.decode()) if coding else self.body


async def call(
    app: ASGIApp,
    *,
    accept_encoding: bytes | None = b"gzip, deflate, br, zstd",
    method: str = "GET",
    if_none_match: bytes | None = None,
    extra_scope: dict[str, Any] | None = None,
    **options: Any,
) -> Response:
    headers: Headers = [(b"host", b"test")]
    if accept_encoding is not None:
        headers.append((b"accept-encoding", accept_encoding))
    if if_none_match is not None:
        headers.append((b"if-none-match", if_none_match))
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": "/",
        "headers": headers,
        **(extra_scope or {}),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await CompressionMiddleware(app, **options)(scope, receive, send)
    return Response(sent)


@pytest.mark.parametrize(
    ("accept", "coding"),
    [(b"gzip, deflate, br, zstd", b"br"), (b"zstd, gzip", b"zstd"), (b"gzip", b"gzip")],
)
async def test_negotiated_coding_with_a_correct_length(accept: bytes, coding: bytes) -> None:
    response = await call(app_sending(), accept_encoding=accept)
    assert response.headers[b"content-encoding"] == coding
    assert response.headers[b"vary"] == b"Accept-Encoding"
    assert int(response.headers[b"content-length"]) == len(response.body) < len(BODY)
    assert response.decoded() == BODY


@pytest.mark.parametrize("accept", [None, b"identity", b"br;q=0, zstd;q=0, gzip;q=0", b"*;q=0"])
async def test_identity_still_says_it_varies(accept: bytes | None) -> None:
    response = await call(app_sending(), accept_encoding=accept)
    assert b"content-encoding" not in response.headers
    assert response.body == BODY
    assert response.headers[b"content-length"] == str(len(BODY)).encode()
    assert response.headers[b"vary"] == b"Accept-Encoding"


async def test_small_bodies_stay_as_they_are() -> None:
    response = await call(app_sending(b'{"ok":true}'))
    assert response.body == b'{"ok":true}'
    assert b"content-encoding" not in response.headers
    assert b"vary" not in response.headers


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/problem+json",
        b"application/vnd.api+json; charset=utf-8",
        b"text/html; charset=utf-8",
        b"text/css",
        b"text/javascript",
        b"application/javascript",
        b"image/svg+xml",
        b"Application/JSON",
    ],
)
async def test_compressible_types(content_type: bytes) -> None:
    response = await call(app_sending(content_type=content_type))
    assert response.headers[b"content-encoding"] == b"br"
    assert response.decoded() == BODY


@pytest.mark.parametrize(
    "content_type", [b"image/png", b"application/octet-stream", b"application/zip"]
)
async def test_other_types_are_left_alone(content_type: bytes) -> None:
    response = await call(app_sending(content_type=content_type))
    assert b"content-encoding" not in response.headers
    assert b"vary" not in response.headers
    assert response.body == BODY


async def test_an_encoded_body_is_not_encoded_again() -> None:
    response = await call(app_sending(headers=[(b"content-encoding", b"gzip")]))
    assert response.headers[b"content-encoding"] == b"gzip"
    assert response.body == BODY


async def test_partial_content_is_left_alone() -> None:
    response = await call(app_sending(status=206))
    assert b"content-encoding" not in response.headers
    assert response.body == BODY


async def test_no_transform_is_respected() -> None:
    response = await call(app_sending(headers=[(b"cache-control", b"public, No-Transform")]))
    assert b"content-encoding" not in response.headers
    assert response.body == BODY


async def test_the_cache_can_turn_it_off_per_request() -> None:
    response = await call(app_sending(), extra_scope={SCOPE_SWITCH: False})
    assert b"content-encoding" not in response.headers
    assert response.body == BODY
    # Conditional requests still work when compression is off.
    assert response.headers[b"etag"] == strong_etag(BODY)


async def test_an_existing_vary_is_merged() -> None:
    response = await call(app_sending(headers=[(b"vary", b"Authorization")]))
    assert response.headers[b"vary"] == b"Authorization, Accept-Encoding"
    again = await call(app_sending(headers=[(b"vary", b"accept-encoding, Cookie")]))
    assert again.headers[b"vary"] == b"accept-encoding, Cookie"


async def test_an_incompressible_body_is_sent_as_it_is() -> None:
    noise = os.urandom(4096)
    response = await call(app_sending(noise))
    assert b"content-encoding" not in response.headers
    assert response.body == noise
    assert response.headers[b"vary"] == b"Accept-Encoding"


async def test_levels_are_configurable() -> None:
    fast = await call(app_sending(), accept_encoding=b"gzip", levels={"gzip": 1})
    assert fast.body == compress(BODY, "gzip", 1)
    assert fast.decoded() == BODY


async def _ticks_while(response: Awaitable[Response]) -> tuple[int, Response]:
    """How often another task ran on the event loop while `response` was being produced."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    ticks = 0
    try:
        result = await response
    finally:
        done.set()
        await task
    return ticks, result


async def test_large_bodies_are_compressed_off_the_event_loop() -> None:
    large = BODY * 200
    in_thread_ticks, in_thread = await _ticks_while(
        call(app_sending(large), thread_threshold=64 * 1024)
    )
    inline_ticks, inline = await _ticks_while(
        call(app_sending(large), thread_threshold=len(large) + 1)
    )
    # Inline, nothing else runs until the body is compressed; in a thread, the loop goes on.
    assert inline_ticks == 0
    assert in_thread_ticks > 0
    assert in_thread.body == inline.body
    assert in_thread.decoded() == large


async def test_large_stream_chunks_are_compressed_off_the_event_loop() -> None:
    large = BODY * 200
    ticks, response = await _ticks_while(
        call(app_sending([large, large]), thread_threshold=64 * 1024)
    )
    assert ticks > 0
    assert response.decoded() == large + large


# --- streams -------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", [b"br", b"zstd", b"gzip"])
async def test_streams_are_compressed_chunk_by_chunk(coding: bytes) -> None:
    chunks = [BODY[i : i + 700] for i in range(0, len(BODY), 700)]
    response = await call(app_sending(chunks), accept_encoding=coding)
    assert response.headers[b"content-encoding"] == coding
    assert b"content-length" not in response.headers
    assert len(response.chunks) == len(chunks)
    assert all(response.chunks), "every chunk is flushed, none held back"
    assert response.decoded() == BODY
    assert b"etag" not in response.headers


async def test_event_streams_are_never_compressed() -> None:
    events = [b"data: %d\n\n" % n * 100 for n in range(3)]
    response = await call(app_sending(events, content_type=b"text/event-stream"))
    assert b"content-encoding" not in response.headers
    assert response.chunks == events


# --- conditional requests ------------------------------------------------------------------


async def test_a_get_gets_a_strong_tag_per_coding() -> None:
    identity = await call(app_sending(), accept_encoding=None)
    br = await call(app_sending(), accept_encoding=b"br")
    gzip = await call(app_sending(), accept_encoding=b"gzip")
    assert identity.headers[b"etag"] == strong_etag(BODY)
    assert br.headers[b"etag"] == etag_for_encoding(strong_etag(BODY), "br")
    assert gzip.headers[b"etag"] == etag_for_encoding(strong_etag(BODY), "gzip")


@pytest.mark.parametrize("accept", [None, b"br", b"gzip"])
async def test_a_matching_if_none_match_gets_304(accept: bytes | None) -> None:
    first = await call(app_sending(headers=[(b"cache-control", b"private")]), accept_encoding=b"br")
    response = await call(
        app_sending(headers=[(b"cache-control", b"private")]),
        accept_encoding=accept,
        if_none_match=first.headers[b"etag"],
    )
    assert response.status == 304
    assert response.body == b""
    assert set(response.headers) == {b"etag", b"vary", b"cache-control"}


async def test_a_stale_tag_gets_the_body() -> None:
    response = await call(app_sending(), if_none_match=strong_etag(b"old"))
    assert response.status == 200
    assert response.decoded() == BODY


async def test_the_apps_own_tag_is_kept_and_used() -> None:
    own = [(b"etag", b'"v7"')]
    response = await call(app_sending(headers=own), accept_encoding=None)
    assert response.headers[b"etag"] == b'"v7"'
    compressed = await call(app_sending(headers=own), accept_encoding=b"gzip")
    assert compressed.headers[b"etag"] == b'"v7-gzip"'
    assert (await call(app_sending(headers=own), if_none_match=b'"v7"')).status == 304
    weak = await call(app_sending(headers=[(b"etag", b'W/"v7"')]), if_none_match=b'"v7"')
    assert weak.status == 304 and weak.headers[b"etag"] == b'W/"v7"'


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_unsafe_methods_get_no_tag_and_no_304(method: str) -> None:
    response = await call(app_sending(), method=method, if_none_match=b"*")
    assert response.status == 200
    assert b"etag" not in response.headers
    assert response.decoded() == BODY


async def test_errors_get_no_tag() -> None:
    response = await call(app_sending(status=404, content_type=b"application/problem+json"))
    assert b"etag" not in response.headers
    assert response.headers[b"content-encoding"] == b"br"


async def test_head_declares_what_get_would_send() -> None:
    async def head_app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"5000")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    response = await call(head_app, method="HEAD")
    assert response.headers[b"content-encoding"] == b"br"
    assert response.headers[b"vary"] == b"Accept-Encoding"
    assert b"content-length" not in response.headers
    assert response.body == b""


async def test_head_with_a_body_gets_the_same_headers_as_get() -> None:
    get = await call(app_sending())
    head = await call(app_sending(), method="HEAD")
    assert head.header_list == get.header_list


async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    await CompressionMiddleware(app)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]


async def test_head_without_a_body_gets_no_tag_of_the_empty_body() -> None:
    async def head_app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"image/png")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    response = await call(head_app, method="HEAD", if_none_match=strong_etag(b""))
    assert response.status == 200
    assert b"etag" not in response.headers


async def test_a_body_sent_by_path_passes_through() -> None:
    async def pathsend_app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/css"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": "/srv/site.css"})

    response = await call(pathsend_app)
    assert response.status == 200
    assert b"content-encoding" not in response.headers
    assert [m["type"] for m in response.messages] == [
        "http.response.start",
        "http.response.pathsend",
    ]
