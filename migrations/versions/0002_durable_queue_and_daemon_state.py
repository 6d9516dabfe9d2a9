"""durable queue and daemon state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:14:15.873375
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "daemon_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_daemon_state")),
    )
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("orphaned_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=16), server_default="new", nullable=False))
        batch_op.add_column(sa.Column("worker", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "uq_jobs_queued_path", ["path"], unique=True, sqlite_where=sa.text("state = 'queued'")
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("uq_jobs_queued_path", sqlite_where=sa.text("state = 'queued'"))
        batch_op.drop_column("finished_at")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("worker")
        batch_op.drop_column("reason")

    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_column("orphaned_at")

    op.drop_table("daemon_state")
