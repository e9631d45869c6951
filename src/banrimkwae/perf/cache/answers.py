"""Answers from cache entries: the negotiated coding of stored bytes, or 304.

An entry's outward headers (stored headers, Content-Length, Content-Encoding, ETag, Vary,
Cache-Control, Surrogate-Key) are built on its first answer per coding and reused; each
answer adds only Age and X-Cache. Nothing is encoded or compressed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.types import Send

from banrimkwae.perf.cache.entry import CachedResponse
from banrimkwae.perf.cache.policies import CachePolicy
from banrimkwae.perf.cache.request_view import RequestView
from banrimkwae.perf.cache.statistics import PolicyCounters
from banrimkwae.perf.cache.upgrade import VariantUpgrader
from banrimkwae.perf.responses.negotiation import choose_encoding
from banrimkwae.perf.responses.validators import etag_for_encoding, if_none_match

PREPARED_LIMIT = 16_384
X_CACHE = b"x-cache"
HIT = {"l1": b"HIT l1", "l2": b"HIT l2"}
STALE = {"l1": b"STALE l1", "l2": b"STALE l2"}
MISS = b"MISS"
_AGE = b"age"
_AGES = [str(n).encode("ascii") for n in range(3600)]


# An answer to send: status, headers, body.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


async def send_answer(send: Send, answer: Answer) -> None:
    status, headers, body = answer
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass(slots=True)
class Prepared:
    """An entry's outward headers per coding, built on its first answer and reused."""

    entry: CachedResponse
    available: tuple[str, ...]
    hits: int = 0
    headers: dict[str | None, list[tuple[bytes, bytes]]] = field(default_factory=dict)
    not_modified: dict[str | None, list[tuple[bytes, bytes]]] = field(default_factory=dict)


class Answerer:
    def __init__(self, upgrader: VariantUpgrader, *, surrogate_keys: bool = True) -> None:
        self.upgrader = upgrader
        self.surrogate_keys = surrogate_keys
        self._prepared: dict[str, Prepared] = {}

    def hits(self, key: str) -> int:
        prepared = self._prepared.get(key)
        return prepared.hits if prepared is not None else 0

    def prepare(
        self,
        method: str,
        request: RequestView,
        policy: CachePolicy,
        counters: PolicyCounters,
        key: str,
        entry: CachedResponse,
        age: float,
        x_cache: bytes,
    ) -> Answer:
        """The answer's status, headers (a new list the caller may extend) and body.

        Counted in the policy's counters; the request's own stats (a hit, its layer) are the
        caller's business: an answer sent before any are set up needs nothing there.
        """
        prepared = self._prepared.get(key)
        if prepared is None or prepared.entry is not entry:
            if len(self._prepared) >= PREPARED_LIMIT:
                self._prepared.clear()
            prepared = self._prepared[key] = Prepared(entry, tuple(entry.variants))
        coding = (
            choose_encoding(request.accept_encoding, prepared.available)
            if prepared.available and request.accept_encoding is not None
            else None
        )
        seconds = int(age)
        per_answer = [
            (_AGE, _AGES[seconds] if seconds < 3600 else str(seconds).encode("ascii")),
            (X_CACHE, x_cache),
        ]
        if request.if_none_match is not None and if_none_match(request.if_none_match, entry.etag):
            headers = prepared.not_modified.get(coding)
            if headers is None:
                headers = prepared.not_modified[coding] = self._outward(policy, entry, coding, None)
            counters.not_modified += 1
            return 304, headers + per_answer, b""
        body = entry.variants[coding] if coding is not None else entry.body
        headers = prepared.headers.get(coding)
        if headers is None:
            headers = prepared.headers[coding] = self._outward(policy, entry, coding, len(body))
        counters.bytes_served += len(body)
        prepared.hits += 1
        if prepared.hits == self.upgrader.hot_hits:
            self.upgrader.consider(key, entry, prepared.hits)
        return entry.status, headers + per_answer, b"" if method == "HEAD" else body

    def _outward(
        self,
        policy: CachePolicy,
        entry: CachedResponse,
        coding: str | None,
        length: int | None,
    ) -> list[tuple[bytes, bytes]]:
        vary = [b"Accept-Encoding"]
        if policy.user_scoped:
            vary.append(b"Authorization")
        if policy.key.varies_on("client_id"):
            vary.append(b"X-Client-Id")
        if policy.user_scoped:
            control = b"private, no-cache"
        elif policy.client_max_age > 0:
            control = b"public, max-age=%d" % policy.client_max_age
        else:
            control = b"public, no-cache"
        outward = [
            (b"etag", etag_for_encoding(entry.etag, coding)),
            (b"vary", b", ".join(vary)),
            (b"cache-control", control),
        ]
        if length is None:  # a 304 keeps only the fields RFC 9110 §15.4.5 lists
            return outward
        headers = list(entry.headers)
        headers.append((b"content-length", str(length).encode("ascii")))
        if coding is not None:
            headers.append((b"content-encoding", coding.encode("ascii")))
        headers.extend(outward)
        if self.surrogate_keys and not policy.user_scoped:
            keys = sorted(tag for tag in entry.tags if tag != "*")
            if keys:
                headers.append((b"surrogate-key", " ".join(keys).encode("latin-1")))
        return headers
