"""Engines, pools, read-replica routing (and later sharding)."""

from banrimkwae.perf.db.consistency import client_key
from banrimkwae.perf.db.engines import Database, create_engine_for_url
from banrimkwae.perf.db.pools import PoolSettings, PoolStats, pool_stats
from banrimkwae.perf.db.replicas import ReplicaConfig, ReplicaRouter

__all__ = [
    "Database",
    "PoolSettings",
    "PoolStats",
    "ReplicaConfig",
    "ReplicaRouter",
    "client_key",
    "create_engine_for_url",
    "pool_stats",
]
