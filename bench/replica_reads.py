"""What a read costs on a replica engine against the primary, counted in instructions.

One PostgreSQL server plays both roles (the router does not care where a URL points; no
health check runs, so the "replica" stays in rotation), with query tracking on every engine
as the app sets it up. Each read is one request's worth: a RequestStats current, a session,
a primary-key SELECT, the session closed. Three variants, each in its own process:

- `primary`: the session is `primary_only`, the read runs on the primary engine;
- `replica`: the read is routed to the replica engine, whose latency and health the router
  observes through the shared statement hooks (perf/db/statement_hooks.py);
- `replica-cursor-events`: the same, with the router's observation done the earlier way,
  engine-level before/after_cursor_execute listeners (the baseline).

    .venv/bin/python -m bench.replica_reads [--url postgresql+asyncpg://...] [--reads 400]

Instructions come from valgrind's callgrind, counting switched on around the measured reads
only (repeatable whatever else the machine runs); CPU time per read, natively, over
alternating rounds, is printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, event, select, text

from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import Database
from banrimkwae.perf.db.statement_hooks import always, statement_hooks
from banrimkwae.perf.metrics.context import RequestStats, begin_request, end_request
from banrimkwae.perf.queries import QueryTracker
from bench.harness import callgrind_control, valgrind_binary

VARIANTS = ("primary", "replica", "replica-cursor-events")
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
WARMUP = 100
_COLLECTED = re.compile(r"Collected : (\d+)")
rows = Table(
    "bench_replica_reads", MetaData(), Column("id", Integer, primary_key=True), Column("body", Text)
)


async def _prepare(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS bench_replica_reads (id int PRIMARY KEY, body text)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO bench_replica_reads SELECT n, md5(n::text)"
                    " FROM generate_series(1, 1000) AS n ON CONFLICT DO NOTHING"
                )
            )
    finally:
        await database.dispose()


def _cursor_events(database: Database) -> None:
    """The router's observation as engine-level cursor events (the code this replaced)."""
    assert database.router is not None
    router = database.router
    for replica in router.replicas:
        hooks = statement_hooks(replica.engine)
        hooks.observers = tuple(o for o in hooks.observers if o.begin is not always)
        endpoint, name = replica.endpoint, replica.name

        def before(*args: Any) -> None:
            args[4]._banrimkwae_started = time.perf_counter()

        def after(*args: Any, endpoint: Any = endpoint, name: str = name) -> None:
            started = getattr(args[4], "_banrimkwae_started", None)
            now = time.monotonic()
            if started is not None:
                endpoint.latency.observe(time.perf_counter() - started, now)
            router.health.record_result(name, True, now)

        event.listen(replica.engine.sync_engine, "before_cursor_execute", before)
        event.listen(replica.engine.sync_engine, "after_cursor_execute", after)


def _database(variant: str, url: str) -> Database:
    database = Database(url, replica_urls=[url])
    if variant == "replica-cursor-events":
        _cursor_events(database)
    tracker = QueryTracker(MonitoringConfig(), database)
    for engine in database.pools.values():
        tracker.instrument(engine)
    return database


async def _reads(database: Database, variant: str, count: int) -> None:
    primary_only = variant == "primary"
    for number in range(count):
        token = begin_request(RequestStats(f"read-{number}"))
        try:
            async with database.session(primary_only=primary_only) as session:
                await session.execute(select(rows.c.body).where(rows.c.id == number % 1000 + 1))
        finally:
            end_request(token)


def _check_routing(database: Database, variant: str) -> None:
    assert database.router is not None
    target = "primary" if variant == "primary" else "replica1"
    if sum(n for (where, _), n in database.router.routed.items() if where != target):
        raise SystemExit(f"{variant}: reads went elsewhere: {dict(database.router.routed)}")


async def child(variant: str, url: str, reads: int) -> None:
    database = _database(variant, url)
    try:
        await _reads(database, variant, WARMUP)
        callgrind_control("on")
        await _reads(database, variant, reads)
        callgrind_control("off")
        _check_routing(database, variant)
    finally:
        await database.dispose()


def instructions(url: str, reads: int) -> dict[str, float]:
    valgrind = valgrind_binary()
    per_read: dict[str, float] = {}
    for variant in VARIANTS:  # one at a time: the machine has two cores
        command = [
            valgrind,
            "--tool=callgrind",
            "--instr-atstart=no",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "bench.replica_reads",
            "--child",
            variant,
            "--url",
            url,
            "--reads",
            str(reads),
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        found = _COLLECTED.search(done.stderr)
        if done.returncode != 0 or found is None:
            raise SystemExit(f"{variant}: the callgrind run failed:\n{done.stderr[-2000:]}")
        per_read[variant] = int(found.group(1)) / reads
    return per_read


async def cpu(url: str, reads: int, rounds: int) -> dict[str, float]:
    databases = {variant: _database(variant, url) for variant in VARIANTS}
    timings: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    try:
        for variant, database in databases.items():
            await _reads(database, variant, WARMUP)
        for round_number in range(rounds):
            order = VARIANTS if round_number % 2 == 0 else tuple(reversed(VARIANTS))
            for variant in order:
                began = time.process_time()
                await _reads(databases[variant], variant, reads)
                timings[variant].append((time.process_time() - began) / reads)
        for variant, database in databases.items():
            _check_routing(database, variant)
    finally:
        for database in databases.values():
            await database.dispose()
    return {variant: statistics.median(values) for variant, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--child", choices=VARIANTS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.url, args.reads))
        return
    asyncio.run(_prepare(args.url))
    counted = instructions(args.url, args.reads)
    seconds = asyncio.run(cpu(args.url, args.reads, args.rounds))
    base_instructions, base_seconds = counted["primary"], seconds["primary"]
    print(f"Reads per variant: {args.reads} (callgrind), {args.rounds} rounds (CPU time)\n")
    print("| variant | instructions/read | vs primary | CPU µs/read | vs primary |")
    print("|---|---:|---:|---:|---:|")
    for variant in VARIANTS:
        print(
            f"| {variant} | {counted[variant]:,.0f} | {counted[variant] / base_instructions:.3f}"
            f" | {seconds[variant] * 1e6:,.1f} | {seconds[variant] / base_seconds:.3f} |"
        )


if __name__ == "__main__":
    main()
