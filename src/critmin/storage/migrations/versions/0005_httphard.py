"""Registry edits form one chain: each edit names the edit it was validated against.

``prev_id`` is the id of the last stored edit when the new edit was checked (0 for the first).
A unique index on it lets exactly one writer append to a given registry state; a concurrent
writer that validated against the same state fails the insert and re-validates (see
:mod:`critmin.api.coop`). Edits stored before this revision keep ``prev_id`` NULL (NULLs never
collide in a unique index, on SQLite and PostgreSQL alike).

Revision ID: 0005_httphard
Revises: 0004_roundtable
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_httphard"
down_revision = "0004_roundtable"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_edits") as batch:
        batch.add_column(sa.Column("prev_id", sa.Integer, nullable=True))
    op.create_index("ix_registry_edits_prev_id", "registry_edits", ["prev_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_registry_edits_prev_id", table_name="registry_edits")
    with op.batch_alter_table("registry_edits") as batch:
        batch.drop_column("prev_id")
