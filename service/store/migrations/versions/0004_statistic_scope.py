"""statistics know their scope and the figure they break down

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statistics") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=20), nullable=False, server_default="total"))
        batch.add_column(sa.Column("part_of", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statistics") as batch:
        batch.drop_column("part_of")
        batch.drop_column("scope")
