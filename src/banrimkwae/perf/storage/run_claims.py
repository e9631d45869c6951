"""One run per interval across processes: a periodic job claims its run in the database first.

Every worker runs the platform's timers; a job that must run once per interval for the whole
installation (the recommendation rules) first claims the run on its `job_runs` row with a
compare-and-set:

    UPDATE job_runs SET last_run_at = :now, holder = :holder
    WHERE name = :job AND (last_run_at IS NULL OR last_run_at <= :now - :min_gap)

One row changed is a claim. The database makes the update atomic on every dialect (the row
lock of PostgreSQL and MariaDB, SQLite's single writer): of two workers updating together,
the second sees the first one's claim and changes nothing. So claims, and the runs, are at
least `min_gap` seconds apart whoever makes them, and the row tells when the job last ran and
where. A job's row is created on its first claim; two workers creating it together are
fine (the loser of the insert only updates).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.storage.models import JobRun


async def claim_run(engine: AsyncEngine, job: str, holder: str, now: float, min_gap: float) -> bool:
    """True if this caller may run `job` now; the claim is recorded when it may."""
    if await _compare_and_set(engine, job, holder, now, min_gap):
        return True
    if await _exists(engine, job):
        return False
    await _create(engine, job)
    return await _compare_and_set(engine, job, holder, now, min_gap)


async def _compare_and_set(
    engine: AsyncEngine, job: str, holder: str, now: float, min_gap: float
) -> bool:
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    cutoff = dt.datetime.fromtimestamp(now - min_gap, dt.UTC)
    async with engine.begin() as connection:
        changed = cast(
            CursorResult[Any],
            await connection.execute(
                update(JobRun)
                .where(
                    JobRun.name == job,
                    or_(JobRun.last_run_at.is_(None), JobRun.last_run_at <= cutoff),
                )
                .values(last_run_at=moment, holder=holder[:100])
            ),
        )
    return changed.rowcount == 1


async def _exists(engine: AsyncEngine, job: str) -> bool:
    async with engine.connect() as connection:
        return await connection.scalar(select(JobRun.name).where(JobRun.name == job)) is not None


async def _create(engine: AsyncEngine, job: str) -> None:
    """The job's row, never claimed; another worker may have created it a moment ago."""
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(JobRun).values(name=job))
    except IntegrityError:
        pass
