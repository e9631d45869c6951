"""Which L1 admission/eviction policy: measured hit rates on the resort read mix.

The key stream is the read part of `resort-read-mix` (bench/workloads/read_mix.py: same
shares, same Zipf ids, same seeds) over the ids of a seeded database. Entry sizes are
measured: for every kind of request, up to `--samples` distinct responses are fetched from
the real app (in process, platform off) and stored as the cache would store them (identity
body + gzip, br and zstd variants + headers); every key gets the size of one sample of its
kind. Each policy then replays the stream at several L1 budgets (a miss stores the entry):

    lru        ByteBoundedLRU (banrimkwae.perf.cache.l1), bounded in bytes
    w-tinylfu  ByteBoundedTinyLFU (banrimkwae.perf.cache.tinylfu), bounded in bytes
    theine     theine's W-TinyLFU (Rust core), bounded in ENTRIES: budget / mean entry size
               (a reference for the policy itself; it cannot bound bytes)

    .venv/bin/python -m bench.cache_admission --database sqlite --scale small
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import brotli
import httpx
import theine
import zstandard

from banrimkwae.app import create_fastapi_app
from banrimkwae.config import Settings
from banrimkwae.perf.cache.entry import CachedResponse
from banrimkwae.perf.cache.l1 import ByteBoundedLRU
from banrimkwae.perf.cache.tinylfu import ByteBoundedTinyLFU
from banrimkwae.resort.auth import issue_token
from bench.harness import prepare_database
from bench.workloads.base import RequestPlan
from bench.workloads.catalog import load_catalog
from bench.workloads.read_mix import ResortReadMix
from bench.workloads.requests import Request

SECRET = "bench-cache-admission-secret-0123456789abcdef"
HEADERS = ((b"content-type", b"application/json"), (b"vary", b"accept-encoding"))


class Policy(Protocol):
    def get(self, key: str) -> object | None: ...
    def set(self, key: str, entry: CachedResponse) -> object: ...


class _Theine:
    """theine.Cache behind the same two calls; capacity in entries."""

    def __init__(self, entries: int) -> None:
        self.cache: theine.Cache[str, CachedResponse] = theine.Cache(max(1, entries))

    def get(self, key: str) -> object | None:
        value, found = self.cache.get(key)
        return value if found else None

    def set(self, key: str, entry: CachedResponse) -> object:
        self.cache.set(key, entry)
        return True


def key_of(request: Request) -> str:
    guest = f" guest={request.guest_id}" if request.guest_id is not None else ""
    return f"{request.method} {request.path}{guest}"


def read_stream(workload: ResortReadMix, count: int) -> list[Request]:
    plan = RequestPlan(count=count, round_key="admission", write_slice=0, write_slices=1)
    return [r for r in workload.requests(plan) if r.method == "GET"]


async def measure_entries(
    url: str, stream: list[Request], samples: int
) -> dict[str, list[CachedResponse]]:
    """Per kind, real responses turned into cache entries (with their compressed variants)."""
    settings = Settings(database_url=url, token_secret=SECRET)
    app = create_fastapi_app(settings, with_platform=False)
    chosen: dict[str, dict[str, Request]] = {}
    for request in stream:
        per_kind = chosen.setdefault(request.kind, {})
        if len(per_kind) < samples:
            per_kind.setdefault(key_of(request), request)
    entries: dict[str, list[CachedResponse]] = {}
    compressor = zstandard.ZstdCompressor(level=3)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for kind, requests in chosen.items():
                for request in requests.values():
                    headers = {}
                    if request.guest_id is not None:
                        token = issue_token(SECRET, request.guest_id, "guest", 3600)
                        headers["Authorization"] = f"Bearer {token}"
                    response = await client.get(request.path, headers=headers)
                    body = response.content
                    variants = {
                        "gzip": gzip.compress(body, compresslevel=6),
                        "br": brotli.compress(body, quality=4),
                        "zstd": compressor.compress(body),
                    }
                    entries.setdefault(kind, []).append(
                        CachedResponse(
                            response.status_code, HEADERS, body, variants, b'"0"', 0, 60, 0, 1
                        )
                    )
    return entries


@dataclass
class Outcome:
    hits: int = 0
    requests: int = 0
    hit_bytes: int = 0
    bytes: int = 0
    seconds: float = 0.0


def replay(policy: Policy, keys: list[str], sizes: list[CachedResponse]) -> Outcome:
    outcome = Outcome(requests=len(keys))
    started = time.perf_counter()
    for key, entry in zip(keys, sizes, strict=True):
        outcome.bytes += entry.size
        if policy.get(key) is not None:
            outcome.hits += 1
            outcome.hit_bytes += entry.size
        else:
            policy.set(key, entry)
    outcome.seconds = time.perf_counter() - started
    return outcome


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=40, help="measured responses per kind")
    parser.add_argument("--sizes", default="256K,1M,4M,16M,64M")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    database = prepare_database(args.database, scale=args.scale)
    catalog = asyncio.run(load_catalog(database.url))
    workload = ResortReadMix(catalog, args.seed)
    stream = read_stream(workload, args.requests)
    measured = asyncio.run(measure_entries(database.url, stream, args.samples))
    keys = [key_of(request) for request in stream]
    entries = [
        measured[r.kind][zlib.crc32(key.encode()) % len(measured[r.kind])]
        for r, key in zip(stream, keys, strict=True)
    ]
    distinct = dict(zip(keys, entries, strict=True))
    mean_size = statistics.fmean(entry.size for entry in distinct.values())
    total = sum(entry.size for entry in distinct.values())
    print(f"database: {database.detail}")
    print(
        f"stream: {len(keys)} reads, {len(distinct)} distinct keys, all of them "
        f"{total / 1e6:.1f} MB, mean entry {mean_size / 1024:.1f} KiB"
    )
    for kind, samples in sorted(measured.items()):
        sizes = [entry.size for entry in samples]
        print(f"  {kind:18} median entry {statistics.median(sizes) / 1024:6.1f} KiB")
    factories: dict[str, Callable[[int], Policy]] = {
        "lru": ByteBoundedLRU,
        "w-tinylfu": ByteBoundedTinyLFU,
        "theine (entries)": lambda budget: _Theine(int(budget / mean_size)),
    }
    print()
    print("| L1 budget | policy | hit rate | byte hit rate | replay µs/request |")
    print("|---:|---|---:|---:|---:|")
    for text in args.sizes.split(","):
        budget = parse_size(text)
        for name, factory in factories.items():
            policy = factory(budget)
            outcome = replay(policy, keys, entries)
            if isinstance(policy, _Theine):
                policy.cache.close()
            print(
                f"| {text} | {name} | {100 * outcome.hits / outcome.requests:.1f}% | "
                f"{100 * outcome.hit_bytes / outcome.bytes:.1f}% | "
                f"{1e6 * outcome.seconds / outcome.requests:.2f} |"
            )
    print()
    print(hit_cost(list(distinct.items())[:1000]))
    return 0


def hit_cost(items: list[tuple[str, CachedResponse]], rounds: int = 7) -> str:
    """ns per L1 hit (get of a present key), both byte-bounded policies, interleaved rounds."""
    caches: dict[str, ByteBoundedLRU | ByteBoundedTinyLFU] = {
        "lru": ByteBoundedLRU(1 << 30),
        "w-tinylfu": ByteBoundedTinyLFU(1 << 30),
    }
    keys = [key for key, _ in items]
    for cache in caches.values():
        for key, entry in items:
            cache.set(key, entry)
        for key in keys * 2:
            cache.get(key)
    samples: dict[str, list[float]] = {name: [] for name in caches}
    for _ in range(rounds):
        for name, cache in caches.items():
            get = cache.get
            started = time.perf_counter()
            for _ in range(100):
                for key in keys:
                    get(key)
            samples[name].append(1e9 * (time.perf_counter() - started) / (100 * len(keys)))
    costs = ", ".join(f"{name} {statistics.median(ns):.0f} ns" for name, ns in samples.items())
    return f"L1 hit cost, median of {rounds} rounds: {costs}"


if __name__ == "__main__":
    sys.exit(main())
