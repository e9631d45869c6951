"""Resort schema: properties, room types, rooms, guests, bookings, activities, dining.

Primary keys, foreign keys and unique constraints only; secondary indexes come in later
revisions, each with the query that needs it.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT keys on the servers; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Money = sa.Numeric(10, 2)

# Children before parents, the order downgrade drops them in.
TABLES = (
    "bookings",
    "activity_bookings",
    "activity_sessions",
    "activities",
    "menu_items",
    "restaurants",
    "rooms",
    "room_types",
    "guests",
    "properties",
)


def _id(table: str) -> tuple[sa.Column[int], sa.PrimaryKeyConstraint]:
    return (
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    )


def _reference(
    table: str, column: str, target: str, *, ondelete: str | None = None
) -> tuple[sa.Column[int], sa.ForeignKeyConstraint]:
    return (
        sa.Column(column, BigId, nullable=False),
        sa.ForeignKeyConstraint(
            [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
        ),
    )


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.TIMESTAMP(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "properties",
        *_id("properties"),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("city", sa.String(80), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String(40), nullable=False),
        sa.Column("star_rating", sa.SmallInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("code", name="uq_properties_code"),
    )
    op.create_table(
        "guests",
        *_id("guests"),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("first_name", sa.String(80), nullable=False),
        sa.Column("last_name", sa.String(80), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        _created_at(),
        sa.UniqueConstraint("email", name="uq_guests_email"),
    )
    op.create_table(
        "room_types",
        *_id("room_types"),
        *_reference("room_types", "property_id", "properties", ondelete="CASCADE"),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("max_occupancy", sa.SmallInteger(), nullable=False),
        sa.Column("base_rate", Money, nullable=False),
        sa.UniqueConstraint("property_id", "code", name="uq_room_types_property_id_code"),
    )
    op.create_table(
        "rooms",
        *_id("rooms"),
        *_reference("rooms", "property_id", "properties", ondelete="CASCADE"),
        *_reference("rooms", "room_type_id", "room_types"),
        sa.Column("number", sa.String(10), nullable=False),
        sa.Column("floor", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.UniqueConstraint("property_id", "number", name="uq_rooms_property_id_number"),
    )
    op.create_table(
        "restaurants",
        *_id("restaurants"),
        *_reference("restaurants", "property_id", "properties", ondelete="CASCADE"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("cuisine", sa.String(60), nullable=False),
        sa.Column("opening_hours", sa.String(60), nullable=False),
        sa.UniqueConstraint("property_id", "name", name="uq_restaurants_property_id_name"),
    )
    op.create_table(
        "menu_items",
        *_id("menu_items"),
        *_reference("menu_items", "restaurant_id", "restaurants", ondelete="CASCADE"),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price", Money, nullable=False),
        sa.Column("is_available", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("restaurant_id", "name", name="uq_menu_items_restaurant_id_name"),
    )
    op.create_table(
        "activities",
        *_id("activities"),
        *_reference("activities", "property_id", "properties", ondelete="CASCADE"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("price", Money, nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=False),
    )
    op.create_table(
        "activity_sessions",
        *_id("activity_sessions"),
        *_reference("activity_sessions", "activity_id", "activities", ondelete="CASCADE"),
        sa.Column("starts_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=False),
        sa.UniqueConstraint(
            "activity_id", "starts_at", name="uq_activity_sessions_activity_id_starts_at"
        ),
    )
    op.create_table(
        "activity_bookings",
        *_id("activity_bookings"),
        *_reference("activity_bookings", "session_id", "activity_sessions", ondelete="CASCADE"),
        *_reference("activity_bookings", "guest_id", "guests"),
        sa.Column("participants", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _created_at(),
        sa.UniqueConstraint(
            "session_id", "guest_id", name="uq_activity_bookings_session_id_guest_id"
        ),
    )
    op.create_table(
        "bookings",
        *_id("bookings"),
        sa.Column("reference", sa.String(12), nullable=False),
        *_reference("bookings", "guest_id", "guests"),
        *_reference("bookings", "property_id", "properties"),
        *_reference("bookings", "room_id", "rooms"),
        sa.Column("check_in", sa.Date(), nullable=False),
        sa.Column("check_out", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("adults", sa.SmallInteger(), nullable=False),
        sa.Column("children", sa.SmallInteger(), nullable=False),
        sa.Column("total_amount", Money, nullable=False),
        _created_at(),
        sa.UniqueConstraint("reference", name="uq_bookings_reference"),
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
