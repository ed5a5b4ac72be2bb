"""The whole roundtable in headless Chromium on the 75-organisation example event: the organiser
imports it (accounts and one-time sign-in links, exported as CSV), participants sign in with their
links, edit a profile, request and accept a meeting; the organiser schedules, publishes and exports
every agenda; a participant downloads its agenda. No console error, no request off 127.0.0.1."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORD, SHOTS, login, open_page, start_server, stop_server

EVENT = Path(__file__).resolve().parents[2] / "examples" / "roundtable" / "event.json"


def _fresh_server(starter_atlas: Path, tmp: Path) -> Iterator[str]:
    """A server on an empty database with one organiser account."""
    from critmin import auth
    from critmin.storage import Store

    url = f"sqlite:///{tmp / 'ops.db'}"
    auth.set_password_params(time_cost=1, memory_cost=1024, parallelism=1)
    store = Store(url)
    store.upgrade()
    with store.session() as s:
        auth.add_user(s, "olga", "organiser", PASSWORD)
    store.dispose()
    proc, base = start_server(starter_atlas, url, tmp / "server.log")
    try:
        yield base
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def fresh_server(starter_atlas: Path, tmp_path_factory: pytest.TempPathFactory,
                 browser: Any) -> Iterator[str]:
    yield from _fresh_server(starter_atlas, tmp_path_factory.mktemp("flow"))


@pytest.fixture
def progress_server(starter_atlas: Path, tmp_path: Path, browser: Any) -> Iterator[str]:
    yield from _fresh_server(starter_atlas, tmp_path)


@pytest.mark.slow
def test_roundtable_flow_in_the_browser(browser: Any, fresh_server: str, tmp_path: Path) -> None:
    pages = []

    def opened() -> Any:
        ctx, pg = open_page(browser, fresh_server)
        pg.set_default_timeout(120_000)  # a loaded CI machine, not a speed test
        pages.append((ctx, pg))
        return pg

    try:
        org = opened()
        login(org, "olga", "/roundtable/organise")
        # import the 75 organisations: accounts and one-time links, exported as CSV
        org.set_input_files("#import-file", str(EVENT))
        org.click("#import-button")
        org.wait_for_selector("#links-table")
        assert org.locator("#links-table tbody tr").count() == 75
        with org.expect_download() as dl:
            org.click("#links-csv")
        rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
        assert len(rows) == 75 and all("/signin/" in r["signin_url"] for r in rows)
        link = {r["ref"]: r["signin_url"] for r in rows}
        name = {r["ref"]: r["name"] for r in rows}

        # participant A signs in with its link, edits its profile, requests its top match
        a = opened()
        a.goto(link["ind-01"])
        a.click("#signin-button")
        a.wait_for_url("**/roundtable/me")
        a.fill("#f-offers", "lithium / exploration : pegmatite prospects, drill data rooms")
        a.click("#save-profile")
        a.wait_for_selector("#profile-result #message.ok")
        a.goto("/roundtable/recommendations")
        first = a.locator("#recommendations tbody tr").first
        target_name = first.locator("td a").first.inner_text()
        assert first.locator("ul.reasons li").count() >= 1
        first.locator("button.request").click()
        a.wait_for_selector("#recommendations #message.ok")
        target = next(ref for ref, n in name.items() if n == target_name)

        # participant B accepts with one click
        b = opened()
        b.goto(link[target])
        b.click("#signin-button")
        b.wait_for_url("**/roundtable/me")
        b.goto("/roundtable/requests")
        b.click("button.accept")
        b.locator("#requests td.status", has_text="accepted").wait_for()  # no eval under CSP

        # the organiser sees demand, runs the scheduler, publishes and exports every agenda
        org.goto("/roundtable/organise")
        assert "nobody requested this participant" in org.locator("#demand").inner_text()
        org.fill("input[name=time_limit_s]", "60")
        org.click("#run-button")
        org.wait_for_selector("#run-result", timeout=120_000)
        assert org.locator("#run-result .run-status").inner_text() == "OPTIMAL"
        org.click("#publish")
        org.wait_for_selector("#publish-result #message.ok")
        org.goto("/roundtable/organise")
        with org.expect_download() as dl:
            org.click("#agendas-zip")
        z = zipfile.ZipFile(dl.value.path())
        assert len([n for n in z.namelist() if n.startswith("ics/")]) == 75
        org.goto("/roundtable/schedule")
        assert org.locator("#schedule-grid thead th").count() == 21  # slot + 20 tables
        assert target_name in org.locator("#schedule-grid").inner_text()

        # participant A reads and downloads its agenda
        a.goto("/roundtable/agenda")
        assert target_name in a.locator("#agenda").inner_text()
        with a.expect_download() as dl:
            a.click("#dl-ics")
        ics = Path(dl.value.path()).read_bytes().decode()
        assert "BEGIN:VTIMEZONE\r\nTZID:Asia/Kolkata" in ics and target_name[:20] in ics
        for _ctx, pg in pages:
            SHOTS.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(SHOTS / f"roundtable-flow-{pages.index((_ctx, pg))}.png"),
                          full_page=True)
            pg.watch.check()
    finally:
        for ctx, _pg in pages:
            ctx.close()


@pytest.mark.slow
def test_run_progress_in_the_browser(browser: Any, progress_server: str, tmp_path: Path) -> None:
    """The organiser's run area shows the best schedule so far and the proved bound while a run
    that takes several seconds is running, then its result."""
    from tests.api.test_match_progress import hard_event

    path = tmp_path / "hard-event.json"
    path.write_text(hard_event().model_dump_json(by_alias=True), encoding="utf-8")
    ctx, org = open_page(browser, progress_server)
    try:
        org.set_default_timeout(120_000)
        login(org, "olga", "/roundtable/organise")
        org.set_input_files("#import-file", str(path))
        org.click("#import-button")
        org.wait_for_selector("#links-table")
        org.goto("/roundtable/organise")
        org.fill("input[name=time_limit_s]", "8")
        org.click("#run-button")
        org.wait_for_selector("#progress-best")  # polled while the run is pending
        assert org.locator("#run-result").count() == 0
        best = int(org.locator("#progress-best").inner_text())
        bound = int(org.locator("#progress-bound").inner_text())
        assert 0 <= bound <= best
        assert org.locator("#progress-log tbody tr").count() >= 1
        org.wait_for_selector("#run-result")
        assert org.locator("#run-result .run-status").inner_text() in ("FEASIBLE", "OPTIMAL")
        SHOTS.mkdir(parents=True, exist_ok=True)
        org.screenshot(path=str(SHOTS / "roundtable-run-progress.png"), full_page=True)
        org.watch.check()
    finally:
        ctx.close()
