"""Index advice on every dialect: candidates measured before they are proposed, recorded once
per target, applied for real."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.db.advice import Advice, advise
from banrimkwae.perf.db.indexes import existing_indexes
from banrimkwae.perf.db.recommend import apply, record
from banrimkwae.perf.db.trials import HYPOPG, ROLLED_BACK, SCRATCH_COPY
from banrimkwae.perf.storage.models import PerformanceRecommendation
from tests.conftest import MARIADB_ADMIN_URL, service_missing
from tests.perf.db.advisor_data import build_tables, monitor, slow_statements


@pytest.fixture(scope="module")
async def monitored_url(module_database_url: str) -> str:
    await build_tables(module_database_url)
    await monitor(module_database_url, slow_statements())
    return module_database_url


@pytest.fixture
async def engine(monitored_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for_url(monitored_url)
    yield engine
    await engine.dispose()


def _on(advice: Advice, table: str) -> list[tuple[str, ...]]:
    return [p.candidate.columns for p in advice.proposals if p.candidate.table == table]


async def _index_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return {index.name for index in await existing_indexes(connection)}


async def test_the_filtered_statement_gets_a_measured_multi_column_index(
    engine: AsyncEngine,
) -> None:
    advice = await advise(engine, use_hypopg=False)
    filters = [p for p in advice.proposals if p.candidate.columns[0] == "property_id"]
    assert filters, advice.notes
    proposal = filters[0]
    assert proposal.candidate.table == "adv_bookings"
    assert proposal.candidate.columns[:2] == ("property_id", "status")
    # Measured, not guessed: the plan with the trial index used it and got cheaper.
    assert proposal.improvement >= 0.3
    assert proposal.after.uses_index("adv_bookings", "ix_advisor_trial")
    assert not proposal.before.uses_index("adv_bookings", "ix_advisor_trial")


async def test_the_join_is_indexed_on_its_probed_side_unless_already_covered(
    engine: AsyncEngine, dialect: str
) -> None:
    advice = await advise(engine, use_hypopg=False, min_improvement=0.2)
    joins = [p for p in advice.proposals if p.candidate.columns[0] == "guest_id"]
    join_notes = [note for note in advice.notes.values() if "guest_id" in note or "alone" in note]
    if dialect == "mariadb":
        # InnoDB indexed the foreign key itself: nothing to propose for the join.
        assert not joins
    else:
        assert joins and joins[0].candidate.reason == "join", join_notes


async def test_trials_leave_no_index_and_no_scratch_database_behind(
    engine: AsyncEngine, dialect: str
) -> None:
    before = await _index_names(engine)
    advice = await advise(engine, use_hypopg=False)
    assert advice.method == {"sqlite": ROLLED_BACK, "postgresql": ROLLED_BACK}.get(
        dialect, SCRATCH_COPY
    )
    assert await _index_names(engine) == before
    if dialect == "mariadb":
        admin = create_async_engine(MARIADB_ADMIN_URL)
        try:
            async with admin.connect() as connection:
                left = await connection.execute(text("SHOW DATABASES LIKE 'bk_advisor%'"))
                assert left.all() == []
        finally:
            await admin.dispose()


async def test_hypopg_measures_by_cost_where_it_exists_elsewhere_time_is_measured(
    engine: AsyncEngine, dialect: str
) -> None:
    if dialect != "postgresql":
        advice = await advise(engine)
        assert advice.method != HYPOPG
        proposal = next(p for p in advice.proposals if p.candidate.columns[0] == "property_id")
        assert proposal.measure == "median ms"
        assert proposal.after.median_ms is not None and proposal.before.median_ms is not None
        return
    async with engine.connect() as connection:
        available = await connection.execute(
            text("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'")
        )
        if available.first() is None:
            service_missing("the hypopg extension: run scripts/system-deps")
        await connection.execute(text("CREATE EXTENSION IF NOT EXISTS hypopg"))
        await connection.commit()
    try:
        advice = await advise(engine)
        assert advice.method == HYPOPG
        proposal = next(p for p in advice.proposals if p.candidate.columns[0] == "property_id")
        assert proposal.measure == "plan cost"
        assert proposal.before.cost is not None and proposal.after.cost is not None
        assert proposal.after.cost < proposal.before.cost
        # A hypothetical index is planned, never run.
        assert proposal.after.median_ms is None
    finally:
        async with engine.connect() as connection:
            await connection.execute(text("DROP EXTENSION hypopg"))
            await connection.commit()


async def test_write_cost_is_weighed_from_the_rollups(engine: AsyncEngine) -> None:
    advice = await advise(engine, use_hypopg=False)
    cost = advice.proposals[0].write_cost
    assert cost["table_reads"] > 0
    assert cost["indexes_on_table"] >= 3
    assert cost["estimated_entry_bytes"] > 0
    assert 0 <= cost["write_share"] <= 1


async def test_advising_twice_keeps_one_open_recommendation_per_target(
    engine: AsyncEngine,
) -> None:
    advice = await advise(engine, use_hypopg=False)
    first = await record(engine, advice.proposals)
    # Timed measurements differ from run to run; the same targets update the same rows.
    again = await record(engine, advice.proposals)
    assert first == again
    table = PerformanceRecommendation
    async with engine.connect() as connection:
        rows = (
            await connection.execute(select(table).where(table.recommendation_type == "index"))
        ).all()
    targets = [row.target_resource for row in rows]
    assert len(targets) == len(set(targets)) == len(advice.proposals)
    row = next(r for r in rows if "property_id" in r.target_resource)
    assert row.status == "pending"
    assert row.target_resource.startswith("index:adv_bookings(property_id, status")
    assert row.recommended_metric_value < row.current_metric_value
    assert "CREATE INDEX" in row.implementation_steps[0]
    assert row.impact_analysis["fingerprints"]
    assert "%" in row.expected_improvement


async def test_applying_builds_the_index_and_it_is_never_proposed_again(
    engine: AsyncEngine, dialect: str
) -> None:
    advice = await advise(engine, use_hypopg=False)
    ids = await record(engine, advice.proposals)
    proposal = next(p for p in advice.proposals if p.candidate.columns[0] == "property_id")
    recommendation_id = ids[advice.proposals.index(proposal)]
    statement = await apply(engine, proposal, recommendation_id)
    assert ("CONCURRENTLY" in statement) == (dialect == "postgresql")
    assert proposal.index_name in await _index_names(engine)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(PerformanceRecommendation).where(
                    PerformanceRecommendation.id == recommendation_id
                )
            )
        ).one()
    assert row.status == "completed" and row.implemented_at is not None
    # Built, it is an existing index: never proposed again.
    later = await advise(engine, use_hypopg=False)
    assert proposal.candidate.columns not in _on(later, "adv_bookings")
