"""Fixtures of the cache tests: Redis on 6379, a Redis Cluster started by the session, and
a store parametrised over memory only / Redis / Redis Cluster.

Every store gets its own namespace (keys under bk:c:<namespace>:), deleted after the test,
so parallel runs on the shared Redis never collide and nothing else on it is touched.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio import Redis
from redis.asyncio import RedisCluster as AsyncRedisCluster

from banrimkwae.perf.cache import ResponseStore
from tests.conftest import service_missing
from tests.perf.cache.redis_servers import REDIS_SERVER, RedisCluster, RedisServer, free_ports

REDIS_URL = os.environ.get("BANRIMKWAE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared Redis server. Never FLUSHALL it: use a namespace of your own."""
    try:
        with redis.Redis.from_url(REDIS_URL, socket_timeout=1) as client:
            client.ping()
    except (redis.RedisError, OSError) as exc:
        service_missing(f"redis at {REDIS_URL}: {exc}")
    return REDIS_URL


def _need_redis_server() -> None:
    if not os.path.exists(REDIS_SERVER):
        service_missing(f"{REDIS_SERVER} not installed")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """3 masters + 3 replicas on loopback ports, for the whole session."""
    _need_redis_server()
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
    except (RuntimeError, OSError) as exc:
        cluster.stop()
        service_missing(f"could not start a Redis Cluster: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    return redis_cluster.url


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A standalone redis-server of this test alone, which it may kill and restart."""
    _need_redis_server()
    server = RedisServer(free_ports(1)[0], tmp_path / "redis")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture
def cache_namespace() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@dataclass
class StoreBackend:
    """One of "memory", "redis", "cluster": where a test's stores keep their data."""

    name: str
    redis_url: str | None
    namespace: str
    tag_file: str | None = None
    stores: list[ResponseStore] = field(default_factory=list)

    async def make_store(self, *, l1_max_bytes: int = 4 << 20, **options: Any) -> ResponseStore:
        """A started store on this backend; several share L2 and tags (other "processes")."""
        store = ResponseStore(
            l1_max_bytes=l1_max_bytes,
            redis_url=self.redis_url,
            namespace=self.namespace,
            tag_file=self.tag_file,
            **options,
        )
        await store.start()
        assert await store.wait_synced(10.0)
        self.stores.append(store)
        return store

    async def close(self) -> None:
        for store in self.stores:
            await store.stop()
        if self.redis_url is not None:
            await delete_namespace(self.redis_url, self.namespace)


async def delete_namespace(url: str, namespace: str) -> None:
    client: Redis | AsyncRedisCluster
    if url.startswith("redis+cluster://"):
        client = AsyncRedisCluster.from_url(url.replace("redis+cluster://", "redis://"))
    else:
        client = Redis.from_url(url)
    try:
        names = [name async for name in client.scan_iter(match=f"bk:c:{namespace}:*")]
        if names:
            await client.unlink(*names)
    finally:
        await client.aclose()


def _backend(request: pytest.FixtureRequest, namespace: str, tmp_path: Path) -> StoreBackend:
    if request.param == "redis":
        return StoreBackend("redis", request.getfixturevalue("redis_url"), namespace)
    if request.param == "cluster":
        return StoreBackend("cluster", request.getfixturevalue("redis_cluster_url"), namespace)
    # Memory only: stores of one test share a tag file, as the workers of one machine do.
    return StoreBackend("memory", None, namespace, tag_file=str(tmp_path / "cache-tags"))


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store_backend(
    request: pytest.FixtureRequest, cache_namespace: str, tmp_path: Path
) -> AsyncIterator[StoreBackend]:
    """Where a test's stores keep their data; several stores stand for several processes."""
    backend = _backend(request, cache_namespace, tmp_path)
    yield backend
    await backend.close()


@pytest.fixture(params=["redis", "cluster"])
async def l2_backend(
    request: pytest.FixtureRequest, cache_namespace: str, tmp_path: Path
) -> AsyncIterator[StoreBackend]:
    """The backends with an L2 that processes share."""
    backend = _backend(request, cache_namespace, tmp_path)
    yield backend
    await backend.close()


@pytest.fixture
async def store(store_backend: StoreBackend) -> ResponseStore:
    return await store_backend.make_store()
