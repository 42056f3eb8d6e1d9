"""common_issue_results: the last common-issue computation per selection, stored compact

Each server process clustered the whole library on its first POST /clusters (2.2 s at 20k findings,
48 s at 100k) and kept the result in memory only: every worker, every node and every restart paid it
again. The result (clusters and recurrences naming findings by id) is stored once per selection and
read back in a fraction of that (``service.cluster_store``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "common_issue_results",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.Float(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )


def downgrade() -> None:
    op.drop_table("common_issue_results")
