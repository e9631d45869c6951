"""A cached response as both layers hold it, and its compact binary form for L2.

The binary form is versioned (magic + format byte) so a worker running newer code never
misreads an entry written by an older one: anything it cannot read is a miss, not an error.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

_MAGIC = b"BKC"
_FORMAT = 2
# status, stored_at, ttl, stale_ttl, grace, compute_ms, then counts: headers, variants, tags
_HEAD = struct.Struct("<3sBHdddddHBH")
_LEN = struct.Struct("<I")
_VERSION = struct.Struct("<q")
# Fixed cost of one entry beyond its bytes (object, dict slots, key): keeps tiny entries
# from looking free to the byte-bounded L1.
ENTRY_OVERHEAD_BYTES = 200


class CacheDecodeError(ValueError):
    """Stored bytes are not a readable CachedResponse (junk, truncated, other format)."""


@dataclass(slots=True, frozen=True)
class CachedResponse:
    status: int
    # Response headers as stored: no content-length, content-encoding, date, age, x-cache.
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes  # identity body
    variants: Mapping[str, bytes]  # content-coding -> compressed body
    etag: bytes  # strong, quoted
    stored_at: float  # time.time() when computed
    ttl: float  # fresh for ttl seconds after stored_at
    stale_ttl: float  # then servable stale for this many more seconds
    compute_ms: float  # how long the origin took (XFetch's delta)
    tags: Mapping[str, int] = field(default_factory=dict)  # tag -> version stamped by put()
    policy: str = ""  # policy name (statistics)
    # After an invalidation, still servable STALE to anonymous callers while younger than
    # this (the policy's invalidation_grace); 0: an invalidation ends the entry at once.
    grace: float = 0.0
    # Set by the store on the copy it keeps once a tag of this entry has moved: the entry is
    # inside its grace, answered STALE, never fresh again.
    invalidated: bool = False
    # Bytes this entry costs in L1: body + variants + headers + a fixed overhead. Computed
    # once: the byte-bounded L1 reads it on every store and eviction.
    size: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        size = ENTRY_OVERHEAD_BYTES + len(self.body) + len(self.etag)
        for coding, data in self.variants.items():
            size += len(coding) + len(data)
        for name, value in self.headers:
            size += len(name) + len(value)
        object.__setattr__(self, "size", size)

    def expires_at(self) -> float:
        """The moment after which not even a stale serve is allowed."""
        return self.stored_at + self.ttl + self.stale_ttl

    def encode(self) -> bytes:
        parts: list[bytes] = [
            _HEAD.pack(
                _MAGIC,
                _FORMAT,
                self.status,
                self.stored_at,
                self.ttl,
                self.stale_ttl,
                self.grace,
                self.compute_ms,
                len(self.headers),
                len(self.variants),
                len(self.tags),
            )
        ]
        for name, value in self.headers:
            parts += (_LEN.pack(len(name)), name, _LEN.pack(len(value)), value)
        for coding, data in self.variants.items():
            raw = coding.encode()
            parts += (_LEN.pack(len(raw)), raw, _LEN.pack(len(data)), data)
        for tag, version in self.tags.items():
            raw = tag.encode()
            parts += (_LEN.pack(len(raw)), raw, _VERSION.pack(version))
        policy = self.policy.encode()
        parts += (_LEN.pack(len(self.etag)), self.etag, _LEN.pack(len(policy)), policy)
        parts += (_LEN.pack(len(self.body)), self.body)
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> CachedResponse:
        try:
            return _decode(data)
        except (struct.error, UnicodeDecodeError, IndexError) as exc:
            raise CacheDecodeError(f"unreadable cache entry: {exc}") from exc


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def chunk(self) -> bytes:
        (length,) = _LEN.unpack_from(self.data, self.pos)
        start = self.pos + _LEN.size
        end = start + length
        if end > len(self.data):
            raise CacheDecodeError("truncated cache entry")
        self.pos = end
        return self.data[start:end]

    def version(self) -> int:
        (value,) = _VERSION.unpack_from(self.data, self.pos)
        self.pos += _VERSION.size
        return int(value)


def _decode(data: bytes) -> CachedResponse:
    data = bytes(data)
    (
        magic,
        fmt,
        status,
        stored_at,
        ttl,
        stale_ttl,
        grace,
        compute_ms,
        n_headers,
        n_variants,
        n_tags,
    ) = _HEAD.unpack_from(data, 0)
    if magic != _MAGIC or fmt != _FORMAT:
        raise CacheDecodeError("not a cache entry of a known format")
    reader = _Reader(data, _HEAD.size)
    headers = tuple((reader.chunk(), reader.chunk()) for _ in range(n_headers))
    variants = {reader.chunk().decode(): reader.chunk() for _ in range(n_variants)}
    tags = {reader.chunk().decode(): reader.version() for _ in range(n_tags)}
    etag = reader.chunk()
    policy = reader.chunk().decode()
    body = reader.chunk()
    if reader.pos != len(data):
        raise CacheDecodeError("trailing bytes after cache entry")
    return CachedResponse(
        status=status,
        headers=headers,
        body=body,
        variants=variants,
        etag=etag,
        stored_at=stored_at,
        ttl=ttl,
        stale_ttl=stale_ttl,
        compute_ms=compute_ms,
        tags=tags,
        policy=policy,
        grace=grace,
    )
