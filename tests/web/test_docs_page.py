"""The API docs page /docs in headless Chromium: the operations of the OpenAPI document listed at
once as HTML, then Swagger UI (vendored, no request leaves 127.0.0.1, no console error) showing
every operation and answering a "Try it out"."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.web.conftest import open_page

pytestmark = pytest.mark.slow


def _operations(server: str) -> list[tuple[str, str]]:
    with urllib.request.urlopen(server + "/openapi.json", timeout=60) as r:
        spec = json.loads(r.read())
    return [(m.upper(), path) for path, item in spec["paths"].items() for m in item
            if m in ("get", "post", "put", "patch", "delete")]


def test_docs_page_lists_operations_then_swagger_ui_runs_them(page: Any, server: str) -> None:
    ops = _operations(server)
    assert len(ops) > 50
    page.goto("/docs")
    # Swagger UI renders one block per operation, then the plain list goes
    page.wait_for_function(
        f"() => document.querySelectorAll('#swagger-ui .opblock').length === {len(ops)}",
        timeout=60_000)
    page.wait_for_selector("#critmin-ops", state="detached")
    methods = page.locator("#swagger-ui .opblock-summary-method").all_inner_texts()
    assert sorted(m.strip() for m in methods) == sorted(m for m, _ in ops)
    # try one operation from the page: GET /api/v1 answers 200 from this server
    op = page.locator("#operations-meta-index_api_v1_get")
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    op.locator("button.execute").click()
    answer = op.locator(".live-responses-table tr.response").first
    answer.wait_for(timeout=30_000)
    assert answer.locator(".response-col_status").inner_text().strip() == "200"
    assert "atlas_version" in answer.inner_text()


def test_docs_page_without_javascript_lists_every_operation(browser: Any, server: str) -> None:
    ops = _operations(server)
    ctx = browser.new_context(base_url=server, java_script_enabled=False)
    try:
        pg = ctx.new_page()
        pg.goto("/docs")
        rows = pg.locator("#critmin-ops li").all_inner_texts()
        assert len(rows) == len(ops)
        listed = {tuple(r.split()[:2]) for r in rows}
        assert listed == set(ops)
    finally:
        ctx.close()


def test_docs_page_makes_no_outside_request_and_no_console_error(browser: Any,
                                                                  server: str) -> None:
    ctx, pg = open_page(browser, server)
    try:
        requested: list[str] = []
        pg.on("request", lambda r: requested.append(r.url))
        pg.goto("/docs")
        pg.wait_for_selector("#swagger-ui .opblock")
        assert any("swagger-ui-bundle.js" in u for u in requested)
        assert all(u.startswith(server) or u.startswith("data:") for u in requested), requested
        pg.watch.check()
    finally:
        ctx.close()
