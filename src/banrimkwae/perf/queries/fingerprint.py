"""Statement fingerprints: one identity per query shape, whatever its literal values.

A statement is parsed with sqlglot in its own dialect; literals and bound parameters become
placeholders, lists of them (IN, ARRAY, multi-row VALUES) collapse to one, and the tree is
printed back with normalised whitespace and keyword case. The sha256 of that text is the
fingerprint. Parsing costs far more than running a small query, so results are cached by the
exact statement text (SQLAlchemy renders the same text for every execution of a query shape),
with a second cache keyed by the text with its literals stripped, so statements that differ
only by inline literals or by the length of an expanded IN-list parse once per shape.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

OTHER = "OTHER"
_TYPES: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Select, "SELECT"),
    (exp.SetOperation, "SELECT"),
    (exp.Insert, "INSERT"),
    (exp.Update, "UPDATE"),
    (exp.Delete, "DELETE"),
)
# SQLAlchemy dialect names to sqlglot's.
_SQLGLOT_DIALECTS = {
    "sqlite": "sqlite",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b")
_PARAMETER = re.compile(r"\$\d+|%s|\?")
# After masking: lists of bare values (`?` or asyncpg's `?::TYPE`) in IN (...) and VALUES.
_MASKED = r"\?(?:::\w+)?"
_MASKED_ROWS = re.compile(
    rf"\b(VALUES |IN \()\(({_MASKED}(?:, ?{_MASKED})*)\)(?:, ?\(\2\))+", re.IGNORECASE
)
_MASKED_IN = re.compile(rf"\bIN \({_MASKED}(?:, ?{_MASKED})+\)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_FIRST_WORD = re.compile(r"\s*(\w+)")
_VALUES = (exp.Literal, exp.Parameter, exp.Placeholder, exp.Boolean)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    hash: str
    query_type: str
    tables: tuple[str, ...]
    text: str


def _is_bare_value(node: exp.Expression) -> bool:
    if isinstance(node, exp.Placeholder):
        return True
    return isinstance(node, exp.Tuple) and all(_is_bare_value(e) for e in node.expressions)


def _to_placeholder(node: exp.Expression) -> exp.Expression:
    if isinstance(node, _VALUES):
        return exp.Placeholder()
    # `$1::INTEGER` (asyncpg) and `-5` are one value each.
    if isinstance(node, exp.Cast | exp.Neg) and isinstance(node.this, _VALUES):
        return exp.Placeholder()
    return node


def _collapse_lists(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.In | exp.Array | exp.Values):
        values = node.expressions
        if len(values) > 1 and all(_is_bare_value(v) for v in values):
            first = values[0]
            if all(v == first for v in values):
                node.set("expressions", [first])
            elif isinstance(node, exp.In | exp.Array):
                node.set("expressions", [exp.Placeholder()])
    return node


def _statement_type(tree: exp.Expression) -> str:
    for cls, name in _TYPES:
        if isinstance(tree, cls):
            return name
    return OTHER


def _tables(tree: exp.Expression) -> tuple[str, ...]:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    names = {table.name for table in tree.find_all(exp.Table) if table.name}
    return tuple(sorted(names - ctes))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _fallback(shape: str) -> Fingerprint:
    # Statements sqlglot cannot read (PRAGMA variants, RELEASE SAVEPOINT ...): the shape key
    # is already literal-free, and such statements are never counted as a query type.
    first = _FIRST_WORD.match(shape)
    word = first.group(1).upper() if first else ""
    query_type = word if word in {"SELECT", "INSERT", "UPDATE", "DELETE"} else OTHER
    return Fingerprint(_digest(shape), query_type, (), shape)


def sqlglot_dialect(dialect: str) -> str:
    """sqlglot's name for a SQLAlchemy dialect name."""
    return _SQLGLOT_DIALECTS.get(dialect, dialect)


def shape_key(statement: str) -> str:
    """The statement with literals, parameters and their lists masked, whitespace collapsed."""
    masked = _STRING.sub("?", statement)
    masked = _PARAMETER.sub("?", masked)
    masked = _NUMBER.sub("?", masked)
    masked = _SPACE.sub(" ", masked).strip()
    masked = _MASKED_IN.sub("IN (?)", masked)
    return _MASKED_ROWS.sub(r"\1(\2)", masked)


def parse_statement(statement: str, dialect: str) -> exp.Expression | None:
    """The syntax tree of `statement` as the driver received it, or None if unreadable."""
    read = sqlglot_dialect(dialect)
    if read == "mysql":
        # The MySQL drivers' `format` paramstyle: %s is a parameter and %% a literal percent.
        statement = statement.replace("%%", "\x00").replace("%s", "?").replace("\x00", "%")
    try:
        tree = sqlglot.parse_one(statement, read=read)
    except SqlglotError:
        return None
    if not isinstance(tree, exp.Expression) or isinstance(tree, exp.Command):
        return None
    return tree


def normalise(statement: str, dialect: str) -> Fingerprint:
    """Parse `statement` (as the driver received it) and fingerprint its shape."""
    tree = parse_statement(statement, dialect)
    if tree is None:
        return _fallback(shape_key(statement))
    tree = tree.transform(_to_placeholder).transform(_collapse_lists)
    text = tree.sql(dialect=sqlglot_dialect(dialect))
    return Fingerprint(_digest(text), _statement_type(tree), _tables(tree), text)


class Fingerprinter:
    """Cached `normalise`: a dictionary lookup per execution once a shape has been seen."""

    def __init__(self, max_statements: int = 4096, max_shapes: int = 2048) -> None:
        self._max_shapes = max_shapes
        self._shapes: dict[tuple[str, str], Fingerprint] = {}
        self.parses = 0
        self.of: Callable[[str, str], Fingerprint] = lru_cache(maxsize=max_statements)(
            self._uncached
        )

    def _uncached(self, statement: str, dialect: str) -> Fingerprint:
        key = (dialect, shape_key(statement))
        found = self._shapes.get(key)
        if found is None:
            self.parses += 1
            found = normalise(statement, dialect)
            if len(self._shapes) >= self._max_shapes:
                # Crude but bounded: shapes are re-learnt at one parse each.
                self._shapes.clear()
            self._shapes[key] = found
        return found
