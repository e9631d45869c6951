"""Compression on the resort's own payloads: bytes on the wire, CPU per response, throughput.

    .venv/bin/python -m bench.compression [--scale small] [--payloads 300] [--rounds 7]
        [--levels] [--served --served-rounds 3 --duration 15]

1. Payloads: the GET responses of the resort read mix (the request list `bench.run` drives),
   fetched once in identity from the naive app over the seeded bench database.
2. Middlewares, in-process (a tiny app sends each payload as FastAPI's JSONResponse does):
   the platform's CompressionMiddleware in br, zstd and gzip at DYNAMIC_LEVELS, Starlette's
   GZipMiddleware at its defaults and brotli-asgi at its defaults, in interleaved rounds;
   CPU is this thread's CPU time (time.thread_time_ns), so other processes do not count.
   The table gives medians over rounds and the ratios to Starlette's GZipMiddleware.
3. `--levels`: every level of every coding on the same payloads (how DYNAMIC_LEVELS was
   chosen): bytes and CPU per response.
4. `--served`: the read mix under wrk against `compression` (the naive app wrapped by the
   CompressionMiddleware alone), `starlette-gzip` and `brotli-asgi`, with a browser's
   Accept-Encoding, through bench.harness (fresh server per run, interleaved rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from brotli_asgi import BrotliMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from banrimkwae.app import create_fastapi_app
from banrimkwae.config import Settings
from banrimkwae.perf.responses.codecs import BEST_LEVELS, DYNAMIC_LEVELS, compress
from banrimkwae.perf.responses.compression import CompressionMiddleware
from bench.harness import (
    RESULTS_DIR,
    BenchConfig,
    _Tokens,
    parse_variant,
    prepare_database,
    run_benchmark,
)
from bench.run import render_markdown
from bench.workloads import RequestPlan, load_workload

BROWSER_ACCEPT_ENCODING = "gzip, deflate, br, zstd"
_LEVEL_RANGES = {"gzip": range(1, 10), "br": range(0, 12), "zstd": (1, 2, 3, 4, 5, 6, 9, 12, 19)}


@dataclass(frozen=True, slots=True)
class Payload:
    kind: str
    path: str
    body: bytes


async def collect_payloads(database_url: str, count: int, seed: int) -> list[Payload]:
    """The first `count` GET responses (200, identity) of the read mix, repeats included,
    so that each kind weighs as much as its share of the mix."""
    workload = await load_workload("resort-read-mix", database_url, seed=seed)
    tokens = _Tokens("bench-compression-secret-0123456789abcdef")
    settings = Settings(
        database_url=database_url, token_secret=tokens.secret, platform_enabled=False
    )
    app = create_fastapi_app(settings)
    payloads: list[Payload] = []
    fetched: dict[str, bytes | None] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for request in workload.requests(RequestPlan(4 * count, "compression", 0, 1)):
                if request.method != "GET":
                    continue
                if request.path not in fetched:
                    headers = {"Accept-Encoding": "identity"}
                    if request.guest_id is not None:
                        headers["Authorization"] = f"Bearer {tokens(request.guest_id)}"
                    response = await client.get(request.path, headers=headers)
                    fetched[request.path] = (
                        response.content if response.status_code == 200 else None
                    )
                body = fetched[request.path]
                if body is not None:
                    payloads.append(Payload(request.kind, request.path, body))
                if len(payloads) == count:
                    break
    return payloads


# --- in-process middleware comparison -----------------------------------------------------


def _payload_app(body: bytes) -> ASGIApp:
    headers = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/json"),
    ]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # A new list per response, as a Starlette Response makes: the peers edit it in place.
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})

    return app


@dataclass(frozen=True, slots=True)
class Contender:
    name: str
    accept_encoding: str
    wrap: Callable[[ASGIApp], ASGIApp]


CONTENDERS: tuple[Contender, ...] = (
    Contender("starlette GZipMiddleware (defaults)", "gzip", lambda app: GZipMiddleware(app)),
    Contender("brotli-asgi (defaults)", "br", lambda app: BrotliMiddleware(app)),
    Contender(f"platform br {DYNAMIC_LEVELS['br']}", "br", lambda app: CompressionMiddleware(app)),
    Contender(
        f"platform zstd {DYNAMIC_LEVELS['zstd']}", "zstd", lambda app: CompressionMiddleware(app)
    ),
    Contender(
        f"platform gzip {DYNAMIC_LEVELS['gzip']}", "gzip", lambda app: CompressionMiddleware(app)
    ),
    Contender("identity (no middleware)", "identity", lambda app: app),
)


async def _one_pass(apps: Sequence[ASGIApp], accept_encoding: str) -> tuple[int, int]:
    """(wire bytes, thread CPU ns) for one response from each app."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"host", b"bench"), (b"accept-encoding", accept_encoding.encode())],
    }
    wire = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal wire
        if message["type"] == "http.response.body":
            wire += len(message.get("body", b""))

    started = time.thread_time_ns()
    for app in apps:
        await app(dict(scope), receive, send)
    return wire, time.thread_time_ns() - started


