"""L2 failures mid-load: a Redis outage, a hung Redis, a Cluster master killed.

No call may raise; L1 keeps answering; the breaker opens, is visible, and closes again by
itself; bumps made while Redis was away reach the other processes once it is back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from redis.crc import key_slot

from banrimkwae.perf.cache import CachedResponse, ResponseStore
from tests.perf.cache.redis_servers import RedisCluster, RedisServer

FAST_BREAKER = {"l2_timeout_s": 0.2, "breaker_failures": 2, "breaker_reset_s": 0.3}


def make_entry(body: bytes = b"[]") -> CachedResponse:
    return CachedResponse(200, (), body, {}, b'"x"', time.time(), 300, 60, 3.0)


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"never happened: {what}")


async def started(url: str, namespace: str, **options: object) -> ResponseStore:
    store = ResponseStore(l1_max_bytes=1 << 20, redis_url=url, namespace=namespace,
                          **FAST_BREAKER, **options)  # type: ignore[arg-type]  # fmt: skip
    await store.start()
    assert await store.wait_synced(10)
    return store


async def put(store: ResponseStore, key: str, tags: list[str]) -> bool:
    return await store.put(key, make_entry(), tags, store.snapshot())


async def test_a_redis_outage_degrades_to_l1_and_recovers(
    private_redis: RedisServer, cache_namespace: str
) -> None:
    writer = await started(private_redis.url, cache_namespace)
    reader = await started(private_redis.url, cache_namespace)
    try:
        assert await put(writer, "GET /properties/1", ["property:1"])
        assert await reader.get("GET /properties/1") is not None  # in reader's L1 too

        stop = asyncio.Event()

        async def load(store: ResponseStore) -> int:
            calls = 0
            while not stop.is_set():
                for number in range(20):
                    key = f"GET /load/{number}"
                    if await store.get(key) is None:
                        await store.put(key, make_entry(), ["t:load"], store.snapshot())
                    calls += 1
                await asyncio.sleep(0.001)
            return calls

        loads = [asyncio.create_task(load(store)) for store in (writer, reader)]
        await asyncio.sleep(0.2)
        private_redis.kill()  # mid-load
        for number in range(100):  # more calls while Redis is gone: nothing raises
            await writer.get(f"GET /missing/{number}")
            await writer.put(f"GET /new/{number}", make_entry(), ["t"], writer.snapshot())
            async with writer.lock(f"GET /new/{number}", 1.0) as acquired:
                assert acquired
        assert await writer.delete_matching("GET /nothing/*") == 0
        assert writer.peek("GET /properties/1") is not None  # L1 still answers
        assert writer.peek("GET /new/99") is not None  # and still stores
        assert writer.l2_state in ("open", "half-open")
        assert writer.stats.breaker_opened >= 1 and writer.stats.l2.errors >= 1

        await writer.invalidate(["property:1"])  # a write while Redis is down
        assert writer.peek("GET /properties/1") is None  # this process: at once
        assert writer.stats.pending_bumps == 1

        private_redis.start()  # back, empty (no persistence): the worst case

        async def writer_recovered() -> bool:
            await writer.get("GET /probe")
            return writer.l2_state == "closed" and writer.stats.pending_bumps == 0

        await eventually(writer_recovered, "writer's breaker closed and bumps replayed")

        async def reader_saw_the_bump() -> bool:
            return reader.peek("GET /properties/1") is None

        await eventually(reader_saw_the_bump, "the bump made during the outage reached reader")
        stop.set()
        assert all(calls > 0 for calls in await asyncio.gather(*loads))  # none raised
        assert await put(writer, "GET /properties/1", ["property:1"])
        hit = await reader.get("GET /properties/1")
        assert hit is not None and hit[1] == "l2"
    finally:
        await writer.stop()
        await reader.stop()


async def test_a_hung_redis_is_a_timeout_not_a_hang(
    private_redis: RedisServer, cache_namespace: str
) -> None:
    store = await started(private_redis.url, cache_namespace)
    assert private_redis.process is not None
    try:
        assert await put(store, "k", [])
        os.kill(private_redis.process.pid, signal.SIGSTOP)  # accepts nothing, answers nothing
        try:
            for number in range(20):
                assert await store.get(f"absent-{number}") is None
            assert store.l2_state in ("open", "half-open")
            assert store.peek("k") is not None
        finally:
            os.kill(private_redis.process.pid, signal.SIGCONT)

        async def recovered() -> bool:
            await store.get("absent")
            return store.l2_state == "closed"

        await eventually(recovered, "breaker closed after Redis resumed")
    finally:
        await store.stop()


# -- Redis Cluster: a master dies under load ------------------------------------------------


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A Cluster of this module alone: the test kills one of its masters."""
    from tests.perf.cache.conftest import _need_redis_server

    _need_redis_server()
    cluster = RedisCluster(Path(tmp_path_factory.mktemp("failover-cluster")))
    try:
        cluster.start()
    except (RuntimeError, OSError) as exc:
        cluster.stop()
        from tests.conftest import service_missing

        service_missing(f"could not start a Redis Cluster: {exc}")
    yield cluster
    cluster.stop()


