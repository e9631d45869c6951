"""Verified changes: what a recommendation applied and how it was checked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "performance_recommendations"
Timestamp = sa.TIMESTAMP(timezone=True)


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("applied_change", sa.JSON(), nullable=True),
        sa.Column("applied_at", Timestamp, nullable=True),
        sa.Column("verify_after", Timestamp, nullable=True),
        sa.Column("before_value", sa.Numeric(15, 3), nullable=True),
        sa.Column("after_value", sa.Numeric(15, 3), nullable=True),
        sa.Column("verification", sa.String(20), nullable=True),
        sa.Column("verification_note", sa.Text(), nullable=True),
        sa.Column("rolled_back_at", Timestamp, nullable=True),
    ]


def upgrade() -> None:
    for column in _columns():
        op.add_column(TABLE, column)
    # The verifier's question: which applied changes are due.
    op.create_index("idx_recommendations_verify_after", TABLE, ["verify_after"])


def downgrade() -> None:
    op.drop_index("idx_recommendations_verify_after", table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
