"""L2: Redis standalone or Redis Cluster, chosen by URL, through redis.asyncio.

    redis://host:6379/0            standalone (rediss:// for TLS, unix:// for a socket)
    redis+cluster://host:7000      Cluster; any one node is enough to discover the rest
                                   (or pass cluster=True with a redis:// URL); list more
                                   seeds to start while one is down: h1:7000,h2:7001

Every operation touches one key, or keys it sends one per slot (MGET on Cluster goes through
mget_nonatomic, deletes through redis-py's per-slot split), so nothing here needs a
multi-key operation across Cluster slots. Keys keep a readable prefix:

    bk:c:[namespace:]e:<key>   an encoded CachedResponse (PX = ttl + stale_ttl)
    bk:c:[namespace:]t:<tag>   a tag's version (an integer that only ever grows)
    bk:c:[namespace:]seq       the global bump sequence
    bk:c:[namespace:]l:<key>   a cross-instance lock (SET NX PX, released by token)
    bk:c:[namespace:]bump      the pub/sub channel of version bumps (sharded on Cluster)

This class raises whatever redis-py raises; ResponseStore calls it only through L2Guard.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, ClusterPubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

CLUSTER_SCHEMES = ("redis+cluster://", "redis-cluster://", "rediss+cluster://")
_MAX_READABLE_KEY = 512
_HEALTH_CHECK_S = 5
_MESSAGE_TYPES = ("message", "smessage", b"message", b"smessage")
_SCAN_BATCH = 500

# Versions only grow, even when a Cluster failover lost the last write: a bump moves the tag
# past both its current value and the new sequence number.
_BUMP = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local version = math.max(current + 1, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], version)
return version
"""
# Puts back a version a process saw that Redis no longer has (lost in a failover).
_RAISE_TO = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if current < floor then redis.call('SET', KEYS[1], floor) return floor end
return current
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class BumpSubscription:
    """One subscription to the bump channel; `next` returns a message's data or None."""

    def __init__(self, pubsub: PubSub, *, sharded: bool) -> None:
        self._pubsub = pubsub
        self._sharded = sharded

    async def next(self, timeout_s: float) -> bytes | None:
        if isinstance(self._pubsub, ClusterPubSub):
            message = await self._pubsub.get_sharded_message(
                ignore_subscribe_messages=True, timeout=timeout_s
            )
            if message is None:
                # No node answered: give the loop a beat instead of spinning.
                await asyncio.sleep(0)
        else:
            message = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=timeout_s
            )
        if message is None or message["type"] not in _MESSAGE_TYPES:
            return None
        data = message["data"]
        return data if isinstance(data, bytes) else str(data).encode()

    async def close(self) -> None:
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEMES)


def _split_hosts(url: str) -> tuple[str, list[tuple[str, int]]]:
    """`redis://a:7000,b:7001/0` -> (`redis://a:7000/0`, [(b, 7001)]): several seed nodes,
    so a process can start while the node named first is down."""
    scheme, rest = url.split("://", 1)
    netloc, slash, path = rest.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    first, *others = hosts.split(",")
    seeds = []
    for host in others:
        name, _, port = host.rpartition(":")
        seeds.append((name, int(port)))
    return f"{scheme}://{credentials}{at}{first}{slash}{path}", seeds


