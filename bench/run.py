"""Run a benchmark from the command line and write its report (Markdown and JSON).

    .venv/bin/python -m bench.run --workload resort-read-mix --variants naive platform \\
        --database sqlite --scale small

The Markdown table goes to standard output and, with the JSON, to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench.harness import (
    DEFAULT_DATA_SEED,
    RESULTS_DIR,
    SCALES,
    BenchConfig,
    BenchReport,
    HarnessError,
    parse_variant,
    run_benchmark,
)
from bench.workloads import WORKLOAD_NAMES

_PERCENTILES = ("50", "95", "99")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark server variants side by side, interleaved over rounds, with wrk.",
    )
    parser.add_argument("--workload", choices=WORKLOAD_NAMES, default="resort-read-mix")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["naive", "platform"],
        metavar="SPEC",
        help="naive, platform or name:KEY=VALUE,...; the first is the baseline",
    )
    parser.add_argument(
        "--database",
        default="sqlite",
        help="sqlite or postgresql (prepared and seeded once), or the URL of a seeded database",
    )
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--data-seed", type=int, default=DEFAULT_DATA_SEED, help="seeder seed")
    parser.add_argument("--seed", type=int, default=1, help="seed of the request lists")
    parser.add_argument("--reseed", action="store_true", help="seed the database again")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--timeout", type=int, default=10, help="wrk request timeout, seconds")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--requests", type=int, default=30_000, help="requests per list")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--accept-encoding",
        default=None,
        help='Accept-Encoding sent with every request (wrk sends none), e.g. "gzip, br, zstd"',
    )
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> BenchConfig:
    return BenchConfig(
        variants=tuple(parse_variant(spec, workers=args.workers) for spec in args.variants),
        workload=args.workload,
        database=args.database,
        scale=args.scale,
        data_seed=args.data_seed,
        seed=args.seed,
        rounds=args.rounds,
        duration_s=args.duration,
        warmup_s=args.warmup,
        threads=args.threads,
        connections=args.connections,
        timeout_s=args.timeout,
        request_count=args.requests,
        results_dir=args.results_dir,
        reseed=args.reseed,
        accept_encoding=args.accept_encoding,
    )


def _number(value: float, digits: int = 0) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def _statuses(counts: dict[int, int]) -> str:
    return " · ".join(f"{status}: {count:,}" for status, count in counts.items()) or "none"


def render_markdown(report: BenchReport, command: str) -> str:
    config = report.config
    summaries = report.summaries()
    baseline = config.variants[0].name
    lines = [
        f"### {config.workload}: {' vs '.join(variant.name for variant in config.variants)}",
        "",
        f"`{command}`",
        "",
        f"{report.started_at:%Y-%m-%d %H:%M}, git {report.machine()['git']}, "
        f"{report.machine()['cpus']} CPUs; database: {report.database.detail}; "
        f"wrk -t{config.threads} -c{config.connections}, {config.rounds} rounds of "
        f"{config.duration_s} s (warm-up {config.warmup_s} s), variants interleaved.",
        "",
        f"| variant | req/s | vs {baseline} | server CPU µs/req | p50 ms | p95 ms | p99 ms "
        "| non-2xx | socket errors | req/s by round |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for summary in summaries:
        latency = " | ".join(_number(summary.latency_ms[p], 1) for p in _PERCENTILES)
        by_round = ", ".join(_number(rps) for rps in summary.rps_by_round)
        cpu = "n/a" if summary.cpu_us_per_request is None else _number(summary.cpu_us_per_request)
        lines.append(
            f"| {summary.variant.name} | {_number(summary.rps)} | {_number(summary.ratio, 2)} "
            f"| {cpu} | {latency} | {summary.non_2xx:,} | {summary.errors:,} | {by_round} |"
        )
    lines += [
        "",
        "Medians over rounds; vs: the median of the per-round req/s ratios; server CPU: the "
        "server processes' user+system CPU during the measured run per request served.",
        "",
    ]
    lines += [f"- {s.variant.name} responses: {_statuses(s.statuses)}" for s in summaries]
    lines += ["", "Probe before warm-up (first requests of each kind, by status):", ""]
    names = list(report.probes)
    lines += [
        "| kind | share % | endpoint | " + " | ".join(names) + " |",
        "|---|---:|---|" + "---|" * len(names),
    ]
    for share in report.workload.shares:
        seen = [_statuses(report.probes[name].get(share.kind, {})) for name in names]
        lines.append(
            f"| {share.kind} | {share.weight:g} | {share.endpoint} | " + " | ".join(seen) + " |"
        )
    if report.workload.notes:
        lines += ["", *(f"- note: {note}" for note in report.workload.notes)]
    return "\n".join(lines) + "\n"


def report_json(report: BenchReport, command: str) -> dict[str, object]:
    config = report.config
    return {
        "command": command,
        "started_at": report.started_at.isoformat(),
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
        "machine": report.machine(),
        "config": {
            **{key: value for key, value in asdict(config).items() if key != "variants"},
            "results_dir": str(config.results_dir),
            "variants": [asdict(variant) for variant in config.variants],
        },
        "database": asdict(report.database),
        "workload": {
            "name": report.workload.name,
            "shares": [asdict(share) for share in report.workload.shares],
            "notes": list(report.workload.notes),
            "catalog": report.workload.catalog.summary(),
        },
        "summaries": [
            {**asdict(summary), "variant": summary.variant.name} for summary in report.summaries()
        ],
        "runs": [
            {
                "variant": run.variant,
                "round": run.round,
                "rps": run.result.rps,
                "non_2xx": run.result.non_2xx,
                **asdict(run.result),
            }
            for run in report.runs
        ],
        "probes": report.probes,
        "server_log": str(report.server_log),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([".venv/bin/python", "-m", "bench.run", *(argv or sys.argv[1:])])
    try:
        report = run_benchmark(config_from(args))
    except HarnessError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    markdown = render_markdown(report, command)
    stem = f"{report.started_at:%Y%m%d-%H%M%S}-{args.workload}"
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{stem}.md").write_text(markdown)
    json_path = args.results_dir / f"{stem}.json"
    json_path.write_text(json.dumps(report_json(report, command), indent=2, default=str) + "\n")
    print(markdown)
    print(f"written: {json_path} and {stem}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
