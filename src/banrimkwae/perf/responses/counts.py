"""Totals of a list, when asked for: `count=exact|estimate|none` (default none).

A total is a second query that reads every matching row; most clients paging with cursors
never need one, so none is the default. `exact` runs COUNT(*) over the filtered list.
`estimate` asks the planner instead of reading rows:

- PostgreSQL: the root node's "Plan Rows" of `EXPLAIN (FORMAT JSON)` (statistics from the
  last ANALYZE; no row is read).
- MariaDB: `EXPLAIN FORMAT=JSON` of a one-table list: the table's `rows` times `filtered`%.
  A list over a join gets the exact count instead.
- SQLite keeps no row estimates its EXPLAIN reports, so `estimate` is answered exactly.

`meta.total_method` tells the client which one it got.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.queries.plans import explain

CountMode = Literal["exact", "estimate", "none"]
# A SELECT of any columns: the filtered list a repository hands over.
AnySelect = Select[*tuple[Any, ...]]
COUNT_MODES: tuple[CountMode, ...] = ("none", "exact", "estimate")


def parse_count(raw: str | None) -> CountMode:
    if raw is None or raw == "none":
        return "none"
    if raw == "exact":
        return "exact"
    if raw == "estimate":
        return "estimate"
    raise ProblemError(
        400,
        f"count: {raw[:40]!r} is not one of: {', '.join(COUNT_MODES)}",
        title="Invalid count",
        parameter="count",
        valid_values=list(COUNT_MODES),
    )


async def count_rows(
    session: AsyncSession, filtered: AnySelect, mode: CountMode
) -> tuple[int | None, Literal["exact", "estimate"] | None]:
    """The total of `filtered` (a SELECT with its filters, no order or limit) and its method."""
    if mode == "none":
        return None, None
    if mode == "estimate":
        estimate = await _estimate(session, filtered)
        if estimate is not None:
            return estimate, "estimate"
    counted = select(func.count()).select_from(filtered.order_by(None).subquery())
    return int(await session.scalar(counted) or 0), "exact"


async def _estimate(session: AsyncSession, filtered: AnySelect) -> int | None:
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.name not in ("postgresql", "mysql", "mariadb"):
        return None
    compiled = filtered.order_by(None).compile(
        dialect=dialect, compile_kwargs={"render_postcompile": True}
    )
    parameters: Any = (
        tuple(compiled.params[name] for name in compiled.positiontup or ())
        if compiled.positional
        else compiled.params
    )
    name = "postgresql" if dialect.name == "postgresql" else "mariadb"
    plan = await explain(connection, name, str(compiled), parameters)
    if name == "postgresql":
        return int(plan[0]["Plan"]["Plan Rows"])
    tables = _mariadb_tables(plan)
    if len(tables) != 1:
        return None
    table = tables[0]
    rows = float(table.get("rows", 0))
    filtered_percent = float(table.get("filtered", 100))
    return round(rows * filtered_percent / 100)


def _mariadb_tables(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "table" and isinstance(value, dict):
                found.append(value)
            found.extend(_mariadb_tables(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_mariadb_tables(value))
    return found


__all__ = ["COUNT_MODES", "AnySelect", "CountMode", "count_rows", "parse_count"]
