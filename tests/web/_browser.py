"""One Playwright + Chromium per test process (the sync API allows only one at a time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
_state: list[Any] = []  # [playwright, browser] while running


def need_browser() -> Any:
    """``sync_playwright``, or skip with the reason when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium "
                    "(apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need playwright: pip install 'critmin[test]' "
                    "(the Python package only; never 'playwright install')")
    return sync_playwright


def running() -> bool:
    return bool(_state)


def chromium() -> Any:
    """The shared headless Chromium (started on first use)."""
    if not _state:
        pw = need_browser()().start()
        try:
            b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        except Exception:
            pw.stop()
            raise
        _state[:] = [pw, b]
    return _state[1]


def stop() -> None:
    if _state:
        pw, b = _state
        _state.clear()
        try:
            b.close()
        finally:
            pw.stop()
