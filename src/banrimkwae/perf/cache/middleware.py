"""The response cache: answers hits before routing, stores misses, invalidates after writes.

Pure ASGI, between the metrics and compression middlewares: Metrics(Cache(Compression(app))).
As served, the metrics middleware first asks `answer_from_memory` and sends an L1 hit itself,
so a hit costs one middleware call instead of a chain; everything else comes down here.

GET/HEAD under an active policy:
  key (keys.py) -> L1 peek -> L2 get -> fresh: the stored bytes of the negotiated coding, or
  304 when If-None-Match matches; XFetch may refresh it in the background.
  Past ttl but inside stale-while-revalidate: served STALE, refreshed in the background.
  Otherwise a miss: single-flight per key (waiters share the leader's result), the origin is
  called with the canonical query, its 2xx shareable answer stored with its compressed
  variants (DYNAMIC_LEVELS) and the tags of the tables it read; the client gets the
  negotiated variant. An origin error inside stale-if-error serves the stale entry.
Any request: when its response starts, the tables it wrote (its transaction has committed:
the resort commits in a dependency before the response) are bumped in the store BEFORE the
response goes on, so the writer's next read, and everyone else's, misses.

Safety: only GET and HEAD; a request with credentials is looked up and stored only under a
user-scoped policy, keyed by the identity the host's `identify(scope)` verified, and served
only to it; otherwise BYPASS. Responses with Set-Cookie, a non-2xx status, a Vary beyond
Accept-Encoding, or `private`/`no-store` (unless user-scoped) are never stored.

Headers: ETag (strong, per coding), Age, Vary (Accept-Encoding + what the key varies on),
X-Cache (`HIT l1`, `HIT l2`, `STALE l1`, `MISS`, `BYPASS`), Cache-Control for clients
(revalidate by default; `private` for user-scoped), Surrogate-Key for a CDN.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from banrimkwae.perf.cache.answers import (
    HIT,
    MISS,
    PREPARED_LIMIT,
    STALE,
    X_CACHE,
    Answer,
    Answerer,
    send_answer,
)
from banrimkwae.perf.cache.capture import Capture, empty_receive, shareable, to_entry
from banrimkwae.perf.cache.entry import CachedResponse
from banrimkwae.perf.cache.flight import Flights, Refresher, refresh_early
from banrimkwae.perf.cache.invalidation import read_tags, write_tags
from banrimkwae.perf.cache.keys import KeyParts, canonical_query, key_field, key_path
from banrimkwae.perf.cache.policies import CachePolicy, PolicyHolder, PolicySet
from banrimkwae.perf.cache.request_view import RequestView, Target, read_headers, warm_scope
from banrimkwae.perf.cache.statistics import CacheStatistics, PolicyCounters
from banrimkwae.perf.cache.store import ResponseStore
from banrimkwae.perf.cache.upgrade import VariantUpgrader
from banrimkwae.perf.metrics.context import (
    RequestStats,
    begin_request,
    current_request_stats,
    end_request,
    record_cache,
)

# The host's caller identity for a request carrying credentials: an opaque principal string
# (e.g. "guest:42"), or None when the credentials do not verify.
Identify = Callable[[Scope], str | None]

COMPRESSION_SWITCH = "banrimkwae.compression"
# Bodies above this are passed through, not stored (nor held in memory to store).
DEFAULT_MAX_BODY = 1024 * 1024
# Variants are made only for bodies at least this large (below, a coding gains nothing).
DEFAULT_MIN_COMPRESS = 256
# A miss is computed without the client's validators: the cache answers them itself.
_CONDITIONAL_HEADERS = frozenset((b"if-none-match", b"if-modified-since"))
_BYPASS = [(X_CACHE, b"BYPASS")]
_KEY_MEMO_SIZE = 16_384
_LOOKUP_METHODS = frozenset(("GET", "HEAD"))
# compute_ms -> seconds, times ten deltas: past that, XFetch's chance is below e^-10.
_XFETCH_HORIZON = 0.01
_Resolved = tuple[CachePolicy | None, PolicyCounters | None, str]
_NOTHING: _Resolved = (None, None, "")
_Looked = tuple[RequestView, CachePolicy, PolicyCounters, str]


class _Bypassed:
    """_look_up's answer for credentials that no user-scoped policy or verified identity covers."""


