"""Replicas benchmark: the read mix on a primary alone against a primary plus one replica, and
the balancing algorithms compared with one of two replicas slowed down.

```sh
.venv/bin/python -m bench.replicas [--scale small] [--rounds 3] [--duration 10] [--warmup 3] \
    [--workers 2] [--connections 32] [--delay-ms 5] [--only scale-out|algorithms] \
    [--algorithm-workloads fast resort-read-mix]
```

Everything runs on this machine: a PostgreSQL primary and two streaming replicas of its own
(banrimkwae.perf.db.local_cluster, free ports, never the system server), seeded once with
the read mix's data. The second replica sits behind a loopback TCP proxy that holds every
client-to-server packet `--delay-ms` before passing it on: a replica that answers every
statement late, as one on a busy or distant host would.

1. scale-out: `primary` (no replica) vs `primary+replica` (replica 1 takes the reads).
2. algorithms: replicas 1 and 2 (the slow one), with each algorithm in turn.

Every variant is a fresh server (bench.harness.running_server, with the response cache off so
that every read reaches the database) under wrk with the resort read mix; rounds interleave
the variants. Reported: medians over rounds of req/s and latency percentiles, the median of
per-round req/s ratios to the first variant, and where the reads went (transactions each
replica committed during the run, from pg_stat_database, summed over rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import secrets
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from banrimkwae import migrate
from banrimkwae.perf.db.local_cluster import DATABASE, LocalCluster
from banrimkwae.seed import seed_database
from bench.harness import (
    DEFAULT_DATA_SEED,
    RESULTS_DIR,
    BenchConfig,
    Variant,
    WrkResult,
    _RequestLists,
    _Tokens,
    _wrk,
    probe,
    running_server,
    wrk_binary,
)
from bench.workloads import load_workload

ALGORITHMS = ("round_robin", "weighted", "least_outstanding", "p2c_peak_ewma")


# --- a replica that answers late ----------------------------------------------------------


class DelayProxy:
    """127.0.0.1:port -> target port, each client-to-server chunk held `delay` seconds."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, upstream_writer, self.delay),
            self._pipe(upstream_reader, writer, 0.0),
            return_exceptions=True,
        )

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float) -> None:
        try:
            while chunk := await source.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                sink.write(chunk)
                await sink.drain()
        finally:
            sink.close()


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    results: list[WrkResult] = field(default_factory=list)
    transactions: dict[str, int] = field(default_factory=dict)


async def _commits(urls: dict[str, str]) -> dict[str, int]:
    counts = {}
    for name, url in urls.items():
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                counts[name] = int(
                    (
                        await connection.execute(
                            text("SELECT xact_commit FROM pg_stat_database WHERE datname = :db"),
                            {"db": DATABASE},
                        )
                    ).scalar_one()
                )
        finally:
            await engine.dispose()
    return counts


def _replica_env(urls: list[str], algorithm: str) -> dict[str, str]:
    return {
        "BANRIMKWAE_DATABASE_REPLICA_URLS": json.dumps(urls),
        "BANRIMKWAE_REPLICA_ALGORITHM": algorithm,
    }


def experiments(
    cluster: LocalCluster,
    slow_url: str,
    workers: int,
    only: str | None,
    algorithm_workloads: list[str],
) -> Iterator[tuple[str, str, list[Variant]]]:
    """(title, workload, variants) of each comparison."""
    base = {"BANRIMKWAE_CACHE_ENABLED": "false", "BANRIMKWAE_PLATFORM_ENABLED": "true"}
    fast = cluster.replica_urls[0]
    if only in (None, "scale-out"):
        one_replica = {**base, **_replica_env([fast], "round_robin")}
        yield (
            "scale-out, resort-read-mix",
            "resort-read-mix",
            [
                Variant("primary", dict(base), workers),
                Variant("primary+replica", one_replica, workers),
            ],
        )
    if only in (None, "algorithms"):
        # `fast` (one cheap read per request): the injected delay is most of a statement's
        # time, so where the reads go decides the latency; then the read mix.
        for workload in algorithm_workloads:
            yield (
                f"algorithms, {workload}",
                workload,
                [
                    Variant(name, {**base, **_replica_env([fast, slow_url], name)}, workers)
                    for name in ALGORITHMS
                ],
            )


