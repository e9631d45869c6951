"""Entity tags and If-None-Match, shared by the response cache and the compression middleware.

A strong tag is a digest of the identity body, so every worker (and every restart) gives the
same body the same tag. Each content coding of that body is a different representation and
gets its own strong tag (`"<digest>-br"`, RFC 9110 §8.8.3.3), yet If-None-Match compares
weakly (§13.1.2) and a client holding the gzip bytes of a body holds the same content as one
holding its br bytes: so a tag of any coding of the body matches.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from banrimkwae.perf.responses.codecs import ENCODINGS

# Header fields a 304 carries (RFC 9110 §15.4.5): none that describe the omitted body.
NOT_MODIFIED_HEADERS = frozenset(
    (b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary")
)

_CODING_SUFFIXES = tuple(b"-" + encoding.encode("ascii") for encoding in ENCODINGS)
# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; a comma may sit inside the quotes.
_entity_tags = re.compile(rb'(?:W/)?"([^"]*)"').findall


def strong_etag(body: bytes) -> bytes:
    """A quoted strong entity tag for the identity `body`, e.g. `"9f86d081884c7d65..."`."""
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode("ascii") + b'"'


def etag_for_encoding(etag: bytes, encoding: str | None) -> bytes:
    """The tag of `encoding` of the body tagged `etag`; identity (None) keeps `etag`."""
    if encoding is None or encoding == "identity":
        return etag
    return etag[:-1] + b"-" + encoding.encode("ascii") + b'"'


def if_none_match(header: bytes | str | None, etag: bytes) -> bool:
    """Whether If-None-Match `header` matches the current representation tagged `etag`.

    True means "the client already has it": answer 304 to GET and HEAD.
    """
    if not header:
        return False
    if isinstance(header, str):
        header = header.encode("latin-1")
    if header.strip() == b"*":
        return True
    current = _opaque(etag)
    return any(_without_coding(tag) == current for tag in _entity_tags(header))


def not_modified_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The fields of a 200's `headers` that its 304 keeps, in their order."""
    return [(name, value) for name, value in headers if name.lower() in NOT_MODIFIED_HEADERS]


def _opaque(etag: bytes) -> bytes:
    """The tag without W/, quotes and coding suffix: what weak comparison looks at."""
    if etag.startswith(b"W/"):
        etag = etag[2:]
    return _without_coding(etag.strip(b'"'))


def _without_coding(tag: bytes) -> bytes:
    if tag.endswith(_CODING_SUFFIXES):
        return tag[: tag.rindex(b"-")]
    return tag