async def test_a_cluster_master_failover_mid_load(
    own_cluster: RedisCluster, cache_namespace: str
) -> None:
    url = own_cluster.seeds_url
    writer = await started(url, cache_namespace)
    watcher = await started(url, cache_namespace)
    # L1 of zero bytes: every read of this one goes to Redis, so the load really hits L2.
    loader = ResponseStore(l1_max_bytes=0, redis_url=url, namespace=cache_namespace,
                           **FAST_BREAKER)  # type: ignore[arg-type]  # fmt: skip
    await loader.start()
    keys = [f"GET /properties/{number}" for number in range(60)]
    try:
        for key in keys:
            assert await put(writer, key, ["table:properties"])
        assert await put(watcher, "GET /watched", ["property:7"])

        stop = asyncio.Event()
        served = {"l2": 0, "miss": 0}

        async def load() -> None:
            while not stop.is_set():
                for key in keys:
                    hit = await loader.get(key)  # must never raise
                    served["l2" if hit else "miss"] += 1
                    if hit is None:
                        await loader.put(key, make_entry(), ["table:properties"], loader.snapshot())
                await asyncio.sleep(0)

        load_task = asyncio.create_task(load())
        await eventually(lambda: _true_after(served["l2"] > 50), "load running")

        # Kill the master owning the bump channel's slot: pub/sub must move too.
        channel_slot = key_slot(f"bk:c:{cache_namespace}:bump".encode())
        victim = own_cluster.master_of_slot(channel_slot)
        victim.kill()

        async def breaker_opened() -> bool:
            return loader.stats.breaker_opened >= 1 and loader.stats.l2.errors >= 1

        await eventually(breaker_opened, "the breaker opened on the failures and counted them")
        await eventually(lambda: _true_after(_cluster_ok(own_cluster)), "the replica took over", 90)
        hits_before = served["l2"]

        async def serving_again() -> bool:
            return loader.l2_state == "closed" and served["l2"] > hits_before + 100

        await eventually(serving_again, "L2 serving again after the failover", 90)
        stop.set()
        await load_task  # re-raises anything the load loop raised: there must be nothing

        # Invalidation still reaches another process's L1 over the moved channel.
        await writer.invalidate(["property:7"])

        async def watcher_saw_it() -> bool:
            return watcher.peek("GET /watched") is None

        await eventually(watcher_saw_it, "a bump after the failover reached watcher", 90)

        # A process starting now, while a seed node is dead, finds the cluster.
        newcomer = await started(url, cache_namespace)
        hit = await newcomer.get(keys[0])
        await newcomer.stop()
        assert hit is not None and hit[1] == "l2"
    finally:
        for store in (writer, watcher, loader):
            await store.stop()


async def _true_after(value: bool) -> bool:
    return value


def _cluster_ok(cluster: RedisCluster) -> bool:
    try:
        return cluster.healthy()
    except Exception:  # a node between states
        return False


async def test_versions_redis_lost_are_written_back(
    private_redis: RedisServer, cache_namespace: str
) -> None:
    """Redis restarted empty (or a failover lost the last writes): versions never go back,
    or entries stamped before a lost bump would look current again to some process."""
    store = await started(private_redis.url, cache_namespace)
    try:
        for _ in range(3):
            await store.invalidate(["table:rooms"])
        assert await put(store, "GET /rooms", ["table:rooms"])
        stamped = store.peek("GET /rooms")
        assert stamped is not None and stamped.tags["table:rooms"] == 3

        private_redis.kill()
        private_redis.start()  # empty: table:rooms is 0 and seq is 0 in Redis now

        async def repaired() -> bool:
            await store.get("GET /probe")
            with private_redis.client() as client:
                rooms = client.get(f"bk:c:{cache_namespace}:t:table:rooms")
                sequence = client.get(f"bk:c:{cache_namespace}:seq")
            return rooms == b"3" and sequence == b"3" and store.l2_state == "closed"

        await eventually(repaired, "the lost version and sequence written back")
        assert store.peek("GET /rooms") is not None  # nothing was bumped: still valid
        other = await started(private_redis.url, cache_namespace)
        try:
            await other.invalidate(["table:rooms"])  # a new bump moves past what was lost

            async def seen() -> bool:
                return store.peek("GET /rooms") is None

            await eventually(seen, "the new bump invalidated the entry")
        finally:
            await other.stop()
    finally:
        await store.stop()


async def test_a_store_started_while_redis_is_down_connects_later(
    private_redis: RedisServer, cache_namespace: str
) -> None:
    private_redis.kill()
    store = ResponseStore(l1_max_bytes=1 << 20, redis_url=private_redis.url,
                          namespace=cache_namespace, **FAST_BREAKER)  # type: ignore[arg-type]  # fmt: skip
    await store.start()  # returns: the app starts without its L2
    try:
        assert await store.put("k", make_entry(), ["t"], store.snapshot())
        assert store.peek("k") is not None
        private_redis.start()
        assert await store.wait_synced(30)

        async def stored_in_l2() -> bool:
            return await store.put("k2", make_entry(), ["t"], store.snapshot()) and (
                store.stats.l2.stores >= 1
            )

        await eventually(stored_in_l2, "entries reach L2 once Redis is up")
    finally:
        await store.stop()
