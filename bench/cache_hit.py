"""The response cache's hit path, side by side with its peers, one uvicorn worker each.

    .venv/bin/python -m bench.cache_hit [--path /api/v1/properties] [--rounds 3]
        [--duration 10] [--warmup 2] [--connections 32] [--scale small]

Variants, each a fresh server per run (bench.harness.running_server), rounds interleaved:
- `ours`: `banrimkwae serve` with the platform on: Metrics(Cache(Compression(app))), the
  default policies; a hit is answered by the cache middleware before routing;
- `ours-no-metrics`: the same cache without the metrics middleware (its own share);
- `cashews`, `fastapi-cache2`: the naive app with the same endpoint cached by each
  (bench/peers/cache.py);
- `uncached`: the naive app (platform off);
- `bare`: a bare ASGI app that answers the same pre-encoded bytes: the ceiling.
wrk sends the one request (`--path`, no Accept-Encoding, so every variant sends the same
identity bytes) over `--connections` connections; the first answer of each variant is
checked to be the same body. The table gives medians over rounds and the median of the
per-round ratios to cashews and to the ceiling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    RESULTS_DIR,
    Variant,
    WrkResult,
    prepare_database,
    run_wrk,
    running_server,
    server_cpu_seconds,
)
from bench.peers.cache import BODY_FILE
from bench.workloads import Request, write_lua_table

PEERS = "bench.peers.cache"
VARIANTS = (
    Variant("ours", {"BANRIMKWAE_PLATFORM_ENABLED": "true"}),
    Variant("ours-no-metrics", {}, app=f"{PEERS}:cache_without_metrics_app"),
    Variant("cashews", {}, app=f"{PEERS}:cashews_app"),
    Variant("fastapi-cache2", {}, app=f"{PEERS}:fastapi_cache2_app"),
    Variant("uncached", {"BANRIMKWAE_PLATFORM_ENABLED": "false"}),
    Variant("bare", {}, app=f"{PEERS}:bare_app"),
)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fetch(base_url: str, path: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        response = client.get(path, headers={"Accept-Encoding": "identity"})
        response.raise_for_status()
        return response


def run(args: argparse.Namespace) -> dict[str, Any]:
    database = prepare_database("sqlite", scale=args.scale, log=_log)
    secret = secrets.token_urlsafe(32)
    started = dt.datetime.now()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    server_log = RESULTS_DIR / f"{started:%Y%m%d-%H%M%S}-cache-hit.server.log"
    runs: dict[str, list[WrkResult]] = {v.name: [] for v in VARIANTS}
    bodies: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="banrimkwae-cache-hit-") as scratch:
        request_file = Path(scratch) / "requests.lua"
        write_lua_table([Request("hit", "GET", args.path)], request_file, lambda _guest: "")
        # The ceiling serves exactly what the platform answers for the path.
        with running_server(VARIANTS[0], database.run_copy(), secret, server_log) as server:
            BODY_FILE.write_bytes(_fetch(server.url, args.path).content)
        expected = BODY_FILE.read_bytes()
        for round_number in range(1, args.rounds + 1):
            for variant in VARIANTS:
                url = database.run_copy()
                with running_server(variant, url, secret, server_log) as server:
                    body = _fetch(server.url, args.path).content
                    if body != expected:
                        raise SystemExit(f"{variant.name} answers other bytes than the ceiling")
                    bodies[variant.name] = len(body)
                    wrk = {"threads": 1, "connections": args.connections}
                    if args.warmup:
                        run_wrk(server.url, request_file, duration_s=args.warmup, **wrk)
                    cpu_before = server_cpu_seconds(server.pid)
                    result = run_wrk(server.url, request_file, duration_s=args.duration, **wrk)
                    cpu = server_cpu_seconds(server.pid) - cpu_before
                    result = replace(result, server_cpu_s=cpu)
                runs[variant.name].append(result)
                _log(
                    f"round {round_number}/{args.rounds} {variant.name}: {result.rps:,.0f} req/s,"
                    f" p50 {result.percentile('50'):.2f} ms, non-2xx {result.non_2xx}"
                )
    database.drop_copy()
    return {"started": started.isoformat(), "args": vars(args), "runs": runs, "bodies": bodies}


def _ratios(runs: dict[str, list[WrkResult]], name: str, other: str) -> float:
    return statistics.median(a.rps / b.rps for a, b in zip(runs[name], runs[other], strict=True))


def render(report: dict[str, Any]) -> str:
    runs: dict[str, list[WrkResult]] = report["runs"]
    args = report["args"]
    lines = [
        f"Cache hit path: GET {args['path']} ({report['bodies']['bare']} bytes, identity),"
        f" 1 worker, wrk 1 thread / {args['connections']} connections, {args['duration']} s"
        f" x {args['rounds']} rounds, medians",
        "",
        "| variant | req/s | p50 ms | p99 ms | server CPU µs/req | x cashews | x bare |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, results in runs.items():
        rps = statistics.median(r.rps for r in results)
        p50 = statistics.median(r.percentile("50") for r in results)
        p99 = statistics.median(r.percentile("99") for r in results)
        cpu = statistics.median(
            (r.server_cpu_s or 0.0) / r.requests * 1e6 for r in results if r.requests
        )
        lines.append(
            f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {cpu:.0f} |"
            f" {_ratios(runs, name, 'cashews'):.2f} | {_ratios(runs, name, 'bare'):.2f} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--path", default="/api/v1/properties")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--scale", default="small")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    table = render(report)
    print(table)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"{stamp}-cache-hit.md").write_text(table + "\n")
    raw = {
        **report,
        "runs": {k: [asdict(r) for r in v] for k, v in report["runs"].items()},
    }
    (RESULTS_DIR / f"{stamp}-cache-hit.json").write_text(json.dumps(raw, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
