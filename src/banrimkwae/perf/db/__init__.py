"""Engines, pools, read-replica routing (and later sharding)."""

from banrimkwae.perf.db.consistency import client_key
from banrimkwae.perf.db.engines import Database, create_engine_for_url
from banrimkwae.perf.db.pool_sizing import PoolObservation, PoolSampler, PoolSizing, size_pool
from banrimkwae.perf.db.pools import PoolSettings, PoolStats, pool_stats
from banrimkwae.perf.db.replicas import ReplicaConfig, ReplicaRouter
from banrimkwae.perf.db.statement_hooks import StatementHooks, StatementObserver, statement_hooks

__all__ = [
    "Database",
    "PoolObservation",
    "PoolSampler",
    "PoolSettings",
    "PoolSizing",
    "PoolStats",
    "ReplicaConfig",
    "ReplicaRouter",
    "StatementHooks",
    "StatementObserver",
    "client_key",
    "create_engine_for_url",
    "pool_stats",
    "size_pool",
    "statement_hooks",
]
