"""Rules, states and events in the database.

A state changes only by compare-and-set on its `revision`: every worker evaluates, but a
transition is recorded (and its event written and notified) by the one worker whose update
matched, so a firing is announced once however many workers run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from banrimkwae.perf.alerts.evaluation import INITIAL, AlertState
from banrimkwae.perf.alerts.rules import Rule
from banrimkwae.perf.storage import AlertEvent, AlertRule
from banrimkwae.perf.storage import AlertState as AlertStateRow

_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class StoredState:
    state: AlertState
    # None: no row yet (the rule was never evaluated).
    revision: int | None


def rule_from_row(row: Mapping[str, Any]) -> Rule:
    return Rule(
        id=int(row["id"]),
        name=str(row["name"]),
        metric=str(row["metric"]),
        comparison=row["comparison"],
        threshold=float(row["threshold"]),
        resolve_threshold=(
            float(row["resolve_threshold"]) if row["resolve_threshold"] is not None else None
        ),
        window_seconds=int(row["window_seconds"]),
        for_seconds=int(row["for_seconds"]),
        endpoint=row["endpoint"],
        severity=row["severity"],
        description=row["description"],
        enabled=bool(row["is_enabled"]),
    )


async def load_rules(
    connection: AsyncConnection | AsyncSession, *, enabled_only: bool = False
) -> list[Rule]:
    table = AlertRule.__table__
    query = select(table).order_by(table.c.id)
    if enabled_only:
        query = query.where(table.c.is_enabled.is_(True))
    rows = await connection.execute(query)
    return [rule_from_row(dict(row)) for row in rows.mappings()]


async def load_states(connection: AsyncConnection | AsyncSession) -> dict[int, StoredState]:
    table = AlertStateRow.__table__
    rows = await connection.execute(select(table))
    return {
        int(row["rule_id"]): StoredState(
            AlertState(row["status"], _epoch(row["since"]), row["value"]), int(row["revision"])
        )
        for row in rows.mappings()
    }


def stored_or_initial(states: Mapping[int, StoredState], rule_id: int) -> StoredState:
    return states.get(rule_id, StoredState(INITIAL, None))


async def save_state(
    connection: AsyncConnection, rule_id: int, previous: StoredState, state: AlertState, now: float
) -> bool:
    """Store `state` if nobody changed the rule's state since `previous` was read."""
    values = {
        "status": state.status,
        "since": _utc(state.since),
        "value": state.value,
        "evaluated_at": _utc(now),
    }
    table = AlertStateRow.__table__
    if previous.revision is None:
        try:
            async with connection.begin_nested():
                await connection.execute(
                    insert(AlertStateRow).values(rule_id=rule_id, revision=1, **values)
                )
        except IntegrityError:
            return False  # another worker stored the first state
        return True
    result = cast(
        CursorResult[Any],
        await connection.execute(
            update(AlertStateRow)
            .where(table.c.rule_id == rule_id, table.c.revision == previous.revision)
            .values(revision=previous.revision + 1, **values)
        ),
    )
    return result.rowcount == 1


async def add_event(
    connection: AsyncConnection, rule: Rule, state: AlertState, *, delivery: str
) -> int:
    result = await connection.execute(
        insert(AlertEvent).values(
            rule_id=rule.id,
            rule_name=rule.name,
            status=state.status,
            severity=rule.severity,
            metric=rule.metric,
            endpoint=rule.endpoint,
            value=state.value,
            threshold=rule.threshold if state.status == "firing" else rule.clear_threshold,
            occurred_at=_utc(state.since),
            delivery=delivery,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def record_delivery(
    engine: AsyncEngine, event_id: int, *, delivered: bool, attempts: int, error: str | None
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(AlertEvent)
            .where(AlertEvent.__table__.c.id == event_id)
            .values(
                delivery="delivered" if delivered else "failed",
                delivery_attempts=attempts,
                delivery_error=error[:_ERROR_LENGTH] if error else None,
            )
        )


def _utc(epoch: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch, dt.UTC) if epoch is not None else None


def _epoch(moment: dt.datetime | None) -> float | None:
    if moment is None:
        return None
    # SQLite and MariaDB hand back naive datetimes; the platform writes UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()
