"""Country briefs: self-contained (no script or style from any host), with provenance."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from critmin.atlas import Atlas


@pytest.fixture(scope="module")
def brief(starter_atlas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from critmin.reports.brief import write_brief

    out = tmp_path_factory.mktemp("brief") / "jpn.html"
    with Atlas(starter_atlas) as atlas:
        write_brief("JPN", out, atlas=atlas, today=dt.date(2026, 11, 1))
    yield out


def test_brief_is_self_contained(brief: Path) -> None:
    html = brief.read_text(encoding="utf-8")
    tags = re.findall(r"<(script|link|img|iframe|style)\b([^>]*)>", html, flags=re.I)
    assert tags, "no tags found"
    for name, attrs in tags:
        assert not re.search(r"\b(src|href)\s*=\s*['\"]?\s*(https?:)?//", attrs, flags=re.I), \
            f"<{name}{attrs}> loads from a host"
        if name.lower() == "script":
            assert "src=" not in attrs.lower(), "every script is inline"
        if name.lower() == "link":
            assert "stylesheet" not in attrs.lower(), "every style is inline"
    assert not re.search(r"@import\s+(url\()?['\"]?(https?:)?//", html)
    assert "Plotly" in html and "window.PlotlyGeoAssets" in html  # library and map inlined
    assert html.count('<div class="chart" id=') == 3


def test_brief_has_provenance_and_citation(brief: Path, starter_atlas: Path) -> None:
    html = brief.read_text(encoding="utf-8")
    assert 'id="provenance"' in html and "Provenance" in html
    with Atlas(starter_atlas) as atlas:
        sources = atlas.table("sources").to_pandas()
    for row in sources.itertuples():
        assert row.source_id in html and row.sha256 in html
    assert "CEPII" in html and "U.S. Geological Survey" in html
    assert 'id="citation"' in html and "critmin contributors (2026)" in html
    assert "Japan" in html and 'id="risk-table"' in html


@pytest.mark.slow  # a second full brief through the CLI
def test_cli_brief(starter_atlas: Path, tmp_path: Path) -> None:
    from critmin.cli import main

    out = tmp_path / "ind.html"
    with pytest.raises(SystemExit) as exc:
        main(["brief", "IND", "-o", str(out), "--db", str(starter_atlas)])
    assert exc.value.code == 0
    assert out.stat().st_size > 1_000_000
    assert "Country brief: India" in out.read_text(encoding="utf-8")


@pytest.mark.slow  # starts Chromium
def test_brief_renders_offline_in_chromium(brief: Path) -> None:
    """Opened from disk in headless Chromium, the brief draws its charts (the map from the
    inlined topology) and makes no network request at all."""
    from tests.web import _browser

    owner = not _browser.running()
    requests: list[str] = []
    problems: list[str] = []
    ctx = _browser.chromium().new_context()
    try:

        def guard(route: Any) -> None:
            if route.request.url.startswith(("file:", "data:")):
                route.continue_()
            else:
                requests.append(route.request.url)
                route.abort()

        ctx.route("**/*", guard)
        pg = ctx.new_page()
        pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        pg.goto(brief.as_uri())
        for chart in ("chart-matrix", "chart-suppliers", "chart-supplier-map"):
            pg.wait_for_selector(f"#{chart} .main-svg", state="attached", timeout=30_000)
        pg.wait_for_selector("#chart-supplier-map path.choroplethlocation", state="attached")
    finally:
        ctx.close()
        if owner:
            _browser.stop()
    assert not requests, f"the brief made requests: {requests}"
    assert not problems, f"console or page errors: {problems}"