async def compare_middlewares(payloads: Sequence[Payload], rounds: int) -> list[dict[str, Any]]:
    bodies = [payload.body for payload in payloads]
    wrapped = {c.name: [c.wrap(_payload_app(body)) for body in bodies] for c in CONTENDERS}
    cpu: dict[str, list[float]] = {c.name: [] for c in CONTENDERS}
    wire: dict[str, int] = {}
    for round_number in range(rounds + 1):
        # Each round in another order, so that no contender always runs first.
        order = (
            CONTENDERS[round_number % len(CONTENDERS) :]
            + CONTENDERS[: round_number % len(CONTENDERS)]
        )
        for contender in order:
            total_wire, cpu_ns = await _one_pass(wrapped[contender.name], contender.accept_encoding)
            wire[contender.name] = total_wire
            if round_number:  # round 0 warms up
                cpu[contender.name].append(cpu_ns / 1000 / len(bodies))
    identity = sum(len(body) for body in bodies)
    baseline = CONTENDERS[0].name
    rows = []
    for contender in CONTENDERS:
        median_cpu = statistics.median(cpu[contender.name])
        rows.append(
            {
                "name": contender.name,
                "bytes_per_response": wire[contender.name] / len(bodies),
                "ratio_to_identity": wire[contender.name] / identity,
                "bytes_vs_gzip_defaults": wire[contender.name] / wire[baseline],
                "cpu_us": median_cpu,
                "cpu_vs_gzip_defaults": median_cpu / statistics.median(cpu[baseline]),
            }
        )
    return rows


def level_sweep(payloads: Sequence[Payload], rounds: int) -> list[dict[str, Any]]:
    bodies = [payload.body for payload in payloads]
    identity = sum(len(body) for body in bodies)
    rows = []
    for encoding, levels in _LEVEL_RANGES.items():
        for level in levels:
            samples = []
            size = 0
            for _ in range(rounds):
                started = time.thread_time_ns()
                size = sum(len(compress(body, encoding, level)) for body in bodies)
                samples.append((time.thread_time_ns() - started) / 1000 / len(bodies))
            rows.append(
                {
                    "encoding": encoding,
                    "level": level,
                    "bytes_per_response": size / len(bodies),
                    "ratio_to_identity": size / identity,
                    "cpu_us": statistics.median(samples),
                    "chosen": DYNAMIC_LEVELS[encoding] == level,
                    "best": BEST_LEVELS[encoding] == level,
                }
            )
    return rows