def run(args: argparse.Namespace) -> str:
    wrk_binary()
    lines: list[str] = []
    with (
        LocalCluster(replicas=2) as cluster,
        DelayProxy(cluster.standbys[1].port, args.delay_ms / 1000) as proxy,
    ):
        print(f"cluster: primary {cluster.primary_url}", file=sys.stderr)
        asyncio.run(migrate.upgrade(cluster.primary_url))
        asyncio.run(
            seed_database(cluster.primary_url, args.scale, seed=args.data_seed, progress=False)
        )
        slow_url = LocalCluster.url_for(proxy.port)
        stats_urls = {"replica1": cluster.replica_urls[0], "replica2": cluster.replica_urls[1]}
        tokens = _Tokens(secrets.token_urlsafe(32))
        with tempfile.TemporaryDirectory(prefix="banrimkwae-replicas-") as scratch:
            for title, workload_name, variants in experiments(
                cluster, slow_url, args.workers, args.only, args.algorithm_workloads
            ):
                workload = asyncio.run(load_workload(workload_name, cluster.primary_url, seed=1))
                config = BenchConfig(
                    variants=tuple(variants),
                    workload=workload_name,
                    database=cluster.primary_url,
                    rounds=args.rounds,
                    duration_s=args.duration,
                    warmup_s=args.warmup,
                    connections=args.connections,
                    request_count=args.requests,
                )
                lists = _RequestLists(config, workload, tokens, fresh_copies=False)
                outcomes = {variant.name: Outcome(variant.name) for variant in variants}
                log_path = RESULTS_DIR / "replicas.server.log"
                RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                for round_number in range(1, args.rounds + 1):
                    # Rotate the order each round so no variant always runs first.
                    shift = (round_number - 1) % len(variants)
                    for variant in variants[shift:] + variants[:shift]:
                        result, moved = _measure(
                            config,
                            lists,
                            Path(scratch),
                            variant,
                            round_number,
                            cluster.primary_url,
                            log_path,
                            stats_urls,
                            tokens,
                        )
                        outcome = outcomes[variant.name]
                        outcome.results.append(result)
                        for name, count in moved.items():
                            outcome.transactions[name] = outcome.transactions.get(name, 0) + count
                        print(
                            f"{title} round {round_number} {variant.name}: {result.rps:,.0f} req/s"
                            f" p99 {result.percentile('99'):.1f} ms non-2xx {result.non_2xx}"
                            f" errors {result.errors} reads {moved}",
                            file=sys.stderr,
                        )
                lines += _markdown(title, variants, outcomes, args)
    return "\n".join(lines) + "\n"


def _measure(
    config: BenchConfig,
    lists: _RequestLists,
    directory: Path,
    variant: Variant,
    round_number: int,
    database_url: str,
    log_path: Path,
    stats_urls: dict[str, str],
    tokens: _Tokens,
) -> tuple[WrkResult, dict[str, int]]:
    warm_requests, warm_file = lists.write(f"warm-up:{round_number}", directory)
    _, run_file = lists.write(str(round_number), directory)
    with running_server(variant, database_url, tokens.secret, log_path) as server:
        if round_number == 1:
            statuses = probe(server.url, warm_requests, tokens)
            bad = {kind: s for kind, s in statuses.items() if any(code >= 500 for code in s)}
            if bad:
                print(f"probe {variant.name}: server errors {bad}", file=sys.stderr)
        if config.warmup_s:
            _wrk(config, server.url, warm_file, config.warmup_s)
        before = asyncio.run(_commits(stats_urls))
        result = _wrk(config, server.url, run_file, config.duration_s)
    # The server has stopped: its connections flushed their statistics.
    after = asyncio.run(_commits(stats_urls))
    return result, {name: after[name] - before[name] for name in stats_urls}


def _markdown(
    title: str, variants: list[Variant], outcomes: dict[str, Outcome], args: argparse.Namespace
) -> list[str]:
    baseline = outcomes[variants[0].name]
    lines = [
        f"### replicas, {title}",
        "",
        f"{dt.datetime.now():%Y-%m-%d %H:%M}; scale {args.scale}; {args.rounds} rounds of "
        f"{args.duration} s (warm-up {args.warmup} s), wrk -t1 -c{args.connections}, "
        f"{args.workers} worker(s); replica2 delayed {args.delay_ms} ms per statement.",
        "",
        f"| variant | req/s | vs {baseline.name} | p50 ms | p95 ms | p99 ms | non-2xx "
        "| socket errors | replica1 xacts | replica2 xacts | req/s by round |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for variant in variants:
        outcome = outcomes[variant.name]
        results = outcome.results
        rps = [r.rps for r in results]
        ratios = [r.rps / b.rps for r, b in zip(results, baseline.results, strict=True)]
        pct = [statistics.median(r.percentile(p) for r in results) for p in ("50", "95", "99")]
        moved = outcome.transactions
        by_round = ", ".join(f"{x:,.0f}" for x in rps)
        lines.append(
            f"| {variant.name} | {statistics.median(rps):,.0f} | {statistics.median(ratios):.2f} "
            f"| {pct[0]:.1f} | {pct[1]:.1f} | {pct[2]:.1f} "
            f"| {sum(r.non_2xx for r in results):,} | {sum(r.errors for r in results):,} "
            f"| {moved.get('replica1', 0):,} | {moved.get('replica2', 0):,} | {by_round} |"
        )
    lines.append("")
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--scale", default="small", choices=("small", "medium", "large"))
    parser.add_argument("--data-seed", type=int, default=DEFAULT_DATA_SEED)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--delay-ms", type=float, default=5.0)
    parser.add_argument("--only", choices=("scale-out", "algorithms"), default=None)
    parser.add_argument(
        "--algorithm-workloads",
        nargs="+",
        choices=("fast", "resort-read-mix"),
        default=["fast", "resort-read-mix"],
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    markdown = run(args)
    print(markdown)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"{stamp}-replicas.md").write_text(markdown)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
