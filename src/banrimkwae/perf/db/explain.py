"""A normalised statement made runnable again, then planned, costed and timed.

Monitoring stores statements with every value replaced by a placeholder (the text is a
fingerprint, never guest data). To plan one, each placeholder gets a real value taken from
the table itself: the value, in one row of the table, of the column it is compared with
(`col = ?`, `col IN (?)`, `col < ?`, `col BETWEEN ? AND ?`), so a pair of range bounds
(`check_in < ? AND check_out > ?`) comes from one row and describes a real stay. Two rows
are sampled: the row halfway through the table (its history) and the newest row by primary
key (what the application works on now: this week's bookings, not last year's). The two
bounds of an overlap test are alike selective for the middle row; for the newest they are
not, and which index serves the present is what matters. LIMIT gets 20, OFFSET 0, and any
other placeholder NULL. This is the same statement on all three dialects; PostgreSQL's
generic plans (PREPARE with forced generic planning) would plan without values but cannot
run, and the advisor wants the measured time as well.

PostgreSQL reports the planner's total cost; MariaDB (10.x) and SQLite report none, so the
time to run the statement (median of a few runs, rows fetched) is the measure there. An
UPDATE or DELETE is timed as the SELECT of the rows it would change: it is never run.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlglot import exp

from banrimkwae.perf.queries.fingerprint import parse_statement, sqlglot_dialect
from banrimkwae.perf.queries.plans import explain, index_usage, table_aliases

TIMED_RUNS = 5
# A statement slower than this is timed once: the advisor must finish.
SLOW_RUN_SECONDS = 1.0
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between)


@dataclass(slots=True)
class Measurement:
    # The planner's total cost (PostgreSQL), else None.
    cost: float | None
    # Median wall time of the statement, or None when it was only planned.
    median_ms: float | None
    usage: list[dict[str, Any]]
    plan: Any

    def uses_index(self, table: str, name_part: str) -> bool:
        if any(
            entry.get("table") == table and name_part in str(entry.get("index") or "")
            for entry in self.usage
        ):
            return True
        # PostgreSQL: also an index read inside a subplan (under a Bitmap Heap Scan, say),
        # which the usage summary does not descend into.
        return any(name_part in name for name in _index_names(self.plan))


def _index_names(plan: Any) -> list[str]:
    if isinstance(plan, list):
        return [name for item in plan for name in _index_names(item)]
    if isinstance(plan, dict):
        found = [str(plan["Index Name"])] if "Index Name" in plan else []
        for value in plan.values():
            if isinstance(value, dict | list):
                found.extend(_index_names(value))
        return found
    return []


class ValueSampler:
    """Values of columns taken from their own tables, cached for one advisor run.

    One row per table, so that every value a statement gets from one table comes from the
    same row: the row halfway through the table, or with `newest` the row with the highest
    primary key (`keys`: table -> primary-key columns; a table without one gives its last row).
    """

    def __init__(
        self,
        connection: AsyncConnection,
        schema: dict[str, set[str]],
        *,
        newest: bool = False,
        keys: dict[str, list[str]] | None = None,
    ) -> None:
        self.connection = connection
        self.schema = schema
        self.newest = newest
        self.keys = keys or {}
        self._rows: dict[str, dict[str, Any]] = {}

    async def value(self, table: str, column: str) -> Any:
        if table not in self._rows:
            result = await self.connection.exec_driver_sql(await self._row_query(table))
            row = result.mappings().first()
            self._rows[table] = dict(row) if row is not None else {}
        return self._rows[table].get(column)

    async def _row_query(self, table: str) -> str:
        key = self.keys.get(table)
        if self.newest and key:
            return f"SELECT * FROM {table} ORDER BY {', '.join(f'{c} DESC' for c in key)} LIMIT 1"
        result = await self.connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}")
        count = int(result.scalar_one())
        offset = max(count - 1, 0) if self.newest else count // 2
        return f"SELECT * FROM {table} LIMIT 1 OFFSET {offset}"


def _literal(value: Any, dialect: str) -> exp.Expression:
    if value is None or isinstance(value, bytes):
        return exp.Null()
    if isinstance(value, bool):
        return (
            exp.Literal.number(int(value)) if dialect != "postgresql" else exp.Boolean(this=value)
        )
    if isinstance(value, int | float | Decimal):
        return exp.Literal.number(value)
    if isinstance(value, dt.datetime):
        if dialect in {"mysql", "mariadb"}:
            value = value.replace(tzinfo=None)
        return exp.Literal.string(value.isoformat(sep=" "))
    if isinstance(value, dt.date):
        return exp.Literal.string(value.isoformat())
    return exp.Literal.string(str(value))


def _compared_column(placeholder: exp.Expression) -> exp.Column | None:
    node: Any = placeholder.parent
    # IN (?) keeps its values in a list; a Paren or Cast may wrap the value.
    while isinstance(node, exp.Paren | exp.Cast | exp.Tuple):
        node = node.parent
    if isinstance(node, _COMPARISONS):
        for side in (node.this, node.args.get("expression")):
            if isinstance(side, exp.Column):
                return side
    return None


async def representative(
    statement: str, dialect: str, sampler: ValueSampler
) -> tuple[str, str] | None:
    """(runnable statement, the SELECT that times it), or None if it cannot be read."""
    tree = parse_statement(statement, dialect)
    if tree is None:
        return None
    aliases = table_aliases(statement, dialect)
    tables = set(aliases.values())
    for placeholder in list(tree.find_all(exp.Placeholder, exp.Parameter)):
        parent = placeholder.parent
        replacement: exp.Expression
        if isinstance(parent, exp.Limit | exp.Fetch):
            replacement = exp.Literal.number(20)
        elif isinstance(parent, exp.Offset):
            replacement = exp.Literal.number(0)
        else:
            column = _compared_column(placeholder)
            table = _owner(column, aliases, tables, sampler.schema) if column else None
            value = await sampler.value(table, column.name) if table and column else None
            replacement = _literal(value, dialect)
        placeholder.replace(replacement)
    write = sqlglot_dialect(dialect)
    runnable = tree.sql(dialect=write)
    if isinstance(tree, exp.Update | exp.Delete):
        selecting = exp.select("*").from_(tree.this.copy())
        where = tree.args.get("where")
        if where is not None:
            selecting = selecting.where(where.this.copy())
        return runnable, selecting.sql(dialect=write)
    return runnable, runnable


def _owner(
    column: exp.Column, aliases: dict[str, str], tables: set[str], schema: dict[str, set[str]]
) -> str | None:
    if column.table:
        return aliases.get(column.table)
    owners = sorted(t for t in tables if column.name in schema.get(t, ()))
    return owners[0] if owners else None


async def measure(
    connection: AsyncConnection, dialect: str, statement: str, timed: str | None
) -> Measurement:
    """Plan `statement` and, given `timed`, run that SELECT a few times."""
    plan = await explain(connection, dialect, statement, ())
    usage = index_usage(dialect, plan, table_aliases(statement, dialect))
    cost = float(plan[0]["Plan"]["Total Cost"]) if dialect == "postgresql" else None
    median_ms = None
    if timed is not None:
        runs: list[float] = []
        for _ in range(TIMED_RUNS):
            started = time.perf_counter()
            result = await connection.exec_driver_sql(timed, ())
            result.all()
            runs.append((time.perf_counter() - started) * 1000)
            if runs[-1] > SLOW_RUN_SECONDS * 1000:
                break
        median_ms = statistics.median(runs)
    return Measurement(cost, median_ms, usage, plan)


def combined(measurements: list[Measurement]) -> Measurement:
    """One statement measured with several rows' values: the mean cost and time per run; the
    plans together (an index counts as used if any of them reads through it)."""
    if len(measurements) == 1:
        return measurements[0]
    costs = [m.cost for m in measurements]
    times = [m.median_ms for m in measurements]
    return Measurement(
        cost=None if None in costs else statistics.fmean(c for c in costs if c is not None),
        median_ms=None if None in times else statistics.fmean(t for t in times if t is not None),
        usage=[entry for m in measurements for entry in m.usage],
        plan=[m.plan for m in measurements],
    )


async def plan_lines(connection: AsyncConnection, dialect: str, statement: str) -> list[str]:
    """The plan as a person reads it (EXPLAIN's text form; never run)."""
    if dialect == "postgresql":
        result = await connection.exec_driver_sql("EXPLAIN " + statement, ())
        return [str(row[0]) for row in result.all()]
    if dialect == "sqlite":
        result = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, ())
        return [str(tuple(row)[3]) for row in result.all()]
    result = await connection.exec_driver_sql("EXPLAIN " + statement, ())
    names = list(result.keys())
    return [
        " ".join(f"{name}={value}" for name, value in zip(names, row, strict=True) if value)
        for row in result.all()
    ]
