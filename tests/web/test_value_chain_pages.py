"""The value-chain pages on an atlas with BACI HS17 and the IEA loaded, against a real server.

Headless Chromium opens the mineral and country pages and reads the Plotly traces the pages drew:
the Sankey (mine -> refine -> importer) and the outlook chart (demand by scenario, supply stacked
by country). Expected labels and series come from the IEA and BACI CSVs. Plain HTTP checks on
the same server: every percentage above 100 % in a table carries its reason (a tooltip), numbers
are written one way (no scientific notation, no "inf", years without separators), the risk
matrix has the same axes for Japan and India, and the API lists the HS codes each import figure
counts.
"""

from __future__ import annotations

import csv
import json
import re
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import shared
from tests.web.conftest import SHOTS, chart_rendered, open_page, serving

pytestmark = pytest.mark.slow

#: IEA country names of the rows these tests read, and their ISO3 codes.
IEA_ISO3 = {"China": "CHN", "Chile": "CHL", "Argentina": "ARG", "Australia": "AUS",
            "Rest of world": "XRW", "Democratic Republic of Congo": "COD", "Indonesia": "IDN",
            "Russia": "RUS"}


@pytest.fixture(scope="module")
def chain_server(chain_atlas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server on the value-chain atlas (BACI HS92 + HS17, IEA, USGS, WGI)."""
    from critmin.storage import Store

    tmp = tmp_path_factory.mktemp("chain-web")
    url = f"sqlite:///{tmp / 'ops.db'}"
    store = Store(url)
    store.upgrade()
    store.dispose()
    with serving(chain_atlas, url, tmp / "server.log") as base:
        yield base


def get(base: str, path: str) -> str:
    with urllib.request.urlopen(base + path, timeout=600) as r:
        assert r.status == 200, path
        return r.read().decode()


def iea(kind: str) -> list[dict[str, str]]:
    with shared("iea", f"iea_cm_{kind}_2025.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def baci_hs17_top(code: str, side: str) -> str:
    """ISO3 of the largest exporter (``side`` = 'i') or importer ('j') of ``code`` by quantity
    in the raw BACI HS17 2024 file."""
    con = duckdb.connect()
    try:
        (iso3,), = con.execute(
            f"SELECT c.country_iso3 FROM read_csv(?, nullstr = 'NA', types = {{'k': 'VARCHAR'}}) b "
            f"JOIN read_csv(?) c ON c.country_code = b.{side} WHERE b.k = ? AND b.i <> b.j "
            f"GROUP BY 1 ORDER BY sum(b.q) DESC LIMIT 1",
            [str(shared("baci_hs17", "BACI_HS17_Y2024_V202601.csv")),
             str(shared("baci_hs17", "country_codes_V202601.csv")), code]).fetchall()
    finally:
        con.close()
    return str(iso3)


def traces(page: Any, chart_id: str) -> list[dict[str, Any]]:
    """The Plotly traces drawn in ``chart_id`` (the graph div's ``data``)."""
    chart_rendered(page, chart_id, timeout=300_000)  # a loaded machine, not a speed test
    return page.evaluate("id => JSON.parse(JSON.stringify(document.getElementById(id).data))",
                         chart_id)


# --------------------------------------------------------------------------- browser


def test_mineral_page_draws_the_sankey_and_the_outlook(browser: Any, chain_server: str) -> None:
    ctx, page = open_page(browser, chain_server)
    page.set_default_timeout(300_000)  # the first page builds the traced chain: a loaded machine
    try:
        page.goto("/minerals/cobalt", timeout=300_000)
        (sankey,) = traces(page, "chart-chain")
        assert sankey["type"] == "sankey"
        labels = set(sankey["node"]["label"])
        top_miner = max((r for r in iea("supply") if r["mineral"] == "Cobalt"
                         and r["stage"] == "mining" and r["year"] == "2024"
                         and r["country"] != "Rest of world"), key=lambda r: float(r["value"]))
        assert f"{IEA_ISO3[top_miner['country']]} (mine)" in labels
        assert f"{baci_hs17_top('282200', 'i')} (refine/export)" in labels
        assert f"{baci_hs17_top('282200', 'j')} (import)" in labels
        assert page.locator("#chart-chain .sankey-node").count() == len(sankey["node"]["label"])

        page.goto("/minerals/lithium", timeout=300_000)
        data = traces(page, "chart-outlook")
        names = {t["name"] for t in data}
        scenarios = {r["scenario"] for r in iea("demand") if r["mineral"] == "Lithium"} - {
            "historical"}
        assert {f"demand {s}" for s in scenarios} <= names
        refiners = {r["country"] for r in iea("supply") if r["mineral"] == "Lithium"
                    and r["stage"] == "refining"}
        assert {f"{IEA_ISO3[c]} (supply)" for c in refiners} <= names
        bars = [t for t in data if t["type"] == "bar"]
        assert bars and all(len(t["x"]) == len(t["y"]) > 0 for t in bars)
        assert page.locator("#chart-outlook .barlayer .point").count() > 0
        assert page.locator("#chart-outlook .scatterlayer .trace").count() == len(scenarios)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "value-chain-lithium.png"), full_page=True)
        page.watch.check()
    finally:
        ctx.close()


