"""Deep pages and sparse fieldsets, side by side on one server, interleaved.

    .venv/bin/python -m bench.pages --database postgresql --scale large

One server (the naive app, so no response cache answers a repeated page, plus the offset peer
route of bench/peers/offset_pages.py) on the seeded bench database. Cases:

- keyset page 1 and page N of `GET /api/v1/bookings` (newest first); the page-N cursor is the
  one the server itself hands out after the last row of page N-1 (signed with the same key);
- offset page 1 and page N of the peer's `ORDER BY id DESC LIMIT OFFSET` route;
- the widest list (`/api/v1/bookings`, limit 200, with and without its relations) with every
  field and with `fields=` picking four, for the bytes on the wire and the latency.

Every round runs every case in turn (rotated per round), `--requests` sequential requests
each; a case's number is the median over rounds of its per-round median latency. The first
item of keyset page N is checked against offset page N before anything is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from banrimkwae.perf.responses.cursors import (
    Cursor,
    CursorCodec,
    derive_cursor_key,
    filters_digest,
)
from banrimkwae.resort.auth import issue_token
from bench.harness import (
    RESULTS_DIR,
    SCALES,
    HarnessError,
    Variant,
    prepare_database,
    running_server,
)
from bench.peers.offset_pages import OFFSET_PATH

LIST_PATH = "/api/v1/bookings"
FEW_FIELDS = "id,check_in,check_out,status"
RELATIONS = "property,room.room_type"
FEW_RELATION_FIELDS = {
    "fields[property]": "code",
    "fields[room]": "number",
    "fields[room.room_type]": "code",
}


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    path: str
    params: dict[str, str]


async def _cursor_after(url: str, position: int, secret: str) -> tuple[str, int]:
    """The cursor after the `position`-th booking (1-based, newest first) and the next id."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            found = (
                await connection.execute(
                    text("SELECT id FROM bookings ORDER BY id DESC LIMIT 2 OFFSET :skip"),
                    {"skip": position - 1},
                )
            ).all()
    finally:
        await engine.dispose()
    if len(found) < 2:
        raise HarnessError(f"the database has fewer than {position + 1} bookings")
    codec = CursorCodec(derive_cursor_key(secret))
    cursor = Cursor("bookings", "next", (found[0][0],), filters_digest({}))
    return codec.encode(cursor), found[1][0]


def _cases(page: int, limit: int, cursor: str) -> list[Case]:
    size = str(limit)
    return [
        Case("keyset page 1", LIST_PATH, {"limit": size}),
        Case(f"keyset page {page:,}", LIST_PATH, {"limit": size, "cursor": cursor}),
        Case("offset page 1", OFFSET_PATH, {"limit": size, "offset": "0"}),
        Case(
            f"offset page {page:,}",
            OFFSET_PATH,
            {"limit": size, "offset": str((page - 1) * limit)},
        ),
        Case("200 bookings, all fields", LIST_PATH, {"limit": "200"}),
        Case("200 bookings, fields=4", LIST_PATH, {"limit": "200", "fields": FEW_FIELDS}),
        Case(
            "200 bookings + relations, all fields",
            LIST_PATH,
            {"limit": "200", "include": RELATIONS},
        ),
        Case(
            "200 bookings + relations, fields=4+1 each",
            LIST_PATH,
            {"limit": "200", "include": RELATIONS, "fields": FEW_FIELDS, **FEW_RELATION_FIELDS},
        ),
    ]


