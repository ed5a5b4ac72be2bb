"""The watch page in headless Chromium: add a rule through the form, check now, read the alert;
the what's-new page before any build has changed the atlas."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import login

#: browser flows against a live server: the slow tier
pytestmark = pytest.mark.slow


def test_watch_page_add_rule_check_and_read(page: Any) -> None:
    page.goto("/watch")
    assert "Sign in" in page.locator("main").inner_text()
    login(page, "ana", "/watch")
    page.fill("#rule-form input[name=country]", "JPN")
    page.fill("#rule-form input[name=mineral]", "graphite")
    page.select_option("#rule-form select[name=what]", "import_share")
    page.fill("#rule-form input[name=value]", "0.9")  # no supplier: refused with the reason
    page.click("#add-rule")
    page.wait_for_selector("#message.error")
    assert "needs a supplier" in page.locator("#message").inner_text()
    page.fill("#rule-form input[name=supplier]", "CHN")
    page.fill("#rule-form input[name=value]", "0")
    page.click("#add-rule")
    page.wait_for_selector("#rules")
    assert "import_share of CHN in JPN graphite (all) > 0" in page.locator("#rules").inner_text()
    page.click("#check-now")
    page.wait_for_selector("#inbox tr.unread")
    unread = page.locator("#inbox tr.unread")
    assert "import_share of CHN in JPN graphite" in unread.first.inner_text()
    # one alert per release compared may be due: read them one by one, each click re-renders
    # the panel with one unread row fewer
    for _ in range(10):
        n = unread.count()
        if n == 0:
            break
        unread.first.locator("button").click()
        page.wait_for_function(
            "n => document.querySelectorAll('#inbox tr.unread').length < n", arg=n)
        assert "Marked read." in page.locator("#message").inner_text()
    assert unread.count() == 0
    page.click("#new-feed-token")
    page.wait_for_selector("#feed-token")
    assert "/api/v1/watch/feed.atom?token=cmf_" in page.locator("#feed-token").inner_text()


def test_whats_new_before_any_change(page: Any) -> None:
    page.goto("/whats-new")
    assert page.locator("#no-diff").is_visible()
