"""Response cache policies: stale windows and options on api_cache_config, default policies.

The defaults cover the resort's public reads (properties, room types, rooms, availability,
activities and sessions, restaurants and menus) and a guest's own reads under hierarchical,
user-scoped policies. The data is inline: a migration must not change when the code does.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PUBLIC = {"client_max_age": 0}
_WARM = {"client_max_age": 0, "warm_requests": [{"path": "/api/v1/properties", "query": ""}]}


def _policy(
    pattern: str,
    ttl: int,
    *,
    strategy: str = "tagged",
    warming: bool = False,
    swr: int = 30,
    sie: int = 300,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "endpoint_pattern": pattern,
        "http_methods": ["GET", "HEAD"],
        "cache_ttl_seconds": ttl,
        "cache_strategy": strategy,
        "cache_key_pattern": None,
        "invalidation_triggers": None,
        "cache_warming_enabled": warming,
        "compression_enabled": True,
        "is_active": True,
        "stale_while_revalidate_seconds": swr,
        "stale_if_error_seconds": sie,
        "cache_options": options if options is not None else _PUBLIC,
    }


# Writes invalidate through table tags at once; the TTL only bounds what no tag can see.
DEFAULT_POLICIES = [
    _policy("/api/v1/properties", 600, warming=True, options=_WARM),
    _policy("/api/v1/properties/{property_id}", 600, warming=True),
    _policy("/api/v1/properties/{property_id}/room-types", 600, warming=True),
    _policy("/api/v1/room-types/{room_type_id}", 600),
    _policy("/api/v1/properties/{property_id}/rooms", 600, warming=True),
    _policy("/api/v1/rooms/{room_id}", 600),
    _policy("/api/v1/properties/{property_id}/availability", 120, swr=0, sie=60),
    _policy("/api/v1/properties/{property_id}/activities", 600, warming=True),
    _policy("/api/v1/activities/{activity_id}", 600),
    _policy("/api/v1/activities/{activity_id}/sessions", 300, warming=True),
    _policy("/api/v1/activity-sessions/{session_id}", 300),
    _policy("/api/v1/properties/{property_id}/restaurants", 600, warming=True),
    _policy("/api/v1/restaurants/{restaurant_id}", 600),
    _policy("/api/v1/restaurants/{restaurant_id}/menu", 600, warming=True),
    _policy("/api/v1/restaurants/{restaurant_id}/menu/categories", 600),
    _policy("/api/v1/menu-items/{item_id}", 600),
    # A guest's own data: stored per guest, served only to that guest, private outward.
    _policy("/api/v1/guests/me", 120, strategy="hierarchical", swr=0, sie=0),
    _policy("/api/v1/guests/me/bookings", 120, strategy="hierarchical", swr=0, sie=0),
    _policy("/api/v1/guests/me/activity-bookings", 120, strategy="hierarchical", swr=0, sie=0),
]


def _table() -> sa.Table:
    return sa.table(
        "api_cache_config",
        sa.column("endpoint_pattern", sa.String()),
        sa.column("http_methods", sa.JSON()),
        sa.column("cache_ttl_seconds", sa.Integer()),
        # The native enum type on PostgreSQL (created by 0002), so the insert needs no cast.
        sa.column(
            "cache_strategy",
            sa.Enum("simple", "tagged", "hierarchical", name="cache_strategy", create_type=False),
        ),
        sa.column("cache_key_pattern", sa.String()),
        sa.column("invalidation_triggers", sa.JSON()),
        sa.column("cache_warming_enabled", sa.Boolean()),
        sa.column("compression_enabled", sa.Boolean()),
        sa.column("is_active", sa.Boolean()),
        sa.column("stale_while_revalidate_seconds", sa.Integer()),
        sa.column("stale_if_error_seconds", sa.Integer()),
        sa.column("cache_options", sa.JSON()),
    )


def upgrade() -> None:
    op.add_column(
        "api_cache_config",
        sa.Column(
            "stale_while_revalidate_seconds", sa.Integer(), server_default="0", nullable=False
        ),
    )
    op.add_column(
        "api_cache_config",
        sa.Column("stale_if_error_seconds", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("api_cache_config", sa.Column("cache_options", sa.JSON(), nullable=True))
    op.bulk_insert(_table(), DEFAULT_POLICIES)


def downgrade() -> None:
    table = _table()
    op.execute(
        table.delete().where(
            table.c.endpoint_pattern.in_([p["endpoint_pattern"] for p in DEFAULT_POLICIES])
        )
    )
    op.drop_column("api_cache_config", "cache_options")
    op.drop_column("api_cache_config", "stale_if_error_seconds")
    op.drop_column("api_cache_config", "stale_while_revalidate_seconds")
