"""`include=room_type,room.property`: related resources loaded one query per relation.

Relationships stay `lazy="raise"`; an include turns one into a `selectinload`, which reads
the related rows of the whole page with one `IN (...)` query, whatever the page size. The
included resource answers its own sparse fieldset, `fields[<path>]=`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.responses.fields import FieldSet

MAX_INCLUDE_DEPTH = 2
MAX_INCLUDE_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Relation:
    """A relationship a list may include, the fields of its target, and its own relations."""

    attribute: Any
    fields: FieldSet
    nested: Mapping[str, Relation] = field(default_factory=dict)

    @property
    def many(self) -> bool:
        return bool(self.attribute.property.uselist)

    def parent_columns(self) -> list[Any]:
        """Columns of the parent the loader needs: its side of the join."""
        return [_attribute_of(self.attribute.parent, column) for column in _local(self)]

    def child_columns(self) -> list[Any]:
        """Columns of the target the loader needs: its primary key and its side of the join."""
        mapper = self.attribute.property.mapper
        columns = [*mapper.primary_key, *self.attribute.property.remote_side]
        return _unique(_attribute_of(mapper, column) for column in columns)


def _local(relation: Relation) -> Iterable[Any]:
    columns: Iterable[Any] = relation.attribute.property.local_columns
    return columns


def _attribute_of(mapper: Any, column: Any) -> Any:
    return getattr(mapper.class_, mapper.get_property_by_column(column).key)


def relation_paths(relations: Mapping[str, Relation], prefix: str = "") -> dict[str, Relation]:
    """Every includable path ("room", "room.room_type") with its relation, depth-first."""
    paths: dict[str, Relation] = {}
    for name, relation in relations.items():
        path = f"{prefix}{name}"
        paths[path] = relation
        paths.update(relation_paths(relation.nested, f"{path}."))
    return paths


def include_error(detail: str, allowed: Iterable[str]) -> ProblemError:
    names = list(allowed)
    return ProblemError(
        400,
        f"include: {detail}; allowed: {', '.join(names) if names else 'nothing on this list'}",
        title="Invalid include",
        parameter="include",
        valid_values=names,
    )


def parse_include(raw: str | None, relations: Mapping[str, Relation]) -> tuple[str, ...]:
    """The included paths, each parent before its children; 400 on anything not allowed."""
    if raw is None:
        return ()
    allowed = relation_paths(relations)
    if len(raw) > MAX_INCLUDE_LENGTH:
        raise include_error(f"longer than {MAX_INCLUDE_LENGTH} characters", allowed)
    wanted = [path.strip() for path in raw.split(",")]
    if not all(wanted):
        raise include_error("an empty name", allowed)
    for path in wanted:
        if path.count(".") >= MAX_INCLUDE_DEPTH:
            raise include_error(
                f"{path[:60]!r} is nested deeper than {MAX_INCLUDE_DEPTH} levels", allowed
            )
        if path not in allowed:
            raise include_error(f"unknown relation {path[:60]!r}", allowed)
    chosen = set(wanted)
    # A nested path brings its parents: room.room_type is reached through room.
    for path in wanted:
        parts = path.split(".")
        chosen.update(".".join(parts[:depth]) for depth in range(1, len(parts)))
    return tuple(path for path in allowed if path in chosen)


def loader_options(
    included: Iterable[str],
    relations: Mapping[str, Relation],
    selected: Mapping[str, tuple[str, ...] | None],
) -> list[_AbstractLoad]:
    """One selectinload per included path, each loading only its selected columns."""
    paths = relation_paths(relations)
    chosen = list(included)
    options: list[_AbstractLoad] = []
    for path in chosen:
        parts = path.split(".")
        loader: Any = None
        for depth in range(1, len(parts) + 1):
            relation = paths[".".join(parts[:depth])]
            loader = (
                selectinload(relation.attribute)
                if loader is None
                else loader.selectinload(relation.attribute)
            )
        relation = paths[path]
        columns = relation.fields.load_columns(selected.get(path))
        columns += relation.child_columns()
        # Children included under this path need this level's side of their join.
        for child in chosen:
            if child.startswith(f"{path}.") and child.count(".") == path.count(".") + 1:
                columns += paths[child].parent_columns()
        options.append(loader.load_only(*_unique(columns)))
    return options


def _unique(columns: Iterable[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for column in columns:
        seen.setdefault(column.key, column)
    return list(seen.values())


__all__ = [
    "MAX_INCLUDE_DEPTH",
    "Relation",
    "include_error",
    "loader_options",
    "parse_include",
    "relation_paths",
]
