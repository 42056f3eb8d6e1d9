"""findings.statement: the problem statement (S001 within its document) a finding was split from

The splitter stores one finding per item of a list (存在A、B、C等问题), which search and common issues
need; the report's statements (a run of one sentence's items that share a focus, ``nlp.statements``)
are what `xuncha analyze` shows and what an office's 问题清单 records per row. Keeping the statement's
id on each item lets the library show and count either. Rows written before this revision keep NULL
(each is a statement of its own).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("statement", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("statement")
