"""The `pool` rule: a connection pool that made callers wait, or that the server cannot afford.

Its measurements come from the process that runs the rules (perf.db.pool_sizing's sampler on
the platform's timer); a run without them (`banrimkwae recommend` from a shell) leaves the
pool recommendations as they are. The sizing itself is perf.db.pool_sizing.size_pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db.pool_sizing import (
    PoolObservation,
    PoolSizing,
    live_worker_count,
    size_pools,
)
from banrimkwae.perf.recommend.rules import Evaluation, Finding

RULE = "pool"
SIZE_SETTING = "BANRIMKWAE_DATABASE_POOL_SIZE"
OVERFLOW_SETTING = "BANRIMKWAE_DATABASE_POOL_MAX_OVERFLOW"
WORKERS_SETTING = "BANRIMKWAE_WORKERS"


class PoolSource(Protocol):
    """Where the observations come from: PoolSampler, or anything alike."""

    @property
    def pools(self) -> Mapping[str, AsyncEngine]: ...

    def observations(self) -> list[PoolObservation]: ...


def target_of(name: str) -> str:
    return f"pool:{name}"


async def evaluate_pools(
    engine: AsyncEngine, source: PoolSource, into: Evaluation, *, workers: int = 1
) -> list[PoolSizing]:
    """Size every observed pool; findings for those to grow or shrink."""
    fleet = max(workers, await live_worker_count(engine))
    sizings = await size_pools(source.pools, source.observations(), workers=fleet)
    pool_findings(sizings, into)
    return sizings


def pool_findings(sizings: Iterable[PoolSizing], into: Evaluation) -> None:
    for sizing in sizings:
        if sizing.action == "not_applicable":
            continue
        observation = sizing.observation
        target = target_of(observation.name)
        into.measured[target] = float(observation.limit)
        if sizing.action == "keep":
            continue
        into.findings.append(_finding(sizing, target))


def _finding(sizing: PoolSizing, target: str) -> Finding:
    observed = sizing.observation
    grow = sizing.action == "grow"
    over_budget = sizing.budget is not None and observed.limit > sizing.budget
    if observed.timeouts > 0 or over_budget:
        priority = "high"
    elif grow:
        priority = "medium"
    else:
        priority = "low"
    verb = "Grow" if grow else "Shrink"
    return Finding(
        rule=RULE,
        type="configuration",
        priority=priority,
        target=target,
        current=float(observed.limit),
        recommended=float(sizing.limit),
        description=(
            f"{verb} the {observed.name} connection pool from {observed.size} + "
            f"{observed.max_overflow} overflow to {sizing.size} + {sizing.max_overflow} per "
            f"worker: {'; '.join(sizing.reasons)}"
        ),
        steps=_steps(sizing),
        expected=_expected(sizing),
        impact=_impact(sizing),
    )


def _steps(sizing: PoolSizing) -> list[str]:
    steps = [
        f"Set {SIZE_SETTING}={sizing.size} and {OVERFLOW_SETTING}={sizing.max_overflow}",
        "Restart the workers (banrimkwae serve) so the engines open the new pools",
        "Check the pool's waits and timeouts afterwards (banrimkwae db pools, /metrics)",
    ]
    budget = sizing.budget
    if sizing.action == "grow" and budget is not None and sizing.limit >= budget:
        steps.append(
            "The server's max_connections is now the bound: raise it, put a connection pooler "
            f"(PgBouncer, ProxySQL) in front, or run fewer workers ({WORKERS_SETTING})"
        )
    return steps


def _expected(sizing: PoolSizing) -> str:
    observed = sizing.observation
    if sizing.action == "grow":
        return (
            f"No more waits for a connection ({observed.waits} in the window, "
            f"{observed.wait_seconds:.2f} s waited)"
        )
    if sizing.budget is not None and observed.limit > sizing.budget:
        return (
            f"{sizing.workers} worker(s) x {sizing.limit} connections fit the server's "
            f"{sizing.server_limit} max_connections: no refused connections at full load"
        )
    return f"{observed.limit - sizing.limit} fewer idle connections per worker held on the server"


def _impact(sizing: PoolSizing) -> dict[str, object]:
    observed = sizing.observation
    return {
        "pool": observed.name,
        "dialect": observed.dialect,
        "workers": sizing.workers,
        "server_max_connections": sizing.server_limit,
        "per_worker_budget": sizing.budget,
        "current": {"pool_size": observed.size, "max_overflow": observed.max_overflow},
        "recommended": {"pool_size": sizing.size, "max_overflow": sizing.max_overflow},
        "total_connections_now": sizing.workers * observed.limit,
        "total_connections_after": sizing.workers * sizing.limit,
        "peak_demand": observed.peak_demand,
        "p95_demand": observed.p95_demand,
        "waits": observed.waits,
        "wait_seconds": round(observed.wait_seconds, 3),
        "timeouts": observed.timeouts,
        "observed_seconds": round(observed.seconds, 1),
        "samples": observed.samples,
        "reasons": list(sizing.reasons),
        "settings": {SIZE_SETTING: sizing.size, OVERFLOW_SETTING: sizing.max_overflow},
    }
