"""The consistent-hash ring: stable, balanced, and adding a shard moves only what it takes."""

from __future__ import annotations

from collections import Counter

import pytest

from banrimkwae.perf.db.sharding import HashRing

KEYS = range(1, 20_001)


def test_the_same_key_lands_on_the_same_shard_in_every_ring_built_alike() -> None:
    first, second = HashRing(["a", "b", "c"]), HashRing(["c", "a", "b"])
    assert all(first.shard_for(key) == second.shard_for(key) for key in KEYS)


def test_keys_spread_evenly_over_the_shards() -> None:
    ring = HashRing(["a", "b", "c", "d"])
    counts = Counter(ring.shard_for(key) for key in KEYS)
    assert set(counts) == {"a", "b", "c", "d"}
    share = len(KEYS) / 4
    assert all(0.8 * share < count < 1.2 * share for count in counts.values())


@pytest.mark.parametrize("before", [1, 2, 3, 5])
def test_adding_a_shard_moves_about_one_in_n_keys_and_only_to_the_new_shard(before: int) -> None:
    ring = HashRing([f"s{index}" for index in range(before)])
    grown = ring.with_shard("new")
    moved = [key for key in KEYS if ring.shard_for(key) != grown.shard_for(key)]
    assert all(grown.shard_for(key) == "new" for key in moved)
    expected = len(KEYS) / (before + 1)
    assert 0.8 * expected < len(moved) < 1.2 * expected


def test_a_ring_needs_a_shard() -> None:
    with pytest.raises(ValueError, match="at least one shard"):
        HashRing([])
