"""Roundtable: the event's settings and published run, participant references, one request per
pair (either direction), fixed slots, the request set of each run, one-time sign-in links; the
meetings of several runs side by side (unique per run and request, no longer per request).

Revision ID: 0004_roundtable
Revises: 0003_watch
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_roundtable"
down_revision = "0003_watch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("published_run_id", sa.String(40), nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "signin_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime, nullable=True),
    )
    with op.batch_alter_table("participants") as b:
        b.add_column(sa.Column("ref", sa.String(80), nullable=True))
    op.create_index("ix_participants_ref", "participants", ["ref"], unique=True)
    with op.batch_alter_table("meeting_requests") as b:
        b.add_column(sa.Column("pair_key", sa.String(40), nullable=True))
        b.add_column(sa.Column("fixed_slot", sa.Integer, nullable=True))
    # one key per unordered pair; an older duplicate pair (A->B and B->A) keeps the key on the
    # first request only
    conn = op.get_bind()
    seen: set[str] = set()
    for rid, a, b in conn.execute(sa.text(
            "SELECT id, from_id, to_id FROM meeting_requests ORDER BY id")).all():
        key = f"{min(a, b)}-{max(a, b)}"
        if key not in seen:
            seen.add(key)
            conn.execute(sa.text("UPDATE meeting_requests SET pair_key = :k WHERE id = :i"),
                         {"k": key, "i": rid})
    op.create_index("ix_meeting_requests_pair", "meeting_requests", ["pair_key"], unique=True)
    _meetings_table("meetings_new", unique=("run_id", "request_id"))
    op.execute("INSERT INTO meetings_new (id, request_id, slot, table_no, run_id, created_at) "
               "SELECT id, request_id, slot, table_no, run_id, created_at FROM meetings")
    op.drop_table("meetings")
    op.rename_table("meetings_new", "meetings")
    with op.batch_alter_table("schedule_runs") as b:
        b.add_column(sa.Column("request_ids", sa.JSON, nullable=True))
        b.add_column(sa.Column("reasons", sa.JSON, nullable=True))
        b.add_column(sa.Column("finished_at", sa.DateTime, nullable=True))


def _meetings_table(name: str, unique: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Integer,
                  sa.ForeignKey("meeting_requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("table_no", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint(*unique, name=f"uq_{name}_{'_'.join(unique)}"),
    )


def downgrade() -> None:
    with op.batch_alter_table("schedule_runs") as b:
        b.drop_column("finished_at")
        b.drop_column("reasons")
        b.drop_column("request_ids")
    _meetings_table("meetings_old", unique=("request_id",))
    op.execute("INSERT INTO meetings_old (id, request_id, slot, table_no, run_id, created_at) "
               "SELECT id, request_id, slot, table_no, run_id, created_at FROM meetings m "
               "WHERE id = (SELECT MAX(id) FROM meetings x WHERE x.request_id = m.request_id)")
    op.drop_table("meetings")
    op.rename_table("meetings_old", "meetings")
    op.drop_index("ix_meeting_requests_pair", "meeting_requests")
    with op.batch_alter_table("meeting_requests") as b:
        b.drop_column("fixed_slot")
        b.drop_column("pair_key")
    op.drop_index("ix_participants_ref", "participants")
    with op.batch_alter_table("participants") as b:
        b.drop_column("ref")
    op.drop_table("signin_links")
    op.drop_table("match_events")
