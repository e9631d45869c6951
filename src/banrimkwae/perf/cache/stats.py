"""Counters of the response store, per layer, read by the statistics roll-up and Prometheus.

Plain integer attributes bumped in place: the hot path pays an attribute increment, nothing
more. Readers take `as_dict()` snapshots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class LayerStats:
    hits: int = 0
    misses: int = 0
    stores: int = 0
    evictions: int = 0  # L1: pushed out by the byte bound; L2: not counted (Redis evicts)
    expired: int = 0  # dropped on read: past ttl + stale_ttl
    invalidated: int = 0  # dropped on read: a tag version moved
    errors: int = 0  # L2 calls that failed or timed out (each one answered from below)
    skipped: int = 0  # L2 calls not attempted because the breaker was open
    bytes: int = 0  # L1: bytes held now; L2: bytes written
    entries: int = 0  # L1: entries held now


@dataclass(slots=True)
class StoreStats:
    l1: LayerStats = field(default_factory=LayerStats)
    l2: LayerStats = field(default_factory=LayerStats)
    refused_stores: int = 0  # put() refused: a tag moved after the snapshot
    invalidations: int = 0  # tags bumped by invalidate()
    soft_invalidated: int = 0  # entries kept, marked STALE, by their policy's grace
    pending_bumps: int = 0  # bumps made while L2 was unreachable, replayed on recovery
    bumps_received: int = 0  # version bumps learned from other processes (pub/sub)
    resyncs: int = 0  # full re-reads of known tag versions (after a reconnect)
    locks_acquired: int = 0
    locks_contended: int = 0
    breaker_state: str = "none"  # "none" | "closed" | "open" | "half-open"
    breaker_opened: int = 0  # times the breaker opened

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
