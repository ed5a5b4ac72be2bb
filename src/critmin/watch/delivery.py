"""Send stored alerts: e-mail over SMTP, signed webhooks, and the Atom feed.

Delivery is **at least once, without duplicates**:

- each (alert, channel) pair has exactly one row in ``watch_deliveries`` (unique), created in
  the transaction that stored the alert;
- :func:`deliver_due` claims one due row at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
  so concurrent senders never take the same row), sends it, and marks it ``sent`` in the same
  transaction; a failure records the error and schedules a retry with exponential backoff
  (1, 2, 4, ... minutes, at most a day); after :data:`MAX_ATTEMPTS` the row is ``failed``: kept,
  listed, and retried with ``critmin watch deliver --retry-failed``;
- a crash between sending and the commit can only send again, never lose: every message carries
  a stable id for the receiver to drop repeats (e-mail ``Message-ID``, webhook
  ``X-Critmin-Delivery``).

E-mail goes through ``$CRITMIN_SMTP_URL`` (``smtp://[user:password@]host:port``; ``smtps://`` for
TLS from the start, ``?starttls=1`` to upgrade), from ``$CRITMIN_SMTP_FROM`` (default
``critmin@localhost``). Webhooks are POSTed as JSON with ``X-Critmin-Signature: sha256=<hex>``,
the HMAC-SHA256 of ``<X-Critmin-Timestamp>.<body>`` under the channel's secret
(:func:`sign`; receivers check it with :func:`verify`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree as ET

from sqlalchemy import select

from critmin.errors import SpecError
from critmin.storage.models import Alert, Delivery, User, WatchChannel, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from critmin.storage import Store

MAX_ATTEMPTS = 8
SIGNATURE_HEADER = "X-Critmin-Signature"
TIMESTAMP_HEADER = "X-Critmin-Timestamp"
DELIVERY_HEADER = "X-Critmin-Delivery"


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "retrying": self.retrying, "failed": self.failed}


def alert_payload(a: Alert) -> dict[str, Any]:
    """An alert as JSON (the API, the webhook body and the feed entry's content)."""
    return {"id": a.id, "title": a.title, "rule": a.rule, "old_value": a.old_value,
            "new_value": a.new_value, "old_release": a.old_release, "new_release": a.new_release,
            "provenance": a.provenance, "detail": a.detail, "trigger": a.trigger,
            "created_at": a.created_at.isoformat() + "Z",
            "read_at": a.read_at.isoformat() + "Z" if a.read_at else None}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``.

    >>> sign("s3cret", "1700000000", b'{"id": 1}')[:15]
    'sha256=170a2da0'
    """
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *,
           tolerance_s: int = 300, now: float | None = None) -> bool:
    """Whether ``signature`` is :func:`sign`'s for this body and the timestamp is recent."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def check_target(kind: str, target: str) -> str:
    """A channel's target, checked: an e-mail address or an http(s) URL."""
    target = target.strip()
    if kind == "email":
        local, at, domain = target.partition("@")
        if not (at and local and domain and " " not in target and len(target) <= 320):
            raise SpecError(f"email: not an e-mail address: {target!r}")
        return target
    if kind == "webhook":
        u = urlsplit(target)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise SpecError(f"url: a webhook needs an http(s) URL, got {target!r}")
        return target
    raise SpecError(f"kind: channel kind must be email or webhook, got {kind!r}")


def smtp_settings(url: str | None = None) -> dict[str, Any]:
    """Host, port, credentials and TLS mode from ``url`` or ``$CRITMIN_SMTP_URL``."""
    url = url or os.environ.get("CRITMIN_SMTP_URL")
    if not url:
        raise SpecError("CRITMIN_SMTP_URL: not set (e.g. smtp://127.0.0.1:25): e-mail alerts "
                         "cannot be sent")
    u = urlsplit(url)
    if u.scheme not in ("smtp", "smtps") or not u.hostname:
        raise SpecError(f"CRITMIN_SMTP_URL: use smtp://host:port or smtps://host:port, got "
                         f"{url!r}")
    q = parse_qs(u.query)
    return {"host": u.hostname, "port": u.port or (465 if u.scheme == "smtps" else 25),
            "ssl": u.scheme == "smtps", "starttls": q.get("starttls", ["0"])[0] in ("1", "true"),
            "user": unquote(u.username) if u.username else None,
            "password": unquote(u.password) if u.password else None}


def send_email(to: str, a: Alert, *, smtp_url: str | None = None) -> None:
    """Send alert ``a`` to ``to`` (one message; its Message-ID is the alert's)."""
    cfg = smtp_settings(smtp_url)
    msg = EmailMessage()
    msg["From"] = os.environ.get("CRITMIN_SMTP_FROM", "critmin@localhost")
    msg["To"] = to
    msg["Subject"] = f"[critmin] {a.title}"[:250]
    msg["Message-ID"] = f"<alert-{a.id}-{a.dedupe_key[:16]}@critmin>"
    p = alert_payload(a)
    lines = [a.title, "", f"rule: {a.rule.get('text', '')}",
             f"old value: {a.old_value}", f"new value: {a.new_value}",
             f"data compared: {json.dumps(a.old_release)} -> {json.dumps(a.new_release)}",
             f"provenance: {json.dumps(a.provenance)}", f"raised: {p['created_at']} "
             f"({a.trigger})"]
    msg.set_content("\n".join(lines))
    cls = smtplib.SMTP_SSL if cfg["ssl"] else smtplib.SMTP
    with cls(cfg["host"], cfg["port"], timeout=30) as smtp:
        if cfg["starttls"]:
            smtp.starttls()
        if cfg["user"]:
            smtp.login(cfg["user"], cfg["password"] or "")
        smtp.send_message(msg)


def send_webhook(url: str, secret: str, a: Alert, delivery_id: int) -> None:
    """POST alert ``a`` as JSON, signed; raises on anything but a 2xx answer."""
    import httpx

    body = json.dumps({"event": "alert", "alert": alert_payload(a)}, sort_keys=True).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: ts,
               SIGNATURE_HEADER: sign(secret, ts, body), DELIVERY_HEADER: f"alert-{a.id}",
               "User-Agent": "critmin-watch"}
    r = httpx.post(url, content=body, headers=headers, timeout=15, follow_redirects=False)
    if not 200 <= r.status_code < 300:
        raise RuntimeError(f"webhook answered HTTP {r.status_code}")


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt after ``attempts`` failures: 2^(n-1) minutes, at most a day.

    >>> [int(backoff(n).total_seconds() // 60) for n in (1, 2, 3, 12)]
    [1, 2, 4, 1440]
    """
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 1440))


def deliver_due(store: Store, *, now: dt.datetime | None = None, smtp_url: str | None = None,
                limit: int = 500) -> DeliveryReport:
    """Send every due pending delivery (at most ``limit``), one transaction each."""
    report = DeliveryReport()
    for _ in range(limit):
        with store.session() as s:
            at = now or utcnow()
            q = (select(Delivery).where(Delivery.status == "pending",
                                        Delivery.next_attempt_at <= at)
                 .order_by(Delivery.id).limit(1).with_for_update(skip_locked=True))
            d = s.scalars(q).first()
            if d is None:
                break
            _attempt(s, d, at, smtp_url, report)
    return report


def _attempt(s: Session, d: Delivery, at: dt.datetime, smtp_url: str | None,
             report: DeliveryReport) -> None:
    a = s.get(Alert, d.alert_id)
    ch = s.get(WatchChannel, d.channel_id)
    assert a is not None and ch is not None
    d.attempts += 1
    try:
        if ch.kind == "email":
            send_email(ch.target, a, smtp_url=smtp_url)
        else:
            send_webhook(ch.target, ch.secret or "", a, d.id)
    except Exception as exc:  # any failure is recorded and retried, never raised
        d.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if d.attempts >= MAX_ATTEMPTS:
            d.status = "failed"
            report.failed.append(d.id)
        else:
            d.next_attempt_at = at + backoff(d.attempts)
            report.retrying.append(d.id)
        return
    d.status, d.sent_at, d.last_error = "sent", at, None
    report.sent.append(d.id)


def retry_failed(store: Store, user_id: int | None = None) -> int:
    """Put failed deliveries back in the queue (attempts reset); returns how many."""
    with store.session() as s:
        q = select(Delivery).where(Delivery.status == "failed")
        if user_id is not None:
            q = q.join(Alert, Alert.id == Delivery.alert_id).where(Alert.user_id == user_id)
        rows = list(s.scalars(q))
        for d in rows:
            d.status, d.attempts, d.next_attempt_at = "pending", 0, utcnow()
        return len(rows)


ATOM = "http://www.w3.org/2005/Atom"


def atom_feed(user: User, alerts: list[Alert], *, base_url: str) -> bytes:
    """An Atom 1.0 feed (RFC 4287) of ``alerts``, newest first."""
    ET.register_namespace("", ATOM)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            e.text = text
        return e

    def stamp(t: dt.datetime) -> str:
        return t.replace(microsecond=0).isoformat() + "Z"

    feed = ET.Element(f"{{{ATOM}}}feed")
    el(feed, "id", f"urn:critmin:watch:user:{user.id}")
    el(feed, "title", f"critmin alerts for {user.username}")
    updated = max((a.created_at for a in alerts), default=user.created_at)
    el(feed, "updated", stamp(updated))
    el(el(feed, "author"), "name", "critmin")
    el(feed, "link", rel="alternate", href=f"{base_url}/watch")
    for a in alerts:
        e = el(feed, "entry")
        el(e, "id", f"urn:critmin:alert:{a.id}:{a.dedupe_key[:16]}")
        el(e, "title", a.title)
        el(e, "updated", stamp(a.created_at))
        el(e, "link", rel="alternate", href=f"{base_url}/watch#alert-{a.id}")
        el(e, "summary", a.rule.get("text", ""))
        el(e, "content", json.dumps(alert_payload(a), sort_keys=True), type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")
