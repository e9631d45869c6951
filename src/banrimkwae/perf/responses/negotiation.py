"""Content-coding negotiation: which of the server's codings a request's Accept-Encoding allows.

RFC 9110 §12.5.3: members are `coding;q=value`; `q=0` means "never"; `*` stands for every
coding not named; `identity` is acceptable unless refused (by name, or by `*;q=0` when it is
not named). Coding names are case-insensitive and `x-gzip` means `gzip` (§8.4.1.3).

This runs on every response, cache hits included, and browsers send the same few header
values over and over, so a parse result is kept per (header, available) in a small bounded
dict. A malformed member is dropped as if it were absent; nothing here raises on bad input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Best ratio first, then the one every client has. The order breaks ties between q-values.
SERVER_PREFERENCE: tuple[str, ...] = ("br", "zstd", "gzip")

_ALIASES = {"x-gzip": "gzip"}
# Remembered answers: a bounded number, and only for header values of a sane length, so a
# client sending endless distinct or huge values cannot grow memory.
_CACHE_SIZE = 256
_CACHEABLE_LENGTH = 256
# qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_valid_qvalue = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?").fullmatch
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")
_cache: dict[tuple[str, tuple[str, ...]], str | None] = {}


def choose_encoding(
    accept_encoding: str | bytes | None, available: Sequence[str] = SERVER_PREFERENCE
) -> str | None:
    """The coding of `available` (server preference order) to send, or None for identity.

    No header means identity: RFC 9110 lets a server pick any coding then, but a client that
    sent nothing (curl, health checks, old proxies) is best served plain.
    """
    if not accept_encoding:
        return None
    if isinstance(accept_encoding, bytes):
        accept_encoding = accept_encoding.decode("latin-1")
    offered = available if isinstance(available, tuple) else tuple(available)
    key = (accept_encoding, offered)
    try:
        return _cache[key]
    except KeyError:
        pass
    chosen = _choose(_parse(accept_encoding), offered)
    if len(accept_encoding) > _CACHEABLE_LENGTH:
        return chosen
    if len(_cache) >= _CACHE_SIZE:
        # Oldest first: dicts keep insertion order, so this is a cheap FIFO eviction.
        del _cache[next(iter(_cache))]
    _cache[key] = chosen
    return chosen


def parse_accept_encoding(accept_encoding: str) -> dict[str, float]:
    """Coding (lower case, `*` included) -> q-value, malformed members left out."""
    return _parse(accept_encoding)


def _parse(header: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for member in header.split(","):
        coding, _, params = member.partition(";")
        coding = coding.strip().lower()
        if not coding or not _is_token(coding):
            continue
        q = 1.0
        if params:
            parsed = _qvalue(params)
            if parsed is None:
                continue
            q = parsed
        coding = _ALIASES.get(coding, coding)
        # A repeated coding: the first occurrence wins, as for any list member.
        weights.setdefault(coding, q)
    return weights


def _qvalue(params: str) -> float | None:
    """The q of `;q=0.5` (other parameters ignored), or None when it is malformed."""
    q = 1.0
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        if not _valid_qvalue(value):
            return None
        q = float(value)
    return q


def _is_token(name: str) -> bool:
    return all(c in _TCHAR for c in name)


def _choose(weights: dict[str, float], available: tuple[str, ...]) -> str | None:
    star = weights.get("*")
    best: str | None = None
    best_q = 0.0
    for coding in available:
        q = weights.get(coding, star if star is not None else 0.0)
        # Strictly greater: among equal q-values the server's order decides.
        if q > best_q:
            best, best_q = coding, q
    if best is None:
        return None
    # identity is always the fallback; it beats a coding only when the client asked for it
    # (by name or through `*`) with a higher q, as in `gzip;q=0.2, identity;q=0.8`.
    identity_q = weights.get("identity", star if star is not None else 0.0)
    if identity_q > best_q:
        return None
    return best
