"""Browser tests: a real uvicorn server on 127.0.0.1 and Debian's headless Chromium (Playwright).

The server runs ``critmin.api:create_app`` in a subprocess on a random port, with the bundled
starter atlas installed into a temporary ``CRITMIN_ATLAS`` and a temporary SQLite database holding
a few accounts, participants, accepted requests and a schedule. Every page opened through the
``page`` fixture fails the test on a console error, an uncaught exception or any request to a
host other than 127.0.0.1. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.web._browser import chromium, need_browser, stop

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"
USERS = {"ana": "analyst", "olga": "organiser", "alice": "participant", "bob": "participant",
         "carol": "participant"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(db_url: str) -> dict[str, int]:
    """Accounts, three participant profiles, accepted requests and a two-slot schedule."""
    from critmin import auth
    from critmin.storage import Store
    from critmin.storage.models import (
        MatchEvent,
        Meeting,
        MeetingRequest,
        Participant,
        ScheduleRun,
    )

    auth.set_password_params(time_cost=1, memory_cost=1024, parallelism=1)
    store = Store(db_url)
    store.upgrade()
    ids: dict[str, int] = {}
    with store.session() as s:
        users = {name: auth.add_user(s, name, role, PASSWORD) for name, role in USERS.items()}
        profiles = {
            "alice": ("Alice Ito", "Kanto Battery", "JPN",
                      {"roles": ["cell"], "minerals": ["lithium", "graphite"],
                       "needs": [{"mineral": "graphite", "text": "spherical graphite for anodes"}],
                       "description": "LFP cells"}, {"contact": "alice@example.org",
                                                     "volume_t": 1200}),
            "bob": ("Bob Singh", "Deccan Graphite", "IND",
                    {"roles": ["anode_graphite"], "minerals": ["graphite"],
                     "offers": [{"mineral": "graphite", "text": "spherical graphite"}],
                     "description": "anode material"}, {"contact": "bob@example.org",
                                                        "notes": "bob-private-note"}),
            "carol": ("Carol Brown", "Pilbara Lithium", "AUS",
                      {"roles": ["mining"], "minerals": ["lithium"],
                       "offers": [{"mineral": "lithium", "text": "spodumene concentrate"}]},
                      {"contact": "carol@example.org", "notes": "carol-private-note"}),
        }
        parts = {}
        for key, (name, org, iso3, public, private) in profiles.items():
            p = Participant(user_id=users[key].id, display_name=name, organisation=org,
                            country=iso3, public=public, private=private)
            s.add(p)
            parts[key] = p
        s.flush()
        reqs = [MeetingRequest(from_id=parts["alice"].id, to_id=parts["bob"].id,
                               status="accepted", session="any", message="anode graphite"),
                MeetingRequest(from_id=parts["alice"].id, to_id=parts["carol"].id,
                               status="accepted", session="any", message="spodumene"),
                MeetingRequest(from_id=parts["bob"].id, to_id=parts["carol"].id,
                               status="pending", session="any", message="hello")]
        s.add_all(reqs)
        s.flush()
        s.add(ScheduleRun(run_id="testrun", status="OPTIMAL", total_breaks=0, lower_bound=0,
                          n_tables=2, n_slots=3, n_morning_slots=3,
                          start=dt.datetime(2026, 5, 12, 9, 0), slot_minutes=20,
                          request_ids=[reqs[0].id, reqs[1].id]))
        s.add(MatchEvent(settings={"name": "Test roundtable", "date": "2026-05-12",
                                   "timezone": "Asia/Tokyo", "n_tables": 2, "slot_minutes": 20,
                                   "morning": {"start": "09:00", "slots": 3},
                                   "afternoon": {"start": "14:00", "slots": 0}},
                         published_run_id="testrun"))
        s.add(Meeting(request_id=reqs[0].id, slot=1, table_no=1, run_id="testrun"))
        s.add(Meeting(request_id=reqs[1].id, slot=2, table_no=2, run_id="testrun"))
        ids = {k: p.id for k, p in parts.items()}
    store.dispose()
    return ids


def start_server(atlas: Path, db_url: str, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A uvicorn server of ``critmin.api:create_app`` on a free port of 127.0.0.1 (waits until it
    answers); returns the process and the base URL."""
    port = _free_port()
    env = {**os.environ, "CRITMIN_ATLAS": str(atlas), "CRITMIN_DATABASE_URL": db_url,
           "PYTHONWARNINGS": "ignore"}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "critmin.api:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/api/v1", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("server did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def serving(atlas: Path, db_url: str, log_path: Path) -> Iterator[str]:
    """:func:`start_server` for the duration of a ``with`` block (yields the base URL)."""
    proc, url = start_server(atlas, db_url, log_path)
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def server(starter_atlas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a uvicorn server serving the API and the pages on 127.0.0.1."""
    need_browser()
    tmp = tmp_path_factory.mktemp("web")
    db_url = f"sqlite:///{tmp / 'critmin.db'}"
    _seed(db_url)
    proc, url = start_server(starter_atlas, db_url, tmp / "server.log")
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def browser(server: str) -> Iterator[Any]:
    """Headless Chromium (Debian's, through Playwright), shared by the session."""
    yield chromium()
    stop()


class Watch:
    """What a page did that a test must not allow: console errors, page errors, outside requests."""

    def __init__(self) -> None:
        self.console: list[str] = []
        self.errors: list[str] = []
        self.outside: list[str] = []

    def check(self) -> None:
        assert not self.outside, f"requests left 127.0.0.1: {self.outside}"
        assert not self.errors, f"uncaught page errors: {self.errors}"
        assert not self.console, f"console errors: {self.console}"


def open_page(browser: Any, server: str) -> tuple[Any, Any]:
    """A fresh browser context and page on ``server`` that records console errors, page errors
    and any request to a host other than 127.0.0.1 (aborted) in ``page.watch``."""
    watch = Watch()
    ctx = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900},
                              accept_downloads=True)

    def guard(route: Any) -> None:
        u = urlparse(route.request.url)
        if u.scheme in ("http", "https", "ws", "wss") and u.hostname != "127.0.0.1":
            watch.outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    ctx.route("**/*", guard)
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    pg.on("console", lambda m: watch.console.append(f"{m.type}: {m.text}")
          if m.type == "error" else None)
    pg.on("pageerror", lambda e: watch.errors.append(str(e)))
    pg.watch = watch
    return ctx, pg


@pytest.fixture
def page(browser: Any, server: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; the test fails on console errors, page errors and any
    request to a host other than 127.0.0.1. A screenshot is saved at the end."""
    ctx, pg = open_page(browser, server)
    try:
        yield pg
        SHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
        pg.watch.check()
    finally:
        ctx.close()


def login(page: Any, username: str, next_path: str = "/") -> None:
    """Sign in through the login form (session cookie; CSRF token rendered into the page)."""
    page.goto(f"/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"**{next_path}")
    assert page.locator("#whoami").inner_text().startswith(username)


def chart_rendered(page: Any, chart_id: str, timeout: float = 30_000) -> None:
    """Wait until Plotly has drawn the chart ``chart_id`` (its div holds a ``.main-svg``)."""
    page.wait_for_selector(f"#{chart_id} .main-svg", state="attached", timeout=timeout)
