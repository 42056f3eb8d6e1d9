"""finding representations: one stored vector and concept list per finding and model

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finding_representations",
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("concepts", sa.JSON(), nullable=False),
        sa.Column("thesaurus", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("finding_id", "model"),
    )
    op.create_index("ix_finding_representations_model", "finding_representations", ["model"])


def downgrade() -> None:
    op.drop_index("ix_finding_representations_model", table_name="finding_representations")
    op.drop_table("finding_representations")
