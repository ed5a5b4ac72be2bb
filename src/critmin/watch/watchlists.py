"""A user's watchlists, inbox, delivery channels and feed token (the operations the CLI, the
API and the web page share)."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from critmin.errors import SpecError
from critmin.storage.models import (
    Alert,
    Delivery,
    FeedToken,
    User,
    WatchChannel,
    WatchRule,
    utcnow,
)
from critmin.watch.rules import RuleSpec, validate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from critmin.atlas import Atlas


def choices(atlas: Atlas) -> dict[str, set[str]]:
    """Known countries, groups and minerals of ``atlas`` (what a rule may name)."""
    return {"countries": set(atlas.table("countries").iso3.to_pandas()),
            "groups": set(atlas.table("groups").group_id.to_pandas()),
            "minerals": set(atlas.table("minerals").mineral.to_pandas())}


def user_by_name(s: Session, username: str) -> User:
    u = s.scalars(select(User).where(User.username == username)).first()
    if u is None:
        raise SpecError(f"user: no user {username!r} (add one with 'critmin user add')")
    return u


def rule_dict(r: WatchRule) -> dict[str, Any]:
    from critmin.watch.evaluate import spec_of

    return {"id": r.id, **spec_of(r).to_dict(), "text": spec_of(r).describe(),
            "active": r.active, "created_at": r.created_at.isoformat() + "Z"}


def add_rule(s: Session, user_id: int, spec: RuleSpec, atlas: Atlas,
             known: dict[str, set[str]] | None = None) -> WatchRule:
    """Validate ``spec`` against ``atlas`` (or its :func:`choices`, when already read) and store
    it for ``user_id``."""
    spec = validate(spec, **(known or choices(atlas)))
    r = WatchRule(user_id=user_id, watchlist=spec.watchlist, country=spec.country,
                  mineral=spec.mineral, stage=spec.stage, indicator=spec.indicator,
                  supplier=spec.supplier, kind=spec.kind, op=spec.op, value=spec.value,
                  active=True, created_at=utcnow())
    s.add(r)
    s.flush()
    return r


def list_rules(s: Session, user_id: int) -> list[WatchRule]:
    return list(s.scalars(select(WatchRule).where(WatchRule.user_id == user_id)
                          .order_by(WatchRule.watchlist, WatchRule.id)))


def remove_rule(s: Session, user_id: int, rule_id: int) -> None:
    """Delete one of the user's rules (its alerts stay, with the rule recorded in them)."""
    r = s.get(WatchRule, rule_id)
    if r is None or r.user_id != user_id:
        raise SpecError(f"rule: no rule {rule_id} in your watchlists")
    s.delete(r)


def list_alerts(s: Session, user_id: int, *, unread: bool = False, limit: int = 200
                ) -> list[Alert]:
    q = select(Alert).where(Alert.user_id == user_id)
    if unread:
        q = q.where(Alert.read_at.is_(None))
    return list(s.scalars(q.order_by(Alert.id.desc()).limit(limit)))


def mark_read(s: Session, user_id: int, alert_id: int) -> None:
    a = s.get(Alert, alert_id)
    if a is None or a.user_id != user_id:
        raise SpecError(f"alert: no alert {alert_id} in your inbox")
    a.read_at = a.read_at or utcnow()


def deliveries(s: Session, user_id: int) -> list[dict[str, Any]]:
    """The user's deliveries with their channel and state (newest first)."""
    q = (select(Delivery, WatchChannel).join(WatchChannel, WatchChannel.id == Delivery.channel_id)
         .where(WatchChannel.user_id == user_id).order_by(Delivery.id.desc()).limit(500))
    return [{"id": d.id, "alert_id": d.alert_id, "channel": f"{c.kind}:{c.target}",
             "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
             "sent_at": d.sent_at.isoformat() + "Z" if d.sent_at else None}
            for d, c in s.execute(q)]


def add_channel(s: Session, user_id: int, kind: str, target: str) -> tuple[WatchChannel, str | None]:
    """Add an e-mail or webhook channel; a webhook gets a new signing secret (returned once)."""
    from critmin.watch.delivery import check_target

    target = check_target(kind, target)
    secret = secrets.token_hex(32) if kind == "webhook" else None
    c = WatchChannel(user_id=user_id, kind=kind, target=target, secret=secret, active=True,
                     created_at=utcnow())
    s.add(c)
    s.flush()
    return c, secret


def list_channels(s: Session, user_id: int) -> list[WatchChannel]:
    return list(s.scalars(select(WatchChannel).where(WatchChannel.user_id == user_id)
                          .order_by(WatchChannel.id)))


def remove_channel(s: Session, user_id: int, channel_id: int) -> None:
    c = s.get(WatchChannel, channel_id)
    if c is None or c.user_id != user_id:
        raise SpecError(f"channel: no channel {channel_id} of yours")
    s.delete(c)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_feed_token(s: Session, user_id: int) -> str:
    """A new Atom-feed token for the user (replacing the old one); shown once."""
    for t in s.scalars(select(FeedToken).where(FeedToken.user_id == user_id)):
        s.delete(t)
    token = "cmf_" + secrets.token_urlsafe(32)
    s.add(FeedToken(user_id=user_id, token_hash=_hash(token), created_at=utcnow()))
    return token


def feed_user(s: Session, token: str) -> User | None:
    """The active user whose feed token is ``token``."""
    t = s.scalars(select(FeedToken).where(FeedToken.token_hash == _hash(token))).first()
    if t is None:
        return None
    u = s.get(User, t.user_id)
    return u if u is not None and u.active else None
