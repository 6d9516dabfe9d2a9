"""indexes for the TUI's sorts and place evidence

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 11:10:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_photos_city"), ["city"], unique=False)
        batch_op.create_index(batch_op.f("ix_photos_lat"), ["lat"], unique=False)
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_persons_photo_count"), ["photo_count"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_photo_count"))
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photos_lat"))
        batch_op.drop_index(batch_op.f("ix_photos_city"))
