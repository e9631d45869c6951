"""Versioned tags with Redis as the authority, mirrored in each process for a cheap L1 check.

Redis holds one integer per tag and a global sequence. A bump takes the next sequence number
and moves each tag past max(its version + 1, that number), then publishes the new versions;
every process applies them to its mirror (`known`), so a peek compares stamps with a dict.

A snapshot packs two clocks: the highest sequence this process has seen in Redis, and a local
counter of version changes it has learned. `stamp` refuses when, for any tag of the entry,
Redis shows a version above the snapshot's sequence (a bump began after, or unseen before,
the snapshot) or the mirror changed after the snapshot. A write commits before it bumps, so
a computation that started after a bump it had seen reads the write: nothing stale is stamped.

While L2 is unreachable, a bump is applied to the mirror at once (as a negative "poison"
version that matches no stamp) and queued; the queue is replayed into Redis when it answers
again, before any entry of those tags is stamped. A dropped pub/sub link marks the mirror
untrusted: L2 hits are then checked against Redis itself until a resync after reconnecting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping

from banrimkwae.perf.cache.breaker import L2Guard, Unavailable
from banrimkwae.perf.cache.l2 import RedisL2
from banrimkwae.perf.cache.stats import StoreStats

logger = logging.getLogger(__name__)

_LOCAL_BITS = 40
_MAX_CHANGED = 200_000
_MAX_KNOWN = 200_000
_RESYNC_CHUNK = 500


class RemoteTagVersions:
    def __init__(self, l2: RedisL2, guard: L2Guard, stats: StoreStats) -> None:
        self._l2 = l2
        self._guard = guard
        self._stats = stats
        self.known: dict[str, int] = {}
        self._observed = 0  # highest global sequence seen in Redis
        self._clock = 0  # local changes learned (bumps, messages, resyncs)
        self._changed: dict[str, int] = {}  # tag -> _clock of its last change
        self._changed_floor = 0  # snapshots older than this are refused (after a prune)
        self.pending: set[str] = set()  # bumped while L2 was unreachable, to replay
        self.trusted = False  # pub/sub connected and mirror resynced since

    # -- the hot path -------------------------------------------------------------------

    def snapshot(self) -> int:
        return (self._observed << _LOCAL_BITS) | self._clock

    def is_current(self, stamped: Mapping[str, int]) -> bool:
        known = self.known
        for tag, version in stamped.items():  # noqa: SIM110 - a plain loop is the fastest here
            if known.get(tag) != version:
                return False
        return True

    # -- stamping and checking ----------------------------------------------------------

    async def stamp(self, tags: Collection[str], snapshot: int) -> dict[str, int] | None:
        seen_sequence, local = snapshot >> _LOCAL_BITS, snapshot & ((1 << _LOCAL_BITS) - 1)
        if self._moved_locally(tags, local) or not self.pending.isdisjoint(tags):
            return None
        fetched = await self._guard.run(lambda: self._l2.versions(list(tags)))
        if isinstance(fetched, Unavailable):
            # L1 only until Redis answers: unknown tags get a poison, replaced on resync.
            return {tag: self._known_or_poison(tag) for tag in tags}
        sequence, versions = fetched
        # Below what we saw: Redis lost writes (failover, restart). Bumps reuse low numbers
        # until repaired, so none of this read can be trusted.
        refused = sequence < self._observed
        self._observe(sequence)
        lost: dict[str, int] = {}
        for tag, version in versions.items():
            known = self.known.get(tag)
            if known is not None and known > version:
                lost[tag] = known  # Redis lost a bump in a failover: put it back, refuse
                refused = True
            elif version > seen_sequence:
                refused = True
            self._learn(tag, version)
        if lost or sequence < self._observed:
            await self._guard.run(lambda: self._l2.raise_versions(lost, self._observed))
        # A message may have arrived while we awaited Redis.
        if refused or self._moved_locally(tags, local):
            return None
        return versions

    async def verify(self, stamped: Mapping[str, int]) -> bool:
        """Is an entry read from L2 current? Mirror when trusted, else Redis itself."""
        unknown = [tag for tag in stamped if tag not in self.known]
        if unknown or not self.trusted:
            tags = list(stamped) if not self.trusted else unknown
            fetched = await self._guard.run(lambda: self._l2.versions(tags))
            if isinstance(fetched, Unavailable):
                return False
            sequence, versions = fetched
            self._observe(sequence)
            for tag, version in versions.items():
                if tag not in self.pending:
                    self._learn(tag, version)
        return self.is_current(stamped)

    # -- bumps ---------------------------------------------------------------------------

    async def bump(self, tags: Collection[str]) -> None:
        for tag in tags:
            self._clock += 1
            self._changed[tag] = self._clock
            self.known[tag] = -self._clock  # matches no stamp: L1 drops them at once
        if not await self._push(list(tags)):
            self.pending.update(tags)
            self._stats.pending_bumps = len(self.pending)

    async def replay_pending(self) -> bool:
        """Push bumps made while L2 was down; True when none is left."""
        if not self.pending:
            return True
        tags = sorted(self.pending)
        if await self._push(tags):
            self.pending.difference_update(tags)
            self._stats.pending_bumps = len(self.pending)
        return not self.pending

    async def _push(self, tags: list[str]) -> bool:
        bumped = await self._guard.run(lambda: self._l2.bump(tags))
        if isinstance(bumped, Unavailable):
            return False
        sequence, versions = bumped
        self._observe(sequence)
        for tag, version in versions.items():
            self._learn(tag, version)
        message = json.dumps({"s": sequence, "v": versions}).encode()
        published = await self._guard.run(lambda: self._l2.publish(message))
        return not isinstance(published, Unavailable)

    def on_message(self, data: bytes) -> None:
        """A bump published by any process (this one included)."""
        try:
            payload = json.loads(data)
            sequence, versions = int(payload["s"]), payload["v"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring malformed cache bump message: %r", data[:200])
            return
        self._observe(sequence)
        for tag, version in versions.items():
            known_here = tag in self.known and tag not in self.pending
            if known_here and self._learn(tag, int(version)):
                self._stats.bumps_received += 1

    async def resync(self) -> bool:
        """Re-read every known tag from Redis (after a reconnect); True when done."""
        tags = [tag for tag in self.known if tag not in self.pending]
        lost: dict[str, int] = {}
        sequence_lost = False
        # At least one read, even knowing no tag: it brings the global sequence.
        for start in range(0, max(len(tags), 1), _RESYNC_CHUNK):
            chunk = tags[start : start + _RESYNC_CHUNK]
            fetched = await self._guard.run(lambda chunk=chunk: self._l2.versions(chunk))  # type: ignore[misc]
            if isinstance(fetched, Unavailable):
                return False
            sequence, versions = fetched
            sequence_lost = sequence_lost or sequence < self._observed
            self._observe(sequence)
            for tag, version in versions.items():
                known = self.known.get(tag)
                if known is not None and known > version:
                    lost[tag] = known
                else:
                    self._learn(tag, version)
        # Versions never go back: what Redis lost (a failover, a restart) is written back.
        if (lost or sequence_lost) and isinstance(
            await self._guard.run(lambda: self._l2.raise_versions(lost, self._observed)),
            Unavailable,
        ):
            return False
        self._stats.resyncs += 1
        return True

    # -- helpers -------------------------------------------------------------------------

    def _learn(self, tag: str, version: int) -> bool:
        """Adopt a version from Redis if it is newer than (or replaces a poison of) ours."""
        known = self.known.get(tag)
        if known is not None and known >= version:
            return False
        if known is None and len(self.known) >= _MAX_KNOWN:
            self.known.clear()  # forgetting only makes entries fail their check: safe
        self.known[tag] = version
        if known is not None:
            self._clock += 1
            self._changed[tag] = self._clock
            if len(self._changed) > _MAX_CHANGED:
                self._changed.clear()
                self._changed_floor = self._clock
        return True

    def _moved_locally(self, tags: Collection[str], local: int) -> bool:
        if local < self._changed_floor:
            return True
        changed = self._changed
        return any(changed.get(tag, 0) > local for tag in tags)

    def _known_or_poison(self, tag: str) -> int:
        known = self.known.get(tag)
        if known is None:
            self._clock += 1
            known = self.known[tag] = -self._clock
        return known

    def _observe(self, sequence: int) -> None:
        if sequence > self._observed:
            self._observed = sequence
