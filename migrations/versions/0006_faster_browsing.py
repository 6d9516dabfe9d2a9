"""indexes the TUI bench asked for: a photo's brands, the alerts inbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 11:50:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_findings_photo_id_kind_label"), ["photo_id", "kind", "label"], unique=False
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_state_created_at_id"), ["state", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_state_created_at_id"))
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_photo_id_kind_label"))