def test_country_page_draws_where_supply_comes_from(browser: Any, chain_server: str) -> None:
    ctx, page = open_page(browser, chain_server)
    page.set_default_timeout(300_000)
    try:
        page.goto("/countries/JPN", timeout=300_000)
        (sankey,) = traces(page, "chart-chain")
        labels = sankey["node"]["label"]
        assert "JPN (import)" in labels
        assert any(x.endswith(" (mine)") for x in labels)
        assert any(x.endswith(" (refine/export)") for x in labels)
        assert page.locator("#chart-chain .sankey-link").count() == len(sankey["link"]["value"])
        page.watch.check()
    finally:
        ctx.close()


# --------------------------------------------------------------------------- plain HTTP


class Tables(HTMLParser):
    """Every ``<table>`` of a page: header texts and rows of (cell text, cell attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self._cell: list[str] | None = None
        self._attrs: dict[str, str | None] = {}
        self._row: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append({"id": dict(attrs).get("id"), "head": [], "rows": []})
        elif tag in ("td", "th"):
            self._cell, self._attrs = [], dict(attrs)
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            if tag == "th":
                self.tables[-1]["head"].append(text)
            else:
                self._row.append((text, self._attrs))
            self._cell = None
        elif tag == "tr" and self._row:
            self.tables[-1]["rows"].append(self._row)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> list[dict[str, Any]]:
    p = Tables()
    p.feed(html)
    return p.tables


PERCENT = re.compile(r"^(-?[\d,]+(?:\.\d+)?)%")
PAGES = ["/", "/minerals/nickel", "/minerals/cobalt", "/minerals/lithium", "/countries/JPN",
         "/countries/IND"]


def check_cells(html: str, where: str) -> int:
    """Assert the page's table cells are formatted one way and every percentage above 100 %
    has a tooltip; return how many such percentages it holds."""
    over = 0
    for t in tables(html):
        for row in t["rows"]:
            for i, (text, attrs) in enumerate(row):
                head = t["head"][i] if i < len(t["head"]) else ""
                assert not re.search(r"\d[eE][+-]\d", text), (where, head, text)
                assert text.lower() not in ("inf", "-inf", "nan", "none"), (where, head, text)
                if "year" in head.lower():
                    assert re.fullmatch(r"\d{4}|–|", text), (where, head, text)
                m = PERCENT.match(text)
                if m and float(m.group(1).replace(",", "")) > 100:
                    over += 1
                    assert attrs.get("title"), (where, head, text)
    return over


def test_pages_explain_every_percentage_above_100(chain_server: str, chain_atlas: Path) -> None:
    from critmin.atlas import Atlas
    from critmin.scenarios.nminus1 import n_minus_1

    with Atlas.open(chain_atlas) as atlas:
        n1 = n_minus_1(atlas)
    assert (n1.coverage > 1).any()  # minerals whose N-1 coverage by the rest is above 100 %
    top = str(n1.sort_values("coverage").dropna(subset=["coverage"]).mineral.iloc[-1])
    for path in [*PAGES, f"/minerals/{top}"]:
        check_cells(get(chain_server, path), path)
    # the largest such coverage is shown with its reason
    html = get(chain_server, f"/minerals/{top}")
    n1 = next(t for t in tables(html) if t["id"] == "n-minus-1")
    col = n1["head"].index("Coverage by the rest")
    cells = [row[col] for row in n1["rows"]]
    flagged = [(text, a) for text, a in cells if PERCENT.match(text)
               and float(PERCENT.match(text).group(1).replace(",", "")) > 100]
    assert flagged and all("surplus" in (a.get("title") or "") for _t, a in flagged)


def test_brief_explains_percentages_and_marks_estimates(chain_atlas: Path) -> None:
    from critmin.atlas import Atlas
    from critmin.reports.brief import country_brief

    with Atlas.open(chain_atlas) as atlas:
        html = country_brief("JPN", atlas=atlas)
    check_cells(html, "brief JPN")
    risk = next(t for t in tables(html) if t["id"] == "risk-table")
    imports = risk["head"].index("Imports (kUSD)")
    assert all("HS codes counted" in (row[imports][1].get("title") or "")
               for row in risk["rows"])
    by_stage = next(t for t in tables(html) if t["id"] == "by-stage")
    assert "Mapped, no data" in by_stage["head"]


def test_risk_matrix_has_the_same_axes_for_japan_and_india(chain_server: str) -> None:
    figs = {}
    for iso3 in ("JPN", "IND"):
        html = get(chain_server, f"/countries/{iso3}")
        m = re.search(r'id="chart-matrix" data-fig=\'([^\']*)\'', html)
        assert m, iso3
        fig = json.loads(m.group(1).replace("&#39;", "'").replace("&amp;", "&"))
        figs[iso3] = fig
        risk = next(t for t in tables(html) if t["id"] == "risk-table")
        plotted = len(fig["data"][0]["x"])
        assert plotted == len(risk["rows"]), iso3  # every imported mineral is on the matrix
    axes = {iso3: (f["layout"]["xaxis"]["title"]["text"], f["layout"]["yaxis"]["title"]["text"])
            for iso3, f in figs.items()}
    assert axes["JPN"] == axes["IND"]


def test_api_lists_the_codes_each_import_figure_counts(chain_server: str) -> None:
    from tests.metrics.test_hs_coverage import expected

    body = json.loads(get(chain_server, "/api/v1/assess/JPN?year=2024&mineral=nickel"
                                        "&mineral=lithium"))
    for row in body["rows"]:
        counted, missing, value = expected(row["mineral"])
        assert set(row["hs_codes"]) == counted and set(row["hs_codes_missing"]) == missing
        assert row["imports_kusd"] == pytest.approx(value, rel=1e-9)


def test_country_page_suppliers_state_their_codes(chain_server: str) -> None:
    """Each supplier's value carries (hover) the HS codes it counts and the mapped codes of its
    minerals without data, and the table says which codes the total counts: from the raw BACI
    files. The partner-coverage trade values carry their codes too."""
    from tests.metrics.test_hs_coverage import JAPAN, QUAD, expected_codes, expected_supplier

    html = get(chain_server, "/countries/JPN?group=QUAD")
    sup = next(t for t in tables(html) if t["id"] == "suppliers")
    value, iso3 = sup["head"].index("Value (kUSD)"), sup["head"].index("ISO3")
    for row in sup["rows"][:2]:
        counted, missing = expected_supplier(row[iso3][0])
        title = row[value][1].get("title") or ""
        assert title == ("HS codes counted: " + ", ".join(sorted(counted))
                         + (f"; mapped without data: {', '.join(sorted(missing))}"
                            if missing else ""))
    m = re.search(r'<p class="muted" id="suppliers-codes">([^<]*)</p>', html)
    assert m and "import rows in 2024" in m.group(1)
    total = set().union(*(expected_codes(mn, flow_keep=lambda _i, j: j == JAPAN)[0]
                          for mn in ("nickel", "cobalt", "lithium", "rare_earths")))
    assert all(c in m.group(1).split("; mapped codes without data")[0] for c in total)
    cov = next(t for t in tables(html) if t["id"] == "coverage")
    imp = cov["head"].index("Imports from outside (kUSD)")
    minerals = cov["head"].index("Mineral")
    row = next(r for r in cov["rows"] if r[minerals][0] == "nickel")
    counted, missing = expected_codes("nickel", flow_keep=lambda i, j: j == JAPAN
                                      and i not in QUAD)
    assert row[imp][1].get("title", "").startswith(
        "HS codes counted: " + ", ".join(sorted(counted)))


def test_mineral_page_n_minus_1_states_its_codes_per_stage(chain_server: str) -> None:
    """Each N-1 row lists the HS codes its trade figures count (world trade of the mineral at
    the stage in the trade year) and the mapped codes without data: from the raw BACI files."""
    from critmin.scenarios.nminus1 import CHAIN_STAGE
    from tests.metrics.test_hs_coverage import expected_world

    seen: set[tuple[str, str, bool, bool]] = set()
    for mineral in ("nickel", "cobalt"):
        n1 = next(t for t in tables(get(chain_server, f"/minerals/{mineral}"))
                  if t["id"] == "n-minus-1")
        head = n1["head"]
        assert head[-2:] == ["HS codes counted", "Mapped, no data"]
        stage, year = head.index("Stage"), head.index("Trade year")
        assert len(n1["rows"]) >= 2
        for row in n1["rows"]:
            assert row[year][0] == "2024", (mineral, row[stage][0])
            counted, missing = expected_world(mineral, CHAIN_STAGE[row[stage][0]])
            assert row[-2][0] == (", ".join(sorted(counted)) or "–"), (mineral, row[stage][0])
            assert row[-1][0] == (", ".join(sorted(missing)) or "–"), (mineral, row[stage][0])
            seen.add((mineral, row[stage][0], bool(counted), bool(missing)))
    # nickel ores have world rows in 2024, cobalt ores none (HS92 260500 is missing)
    assert ("nickel", "mine", True, False) in seen or ("nickel", "mine", True, True) in seen
    assert ("cobalt", "mine", False, True) in seen
