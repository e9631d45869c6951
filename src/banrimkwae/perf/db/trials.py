"""Trying an index before proposing it: the statement measured without it and with it.

- PostgreSQL with the HypoPG extension installed in the database: a hypothetical index
  (`hypopg_create_index`), which nothing else sees and which costs nothing to build; the plan
  cost is the measure (a hypothetical index cannot be run).
- PostgreSQL without HypoPG, and SQLite: the index is built inside a transaction that is
  rolled back (DDL is transactional on both); plan cost (PostgreSQL) and measured time are
  compared. While it lasts, the build blocks writes to that table: the lock wait is bounded.
- MariaDB: DDL commits on its own, so the tables the statement reads are copied into a
  scratch database on the same server, the index is built and dropped there, and the scratch
  database is dropped at the end. Plan and time are measured on the copy, before and after.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from banrimkwae.perf.db.candidates import Candidate
from banrimkwae.perf.db.explain import Measurement, combined, measure

HYPOPG = "hypopg"
ROLLED_BACK = "rolled-back transaction"
SCRATCH_COPY = "scratch copy"


# (runnable statement, the SELECT that times it): one per sampled row (explain.ValueSampler).
Samples = Sequence[tuple[str, str | None]]


def _columns(candidate: Candidate) -> str:
    return ", ".join(candidate.columns)


class Trials:
    """Measure statements on one connection, with or without a candidate index."""

    def __init__(self, connection: AsyncConnection, dialect: str, method: str) -> None:
        self.connection = connection
        self.dialect = dialect
        self.method = method
        self._copied: set[str] = set()
        self._scratch: str | None = None
        self._home: str | None = None

    @property
    def trial_index_name(self) -> str:
        """What the plan calls the trial index (HypoPG names it <oid>btree_<table>_...)."""
        return "btree_" if self.method == HYPOPG else "ix_advisor_trial"

    async def baseline(self, samples: Samples, tables: set[str]) -> Measurement:
        """The statement as it runs now, once per sample, combined."""
        if self.method == SCRATCH_COPY:
            await self._copy(tables)
            return await self._measure(samples)
        if self.method == HYPOPG:
            return await self._measure(samples)  # runs as it is: timed like elsewhere
        async with self._rolled_back():
            return await self._measure(samples)

    async def with_index(
        self, candidate: Candidate, samples: Samples, tables: set[str]
    ) -> Measurement:
        """The statement with `candidate` in place (built once for every sample)."""
        create = f"CREATE INDEX ix_advisor_trial ON {candidate.table} ({_columns(candidate)})"
        if self.method == HYPOPG:
            await self.connection.exec_driver_sql(
                f"SELECT * FROM hypopg_create_index('CREATE INDEX ON {candidate.table}"
                f" ({_columns(candidate)})')"
            )
            try:
                return await self._measure(samples, timed=False)
            finally:
                await self.connection.exec_driver_sql("SELECT hypopg_reset()")
        if self.method == SCRATCH_COPY:
            await self._copy(tables)
            await self.connection.exec_driver_sql(create)
            try:
                await self.connection.exec_driver_sql(f"ANALYZE TABLE {candidate.table}")
                return await self._measure(samples)
            finally:
                await self.connection.exec_driver_sql(
                    f"DROP INDEX ix_advisor_trial ON {candidate.table}"
                )
        async with self._rolled_back():
            await self.connection.exec_driver_sql(create)
            if self.dialect == "sqlite":
                await self.connection.exec_driver_sql(f"ANALYZE {candidate.table}")
            return await self._measure(samples)

    async def _measure(self, samples: Samples, *, timed: bool = True) -> Measurement:
        return combined(
            [
                await measure(self.connection, self.dialect, statement, timing if timed else None)
                for statement, timing in samples
            ]
        )

    @asynccontextmanager
    async def _rolled_back(self) -> AsyncIterator[None]:
        if self.connection.in_transaction():
            await self.connection.rollback()
        if self.dialect == "sqlite":
            # pysqlite begins a transaction only before DML: DDL would commit on its own.
            await self.connection.exec_driver_sql("BEGIN")
        else:
            await self.connection.begin()
            await self.connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
        try:
            yield
        finally:
            await self.connection.rollback()

    async def _copy(self, tables: set[str]) -> None:
        if self._scratch is None:
            self._home = str(
                (await self.connection.exec_driver_sql("SELECT DATABASE()")).scalar_one()
            )
            self._scratch = f"bk_advisor_{uuid.uuid4().hex[:12]}"
            await self.connection.exec_driver_sql(f"CREATE DATABASE {self._scratch}")
            await self.connection.exec_driver_sql(f"USE {self._scratch}")
        for table in sorted(tables - self._copied):
            source = f"`{self._home}`.`{table}`"
            await self.connection.exec_driver_sql(f"CREATE TABLE `{table}` LIKE {source}")
            await self.connection.exec_driver_sql(f"INSERT INTO `{table}` SELECT * FROM {source}")
            await self.connection.exec_driver_sql(f"ANALYZE TABLE `{table}`")
            await self.connection.commit()
            self._copied.add(table)

    async def close(self) -> None:
        if self._scratch is not None:
            await self.connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {self._scratch}")
            await self.connection.exec_driver_sql(f"USE `{self._home}`")
            self._scratch = None


async def hypopg_installed(connection: AsyncConnection) -> bool:
    result = await connection.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'hypopg'")
    return result.first() is not None


@asynccontextmanager
async def open_trials(engine: AsyncEngine, *, use_hypopg: bool = True) -> AsyncIterator[Trials]:
    """Trials on a connection of their own; everything they create is gone afterwards."""
    dialect = engine.dialect.name
    async with engine.connect() as connection:
        if dialect == "postgresql":
            hypothetical = use_hypopg and await hypopg_installed(connection)
            await connection.rollback()
            method = HYPOPG if hypothetical else ROLLED_BACK
        elif dialect in {"mysql", "mariadb"}:
            method = SCRATCH_COPY
        else:
            method = ROLLED_BACK
        trials = Trials(connection, dialect, method)
        try:
            yield trials
        finally:
            await trials.close()
