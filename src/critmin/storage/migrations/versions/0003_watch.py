"""Watchlists and alerts: rules, their last evaluated state, alerts, delivery channels, the
delivery outbox and Atom feed tokens (:mod:`critmin.watch`).

Revision ID: 0003_watch
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_watch"
down_revision = "0002"
branch_labels = None
depends_on = None


def _user() -> sa.Column:
    return sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "watch_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column("watchlist", sa.String(80), nullable=False),
        sa.Column("country", sa.String(20), nullable=False),
        sa.Column("mineral", sa.String(60), nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("indicator", sa.String(40), nullable=False),
        sa.Column("supplier", sa.String(20), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("op", sa.String(6), nullable=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "watch_states",
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("watch_rules.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("evaluated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("watch_rules.id", ondelete="SET NULL"),
                  nullable=True, index=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("rule", sa.JSON, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("old_value", sa.Float, nullable=True),
        sa.Column("new_value", sa.Float, nullable=True),
        sa.Column("old_release", sa.JSON, nullable=False),
        sa.Column("new_release", sa.JSON, nullable=False),
        sa.Column("provenance", sa.JSON, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
        sa.Column("read_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "watch_channels",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("secret", sa.String(128), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "watch_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("channel_id", sa.Integer,
                  sa.ForeignKey("watch_channels.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("alert_id", "channel_id", name="uq_delivery"),
    )
    op.create_table(
        "watch_feed_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for name in ("watch_feed_tokens", "watch_deliveries", "watch_channels", "alerts",
                 "watch_states", "watch_rules"):
        op.drop_table(name)
