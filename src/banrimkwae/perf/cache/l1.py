"""A byte-bounded LRU: the baseline L1 policy (entry size = body + variants + headers).

ResponseStore uses W-TinyLFU (tinylfu.py) instead: on the resort read mix it kept 3 to 7
points more hits at budgets smaller than the working set and the same hits above it
(bench/cache_admission.py, docs/cache.md "Storage"). This one stays as the measured baseline.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from banrimkwae.perf.cache.entry import CachedResponse
from banrimkwae.perf.cache.stats import LayerStats


class ByteBoundedLRU:
    """Key -> CachedResponse, never holding more than `max_bytes` of entries."""

    __slots__ = ("_entries", "max_bytes", "stats")

    def __init__(self, max_bytes: int, stats: LayerStats | None = None) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self.stats = stats if stats is not None else LayerStats()
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()

    def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def set(self, key: str, entry: CachedResponse) -> bool:
        """Store `entry`; False when it alone is larger than the whole budget."""
        size = entry.size
        self.discard(key)
        if size > self.max_bytes:
            return False
        self._entries[key] = entry
        stats = self.stats
        stats.bytes += size
        stats.entries += 1
        while stats.bytes > self.max_bytes:
            _, victim = self._entries.popitem(last=False)
            stats.bytes -= victim.size
            stats.entries -= 1
            stats.evictions += 1
        return True

    def discard(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.stats.bytes -= entry.size
            self.stats.entries -= 1

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))  # a copy: callers may discard while iterating

    def clear(self) -> None:
        self._entries.clear()
        self.stats.bytes = 0
        self.stats.entries = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
