"""Index candidates read from a statement's predicates, joins and orderings (with sqlglot).

Each query block (every SELECT, subqueries included, and an UPDATE or DELETE) is read on its
own: per table of the block, the columns compared for equality (`=`, `IN`, `IS NULL`), the
columns compared by range (`<`, `>`, `BETWEEN`), the join columns (`a.x = b.y` between two
tables of the block; a column of an outer block counts as a value, so correlated subqueries
are join-aware too) and the ORDER BY columns. The usual B-tree rule orders a multi-column
candidate: equality columns first, then one range (one candidate per range column, the
measurement picks) or the ordering. Join candidates lead with
the join column, so the probed side of a nested loop can seek; covering candidates add the
block's other columns of the table so the table itself need not be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from banrimkwae.perf.queries.fingerprint import parse_statement

MAX_COLUMNS = 4
MAX_RANGE_CANDIDATES = 2
# Covering candidates stay narrow: a wide index costs every write.
MAX_COVERING_COLUMNS = 5
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)


@dataclass(frozen=True, slots=True)
class Candidate:
    table: str
    columns: tuple[str, ...]
    # filter | join | order | covering: why the advisor thought of it.
    reason: str

    @property
    def target(self) -> str:
        return f"{self.table}({', '.join(self.columns)})"


@dataclass(slots=True)
class _TableUse:
    equal: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


def _add(columns: list[str], column: str) -> None:
    if column not in columns:
        columns.append(column)


def _conjuncts(condition: Any) -> list[exp.Expression]:
    if condition is None:
        return []
    if isinstance(condition, exp.Where | exp.Paren):
        return _conjuncts(condition.this)
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]


class _Block:
    """One query block: its tables by alias, and what it asks of each."""

    def __init__(self, node: exp.Expression, schema: dict[str, set[str]]) -> None:
        self.schema = schema
        self.tables: dict[str, str] = {}
        sources: list[exp.Expression] = []
        if isinstance(node, exp.Select):
            source = node.args.get("from_") or node.args.get("from")
            if source is not None:
                sources.append(source.this)
            sources.extend(join.this for join in node.args.get("joins") or ())
        elif isinstance(node, exp.Update | exp.Delete):
            sources.append(node.this)
        for source in sources:
            if isinstance(source, exp.Table) and source.name:
                self.tables[source.alias_or_name] = source.name
        self.uses: dict[str, _TableUse] = {name: _TableUse() for name in self.tables.values()}

    def table_of(self, column: exp.Column) -> str | None:
        """The block's table a column belongs to, or None (an outer block's column)."""
        if column.table:
            return self.tables.get(column.table)
        owners = {t for t in self.tables.values() if column.name in self.schema.get(t, ())}
        if len(owners) == 1:
            return owners.pop()
        if not self.schema and len(self.uses) == 1:
            return next(iter(self.uses))
        return None

    def read(self, node: exp.Expression) -> None:
        conditions = _conjuncts(node.args.get("where"))
        for join in node.args.get("joins") or ():
            conditions.extend(_conjuncts(join.args.get("on")))
        for condition in conditions:
            self._predicate(condition)
        order = node.args.get("order")
        if order is not None:
            for ordered in order.expressions:
                if isinstance(ordered.this, exp.Column):
                    owner = self.table_of(ordered.this)
                    if owner is not None:
                        _add(self.uses[owner].order, ordered.this.name)
        if not isinstance(node, exp.Select):
            return  # an UPDATE's SET columns are no reason to cover anything
        for column in node.find_all(exp.Column):
            if column.find_ancestor(exp.Select, exp.Update, exp.Delete) is node:
                owner = self.table_of(column)
                if owner is not None:
                    _add(self.uses[owner].other, column.name)

    def _predicate(self, condition: exp.Expression) -> None:
        if isinstance(condition, exp.EQ):
            left, right = condition.left, condition.right
            left_owner = self.table_of(left) if isinstance(left, exp.Column) else None
            right_owner = self.table_of(right) if isinstance(right, exp.Column) else None
            if left_owner and right_owner and left_owner != right_owner:
                _add(self.uses[left_owner].joins, left.name)
                _add(self.uses[right_owner].joins, right.name)
            elif left_owner and not right_owner:
                _add(self.uses[left_owner].equal, left.name)
            elif right_owner and not left_owner:
                _add(self.uses[right_owner].equal, right.name)
        elif isinstance(condition, exp.In | exp.Is) and isinstance(condition.this, exp.Column):
            owner = self.table_of(condition.this)
            if owner is not None:
                _add(self.uses[owner].equal, condition.this.name)
        elif isinstance(condition, _RANGE):
            sides = (condition.this, condition.args.get("expression"))
            column = next((c for c in sides if isinstance(c, exp.Column)), None)
            if isinstance(column, exp.Column):
                owner = self.table_of(column)
                if owner is not None:
                    _add(self.uses[owner].ranges, column.name)

    def candidates(self) -> list[Candidate]:
        found: list[Candidate] = []
        for table, use in self.uses.items():
            equal = use.equal[:MAX_COLUMNS]
            room = MAX_COLUMNS - len(equal)
            # One candidate per range column: which bound is selective depends on the data
            # (an overlap test `check_in < ? AND check_out > ?` is narrow on check_out only).
            ranges = use.ranges[:MAX_RANGE_CANDIDATES] if room > 0 else []
            for filtering in [(*equal, r) for r in ranges] or [tuple(equal)]:
                if not filtering:
                    continue
                found.append(Candidate(table, filtering, "filter"))
                covering = list(filtering)
                for column in use.other:
                    _add(covering, column)
                if len(filtering) < len(covering) <= MAX_COVERING_COLUMNS:
                    found.append(Candidate(table, tuple(covering), "covering"))
            if use.order and room > 0:
                ordered = tuple(equal + [c for c in use.order if c not in equal][:room])
                found.append(Candidate(table, ordered, "order"))
            for join in use.joins:
                found.append(Candidate(table, (join,), "join"))
                if equal:
                    columns = [join] + [c for c in equal if c != join]
                    found.append(Candidate(table, tuple(columns[:MAX_COLUMNS]), "join"))
        return found


def index_candidates(
    statement: str, dialect: str, schema: dict[str, set[str]] | None = None
) -> list[Candidate]:
    """The distinct candidates of a (normalised) statement, in the order they were found.

    `schema` (table -> column names) places unqualified columns in multi-table blocks.
    """
    tree = parse_statement(statement, dialect)
    if tree is None:
        return []
    blocks: list[exp.Expression] = list(tree.find_all(exp.Select))
    if isinstance(tree, exp.Update | exp.Delete):
        blocks.insert(0, tree)
    found: dict[tuple[str, tuple[str, ...]], Candidate] = {}
    for node in blocks:
        block = _Block(node, schema or {})
        block.read(node)
        for candidate in block.candidates():
            if candidate.columns:
                found.setdefault((candidate.table, candidate.columns), candidate)
    return list(found.values())
