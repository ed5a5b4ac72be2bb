"""Scheduler runs keep their live progress: the (seconds, best so far, bound) reports.

``progress`` is a JSON list of ``{"seconds": s, "best": total breaks or null, "bound": b}``
written while a run is RUNNING, so the organiser's page can show the best schedule found so far
and the proved lower bound before the run ends. Runs stored before this revision keep NULL.

Revision ID: 0006_run_progress
Revises: 0005_httphard
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_run_progress"
down_revision = "0005_httphard"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedule_runs") as batch:
        batch.add_column(sa.Column("progress", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule_runs") as batch:
        batch.drop_column("progress")
