"""What every workload offers the harness: its shares and a request list per server run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bench.workloads.catalog import Catalog
from bench.workloads.requests import Request

API = "/api/v1"


@dataclass(frozen=True, slots=True)
class Share:
    """One kind of request and its weight in the mix (weights of a workload sum to 100)."""

    kind: str
    weight: float
    endpoint: str
    write: bool = False


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """Which request list one wrk run gets.

    `round_key` is the same for every variant of a round, so they all read the same things;
    runs on the same database state get distinct `write_slice`s (0 <= write_slice <
    write_slices), so that writes that can happen only once (a cancellation) never repeat.
    """

    count: int
    round_key: str
    write_slice: int
    write_slices: int


class Workload(Protocol):
    name: str
    shares: tuple[Share, ...]
    catalog: Catalog
    # Anything about the data that makes requests fail on purpose, said once in the report.
    notes: tuple[str, ...]

    def requests(self, plan: RequestPlan) -> list[Request]: ...
