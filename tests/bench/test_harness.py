"""The benchmark harness for real: a seeded SQLite file, the API under uvicorn, wrk.

These check that the harness measures and reports, never how fast anything is.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bench.harness import (
    BenchConfig,
    BenchDatabase,
    parse_variant,
    prepare_database,
    run_benchmark,
    run_wrk,
    running_server,
)
from bench.run import render_markdown, report_json
from bench.workloads import Catalog, Request, RequestPlan, ResortReadMix, write_lua_table
from bench.workloads.catalog import RoomTypeRow


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> BenchDatabase:
    return prepare_database(
        "sqlite", scale="small", results_dir=tmp_path_factory.mktemp("bench"), log=print
    )


def test_fast_workload_reports_throughput_and_ordered_percentiles(
    seeded: BenchDatabase, tmp_path: Path
) -> None:
    config = BenchConfig(
        variants=(parse_variant("naive"),),
        workload="fast",
        database=seeded.url,
        rounds=1,
        duration_s=2,
        warmup_s=1,
        connections=4,
        results_dir=tmp_path,
    )

    report = run_benchmark(config, log=print)

    [summary] = report.summaries()
    assert summary.rps > 0
    assert summary.requests > 0
    assert summary.non_2xx == 0
    assert summary.errors == 0
    latency = summary.latency_ms
    assert 0 < latency["50"] <= latency["95"] <= latency["99"]
    assert report.probes == {"naive": {"property": {200: 1}}}
    markdown = render_markdown(report, "python -m bench.run --workload fast")
    assert "| naive |" in markdown
    assert "python -m bench.run --workload fast" in markdown
    document = json.loads(json.dumps(report_json(report, "command"), default=str))
    assert document["summaries"][0]["rps"] == pytest.approx(summary.rps)


def test_requests_to_a_missing_endpoint_count_as_non_2xx(
    seeded: BenchDatabase, tmp_path: Path
) -> None:
    requests = [
        Request("property", "GET", "/api/v1/properties/1"),
        Request("missing", "GET", "/api/v1/no-such-endpoint"),
    ]
    request_file = tmp_path / "requests.lua"
    write_lua_table(requests, request_file, token_for=str)

    secret = "bench-test-secret-long-enough-for-hs256"
    log = tmp_path / "server.log"
    with running_server(parse_variant("naive"), seeded.url, secret, log) as server:
        result = run_wrk(server.url, request_file, threads=1, connections=2, duration_s=1)

    assert result.statuses[200] > 0
    assert result.statuses[404] > 0
    assert result.non_2xx == result.statuses[404]


def _catalog() -> Catalog:
    return Catalog(
        property_ids=[1, 2],
        room_types=[RoomTypeRow(1, 1, 2), RoomTypeRow(2, 2, 4)],
        activity_ids=[1, 2, 3],
        restaurant_ids=[1, 2],
        guest_ids=list(range(1, 101)),
        cancellable=[(booking_id, booking_id % 100 + 1) for booking_id in range(1, 401)],
        stay_window=(dt.date(2030, 1, 1), dt.date(2030, 3, 1)),
    )


def test_read_mix_variants_of_a_round_read_alike_but_never_share_a_cancellation() -> None:
    mix = ResortReadMix(_catalog(), seed=7)
    first = mix.requests(RequestPlan(4_000, "1", write_slice=0, write_slices=4))
    second = mix.requests(RequestPlan(4_000, "1", write_slice=1, write_slices=4))

    def reads(requests: list[Request]) -> list[Request]:
        return [request for request in requests if request.method == "GET"]

    assert reads(first) == reads(second)
    kinds = {request.kind for request in first}
    assert kinds == {share.kind for share in mix.shares}
    cancelled = [
        {request.path for request in requests if request.kind == "cancel"}
        for requests in (first, second)
    ]
    assert cancelled[0] and cancelled[1]
    assert not cancelled[0] & cancelled[1]
    availability = [request.path for request in first if request.kind == "availability"]
    assert len(availability) / len(first) == pytest.approx(0.30, abs=0.03)
    assert all("check_in=2030-" in path for path in availability)
