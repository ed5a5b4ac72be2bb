"""Delivery against real servers on 127.0.0.1: an SMTP server (aiosmtpd) and a webhook receiver
that checks the HMAC signature. Alerts are stored before anything is sent; a failed delivery is
kept and retried; nothing is sent twice, even by two senders at once."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from critmin.storage import Store
from critmin.storage.models import Alert, Delivery, WatchRule, utcnow
from critmin.watch import delivery, watchlists
from critmin.watch.evaluate import _Fired, _store_alert
from tests.watch.conftest import add_user


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers ``codes`` in turn (then 200) and keeps
    every request with whether its signature verified."""

    def __init__(self, secret: str = "", codes: list[int] | None = None) -> None:
        self.secret, self.codes, self.got = secret, list(codes or []), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = delivery.verify(outer.secret, self.headers[delivery.TIMESTAMP_HEADER], body,
                                     self.headers[delivery.SIGNATURE_HEADER])
                outer.got.append({"body": json.loads(body), "verified": ok,
                                  "id": self.headers[delivery.DELIVERY_HEADER]})
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def smtp() -> Iterator[tuple[str, list[Any]]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields its URL and the messages received."""
    from aiosmtpd.controller import Controller

    got: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            got.append(envelope)
            return "250 OK"

    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    c = Controller(Handler(), hostname="127.0.0.1", port=port)
    c.start()
    try:
        yield f"smtp://127.0.0.1:{port}", got
    finally:
        c.stop()


def raise_alert(store: Store, uid: int, n: int) -> int:
    """Store one alert for user ``uid`` with deliveries to every active channel, as an
    evaluation does."""
    from critmin.watch.evaluate import _channels

    with store.session() as s:
        rule = WatchRule(user_id=uid, watchlist="default", country="JPN", mineral="graphite",
                         stage="all", indicator="import_hhi", kind="change", op="up", value=0.05,
                         active=True)
        s.add(rule)
        s.flush()
        f = _Fired(rule, f"k{uid}-{n}", f"alert {n}", 0.4, 0.5, {"year": 2023}, {"year": 2024},
                   {"family": "baci"})
        aid = _store_alert(s, f, "on-demand", utcnow(), _channels(s, [uid]).get(uid, []))
        assert aid is not None
        return aid


def test_email_and_signed_webhook_reach_real_servers(store: Store, db_url: str,
                                                     smtp: tuple[str, list[Any]]) -> None:
    url, got = smtp
    uid = add_user(db_url, "ana")
    with store.session() as s:
        watchlists.add_channel(s, uid, "email", "ana@ministry.example")
        _c, secret = watchlists.add_channel(s, uid, "webhook", "http://127.0.0.1:1/never")
    rx = Receiver(secret or "")
    try:
        with store.session() as s:  # point the webhook at the receiver
            ch = watchlists.list_channels(s, uid)[1]
            ch.target = rx.url
        aid = raise_alert(store, uid, 1)
        # stored, with its pending deliveries, before anything is sent
        assert got == [] and rx.got == []
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Delivery)
                            .where(Delivery.status == "pending")) == 2
        report = delivery.deliver_due(store, smtp_url=url)
        assert len(report.sent) == 2 and not report.retrying
        assert len(got) == 1 and got[0].rcpt_tos == ["ana@ministry.example"]
        msg = message_from_bytes(got[0].content)
        assert msg["Subject"] == "[critmin] alert 1"
        assert msg["Message-ID"].startswith(f"<alert-{aid}-")
        assert "new value: 0.5" in msg.get_payload()
        assert len(rx.got) == 1 and rx.got[0]["verified"]
        assert rx.got[0]["body"]["alert"]["id"] == aid
        assert rx.got[0]["body"]["alert"]["new_release"] == {"year": 2024}
        # delivered once: a second run sends nothing
        assert delivery.deliver_due(store, smtp_url=url).sent == []
        assert len(got) == 1 and len(rx.got) == 1
    finally:
        rx.close()


def test_a_wrong_secret_does_not_verify() -> None:
    body = b'{"x": 1}'
    sig = delivery.sign("right", "1700000000", body)
    assert delivery.verify("right", "1700000000", body, sig, now=1700000010)
    assert not delivery.verify("wrong", "1700000000", body, sig, now=1700000010)
    assert not delivery.verify("right", "1700000000", body + b" ", sig, now=1700000010)
    assert not delivery.verify("right", "1700000000", body, sig, now=1700009999)  # too old


def test_failed_delivery_is_kept_and_retried(store: Store, db_url: str) -> None:
    uid = add_user(db_url, "ben")
    rx = Receiver(codes=[500, 503])
    try:
        with store.session() as s:
            _c, secret = watchlists.add_channel(s, uid, "webhook", rx.url)
        rx.secret = secret or ""
        raise_alert(store, uid, 1)
        t0 = utcnow()
        r1 = delivery.deliver_due(store, now=t0)
        assert r1.sent == [] and len(r1.retrying) == 1
        with store.session() as s:
            d = s.scalars(select(Delivery)).one()
            assert d.status == "pending" and d.attempts == 1 and "HTTP 500" in d.last_error
            assert d.next_attempt_at == t0 + dt.timedelta(minutes=1)
        # not due yet: nothing sent
        assert delivery.deliver_due(store, now=t0 + dt.timedelta(seconds=30)).retrying == []
        assert len(rx.got) == 1
        r2 = delivery.deliver_due(store, now=t0 + dt.timedelta(minutes=1))
        assert len(r2.retrying) == 1  # 503
        r3 = delivery.deliver_due(store, now=t0 + dt.timedelta(minutes=3))
        assert len(r3.sent) == 1
        assert len(rx.got) == 3 and all(g["verified"] for g in rx.got)
        assert len({g["id"] for g in rx.got}) == 1  # one delivery id across the retries
    finally:
        rx.close()


def test_exhausted_delivery_is_failed_then_retried_on_request(store: Store, db_url: str,
                                                              smtp: tuple[str, list[Any]]
                                                              ) -> None:
    url, got = smtp
    uid = add_user(db_url, "cy")
    with store.session() as s:
        watchlists.add_channel(s, uid, "email", "cy@agency.example")
    raise_alert(store, uid, 1)
    t = utcnow()
    dead = "smtp://127.0.0.1:9"  # nothing listens on the discard port
    for _ in range(delivery.MAX_ATTEMPTS):
        delivery.deliver_due(store, now=t, smtp_url=dead)
        t += dt.timedelta(days=1)
    with store.session() as s:
        d = s.scalars(select(Delivery)).one()
        assert d.status == "failed" and d.attempts == delivery.MAX_ATTEMPTS
    assert delivery.retry_failed(store) == 1
    assert len(delivery.deliver_due(store, smtp_url=url).sent) == 1
    assert len(got) == 1


def test_two_senders_at_once_send_each_alert_once(store: Store, db_url: str) -> None:
    uid = add_user(db_url, "dee")
    rx = Receiver()
    try:
        with store.session() as s:
            _c, secret = watchlists.add_channel(s, uid, "webhook", rx.url)
        rx.secret = secret or ""
        ids = [raise_alert(store, uid, n) for n in range(12)]
        reports: list[Any] = []
        threads = [threading.Thread(target=lambda: reports.append(delivery.deliver_due(store)))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(len(r.sent) for r in reports) and sum(len(r.sent) for r in reports) == 12
        assert sorted(g["body"]["alert"]["id"] for g in rx.got) == sorted(ids)
    finally:
        rx.close()


def test_the_same_alert_is_stored_once(store: Store, db_url: str) -> None:
    uid = add_user(db_url, "eve")
    raise_alert(store, uid, 1)
    from critmin.watch.evaluate import _Fired as F

    with store.session() as s:
        rule = s.scalars(select(WatchRule)).first()
        again = _store_alert(s, F(rule, f"k{uid}-1", "alert 1"), "on-demand", utcnow(), [])
    assert again is None
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 1


def test_bad_channel_targets_are_refused(store: Store, db_url: str, tmp_path: Path) -> None:
    from critmin.errors import SpecError

    uid = add_user(db_url, "fay")
    with store.session() as s:
        for kind, target, msg in (("email", "not-an-address", "email:"),
                                  ("webhook", "ftp://x.example/h", "url:"),
                                  ("sms", "+100", "kind:")):
            with pytest.raises(SpecError, match=msg):
                watchlists.add_channel(s, uid, kind, target)
    with pytest.raises(SpecError, match="CRITMIN_SMTP_URL"):
        delivery.smtp_settings("http://127.0.0.1:25")


def test_the_service_retries_due_deliveries_on_its_own(
        store: Store, db_url: str, starter_atlas: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from fastapi.testclient import TestClient

    from critmin.api import create_app

    monkeypatch.setenv("CRITMIN_WATCH_DELIVERY_INTERVAL", "0.2")
    uid = add_user(db_url, "gus")
    rx = Receiver()
    try:
        with store.session() as s:
            _c, secret = watchlists.add_channel(s, uid, "webhook", rx.url)
        rx.secret = secret or ""
        raise_alert(store, uid, 1)
        with store.session() as s:  # the first attempt failed a while ago: due again now
            d = s.scalars(select(Delivery)).one()
            d.attempts, d.next_attempt_at = 1, utcnow() - dt.timedelta(minutes=5)
        with TestClient(create_app(starter_atlas, store=store, web=False)):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with store.session() as s:
                    if s.scalars(select(Delivery)).one().status == "sent":
                        break
                time.sleep(0.2)
        with store.session() as s:
            d = s.scalars(select(Delivery)).one()
            assert (d.status, d.attempts) == ("sent", 2)
        assert len(rx.got) == 1 and rx.got[0]["verified"]
    finally:
        rx.close()


def test_two_evaluations_at_once_raise_each_alert_once(store: Store, db_url: str,
                                                       starter_atlas: Path) -> None:
    from critmin.atlas import Atlas
    from critmin.watch.evaluate import evaluate
    from critmin.watch.rules import RuleSpec

    uid = add_user(db_url, "hal")
    with Atlas(starter_atlas) as a, store.session() as s:
        for sup in ("CHN", "MSP", "EU27", "AUS"):
            watchlists.add_rule(s, uid, RuleSpec("JPN", "graphite", "import_share", "threshold",
                                                 supplier=sup, op=">=", value=0.0), a)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with Atlas(starter_atlas) as a:
                results.append(evaluate(store, a))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 4
    assert sum(len(r.alerts) for r in results) == 4  # each alert raised by one of them
