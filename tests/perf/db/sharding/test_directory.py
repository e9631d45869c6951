"""The directory on real databases: ring default, stored placements, moves and the cache."""

from __future__ import annotations

import pytest

from banrimkwae.perf.db.sharding import HashRing, ShardMoving, ShardSet


async def test_a_property_without_an_entry_is_where_the_ring_puts_it(shards: ShardSet) -> None:
    placement = await shards.directory.lookup(910_001)
    assert placement.shard == HashRing(["east", "west"]).shard_for(910_001)
    assert not placement.stored


async def test_the_first_write_stores_the_ring_choice_so_a_new_shard_does_not_move_it(
    shards: ShardSet,
) -> None:
    # A key the ring would give to a third shard once it exists.
    grown = shards.directory.ring.with_shard("north")
    key = next(k for k in range(920_000, 921_000) if grown.shard_for(k) == "north")
    async with shards.home.begin() as connection:
        written = await shards.directory.place_for_write(connection, key)
    assert written.stored and written.shard in ("east", "west")
    shards.directory.ring = grown
    shards.directory.invalidate()
    assert (await shards.directory.lookup(key)).shard == written.shard


async def test_an_explicit_entry_wins_over_the_ring(shards: ShardSet) -> None:
    key = next(k for k in range(930_000, 931_000) if shards.directory.ring.shard_for(k) == "east")
    await shards.directory.start_move(key, "west")
    await shards.directory.finish_move(key)
    assert (await shards.directory.lookup(key)).shard == "west"
    assert [
        entry.shard for entry in await shards.directory.entries() if entry.property_id == key
    ] == ["west"]


async def test_writes_for_a_moving_property_are_refused_and_resume_after_the_switch(
    shards: ShardSet,
) -> None:
    key = 940_001
    source = (await shards.directory.lookup(key)).shard
    target = "west" if source == "east" else "east"
    moving = await shards.directory.start_move(key, target)
    assert (moving.state, moving.target) == ("moving", target)
    async with shards.home.begin() as connection:
        with pytest.raises(ShardMoving, match="retry"):
            await shards.directory.place_for_write(connection, key)
    switched = await shards.directory.finish_move(key)
    assert (switched.shard, switched.state) == (target, "active")
    assert switched.version > moving.version
    async with shards.home.begin() as connection:
        assert (await shards.directory.place_for_write(connection, key)).shard == target


async def test_the_process_that_switches_sees_the_new_shard_at_once(shards: ShardSet) -> None:
    key = 950_001
    shards.directory.cache_seconds = 3600  # only an invalidation can refresh it now
    source = (await shards.directory.lookup(key)).shard
    target = "west" if source == "east" else "east"
    await shards.directory.start_move(key, target)
    await shards.directory.finish_move(key)
    assert (await shards.directory.lookup(key)).shard == target


async def test_a_second_move_to_another_shard_is_refused_while_one_runs(shards: ShardSet) -> None:
    key = 960_001
    source = (await shards.directory.lookup(key)).shard
    target = "west" if source == "east" else "east"
    await shards.directory.start_move(key, target)
    with pytest.raises(ValueError, match="already moving"):
        await shards.directory.start_move(key, source)
    assert (await shards.directory.start_move(key, target)).target == target  # resumable
    await shards.directory.abort_move(key)
    assert (await shards.directory.lookup(key)).shard == source
