"""Replication lag readings: PostgreSQL positions, MariaDB's SHOW REPLICA STATUS."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from banrimkwae.perf.db.lag import (
    LagReading,
    PrimaryPositions,
    mariadb_lag,
    parse_lsn,
    pg_lag,
    read_mariadb_lag,
)
from tests.conftest import MARIADB_ADMIN_URL, service_missing


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0/0", 0),
        ("0/3000148", 0x3000148),
        ("16/B374D848", (0x16 << 32) | 0xB374D848),
        (None, None),
    ],
)
def test_parse_lsn(text: str | None, value: int | None) -> None:
    assert parse_lsn(text) == value


def positions(*seen: tuple[int, float]) -> PrimaryPositions:
    primary = PrimaryPositions(keep_seconds=60.0)
    for lsn, now in seen:
        primary.record(lsn, now)
    return primary


@pytest.mark.parametrize(
    ("replayed", "seen", "now", "lag"),
    [
        (100, [(100, 10.0)], 12.0, 0.0),  # replayed what the primary had: current
        (150, [(100, 10.0), (200, 11.0)], 11.5, 0.5),  # behind since the 2nd check
        (50, [(100, 10.0), (200, 11.0)], 11.5, 1.5),  # behind since the 1st check
        (200, [(100, 10.0), (200, 11.0)], 30.0, 0.0),  # idle primary: no false lag
    ],
)
def test_pg_lag_counts_from_the_first_position_not_replayed(
    replayed: int, seen: list[tuple[int, float]], now: float, lag: float
) -> None:
    reading = pg_lag(True, f"0/{replayed:X}", 999.0, positions(*seen), now)
    assert reading == LagReading(lag, replayed)


def test_pg_lag_without_the_primary_uses_the_replay_age() -> None:
    assert pg_lag(True, "0/10", 3.5, positions(), 0.0).lag_seconds == 3.5
    assert math.isinf(pg_lag(True, "0/10", None, positions(), 0.0).lag_seconds or 0.0)


def test_pg_lag_of_a_promoted_server_is_a_problem() -> None:
    reading = pg_lag(False, None, None, positions((1, 0.0)), 1.0)
    assert reading.lag_seconds is None and "not a standby" in reading.problem


def test_old_positions_are_forgotten() -> None:
    primary = PrimaryPositions(keep_seconds=5.0)
    for second in range(20):
        primary.record(100 + second, float(second))
    assert primary.behind_since(0) == 13.0  # at most keep_seconds (plus one) of history


@pytest.mark.parametrize(
    ("rows", "lag", "problem"),
    [
        ([{"Connection_name": "", "Seconds_Behind_Master": 0}], 0.0, ""),
        ([{"Connection_name": "", "Seconds_Behind_Master": 7}], 7.0, ""),
        (
            [
                {"Connection_name": "a", "Seconds_Behind_Master": 2},
                {"Connection_name": "b", "Seconds_Behind_Master": 9},
            ],
            9.0,
            "",
        ),
        (
            [{"Connection_name": "", "Seconds_Behind_Master": None}],
            None,
            "replication 'default' is not running",
        ),
        ([], None, "not a replica (SHOW REPLICA STATUS is empty)"),
    ],
)
def test_mariadb_lag(rows: list[dict[str, Any]], lag: float | None, problem: str) -> None:
    reading = mariadb_lag(rows)
    assert (reading.lag_seconds, reading.problem) == (lag, problem)


async def test_mariadb_show_replica_status_on_a_real_server() -> None:
    """The server of the suite is no replica: the real statement runs and says so."""
    engine = create_async_engine(MARIADB_ADMIN_URL)
    try:
        async with engine.connect() as connection:
            reading = await read_mariadb_lag(connection)
    except OSError as exc:
        service_missing(f"mariadb at {MARIADB_ADMIN_URL}: {exc}")
        return
    finally:
        await engine.dispose()
    assert reading == LagReading(None, None, "not a replica (SHOW REPLICA STATUS is empty)")