class RedisL2:
    def __init__(
        self,
        url: str,
        *,
        namespace: str = "",
        cluster: bool | None = None,
        socket_timeout_s: float = 0.25,
    ) -> None:
        self.is_cluster = is_cluster_url(url) if cluster is None else cluster
        options: dict[str, Any] = {
            "socket_timeout": socket_timeout_s,
            "socket_connect_timeout": socket_timeout_s,
            # An idle pub/sub link is PINGed, so a silently dead one is noticed (and the
            # listener resyncs) instead of waiting forever for messages that cannot come.
            "health_check_interval": _HEALTH_CHECK_S,
        }
        self.client: Redis | RedisCluster
        if self.is_cluster:
            plain = url.replace("+cluster://", "://").replace("-cluster://", "://")
            # Few retries: the breaker, not redis-py, decides when to give up on L2.
            options["retry"] = Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.05), retries=1)
            first, others = _split_hosts(plain)
            if others:
                options["startup_nodes"] = [ClusterNode(host, port) for host, port in others]
            self.client = RedisCluster.from_url(first, **options)
        else:
            self.client = Redis.from_url(url, **options)
        self.prefix = "bk:c:" + (f"{namespace}:" if namespace else "")
        self.channel = self.prefix + "bump"
        self._seq_key = self.prefix + "seq"
        self._bump = self.client.register_script(_BUMP)
        self._raise_to = self.client.register_script(_RAISE_TO)
        self._release = self.client.register_script(_RELEASE)

    def entry_key(self, key: str) -> str:
        if len(key) > _MAX_READABLE_KEY:
            return self.prefix + "e:#" + hashlib.sha256(key.encode()).hexdigest()
        return self.prefix + "e:" + key

    def _tag_key(self, tag: str) -> str:
        return self.prefix + "t:" + tag

    async def get(self, key: str) -> bytes | None:
        value = await self.client.get(self.entry_key(key))
        return value if isinstance(value, bytes) or value is None else value.encode()

    async def set(self, key: str, data: bytes, ttl_ms: int) -> None:
        await self.client.set(self.entry_key(key), data, px=ttl_ms)

    async def delete(self, key: str) -> None:
        await self.client.unlink(self.entry_key(key))

    async def delete_matching(self, pattern: str) -> int:
        """UNLINK every entry whose key matches the glob `pattern` (SCAN on every master)."""
        match = self.prefix + "e:" + pattern
        deleted = 0
        batch: list[bytes] = []
        async for name in self.client.scan_iter(match=match, count=_SCAN_BATCH):
            batch.append(name)
            if len(batch) >= _SCAN_BATCH:
                deleted += await self.client.unlink(*batch)
                batch = []
        if batch:
            deleted += await self.client.unlink(*batch)
        return deleted

    async def versions(self, tags: list[str]) -> tuple[int, dict[str, int]]:
        """The global sequence and the current version of each tag (0: never bumped)."""
        names = [self._seq_key, *map(self._tag_key, tags)]
        if isinstance(self.client, RedisCluster):
            values = await self.client.mget_nonatomic(names)
        else:
            values = await self.client.mget(names)
        numbers = [int(value) if value is not None else 0 for value in values]
        return numbers[0], dict(zip(tags, numbers[1:], strict=True))

    async def bump(self, tags: list[str]) -> tuple[int, dict[str, int]]:
        sequence = int(await self.client.incr(self._seq_key))
        results = await asyncio.gather(
            *(self._bump(keys=[self._tag_key(tag)], args=[sequence]) for tag in tags)
        )
        return sequence, {tag: int(version) for tag, version in zip(tags, results, strict=True)}

    async def raise_versions(self, floors: dict[str, int], sequence: int) -> None:
        """Put back tag versions and the sequence a process saw but Redis no longer has."""
        await asyncio.gather(
            self._raise_to(keys=[self._seq_key], args=[sequence]),
            *(self._raise_to(keys=[self._tag_key(tag)], args=[v]) for tag, v in floors.items()),
        )

    async def publish(self, message: bytes) -> None:
        if isinstance(self.client, RedisCluster):
            await self.client.spublish(self.channel, message)
        else:
            await self.client.publish(self.channel, message)

    async def subscribe(self) -> BumpSubscription:
        """A pub/sub connection listening to the bump channel (SSUBSCRIBE on Cluster)."""
        if isinstance(self.client, RedisCluster):
            await self.client.initialize()  # the slot map routes SSUBSCRIBE; no-op once known
            cluster_pubsub = self.client.pubsub()
            await cluster_pubsub.ssubscribe(self.channel)
            return BumpSubscription(cluster_pubsub, sharded=True)
        pubsub = self.client.pubsub()
        await pubsub.subscribe(self.channel)
        return BumpSubscription(pubsub, sharded=False)

    async def refresh_topology(self) -> None:
        """Cluster: re-read the slot map now. Commands refresh it when they fail, but a
        pub/sub link that died with its node would otherwise retry the dead node forever."""
        if isinstance(self.client, RedisCluster):
            await self.client.nodes_manager.initialize()

    async def acquire(self, key: str, token: str, ttl_ms: int) -> bool:
        return bool(await self.client.set(self.prefix + "l:" + key, token, nx=True, px=ttl_ms))

    async def release(self, key: str, token: str) -> None:
        await self._release(keys=[self.prefix + "l:" + key], args=[token])

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()
