"""Execution plans: EXPLAIN per dialect, made literal-free, and the indexes they use.

PostgreSQL answers `EXPLAIN (FORMAT JSON)` and MariaDB `EXPLAIN FORMAT=JSON` (never ANALYZE:
the statement is planned, not run); SQLite answers `EXPLAIN QUERY PLAN` rows, kept as a JSON
list. Plans quote the values they were planned with, so every string in them is scrubbed of
literals before it is stored. `index_usage` reduces each plan to the same list on all three:
[{"table": "bookings", "index": None, "access": "full_scan"}, ...] where access is one of
full_scan (no index), index_scan (a whole index read in order), index (a lookup or range
through an index), covering_index (a lookup answered from the index alone) or automatic_index
(SQLite built a throwaway index for this statement: a missing index).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlglot import exp

from banrimkwae.perf.queries.fingerprint import parse_statement

EXPLAINABLE = frozenset({"SELECT", "UPDATE", "DELETE"})
_PREFIXES = {
    "postgresql": "EXPLAIN (FORMAT JSON) ",
    "mysql": "EXPLAIN FORMAT=JSON ",
    "mariadb": "EXPLAIN FORMAT=JSON ",
    "sqlite": "EXPLAIN QUERY PLAN ",
}
_LITERAL = re.compile(r"'(?:[^']|'')*'|(?<![\w$.])-?\d+(?:\.\d+)?\b")
_SQLITE_STEP = re.compile(
    r"^(?P<op>SCAN|SEARCH) (?P<table>\S+)(?: AS \S+)?"
    r"(?: USING (?P<how>AUTOMATIC (?:PARTIAL )?COVERING INDEX|AUTOMATIC (?:PARTIAL )?INDEX"
    r"|COVERING INDEX|INDEX|INTEGER PRIMARY KEY|PRIMARY KEY)(?: (?P<index>[^\s(]+))?)?"
)
# Text fields that never hold a value from the statement (MariaDB prints key lengths as text).
_PLAN_FIELDS_WITHOUT_VALUES = frozenset({"key_length"})
_PG_SKIPPED = frozenset({"ModifyTable", "Bitmap Index Scan"})


async def explain(
    connection: AsyncConnection, dialect: str, statement: str, parameters: Any
) -> Any:
    """The plan of `statement` as JSON-ready data, still carrying literal values."""
    sql = _PREFIXES[dialect] + statement
    result = await connection.exec_driver_sql(sql, parameters)
    rows: list[Any] = list(result.all())
    if dialect == "sqlite":
        return [{"id": row[0], "parent": row[1], "detail": row[3]} for row in rows]
    document = rows[0][0]
    return orjson.loads(document) if isinstance(document, str | bytes) else document


def scrub(plan: Any) -> Any:
    """`plan` with every quoted string and number inside its text values replaced by ?."""
    if isinstance(plan, dict):
        return {
            key: value if key in _PLAN_FIELDS_WITHOUT_VALUES else scrub(value)
            for key, value in plan.items()
        }
    if isinstance(plan, list):
        return [scrub(value) for value in plan]
    if isinstance(plan, str):
        return _LITERAL.sub("?", plan)
    return plan


def table_aliases(statement: str, dialect: str) -> dict[str, str]:
    """Alias (or name) -> table name in a statement: plans name tables by their alias."""
    tree = parse_statement(statement, dialect)
    aliases: dict[str, str] = {}
    if tree is not None:
        for table in tree.find_all(exp.Table):
            aliases[table.name] = table.name
            if table.alias:
                aliases[table.alias] = table.name
    return aliases


def index_usage(dialect: str, plan: Any, aliases: dict[str, str]) -> list[dict[str, Any]]:
    if dialect == "postgresql":
        usage: list[dict[str, Any]] = []
        for root in plan:
            _postgres_usage(root["Plan"], usage)
        return usage
    if dialect == "sqlite":
        return _sqlite_usage(plan, aliases)
    usage = []
    _mariadb_usage(plan, aliases, usage)
    return usage


def _usage(table: str, index: str | None, access: str) -> dict[str, Any]:
    return {"table": table, "index": index, "access": access}


def _postgres_usage(node: dict[str, Any], usage: list[dict[str, Any]]) -> None:
    kind = node.get("Node Type", "")
    relation = node.get("Relation Name")
    if relation is not None and kind not in _PG_SKIPPED:
        if kind == "Seq Scan":
            usage.append(_usage(relation, None, "full_scan"))
        elif kind in {"Index Scan", "Index Only Scan"}:
            if "Index Cond" not in node:
                access = "index_scan"
            else:
                access = "covering_index" if kind == "Index Only Scan" else "index"
            usage.append(_usage(relation, node.get("Index Name"), access))
        elif kind == "Bitmap Heap Scan":
            # The indexes are on the Bitmap Index Scan children (several under BitmapOr).
            for index in _bitmap_indexes(node):
                usage.append(_usage(relation, index, "index"))
        else:
            usage.append(_usage(relation, None, kind.lower().replace(" ", "_")))
    for child in node.get("Plans", ()):
        if kind != "Bitmap Heap Scan":
            _postgres_usage(child, usage)


def _bitmap_indexes(node: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for child in node.get("Plans", ()):
        if child.get("Node Type") == "Bitmap Index Scan":
            found.append(child.get("Index Name"))
        else:
            found.extend(_bitmap_indexes(child))
    return found


def _mariadb_usage(node: Any, aliases: dict[str, str], usage: list[dict[str, Any]]) -> None:
    if isinstance(node, list):
        for item in node:
            _mariadb_usage(item, aliases, usage)
        return
    if not isinstance(node, dict):
        return
    name = node.get("table_name")
    if isinstance(name, str) and "access_type" in node and not name.startswith("<"):
        access_type = str(node["access_type"])
        key = node.get("key")
        if access_type == "ALL":
            access = "full_scan"
        elif access_type == "index":
            access = "index_scan"
        elif key is None:
            access = access_type.lower()
        else:
            access = "covering_index" if node.get("using_index") else "index"
        usage.append(_usage(aliases.get(name, name), key, access))
    for value in node.values():
        if isinstance(value, dict | list):
            _mariadb_usage(value, aliases, usage)


def _sqlite_usage(plan: list[dict[str, Any]], aliases: dict[str, str]) -> list[dict[str, Any]]:
    usage: list[dict[str, Any]] = []
    for step in plan:
        match = _SQLITE_STEP.match(str(step["detail"]))
        if match is None:
            continue
        table = match["table"]
        if table.startswith("(") or table == "CONSTANT":
            continue
        how = match["how"] or ""
        index = match["index"]
        if how.startswith("AUTOMATIC"):
            access, index = "automatic_index", None
        elif not how:
            access = "full_scan"
        elif match["op"] == "SCAN":
            access = "index_scan"
        else:
            access = "covering_index" if how == "COVERING INDEX" else "index"
        if how.endswith("PRIMARY KEY"):
            index = "PRIMARY KEY"
        usage.append(_usage(aliases.get(table, table), index, access))
    return usage