def thread_costs(payloads: Sequence[Payload], rounds: int) -> list[dict[str, Any]]:
    """Compression time by body size against the cost of handing work to a thread."""
    import anyio.to_thread

    distinct = list({payload.path: payload.body for payload in payloads}.values())
    joined = b"[" + b",".join(distinct) + b"]"

    async def hand_off() -> float:
        samples = []
        for _ in range(200):
            started = time.perf_counter_ns()
            await anyio.to_thread.run_sync(int)
            samples.append((time.perf_counter_ns() - started) / 1000)
        return statistics.median(samples)

    rows: list[dict[str, Any]] = [
        {"what": "thread hand-off (anyio.to_thread, no-op)", "us": asyncio.run(hand_off())}
    ]
    for size in (16 * 1024, 64 * 1024, 128 * 1024, 256 * 1024, 512 * 1024):
        body = (joined * (size // len(joined) + 1))[:size]
        for encoding, level in DYNAMIC_LEVELS.items():
            samples = []
            for _ in range(rounds):
                started = time.perf_counter_ns()
                compress(body, encoding, level)
                samples.append((time.perf_counter_ns() - started) / 1000)
            rows.append(
                {
                    "what": f"{encoding} {level}, {size // 1024} KiB",
                    "us": statistics.median(samples),
                }
            )
    return rows


# --- report -------------------------------------------------------------------------------


def _payload_table(payloads: Sequence[Payload]) -> str:
    kinds: dict[str, list[int]] = {}
    for payload in payloads:
        kinds.setdefault(payload.kind, []).append(len(payload.body))
    lines = ["| kind | responses | median bytes | max bytes |", "|---|---:|---:|---:|"]
    # Repeats included: the share of each kind in the mix.
    for kind, sizes in sorted(kinds.items()):
        lines.append(
            f"| {kind} | {len(sizes)} | {statistics.median(sizes):,.0f} | {max(sizes):,} |"
        )
    return "\n".join(lines)


def _middleware_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| middleware | bytes/response | of identity | bytes vs GZip defaults "
        "| CPU µs/response | CPU vs GZip defaults |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['bytes_per_response']:,.0f} | "
            f"{row['ratio_to_identity']:.3f} | {row['bytes_vs_gzip_defaults']:.2f}x | "
            f"{row['cpu_us']:,.1f} | {row['cpu_vs_gzip_defaults']:.2f}x |"
        )
    return "\n".join(lines)


def _level_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| coding | level | bytes/response | of identity | CPU µs/response | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        mark = "dynamic" if row["chosen"] else ("best" if row["best"] else "")
        lines.append(
            f"| {row['encoding']} | {row['level']} | {row['bytes_per_response']:,.0f} | "
            f"{row['ratio_to_identity']:.3f} | {row['cpu_us']:,.1f} | {mark} |"
        )
    return "\n".join(lines)


def _wire_table(report: Any) -> str:
    """Bytes wrk read per response (headers included), median over rounds, per variant."""
    lines = ["| variant | wire bytes/response (headers included) |", "|---|---:|"]
    for variant in report.config.variants:
        per_response = [
            run.result.bytes_read / run.result.requests
            for run in report.runs
            if run.variant == variant.name and run.result.requests
        ]
        if per_response:
            lines.append(f"| {variant.name} | {statistics.median(per_response):,.0f} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.compression", description=__doc__)
    parser.add_argument("--scale", default="small", choices=("small", "medium", "large"))
    parser.add_argument("--payloads", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--levels", action="store_true", help="also sweep every level")
    parser.add_argument("--thread", action="store_true", help="also time the thread hand-off")
    parser.add_argument("--served", action="store_true", help="also run the read mix under wrk")
    parser.add_argument("--served-rounds", type=int, default=3)
    parser.add_argument(
        "--served-variants",
        nargs="+",
        default=["starlette-gzip", "brotli-asgi", "compression", "naive"],
        help="bench.run variants; the first is the baseline of the ratios",
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database = prepare_database("sqlite", scale=args.scale, results_dir=args.results_dir)
    print(f"database: {database.detail}", file=sys.stderr)
    payloads = asyncio.run(collect_payloads(database.url, args.payloads, args.seed))
    if not payloads:
        print("no payloads: the read mix answered nothing with 200", file=sys.stderr)
        return 1
    identity = sum(len(p.body) for p in payloads)
    distinct = len({p.path for p in payloads})
    out = [
        "# Compression on resort payloads",
        "",
        f"`{' '.join(['python -m bench.compression', *(argv or sys.argv[1:])])}`",
        "",
        f"{len(payloads)} read-mix GET responses ({distinct} distinct), "
        f"{identity / len(payloads):,.0f} bytes per response in identity; "
        f"medians of {args.rounds} rounds.",
        "",
        _payload_table(payloads),
        "",
        "## Middlewares, in-process",
        "",
        _middleware_table(asyncio.run(compare_middlewares(payloads, args.rounds))),
    ]
    if args.levels:
        out += ["", "## Levels", "", _level_table(level_sweep(payloads, args.rounds))]
    if args.thread:
        out += ["", "## Thread hand-off against compression time", "", "| | µs |", "|---|---:|"]
        out += [
            f"| {row['what']} | {row['us']:,.0f} |" for row in thread_costs(payloads, args.rounds)
        ]
    print("\n".join(out), flush=True)
    if args.served:
        variants = tuple(parse_variant(name) for name in args.served_variants)
        config = BenchConfig(
            variants=variants,
            scale=args.scale,
            rounds=args.served_rounds,
            duration_s=args.duration,
            warmup_s=args.warmup,
            results_dir=args.results_dir,
            accept_encoding=BROWSER_ACCEPT_ENCODING,
        )
        report = run_benchmark(config)
        command = "python -m bench.compression " + " ".join(argv or sys.argv[1:])
        served = render_markdown(report, command)
        out += ["", served, "", _wire_table(report)]
        print(served + "\n\n" + _wire_table(report), flush=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-compression.md"
    path.write_text("\n".join(out) + "\n")
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
