"""Auto-scaling: the policy a service runs and its per-instance capacity, a manual pin (a
count held until a time), and the controller's leader lease (one controller per service
across processes and hosts).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "auto_scaling_config",
        sa.Column("policy", sa.String(20), server_default="slo", nullable=False),
    )
    # slo: per-instance capacity in req/s (0: estimated from the observed rate and CPU).
    op.add_column(
        "auto_scaling_config",
        sa.Column("capacity_rps", sa.Numeric(10, 2), server_default="0", nullable=False),
    )
    op.add_column("auto_scaling_config", sa.Column("pinned_instances", sa.Integer(), nullable=True))
    op.add_column(
        "auto_scaling_config", sa.Column("pinned_until", sa.TIMESTAMP(timezone=True), nullable=True)
    )
    op.add_column("auto_scaling_config", sa.Column("leader_id", sa.String(100), nullable=True))
    op.add_column(
        "auto_scaling_config", sa.Column("leader_until", sa.TIMESTAMP(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("auto_scaling_config") as batch:
        batch.drop_column("leader_until")
        batch.drop_column("leader_id")
        batch.drop_column("pinned_until")
        batch.drop_column("pinned_instances")
        batch.drop_column("capacity_rps")
        batch.drop_column("policy")
