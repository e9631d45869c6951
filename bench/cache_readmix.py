"""The response cache under the resort read mix with 5% writes: hit rate, stale reads, speed.

    .venv/bin/python -m bench.cache_readmix [--databases sqlite postgresql] [--scale small]
        [--rounds 3] [--duration 15] [--warmup 3] [--connections 32] [--grace 60]

For each database, `bench.harness.run_benchmark` runs the `resort-read-mix` workload (bookings
and cancellations spread over the properties, Zipf-popular ids) against `naive` (platform off),
`platform` (platform on, default cache policies) and `platform-grace` (the same, with the
availability policy's `invalidation_grace_seconds` set to `--grace`: anonymous searches may be
answered STALE from before a booking for that long), one uvicorn worker each, fresh database
copy per run, rounds interleaved. wrk counts every response's X-Cache value, so the hit rate
is what clients were served. During every measured run a writing client
(`ReadYourWritesChecker`), with a guest's own token, loops: read a room type's availability
for a stay past every date the load books, book it, read the availability, the guest's
booking list and the booking back, cancel, read them again, change the guest's phone number
and read the guest back. A read that does not show the client's own write is a stale read;
the report counts them (the target is zero) and keeps the first few.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import random
import shlex
import statistics
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, cast

import httpx
from sqlalchemy import Table, select, update

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.storage import ApiCacheConfig
from bench.harness import (
    RESULTS_DIR,
    BenchConfig,
    BenchReport,
    During,
    HarnessError,
    RunningServer,
    Variant,
    parse_variant,
    prepare_database,
    run_benchmark,
)
from bench.workloads.base import API
from bench.workloads.catalog import Catalog, RoomTypeRow, load_catalog
from bench.workloads.read_mix import BOOKING_DAYS_PAST_WINDOW

WORKLOAD = "resort-read-mix"
VARIANTS = ("naive", "platform")
# The platform with the availability policy's invalidation grace: anonymous searches may be
# answered from before a booking for this long (docs/cache.md, "Soft invalidation").
GRACE_VARIANT = "platform-grace"
AVAILABILITY_POLICY = "/api/v1/properties/{property_id}/availability"
DEFAULT_GRACE_S = 60
# The checker's stays start past every date the load books, so only its own writes change
# the availability it reads back.
_CHECKER_FIRST_DAY = BOOKING_DAYS_PAST_WINDOW + 10
_CHECKER_DAYS = 240
_CHECKER_GUESTS = 4
_KEPT_EXAMPLES = 5
_HITS = ("HIT", "STALE")
# The checker's counts (CheckTally); anything else it reports is a refused write.
_TALLIES = ("cycles", "checks", "stale", "graced")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the writing client -------------------------------------------------------------------


@dataclass
class CheckTally:
    """Read-your-writes checks of one measured run."""

    cycles: int = 0
    writes: int = 0
    checks: int = 0
    stale: int = 0
    # Anonymous answers from before the checker's write, inside the policy's invalidation
    # grace (X-Cache STALE, Age within it): allowed, counted apart.
    graced: int = 0
    # Writes the server refused or failed (409 no room left, 5xx): no check follows them.
    refused: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def check(self, what: str, seen: object, expected: object) -> None:
        self.checks += 1
        if seen != expected:
            self.stale += 1
            if len(self.examples) < _KEPT_EXAMPLES:
                self.examples.append(f"{what}: saw {seen!r}, wrote {expected!r}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles,
            "writes": self.writes,
            "checks": self.checks,
            "stale": self.stale,
            "graced": self.graced,
            "refused": dict(self.refused),
            "examples": self.examples,
        }


class _Refused(Exception):
    pass


class ReadYourWritesChecker:
    """One client writing and reading back as the same guest, sequentially, until stopped."""

    def __init__(
        self,
        base_url: str,
        catalog: Catalog,
        token_for: Callable[[int], str],
        seed: str,
        *,
        grace_s: float = 0.0,
    ) -> None:
        self.base_url = base_url
        # The availability policy's invalidation grace in the server checked.
        self.grace_s = grace_s
        self.rng = random.Random(seed)
        self.room_types = [rt for rt in catalog.room_types if rt.max_occupancy >= 1]
        self.guests = catalog.guest_ids[:_CHECKER_GUESTS]
        self.token_for = token_for
        self.first_day = catalog.stay_window[1] + dt.timedelta(days=_CHECKER_FIRST_DAY)
        self.tally = CheckTally()
        self.stop = threading.Event()
        self.anonymous: httpx.Client  # no credentials: opened by run()

    def run(self) -> None:
        if not self.room_types or not self.guests:
            return
        with (
            httpx.Client(base_url=self.base_url + API, timeout=60.0) as client,
            httpx.Client(base_url=self.base_url + API, timeout=60.0) as anonymous,
        ):
            self.anonymous = anonymous
            while not self.stop.is_set():
                guest_id = self.rng.choice(self.guests)
                client.headers["Authorization"] = f"Bearer {self.token_for(guest_id)}"
                try:
                    self._cycle(client, self.rng.choice(self.room_types))
                except _Refused:
                    pass
                except httpx.TransportError as exc:
                    self.tally.refused[type(exc).__name__] += 1
                self.tally.cycles += 1

    def _write(self, client: httpx.Client, method: str, path: str, body: Any) -> Any:
        response = client.request(method, path, json=body)
        if response.status_code >= 300:
            self.tally.refused[f"{method} {response.status_code}"] += 1
            raise _Refused
        self.tally.writes += 1
        return response.json()

    def _read(self, client: httpx.Client, path: str, **params: Any) -> Any:
        response = client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def _cycle(self, client: httpx.Client, room_type: RoomTypeRow) -> None:
        check_in = self.first_day + dt.timedelta(days=self.rng.randrange(_CHECKER_DAYS))
        check_out = check_in + dt.timedelta(days=self.rng.randint(1, 3))
        stay = {
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": 1,
            "room_type_id": room_type.id,
        }
        availability = f"/properties/{room_type.property_id}/availability"

        def free_rooms() -> int | None:
            rows = self._read(client, availability, **stay)["data"]
            return rows[0]["available_rooms"] if rows else None

        before = free_rooms()
        # What a searcher without a token is answered: shared, so cached for everyone.
        self._read(self.anonymous, availability, **stay)
        body = {
            "property_id": room_type.property_id,
            "room_type_id": room_type.id,
            "check_in": stay["check_in"],
            "check_out": stay["check_out"],
            "adults": 1,
            "children": 0,
        }
        booking = self._write(client, "POST", "/bookings", body)
        booking_id, status = booking["id"], booking["status"]
        tally = self.tally
        tally.check("availability after booking", free_rooms(), (before or 0) - 1)
        self._check_anonymous("anonymous availability after booking", availability, stay,
                              now=(before or 0) - 1, earlier=before)  # fmt: skip
        tally.check("own bookings after booking", self._own_status(client, booking_id), status)
        tally.check(
            "booking after booking", self._read(client, f"/bookings/{booking_id}")["status"], status
        )
        self._write(client, "POST", f"/bookings/{booking_id}/cancel", None)
        tally.check("availability after cancel", free_rooms(), before)
        self._check_anonymous("anonymous availability after cancel", availability, stay,
                              now=before, earlier=(before or 0) - 1)  # fmt: skip
        tally.check("own bookings after cancel", self._own_status(client, booking_id), "cancelled")
        tally.check(
            "booking after cancel",
            self._read(client, f"/bookings/{booking_id}")["status"],
            "cancelled",
        )
        self._read(client, "/guests/me")  # cached now, so the change below must invalidate it
        phone = f"+66 {self.rng.randrange(10**8):08d}"
        self._write(client, "PATCH", "/guests/me", {"phone": phone})
        tally.check("guest after update", self._read(client, "/guests/me")["phone"], phone)

    def _check_anonymous(
        self, what: str, path: str, stay: dict[str, Any], *, now: object, earlier: object
    ) -> None:
        """A search without a token after the checker's write: the new count, or, inside the
        invalidation grace only, the count from before the write answered STALE."""
        response = self.anonymous.get(path, params=stay)
        response.raise_for_status()
        rows = response.json()["data"]
        seen = rows[0]["available_rooms"] if rows else None
        graced = (
            self.grace_s > 0
            and seen != now
            and seen == earlier
            and response.headers.get("x-cache", "").startswith("STALE")
            and int(response.headers.get("age", "0")) <= self.grace_s
        )
        if graced:
            self.tally.checks += 1
            self.tally.graced += 1
        else:
            self.tally.check(what, seen, now)

    def _own_status(self, client: httpx.Client, booking_id: int) -> str | None:
        # Newest check-in first: the checker's stays are later than any other booking.
        for row in self._read(client, "/guests/me/bookings", limit=50)["data"]:
            if row["id"] == booking_id:
                return str(row["status"])
        return None


def read_your_writes(catalog: Catalog, graces: Mapping[str, float] | None = None) -> During:
    """The harness's `during` hook: a checker thread beside each measured wrk run.

    `graces`: the availability policy's invalidation grace of a variant, by name (else 0)."""

    @contextmanager
    def during(
        server: RunningServer, variant: Variant, round_number: int, token_for: Callable[[int], str]
    ) -> Iterator[dict[str, Any]]:
        checker = ReadYourWritesChecker(
            server.url,
            catalog,
            token_for,
            f"checker:{variant.name}:{round_number}",
            grace_s=(graces or {}).get(variant.name, 0.0),
        )
        observed: dict[str, Any] = {}
        thread = threading.Thread(target=checker.run, name="read-your-writes", daemon=True)
        thread.start()
        try:
            yield observed
        finally:
            checker.stop.set()
            thread.join(timeout=120)
            observed["read_your_writes"] = checker.tally.as_dict()

    return during


