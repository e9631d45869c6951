"""HTTP routes of the performance report: /api/admin/performance/{report,endpoints,queries,live}.

Every route asks the platform's authorizer for the viewer role before anything else (and
hides sensitive fields from callers who are not admins: perf.admin.redaction), and
answers an unknown query parameter, period, sort or order with a 400 problem naming the valid
values. Reports read the rollup tables, so they cover every worker; the live feed is the
in-memory view of the worker that serves the stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Annotated, TypeVar

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import StreamingResponse

from banrimkwae.perf.access import RequireRole
from banrimkwae.perf.admin.config_router import accepts, choice, offset_page
from banrimkwae.perf.admin.redaction import for_caller, payload_for_caller
from banrimkwae.perf.admin.report import (
    ENDPOINT_SORTS,
    PERIODS,
    QUERY_SORTS,
    Period,
    Window,
    attach_plans,
    build_report,
    endpoint_stats,
    query_stats,
    read_fingerprints,
    read_request_rollups,
    sort_endpoints,
    sort_fingerprints,
)
from banrimkwae.perf.admin.schemas import (
    EndpointStats,
    Page,
    PerformanceReport,
    QueryStats,
)
from banrimkwae.perf.problems import problem_responses

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform

T = TypeVar("T")

DEFAULT_PERIOD = "24h"
ORDERS = ("desc", "asc")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 100_000
LIVE_INTERVAL = 1.0

PeriodParam = Annotated[
    str,
    Query(
        description="How far back the figures reach.",
        json_schema_extra={"enum": list(PERIODS)},
    ),
]
OrderParam = Annotated[
    str, Query(description="Sort direction.", json_schema_extra={"enum": list(ORDERS)})
]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
OffsetParam = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]


def _window(period: str) -> Window:
    chosen: Period = PERIODS[choice("period", period, list(PERIODS))]
    return Window.ending(chosen, time.time())


def _page(items: Sequence[T], request: Request, limit: int, offset: int) -> Page[T]:
    """One page of a list already held in memory."""
    window = items[offset : offset + limit]
    return offset_page(window, request, limit=limit, offset=offset, total=len(items))


def performance_router(platform: Platform) -> APIRouter:
    router = APIRouter(
        prefix="/api/admin/performance",
        tags=["performance"],
        dependencies=[Depends(RequireRole(platform.authorize, "viewer"))],
        # Failed authentication is rate-limited (perf.admin.ratelimit).
        responses=problem_responses(429),
    )
    sessions = platform.database.sessions

    @router.get(
        "/report",
        response_model=PerformanceReport,
        responses=problem_responses(400, 401, 403),
        dependencies=[accepts("period")],
    )
    async def report(request: Request, period: PeriodParam = DEFAULT_PERIOD) -> PerformanceReport:
        """Summary, slowest endpoints, trends, cache, database and recommendations."""
        window = _window(period)
        async with sessions() as session:
            return for_caller(request, await build_report(session, window))

    @router.get(
        "/endpoints",
        response_model=Page[EndpointStats],
        responses=problem_responses(400, 401, 403, 422),
        dependencies=[accepts("period", "sort", "order", "limit", "offset")],
    )
    async def endpoints(
        request: Request,
        period: PeriodParam = DEFAULT_PERIOD,
        sort: Annotated[
            str, Query(description="Order by.", json_schema_extra={"enum": list(ENDPOINT_SORTS)})
        ] = "p95",
        order: OrderParam = "desc",
        limit: LimitParam = DEFAULT_LIMIT,
        offset: OffsetParam = 0,
    ) -> Page[EndpointStats]:
        """Every endpoint served in the period, with its latency, errors and cache figures."""
        window = _window(period)
        choice("sort", sort, ENDPOINT_SORTS)
        descending = choice("order", order, ORDERS) == "desc"
        async with sessions() as session:
            rollups = await read_request_rollups(session, window)
        stats = [endpoint_stats(key, agg, window) for key, agg in rollups.endpoints.items()]
        ordered = sort_endpoints(stats, sort, descending=descending)
        return for_caller(request, _page(ordered, request, limit, offset))

    @router.get(
        "/queries",
        response_model=Page[QueryStats],
        responses=problem_responses(400, 401, 403, 422),
        dependencies=[accepts("period", "sort", "order", "limit", "offset")],
    )
    async def queries(
        request: Request,
        period: PeriodParam = DEFAULT_PERIOD,
        sort: Annotated[
            str, Query(description="Order by.", json_schema_extra={"enum": list(QUERY_SORTS)})
        ] = "total_time",
        order: OrderParam = "desc",
        limit: LimitParam = DEFAULT_LIMIT,
        offset: OffsetParam = 0,
    ) -> Page[QueryStats]:
        """Statement fingerprints of the period with their cost, N+1 flags and latest plan."""
        window = _window(period)
        choice("sort", sort, QUERY_SORTS)
        descending = choice("order", order, ORDERS) == "desc"
        async with sessions() as session:
            fingerprints = await read_fingerprints(session, window)
            ordered = sort_fingerprints(fingerprints, sort, descending=descending)
            shown = ordered[offset : offset + limit]
            await attach_plans(session, shown)
        page = _page(ordered, request, limit, offset)
        return for_caller(
            request,
            Page[QueryStats](
                data=[query_stats(fingerprint) for fingerprint in page.data],
                links=page.links,
                meta=page.meta,
            ),
        )

    # An endless event stream: neither describable in OpenAPI nor something a contract
    # fuzzer can call, so it stays out of the document.
    @router.get(
        "/live",
        responses=problem_responses(400, 401, 403, 422),
        dependencies=[accepts("once")],
        include_in_schema=False,
    )
    async def live(
        request: Request,
        once: Annotated[bool, Query(description="Send one event, then close.")] = False,
    ) -> StreamingResponse:
        """Server-sent events: each second, the last minute of this worker at 1 s resolution.

        With several workers the feed is the view of the worker serving the stream.
        """
        return StreamingResponse(
            _live_events(platform, request, once=once),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


async def _live_events(platform: Platform, request: Request, *, once: bool) -> AsyncIterator[bytes]:
    worker = platform.config.worker
    while True:
        now = time.time()
        series = [{"max_ms": None, **point} for point in platform.requests.live_series(now)]
        payload = {"worker": worker, "generated_at": now, "series": series}
        payload = payload_for_caller(request, payload)
        yield b"id: %d\ndata: %s\n\n" % (int(now), orjson.dumps(payload))
        if once or await request.is_disconnected():
            return
        # On the next whole second, so each event closes the second before it.
        await asyncio.sleep(LIVE_INTERVAL - now % LIVE_INTERVAL)
