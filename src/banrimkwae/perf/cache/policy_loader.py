"""Policies from `api_cache_config`, reloaded in every worker when one changes.

A change is announced by bumping the `cache:policies` tag in the response store
(`announce_change`, called by whoever edits policies: the admin API, `banrimkwae cache`).
Each worker keeps a tiny sentinel entry stamped with that tag; checking it is an L1 peek, so
the reloader checks every `interval` seconds at no cost and reloads when the sentinel is
gone (the tag moved: in this process at once, in others through the store's propagation).
Edits made straight in SQL are caught by a slower check of the rows' count and newest
`updated_at` every `full_check_interval` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.cache.entry import CachedResponse
from banrimkwae.perf.cache.policies import PolicyHolder, PolicySet, compile_rows_checked
from banrimkwae.perf.cache.store import ResponseStore
from banrimkwae.perf.periodic import PeriodicTask
from banrimkwae.perf.storage.models import ApiCacheConfig

log = logging.getLogger(__name__)
POLICIES_TAG = "cache:policies"
_SENTINEL_KEY = "bk:policies-version"
_SENTINEL_TTL = 365 * 86400.0


async def load_policy_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    table = ApiCacheConfig.__table__
    async with engine.connect() as connection:
        result = await connection.execute(select(table).order_by(table.c.id))
        return [dict(row) for row in result.mappings()]


async def announce_change(store: ResponseStore) -> None:
    """Tell every worker to reload its policies."""
    await store.invalidate([POLICIES_TAG])


def _sentinel() -> CachedResponse:
    return CachedResponse(
        status=204,
        headers=(),
        body=b"",
        variants={},
        etag=b'""',
        stored_at=time.time(),
        ttl=_SENTINEL_TTL,
        stale_ttl=0.0,
        compute_ms=0.0,
    )


class PolicyReloader:
    def __init__(
        self,
        holder: PolicyHolder,
        engine: AsyncEngine,
        store: ResponseStore,
        *,
        interval: float = 1.0,
        full_check_interval: float = 30.0,
    ) -> None:
        self.holder = holder
        self.engine = engine
        self.store = store
        self.interval = interval
        self.full_check_interval = full_check_interval
        self.reloads = 0
        self.errors: list[str] = []
        self._rows: list[dict[str, Any]] = []
        self._last_full = time.monotonic()
        self._periodic = PeriodicTask(
            "cache-policy-reloader",
            interval,
            self._step,
            log=log,
            failure="cache policy reload failed; keeping the current set",
        )

    async def reload(self) -> PolicySet:
        """Read and compile the policies now, and arm the sentinel."""
        snapshot = self.store.snapshot()
        rows = await load_policy_rows(self.engine)
        policies, self.errors = compile_rows_checked(rows)
        for error in self.errors:
            log.warning("cache policy left out: %s", error)
        self.holder.replace(PolicySet(policies, version=self.reloads + 1))
        self.reloads += 1
        self._rows = rows
        await self.store.put(_SENTINEL_KEY, _sentinel(), [POLICIES_TAG], snapshot)
        return self.holder.current

    async def check(self, *, full: bool = False) -> bool:
        """Reload if the sentinel is gone (or, with `full`, the rows changed); True if so."""
        changed = self.store.peek(_SENTINEL_KEY) is None
        if not changed and full:
            # The table is small: compare it whole (timestamps may not move within a second).
            changed = await load_policy_rows(self.engine) != self._rows
        if changed:
            await self.reload()
        return changed

    @property
    def failures(self) -> int:
        return self._periodic.failures

    async def _step(self) -> None:
        full = time.monotonic() - self._last_full >= self.full_check_interval
        if full:
            self._last_full = time.monotonic()
        await self.check(full=full)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()


def describe(policies: PolicySet) -> list[Mapping[str, Any]]:
    """The policies as plain rows (CLI, admin API)."""
    return [
        {
            "pattern": p.name,
            "methods": ",".join(sorted(p.methods)),
            "ttl": p.ttl,
            "strategy": p.strategy,
            "key": p.key.pattern,
            "user_scoped": p.user_scoped,
            "swr": p.stale_while_revalidate,
            "stale_if_error": p.stale_if_error,
            "warming": p.warming,
            "compression": p.compression_enabled,
        }
        for p in policies.policies
    ]
