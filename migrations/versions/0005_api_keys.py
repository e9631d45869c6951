"""API keys of the platform's endpoints: a public key id, the key's SHA-256, a role.

The key itself is never stored. Revocation keeps the row (the audit log names it).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UnsignedBigId = (
    sa.BigInteger()
    .with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
    .with_variant(sa.Integer(), "sqlite")
)
Timestamp = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", UnsignedBigId, autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column(
            "created_at", Timestamp, server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("revoked_at", Timestamp, nullable=True),
        sa.Column("last_used_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_id", name="uk_api_keys_key_id"),
        sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="ck_api_keys_role"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
