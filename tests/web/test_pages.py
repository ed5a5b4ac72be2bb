"""Each dashboard page in headless Chromium against a real server (see conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import chart_rendered, login

#: browser flows against a live server: the slow tier
pytestmark = pytest.mark.slow


def test_home_charts_and_search(page: Any) -> None:
    page.goto("/")
    chart_rendered(page, "chart-concentration")
    chart_rendered(page, "chart-risk")
    assert page.locator("#chart-concentration .bars path").count() > 0
    page.fill("#q", "coba")
    page.wait_for_selector("#search-hits a[href='/minerals/cobalt']")
    page.fill("#q", "japan")
    page.wait_for_selector("#search-hits a[href='/countries/JPN']")


def test_mineral_page(page: Any) -> None:
    page.goto("/minerals/cobalt")
    for chart in ("chart-map", "chart-conc", "chart-exporters", "chart-sankey"):
        chart_rendered(page, chart)
    # the choropleth drew countries from the bundled topology (served by the app, not a CDN)
    page.wait_for_selector("#chart-map path.choroplethlocation", state="attached")
    assert page.locator("#chart-map path.choroplethlocation").count() >= 5
    assert page.locator("#chart-sankey .sankey-node").count() > 2
    assert "COD" in page.locator("#producers").inner_text()
    assert page.locator("#n-minus-1 tbody tr").count() >= 1


def test_unknown_mineral_is_404(page: Any) -> None:
    resp = page.goto("/minerals/unobtainium")
    assert resp is not None and resp.status == 404
    assert "unknown mineral" in page.locator("#error").inner_text()
    page.watch.console.clear()  # the browser logs the 404 of the page itself


def test_country_page(page: Any) -> None:
    page.goto("/countries/JPN")
    chart_rendered(page, "chart-matrix")
    chart_rendered(page, "chart-suppliers")
    assert page.locator("#chart-matrix .scatterlayer .point").count() >= 3
    assert page.locator("#risk-table tbody tr").count() >= 10
    assert page.locator("#coverage tbody tr").count() >= 1
    assert "Partner coverage" in page.content()


def test_scenario_form_shows_results(page: Any) -> None:
    page.goto("/scenarios")
    page.click("#run-scenario")  # anonymous: told to sign in, nothing computed
    page.wait_for_selector("#scenario-result .note")
    login(page, "ana", "/scenarios")
    page.fill("input[name=exporter]", "CHN")
    page.select_option("select[name=mineral]", "graphite")
    page.select_option("select[name=base_year]", "2023")
    page.fill("input[name=cut_percent]", "100")
    page.click("#run-scenario")
    page.wait_for_selector("#scenario-summary", timeout=60_000)
    chart_rendered(page, "chart-scenario")
    summary = page.locator("#scenario-summary").inner_text()
    assert "graphite" in summary and "optimal" in summary
    assert page.locator("#scenario-importers tbody tr").count() >= 5


def test_cooperation_page_and_whatif(page: Any) -> None:
    page.goto("/cooperation")
    chart_rendered(page, "chart-projects")
    page.wait_for_selector("#chart-projects path.choroplethlocation", state="attached")
    assert "MSP" in page.locator("#frameworks").inner_text()
    assert page.locator("#projects tbody tr").count() >= 10
    page.select_option("select[name=project]", ["MP-MOUNTAIN-PASS"])
    page.click("#run-whatif")
    page.wait_for_selector("#whatif-table")
    assert "hhi" in page.locator("#whatif-table").inner_text().lower()


def test_participant_sees_own_agenda_and_only_own_private_fields(page: Any) -> None:
    page.goto("/roundtable/agenda")
    assert "/login?next=" in page.url  # anonymous callers are sent to sign in
    login(page, "alice", "/roundtable/agenda")
    rows = page.locator("#agenda tbody tr")
    assert rows.count() == 2
    text = page.locator("#agenda").inner_text()
    assert "Bob Singh" in text and "Carol Brown" in text and "09:00" in text
    page.goto("/roundtable")
    profiles = page.locator("#profiles").inner_text()
    assert "alice@example.org" in profiles  # her own private field
    assert "bob-private-note" not in profiles and "carol-private-note" not in profiles
    assert "spherical graphite" in profiles  # others' public fields
    page.goto("/roundtable/requests")
    assert page.locator("#requests tbody tr").count() == 2  # not bob -> carol
    resp = page.goto("/roundtable/schedule")
    assert resp is not None and resp.status == 403
    page.watch.console.clear()  # the 403 of the page itself


def test_organiser_sees_schedule_grid_and_everything(page: Any) -> None:
    login(page, "olga", "/roundtable/schedule")
    grid = page.locator("#schedule-grid").inner_text()
    assert "Alice Ito × Bob Singh" in grid and "Alice Ito × Carol Brown" in grid
    page.goto("/roundtable")
    profiles = page.locator("#profiles").inner_text()
    assert "bob-private-note" in profiles and "carol-private-note" in profiles
    page.goto("/roundtable/requests")
    assert page.locator("#requests tbody tr").count() == 3
    page.goto("/roundtable/agenda?participant=2")
    assert "Bob Singh" in page.locator("h1").inner_text()


def test_recommendations_page(page: Any) -> None:
    login(page, "alice", "/roundtable/recommendations")
    page.wait_for_selector("#recommendations, #rec-note")


def test_logout(page: Any) -> None:
    login(page, "bob", "/minerals")
    page.click("#logout")
    page.wait_for_selector("#login-link")
