"""Operational data: accounts, matchmaking participants, profiles, requests, meetings, registry edits
and the audit log (SQLAlchemy 2 declarative models).

The tables are created by the Alembic migrations in ``critmin/storage/migrations`` (never by
``metadata.create_all`` in production); a test checks that the migrations and these models agree.
Times are stored as naive UTC timestamps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Roles, most privileged first. ``admin`` and ``organiser`` see and schedule everything (``admin``
#: also manages accounts); ``analyst`` runs scenarios and edits the registry; ``participant`` takes
#: part in matchmaking. Anonymous callers have no account.
ROLES = ("admin", "organiser", "analyst", "participant")


def utcnow() -> dt.datetime:
    """Now, UTC, naive (the storage convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    """A bearer token for scripts; only its SHA-256 is stored (the token is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class WebSession(Base):
    """A browser session: cookie value hashed at rest, with its synchronizer CSRF token."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LoginAttempt(Base):
    """One login attempt (for rate limiting failures per username and client address)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Participant(Base):
    """A matchmaking participant with its profile: ``public`` fields everyone signed in may read,
    ``private`` fields only the participant and organisers may read."""

    __tablename__ = "participants"
    __table_args__ = (Index("ix_participants_ref", "ref", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                unique=True)
    ref: Mapped[str | None] = mapped_column(String(80))
    display_name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str | None] = mapped_column(String(3))
    public: Mapped[dict[str, Any]] = mapped_column(default=dict)
    private: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class MeetingRequest(Base):
    """A request by one participant to meet another: pending, accepted, declined or cancelled."""

    __tablename__ = "meeting_requests"
    __table_args__ = (UniqueConstraint("from_id", "to_id", name="uq_request_pair"),
                      Index("ix_meeting_requests_pair", "pair_key", unique=True))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"),
                                         index=True)
    to_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"),
                                       index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    session: Mapped[str] = mapped_column(String(10), default="any")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    #: ``"{min id}-{max id}"``: unique, so A->B and B->A cannot both exist (even in a race)
    pair_key: Mapped[str | None] = mapped_column(String(40))
    fixed_slot: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Meeting(Base):
    """A meeting of a scheduler run (the published run and the latest are kept): slot and
    table, 1-based."""

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("run_id", "request_id",
                                       name="uq_meetings_new_run_id_request_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("meeting_requests.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer)
    table_no: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RegistryEdit(Base):
    """A cooperation-registry edit made through the service (add, edit or remove one record).

    ``prev_id`` is the id of the edit it was validated against (0: none); it is unique, so only
    one edit can follow a given registry state (NULL for edits stored before revision 0005_httphard)."""

    __tablename__ = "registry_edits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prev_id: Mapped[int | None] = mapped_column(Integer, unique=True, index=True)
    table_name: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(10))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    """Every write: who (user id and name, or the CLI), what, on which target, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class ScheduleRun(Base):
    """One run of the meeting scheduler by an organiser: the event's grid and the result."""

    __tablename__ = "schedule_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    total_breaks: Mapped[int | None] = mapped_column(Integer)
    lower_bound: Mapped[int | None] = mapped_column(Integer)
    n_tables: Mapped[int] = mapped_column(Integer)
    n_slots: Mapped[int] = mapped_column(Integer)
    n_morning_slots: Mapped[int] = mapped_column(Integer)
    start: Mapped[dt.datetime] = mapped_column(DateTime)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    afternoon_start: Mapped[dt.datetime | None] = mapped_column(DateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    #: the accepted request ids the run scheduled, in meeting order (meeting m = the m-th)
    request_ids: Mapped[list[int] | None] = mapped_column(JSON)
    #: INFEASIBLE reasons and advice, or the error of a failed run
    reasons: Mapped[list[str] | None] = mapped_column(JSON)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: live progress while RUNNING: ``[{"seconds", "best", "bound"}, ...]`` (best may be null)
    progress: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class WatchRule(Base):
    """One rule of a user's watchlist (:mod:`critmin.watch`): a threshold or change on an
    indicator of (country or group, mineral, stage), or an event on a watched mineral."""

    __tablename__ = "watch_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    watchlist: Mapped[str] = mapped_column(String(80), default="default")
    country: Mapped[str] = mapped_column(String(20))
    mineral: Mapped[str] = mapped_column(String(60))
    stage: Mapped[str] = mapped_column(String(10), default="all")
    indicator: Mapped[str] = mapped_column(String(40))
    supplier: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    op: Mapped[str | None] = mapped_column(String(6))
    value: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WatchState(Base):
    """What a rule saw at its last evaluation: the value, the data it came from (year and
    source files) and, for event rules, the records seen (id -> fingerprint)."""

    __tablename__ = "watch_states"

    rule_id: Mapped[int] = mapped_column(ForeignKey("watch_rules.id", ondelete="CASCADE"),
                                         primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evaluated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    """An alert raised by a rule, stored before any notification is sent. ``dedupe_key`` is
    unique: the same rule on the same data never raises two alerts."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("watch_rules.id", ondelete="SET NULL"),
                                                index=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    title: Mapped[str] = mapped_column(String(300))
    old_value: Mapped[float | None] = mapped_column(Float)
    new_value: Mapped[float | None] = mapped_column(Float)
    old_release: Mapped[dict[str, Any]] = mapped_column(default=dict)
    new_release: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    trigger: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class WatchChannel(Base):
    """Where a user's alerts are sent besides the inbox: an e-mail address or a webhook URL
    (with its HMAC secret)."""

    __tablename__ = "watch_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Delivery(Base):
    """One alert to one channel: ``pending`` (with the next attempt time), ``sent`` or ``failed``
    (attempts exhausted; kept, and retried on request)."""

    __tablename__ = "watch_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel_id", name="uq_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("watch_channels.id", ondelete="CASCADE"),
                                            index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class FeedToken(Base):
    """A read-only token for a user's Atom feed of alerts (only its SHA-256 is stored)."""

    __tablename__ = "watch_feed_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MatchEvent(Base):
    """The roundtable's settings (an :class:`~critmin.matchmaking.event.Event` without
    participants and requests, as JSON) and the published scheduler run."""

    __tablename__ = "match_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_run_id: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class SigninLink(Base):
    """A one-time sign-in link for a participant account (only the token's hash is stored)."""

    __tablename__ = "signin_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
