"""Sharding by property: a directory with a consistent-hash default, per-property routing,
scatter-gather, ids unique across shards, and live moves between shards (reshard)."""

from banrimkwae.perf.db.sharding.directory import Directory, Placement, ShardMoving
from banrimkwae.perf.db.sharding.ids import IdAllocator
from banrimkwae.perf.db.sharding.reshard import (
    Resharder,
    ReshardError,
    ReshardReport,
    shard_counts,
)
from banrimkwae.perf.db.sharding.ring import HashRing, stable_hash
from banrimkwae.perf.db.sharding.router import ShardSet, UnknownShard, merge_slices
from banrimkwae.perf.db.sharding.session import (
    CrossShardStatement,
    ShardedSession,
    ShardNotChosen,
    gather_page,
    is_sharded,
    locate,
    next_id,
    route_to_property,
)
from banrimkwae.perf.db.sharding.settings import parse_shards

__all__ = [
    "CrossShardStatement",
    "Directory",
    "HashRing",
    "IdAllocator",
    "Placement",
    "ReshardError",
    "ReshardReport",
    "Resharder",
    "ShardMoving",
    "ShardNotChosen",
    "ShardSet",
    "ShardedSession",
    "UnknownShard",
    "gather_page",
    "is_sharded",
    "locate",
    "merge_slices",
    "next_id",
    "parse_shards",
    "route_to_property",
    "shard_counts",
    "stable_hash",
]
