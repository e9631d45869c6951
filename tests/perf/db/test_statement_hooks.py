"""The shared statement hooks: several observers of one engine, each seeing what it asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import bindparam, text

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.db.statement_hooks import statement_hooks
from tests.conftest import ScratchDatabases


class Seen:
    """An observer that records what it was handed."""

    def __init__(self, wanted: bool = True) -> None:
        self.wanted = wanted
        self.statements: list[tuple[str, float]] = []

    def begin(self) -> str | None:
        return "token" if self.wanted else None

    def end(
        self, token: str, _cursor: Any, statement: str, _params: Any, _ctx: Any, ms: float
    ) -> None:
        assert token == "token"
        self.statements.append((statement, ms))


@pytest.fixture
async def engine(dialect: str, scratch_databases: ScratchDatabases) -> AsyncIterator[Any]:
    engine = create_engine_for_url(await scratch_databases.create(dialect))
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE hook_notes (id INTEGER PRIMARY KEY)"))
    yield engine
    await engine.dispose()


async def test_every_interested_observer_sees_each_statement_once(engine: Any) -> None:
    hooks = statement_hooks(engine)
    first, second, uninterested = Seen(), Seen(), Seen(wanted=False)
    for observer in (first, uninterested, second):
        hooks.add(observer.begin, observer.end)
    assert statement_hooks(engine) is hooks  # one set of hooks per engine

    async with engine.begin() as connection:
        await connection.execute(text("SELECT COUNT(*) FROM hook_notes"))  # parameters: none
        await connection.execute(  # many parameter sets
            text("INSERT INTO hook_notes (id) VALUES (:id)"), [{"id": 1}, {"id": 2}]
        )
        found = await connection.execute(
            text("SELECT id FROM hook_notes WHERE id = :id").bindparams(bindparam("id")), {"id": 2}
        )
        assert found.scalar_one() == 2  # the hook ran the statement and its result came back

    ran = [statement for statement, _ in first.statements]
    assert [s.split()[0] for s in ran] == ["SELECT", "INSERT", "SELECT"]
    assert first.statements == second.statements  # one timing, handed to both
    assert all(ms > 0 for _, ms in first.statements)
    assert uninterested.statements == []


async def test_statements_nobody_wants_run_as_usual_and_removal_stops_observing(
    engine: Any,
) -> None:
    hooks = statement_hooks(engine)
    nobody = Seen(wanted=False)
    hooks.add(nobody.begin, nobody.end)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    watching = Seen()
    observer = hooks.add(watching.begin, watching.end)
    hooks.remove(observer)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 2"))).scalar_one() == 2
    assert nobody.statements == watching.statements == []
    # No engine-level listener was needed: SQLAlchemy's per-connection dispatch stays off.
    assert not engine.sync_engine._has_events
