"""Sparse fieldsets: parsing, the columns SQL reads, and what a page item then holds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import AfterValidator, BaseModel
from sqlalchemy import select
from sqlalchemy.orm import load_only

from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.responses.fields import FieldSet, dump_fields, parse_fields, sparse_model
from banrimkwae.resort.properties.models import RoomType


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


class RoomTypeView(BaseModel):
    id: int
    code: str
    name: str
    base_rate: Decimal
    created_at: Annotated[dt.datetime, AfterValidator(_utc)]
    free: int


ROOM_TYPES = FieldSet(
    "room type",
    RoomTypeView,
    {
        "id": RoomType.id,
        "code": RoomType.code,
        "name": RoomType.name,
        "base_rate": RoomType.base_rate,
        # created_at and free are computed: no column behind them.
    },
)


def test_no_selection_means_every_field() -> None:
    assert parse_fields(None, ROOM_TYPES, "fields") is None


def test_a_selection_keeps_the_documented_order_and_drops_repeats() -> None:
    assert parse_fields("name,id,name", ROOM_TYPES, "fields") == ("id", "name")
    assert parse_fields(" code ", ROOM_TYPES, "fields") == ("code",)


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("id,secret", "unknown field 'secret'"),
        ("", "empty field name"),
        ("id,,name", "empty field name"),
        ("x" * 2000, "longer than"),
    ],
)
def test_bad_selections_are_400_naming_the_allowed_fields(raw: str, complaint: str) -> None:
    with pytest.raises(ProblemError) as raised:
        parse_fields(raw, ROOM_TYPES, "fields[room_type]")
    problem = raised.value
    assert problem.status == 400
    assert complaint in (problem.detail or "")
    assert "allowed fields: id, code, name, base_rate, created_at, free" in (problem.detail or "")
    assert problem.extensions["parameter"] == "fields[room_type]"
    assert problem.extensions["valid_values"] == list(RoomTypeView.model_fields)


def test_only_the_selected_columns_are_read() -> None:
    columns = ROOM_TYPES.load_columns(("name", "free"))
    assert columns == [RoomType.name]
    sql = str(select(RoomType).options(load_only(RoomType.id, *columns)))
    assert "room_types.name" in sql and "room_types.id" in sql
    assert "room_types.code" not in sql and "room_types.description" not in sql
    assert ROOM_TYPES.load_columns(None) == [
        RoomType.id,
        RoomType.code,
        RoomType.name,
        RoomType.base_rate,
    ]


def test_a_sparse_item_holds_only_the_selected_fields_written_as_the_full_model_writes_them() -> (
    None
):
    class Source:
        id = 4
        code = "FAM"
        name = "Family Room"
        base_rate = Decimal("250.50")
        created_at = dt.datetime(2026, 1, 2, 3, 4, 5)
        free = 2

    full = RoomTypeView.model_validate(Source(), from_attributes=True).model_dump(mode="json")
    sparse = sparse_model(RoomTypeView)
    assert dump_fields(sparse, Source(), ("base_rate", "created_at")) == {
        "base_rate": full["base_rate"],
        "created_at": full["created_at"],
    }
    assert dump_fields(sparse, Source(), tuple(RoomTypeView.model_fields)) == full
    # Documented with no required field: any subset is a valid item.
    assert "required" not in sparse.model_json_schema()
    assert sparse_model(RoomTypeView) is sparse
