"""`banrimkwae db indexes | advise [--apply] | explain` as a user runs them, on every dialect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.db.indexes import existing_indexes
from banrimkwae.perf.storage.models import DatabaseQueryPerformance
from tests.perf.db.advisor_data import build_tables, monitor, slow_statements

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))


@pytest.fixture(scope="module")
async def monitored_url(module_database_url: str) -> str:
    await build_tables(module_database_url)
    await monitor(module_database_url, slow_statements())
    return module_database_url


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BANRIMKWAE_")}
    env.update({"BANRIMKWAE_DATABASE_URL": url, "COLUMNS": "250"})
    return subprocess.run(
        [BANRIMKWAE, "db", *args], env=env, capture_output=True, text=True, timeout=300
    )


async def _fingerprint_of(url: str, fragment: str) -> str:
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(DatabaseQueryPerformance.query_hash, DatabaseQueryPerformance.query_text)
            )
            return next(h for h, text in rows if fragment in (text or ""))
    finally:
        await engine.dispose()


async def test_indexes_reports_duplicates_constraints_and_slow_fingerprints(
    monitored_url: str,
) -> None:
    result = run(monitored_url, "indexes")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    nights = next(line for line in lines if "ix_adv_bookings_nights " in line)
    assert "duplicate of" in nights
    assert "unused" in next(line for line in lines if "ix_adv_guests_country" in line)
    assert "adv_bookings" in result.stdout.split("sequential scan")[1]
    fingerprint = await _fingerprint_of(monitored_url, "property_id")
    assert fingerprint[:12] in result.stdout


async def test_explain_replans_a_fingerprint_without_printing_values(
    monitored_url: str, dialect: str
) -> None:
    fingerprint = await _fingerprint_of(monitored_url, "property_id")
    result = run(monitored_url, "explain", fingerprint[:10])
    assert result.returncode == 0, result.stderr
    assert fingerprint in result.stdout
    assert "adv_bookings(property_id, status, check_in) (filter): not indexed" in result.stdout
    # The values came from the table; the plan shows none of them.
    assert "pending" not in result.stdout and "2026-" not in result.stdout
    if dialect == "postgresql":
        # The planner's own numbers stay.
        assert "cost=" in result.stdout and "cost=?" not in result.stdout


def test_explain_of_an_unknown_fingerprint_is_a_one_line_error(monitored_url: str) -> None:
    result = run(monitored_url, "explain", "ffffffffffff")
    assert result.returncode == 1
    assert result.stderr.startswith("error:") and result.stderr.strip().count("\n") == 0


async def test_advise_proposes_then_apply_builds_the_indexes(monitored_url: str) -> None:
    shown = run(monitored_url, "advise")
    assert shown.returncode == 0, shown.stderr
    assert "adv_bookings(property_id, status" in shown.stdout
    assert "--apply" in shown.stdout
    applied = run(monitored_url, "advise", "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "built: CREATE INDEX" in applied.stdout
    engine = create_engine_for_url(monitored_url)
    try:
        async with engine.connect() as connection:
            names = {index.name for index in await existing_indexes(connection)}
    finally:
        await engine.dispose()
    assert any(name.startswith("ix_adv_bookings_property_id_status") for name in names)
    built = [line.split(" ON ")[1] for line in applied.stdout.splitlines() if "built:" in line]
    again = run(monitored_url, "advise")
    assert again.returncode == 0, again.stderr
    table = again.stdout.split("measured by")[1].split("\n\n")[0]
    for target in built:
        # "adv_bookings (a, b)" as built; "adv_bookings(a, b)" as proposed.
        assert target.replace(" (", "(") not in table
