"""Scheduler runs: the event grid (tables, slots, start, slot length) and the solver's result.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total_breaks", sa.Integer, nullable=True),
        sa.Column("lower_bound", sa.Integer, nullable=True),
        sa.Column("n_tables", sa.Integer, nullable=False),
        sa.Column("n_slots", sa.Integer, nullable=False),
        sa.Column("n_morning_slots", sa.Integer, nullable=False),
        sa.Column("start", sa.DateTime, nullable=False),
        sa.Column("slot_minutes", sa.Integer, nullable=False),
        sa.Column("afternoon_start", sa.DateTime, nullable=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schedule_runs")
