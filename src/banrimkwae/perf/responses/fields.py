"""Sparse fieldsets: `fields=id,name` and `fields[room_type]=id,code`.

A `FieldSet` names the fields a resource can return and the mapped column behind each (None
for a computed field). The selected names become `load_only` columns, so SQL reads only
those, plus the columns the page itself needs (primary key, sort keys, the keys of included
relations), which are read but not returned unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo

from banrimkwae.perf.problems import ProblemError

MAX_FIELDS_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class FieldSet:
    """The fields of one resource, in output order, and the column that holds each."""

    resource: str
    model: type[BaseModel]
    columns: Mapping[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return _field_names(self.model)

    def describe(self, parameter: str) -> str:
        return (
            f"Comma-separated fields of each {self.resource} to return (default: all)."
            f" One or more of: {', '.join(self.names)}."
        )

    def load_columns(self, selected: Iterable[str] | None) -> list[Any]:
        """The mapped columns behind `selected` (all when None); computed fields have none."""
        names = self.names if selected is None else tuple(selected)
        return [self.columns[name] for name in names if self.columns.get(name) is not None]


@cache
def _field_names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(model.model_fields)


def fields_error(parameter: str, detail: str, allowed: Iterable[str]) -> ProblemError:
    names = list(allowed)
    return ProblemError(
        400,
        f"{parameter}: {detail}; allowed fields: {', '.join(names)}",
        title="Invalid field selection",
        parameter=parameter,
        valid_values=names,
    )


def parse_fields(raw: str | None, fieldset: FieldSet, parameter: str) -> tuple[str, ...] | None:
    """The selected names in output order, or None for all of them; 400 on anything else."""
    if raw is None:
        return None
    allowed = fieldset.names
    if len(raw) > MAX_FIELDS_LENGTH:
        raise fields_error(parameter, f"longer than {MAX_FIELDS_LENGTH} characters", allowed)
    wanted = [name.strip() for name in raw.split(",")]
    if not all(wanted):
        raise fields_error(parameter, "an empty field name", allowed)
    unknown = [name for name in wanted if name not in allowed]
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise fields_error(parameter, f"unknown field {shown}", allowed)
    chosen = set(wanted)
    return tuple(name for name in allowed if name in chosen)


@cache
def sparse_model(model: type[BaseModel]) -> type[BaseModel]:
    """`model` with every field optional: what a page item is when `fields=` picks some.

    Validators and serializers of each field stay, so a selected value is written exactly as
    the full model writes it; fields that were not selected are left out, never null.
    """
    definitions: dict[str, Any] = {
        name: (info.annotation, _optional(info)) for name, info in model.model_fields.items()
    }
    sparse: type[BaseModel] = create_model(
        f"{model.__name__}Fields",
        __config__=model.model_config,
        __doc__=f"{model.__name__}; only the fields that `fields=` asked for (default: all).",
        **definitions,
    )
    return sparse


def _optional(info: FieldInfo) -> FieldInfo:
    # A copy with a default: the field's metadata (validators, serializers) stays with it.
    return FieldInfo.merge_field_infos(info, default=None)


def dump_fields(sparse: type[BaseModel], source: Any, names: Iterable[str]) -> dict[str, Any]:
    """The JSON form of `names` read from `source` (an ORM row, a Row or a model)."""
    values = {name: getattr(source, name) for name in names}
    return sparse.model_validate(values).model_dump(mode="json", exclude_unset=True)


__all__ = [
    "MAX_FIELDS_LENGTH",
    "FieldSet",
    "dump_fields",
    "fields_error",
    "parse_fields",
    "sparse_model",
]
