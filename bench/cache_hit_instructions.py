"""Instructions per cache hit (callgrind): the platform as served, its layers, the ceiling.

    .venv/bin/python -m bench.cache_hit_instructions [--requests 2000] [--path /api/v1/properties]

The served benchmark (bench.cache_hit) is noisy on a shared machine; instruction counts are
not. Each variant runs in its own process under valgrind's callgrind, in-process over ASGI
(no sockets, no server), counting only the measured requests after an uncounted warm-up:

- `served`: `Platform.wrap(app)`, as `banrimkwae serve` builds it:
  Metrics(Cache(Compression(app))), the default policies, a hit every time;
- `no-metrics`: Cache(Compression(app)), the same cache without the metrics middleware;
- `bare`: an ASGI function sending the same bytes, pre-encoded (the ceiling).

`served` minus `no-metrics` is what the metrics middleware (timer, request id, aggregation,
query-tracker hook) costs per hit. The lifespan is not entered, so no timer-driven work
(flusher, sampler) is counted; the policies are loaded once by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from banrimkwae.app import create_fastapi_app
from banrimkwae.config import Settings
from banrimkwae.perf.platform import Platform
from banrimkwae.perf.responses.compression import CompressionMiddleware
from bench.harness import callgrind_control, prepare_database, valgrind_binary

VARIANTS = ("served", "no-metrics", "bare")
_WARMUP = 300
_COLLECTED = re.compile(r"Collected : (\d+)")


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Collect:
    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = dict(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


def _bare(body: bytes, content_type: bytes) -> ASGIApp:
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
    }
    message = {"type": "http.response.body", "body": body}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send(message)

    return app


async def _discard(message: Message) -> None:
    return None


async def child(variant: str, database: Path, path: str, requests: int) -> None:
    """Under callgrind: build the variant, warm up uncounted, count `requests` hits."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        token_secret="cache-hit-instructions-secret-0123456789",
        platform_enabled=True,
    )
    fastapi_app = create_fastapi_app(settings)
    platform: Platform = fastapi_app.state.platform
    assert platform.cache is not None
    await platform.cache.reloader.reload()
    cached = platform.cache.wrap(CompressionMiddleware(fastapi_app, min_size=1024))
    served = platform.wrap(fastapi_app)
    first = _Collect()
    await served(_scope(path), _receive, first)
    app: ASGIApp
    if variant == "served":
        app = served
    elif variant == "no-metrics":
        app = cached
    else:
        app = _bare(first.body, first.headers.get(b"content-type", b"application/json"))
    check = _Collect()
    for _ in range(_WARMUP):
        check = _Collect()
        await app(_scope(path), _receive, check)
    if variant != "bare" and not check.headers.get(b"x-cache", b"").startswith(b"HIT"):
        raise SystemExit(f"{variant}: not a cache hit: {check.status} {check.headers}")
    if check.body != first.body:
        raise SystemExit(f"{variant}: a different body")
    scopes = [_scope(path) for _ in range(requests)]
    callgrind_control("on")
    for scope in scopes:
        await app(scope, _receive, _discard)
    callgrind_control("off")
    await fastapi_app.state.database.dispose()


def measure(path: str, requests: int) -> dict[str, float]:
    valgrind = valgrind_binary()
    seeded = prepare_database("sqlite", scale="small")
    source = Path(seeded.url.split(":///", 1)[1])
    per_request: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        processes = {}
        for variant in VARIANTS:
            database = Path(tmp) / f"{variant}.db"
            shutil.copyfile(source, database)
            command = [
                valgrind,
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={tmp}/{variant}.callgrind",
                sys.executable,
                "-m",
                "bench.cache_hit_instructions",
                "--child",
                variant,
                "--database",
                str(database),
                "--path",
                path,
                "--requests",
                str(requests),
            ]
            processes[variant] = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        for variant, process in processes.items():
            _out, err = process.communicate()
            found = _COLLECTED.search(err)
            if process.returncode != 0 or found is None or int(found.group(1)) == 0:
                raise SystemExit(f"{variant}: the callgrind run failed:\n{err[-3000:]}")
            per_request[variant] = int(found.group(1)) / requests
    return per_request


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_hit_instructions")
    parser.add_argument("--path", default="/api/v1/properties")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(child(args.child, args.database, args.path, args.requests))
        return 0
    counts = measure(args.path, args.requests)
    bare = counts["bare"]
    print(f"Instructions per request (callgrind), GET {args.path}, {args.requests} hits each.")
    print()
    print("| variant | instructions/request | x bare |")
    print("|---|---:|---:|")
    for variant, value in counts.items():
        print(f"| {variant} | {value:,.0f} | {value / bare:.2f} |")
    print()
    print(f"metrics middleware per hit: {counts['served'] - counts['no-metrics']:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
