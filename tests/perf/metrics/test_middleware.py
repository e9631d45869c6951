"""MetricsMiddleware called directly with hand-built scopes around tiny ASGI apps."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router
from starlette.types import Message, Receive, Scope, Send

from banrimkwae.perf.metrics import (
    UNMATCHED_ROUTE,
    MetricsMiddleware,
    RequestAggregator,
    RequestStats,
    current_request_stats,
)


def _aggregator() -> RequestAggregator:
    return RequestAggregator(buffer_size=100, sample_rate=0.0, slow_request_ms=500.0)


def _http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers or [],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 40000),
    }


async def _call(app: Any, scope: Scope, body: bytes = b"") -> tuple[list[Message], dict[str, Any]]:
    """Run one request; returns the messages sent and the response start's headers."""
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    return sent, {name.decode(): value.decode() for name, value in start["headers"]}


async def _thing(request: Request) -> PlainTextResponse:
    body = await request.body()
    return PlainTextResponse(f"thing {request.path_params['thing_id']} got {len(body)}", 201)


ROUTER = Router([Route("/things/{thing_id}", _thing, methods=["POST", "GET"])])


async def test_records_route_template_status_and_sizes() -> None:
    aggregator = _aggregator()
    middleware = MetricsMiddleware(ROUTER, aggregator)
    scope = _http_scope("POST", "/things/7", [(b"content-length", b"5")])

    sent, headers = await _call(middleware, scope, b"hello")

    body = b"".join(message.get("body", b"") for message in sent)
    assert body == b"thing 7 got 5"
    assert set(aggregator.window) == {("/things/{thing_id}", "POST", 2)}
    aggregate = aggregator.window[("/things/{thing_id}", "POST", 2)]
    assert aggregate.count == 1
    assert aggregate.errors == 0
    assert aggregate.request_bytes == 5
    assert aggregate.response_bytes == len(body)
    assert aggregate.min_ms == aggregate.max_ms > 0
    assert headers["x-request-id"]
    assert aggregator.active_requests == 0
    assert current_request_stats() is None


async def test_unmatched_paths_share_one_key() -> None:
    aggregator = _aggregator()
    middleware = MetricsMiddleware(ROUTER, aggregator)

    for path in ("/nope", "/nope/1", "/secret/guest/42"):
        sent, _ = await _call(middleware, _http_scope("GET", path))
        assert sent[0]["status"] == 404

    assert set(aggregator.window) == {(UNMATCHED_ROUTE, "GET", 4)}
    assert aggregator.window[(UNMATCHED_ROUTE, "GET", 4)].count == 3


async def test_a_matched_route_with_the_wrong_method_keeps_its_template() -> None:
    aggregator = _aggregator()
    sent, _ = await _call(MetricsMiddleware(ROUTER, aggregator), _http_scope("PUT", "/things/3"))

    assert sent[0]["status"] == 405
    assert set(aggregator.window) == {("/things/{thing_id}", "PUT", 4)}


async def test_unknown_methods_are_grouped() -> None:
    aggregator = _aggregator()
    await _call(MetricsMiddleware(ROUTER, aggregator), _http_scope("BREW", "/things/3"))

    assert set(aggregator.window) == {("/things/{thing_id}", "OTHER", 4)}


async def test_an_exception_is_recorded_as_500_and_reraised() -> None:
    aggregator = _aggregator()

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    middleware = MetricsMiddleware(failing, aggregator)
    with pytest.raises(RuntimeError, match="boom"):
        await middleware(_http_scope("GET", "/x"), _never_receive, _discard)

    aggregate = aggregator.window[(UNMATCHED_ROUTE, "GET", 5)]
    assert (aggregate.count, aggregate.errors) == (1, 1)
    assert aggregator.active_requests == 0
    assert current_request_stats() is None


