"""GET /api/admin/database/replicas: pools, replica health, lag and where reads went."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from banrimkwae.perf.access import Authorizer, RequireRole
from banrimkwae.perf.db.engines import Database
from banrimkwae.perf.db.pools import pool_stats
from banrimkwae.perf.problems import problem_responses


def _pool(engine: Any) -> dict[str, Any]:
    pool = engine.pool
    shown: dict[str, Any] = {"class": type(pool).__name__}
    if all(hasattr(pool, attr) for attr in ("size", "checkedout", "checkedin", "overflow")):
        shown.update(
            size=pool.size(),
            checked_out=pool.checkedout(),
            idle=pool.checkedin(),
            overflow=max(pool.overflow(), 0),
        )
    stats = pool_stats(pool)
    if stats is not None:
        shown.update(
            waits=stats.waits,
            wait_seconds=round(stats.wait_seconds, 6),
            timeouts=stats.timeouts,
        )
    return shown


def database_router(database: Database, authorize: Authorizer) -> APIRouter:
    router = APIRouter(
        prefix="/api/admin/database",
        tags=["database"],
        dependencies=[Depends(RequireRole(authorize, "viewer"))],
        responses=problem_responses(401, 403),
    )

    @router.get("/replicas")
    async def replicas() -> dict[str, Any]:
        """Each pool's use, and the replicas' health, lag and routing counts."""
        routing = database.router
        return {
            "enabled": routing is not None,
            "pools": {name: _pool(engine) for name, engine in database.pools.items()},
            **(routing.snapshot() if routing is not None else {"replicas": [], "routed": []}),
        }

    return router
