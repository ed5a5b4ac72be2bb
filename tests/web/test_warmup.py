"""The start-up warm-up computes the atlas data of every navigation page into the server's cache
(``critmin serve`` turns it on), so that no page computes it on its first request."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest


def test_warm_up_fills_the_page_cache(starter_atlas: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from critmin.api import create_app
    from critmin.web.pages import WARM_KEYS

    monkeypatch.setenv("CRITMIN_WARMUP", "1")
    app = create_app(starter_atlas, f"sqlite:///{tmp_path / 'critmin.db'}")
    thread = next(t for t in threading.enumerate() if t.name == "critmin-warm-up")
    thread.join(timeout=300)
    assert not thread.is_alive()
    cached = {k[1:] for k in app.state.atlas._cache}
    assert {key for key, _fn in WARM_KEYS} <= cached
    # the cached overview is the same table the home page shows: Japan on the starter atlas
    country = app.state.atlas._cache[("web", "country", "JPN", None, None)][0]
    assert country["iso3"] == "JPN"
    assert app.state.overlay._reg is not None  # the cooperation registry, as of the last edit


def test_no_warm_up_unless_asked(starter_atlas: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from critmin.api import create_app

    monkeypatch.delenv("CRITMIN_WARMUP", raising=False)
    app = create_app(starter_atlas, f"sqlite:///{tmp_path / 'critmin.db'}")
    assert not any(t.name == "critmin-warm-up" for t in threading.enumerate())
    assert not app.state.atlas._cache