def _timed(client: httpx.Client, case: Case, requests: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(case.path, params=case.params)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise HarnessError(f"{case.name}: HTTP {response.status_code} {response.text[:300]}")
        size = len(response.content)
    return latencies, size


def run(args: argparse.Namespace) -> dict[str, Any]:
    database = prepare_database(args.database, scale=args.scale)
    print(f"database: {database.detail}", file=sys.stderr)
    secret = secrets.token_urlsafe(32)
    position = (args.page - 1) * args.limit
    cursor, expected_first = asyncio.run(_cursor_after(database.url, position, secret))
    cases = _cases(args.page, args.limit, cursor)
    variant = Variant(
        "naive", {"BANRIMKWAE_PLATFORM_ENABLED": "false"}, 1, "bench.peers.offset_pages:create_app"
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS_DIR / "pages-server.log"
    token = issue_token(secret, 1, "staff", 6 * 3600)
    per_round: dict[str, list[float]] = {case.name: [] for case in cases}
    sizes: dict[str, int] = {}
    # Reads only: the seeded database itself is served, no copy is needed.
    with running_server(variant, database.url, secret, log_path) as server:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120.0) as client:
            keyset_deep, offset_deep = cases[1], cases[3]
            first_keyset = client.get(keyset_deep.path, params=keyset_deep.params).json()
            first_offset = client.get(offset_deep.path, params=offset_deep.params).json()
            got = (first_keyset["data"][0]["id"], first_offset["data"][0]["id"])
            if got != (expected_first, expected_first):
                raise HarnessError(f"page {args.page} differs: keyset/offset first ids {got}")
            for case in cases:
                _timed(client, case, args.warmup)
            for round_number in range(args.rounds):
                shift = round_number % len(cases)
                for case in cases[shift:] + cases[:shift]:
                    latencies, size = _timed(client, case, args.requests)
                    per_round[case.name].append(statistics.median(latencies))
                    sizes[case.name] = size
                print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    medians = {name: statistics.median(values) * 1000 for name, values in per_round.items()}
    names = [case.name for case in cases]

    def ratio(top: int, bottom: int) -> float:
        # The median of the per-round ratios: each round's noise hits both cases of a ratio.
        pairs = zip(per_round[names[top]], per_round[names[bottom]], strict=True)
        return statistics.median(a / b for a, b in pairs)

    return {
        "database": database.detail,
        "scale": args.scale,
        "page": args.page,
        "limit": args.limit,
        "rounds": args.rounds,
        "requests": args.requests,
        "median_ms": medians,
        "per_round_ms": {name: [v * 1000 for v in values] for name, values in per_round.items()},
        "bytes": sizes,
        "keyset_deep_over_first": ratio(1, 0),
        "offset_deep_over_first": ratio(3, 2),
        "offset_deep_over_keyset_deep": ratio(3, 1),
        "keyset_first_over_offset_first": ratio(0, 2),
        "fields_bytes_ratio": sizes[names[5]] / sizes[names[4]],
        "fields_latency_ratio": ratio(5, 4),
        "fields_with_relations_bytes_ratio": sizes[names[7]] / sizes[names[6]],
        "fields_with_relations_latency_ratio": ratio(7, 6),
        "command": " ".join(sys.argv),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Pages of bookings, {report['database']}; {report['rounds']} rounds x"
        f" {report['requests']} sequential requests per case, medians; ratios are medians of"
        " the per-round ratios.",
        "",
        "| case | median ms | body bytes |",
        "|---|---:|---:|",
    ]
    for name, value in report["median_ms"].items():
        lines.append(f"| {name} | {value:.2f} | {report['bytes'][name]:,} |")
    lines += [
        "",
        f"- keyset page {report['page']:,} / page 1: {report['keyset_deep_over_first']:.2f}",
        f"- offset page {report['page']:,} / page 1: {report['offset_deep_over_first']:.2f}",
        f"- offset / keyset at page {report['page']:,}:"
        f" {report['offset_deep_over_keyset_deep']:.1f}x",
        f"- keyset / offset at page 1: {report['keyset_first_over_offset_first']:.2f}",
        f"- fields= bytes / all fields: {report['fields_bytes_ratio']:.2f}, latency"
        f" {report['fields_latency_ratio']:.2f}",
        f"- with relations, fields= bytes / all: {report['fields_with_relations_bytes_ratio']:.2f},"
        f" latency {report['fields_with_relations_latency_ratio']:.2f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", default="postgresql")
    parser.add_argument("--scale", choices=SCALES, default="large")
    parser.add_argument("--page", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        report = run(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    table = markdown(report)
    print(table)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = RESULTS_DIR / f"{stamp}-pages"
    Path(f"{base}.md").write_text(table + "\n")
    Path(f"{base}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
