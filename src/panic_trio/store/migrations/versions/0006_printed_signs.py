"""Printed signs: how a network's QR is shown, and the lasting link's generation.

- ``networks.qr_mode``: ``screen`` (a one-hour terminal link, refreshed, shown
  on a screen) or ``printed`` (a lasting link that mints one when scanned);
- ``networks.sign_generation``: bumped to rotate or revoke the lasting link.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "networks", sa.Column("qr_mode", sa.String(16), nullable=False, server_default="screen")
    )
    op.add_column(
        "networks", sa.Column("sign_generation", sa.Integer, nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("sign_generation")
        batch.drop_column("qr_mode")
