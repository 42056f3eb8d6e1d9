"""tags.counted: whether a tag is the finding's label in its scheme (what statistics count)

GET /statistics found each finding's effective label per scheme with a window function and a
correlated NOT EXISTS over every tag on every request: 0.9–1.1 s at 20k imported findings, 5–6 s at
100k. The rule depends only on a finding's own tags, so it is kept on the rows where tags are
written (``service.tags.mark_counted``) and counting is one aggregate over an index. Existing rows
are marked here with the same rule, in SQL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# the single-label schemes of the taxonomy when this revision was written (三个聚焦, 四个落实)
SINGLE = ("focus", "four_implementations")


def upgrade() -> None:
    with op.batch_alter_table("tags") as batch:
        batch.add_column(sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_tags_counted_scheme", "tags", ["counted", "scheme"])
    single = ", ".join(f"'{s}'" for s in SINGLE)
    op.execute(f"""
        UPDATE tags SET counted = TRUE WHERE id IN (
            SELECT id FROM (
                SELECT t.id, t.scheme, ROW_NUMBER() OVER (
                    PARTITION BY t.finding_id, t.scheme ORDER BY t.score DESC, t.id) AS rank
                FROM tags t
                WHERE t.label != '' AND (t.source = 'confirmed' OR NOT EXISTS (
                    SELECT 1 FROM tags c WHERE c.finding_id = t.finding_id AND c.scheme = t.scheme
                    AND c.source = 'confirmed'))
            ) ranked
            WHERE ranked.rank = 1 OR ranked.scheme NOT IN ({single})
        )
    """)


def downgrade() -> None:
    op.drop_index("ix_tags_counted_scheme", table_name="tags")
    with op.batch_alter_table("tags") as batch:
        batch.drop_column("counted")
