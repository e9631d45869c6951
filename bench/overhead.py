"""Per-request cost of monitoring, measured in-process where the machine's noise is small.

Three apps serve the same trivial route (`GET /api/v1/ping` answering a small JSON body):
the bare FastAPI app, the same app wrapped by the platform's monitoring (middleware,
aggregator, query-tracker hook; as `create_app` wraps it), and the same app instrumented by
prometheus-fastapi-instrumentator (the peer). Each is called directly over ASGI (no sockets,
no HTTP client) in alternating batches; the report gives the median time per request and the
overhead over the bare app, in microseconds and as a ratio.

    .venv/bin/python -m bench.overhead [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.types import ASGIApp, Message

from banrimkwae.perf.access import allow_all
from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import Database
from banrimkwae.perf.platform import Platform

_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/api/v1/ping",
    "raw_path": b"/api/v1/ping",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"bench"), (b"accept", b"application/json")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


def _bare() -> FastAPI:
    app = FastAPI()

    @app.get("/api/v1/ping")
    async def ping() -> dict[str, object]:
        return {"ok": True, "service": "banrimkwae"}

    return app


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(_message: Message) -> None:
    return None


async def _time_batch(app: ASGIApp, requests: int) -> float:
    """Seconds per request over one batch."""
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(_SCOPE), _receive, _send)
    return (time.perf_counter() - started) / requests


def build_apps(database_url: str) -> dict[str, ASGIApp]:
    bare = _bare()
    monitored = _bare()
    platform = Platform(MonitoringConfig(), Database(database_url), allow_all)
    platform.instrument(platform.database.engine)
    peer = _bare()
    Instrumentator(registry=CollectorRegistry()).instrument(peer)
    return {"bare": bare, "platform": platform.wrap(monitored), "instrumentator": peer}


async def measure(requests: int, rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as directory:
        apps = build_apps(f"sqlite+aiosqlite:///{directory}/unused.db")
        for app in apps.values():  # warm-up: imports, caches, first-call paths
            await _time_batch(app, 2_000)
        timings: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(rounds):
            for name, app in apps.items():
                timings[name].append(await _time_batch(app, requests))
        return timings


def report(timings: dict[str, list[float]], requests: int, rounds: int) -> str:
    bare = statistics.median(timings["bare"]) * 1e6
    lines = [
        f"In-process ASGI calls of `GET /api/v1/ping`: {rounds} alternating rounds of "
        f"{requests:,} requests per app; medians.",
        "",
        "| app | µs/request | overhead µs | vs bare |",
        "|---|---:|---:|---:|",
    ]
    for name, values in timings.items():
        median = statistics.median(values) * 1e6
        lines.append(f"| {name} | {median:.1f} | {median - bare:+.1f} | {median / bare:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    run: Callable[[], Awaitable[dict[str, list[float]]]] = lambda: measure(  # noqa: E731
        args.requests, args.rounds
    )
    print(report(asyncio.run(run()), args.requests, args.rounds))


if __name__ == "__main__":
    main()
