"""The target metric of an applied change, read from the metrics store over a time span.

An index is judged by its statements' average time (query_fingerprint_rollups), a cache
policy's TTL or warming by its endpoint's cache hit rate, a scaling setting by the p95 of all
requests (api_metric_rollups). The metric is stored with the change as JSON, so the verifier
measures the same thing again after the window. A span without traffic measures nothing
(None): there is nothing to compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.admin.report import Period, Window, read_fingerprints, read_request_rollups
from banrimkwae.perf.cache.policies import PolicySet, compile_policy

MetricName = Literal["query_avg_ms", "cache_hit_rate", "p95_ms"]
BETTER: dict[str, Literal["lower", "higher"]] = {
    "query_avg_ms": "lower",
    "cache_hit_rate": "higher",
    "p95_ms": "lower",
}


@dataclass(frozen=True, slots=True)
class TargetMetric:
    name: MetricName
    # query_avg_ms: the fingerprints; cache_hit_rate: the policy's endpoint pattern (the GET
    # endpoints it covers, merged).
    fingerprints: tuple[str, ...] = ()
    pattern: str | None = None
    better: Literal["lower", "higher"] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "better", BETTER[self.name])

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "fingerprints": list(self.fingerprints)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TargetMetric:
        return cls(
            name=data["name"],
            fingerprints=tuple(data.get("fingerprints") or ()),
            pattern=data.get("pattern"),
        )


def _window(start: float, end: float) -> Window:
    # One step spanning [start, end): the report's readers then merge it all.
    seconds = max(int(end - start), 1)
    return Window(Period("span", seconds, seconds), start, start + seconds)


async def measure(
    session: AsyncSession, metric: TargetMetric, start: float, end: float
) -> float | None:
    """The metric over [start, end) (epoch seconds); None without traffic in the span."""
    window = _window(start, end)
    if metric.name == "query_avg_ms":
        wanted = set(metric.fingerprints)
        count, total = 0, 0.0
        for fingerprint in await read_fingerprints(session, window):
            if fingerprint.query_hash in wanted:
                count += fingerprint.count
                total += fingerprint.total_time_ms
        return total / count if count else None
    rollups = await read_request_rollups(session, window)
    if metric.name == "cache_hit_rate":
        covers = PolicySet(
            [compile_policy({"endpoint_pattern": metric.pattern or "", "cache_ttl_seconds": 1})]
        )
        requests = hits = 0
        for (path, method), aggregate in rollups.endpoints.items():
            if method == "GET" and covers.match(path) is not None:
                requests += aggregate.count
                hits += aggregate.cache_hits
        return 100.0 * hits / requests if requests else None
    total_aggregate = rollups.total()
    if total_aggregate.count == 0:
        return None
    return total_aggregate.histogram.quantile(0.95)


def worse_beyond(metric: TargetMetric, before: float, after: float, tolerance: float) -> bool:
    """Whether `after` is worse than `before` by more than `tolerance` (0.1: 10 %)."""
    if metric.better == "lower":
        return after > before * (1 + tolerance)
    return after < before * (1 - tolerance)
