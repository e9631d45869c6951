"""A consistent-hash ring: the default shard of a key (a property id) that has no directory entry.

Each shard owns many points ("virtual nodes") on a 64-bit circle; a key belongs to the first
point at or after its own hash. Adding a shard adds only its points, so the only keys that move
are those whose next point is now one of the new shard's: about 1/n of them, all to it.
The hash is BLAKE2b (hashlib): the same on every process and every run, unlike `hash()`.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable

DEFAULT_VIRTUAL_NODES = 256


def stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class HashRing:
    """Shards by name, each with `virtual_nodes` points on the ring."""

    def __init__(
        self, shards: Iterable[str], *, virtual_nodes: int = DEFAULT_VIRTUAL_NODES
    ) -> None:
        self.shards = tuple(dict.fromkeys(shards))
        if not self.shards:
            raise ValueError("a hash ring needs at least one shard")
        if virtual_nodes < 1:
            raise ValueError("virtual_nodes must be at least 1")
        self.virtual_nodes = virtual_nodes
        points = sorted(
            (stable_hash(f"{shard}#{replica}"), shard)
            for shard in self.shards
            for replica in range(virtual_nodes)
        )
        self._hashes = [point for point, _shard in points]
        self._owners = [shard for _point, shard in points]

    def shard_for(self, key: object) -> str:
        """The shard owning `key` (any value with a stable str(): ints, strings)."""
        index = bisect.bisect_left(self._hashes, stable_hash(str(key)))
        return self._owners[index % len(self._owners)]

    def with_shard(self, shard: str) -> HashRing:
        return HashRing([*self.shards, shard], virtual_nodes=self.virtual_nodes)


__all__ = ["DEFAULT_VIRTUAL_NODES", "HashRing", "stable_hash"]
