"""The content codings the platform sends: gzip, br and zstd, whole bodies and streams.

Whole bodies (`compress`) are what the compression middleware and the response cache store;
streams (`stream_compressor`) serve `more_body` responses chunk by chunk, each chunk flushed
so a client sees it as soon as the application sent it.

Levels: DYNAMIC_LEVELS for a body compressed on the request path (a cache miss), chosen by
measurement on the resort's JSON list payloads (bench/compression.py, see docs/responses.md);
BEST_LEVELS for bodies compressed once and served many times (hot cache entries).
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

import brotli
import zstandard

ENCODINGS: tuple[str, ...] = ("br", "zstd", "gzip")

# Measured on the read mix's JSON (docs/responses.md): br 5 is the cheapest level of the
# best-ratio plateau (5-8) before the tenfold CPU step at 9; zstd 1 is as small as 2-3 and
# cheaper; gzip 6 is within 1-8 % of gzip 9's bytes at 55-90 % of its CPU.
DYNAMIC_LEVELS: Mapping[str, int] = MappingProxyType({"br": 5, "zstd": 1, "gzip": 6})
# zstd stays at 19: above it the window can outgrow 8 MiB, the most the zstd content coding
# may use (RFC 9659); browsers refuse larger windows.
BEST_LEVELS: Mapping[str, int] = MappingProxyType({"br": 11, "zstd": 19, "gzip": 9})

# gzip framing for zlib: header and CRC32 trailer instead of the zlib wrapper.
_GZIP_WBITS = 31
_local = threading.local()


class UnknownEncodingError(ValueError):
    """A coding this module does not implement."""


def compress(body: bytes, encoding: str, level: int | None = None) -> bytes:
    """`body` in `encoding` ("gzip", "br" or "zstd"); `level` defaults to DYNAMIC_LEVELS."""
    if level is None:
        level = _dynamic_level(encoding)
    if encoding == "br":
        return bytes(brotli.compress(body, quality=level))
    if encoding == "zstd":
        return bytes(_zstd_compressor(level).compress(body))
    if encoding == "gzip":
        return zlib.compress(body, level, wbits=_GZIP_WBITS)
    raise UnknownEncodingError(encoding)


def decompress(body: bytes, encoding: str) -> bytes:
    """The inverse of `compress` and of a finished stream; for tests and the cache."""
    if encoding == "br":
        return bytes(brotli.decompress(body))
    if encoding == "zstd":
        # A stream's frame does not declare its size; a decompressobj reads either kind.
        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(body))
    if encoding == "gzip":
        return zlib.decompress(body, wbits=_GZIP_WBITS)
    raise UnknownEncodingError(encoding)


class StreamCompressor(Protocol):
    def chunk(self, data: bytes) -> bytes:
        """`data` compressed and flushed: the client can decode everything sent so far."""

    def finish(self) -> bytes:
        """The end of the stream (trailer, checksum)."""


def stream_compressor(encoding: str, level: int | None = None) -> StreamCompressor:
    if level is None:
        level = _dynamic_level(encoding)
    if encoding == "br":
        return _BrotliStream(level)
    if encoding == "zstd":
        return _ZstdStream(level)
    if encoding == "gzip":
        return _GzipStream(level)
    raise UnknownEncodingError(encoding)


def _dynamic_level(encoding: str) -> int:
    try:
        return DYNAMIC_LEVELS[encoding]
    except KeyError:
        raise UnknownEncodingError(encoding) from None


def _zstd_compressor(level: int) -> zstandard.ZstdCompressor:
    # A ZstdCompressor must not be used by two threads at once, and large bodies are
    # compressed in worker threads: one compressor per level per thread, reused.
    compressors: dict[int, zstandard.ZstdCompressor] | None = getattr(_local, "zstd", None)
    if compressors is None:
        compressors = _local.zstd = {}
    compressor = compressors.get(level)
    if compressor is None:
        compressor = compressors[level] = zstandard.ZstdCompressor(level=level)
    return compressor


class _GzipStream:
    def __init__(self, level: int) -> None:
        self._zlib = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)

    def chunk(self, data: bytes) -> bytes:
        return self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._zlib.flush(zlib.Z_FINISH)


class _BrotliStream:
    def __init__(self, level: int) -> None:
        self._brotli = brotli.Compressor(quality=level)

    def chunk(self, data: bytes) -> bytes:
        return bytes(self._brotli.process(data)) + bytes(self._brotli.flush())

    def finish(self) -> bytes:
        return bytes(self._brotli.finish())


class _ZstdStream:
    def __init__(self, level: int) -> None:
        # Not the per-thread compressor: a stream outlives one call and owns its own state.
        self._zstd = zstandard.ZstdCompressor(level=level).compressobj()

    def chunk(self, data: bytes) -> bytes:
        return bytes(self._zstd.compress(data)) + bytes(
            self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        )

    def finish(self) -> bytes:
        return bytes(self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))
