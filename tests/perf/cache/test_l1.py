"""L1 policies: bounded in bytes; W-TinyLFU (the store's) keeps hot entries through scans."""

from __future__ import annotations

import time

import pytest

from banrimkwae.perf.cache.entry import ENTRY_OVERHEAD_BYTES, CacheDecodeError, CachedResponse
from banrimkwae.perf.cache.l1 import ByteBoundedLRU
from banrimkwae.perf.cache.tinylfu import ByteBoundedTinyLFU

POLICIES = [ByteBoundedLRU, ByteBoundedTinyLFU]
Policy = ByteBoundedLRU | ByteBoundedTinyLFU
UNIT = ENTRY_OVERHEAD_BYTES + 100


def entry(size: int = 100) -> CachedResponse:
    return CachedResponse(200, (), b"x" * size, {}, b"", time.time(), 60, 0, 1.0)


def test_entry_size_counts_body_variants_and_headers() -> None:
    response = CachedResponse(
        200, ((b"ab", b"cde"),), b"12345", {"br": b"123"}, b'"e"', 0.0, 1, 1, 1
    )
    assert response.size == ENTRY_OVERHEAD_BYTES + 5 + 3 + (2 + 3) + (2 + 3)


@pytest.mark.parametrize("policy", POLICIES)
def test_the_byte_bound_is_never_exceeded(policy: type[Policy]) -> None:
    cache = policy(max_bytes=10 * UNIT)
    for number in range(200):
        cache.set(f"k{number}", entry())
        cache.get(f"k{number % 7}")
        assert cache.stats.bytes <= cache.max_bytes
    assert 0 < len(cache) <= 10
    assert cache.stats.entries == len(cache)
    assert cache.stats.bytes == sum(e.size for e in map(cache.get, cache) if e is not None)
    assert cache.stats.evictions > 0


@pytest.mark.parametrize("policy", POLICIES)
def test_a_too_large_entry_is_refused(policy: type[Policy]) -> None:
    cache = policy(max_bytes=4 * UNIT)
    cache.set("small", entry())
    assert not cache.set("huge", entry(cache.max_bytes))
    assert "huge" not in cache and cache.get("small") is not None


@pytest.mark.parametrize("policy", POLICIES)
def test_replacing_discarding_and_clearing_keep_the_byte_count_exact(
    policy: type[Policy],
) -> None:
    cache = policy(max_bytes=1 << 20)
    cache.set("k", entry(100))
    cache.set("k", entry(300))
    assert cache.stats.bytes == entry(300).size and cache.stats.entries == 1
    cache.discard("k")
    cache.discard("k")
    assert cache.stats.bytes == 0 and cache.stats.entries == 0 and len(cache) == 0
    cache.set("a", entry())
    cache.clear()
    assert cache.stats.bytes == 0 and "a" not in cache


def test_lru_drops_the_least_recently_used_first() -> None:
    cache = ByteBoundedLRU(max_bytes=3 * UNIT)
    for key in "abc":
        cache.set(key, entry())
    assert cache.get("a") is not None
    cache.set("d", entry())
    assert "b" not in cache and all(key in cache for key in "acd")


def test_tinylfu_keeps_hot_entries_through_a_scan_of_one_hit_wonders() -> None:
    cache = ByteBoundedTinyLFU(max_bytes=20 * UNIT)
    hot = [f"hot{number}" for number in range(10)]
    for _ in range(5):
        for key in hot:
            if cache.get(key) is None:
                cache.set(key, entry())
    for number in range(1000):  # a crawl of keys asked for once each
        cache.set(f"scan{number}", entry())
    assert all(key in cache for key in hot)

    lru = ByteBoundedLRU(max_bytes=20 * UNIT)  # the baseline loses them all
    for key in hot:
        lru.set(key, entry())
    for number in range(1000):
        lru.set(f"scan{number}", entry())
    assert not any(key in lru for key in hot)


def test_encoding_round_trips_and_junk_is_refused() -> None:
    response = CachedResponse(
        203, ((b"content-type", b"text/plain"),), b"body", {"gzip": b"g", "zstd": b"z"},
        b'"tag"', 1.5, 2.0, 3.0, 4.0, {"table:x": 7, "*": 0}, "policy", 30.0,
    )  # fmt: skip
    data = response.encode()
    assert CachedResponse.decode(data) == response
    # An entry of the format before the invalidation grace, or of one yet to come: a miss.
    for junk in (b"", b"nonsense", data[:-1], data + b"x", b"BKC\x01" + data[4:],
                 b"BKC\x03" + data[4:]):  # fmt: skip
        with pytest.raises(CacheDecodeError):
            CachedResponse.decode(junk)
