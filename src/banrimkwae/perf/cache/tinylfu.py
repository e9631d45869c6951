"""L1 with W-TinyLFU admission and eviction, bounded in bytes.

A small LRU window (1% of the bytes) takes every new entry; what falls out of it competes
for the main space (segmented LRU: probation, then protected once hit again) against the
main space's eviction victims, on their recent access frequency (counts saturating at 15,
halved periodically so that old popularity fades). One-hit wonders (most
availability searches) then pass through the window without pushing hot entries out.

A hit costs a dict lookup, one reorder and a list append: frequency updates are batched
and applied every 256 accesses.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from banrimkwae.perf.cache.entry import CachedResponse
from banrimkwae.perf.cache.stats import LayerStats

_WINDOW_SHARE = 0.01
_PROTECTED_SHARE = 0.80
_MAX_COUNT = 15
_DRAIN_AT = 256
# Keys whose frequency is tracked, per byte of budget: about 4 per entry of 1 KiB.
_TRACKED_PER_BYTE = 4 / 1024


class FrequencyTable:
    """Recent access counts per key, saturating at 15, all halved every `10 * capacity`
    additions (or when more than `capacity` keys are tracked) so that old popularity fades.

    A dict of small ints rather than a count-min sketch: in Python one dict update is far
    cheaper than four hashed counter updates, and halving drops the keys that reach zero,
    which bounds the memory to `capacity` keys just as a sketch's width would.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._counts: dict[str, int] = {}
        self._additions = 0

    def add_all(self, keys: list[str]) -> None:
        counts = self._counts
        get = counts.get
        for key in keys:
            count = get(key, 0)
            if count < _MAX_COUNT:
                counts[key] = count + 1
        self._additions += len(keys)
        if self._additions >= 10 * self.capacity or len(counts) > self.capacity:
            self._counts = {key: count >> 1 for key, count in counts.items() if count > 1}
            self._additions = 0

    def estimate(self, key: str) -> int:
        return self._counts.get(key, 0)


class ByteBoundedTinyLFU:
    """Key -> CachedResponse, never holding more than `max_bytes` of entries."""

    def __init__(self, max_bytes: int, stats: LayerStats | None = None) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self.stats = stats if stats is not None else LayerStats()
        self._window_max = max(1, int(max_bytes * _WINDOW_SHARE))
        self._protected_max = int((max_bytes - self._window_max) * _PROTECTED_SHARE)
        self._entries: dict[str, CachedResponse] = {}
        self._window: OrderedDict[str, int] = OrderedDict()  # key -> size
        self._probation: OrderedDict[str, int] = OrderedDict()
        self._protected: OrderedDict[str, int] = OrderedDict()
        self._window_bytes = self._probation_bytes = self._protected_bytes = 0
        self._frequency = FrequencyTable(max(4096, int(max_bytes * _TRACKED_PER_BYTE)))
        self._accessed: list[str] = []

    def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._accessed.append(key)
        if key in self._protected:
            self._protected.move_to_end(key)
        elif key in self._window:
            self._window.move_to_end(key)
        else:
            self._promote(key)
        if len(self._accessed) >= _DRAIN_AT:
            self._drain()
        return entry

    def update(self, key: str, entry: CachedResponse) -> None:
        """Swap the value of a held key for one of the same size, where it stands."""
        if key in self._entries:
            self._entries[key] = entry

    def set(self, key: str, entry: CachedResponse) -> bool:
        self.discard(key)
        size = entry.size
        self._accessed.append(key)
        self._drain()
        if size > self.max_bytes:
            return False
        self._entries[key] = entry
        self._window[key] = size
        self._window_bytes += size
        self.stats.bytes += size
        self.stats.entries += 1
        while self._window_bytes > self._window_max and self._window:
            candidate, candidate_size = self._window.popitem(last=False)
            self._window_bytes -= candidate_size
            self._admit(candidate, candidate_size)
        return key in self._entries

    def _admit(self, candidate: str, size: int) -> None:
        """The window's LRU entry enters probation if it is used more than what it evicts."""
        main_max = self.max_bytes - self._window_max
        need = self._probation_bytes + self._protected_bytes + size - main_max
        victims: list[str] = []
        if need > 0:
            for segment in (self._probation, self._protected):
                for key, victim_size in segment.items():
                    if need <= 0:
                        break
                    victims.append(key)
                    need -= victim_size
        if victims:
            frequency = self._frequency.estimate(candidate)
            if any(self._frequency.estimate(victim) >= frequency for victim in victims):
                self._remove(candidate, size)
                self.stats.evictions += 1
                return
            for victim in victims:
                self._evict(victim)
        self._probation[candidate] = size
        self._probation_bytes += size

    def _promote(self, key: str) -> None:
        size = self._probation.pop(key)
        self._probation_bytes -= size
        self._protected[key] = size
        self._protected_bytes += size
        while self._protected_bytes > self._protected_max and len(self._protected) > 1:
            demoted, demoted_size = self._protected.popitem(last=False)
            self._protected_bytes -= demoted_size
            self._probation[demoted] = demoted_size
            self._probation_bytes += demoted_size

    def _evict(self, key: str) -> None:
        self.discard(key)
        self.stats.evictions += 1

    def _remove(self, key: str, size: int) -> None:
        del self._entries[key]
        self.stats.bytes -= size
        self.stats.entries -= 1

    def _drain(self) -> None:
        self._frequency.add_all(self._accessed)
        self._accessed.clear()

    def discard(self, key: str) -> None:
        if key not in self._entries:
            return
        for segment in (self._window, self._probation, self._protected):
            size = segment.pop(key, None)
            if size is not None:
                if segment is self._window:
                    self._window_bytes -= size
                elif segment is self._probation:
                    self._probation_bytes -= size
                else:
                    self._protected_bytes -= size
                break
        entry = self._entries.pop(key)
        self.stats.bytes -= entry.size
        self.stats.entries -= 1

    def clear(self) -> None:
        self._entries.clear()
        for segment in (self._window, self._probation, self._protected):
            segment.clear()
        self._window_bytes = self._probation_bytes = self._protected_bytes = 0
        self.stats.bytes = 0
        self.stats.entries = 0

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