_BYPASSED = _Bypassed()
# Scope key: answer_from_memory asked L1 for this request; the value is what it found.
L1_ASKED = "banrimkwae.cache.l1_asked"

# What answer_from_memory gives: status, headers (a new list the caller may extend), body,
# and the policy's route template for the metrics. A plain tuple: a NamedTuple's
# constructor alone would add a tenth to a hit's cost.
MemoryAnswer = tuple[int, list[tuple[bytes, bytes]], bytes, str]


class ResponseCacheMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        store: ResponseStore,
        policies: PolicyHolder,
        *,
        identify: Identify | None = None,
        statistics: CacheStatistics | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        min_compress: int = DEFAULT_MIN_COMPRESS,
        surrogate_keys: bool = True,
    ) -> None:
        self.app = app
        self.store = store
        self.policies = policies
        self.identify = identify
        self.statistics = statistics if statistics is not None else CacheStatistics()
        self.max_body = max_body
        self.min_compress = min_compress
        self.flights = Flights()
        self.refresher = Refresher(self.flights)
        self.upgrader = VariantUpgrader(store)
        self.answerer = Answerer(self.upgrader, surrogate_keys=surrogate_keys)
        # (path, raw query, user, client) -> (policy, its counters, key), for the policy
        # set in force: the hit path's one lookup before the store.
        self._memo: dict[tuple[str, bytes, str | None, bytes | None], _Resolved] = {}
        self._memo_for: object = None
        # key -> (what to request again, policy name): the warmer's hot keys.
        self._targets: dict[str, tuple[Target, str]] = {}
        # Called after a write bumped tags (the warmer re-fills hot keys).
        self.on_invalidate: Callable[[], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in _LOOKUP_METHODS:
            await self._forward(scope, receive, send, None)
            return
        looked = self._look_up(scope)
        if looked is None:
            await self._forward(scope, receive, send, None)
            return
        if isinstance(looked, _Bypassed):
            await self._bypass(scope, receive, send, self.policies.current.match(scope["path"]))
            return
        request, policy, counters, key = looked
        stale: CachedResponse | None = None
        if not (request.no_cache and policy.honour_client_no_cache):
            store = self.store
            layer = "l1"
            # answer_from_memory may have asked L1 already (and found nothing it could serve).
            entry = scope.pop(L1_ASKED) if L1_ASKED in scope else store.peek(key)
            if entry is None:
                found = await store.get(key)
                if found is not None:
                    entry, layer = found
            if entry is not None:
                # Answered here, never routed: the metrics read the route from the scope.
                scope["route"] = policy.route
                answer = self._answer(scope, method, request, policy, counters, key, entry, layer)
                if answer is not None:
                    record_cache(hit=True, layer=layer)
                    await send_answer(send, answer)
                    return
                if time.time() - entry.stored_at < entry.ttl + policy.stale_if_error:
                    stale = entry
        if method == "HEAD":
            # A HEAD answer has no body to store; the next GET fills the entry.
            counters.bypasses += 1
            scope[COMPRESSION_SWITCH] = policy.compression_enabled
            await self._forward(scope, receive, send, _BYPASS)
            return
        await self._miss(scope, receive, send, request, policy, counters, key, stale)

    def answer_from_memory(self, scope: Scope) -> MemoryAnswer | None:
        """A GET or HEAD answered from L1 alone, for the middleware in front to send itself.

        The metrics middleware asks this first (Platform.wrap), so that a hit costs one
        middleware call, not a chain of them; None means: send the request down as usual,
        which then does not ask L1 again. Counts and headers are those of `__call__`.
        """
        if scope["method"] not in _LOOKUP_METHODS:
            return None
        looked = self._look_up(scope)
        if looked is None or isinstance(looked, _Bypassed):
            return None
        request, policy, counters, key = looked
        if request.no_cache and policy.honour_client_no_cache:
            return None
        entry = self.store.peek(key)
        if entry is not None:
            method = scope["method"]
            answer = self._answer(scope, method, request, policy, counters, key, entry, "l1")
            if answer is not None:
                return answer[0], answer[1], answer[2], policy.route.path_format
        scope[L1_ASKED] = entry
        return None

    def _look_up(self, scope: Scope) -> _Looked | _Bypassed | None:
        """The request's policy and key; None: not cached here; _BYPASSED: credentials that
        no user-scoped policy (or no verified identity) covers."""
        policies = self.policies.current
        if self._memo_for is not policies:
            self._memo_for = policies
            self._memo.clear()
        request = read_headers(scope)
        user: str | None = None
        if request.credentials:
            policy = policies.match(scope["path"])
            if policy is None:
                return None
            if not policy.user_scoped or self.identify is None:
                return _BYPASSED
            user = self.identify(scope)
            if user is None:
                return _BYPASSED
        # One lookup for the usual case: (path, query, caller) -> policy, counters, key.
        memo = (scope["path"], scope["query_string"], user, request.client_id)
        found_key = self._memo.get(memo)
        if found_key is None:
            found_key = self._resolve(policies, scope, user, request)
            if len(self._memo) >= _KEY_MEMO_SIZE:
                self._memo.clear()
            self._memo[memo] = found_key
        policy, counters, key = found_key
        if policy is None or scope["method"] not in policy.methods:
            return None
        assert counters is not None  # set whenever a policy is
        return request, policy, counters, key

    def _answer(
        self,
        scope: Scope,
        method: str,
        request: RequestView,
        policy: CachePolicy,
        counters: PolicyCounters,
        key: str,
        entry: CachedResponse,
        layer: str,
    ) -> Answer | None:
        """The answer from `entry` while it is fresh, inside stale-while-revalidate, or inside
        its invalidation grace (the store checked that one)."""
        now = time.time()
        age = now - entry.stored_at
        if age < entry.ttl and not entry.invalidated:
            if layer == "l1":
                counters.hits_l1 += 1
            else:
                counters.hits_l2 += 1
            # XFetch only matters within a few recompute times of expiry.
            if age + entry.compute_ms * _XFETCH_HORIZON >= entry.ttl and refresh_early(entry, now):
                counters.early_refreshes += 1
                self._refresh(scope, key, policy)
            return self.answerer.prepare(
                method, request, policy, counters, key, entry, age, HIT[layer]
            )
        if entry.invalidated or age < entry.ttl + policy.stale_while_revalidate:
            counters.stale += 1
            # Past the TTL: refreshed now. Invalidated: the first miss after its grace is.
            if not entry.invalidated:
                self._refresh(scope, key, policy)
            return self.answerer.prepare(
                method, request, policy, counters, key, entry, age, STALE[layer]
            )
        return None

    # -- keys ----------------------------------------------------------------------------------

    def _resolve(
        self, policies: PolicySet, scope: Scope, user: str | None, request: RequestView
    ) -> _Resolved:
        policy = policies.match(scope["path"])
        if policy is None:
            return _NOTHING
        counters = self.statistics.of(policy.name)
        return policy, counters, self._key(policy, scope, user, request)

    async def _bypass(
        self, scope: Scope, receive: Receive, send: Send, policy: CachePolicy | None
    ) -> None:
        """Credentials that no user-scoped policy (or no verified identity) covers."""
        if policy is None:
            await self._forward(scope, receive, send, None)
            return
        self.statistics.of(policy.name).bypasses += 1
        scope[COMPRESSION_SWITCH] = policy.compression_enabled
        await self._forward(scope, receive, send, _BYPASS)

    def _key(
        self, policy: CachePolicy, scope: Scope, user: str | None, request: RequestView
    ) -> str:
        user_field = key_field(user)
        client = request.client_id
        parts = KeyParts(
            endpoint=key_path(scope["path"], scope.get("root_path", "")),
            method="GET",
            query=canonical_query(scope["query_string"]).decode("ascii"),
            user_id=user_field,
            client_id=key_field(client.decode("latin-1") if client is not None else None),
        )
        key = policy.key.render(parts)
        if policy.strategy == "hierarchical":
            # All of one caller's keys share a prefix: `cache invalidate --pattern 'u=42/*'`.
            return f"u={user_field}/{key}"
        return key

    # -- the miss ------------------------------------------------------------------------------

    async def _miss(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: RequestView,
        policy: CachePolicy,
        counters: PolicyCounters,
        key: str,
        stale: CachedResponse | None,
    ) -> None:
        waiting = self.flights.join(key)
        if waiting is not None:
            counters.coalesced += 1
            entry = await asyncio.shield(waiting)
            if entry is not None:
                scope["route"] = policy.route
                answerer = self.answerer
                await send_answer(
                    send, answerer.prepare("GET", request, policy, counters, key, entry, 0.0, MISS)
                )
                return
        flight = self.flights.lead(key)
        entry = None
        try:
            entry = await self._compute(scope, receive, send, request, policy, counters, key, stale)
        finally:
            self.flights.land(key, flight, entry)

    async def _compute(
        self,
        scope: Scope,
        receive: Receive,
        send: Send | None,
        request: RequestView | None,
        policy: CachePolicy,
        counters: PolicyCounters,
        key: str,
        stale: CachedResponse | None,
    ) -> CachedResponse | None:
        """Call the origin; store its answer if it may be shared; answer the client if any."""
        if send is not None:
            counters.misses += 1
        # The origin answers exactly the question the key stands for.
        scope["query_string"] = canonical_query(scope["query_string"])
        scope["headers"] = [(n, v) for n, v in scope["headers"] if n not in _CONDITIONAL_HEADERS]
        scope[COMPRESSION_SWITCH] = False  # the cache makes the variants itself
        capture = Capture(send, self.max_body, self._invalidate_written)
        snapshot = self.store.snapshot()
        started = time.perf_counter()
        try:
            await self.app(scope, empty_receive if send is None else receive, capture)
        except Exception:
            counters.errors += 1
            if stale is not None and not capture.started and send is not None:
                await self._serve_stale(send, request, policy, counters, key, stale)
                return None
            raise
        compute_ms = (time.perf_counter() - started) * 1000.0
        counters.compute_ms += compute_ms
        if capture.passed_through:
            counters.uncacheable += 1
            return None
        status = capture.status
        if status >= 500:
            counters.errors += 1
            if stale is not None and send is not None:
                await self._serve_stale(send, request, policy, counters, key, stale)
                return None
        entry = None
        if shareable(status, capture.headers, policy):
            entry = to_entry(policy, capture, compute_ms, self.min_compress)
            tags = read_tags(current_request_stats(), (policy.tag, *policy.invalidation_triggers))
            if await self.store.put(key, entry, tags, snapshot):
                counters.stores += 1
                if not policy.user_scoped and policy.warming:
                    if len(self._targets) >= PREPARED_LIMIT:
                        self._targets.clear()
                    target = Target(scope["path"], scope["query_string"])
                    self._targets[key] = (target, policy.name)
            else:
                counters.refused += 1
        else:
            counters.uncacheable += 1
        if send is not None and request is not None:
            if entry is not None:
                answerer = self.answerer
                await send_answer(
                    send, answerer.prepare("GET", request, policy, counters, key, entry, 0.0, MISS)
                )
            else:
                await capture.replay(send)
        return entry

    async def _serve_stale(
        self,
        send: Send,
        request: RequestView | None,
        policy: CachePolicy,
        counters: PolicyCounters,
        key: str,
        stale: CachedResponse,
    ) -> None:
        """stale-if-error: the origin failed, the last good answer is still allowed."""
        assert request is not None
        counters.stale += 1
        age = time.time() - stale.stored_at
        record_cache(hit=True, layer="l1")
        answerer = self.answerer
        await send_answer(
            send, answerer.prepare("GET", request, policy, counters, key, stale, age, STALE["l1"])
        )

    def _refresh(self, scope: Scope, key: str, policy: CachePolicy) -> None:
        """Recompute `key` in the background, on a copy of this request's scope."""
        background = dict(scope)
        background["headers"] = list(scope["headers"])
        background["state"] = dict(scope.get("state") or {})
        background.pop("route", None)
        counters = self.statistics.of(policy.name)

        async def refresh() -> None:
            flight = self.flights.lead(key)
            entry = None
            token = begin_request(RequestStats("cache-refresh"))
            try:
                counters.background_refreshes += 1
                entry = await self._compute(
                    background, empty_receive, None, None, policy, counters, key, None
                )
            finally:
                end_request(token)
                self.flights.land(key, flight, entry)

        self.refresher.schedule(key, refresh)

    # -- warming -----------------------------------------------------------------------------

    def hot_targets(self, top_n: int, policies: set[str]) -> list[Target]:
        """The `top_n` most served keys of each of `policies` that are no longer cached."""
        ranked: dict[str, list[tuple[int, Target]]] = {}
        for key, (target, policy) in self._targets.items():
            if policy not in policies:
                continue
            hits = self.answerer.hits(key)
            ranked.setdefault(policy, []).append((hits, target))
        chosen: list[Target] = []
        for candidates in ranked.values():
            candidates.sort(key=lambda pair: pair[0], reverse=True)
            chosen.extend(target for _hits, target in candidates[:top_n])
        return [t for t in chosen if self._cached(t) is False]

    def _cached(self, target: Target) -> bool | None:
        """Whether `target` has a valid L1 entry; None when no public policy covers it."""
        policy = self.policies.current.match(target.path)
        if policy is None or policy.user_scoped:
            return None
        key = self._key(policy, warm_scope(target), None, RequestView())
        return self.store.peek(key) is not None

    async def warm(self, target: Target) -> bool:
        """Compute `target` into the cache unless it is there or being computed."""
        policy = self.policies.current.match(target.path)
        if policy is None or policy.user_scoped:
            return False
        scope = warm_scope(target)
        key = self._key(policy, scope, None, RequestView())
        held = self.store.peek(key)
        # An entry inside its invalidation grace is refilled: warming is what replaces it.
        if (held is not None and not held.invalidated) or key in self.flights:
            return False
        counters = self.statistics.of(policy.name)
        counters.background_refreshes += 1
        flight = self.flights.lead(key)
        entry = None
        token = begin_request(RequestStats("cache-warm"))
        try:
            entry = await self._compute(
                scope, empty_receive, None, None, policy, counters, key, None
            )
        finally:
            end_request(token)
            self.flights.land(key, flight, entry)
        return entry is not None

    # -- writes and everything not cached ------------------------------------------------------

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, extra: list[tuple[bytes, bytes]] | None
    ) -> None:
        """Pass the request on; bump the tables it wrote when its response starts."""
        invalidate = self._invalidate_written

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                await invalidate()
                if extra is not None:
                    message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, observed)

    async def _invalidate_written(self) -> None:
        tags = write_tags(current_request_stats())
        if tags:
            self.statistics.invalidations += 1
            self.statistics.tags_bumped += len(tags)
            await self.store.invalidate(tags)
            if self.on_invalidate is not None:
                self.on_invalidate()
