"""Sharded bookings: the booking-write + per-property read mix on one shard against two, and
the speed of a live reshard.

Every shard is a SQLite file. SQLite lets one writer at a time into a file, so with every
property's bookings in one file the booking writes queue for it; with two files, bookings of
properties on different shards are written side by side. Both variants run the same code
(sharding on, one shard or two) over the same seeded home database: the app over an
in-process ASGI transport in each of `--processes` processes (as `serve --workers N`
would run it), `--concurrency` clients per process, each doing 30 % booking writes
(POST /api/v1/bookings) and 70 % availability reads of a property, for `--seconds`. Rounds
alternate the variants (ABAB...) so the machine's noise hits both; the table gives medians
over rounds and the median of the per-round ratios.

The reshard: one property with `--reshard-bookings` bookings on shard a (the medium data set
has about 100,000 per property), moved to shard b with `Resharder` (batch 500), timed.

    .venv/bin/python -m bench.shards [--rounds 3] [--seconds 10] [--processes 4] [--concurrency 8]
        [--reshard-bookings 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae import migrate
from banrimkwae.app import create_fastapi_app
from banrimkwae.config import Settings
from banrimkwae.perf.db import Database, create_engine_for_url
from banrimkwae.perf.db.sharding import Resharder
from banrimkwae.resort.auth import issue_token
from banrimkwae.resort.guests.models import Guest
from banrimkwae.resort.properties.models import Property, Room, RoomType

SECRET = "bench-secret-for-banrimkwae-shards-0123456789"
PROPERTIES = 8
ROOMS = 200
GUESTS = 200
FIRST_NIGHT = dt.date(2031, 1, 1)
NIGHTS = 365
WRITE_SHARE = 0.3


def sqlite(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def seed_home(url: str) -> None:
    """Properties with one room type of ROOMS rooms each, and GUESTS guests."""
    engine = create_engine_for_url(url)
    try:
        async with AsyncSession(engine) as session:
            for number in range(1, PROPERTIES + 1):
                session.add(
                    Property(
                        id=number, code=f"P{number}", name=f"P{number}", city="Krabi", country="TH"
                    )
                )
            await session.flush()
            for number in range(1, PROPERTIES + 1):
                session.add(
                    RoomType(
                        id=number,
                        property_id=number,
                        code="VILLA",
                        name="Villa",
                        max_occupancy=4,
                        base_rate=Decimal("100.00"),
                    )
                )
            await session.flush()
            session.add_all(
                Room(property_id=p, room_type_id=p, number=str(n), floor=1, status="in_service")
                for p in range(1, PROPERTIES + 1)
                for n in range(ROOMS)
            )
            session.add_all(
                Guest(
                    email=f"g{n}@bench.test",
                    first_name="G",
                    last_name="B",
                    country="TH",
                    password_hash="x",
                )
                for n in range(GUESTS)
            )
            await session.commit()
    finally:
        await engine.dispose()


async def build_template(directory: Path, shard_names: list[str]) -> None:
    await migrate.upgrade(sqlite(directory / "home.db"))
    await seed_home(sqlite(directory / "home.db"))
    for name in shard_names:
        await migrate.upgrade(sqlite(directory / f"{name}.db"), shard=True)


@dataclass
class Result:
    ops: int = 0
    writes: int = 0
    reads: int = 0
    other: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


async def drive_one(
    directory: Path, shard_names: list[str], seconds: float, clients: int, seed: int
) -> Result:
    settings = Settings(  # type: ignore[call-arg]
        database_url=sqlite(directory / "home.db"),
        database_shards={name: sqlite(directory / f"{name}.db") for name in shard_names},
        token_secret=SECRET,
        platform_enabled=False,
        cache_enabled=False,
    )
    app = create_fastapi_app(settings)
    tokens = [
        {"Authorization": f"Bearer {issue_token(SECRET, guest, 'guest', 3600)}"}
        for guest in range(1, GUESTS + 1)
    ]
    result = Result()
    deadline = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient, rng: random.Random) -> None:
        while time.perf_counter() < deadline:
            property_id = rng.randint(1, PROPERTIES)
            night = FIRST_NIGHT + dt.timedelta(days=rng.randrange(NIGHTS))
            stay = {
                "check_in": night.isoformat(),
                "check_out": (night + dt.timedelta(days=1)).isoformat(),
            }
            started = time.perf_counter()
            if rng.random() < WRITE_SHARE:
                response = await http.post(
                    "/api/v1/bookings",
                    json={
                        "property_id": property_id,
                        "room_type_id": property_id,
                        "adults": 2,
                        "children": 0,
                        **stay,
                    },
                    headers=rng.choice(tokens),
                )
                ok, kind = response.status_code == 201, "writes"
            else:
                response = await http.get(
                    f"/api/v1/properties/{property_id}/availability", params=stay
                )
                ok, kind = response.status_code == 200, "reads"
            if ok:
                result.latencies.append(time.perf_counter() - started)
                result.ops += 1
                setattr(result, kind, getattr(result, kind) + 1)
            else:
                result.other[response.status_code] = result.other.get(response.status_code, 0) + 1

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            await asyncio.gather(*(client(http, random.Random(seed + n)) for n in range(clients)))
    return result


def _process(arguments: tuple[str, list[str], float, int, int]) -> Result:
    directory, names, seconds, clients, seed = arguments
    return asyncio.run(drive_one(Path(directory), names, seconds, clients, seed))


def drive(
    directory: Path, names: list[str], seconds: float, clients: int, processes: int, seed: int
) -> Result:
    """`processes` app processes (as `serve --workers N`), `clients` clients each, at once."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        parts = pool.map(
            _process,
            [(str(directory), names, seconds, clients, seed * 100 + n) for n in range(processes)],
        )
    total = Result()
    for part in parts:
        total.ops += part.ops
        total.writes += part.writes
        total.reads += part.reads
        total.latencies += part.latencies
        for status, count in part.other.items():
            total.other[status] = total.other.get(status, 0) + count
    return total


