"""Per-request cost of monitoring on the real resort app, measured where the noise is small.

Three variants of the resort API, each on its own copy of one seeded SQLite database, replay
the same request sequence in-process over ASGI (no sockets, no HTTP client, no wrk):

- `naive`: the platform off;
- `platform`: the monitoring stack as `Platform` builds it (metrics middleware outermost,
  query tracking on the engine, aggregator, flusher and sampler running in the lifespan),
  without the response layers (cache, compression), which are not monitoring;
- `instrumentator`: the naive app instrumented by prometheus-fastapi-instrumentator (the peer).

Two measures, both per request:

- CPU time (`time.process_time`) over alternating rounds, medians: what it costs in seconds,
  but moved by whatever else runs on a shared two-core machine;
- instructions counted by valgrind's callgrind (`--instructions`): one run per variant, with
  counting switched on only around the measured requests. Repeatable to a fraction of a
  percent whatever the machine is doing; the number to compare variants by.

    .venv/bin/python -m bench.overhead [--workload fast|resort-read-mix] [--requests 400]
        [--rounds 7] [--instructions] [--scale small]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.types import ASGIApp, Message

from banrimkwae.app import create_fastapi_app
from banrimkwae.config import Settings
from banrimkwae.migrate import upgrade
from banrimkwae.perf.metrics.middleware import MetricsMiddleware
from banrimkwae.perf.platform import Platform
from banrimkwae.resort.auth import issue_token
from banrimkwae.seed import seed_database
from bench.harness import callgrind_control, valgrind_binary
from bench.workloads import Request, RequestPlan, load_workload

VARIANTS = ("naive", "platform", "instrumentator")
_SECRET = "overhead-benchmark-secret-0123456789abcdef"
_WARMUP = 200


def _settings(database: Path, *, platform: bool) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        token_secret=_SECRET,
        platform_enabled=platform,
    )


def build(variant: str, database: Path) -> tuple[FastAPI, ASGIApp]:
    """The FastAPI app (for its lifespan) and what is called for each request."""
    app = create_fastapi_app(_settings(database, platform=variant == "platform"))
    if variant == "platform":
        platform: Platform = app.state.platform
        return app, MetricsMiddleware(
            app, platform.requests, finish_request=platform.queries.finish_request
        )
    if variant == "instrumentator":
        Instrumentator(registry=CollectorRegistry()).instrument(app)
    return app, app


class Replay:
    """The request sequence as ASGI scopes, with guest tokens made once."""

    def __init__(self, requests: Sequence[Request]) -> None:
        tokens: dict[int, bytes] = {}
        self.calls: list[tuple[dict[str, Any], bytes]] = []
        for request in requests:
            path, _, query = request.path.partition("?")
            headers = [(b"host", b"bench"), (b"accept", b"application/json")]
            if request.guest_id is not None:
                token = tokens.get(request.guest_id)
                if token is None:
                    token = tokens[request.guest_id] = issue_token(
                        _SECRET, request.guest_id, "guest", 3600
                    ).encode()
                headers.append((b"authorization", b"Bearer " + token))
            body = (request.body or "").encode()
            if request.body is not None:
                headers.append((b"content-type", b"application/json"))
                headers.append((b"content-length", str(len(body)).encode()))
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": request.method,
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "root_path": "",
                "query_string": query.encode(),
                "headers": headers,
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
            }
            self.calls.append((scope, body))
        self.statuses: dict[int, int] = {}

    async def run(self, app: ASGIApp, start: int, count: int) -> None:
        statuses = self.statuses
        for index in range(start, start + count):
            scope, body = self.calls[index % len(self.calls)]

            async def receive(body: bytes = body) -> Message:
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    statuses[status] = statuses.get(status, 0) + 1

            await app(dict(scope), receive, send)


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield


async def prepare(directory: Path, scale: str) -> Path:
    """A migrated, seeded SQLite database to copy for every variant."""
    database = directory / "seeded.db"
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade(url)
    await seed_database(url, scale, seed=1, progress=False)
    return database


def copy_database(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


async def requests_for(workload: str, database: Path, count: int) -> list[Request]:
    loaded = await load_workload(workload, f"sqlite+aiosqlite:///{database}", seed=1)
    plan = RequestPlan(count=count, round_key="overhead", write_slice=0, write_slices=1)
    return loaded.requests(plan)


# --- CPU time, alternating rounds ---------------------------------------------------------


async def measure_cpu(
    workload: str, scale: str, requests: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, dict[int, int]], list[float]]:
    """CPU seconds per request per round and variant; and the CPU seconds of each flush.

    The flusher and sampler run as served (the lifespan is entered). After each round the
    platform's flush is also run once by hand and timed: the periodic cost that does not grow
    with the request rate.
    """
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        seeded = await prepare(directory, scale)
        sequence = await requests_for(workload, seeded, _WARMUP + requests * rounds)
        replay = {variant: Replay(sequence) for variant in VARIANTS}
        async with contextlib.AsyncExitStack() as stack:
            apps: dict[str, ASGIApp] = {}
            platform: Platform | None = None
            for variant in VARIANTS:
                app, served = build(variant, copy_database(seeded, directory / f"{variant}.db"))
                await stack.enter_async_context(serving(app))
                apps[variant] = served
                platform = app.state.platform or platform
                await replay[variant].run(served, 0, _WARMUP)
            assert platform is not None
            timings: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
            flush_seconds: list[float] = []
            for round_index in range(rounds):
                start = _WARMUP + round_index * requests
                for variant, served in apps.items():
                    began = time.process_time()
                    await replay[variant].run(served, start, requests)
                    timings[variant].append((time.process_time() - began) / requests)
                began = time.process_time()
                await platform.metrics_flusher.flush()
                await platform.queries.flush()
                flush_seconds.append(time.process_time() - began)
        return timings, {variant: replay[variant].statuses for variant in VARIANTS}, flush_seconds


# --- instructions, one callgrind run per variant --------------------------------------------

_COLLECTED = re.compile(r"Collected : (\d+)")


async def child(variant: str, workload: str, database: Path, requests: int) -> None:
    """Run inside callgrind: warm up uncounted, count `requests` requests, stop counting.

    The lifespan is not entered, so the platform's timer-driven work (flusher, sampler) does
    not run: under callgrind a second of wall time holds some fifty times fewer requests than
    it does natively, and the timers would be over-counted by as much. Their cost is measured
    apart, natively, per flush (see `measure_cpu`).
    """
    sequence = await requests_for(workload, database, _WARMUP + requests)
    replay = Replay(sequence)
    app, served = build(variant, database)
    try:
        await replay.run(served, 0, _WARMUP)
        callgrind_control("on")
        await replay.run(served, _WARMUP, requests)
        callgrind_control("off")
    finally:
        await app.state.database.dispose()
    print(" ".join(f"{status}:{count}" for status, count in sorted(replay.statuses.items())))


def measure_instructions(workload: str, scale: str, requests: int) -> dict[str, float]:
    valgrind = valgrind_binary()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        seeded = asyncio.run(prepare(directory, scale))
        processes: dict[str, subprocess.Popen[str]] = {}
        for variant in VARIANTS:
            database = copy_database(seeded, directory / f"{variant}.db")
            command = [
                valgrind,
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={directory / variant}.callgrind",
                sys.executable,
                "-m",
                "bench.overhead",
                "--child",
                variant,
                "--workload",
                workload,
                "--requests",
                str(requests),
                "--database",
                str(database),
            ]
            processes[variant] = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        per_request: dict[str, float] = {}
        for variant, process in processes.items():
            out, err = process.communicate()
            found = _COLLECTED.search(err)
            if process.returncode != 0 or found is None or int(found.group(1)) == 0:
                raise SystemExit(f"{variant}: the callgrind run failed:\n{err[-2000:]}")
            per_request[variant] = int(found.group(1)) / requests
            print(f"{variant}: statuses {out.strip()}", file=sys.stderr)
        return per_request


# --- report -----------------------------------------------------------------------------------


def report_cpu(
    timings: dict[str, list[float]],
    statuses: dict[str, dict[int, int]],
    flush_seconds: list[float],
    workload: str,
    args: Any,
) -> str:
    base = statistics.median(timings["naive"]) * 1e6
    lines = [
        f"CPU time per request, in-process, workload `{workload}` on SQLite ({args.scale}): "
        f"{args.rounds} alternating rounds of {args.requests} requests per variant; medians.",
        "",
        "| variant | CPU µs/request | overhead µs | vs naive | statuses |",
        "|---|---:|---:|---:|---|",
    ]
    for variant, values in timings.items():
        median = statistics.median(values) * 1e6
        seen = ", ".join(f"{code}: {n}" for code, n in sorted(statuses[variant].items()))
        lines.append(
            f"| {variant} | {median:,.1f} | {median - base:+,.1f} | {median / base:.3f} | {seen} |"
        )
    lines += [
        "",
        f"One flush of the platform's in-memory aggregates after a round: median "
        f"{statistics.median(flush_seconds) * 1e3:.1f} ms CPU (at the default 10 s interval, "
        f"{statistics.median(flush_seconds) / 10 * 100:.2f}% of one core).",
    ]
    return "\n".join(lines)


def report_instructions(per_request: dict[str, float], workload: str, args: Any) -> str:
    base = per_request["naive"]
    lines = [
        f"Instructions per request (callgrind), in-process, workload `{workload}` on SQLite "
        f"({args.scale}): {args.requests} requests per variant after {_WARMUP} uncounted.",
        "",
        "| variant | instructions/request | overhead | vs naive |",
        "|---|---:|---:|---:|",
    ]
    for variant, value in per_request.items():
        lines.append(f"| {variant} | {value:,.0f} | {value - base:+,.0f} | {value / base:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workload", choices=("fast", "resort-read-mix"), default="fast")
    parser.add_argument("--scale", choices=("small", "medium"), default="small")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rounds < 1:
        parser.error("--requests and --rounds must be at least 1")
    if args.child:
        asyncio.run(child(args.child, args.workload, args.database, args.requests))
    elif args.instructions:
        per_request = measure_instructions(args.workload, args.scale, args.requests)
        print(report_instructions(per_request, args.workload, args))
    else:
        timings, statuses, flush_seconds = asyncio.run(
            measure_cpu(args.workload, args.scale, args.requests, args.rounds)
        )
        print(report_cpu(timings, statuses, flush_seconds, args.workload, args))


if __name__ == "__main__":
    main()
