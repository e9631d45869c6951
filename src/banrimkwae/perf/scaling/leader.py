"""One leader across controller instances: a lease in Redis or on the service's database row.

Both implement `Lease`: `acquire` takes a free or expired lease, or renews our own;
`renew` only extends a lease we hold; `release` only gives up a lease we hold. A holder that
stops renewing (it died, or lost its connection) loses the lease when the time-to-live ends.

- RedisLease: `SET key holder NX PX ttl`; renewal and release are Lua scripts that compare
  the holder and act in one step. One key per service, so it works on a Redis Cluster too.
  Redis's clock rules the expiry; the `now` arguments are ignored.
- DatabaseLease: a compare-and-set on the `auto_scaling_config` row (leader_id, leader_until);
  the caller's `now` rules the expiry.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Protocol

from redis.asyncio import Redis, RedisCluster
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.cache import is_cluster_url
from banrimkwae.perf.scaling.store import acquire_lease
from banrimkwae.perf.storage.models import AutoScalingConfig

LeaderLock = Literal["auto", "redis", "database"]
REDIS_KEY_PREFIX = "banrimkwae:autoscale:leader:"

# KEYS[1] lease key, ARGV[1] holder, ARGV[2] ttl in ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease(Protocol):
    holder: str

    async def acquire(self, now: dt.datetime) -> bool:
        """Take the lease if free or expired, or renew it if ours; whether we hold it."""
        ...

    async def renew(self, now: dt.datetime) -> bool:
        """Extend the lease only if we hold it; whether we still do."""
        ...

    async def release(self) -> bool:
        """Give the lease up only if we hold it; whether we did."""
        ...

    async def close(self) -> None: ...


class RedisLease:
    def __init__(
        self,
        client: Redis | RedisCluster,
        service: str,
        holder: str,
        ttl_seconds: float,
        *,
        prefix: str = REDIS_KEY_PREFIX,
    ) -> None:
        self.client = client
        self.key = prefix + service
        self.holder = holder
        self.ttl_ms = max(int(ttl_seconds * 1000), 1)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, service: str, holder: str, ttl_seconds: float) -> RedisLease:
        """A lease on the Redis at `url` (a `redis+cluster://` URL for a Redis Cluster)."""
        redis_client: Redis | RedisCluster
        if is_cluster_url(url):
            plain = url.replace("+cluster://", "://").replace("-cluster://", "://")
            redis_client = RedisCluster.from_url(
                plain, socket_timeout=2.0, socket_connect_timeout=2.0
            )
        else:
            redis_client = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return cls(redis_client, service, holder, ttl_seconds)

    async def acquire(self, now: dt.datetime) -> bool:
        if await self.client.set(self.key, self.holder, nx=True, px=self.ttl_ms):
            return True
        return await self.renew(now)

    async def renew(self, now: dt.datetime) -> bool:
        return bool(await self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))

    async def release(self) -> bool:
        return bool(await self._release(keys=[self.key], args=[self.holder]))

    async def close(self) -> None:
        await self.client.aclose()


class DatabaseLease:
    def __init__(self, engine: AsyncEngine, service: str, holder: str, ttl_seconds: float) -> None:
        self.engine = engine
        self.service = service
        self.holder = holder
        self.ttl_seconds = ttl_seconds

    async def acquire(self, now: dt.datetime) -> bool:
        return await acquire_lease(self.engine, self.service, self.holder, now, self.ttl_seconds)

    async def renew(self, now: dt.datetime) -> bool:
        return await self._ours(
            now, leader_until=now + dt.timedelta(seconds=self.ttl_seconds), still_valid=True
        )

    async def release(self) -> bool:
        return await self._ours(None, leader_id=None, leader_until=None)

    async def close(self) -> None:
        """The engine belongs to the caller."""

    async def _ours(
        self, now: dt.datetime | None, *, still_valid: bool = False, **values: object
    ) -> bool:
        conditions = [
            AutoScalingConfig.service_name == self.service,
            AutoScalingConfig.leader_id == self.holder,
        ]
        if still_valid and now is not None:
            conditions.append(AutoScalingConfig.leader_until >= now)
        async with self.engine.begin() as connection:
            changed = await connection.execute(
                update(AutoScalingConfig).where(*conditions).values(**values)
            )
        return bool(changed.rowcount)


def choose_lease(
    engine: AsyncEngine,
    service: str,
    holder: str,
    ttl_seconds: float,
    *,
    redis_url: str | None,
    lock: LeaderLock = "auto",
) -> Lease:
    """Redis when asked, or by default when a Redis URL is configured; else the database."""
    if lock == "redis" and not redis_url:
        raise ValueError("the redis leader lock needs BANRIMKWAE_REDIS_URL")
    if redis_url and lock in ("auto", "redis"):
        return RedisLease.from_url(redis_url, service, holder, ttl_seconds)
    return DatabaseLease(engine, service, holder, ttl_seconds)
