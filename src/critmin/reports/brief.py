"""Self-contained country briefs: one HTML file that opens offline and requests nothing.

:func:`country_brief` renders the same tables and figures as the country page of the dashboard
(:mod:`critmin.reports.views`, :mod:`critmin.reports.charts`) into
``critmin/reports/templates/brief.html`` with Plotly.js (from the ``plotly`` package), the world
topology and the chart renderer inlined, followed by a provenance block built from the atlas
``sources`` table and a citation. ``critmin brief COUNTRY -o FILE.html`` writes one.

>>> html = country_brief("JPN")            # doctest: +SKIP
>>> "Provenance" in html                   # doctest: +SKIP
True
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from critmin import provenance
from critmin.atlas import Atlas
from critmin.reports import charts, views

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).resolve().parents[1] / "web" / "static"


def _script(text: str) -> str:
    """Text safe inside an inline ``<script>`` element."""
    return text.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def assets() -> dict[str, str]:
    """Plotly.js, the chart renderer and the world topology, as inline script bodies."""
    from critmin.web import plotly_js_path

    topo = json.loads((STATIC / "world_110m.json").read_text())
    geo = "window.PlotlyGeoAssets = " + json.dumps({"topojson": {"world_110m": topo}},
                                                    separators=(",", ":")) + ";"
    return {"plotly": _script(Path(plotly_js_path()).read_text(encoding="utf-8")),
            "geo": _script(geo),
            "renderer": _script((STATIC / "critmin.js").read_text(encoding="utf-8")),
            "css": (STATIC / "critmin.css").read_text(encoding="utf-8")}


def brief_data(country: str, *, year: int | None = None, atlas: Atlas | None = None,
               group: str | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """What a brief shows: the country page's tables and figures, provenance and citation."""
    atlas = atlas or Atlas.open()
    with provenance.recording() as reads:
        page = views.country_page(atlas, country, year, group)
    sup = page["suppliers"]
    # cite the files the brief's figures were computed from (recorded, not typed)
    cited = {s["source_id"] for s in provenance.atlas_annotations(atlas, reads)["sources"]}
    prov = views.provenance(atlas)
    prov = prov[prov.source_id.isin(cited)].reset_index(drop=True)
    figs = {
        "matrix": charts.risk_matrix(page["matrix"], f"Risk matrix: {page['name']}"),
        "suppliers": charts.hbar(list(sup.name), list(sup.value_kusd),
                                 "Largest suppliers, all mapped minerals (thousand USD)",
                                 "thousand USD"),
        "supplier_map": charts.country_map(list(sup.exporter), list(sup.share),
                                           f"Where {page['name']}'s mineral imports come from "
                                           "(share of value)", "share"),
    }
    page["outlook"] = views.outlook_summary(atlas, list(page["risk"].mineral))
    today = today or dt.date.today()
    return {"page": page, "figs": figs, "provenance": prov, "today": today,
            "atlas_version": views.atlas_version(atlas),
            "citation": views.citation(atlas, page["name"], prov, today)}


def country_brief(country: str, *, year: int | None = None, atlas: Atlas | None = None,
                  group: str | None = None, today: dt.date | None = None) -> str:
    """The brief for ``country`` (ISO3, ISO2 or name) as one self-contained HTML document."""
    import jinja2

    from critmin.reports.html import fmt, table

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html"]))
    env.globals.update(table=table, fmt=fmt)
    data = brief_data(country, year=year, atlas=atlas, group=group, today=today)
    return env.get_template("brief.html").render(**data, assets=assets())


def write_brief(country: str, path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`country_brief` to ``path`` (UTF-8); returns the path."""
    out = Path(path)
    out.write_text(country_brief(country, **kwargs), encoding="utf-8")
    return out
