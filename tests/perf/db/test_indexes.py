"""Index usage analysis on every dialect, over a schema with known indexes and slow reads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.db.indexes import IndexReport, analyse_indexes
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


async def _report(engine: AsyncEngine) -> IndexReport:
    async with engine.connect() as connection:
        return await analyse_indexes(connection)


def _index(report: IndexReport, name: str) -> object:
    found = [index for index in report.indexes if index.name == name]
    assert found, f"{name} not in {[index.name for index in report.indexes]}"
    return found[0]


async def test_an_index_that_leads_another_is_a_duplicate_of_it(engine: AsyncEngine) -> None:
    report = await _report(engine)
    nights = _index(report, "ix_adv_bookings_nights")
    assert nights.status == "duplicate"  # type: ignore[attr-defined]
    assert nights.duplicate_of == "ix_adv_bookings_nights_status"  # type: ignore[attr-defined]
    assert [i.name for i in report.duplicates] == ["ix_adv_bookings_nights"]


async def test_an_index_the_captured_plans_read_through_is_used(engine: AsyncEngine) -> None:
    report = await _report(engine)
    wider = _index(report, "ix_adv_bookings_nights_status")
    assert wider.status == "used"  # type: ignore[attr-defined]
    assert wider.plan_uses >= 3  # type: ignore[attr-defined]


async def test_a_plain_index_nothing_reads_is_unused(engine: AsyncEngine) -> None:
    report = await _report(engine)
    country = _index(report, "ix_adv_guests_country")
    assert country.status == "unused"  # type: ignore[attr-defined]
    assert "ix_adv_guests_country" in [i.name for i in report.unused]


async def test_unique_and_primary_key_indexes_are_never_unused(engine: AsyncEngine) -> None:
    report = await _report(engine)
    ours = [i for i in report.indexes if i.table in {"adv_guests", "adv_bookings"}]
    constraints = [i for i in ours if i.constraint]
    # The unique reference is never read by any statement, and still not unused.
    reference = [i for i in constraints if i.columns == ("reference",)]
    assert reference and reference[0].status == "constraint"
    assert all(i.status in {"used", "constraint"} for i in constraints)
    assert not [i for i in report.unused if i.unique]


async def test_a_large_table_the_slow_plans_scan_whole_is_seq_scan_heavy(
    engine: AsyncEngine,
) -> None:
    report = await _report(engine)
    heavy = {table.table: table for table in report.seq_scan_heavy}
    assert "adv_bookings" in heavy
    assert heavy["adv_bookings"].plan_full_scans > 0
    assert "alembic_version" not in {table.table for table in report.tables}


async def test_usage_evidence_follows_what_the_dialect_counts(
    engine: AsyncEngine, dialect: str
) -> None:
    report = await _report(engine)
    email = next(i for i in report.indexes if i.table == "adv_guests" and i.columns == ("email",))
    if dialect == "postgresql":
        # pg_stat_user_indexes counts scans; the size comes with it.
        assert email.scans is not None and email.size_bytes is not None
        assert "pg_stat_user_indexes" in report.evidence
    elif dialect == "sqlite":
        assert email.scans is None and "plans" in report.evidence
    else:
        assert "userstat" in report.evidence
