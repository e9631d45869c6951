"""The shard directory: which shard holds each property; ids unique across shards.

On a shard (migrated with ``config.attributes["shard"] = True``, as `banrimkwae migrate`
does for every configured shard) the bookings table loses its foreign keys: the guests,
properties and rooms they name live in the home database, where the service checks them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# (constraint, column, referred table) of the bookings' references into the home database.
BOOKING_REFERENCES = (
    ("fk_bookings_guest_id_guests", "guest_id", "guests"),
    ("fk_bookings_property_id_properties", "property_id", "properties"),
    ("fk_bookings_room_id_rooms", "room_id", "rooms"),
)


def _is_shard() -> bool:
    return bool(context.config.attributes.get("shard"))


def upgrade() -> None:
    op.create_table(
        "shard_directory",
        sa.Column("property_id", Key, autoincrement=False, nullable=False),
        sa.Column("shard", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("moved_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('active', 'moving')", name="ck_shard_directory_state"),
        sa.PrimaryKeyConstraint("property_id", name="pk_shard_directory"),
    )
    op.create_table(
        "shard_sequences",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_shard_sequences"),
    )
    if _is_shard():
        with op.batch_alter_table("bookings") as batch:
            for name, _column, _table in BOOKING_REFERENCES:
                batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    if _is_shard():
        with op.batch_alter_table("bookings") as batch:
            for name, column, table in BOOKING_REFERENCES:
                batch.create_foreign_key(name, table, [column], ["id"])
    op.drop_table("shard_sequences")
    op.drop_table("shard_directory")