async def test_an_exception_after_the_response_started_counts_as_500() -> None:
    aggregator = _aggregator()

    async def breaks_midway(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ConnectionError("stream broke")

    with pytest.raises(ConnectionError):
        await MetricsMiddleware(breaks_midway, aggregator)(
            _http_scope("GET", "/x"), _never_receive, _discard
        )

    aggregate = aggregator.window[(UNMATCHED_ROUTE, "GET", 5)]
    assert (aggregate.count, aggregate.errors, aggregate.response_bytes) == (1, 1, 7)


@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_other_scopes_pass_straight_through(scope_type: str) -> None:
    aggregator = _aggregator()
    seen: list[tuple[Scope, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, send))
        assert current_request_stats() is None

    scope: Scope = {"type": scope_type, "asgi": {"version": "3.0"}}
    await MetricsMiddleware(app, aggregator)(scope, _never_receive, _discard)

    assert seen == [(scope, _discard)]
    assert aggregator.window == {}
    assert aggregator.active_requests == 0


async def test_request_id_is_taken_when_sane_and_generated_otherwise() -> None:
    aggregator = _aggregator()
    seen: list[tuple[str, int | None]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        stats = current_request_stats()
        assert stats is not None
        seen.append((stats.request_id, stats.client_id))
        await PlainTextResponse("ok")(scope, receive, send)

    middleware = MetricsMiddleware(app, aggregator)
    cases = [
        [(b"x-request-id", b"abc-123_DEF.9"), (b"x-client-id", b"42")],
        [(b"x-request-id", b"has space"), (b"x-client-id", b"-1")],
        [(b"x-request-id", b"a" * 65), (b"x-client-id", b"9" * 19)],
        [],
        [],
    ]
    echoed = [
        (await _call(middleware, _http_scope("GET", "/x", headers)))[1]["x-request-id"]
        for headers in cases
    ]

    assert seen[0] == ("abc-123_DEF.9", 42)
    assert [client for _, client in seen[1:]] == [None, None, None, None]
    assert echoed == [request_id for request_id, _ in seen]
    generated = echoed[1:]
    assert len(set(generated)) == len(generated)
    assert all(request_id not in ("has space", "a" * 65) for request_id in generated)


async def test_the_response_header_list_of_the_app_is_not_mutated() -> None:
    # A response object reused for several requests must not collect one id per request.
    response = PlainTextResponse("shared")
    aggregator = _aggregator()
    middleware = MetricsMiddleware(response, aggregator)

    first = (await _call(middleware, _http_scope("GET", "/x")))[1]["x-request-id"]
    second = (await _call(middleware, _http_scope("GET", "/x")))[1]["x-request-id"]

    assert first != second
    assert b"x-request-id" not in {name for name, _ in response.raw_headers}


async def _ran_statements(scope: Scope, receive: Receive, send: Send) -> None:
    stats = current_request_stats()
    assert stats is not None
    stats.queries = "what the query tracker recorded"
    await ROUTER(scope, receive, send)


async def test_the_request_finished_hook_gets_each_request_that_ran_statements() -> None:
    finished: list[tuple[str, str]] = []

    def finish(stats: RequestStats, route: str) -> None:
        finished.append((stats.request_id, route))

    middleware = MetricsMiddleware(_ran_statements, _aggregator(), finish_request=finish)
    for path, request_id in (("/things/1", b"one"), ("/elsewhere", b"two")):
        await _call(middleware, _http_scope("GET", path, [(b"x-request-id", request_id)]))
    # A request that ran no statement (a cache hit) has nothing to fold in.
    quiet = MetricsMiddleware(ROUTER, _aggregator(), finish_request=finish)
    await _call(quiet, _http_scope("GET", "/things/2", [(b"x-request-id", b"three")]))

    assert finished == [("one", "/things/{thing_id}"), ("two", UNMATCHED_ROUTE)]


async def _never_receive() -> Message:  # pragma: no cover - the apps above never read
    raise AssertionError("receive was not expected")


async def _discard(message: Message) -> None:
    pass
