"""The cache read-mix benchmark's instruments, for real: X-Cache counted by wrk, the writing
client that checks it reads its own writes, and the hook that runs it beside a measured run.

These check what the benchmark observes, never how fast anything is.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from banrimkwae.resort.auth import issue_token
from bench.cache_readmix import (
    CheckTally,
    ReadYourWritesChecker,
    grace_variant,
    hit_rate,
    read_your_writes,
    summarise,
)
from bench.harness import (
    BenchConfig,
    BenchDatabase,
    parse_variant,
    prepare_database,
    run_benchmark,
    run_wrk,
    running_server,
)
from bench.workloads import Request, write_lua_table
from bench.workloads.catalog import Catalog, load_catalog

_SECRET = "bench-test-secret-long-enough-for-hs256"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> BenchDatabase:
    return prepare_database(
        "sqlite", scale="small", results_dir=tmp_path_factory.mktemp("bench"), log=print
    )


def test_wrk_counts_each_x_cache_answer(seeded: BenchDatabase, tmp_path: Path) -> None:
    request_file = tmp_path / "requests.lua"
    write_lua_table([Request("hit", "GET", "/api/v1/properties")], request_file, token_for=str)
    log = tmp_path / "server.log"
    database = seeded.run_copy()
    with running_server(parse_variant("platform"), database, _SECRET, log) as server:
        cached = run_wrk(server.url, request_file, threads=1, connections=2, duration_s=1)
    with running_server(parse_variant("naive"), database, _SECRET, log) as server:
        uncached = run_wrk(server.url, request_file, threads=1, connections=2, duration_s=1)
    seeded.drop_copy()

    # The readiness check already filled the entry: every measured answer is a hit.
    assert set(cached.cache) == {"HIT l1"}
    assert cached.cache["HIT l1"] == cached.requests
    assert uncached.cache == {"none": uncached.requests}
    assert hit_rate(cached.cache) == (1.0, 1.0)


def test_the_writing_client_reads_its_own_writes_through_the_cache(
    seeded: BenchDatabase, tmp_path: Path
) -> None:
    catalog = asyncio.run(load_catalog(seeded.url))
    database = seeded.run_copy()
    log = tmp_path / "server.log"
    with running_server(parse_variant("platform"), database, _SECRET, log) as server:
        tally = _checked(server.url, catalog, grace_s=0)
    seeded.drop_copy()

    assert tally.cycles >= 3
    assert tally.checks >= 3 * 9 - 9  # the last cycle may stop part-way
    assert tally.stale == 0, tally.examples
    assert tally.graced == 0  # no grace: an anonymous search sees the write at once
    assert not tally.refused


def _checked(server_url: str, catalog: Catalog, *, grace_s: float) -> CheckTally:
    """Three cycles of the writing client against the server (or 60 s), then its tally."""
    checker = ReadYourWritesChecker(
        server_url,
        catalog,
        lambda guest_id: issue_token(_SECRET, guest_id, "guest", 600),
        "test",
        grace_s=grace_s,
    )
    thread = threading.Thread(target=checker.run)
    thread.start()
    deadline = time.monotonic() + 60
    while checker.tally.cycles < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    checker.stop.set()
    thread.join()
    return checker.tally


def test_inside_an_invalidation_grace_anonymous_searches_may_lag_and_the_writer_never(
    seeded: BenchDatabase, tmp_path: Path
) -> None:
    catalog = asyncio.run(load_catalog(seeded.url))
    database = seeded.run_copy()
    variant = grace_variant(30)
    assert variant.prepare is not None
    variant.prepare(database)
    with running_server(variant, database, _SECRET, tmp_path / "server.log") as server:
        allowed = _checked(server.url, catalog, grace_s=30)
        # The same answers, judged as if the server had no grace: each one is a stale read.
        strict = _checked(server.url, catalog, grace_s=0)
    seeded.drop_copy()

    assert allowed.cycles >= 3 and not allowed.refused
    assert allowed.stale == 0, allowed.examples
    assert allowed.graced >= allowed.cycles - 1  # the anonymous search after each booking
    assert strict.stale >= strict.cycles - 1
    assert all(example.startswith("anonymous") for example in strict.examples)


def test_a_stale_read_is_counted_and_kept() -> None:
    tally = CheckTally()
    tally.check("guest after update", "+66 1", "+66 2")
    tally.check("availability after booking", 3, 3)
    assert (tally.checks, tally.stale) == (2, 1)
    assert tally.examples == ["guest after update: saw '+66 1', wrote '+66 2'"]


def test_the_hook_runs_beside_every_measured_run(seeded: BenchDatabase, tmp_path: Path) -> None:
    catalog = asyncio.run(load_catalog(seeded.url))
    config = BenchConfig(
        variants=(parse_variant("naive"), parse_variant("platform")),
        workload="fast",
        database="sqlite",
        scale="small",
        rounds=1,
        duration_s=2,
        warmup_s=0,
        connections=2,
        results_dir=seeded_dir(seeded),
    )

    report = run_benchmark(config, log=print, during=read_your_writes(catalog))

    rows = {row["variant"]: row for row in summarise(report)}
    for run in report.runs:
        assert run.observed["read_your_writes"]["cycles"] >= 1
    assert rows["platform"]["checks"]["stale"] == 0
    assert rows["naive"]["hit_rate_all"] == 0.0
    assert rows["platform"]["hit_rate"] > 0.9


def seeded_dir(seeded: BenchDatabase) -> Path:
    return Path(seeded.url.split(":///", 1)[1]).parent
