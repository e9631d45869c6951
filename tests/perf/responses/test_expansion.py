"""Includes: parsing with nested paths and a depth cap, and one selectinload per relation."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import selectinload

from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.responses.expansion import (
    Relation,
    loader_options,
    parse_include,
    relation_paths,
)
from banrimkwae.perf.responses.fields import FieldSet
from banrimkwae.resort.bookings.models import Booking
from banrimkwae.resort.properties.models import Property, Room, RoomType
from banrimkwae.resort.properties.schemas import PROPERTY_FIELDS, ROOM_FIELDS, ROOM_TYPE_FIELDS

RELATIONS = {
    "property": Relation(Booking.property, PROPERTY_FIELDS),
    "room": Relation(
        Booking.room,
        ROOM_FIELDS,
        {
            "room_type": Relation(
                Room.room_type,
                ROOM_TYPE_FIELDS,
                {"property": Relation(RoomType.property, PROPERTY_FIELDS)},
            )
        },
    ),
}


def test_paths_are_listed_depth_first() -> None:
    assert list(relation_paths(RELATIONS)) == [
        "property",
        "room",
        "room.room_type",
        "room.room_type.property",
    ]


def test_a_nested_include_brings_its_parents() -> None:
    assert parse_include("room.room_type", RELATIONS) == ("room", "room.room_type")
    assert parse_include("property, room", RELATIONS) == ("property", "room")
    assert parse_include(None, RELATIONS) == ()


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("guest", "unknown relation 'guest'"),
        ("room.guest", "unknown relation 'room.guest'"),
        ("room.room_type.property", "deeper than 2 levels"),
        ("", "an empty name"),
        ("room,", "an empty name"),
        ("r" * 600, "longer than"),
    ],
)
def test_bad_includes_are_400_naming_what_is_allowed(raw: str, complaint: str) -> None:
    with pytest.raises(ProblemError) as raised:
        parse_include(raw, RELATIONS)
    problem = raised.value
    assert problem.status == 400
    assert complaint in (problem.detail or "")
    assert "allowed: property, room, room.room_type" in (problem.detail or "")
    assert problem.extensions["parameter"] == "include"


def test_a_list_without_relations_says_so() -> None:
    with pytest.raises(ProblemError) as raised:
        parse_include("room", {})
    assert "nothing on this list" in (raised.value.detail or "")


def test_each_included_path_is_one_selectinload_reading_its_selected_columns() -> None:
    options = loader_options(
        ("room", "room.room_type"),
        RELATIONS,
        {"room": ("number",), "room.room_type": ("code",)},
    )
    assert len(options) == 2
    # Compare with what SQLAlchemy builds by hand for the same request.
    by_hand = selectinload(Booking.room).load_only(Room.number, Room.id, Room.room_type_id)
    assert [str(path) for path in options[0].path] == [str(path) for path in by_hand.path]


def test_relation_columns_are_the_join_keys() -> None:
    room = RELATIONS["room"]
    assert [column.key for column in room.parent_columns()] == ["room_id"]
    assert [column.key for column in room.child_columns()] == ["id"]
    many = Relation(Property.room_types, ROOM_TYPE_FIELDS)
    assert many.many
    assert [column.key for column in many.parent_columns()] == ["id"]
    assert [column.key for column in many.child_columns()] == ["id", "property_id"]
    assert isinstance(many.fields, FieldSet)