# --- the variants ---------------------------------------------------------------------------


def variants(grace_s: float) -> tuple[Variant, ...]:
    plain = tuple(parse_variant(name) for name in VARIANTS)
    return (*plain, grace_variant(grace_s)) if grace_s > 0 else plain


def grace_variant(grace_s: float) -> Variant:
    """`platform`, with `invalidation_grace_seconds` set on the availability policy."""

    def prepare(database_url: str) -> None:
        asyncio.run(_set_grace(database_url, grace_s))

    return replace(parse_variant("platform"), name=GRACE_VARIANT, prepare=prepare)


async def _set_grace(database_url: str, grace_s: float) -> None:
    policies = cast(Table, ApiCacheConfig.__table__)
    where = policies.c.endpoint_pattern == AVAILABILITY_POLICY
    engine = create_engine_for_url(database_url)
    try:
        async with engine.begin() as connection:
            row = (await connection.execute(select(policies.c.cache_options).where(where))).first()
            if row is None:
                raise HarnessError(f"no cache policy {AVAILABILITY_POLICY} in the database")
            options = {**(row.cache_options or {}), "invalidation_grace_seconds": grace_s}
            await connection.execute(update(policies).where(where).values(cache_options=options))
    finally:
        await engine.dispose()


# --- the report ---------------------------------------------------------------------------


