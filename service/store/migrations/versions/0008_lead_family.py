"""finding_representations.lead_family: the concept family a finding leads with, stored at ingest

Clustering placed each finding by matching the thesaurus over its text again on every recomputation
(5–6 s of 10 at 20k findings); the family depends on the text and the thesaurus alone, so it is stored
beside the concepts. Rows written before this revision keep NULL and are filled when the library is
next read (``service.representations.load_library``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("finding_representations") as batch:
        batch.add_column(sa.Column("lead_family", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("finding_representations") as batch:
        batch.drop_column("lead_family")