async def time_reshard(directory: Path, bookings: int) -> tuple[int, float]:
    """Seconds to move one property of `bookings` bookings from shard a to shard b."""
    await build_template(directory, ["a", "b"])
    shard_a = create_engine_for_url(sqlite(directory / "a.db"))
    rng = random.Random(7)
    rows = [
        {
            "id": n,
            "reference": f"R{n:011d}",
            "guest_id": rng.randint(1, GUESTS),
            "property_id": 1,
            "room_id": rng.randint(1, ROOMS),
            "check_in": FIRST_NIGHT + dt.timedelta(days=n % NIGHTS),
            "check_out": FIRST_NIGHT + dt.timedelta(days=n % NIGHTS + 2),
            "status": "confirmed",
            "adults": 2,
            "children": 0,
            "total_amount": Decimal("200.00"),
        }
        for n in range(1, bookings + 1)
    ]
    from banrimkwae.resort.bookings.models import Booking

    async with shard_a.begin() as connection:
        await connection.execute(insert(Booking.__table__), rows)
    await shard_a.dispose()
    database = Database(
        sqlite(directory / "home.db"),
        shard_urls={"a": sqlite(directory / "a.db"), "b": sqlite(directory / "b.db")},
        shard_cache_seconds=0,
    )
    try:
        assert database.shards is not None
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO shard_directory (property_id, shard, state, version)"
                    " VALUES (1, 'a', 'active', 1)"
                )
            )
        started = time.perf_counter()
        report = await Resharder(database.shards, batch=500).move(1, "b")
        seconds = time.perf_counter() - started
        assert report.rows == bookings and report.deleted == bookings
        return report.rows, seconds
    finally:
        await database.dispose()


def p50_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


async def main(args: argparse.Namespace) -> None:
    variants = {"1 shard": ["a"], "2 shards": ["a", "b"]}
    work = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    try:
        templates = {}
        for label, names in variants.items():
            templates[label] = work / label.replace(" ", "-")
            templates[label].mkdir()
            await build_template(templates[label], names)
        per_variant: dict[str, list[Result]] = {label: [] for label in variants}
        for round_number in range(args.rounds):
            for label, names in variants.items():
                run_dir = work / f"run-{round_number}-{label.replace(' ', '-')}"
                shutil.copytree(templates[label], run_dir)
                result = await asyncio.to_thread(
                    drive,
                    run_dir,
                    names,
                    args.seconds,
                    args.concurrency,
                    args.processes,
                    args.seed + round_number,
                )
                per_variant[label].append(result)
                print(
                    f"round {round_number + 1} {label}: {result.ops / args.seconds:,.0f} ops/s"
                    f" ({result.writes / args.seconds:,.0f} writes/s),"
                    f" other statuses {result.other}",
                    flush=True,
                )
        print()
        print(
            "| variant | ops/s | booking writes/s | availability reads/s | p50 ms | ratio (ops/s) |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        base = per_variant["1 shard"]
        for label, results in per_variant.items():
            ratios = [mine.ops / theirs.ops for mine, theirs in zip(results, base, strict=True)]
            print(
                f"| {label} | {statistics.median(r.ops for r in results) / args.seconds:,.0f}"
                f" | {statistics.median(r.writes for r in results) / args.seconds:,.0f}"
                f" | {statistics.median(r.reads for r in results) / args.seconds:,.0f}"
                f" | {statistics.median(p50_ms(r.latencies) for r in results):.1f}"
                f" | {statistics.median(ratios):.2f}x |"
            )
        if args.reshard_bookings:
            reshard_dir = work / "reshard"
            reshard_dir.mkdir()
            rows, seconds = await time_reshard(reshard_dir, args.reshard_bookings)
            print()
            print(
                f"reshard: {rows:,} bookings of one property moved a → b (copy, verify, delete)"
                f" in {seconds:.1f} s: {rows / seconds:,.0f} bookings/s"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8, help="clients per process")
    parser.add_argument("--processes", type=int, default=4, help="app processes")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--reshard-bookings", type=int, default=100_000)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
