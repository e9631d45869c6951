"""Advisor benchmark: the read mix on the plain schema, the advisor's indexes, the read mix again.

```sh
.venv/bin/python -m bench.advisor --database sqlite --scale medium [--rounds 3] \
    [--duration 15] [--warmup 3] [--learn 20]
```

1. Learn: a fresh copy of the seeded database (plain schema: keys and unique constraints
   only), served with the platform on (`PLATFORM_ENABLED=true`, `CACHE_ENABLED=false` so that
   no cached response hides the database), the read mix under wrk for `--learn` seconds; then
   the advisor runs on that copy: its slow fingerprints, its proposals (measured first).
2. Rounds, interleaved: `plain` (a fresh copy) and `advised` (a fresh copy plus the proposed
   indexes, built as `banrimkwae db advise --apply` builds them), each served the same way
   with a warm-up and one measured wrk run. From each run: wrk's p50/p95/p99 and req/s, and
   from the run's own query_fingerprint_rollups the mean time of each slow fingerprint.
3. Out of band, on the two copies of the last round: each slow fingerprint's statement
   alone (values from the tables as the advisor takes them: the middle and the newest row,
   median of 5 runs each, their mean). Then the write cost, on one copy with
   the indexes built and dropped in turn (`--write-rounds`, order alternating): bookings
   inserted per second (an executemany of copies of existing rows, rolled back).

Medians over rounds. Markdown to standard output and bench/results/<time>-advisor.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.db.advice import Proposal, advise, primary_keys, table_columns
from banrimkwae.perf.db.explain import ValueSampler, combined, measure, representative
from banrimkwae.perf.db.fingerprints import slow_fingerprints
from banrimkwae.perf.db.recommend import apply
from banrimkwae.perf.storage.models import QueryFingerprintRollup
from bench.harness import (
    RESULTS_DIR,
    BenchConfig,
    BenchDatabase,
    _RequestLists,
    _Tokens,
    _wrk,
    parse_variant,
    prepare_database,
    running_server,
)
from bench.workloads import load_workload

VARIANT = parse_variant("platform:PLATFORM_ENABLED=true,CACHE_ENABLED=false")
INSERTED_ROWS = 5000


@dataclass
class RunNumbers:
    p50: float
    p95: float
    p99: float
    rps: float
    non_2xx: int
    # fingerprint hash -> mean ms per execution in this run (from its rollups)
    fingerprint_ms: dict[str, float]


@dataclass
class Outcome:
    slow: list[tuple[str, str, float]] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    runs: dict[str, list[RunNumbers]] = field(default_factory=lambda: defaultdict(list))
    statement_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    insert_rows_per_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


async def _fingerprint_times(url: str) -> dict[str, float]:
    engine = create_engine_for_url(url)
    table = QueryFingerprintRollup
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(
                    table.query_hash, func.sum(table.total_time_ms), func.sum(table.execution_count)
                ).group_by(table.query_hash)
            )
            return {h: float(total) / int(count) for h, total, count in rows if count}
    finally:
        await engine.dispose()


async def _learn(url: str, outcome: Outcome) -> None:
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            slow = await slow_fingerprints(connection)
        outcome.slow = [(s.hash, s.text, s.median_ms) for s in slow]
        advice = await advise(engine)
        outcome.proposals = advice.proposals
        outcome.notes = advice.notes
    finally:
        await engine.dispose()


async def _apply_all(url: str, proposals: list[Proposal]) -> None:
    engine = create_engine_for_url(url)
    try:
        for proposal in proposals:
            await apply(engine, proposal, None)
    finally:
        await engine.dispose()


async def _statement_times(url: str, slow: list[tuple[str, str, float]]) -> dict[str, float]:
    engine = create_engine_for_url(url)
    dialect = engine.dialect.name
    times: dict[str, float] = {}
    try:
        async with engine.connect() as connection:
            schema = {t: set(c) for t, c in (await table_columns(connection)).items()}
            keys = await primary_keys(connection)
            # Values as the advisor takes them: the middle row and the newest row, the mean.
            samplers = [
                ValueSampler(connection, schema),
                ValueSampler(connection, schema, newest=True, keys=keys),
            ]
            for query_hash, statement, _ in slow:
                made = [await representative(statement, dialect, s) for s in samplers]
                if None in made:
                    continue
                measured = combined(
                    [await measure(connection, dialect, m[0], m[1]) for m in made if m is not None]
                )
                if measured.median_ms is not None:
                    times[query_hash] = measured.median_ms
    finally:
        await engine.dispose()
    return times


async def _insert_rate(url: str) -> float:
    """Bookings inserted per second (copies of existing rows, new references), rolled back."""
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            columns = [c for c in (await table_columns(connection))["bookings"] if c not in {"id"}]
            rows = (
                (
                    await connection.execute(
                        text(f"SELECT {', '.join(columns)} FROM bookings LIMIT {INSERTED_ROWS}")
                    )
                )
                .mappings()
                .all()
            )
            values = [{**row, "reference": f"Z{n:011d}"} for n, row in enumerate(rows)]
            names = ", ".join(columns)
            binds = ", ".join(f":{c}" for c in columns)
            statement = text(f"INSERT INTO bookings ({names}) VALUES ({binds})")
            await connection.rollback()
            transaction = await connection.begin()
            started = time.perf_counter()
            await connection.execute(statement, values)
            elapsed = time.perf_counter() - started
            await transaction.rollback()
            return len(values) / elapsed
    finally:
        await engine.dispose()


def _fresh_copy(database: BenchDatabase) -> str:
    """A fresh copy; PostgreSQL refuses to copy a template another session is reading."""
    for _ in range(60):
        try:
            return database.run_copy()
        except DBAPIError as exc:
            if "being accessed by other users" not in str(exc):
                raise
            time.sleep(2)
    return database.run_copy()


def _serve_and_measure(
    config: BenchConfig,
    database: BenchDatabase,
    lists: _RequestLists,
    scratch: Path,
    key: str,
    proposals: list[Proposal] | None,
    server_log: Path,
) -> tuple[str, Any]:
    _, warm_file = lists.write(f"warm-up:{key}", scratch)
    _, run_file = lists.write(key, scratch)
    url = _fresh_copy(database)
    if proposals:
        asyncio.run(_apply_all(url, proposals))
    with running_server(VARIANT, url, lists.tokens.secret, server_log) as server:
        if config.warmup_s:
            _wrk(config, server.url, warm_file, config.warmup_s)
        result = _wrk(config, server.url, run_file, config.duration_s)
    return url, result


def run(args: argparse.Namespace) -> Outcome:
    config = BenchConfig(
        variants=(VARIANT,),
        database=args.database,
        scale=args.scale,
        rounds=args.rounds,
        duration_s=args.duration,
        warmup_s=args.warmup,
        connections=args.connections,
    )
    database = prepare_database(config.database, scale=config.scale)
    print(f"database: {database.detail}", flush=True)
    workload = asyncio.run(load_workload(config.workload, database.url, seed=config.seed))
    tokens = _Tokens(secrets.token_urlsafe(32))
    lists = _RequestLists(config, workload, tokens, fresh_copies=True)
    outcome = Outcome()
    server_log = RESULTS_DIR / f"{dt.datetime.now():%Y%m%d-%H%M%S}-advisor.server.log"
    with tempfile.TemporaryDirectory(prefix="banrimkwae-advisor-") as scratch_dir:
        scratch = Path(scratch_dir)
        learn = replace_duration(config, args.learn)
        url, _ = _serve_and_measure(learn, database, lists, scratch, "learn", None, server_log)
        started = time.monotonic()
        asyncio.run(_learn(url, outcome))
        print(f"advisor: {time.monotonic() - started:.1f} s, {len(outcome.proposals)} indexes")
        for proposal in outcome.proposals:
            print(f"  {proposal.candidate.target}: {proposal.improvement:.0%} better", flush=True)
        for round_number in range(1, config.rounds + 1):
            order = ("plain", "advised") if round_number % 2 else ("advised", "plain")
            for name in order:
                chosen = outcome.proposals if name == "advised" else None
                url, result = _serve_and_measure(
                    config, database, lists, scratch, str(round_number), chosen, server_log
                )
                times = asyncio.run(_fingerprint_times(url))
                outcome.runs[name].append(
                    RunNumbers(
                        result.percentile("50"),
                        result.percentile("95"),
                        result.percentile("99"),
                        result.rps,
                        result.non_2xx,
                        times,
                    )
                )
                if round_number == config.rounds:
                    outcome.statement_ms[name] = asyncio.run(_statement_times(url, outcome.slow))
                print(
                    f"round {round_number} {name}: {result.rps:,.0f} req/s, "
                    f"p95 {result.percentile('95'):.1f} ms",
                    flush=True,
                )
        # Write cost on one copy, the indexes dropped and built again in turn.
        url = _fresh_copy(database)
        for number in range(args.write_rounds):
            for state in ("plain", "advised") if number % 2 == 0 else ("advised", "plain"):
                if state == "advised":
                    asyncio.run(_apply_all(url, outcome.proposals))
                asyncio.run(_insert_rate(url))  # warm-up, not counted
                outcome.insert_rows_per_s[state].append(asyncio.run(_insert_rate(url)))
                if state == "advised":
                    asyncio.run(_drop_all(url, outcome.proposals))
    database.drop_copy()
    return outcome


async def _drop_all(url: str, proposals: list[Proposal]) -> None:
    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            for proposal in proposals:
                on_table = f" ON {proposal.candidate.table}" if "mysql" in url else ""
                await connection.execute(text(f"DROP INDEX {proposal.index_name}{on_table}"))
    finally:
        await engine.dispose()


def replace_duration(config: BenchConfig, seconds: int) -> BenchConfig:
    from dataclasses import replace

    return replace(config, duration_s=seconds)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(args: argparse.Namespace, outcome: Outcome) -> str:
    lines = [
        f"# Advisor: {args.database}, {args.scale}, {args.rounds} rounds of {args.duration} s, "
        f"{args.connections} connections, load average {_load()}",
        "",
        "Indexes chosen:",
        "",
    ]
    for p in outcome.proposals:
        lines.append(
            f"- `{p.candidate.target}` ({p.candidate.reason}, {p.method}): {p.measure} "
            f"{p.current_value:.2f} -> {p.expected_value:.2f} ({p.improvement:.0%} less)"
        )
    lines += [
        "",
        "| run | p50 ms | p95 ms | p99 ms | req/s | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("plain", "advised"):
        runs = outcome.runs[name]
        cells = [_median([getattr(r, k) for r in runs]) for k in ("p50", "p95", "p99")]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{c:.1f}" for c in cells)
            + f" | {_median([r.rps for r in runs]):,.0f}"
            f" | {_median([r.non_2xx for r in runs]):.0f} |"
        )
    plain_p95 = _median([r.p95 for r in outcome.runs["plain"]])
    advised_p95 = _median([r.p95 for r in outcome.runs["advised"]])
    lines += [
        "",
        f"Read mix p95: {plain_p95:.1f} -> {advised_p95:.1f} ms "
        f"({1 - advised_p95 / plain_p95:.0%} less; target 50%)",
        "",
    ]
    lines += [
        "| slow fingerprint | in workload, plain ms | advised ms"
        " | statement alone, plain ms | advised ms |",
        "|---|---:|---:|---:|---:|",
    ]
    plain_rate = _median(outcome.insert_rows_per_s["plain"])
    advised_rate = _median(outcome.insert_rows_per_s["advised"])
    workload_ratios: list[float] = []
    statement_ratios: list[float] = []
    targeted = {h for p in outcome.proposals for h in p.fingerprints}
    targeted_workload: list[float] = []
    targeted_statement: list[float] = []
    for query_hash, statement, _ in outcome.slow:
        plain = _median(
            [
                r.fingerprint_ms[query_hash]
                for r in outcome.runs["plain"]
                if query_hash in r.fingerprint_ms
            ]
        )
        advised = _median(
            [
                r.fingerprint_ms[query_hash]
                for r in outcome.runs["advised"]
                if query_hash in r.fingerprint_ms
            ]
        )
        alone_plain = outcome.statement_ms.get("plain", {}).get(query_hash, float("nan"))
        alone_advised = outcome.statement_ms.get("advised", {}).get(query_hash, float("nan"))
        if plain == plain and advised == advised and plain > 0:
            workload_ratios.append(advised / plain)
            if query_hash in targeted:
                targeted_workload.append(advised / plain)
        if alone_plain == alone_plain and alone_advised == alone_advised and alone_plain > 0:
            statement_ratios.append(alone_advised / alone_plain)
            if query_hash in targeted:
                targeted_statement.append(alone_advised / alone_plain)
        mark = " **(indexed)**" if query_hash in targeted else ""
        lines.append(
            f"| `{query_hash[:12]}`{mark} {statement[:70]}… | {plain:.2f} | {advised:.2f} | "
            f"{alone_plain:.2f} | {alone_advised:.2f} |"
        )
    lines += _floor_lines(outcome, targeted)
    lines += [
        "",
        "Median over fingerprints of advised/plain (target: 90% less):",
        "",
        f"- the fingerprints the advisor indexed for ({len(targeted)}): in the workload "
        f"{_median(targeted_workload):.3f} ({1 - _median(targeted_workload):.0%} less), "
        f"statement alone {_median(targeted_statement):.3f} "
        f"({1 - _median(targeted_statement):.0%} less)",
        f"- every fingerprint the slow log caught ({len(outcome.slow)}, most only queued behind "
        f"the others): in the workload {_median(workload_ratios):.3f} "
        f"({1 - _median(workload_ratios):.0%} less), statement alone "
        f"{_median(statement_ratios):.3f} ({1 - _median(statement_ratios):.0%} less)",
        "",
        f"Write cost: bookings inserted per second (one executemany of {INSERTED_ROWS} rows, "
        f"rolled back, after one uncounted warm-up; one copy, indexes built and dropped in turn, "
        f"{args.write_rounds} rounds, order alternating): plain "
        f"{plain_rate:,.0f}, advised {advised_rate:,.0f} ({advised_rate / plain_rate:.2f}x).",
        "",
        "Advisor notes per slow fingerprint:",
        "",
    ]
    lines += [f"- `{h[:12]}`: {note}" for h, note in outcome.notes.items()]
    return "\n".join(lines) + "\n"


def _load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def _floor_lines(outcome: Outcome, targeted: set[str]) -> list[str]:
    """What every statement waits in the saturated workload, whatever its plan.

    The statements that take under 0.5 ms alone and got no index are in the slow log only
    because they queued (for the event loop, for the database's write lock); their time in
    the workload is the floor no index goes below. Beside it, each round's median advised/plain
    over the indexed fingerprints, so the spread between rounds shows.
    """
    alone = outcome.statement_ms.get("advised", {})
    queued = [h for h, _, _ in outcome.slow if h not in targeted and alone.get(h, 1.0) < 0.5]
    lines = [""]
    for name in ("plain", "advised"):
        times = [
            r.fingerprint_ms[h] for r in outcome.runs[name] for h in queued if h in r.fingerprint_ms
        ]
        lines.append(
            f"- queueing floor, {name}: {_median(times):.2f} ms (median in-workload time of the "
            f"{len(queued)} fingerprints that are fast alone and got no index)"
        )
    ratios = []
    for plain, advised in zip(outcome.runs["plain"], outcome.runs["advised"], strict=False):
        per = [
            advised.fingerprint_ms[h] / plain.fingerprint_ms[h]
            for h in targeted
            if h in plain.fingerprint_ms and h in advised.fingerprint_ms
        ]
        ratios.append(f"{1 - _median(per):.0%}")
    lines.append(f"- indexed fingerprints, per round, in the workload: {', '.join(ratios)} less")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--learn", type=int, default=20)
    parser.add_argument("--write-rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    args = parser.parse_args()
    outcome = run(args)
    markdown = report(args, outcome)
    print(markdown)
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}"
    (RESULTS_DIR / f"{stamp}-advisor.md").write_text(markdown)
    raw = {
        "runs": {k: [vars(r) for r in v] for k, v in outcome.runs.items()},
        "statement_ms": outcome.statement_ms,
        "insert_rows_per_s": outcome.insert_rows_per_s,
        "indexes": [p.candidate.target for p in outcome.proposals],
    }
    (RESULTS_DIR / f"{stamp}-advisor.json").write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
