"""The hit rate an ideal cache would reach on the read mix's request lists: the ceiling.

    .venv/bin/python -m bench.cache_replay [--warmup-requests 19000] [--measured-requests 9800]
        [--rounds 3] [--scale small]

Replays, in order (as wrk's one thread walks them), the first `--warmup-requests` of a round's
warm-up list and the first `--measured-requests` of its measured list (bench.cache_readmix
builds the same lists) through an ideal cache: unbounded, no TTL, no race. Two cases:
never invalidated (only the key space limits it), and invalidated where the data really
changes: every booking in the list drops the availability searches of its property that
cover one of its nights, and its guest's booking list (every booking counted as made,
cancellations ignored). Hit rates over the measured reads, overall and per kind.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections import Counter
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from bench.harness import prepare_database
from bench.workloads import Request, RequestPlan, load_workload

# What invalidates an entry: ("availability", property, nights) or ("guest", guest id, -).
_Concern = tuple[str, int, frozenset[dt.date]] | None


def _nights(check_in: str, check_out: str) -> frozenset[dt.date]:
    first, end = dt.date.fromisoformat(check_in), dt.date.fromisoformat(check_out)
    return frozenset(first + dt.timedelta(days=n) for n in range((end - first).days))


def _concern(request: Request) -> _Concern:
    if request.kind == "availability":
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        property_id = int(url.path.split("/")[4])
        return ("availability", property_id, _nights(query["check_in"][0], query["check_out"][0]))
    if request.kind == "my_bookings" and request.guest_id is not None:
        return ("guest", request.guest_id, frozenset())
    return None


class IdealCache:
    def __init__(self, *, invalidate: bool) -> None:
        self.invalidate = invalidate
        self.entries: dict[tuple[str, int | None], _Concern] = {}
        self.hits: Counter[str] = Counter()
        self.reads: Counter[str] = Counter()

    def serve(self, request: Request, *, counted: bool) -> None:
        if request.method != "GET":
            if self.invalidate and request.kind == "book" and request.body:
                self._booked(json.loads(request.body), request.guest_id)
            return
        key = (request.path, request.guest_id if request.kind == "my_bookings" else None)
        if counted:
            self.reads[request.kind] += 1
            self.hits[request.kind] += key in self.entries
        self.entries.setdefault(key, _concern(request))

    def _booked(self, body: dict[str, object], guest_id: int | None) -> None:
        nights = _nights(str(body["check_in"]), str(body["check_out"]))
        for key, concern in list(self.entries.items()):
            if concern is None:
                continue
            what, owner, covered = concern
            if what == "guest":
                stale = owner == guest_id
            else:
                stale = owner == body["property_id"] and bool(covered & nights)
            if stale:
                del self.entries[key]

    def rate(self, kind: str | None = None) -> float:
        if kind is None:
            return sum(self.hits.values()) / max(1, sum(self.reads.values()))
        return self.hits[kind] / max(1, self.reads[kind])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_replay")
    parser.add_argument("--warmup-requests", type=int, default=19_000)
    parser.add_argument("--measured-requests", type=int, default=9_800)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    database = prepare_database("sqlite", scale=args.scale)
    workload = asyncio.run(load_workload("resort-read-mix", database.url, seed=args.seed))
    print("| round | invalidated | hit rate | availability | a guest's bookings |")
    print("|---:|---|---:|---:|---:|")
    for round_number in range(1, args.rounds + 1):
        warm = workload.requests(RequestPlan(30_000, f"warm-up:{round_number}", 0, 2))
        measured = workload.requests(RequestPlan(30_000, str(round_number), 1, 2))
        for invalidate in (False, True):
            cache = IdealCache(invalidate=invalidate)
            for request in warm[: args.warmup_requests]:
                cache.serve(request, counted=False)
            for request in measured[: args.measured_requests]:
                cache.serve(request, counted=True)
            print(
                f"| {round_number} | {'by bookings' if invalidate else 'never'} "
                f"| {cache.rate():.1%} | {cache.rate('availability'):.1%} "
                f"| {cache.rate('my_bookings'):.1%} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
