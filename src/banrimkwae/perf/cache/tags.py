"""Versioned tags without Redis: a table of 64-bit counters, hashed by tag, in shared memory.

Slot 0 holds a global sequence; a bump takes the next sequence number and writes it into the
slot of every bumped tag. An entry remembers the numbers of its tags when it was stored and is
valid while they are unchanged: no tag sets to maintain, nothing to delete.

With `path` the table is a file mapped by every worker on the machine (`banrimkwae serve
--workers N` gives them one path), so a bump in one worker is seen by the next read in any
other: convergence is immediate, a read is a memory read. Without `path` the table is private
to the process. Two tags hashing to one slot share a number: a bump of one also invalidates
entries of the other (over-invalidation only, never a stale read).

ResponseStore stamps every entry with ALL_TAG too: clearing the cache is one bump of it,
seen by every worker's L1.

A snapshot is the global sequence. `stamp` refuses when any tag carries a number above the
snapshot: that tag was bumped while the response was being computed, so the response may
predate the write and must not be stored as fresh.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
from collections.abc import Collection, Mapping

ALL_TAG = "*"  # stamped on every entry; bumping it invalidates the whole cache
DEFAULT_SLOTS = 1 << 16  # 512 KiB of counters; collisions stay rare for thousands of tags
_WORD = 8
_MAX_CACHED_SLOTS = 100_000


def tag_slot(tag: str, slots: int) -> int:
    """The counter index of `tag`, identical in every process (not Python's salted hash)."""
    digest = hashlib.blake2b(tag.encode(), digest_size=8).digest()
    return 1 + int.from_bytes(digest, "little") % slots


class LocalTagVersions:
    def __init__(self, path: str | None = None, *, slots: int = DEFAULT_SLOTS) -> None:
        self.path = path
        self.slots = slots
        size = (slots + 1) * _WORD
        self._fd: int | None = None
        if path is None:
            self._map = mmap.mmap(-1, size)
        else:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            with self._locked():
                if os.fstat(self._fd).st_size < size:
                    os.ftruncate(self._fd, size)  # zero-filled: every tag at version 0
            self._map = mmap.mmap(self._fd, size, mmap.MAP_SHARED)
        self._counters = memoryview(self._map).cast("q")
        self._slot_of: dict[str, int] = {}

    def _slot(self, tag: str) -> int:
        slot = self._slot_of.get(tag)
        if slot is None:
            if len(self._slot_of) >= _MAX_CACHED_SLOTS:
                self._slot_of.clear()
            slot = self._slot_of[tag] = tag_slot(tag, self.slots)
        return slot

    def snapshot(self) -> int:
        return int(self._counters[0])

    def version(self, tag: str) -> int:
        return int(self._counters[self._slot(tag)])

    def is_current(self, stamped: Mapping[str, int]) -> bool:
        counters = self._counters
        slot_of = self._slot_of
        for tag, version in stamped.items():
            slot = slot_of.get(tag)
            if slot is None:
                slot = self._slot(tag)
            if counters[slot] != version:
                return False
        return True

    def stamp(self, tags: Collection[str], snapshot: int) -> dict[str, int] | None:
        """Current versions of `tags`, or None when one moved after `snapshot`."""
        stamped: dict[str, int] = {}
        for tag in tags:
            version = self.version(tag)
            if version > snapshot:
                return None
            stamped[tag] = version
        return stamped

    def bump(self, tags: Collection[str]) -> int:
        """Give every tag a new version; returns the sequence number used."""
        slots = [self._slot(tag) for tag in tags]
        with self._locked():
            sequence = int(self._counters[0]) + 1
            # Tags first, sequence last: a snapshot taken in between is the old sequence,
            # so a computation that started then is refused by stamp(), never accepted.
            for slot in slots:
                self._counters[slot] = sequence
            self._counters[0] = sequence
        return sequence

    def close(self) -> None:
        self._counters.release()
        self._map.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _locked(self) -> _FileLock:
        return _FileLock(self._fd)


class _FileLock:
    """flock on the shared file: bumps from several workers serialise; reads never lock."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def __enter__(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
