"""The codings round-trip, whole and streamed, and the level tables are sane."""

from __future__ import annotations

import os

import pytest

from banrimkwae.perf.responses.codecs import (
    BEST_LEVELS,
    DYNAMIC_LEVELS,
    ENCODINGS,
    UnknownEncodingError,
    compress,
    decompress,
    stream_compressor,
)

JSON = (
    b'{"items":['
    + b",".join(b'{"id":%d,"name":"Room %d","rate":1200.5}' % (i, i) for i in range(500))
    + b"]}"
)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("body", [b"", b"x", JSON, os.urandom(10_000)])
def test_whole_bodies_round_trip(encoding: str, body: bytes) -> None:
    assert decompress(compress(body, encoding), encoding) == body
    assert decompress(compress(body, encoding, BEST_LEVELS[encoding]), encoding) == body


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_json_gets_much_smaller(encoding: str) -> None:
    assert len(compress(JSON, encoding)) < len(JSON) / 5


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_flushed_chunk_decodes_on_its_own(encoding: str) -> None:
    """A client reading a stream sees each chunk as soon as it arrives, not at the end."""
    stream = stream_compressor(encoding)
    pieces = [JSON[i : i + 1000] for i in range(0, len(JSON), 1000)]
    sent = b""
    for index, piece in enumerate(pieces):
        sent += stream.chunk(piece)
        assert _decode_prefix(sent, encoding) == b"".join(pieces[: index + 1])
    sent += stream.finish()
    assert decompress(sent, encoding) == JSON


def _decode_prefix(data: bytes, encoding: str) -> bytes:
    """What a streaming decoder yields from an unfinished stream."""
    import zlib

    import brotli
    import zstandard

    if encoding == "gzip":
        return zlib.decompressobj(wbits=31).decompress(data)
    if encoding == "br":
        return bytes(brotli.Decompressor().process(data))
    return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))


def test_dynamic_levels_are_not_the_maximum() -> None:
    assert DYNAMIC_LEVELS["gzip"] < 9 and DYNAMIC_LEVELS["br"] < 11 and DYNAMIC_LEVELS["zstd"] < 19


def test_zstd_best_level_keeps_the_window_browsers_accept() -> None:
    # Beyond level 19 the window can exceed 8 MiB, which HTTP clients may refuse.
    assert BEST_LEVELS["zstd"] <= 19


def test_unknown_codings_are_refused() -> None:
    with pytest.raises(UnknownEncodingError):
        compress(b"x", "deflate")
    with pytest.raises(UnknownEncodingError):
        stream_compressor("lzma")