def hit_rate(cache: dict[str, int]) -> tuple[float, float]:
    """(hits over cache lookups, hits over every response): X-Cache HIT or STALE are hits."""
    hits = sum(n for value, n in cache.items() if value.startswith(_HITS))
    lookups = hits + cache.get("MISS", 0)
    total = sum(cache.values())
    return (hits / lookups if lookups else math.nan, hits / total if total else math.nan)


def stale_share(cache: dict[str, int]) -> float:
    """STALE answers over cache lookups: the part of the hit rate served from before a write
    (an invalidation grace) or past the TTL (stale-while-revalidate)."""
    stale = sum(n for value, n in cache.items() if value.startswith("STALE"))
    lookups = stale + sum(n for value, n in cache.items() if value.startswith(("HIT", "MISS")))
    return stale / lookups if lookups else math.nan


def _number(value: float, digits: int = 0) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def summarise(report: BenchReport) -> list[dict[str, Any]]:
    rows = []
    baseline = {run.round: run.result for run in report.runs if run.variant == VARIANTS[0]}
    for summary in report.summaries():
        runs = [run for run in report.runs if run.variant == summary.variant.name]
        cache: Counter[str] = Counter()
        checks: Counter[str] = Counter()
        examples: list[str] = []
        for run in runs:
            cache.update(run.result.cache)
            tally = run.observed.get("read_your_writes", {})
            checks.update({key: tally.get(key, 0) for key in _TALLIES})
            checks.update(tally.get("refused", {}))
            examples += tally.get("examples", [])
        p50_cut = [
            1 - run.result.latency_ms["50"] / baseline[run.round].latency_ms["50"]
            for run in runs
            if run.round in baseline
        ]
        lookups_rate, all_rate = hit_rate(dict(cache))
        rows.append(
            {
                "variant": summary.variant.name,
                "rps": summary.rps,
                "ratio": summary.ratio,
                "p50": summary.latency_ms["50"],
                "p95": summary.latency_ms["95"],
                "p99": summary.latency_ms["99"],
                "p50_cut": statistics.median(p50_cut) if p50_cut else math.nan,
                "cpu_us": (
                    summary.cpu_us_per_request
                    if summary.cpu_us_per_request is not None
                    else math.nan
                ),
                "hit_rate": lookups_rate,
                "stale_share": stale_share(dict(cache)),
                "hit_rate_all": all_rate,
                "cache": dict(cache),
                "statuses": summary.statuses,
                "rps_by_round": summary.rps_by_round,
                "checks": dict(checks),
                "examples": examples[:_KEPT_EXAMPLES],
            }
        )
    return rows


