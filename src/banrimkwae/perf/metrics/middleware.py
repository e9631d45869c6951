"""The outermost middleware: times every HTTP request and hands it to the aggregator.

Pure ASGI: nothing but configuration is kept on the instance beyond a request-id counter;
each request's state lives in the call. The request body is never read (its size is the
Content-Length header) and the response is observed by wrapping `send`. The route template
is read from the scope after the application returned: Starlette's router writes the matched
route into the very scope dict it was given, so any middleware between here and the router
must pass the scope on rather than a copy.

A cache hit costs about as much as this middleware's own work, so an L1 hit is answered
here, through `answer_early` (the response cache's `answer_from_memory`): one lookup, two
sends and one `record`, no request context, no wrapped `send`, no call down the stack.
Every other request's path is kept flat: `send` is wrapped by a plain function that returns
the downstream awaitable (no coroutine of its own per message), the query tracker's hook runs
only for requests that ran statements, and the aggregator takes one call.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from itertools import count
from time import perf_counter, time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from banrimkwae.perf.metrics.aggregator import UNMATCHED_ROUTE, RequestAggregator
from banrimkwae.perf.metrics.context import RequestStats, begin_request, end_request

REQUEST_ID_HEADER = b"x-request-id"
CLIENT_ID_HEADER = b"x-client-id"
# A caller's request id is echoed only when it is a plain token: it ends up in logs and rows.
_sane_request_id = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,63}").fullmatch
# Methods outside this set share one key, so odd methods cannot grow the aggregates.
_KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
)
# What `record` reads of an L1 hit answered early (no statements, no user) without a client id.
_ANONYMOUS_HIT = RequestStats("", cache_hit=True)
# Client ids are BIGINT UNSIGNED; 18 digits always fit.
_MAX_CLIENT_ID_DIGITS = 18


# Called with the request's stats and route template once a request that ran statements
# (`stats.queries` set by the query tracker) is over; must not raise.
RequestFinished = Callable[[RequestStats, str], None]
# A layer inside that can answer some requests at once, without the application: status,
# headers (a new list, extended here), body, route template; None sends the request down.
# The response cache's L1 hits (ResponseCacheMiddleware.answer_from_memory).
AnswerEarly = Callable[[Scope], tuple[int, list[tuple[bytes, bytes]], bytes, str] | None]


class MetricsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        aggregator: RequestAggregator,
        *,
        finish_request: RequestFinished | None = None,
        answer_early: AnswerEarly | None = None,
    ) -> None:
        self.app = app
        self.answer_early = answer_early
        self.aggregator = aggregator
        # The query tracker's hook: statements are only attributed to a route at the end.
        self.finish_request = finish_request
        # Generated request ids: a random per-process prefix and a counter. Unique enough
        # across workers, and far cheaper than uuid4, which reads the OS entropy source.
        self._id_prefix = (secrets.token_hex(4) + "-").encode("ascii")
        self._id_counter = count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id: bytes | None = None
        request_bytes = 0
        client_id: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit():
                    request_bytes = int(value)
            elif name == REQUEST_ID_HEADER:
                if _sane_request_id(value):
                    request_id = value
            elif (
                name == CLIENT_ID_HEADER and value.isdigit() and len(value) <= _MAX_CLIENT_ID_DIGITS
            ):
                client_id = int(value)
        if request_id is None:
            request_id = b"%s%x" % (self._id_prefix, next(self._id_counter))
        id_header = (REQUEST_ID_HEADER, request_id)
        # Until the application starts a response, a failure is what the server will send.
        status = 500
        response_bytes = 0
        aggregator = self.aggregator
        started = perf_counter()
        if self.answer_early is not None:
            early = self.answer_early(scope)
            if early is not None:
                # Sent here and measured like any other request (the look-up included); no
                # request context is set up, for no application code runs.
                status, headers, body, route = early
                headers.append(id_header)
                aggregator.active_requests += 1
                try:
                    start = {"type": "http.response.start", "status": status, "headers": headers}
                    await send(start)
                    await send({"type": "http.response.body", "body": body})
                except Exception:
                    status = 500
                    raise
                finally:
                    aggregator.active_requests -= 1
                    # Read, never kept: one shared record serves every hit without a client
                    # id (RawSample copies what it needs).
                    hit = (
                        _ANONYMOUS_HIT
                        if client_id is None
                        else RequestStats("", client_id=client_id, cache_hit=True)
                    )
                    self._record(scope, route, status, started, request_bytes, len(body), hit)
                return
        stats = RequestStats(request_id.decode("ascii"), client_id=client_id)

        # Not a coroutine function: the caller awaits what `send` returns.
        def observed_send(message: Message) -> Awaitable[None]:
            nonlocal status, response_bytes
            kind = message["type"]
            if kind == "http.response.body":
                response_bytes += len(message.get("body", b""))
            elif kind == "http.response.start":
                status = message["status"]
                # A new list: the application may reuse its own header list across responses.
                message["headers"] = [*message.get("headers", ()), id_header]
            return send(message)

        aggregator.active_requests += 1
        token = begin_request(stats)
        try:
            await self.app(scope, receive, observed_send)
        except Exception:
            status = 500
            raise
        finally:
            end_request(token)
            aggregator.active_requests -= 1
            route = getattr(scope.get("route"), "path_format", None) or UNMATCHED_ROUTE
            if stats.queries is not None and self.finish_request is not None:
                self.finish_request(stats, route)
            self._record(scope, route, status, started, request_bytes, response_bytes, stats)

    def _record(
        self,
        scope: Scope,
        route: str,
        status: int,
        started: float,
        request_bytes: int,
        response_bytes: int,
        stats: RequestStats,
    ) -> None:
        duration_ms = (perf_counter() - started) * 1000.0
        method = scope["method"]
        self.aggregator.record(
            route,
            method if method in _KNOWN_METHODS else "OTHER",
            status,
            duration_ms,
            request_bytes,
            response_bytes,
            stats,
            time(),
        )
