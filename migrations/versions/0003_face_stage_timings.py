"""face stage timings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:58:36.667708
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("detector_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timings", sa.JSON(), nullable=True))
        batch_op.alter_column(
            "version",
            existing_type=sa.VARCHAR(length=32),
            type_=sa.String(length=256),
            existing_nullable=False,
        )

    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column(
            "detector_version",
            existing_type=sa.VARCHAR(length=32),
            type_=sa.String(length=128),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column(
            "detector_version",
            existing_type=sa.String(length=128),
            type_=sa.VARCHAR(length=32),
            existing_nullable=False,
        )

    with op.batch_alter_table("detector_runs", schema=None) as batch_op:
        batch_op.alter_column(
            "version",
            existing_type=sa.String(length=256),
            type_=sa.VARCHAR(length=32),
            existing_nullable=False,
        )
        batch_op.drop_column("timings")