def render(report: BenchReport, rows: list[dict[str, Any]]) -> str:
    config = report.config
    lines = [
        f"#### {config.database} ({report.database.detail})",
        "",
        f"{report.started_at:%Y-%m-%d %H:%M}, wrk -t{config.threads} -c{config.connections}, "
        f"{config.rounds} rounds of {config.duration_s} s (warm-up {config.warmup_s} s).",
        "",
        "| variant | req/s | x naive | p50 ms | p50 vs naive | p95 ms | p99 ms "
        "| server CPU µs/req | hit rate (lookups) | of it STALE | hit rate (all) "
        "| stale reads / checks | req/s by round |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        checks = row["checks"]
        lines.append(
            f"| {row['variant']} | {_number(row['rps'])} | {_number(row['ratio'], 2)} "
            f"| {_number(row['p50'], 1)} | {_number(-100 * row['p50_cut'], 0)}% "
            f"| {_number(row['p95'], 1)} | {_number(row['p99'], 1)} | {_number(row['cpu_us'])} "
            f"| {_number(100 * row['hit_rate'], 1)}% | {_number(100 * row['stale_share'], 1)}% "
            f"| {_number(100 * row['hit_rate_all'], 1)}% "
            f"| {checks.get('stale', 0)} / {checks.get('checks', 0)} "
            f"| {', '.join(_number(rps) for rps in row['rps_by_round'])} |"
        )
    lines.append("")
    for row in rows:
        x_cache = " · ".join(f"{k}: {v:,}" for k, v in sorted(row["cache"].items()))
        statuses = " · ".join(f"{k}: {v:,}" for k, v in row["statuses"].items())
        lines.append(f"- {row['variant']}: X-Cache {x_cache}; statuses {statuses}")
        refused = {k: v for k, v in row["checks"].items() if k not in _TALLIES}
        if row["checks"].get("graced"):
            lines.append(
                f"  - anonymous searches answered from before the checker's write, inside the "
                f"invalidation grace: {row['checks']['graced']}"
            )
        if refused:
            lines.append(f"  - checker writes refused: {refused}")
        lines += [f"  - stale: {example}" for example in row["examples"]]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_readmix", description=__doc__)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--requests", type=int, default=30_000, help="requests per list")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_S,
        help=f"invalidation grace of the {GRACE_VARIANT} variant, seconds (0: no such variant)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([".venv/bin/python", "-m", "bench.cache_readmix", *(argv or sys.argv[1:])])
    sections, results = [f"`{command}`", ""], []
    try:
        for database in args.databases:
            prepared = prepare_database(database, scale=args.scale, log=_log)
            catalog = asyncio.run(load_catalog(prepared.url))
            config = BenchConfig(
                variants=variants(args.grace),
                workload=WORKLOAD,
                database=database,
                scale=args.scale,
                seed=args.seed,
                rounds=args.rounds,
                duration_s=args.duration,
                warmup_s=args.warmup,
                connections=args.connections,
                request_count=args.requests,
            )
            during = read_your_writes(catalog, {GRACE_VARIANT: args.grace})
            report = run_benchmark(config, log=_log, during=during)
            rows = summarise(report)
            sections.append(render(report, rows))
            results.append({"database": database, "detail": report.database.detail, "rows": rows})
    except HarnessError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    markdown = "\n".join(sections)
    stem = f"{dt.datetime.now():%Y%m%d-%H%M%S}-cache-readmix"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{stem}.md").write_text(markdown)
    payload = {"command": command, "results": results}
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
