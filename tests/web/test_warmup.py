"""The start-up warm-up (:mod:`critmin.api.warmup`): one background thread, one ordered list (the
navigation pages first, then the docs page, then the analytics' shared tables); each warmed
answer is served from the cache and equals the answer computed directly from the atlas."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from critmin import schema


def _warm_threads() -> list[threading.Thread]:
    from critmin.api.warmup import THREAD_NAME

    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def _refuse(*_a: Any, **_k: Any) -> Any:
    raise AssertionError("computed again: not served from the warm-up's cache")


def test_one_warm_up_serves_pages_docs_and_analytics_from_cache(
        starter_atlas: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from critmin.api import create_app, tables, warmup
    from critmin.api._docs import ASSETS, docs_html
    from critmin.atlas import Atlas
    from critmin.cooperation.registry import Registry
    from critmin.reports import views
    from critmin.web.pages import WARM_KEYS

    monkeypatch.setenv("CRITMIN_WARMUP", "1")
    app = create_app(starter_atlas, f"sqlite:///{tmp_path / 'critmin.db'}", warm_years=1)
    pages, rest = warmup.plan(app)
    names = [n for n, _ in pages] + [n for n, _ in rest]
    # most requested first: the home page's data, the other pages, /docs, then the analytics
    assert names[:2] == ["main_concentration", "country JPN"]
    assert names.index("cooperation") < names.index("API docs page") < names.index(
        "page index of trade_flows") < names.index("concentration") < names.index(
        "assess, latest trade year - 0")
    assert not _warm_threads()  # building the plan started nothing
    with TestClient(app) as client:
        # the busiest tables' page indexes are loaded before the server answers
        assert all(app.state.atlas.page_index(n) is not None for n in tables.BUSIEST)
        threads = _warm_threads()
        assert len(threads) == 1  # one warm-up thread, not one per part
        threads[0].join(timeout=600)
        assert not threads[0].is_alive()
        pool = app.state.atlas

        # the navigation pages' data, under the keys the pages read, equal to a direct computation
        assert {("web", *key) for key, _ in WARM_KEYS} <= set(pool._cache)
        with Atlas(starter_atlas) as atlas:
            direct_conc = views.main_concentration(atlas)
            direct_cobalt = views.concentration_view(views.concentration(atlas), "cobalt",
                                                     None, None)
            direct_coop = views.cooperation_page(Registry.from_atlas(atlas))
        pd.testing.assert_frame_equal(pool._cache[("web", "main_concentration")][0],
                                      direct_conc)
        assert pool._cache[("web", "country", "JPN", None, None)][0]["iso3"] == "JPN"
        view = app.state.overlay._views[("web", "cooperation")]
        for table in ("frameworks", "groups", "projects", "projects_per_country"):
            pd.testing.assert_frame_equal(view[0][table], direct_coop[table])

        # served from the cache: the computations themselves are refused from now on
        monkeypatch.setattr(views, "main_concentration", _refuse)
        monkeypatch.setattr(views, "country_page", _refuse)
        monkeypatch.setattr(views, "cooperation_page", _refuse)
        monkeypatch.setattr(views, "concentration", _refuse)
        home = client.get("/")
        assert home.status_code == 200
        assert direct_conc.name.iloc[0] in home.text
        assert client.get("/cooperation").status_code == 200
        got = client.get("/api/v1/concentration", params={"mineral": "cobalt"})
        assert got.status_code == 200
        rows = pd.DataFrame(got.json()["rows"])
        assert list(rows.hhi.round(10)) == list(direct_cobalt.hhi.round(10))
        assert list(rows.year) == list(direct_cobalt.year)

        # the docs page: built once, the same page as built from the OpenAPI document now
        docs = app.state.docs_page
        assert docs._html is not None
        assert all(docs.asset(n)._gzip is not None for n in ASSETS)
        assert client.get("/docs").text == docs_html(
            app.openapi(), {n: docs.asset(n).url for n in ASSETS})
        # the analytics' shared tables of the latest trade year
        kinds = {k[0] for k in pool._shared}
        assert {"concentration", "geopolrisk", "n-minus-1", "assess"} <= kinds


def test_no_warm_up_unless_asked(starter_atlas: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from critmin.api import create_app, warmup

    monkeypatch.delenv("CRITMIN_WARMUP", raising=False)
    app = create_app(starter_atlas, f"sqlite:///{tmp_path / 'critmin.db'}", warm_years=0)
    assert warmup.plan(app) == ([], [])
    with TestClient(app):
        assert not _warm_threads()
    assert not app.state.atlas._cache and not app.state.atlas._shared
    assert app.state.docs_page._html is None


def test_warm_years_alone_warms_the_analytics(starter_atlas: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``critmin serve --warm-years N`` with ``$CRITMIN_WARMUP=0``: the analytics only, the
    N latest trade years latest first."""
    from critmin.api import create_app, warmup

    monkeypatch.setenv("CRITMIN_WARMUP", "0")
    monkeypatch.setenv("CRITMIN_WARM_YEARS", "2")
    app = create_app(starter_atlas, f"sqlite:///{tmp_path / 'critmin.db'}")
    pages, rest = warmup.plan(app)
    assert pages == []
    names = [n for n, _ in rest]
    indexed = [n for n in names if n.startswith("page index of ")]  # table pages first
    assert names[:3] == ["page index of trade_flows", "page index of production",
                         "page index of countries"]
    assert names[:len(indexed)] == indexed and len(indexed) == len(schema.tables())
    assert names[len(indexed):][3:5] == ["assess, latest trade year - 0",
                                         "assess, latest trade year - 1"]
