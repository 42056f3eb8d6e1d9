"""accounts hardening: user ids never reused, temporary passwords, normalised names, the shared rate
windows (login throttle, aggregated refusals) and the audit hash chain

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 20:00:00
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _recreate_users_with_autoincrement() -> None:
    """SQLite reuses the largest rowid of a deleted row unless the table is AUTOINCREMENT, which only a
    new table can be. Dropping ``users`` with foreign keys on would cascade into ``credentials`` (the
    implicit DELETE of DROP TABLE runs ON DELETE actions), so the credentials are kept aside and put
    back; the whole step is one transaction either way."""
    op.execute("CREATE TEMPORARY TABLE _credentials_keep AS SELECT * FROM credentials")
    op.execute("DELETE FROM credentials")
    with op.batch_alter_table("users", recreate="always", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("INSERT INTO credentials SELECT * FROM _credentials_keep")
    op.execute("DROP TABLE _credentials_keep")


def _normalise_names() -> None:
    """Names are stored NFKC-normalised and case-folded from now on; an existing name is rewritten
    when that does not collide with another (a collision keeps its stored spelling, still found)."""
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, name FROM users")).all()
    taken = {name for _, name in rows}
    for user_id, name in rows:
        normal = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
        if normal != name and normal not in taken:
            connection.execute(sa.text("UPDATE users SET name = :n WHERE id = :i"), {"n": normal, "i": user_id})
            taken.discard(name)
            taken.add(normal)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate_users_with_autoincrement()
    else:  # a PostgreSQL sequence never hands out a number twice
        op.add_column("users", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
    _normalise_names()
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=True),
        sa.Column("last_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO audit_chain (id, last_id, last_hash) VALUES (1, NULL, NULL)")
    op.create_table(
        "rate_windows",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("previous", sa.Integer(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
    op.drop_table("audit_chain")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
