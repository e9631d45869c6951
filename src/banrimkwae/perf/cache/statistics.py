"""Per-policy counters of the response cache (the store's per-layer counters are in stats.py).

Plain integer attributes bumped in place by the middleware; readers take snapshots. The
daily roll-up into `cache_statistics` (layers application / redis / cdn) and the report's
`cache_performance` read `snapshot()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class PolicyCounters:
    hits_l1: int = 0
    hits_l2: int = 0
    misses: int = 0
    stale: int = 0  # served stale: revalidating, the origin failed, or an invalidation grace
    not_modified: int = 0  # 304s answered from an entry
    early_refreshes: int = 0  # XFetch
    background_refreshes: int = 0  # stale-while-revalidate and warming
    coalesced: int = 0  # misses that waited for another request's computation
    stores: int = 0
    refused: int = 0  # not stored: a write raced the computation
    uncacheable: int = 0  # computed but not storable (status, Set-Cookie, private ...)
    bypasses: int = 0  # not looked up: credentials, client no-cache, HEAD miss
    errors: int = 0  # origin failures seen on the miss path
    bytes_served: int = 0  # body bytes answered from entries
    compute_ms: float = 0.0  # total origin time of misses

    @property
    def hits(self) -> int:
        return self.hits_l1 + self.hits_l2

    @property
    def lookups(self) -> int:
        return self.hits + self.stale + self.misses

    @property
    def hit_ratio(self) -> float:
        lookups = self.lookups
        return (self.hits + self.stale) / lookups if lookups else 0.0


@dataclass(slots=True)
class CacheStatistics:
    policies: dict[str, PolicyCounters] = field(default_factory=dict)
    invalidations: int = 0  # write requests that bumped tags
    tags_bumped: int = 0

    def of(self, policy: str) -> PolicyCounters:
        counters = self.policies.get(policy)
        if counters is None:
            counters = self.policies[policy] = PolicyCounters()
        return counters

    def snapshot(self) -> dict[str, Any]:
        return {
            "policies": {
                name: {**asdict(c), "hits": c.hits, "hit_ratio": round(c.hit_ratio, 4)}
                for name, c in sorted(self.policies.items())
            },
            "invalidations": self.invalidations,
            "tags_bumped": self.tags_bumped,
        }

    def layer_counts(self) -> dict[tuple[str, str], int]:
        """Lookups by (layer, result) for Prometheus' banrimkwae_cache_requests."""
        l1 = l2 = stale = misses = 0
        for c in self.policies.values():
            l1 += c.hits_l1
            l2 += c.hits_l2
            stale += c.stale
            misses += c.misses
        return {
            ("l1", "hit"): l1,
            ("l2", "hit"): l2,
            ("stale", "hit"): stale,
            ("origin", "miss"): misses,
        }
